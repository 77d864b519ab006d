"""The dashboard over HTTP (TestClient, the real app): login, pages, CSRF, logout, tenants."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from telerecord.dashboard import routes, session
from telerecord.db.models import ApiSecret, Asset, Recording
from telerecord.services import accounts
from telerecord.signing import make_token

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
VIDEO_BYTES = b"\x1aE\xdf\xa3 not really webm, served as stored"


def dashboard_app(runtime: Any) -> FastAPI:
    """The service app with the dashboard router (included here until server.py does it)."""
    from telerecord.server import build_app

    app = build_app(runtime)
    if not any(getattr(route, "path", None) == "/login" for route in app.routes):
        app.include_router(routes.router)
    return app


@pytest.fixture
def dash(runtime: Any) -> Iterator[TestClient]:
    with TestClient(dashboard_app(runtime)) as client:
        yield client


def add_recording(
    runtime: Any, account_id: str, rid: str, *, stream_name: str = "cam", status: str = "complete",
    minutes: int = 0,
) -> None:  # fmt: skip
    """A recording row; complete ones get a file and a poster really stored in local storage."""
    prefix, when, done = f"{account_id}/{rid}", BASE_TIME + timedelta(minutes=minutes), None
    if status == "complete":
        done = {"duration": 75.4, "format": "webm"}
    rec = Recording(
        id=rid, account_id=account_id, kind="stream", status=status, stream_name=stream_name,
        source_id="screen", started_at=when, created_at=when, av_drift_ms=12.5, size_bytes=1536,
        sizes={"file": 1024}, tracks=[{"type": "video", "codec": "VP8", "width": 320}],
        storage_prefix=prefix, **(done or {}),
    )  # fmt: skip
    root = Path(runtime.settings.storage_url.removeprefix("file://"))
    with runtime.db.session() as db:
        db.add(rec)
        db.flush()
        for kind, name, data in (
            [("file", "recording.webm", VIDEO_BYTES), ("poster", "thumbnails/poster.jpg", b"jpeg")]
            if done
            else []
        ):
            key = f"{prefix}/{name}"
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(data)
            db.add(
                Asset(
                    recording_id=rid, type=kind, name=name, key=key, size_bytes=len(data),
                    sha256="0" * 64, content_type="application/octet-stream", meta={},
                )
            )  # fmt: skip


def log_in(client: TestClient, secret: str) -> str:
    """Log in and return the CSRF token of the session."""
    response = client.post("/login", data={"secret": secret}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    return csrf_of(client.get("/").text)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def row_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-id="([^"]+)"', html)


def exists(runtime: Any, rid: str) -> bool:
    with runtime.db.session() as db:
        return db.get(Recording, rid) is not None


def test_without_session_the_login_page(dash: TestClient) -> None:
    response = dash.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert 'action="/login"' in response.text and 'name="secret"' in response.text
    assert 'id="recordings"' not in response.text
    assert dash.get("/recordings/rec_x", follow_redirects=False).headers["location"] == "/"


def test_wrong_secret_is_a_401_login_page(dash: TestClient) -> None:
    response = dash.post("/login", data={"secret": "trs_wrong"}, follow_redirects=False)
    assert response.status_code == 401
    assert "not valid" in response.text and 'action="/login"' in response.text
    assert "set-cookie" not in response.headers
    assert dash.post("/login", data={}, follow_redirects=False).status_code == 401


def test_login_from_another_site_is_refused(dash: TestClient, account: tuple[str, str]) -> None:
    evil = {"origin": "https://evil.example"}
    response = dash.post("/login", data={"secret": account[1]}, headers=evil)
    assert response.status_code == 403 and "set-cookie" not in response.headers
    ours = {"origin": "http://testserver"}
    response = dash.post(
        "/login", data={"secret": account[1]}, headers=ours, follow_redirects=False
    )
    assert response.status_code == 303 and session.COOKIE_NAME in dash.cookies


def test_login_sets_a_signed_strict_cookie(
    dash: TestClient, runtime: Any, account: tuple[str, str]
) -> None:
    response = dash.post("/login", data={"secret": account[1]}, follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(session.COOKIE_NAME + "=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
    value = dash.cookies[session.COOKIE_NAME]
    assert account[1] not in value
    found = session.decode(value, runtime.settings.signing_key)
    with runtime.db.session() as db:
        secret_id = db.scalar(select(ApiSecret.id).where(ApiSecret.account_id == account[0]))
    assert found is not None and (found.secret_id, found.account_id) == (secret_id, account[0])
    assert abs(found.expires_at - (time.time() + 12 * 3600)) < 60


def test_cookie_forgery_expiry_and_purpose(runtime: Any) -> None:
    key = runtime.settings.signing_key
    value = session.encode(session.DashboardSession("sec_1", "acc_1", 2_000_000_000), key)
    assert session.decode(value, key, now=1_999_999_999) is not None
    assert session.decode(value, key, now=2_000_000_000) is None  # expired
    assert session.decode(value, "another-key", now=0) is None
    payload, mac = value.split(".")
    assert session.decode(payload[:-2] + "xx." + mac, key, now=0) is None
    # Same key, other purpose: a media token never passes as a session, nor a CSRF token.
    assert session.decode(make_token(key.encode(), "acc_1/x", 2_000_000_000), key, now=0) is None
    assert session.decode(session.csrf_token(value, key), key, now=0) is None
    assert session.check_csrf(value, session.csrf_token(value, key), key)
    assert not session.check_csrf(value, None, key)


def test_recordings_page_lists_newest_first_with_actions(
    dash: TestClient, runtime: Any, account: tuple[str, str]
) -> None:
    add_recording(runtime, account[0], "rec_old", minutes=1)
    add_recording(runtime, account[0], "rec_live", status="recording", minutes=2)
    add_recording(runtime, account[0], "rec_new", minutes=3)
    log_in(dash, account[1])
    html = dash.get("/").text
    assert row_ids(html) == ["rec_new", "rec_live", "rec_old"]
    assert "1:15" in html and "1.5 KiB" in html and "webm" in html and "(screen)" in html
    assert html.count(" download>Download</a>") == 2  # only complete recordings
    download = re.search(r'<a href="([^"]+)" download>Download</a>', html)
    assert download is not None
    assert dash.get(download.group(1).replace("&amp;", "&")).content == VIDEO_BYTES
    assert html.count('class="delete"') == 3 and 'data-confirm="Delete recording' in html
    assert '<section id="live"><h2>Live now</h2>' in html and "No live streams." in html


def test_pagination_and_status_filter(
    dash: TestClient, runtime: Any, account: tuple[str, str]
) -> None:
    for i in range(55):
        add_recording(
            runtime, account[0], f"rec_{i:03}", status="failed" if i % 5 else "complete", minutes=i
        )
    log_in(dash, account[1])
    first = dash.get("/").text
    assert row_ids(first) == [f"rec_{i:03}" for i in range(54, 4, -1)]
    next_url = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert next_url is not None
    second = dash.get(next_url.group(1).replace("&amp;", "&")).text
    assert row_ids(second) == [f"rec_{i:03}" for i in range(4, -1, -1)]
    assert 'rel="next"' not in second and "First page" in second
    complete = dash.get("/", params={"status": "complete"}).text
    assert row_ids(complete) == [f"rec_{i:03}" for i in range(50, -1, -5)]
    assert '<option value="complete" selected>' in complete
    assert dash.get("/", params={"status": "bogus"}).status_code == 400
    assert dash.get("/", params={"cursor": "!!"}).status_code == 400


def test_names_are_escaped(dash: TestClient, runtime: Any, account: tuple[str, str]) -> None:
    evil = '<script>alert("x")</script>'
    add_recording(runtime, account[0], "rec_evil", stream_name=evil)
    log_in(dash, account[1])
    for html in (dash.get("/").text, dash.get("/recordings/rec_evil").text):
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
        assert "<script>alert" not in html


def test_detail_page(dash: TestClient, runtime: Any, account: tuple[str, str]) -> None:
    add_recording(runtime, account[0], "rec_d")
    log_in(dash, account[1])
    html = dash.get("/recordings/rec_d").text
    video = re.search(
        r'<video id="player" controls preload="metadata" src="([^"]+)" poster="([^"]+)"', html
    )
    assert video is not None
    assert dash.get(video.group(1)).content == VIDEO_BYTES
    assert dash.get(video.group(2)).content == b"jpeg"
    assert "12.5 ms" in html and "VP8" in html and "width 320" in html
    assert 'id="assets"' in html and ">recording.webm</a>" in html and ">poster.jpg</a>" in html
    add_recording(runtime, account[0], "rec_busy", status="processing")
    busy = dash.get("/recordings/rec_busy").text
    assert "<video" not in busy and "once the recording is complete" in busy
    assert dash.get("/recordings/rec_missing").status_code == 404


def test_other_accounts_recordings_are_invisible(
    dash: TestClient, runtime: Any, account: tuple[str, str]
) -> None:
    with runtime.db.session() as db:
        other, _ = accounts.create_account(db, "other")
        other_id = other.id
    add_recording(runtime, other_id, "rec_theirs")
    add_recording(runtime, account[0], "rec_mine")
    csrf = log_in(dash, account[1])
    assert row_ids(dash.get("/").text) == ["rec_mine"]
    page = dash.get("/recordings/rec_theirs")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    response = dash.post("/recordings/rec_theirs/delete", data={"csrf": csrf})
    assert response.status_code == 404 and exists(runtime, "rec_theirs")


def test_delete_checks_csrf(dash: TestClient, runtime: Any, account: tuple[str, str]) -> None:
    add_recording(runtime, account[0], "rec_del")
    stored = Path(runtime.settings.storage_url.removeprefix("file://")) / account[0] / "rec_del"
    csrf = log_in(dash, account[1])
    for data in ({}, {"csrf": "0" * 64}, {"csrf": csrf[:-1]}):
        response = dash.post("/recordings/rec_del/delete", data=data, follow_redirects=False)
        assert response.status_code == 403 and "out of date" in response.text
    assert exists(runtime, "rec_del") and stored.exists()
    response = dash.post("/recordings/rec_del/delete", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert not exists(runtime, "rec_del") and not stored.exists()
    assert row_ids(dash.get("/").text) == []


def test_logout(dash: TestClient, runtime: Any, account: tuple[str, str]) -> None:
    csrf = log_in(dash, account[1])
    assert dash.post("/logout", data={"csrf": "nope"}).status_code == 403
    response = dash.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303 and session.COOKIE_NAME not in dash.cookies
    assert 'action="/login"' in dash.get("/").text


def test_revoking_the_secret_logs_the_dashboard_out(
    dash: TestClient, runtime: Any, account: tuple[str, str], auth: dict[str, str]
) -> None:
    add_recording(runtime, account[0], "rec_r")
    log_in(dash, account[1])
    cookie = dash.cookies[session.COOKIE_NAME]
    secret_id = dash.get("/v1/api-secrets", headers=auth).json()["data"][0]["id"]
    assert dash.delete(f"/v1/api-secrets/{secret_id}", headers=auth).status_code == 204
    page = dash.get("/")
    assert 'action="/login"' in page.text and 'id="recordings"' not in page.text
    assert session.COOKIE_NAME not in dash.cookies  # the server cleared it
    old_copy = {"cookie": f"{session.COOKIE_NAME}={cookie}"}  # a kept copy is no better
    page = dash.get("/recordings/rec_r", headers=old_copy, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/"
    csrf = session.csrf_token(cookie, runtime.settings.signing_key)
    response = dash.post(
        "/recordings/rec_r/delete", data={"csrf": csrf}, headers=old_copy, follow_redirects=False
    )
    assert response.status_code == 303 and exists(runtime, "rec_r")


def test_static_files(dash: TestClient) -> None:
    css = dash.get("/dashboard/static/dashboard.css")
    js = dash.get("/dashboard/static/dashboard.js")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert js.status_code == 200 and "confirm" in js.text
    assert dash.get("/dashboard/static/..%2Fsession.py").status_code == 404
    assert dash.get("/dashboard/static/other.js").status_code == 404

"""The dashboard served for real (uvicorn on loopback): a live aiortc publisher shows up under
"Live now", and in headless Chromium (Debian's, driven by Playwright) a user logs in, finds a
recording, previews it (the <video> loads the signed file's metadata) and deletes it."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from telerecord.db.models import Recording
from telerecord.ingest.recorder import StreamRecorder
from telerecord.server import build_runtime
from telerecord.services import processing, recordings
from tests.dashboard.test_pages import dashboard_app
from tests.media.mediagen import as_frames, by_arrival, encode_opus, encode_video
from tests.publishers.aiortc_pub import publish_aiortc
from tests.servicehost import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-crash-reporter",
    "--disable-breakpad",
]
SECONDS = 3.0

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="no Chromium at " + CHROMIUM
)


@dataclasses.dataclass
class Served:
    url: str
    runtime: Any


@pytest.fixture
def served(settings: Any) -> Iterator[Served]:
    """The app (with the dashboard) under uvicorn in a thread, on a free loopback port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    runtime = build_runtime(dataclasses.replace(settings, public_url=url, port=port))
    config = uvicorn.Config(
        dashboard_app(runtime), host="127.0.0.1", port=port, log_level="warning", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dashboard-uvicorn", daemon=True)
    thread.start()
    try:
        # Up to 30 s for a loaded CI machine; started is set once the socket listens.
        for _ in range(300):
            if server.started or not thread.is_alive():
                break
            time.sleep(0.1)
        assert server.started, "uvicorn did not start"
        yield Served(url, runtime)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        runtime.jobs.stop_consumer()
        runtime.db.dispose()


def _complete_recording(runtime: Any, account_id: str, rid: str, stream_name: str) -> float:
    """A real recording: encoded media through the recorder, then the processing job."""
    spool = runtime.settings.spool_dir / rid
    video = as_frames("video", "VP8", encode_video("VP8", [(320, 240, int(30 * SECONDS))]))
    audio = as_frames("audio", "opus", encode_opus(SECONDS))

    async def _feed() -> None:
        recorder = StreamRecorder(spool, request_keyframe=lambda: None)
        for frame in by_arrival(video, audio):
            recorder.on_frame(frame)
        await recorder.close()

    asyncio.run(_feed())
    with runtime.db.session() as db:
        recordings.create_stream_recording(
            db,
            account_id=account_id,
            stream_name=stream_name,
            source_id=None,
            publish_token_id=None,
            spool_dir=str(spool),
            recording_id=rid,
        )
        recordings.mark_stopped(db, rid)
    processing.process(runtime, rid)
    with runtime.db.session() as db:
        rec = recordings.get(db, account_id, rid)
        assert rec.status == "complete" and rec.duration is not None, rec.error
        return float(rec.duration)


@pytest.fixture
def account_in(served: Served) -> tuple[str, str]:
    from telerecord.services import accounts

    with served.runtime.db.session() as db:
        acc, secret = accounts.create_account(db, "browser")
        return acc.id, secret.secret


async def _home_until(client: httpx.AsyncClient, text: str, stop: asyncio.Task[Any]) -> str:
    """The recordings page once it contains ``text`` (or once ``stop`` is done, or 15 s)."""
    html = ""
    for _ in range(150):  # ICE/DTLS on a loaded machine can take seconds
        html = (await client.get("/")).text
        if text in html or stop.done():
            break
        await asyncio.sleep(0.1)
    return html


async def test_live_now_lists_a_publishing_stream(
    served: Served, account_in: tuple[str, str]
) -> None:
    bearer = {"Authorization": f"Bearer {account_in[1]}"}
    async with httpx.AsyncClient(base_url=served.url, timeout=20) as client:
        body = {"label": "live", "streams": ["*"], "record": False}
        token = (await client.post("/v1/publish-tokens", json=body, headers=bearer)).json()
        login = await client.post("/login", data={"secret": account_in[1]})
        assert login.status_code == 303
        assert "No live streams." in (await client.get("/")).text
        publisher = asyncio.create_task(
            publish_aiortc(f"{served.url}/whip/on-air", token["token"], duration=6.0)
        )
        try:
            html = await _home_until(client, "on-air", publisher)
            live = html.split('<section id="live">', 1)[1].split("</section>", 1)[0]
            assert "<td>on-air</td>" in live and "not recording" in live
        finally:
            await publisher
        ended = asyncio.ensure_future(asyncio.sleep(15))
        try:
            assert "No live streams." in await _home_until(client, "No live streams.", ended)
        finally:
            ended.cancel()


@needs_chromium
def test_log_in_preview_and_delete(served: Served, account_in: tuple[str, str]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    account_id, secret = account_in
    name = "<b>desk cam</b>"
    duration = _complete_recording(served.runtime, account_id, "rec_browser", name)
    dialogs: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            page.goto(served.url + "/")
            page.fill("#secret", "trs_not-a-secret")
            page.click("form.login button")
            assert "not valid" in page.inner_text(".error")
            page.fill("#secret", secret)
            page.click("form.login button")
            row = page.locator('tr[data-id="rec_browser"]')
            row.wait_for()
            # The stream name renders as text, not markup.
            assert row.locator("td").nth(1).inner_text() == name
            assert row.locator(".status").inner_text() == "complete"

            row.locator("a", has_text="Open").click()
            page.wait_for_url(served.url + "/recordings/rec_browser")
            page.wait_for_function(
                "() => { const v = document.querySelector('#player');"
                " return v !== null && v.readyState >= 1 && Number.isFinite(v.duration); }"
            )
            shown = page.evaluate("document.querySelector('#player').duration")
            assert abs(shown - duration) < 0.25, (shown, duration)
            for href in page.eval_on_selector_all("#assets a", "as => as.map(a => a.href)"):
                assert page.request.get(href).ok, href

            def _answer(dialog: Any) -> None:
                dialogs.append(f"{dialog.type}: {dialog.message}")
                dialog.accept()

            page.on("dialog", _answer)
            page.click("form.delete button")
            page.wait_for_url(served.url + "/")
            page.locator("#no-recordings").wait_for()
            assert page.locator('tr[data-id="rec_browser"]').count() == 0
        finally:
            browser.close()
    assert len(dialogs) == 1 and dialogs[0].startswith("confirm: Delete recording rec_browser")
    with served.runtime.db.session() as db:
        assert db.get(Recording, "rec_browser") is None

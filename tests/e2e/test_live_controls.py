"""Live recording controls, takeover, reconnect grace and the live streams list."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx

from tests.e2e.conftest import download, publish_token, wait_finished, whip_url
from tests.mediacheck import check_media
from tests.publishers.aiortc_pub import publish_aiortc
from tests.publishers.whip_client import WhipError
from tests.servicehost import ServiceProcess


async def _api(service: ServiceProcess, method: str, path: str) -> httpx.Response:
    return await asyncio.to_thread(service.api, method, path)


async def test_start_pause_resume_stop(service: ServiceProcess, tmp_path: Path) -> None:
    token = publish_token(service, ["*"], record=False)
    publisher = asyncio.create_task(publish_aiortc(whip_url(service, "show"), token, duration=9.0))
    base = "/v1/streams/show/recording"
    for _ in range(100):
        streams = (await _api(service, "GET", "/v1/streams")).json()["data"]
        if streams:
            break
        await asyncio.sleep(0.1)
    assert streams[0]["stream_name"] == "show" and streams[0]["recording_id"] is None
    assert {t["type"] for t in streams[0]["tracks"]} == {"audio", "video"}
    assert (await _api(service, "POST", f"{base}/stop")).status_code == 409
    assert (await _api(service, "POST", f"{base}/pause")).status_code == 409

    await asyncio.sleep(1.0)
    started = await _api(service, "POST", f"{base}/start")
    assert started.status_code == 202 and started.json()["status"] == "recording"
    rec_id = started.json()["id"]
    assert (await _api(service, "POST", f"{base}/start")).status_code == 409
    await asyncio.sleep(2.0)
    paused = await _api(service, "POST", f"{base}/pause")
    assert paused.status_code == 202 and paused.json()["status"] == "paused"
    assert (await _api(service, "POST", f"{base}/pause")).status_code == 409
    await asyncio.sleep(2.0)
    resumed = await _api(service, "POST", f"{base}/resume")
    assert resumed.status_code == 202 and resumed.json()["status"] == "recording"
    await asyncio.sleep(2.0)
    stopped = await _api(service, "POST", f"{base}/stop")
    assert stopped.status_code == 202 and stopped.json()["status"] == "processing"
    await publisher

    rec = wait_finished(service, rec_id)
    assert rec["status"] == "complete", rec
    # About 2 s recorded, 2 s paused (left out), 2 s recorded.
    assert 3.0 < rec["duration"] < 5.5, rec["duration"]  # 6 s or more if the pause were kept
    report = check_media(download(service, rec_id, tmp_path / "rec.webm"))
    assert report.decode_errors == 0
    assert (await _api(service, "POST", "/v1/streams/nope/recording/start")).status_code == 404


async def test_second_publisher_conflicts_while_first_is_live(service: ServiceProcess) -> None:
    token = publish_token(service, ["*"])
    first = asyncio.create_task(publish_aiortc(whip_url(service, "one"), token, duration=4.0))
    await asyncio.sleep(1.5)
    try:
        await publish_aiortc(whip_url(service, "one"), token, duration=1.0)
    except WhipError as exc:
        assert exc.status == 409
    else:
        raise AssertionError("a second live publisher was accepted")
    # Another source of the same stream is its own stream (multisource).
    other = await publish_aiortc(
        whip_url(service, "one") + "?source_id=screen", token, duration=1.0
    )
    assert other.delete_status == 200
    await first
    recs = service.api("GET", "/v1/recordings", params={"stream_name": "one"}).json()["data"]
    assert sorted(r["source_id"] or "" for r in recs) == ["", "screen"]


async def test_silent_drop_then_reconnect_continues_one_recording(
    service: ServiceProcess, tmp_path: Path
) -> None:
    token = publish_token(service, ["*"])
    first = await publish_aiortc(whip_url(service, "drop"), token, duration=3.0, ending="vanish")
    # The silent session is taken over by a new publisher (after 3 s of silence) within the grace.
    await asyncio.sleep(3.5)
    second = await publish_aiortc(whip_url(service, "drop"), token, duration=3.0)
    assert second.delete_status == 200
    recs = service.api("GET", "/v1/recordings", params={"stream_name": "drop"}).json()["data"]
    assert len(recs) == 1, recs
    rec = wait_finished(service, recs[0]["id"])
    assert rec["status"] == "complete", rec
    assert rec["duration"] > first.span + second.span - 1.0, (
        rec["duration"],
        first.span,
        second.span,
    )
    report = check_media(download(service, rec["id"], tmp_path / "rec.webm"))
    assert report.decode_errors == 0


async def test_silent_drop_without_reconnect_completes_after_grace(service: ServiceProcess) -> None:
    token = publish_token(service, ["*"])
    sent = await publish_aiortc(whip_url(service, "gone"), token, duration=3.0, ending="vanish")
    recs = service.api("GET", "/v1/recordings", params={"stream_name": "gone"}).json()["data"]
    # Silence ends the stream within ~3 s here (10 s by default), then the 4 s grace runs out.
    rec = wait_finished(service, recs[0]["id"], timeout=40)
    assert rec["status"] == "complete", rec
    assert abs(rec["duration"] - sent.span) < 0.6
    assert service.api("GET", "/v1/streams").json()["data"] == []


async def test_deleting_token_ends_its_streams(service: ServiceProcess) -> None:
    created = service.api(
        "POST", "/v1/publish-tokens", json={"label": "x", "streams": ["*"], "record": True}
    ).json()
    publisher = asyncio.create_task(
        publish_aiortc(whip_url(service, "cut"), created["token"], duration=5.0)
    )
    await asyncio.sleep(2.0)
    token_view = (await _api(service, "GET", f"/v1/publish-tokens/{created['id']}")).json()
    assert token_view["live"] is True
    patch = await asyncio.to_thread(
        service.api, "PATCH", f"/v1/publish-tokens/{created['id']}", json={"record": False}
    )
    assert patch.status_code == 409
    assert (await _api(service, "DELETE", f"/v1/publish-tokens/{created['id']}")).status_code == 204
    assert (await _api(service, "GET", "/v1/streams")).json()["data"] == []
    # The service closed the connection; this publisher has no reaction to that, so stop it.
    publisher.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await publisher
    rec = service.api("GET", "/v1/recordings").json()["data"][0]
    assert wait_finished(service, rec["id"])["status"] == "complete"

"""Headless Chromium publishes VP9 and AV1 to the real service; the recordings are WebM."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.conftest import download, only_recording, publish_token, wait_finished, whip_url
from tests.mediacheck import check_media
from tests.publishers.browser import lan_ip, publish_chromium
from tests.servicehost import ServiceProcess


@pytest.mark.parametrize("codec", ["VP9", "AV1"])
async def test_chromium_publishes_vp9_and_av1(
    service: ServiceProcess, tmp_path: Path, codec: str
) -> None:
    token = publish_token(service, ["*"])
    endpoint = whip_url(service, "browser", host=lan_ip())
    sent = await publish_chromium(endpoint, token, codec=codec, duration=4.0, workdir=tmp_path)  # type: ignore[arg-type]
    assert sent.video_codec == codec  # the browser really sent it (no fallback)
    assert sent.delete_status == 200
    rec = await asyncio.to_thread(wait_finished, service, only_recording(service)["id"])
    assert rec["status"] == "complete", rec
    assert rec["format"] == "webm"
    video = next(t for t in rec["tracks"] if t["type"] == "video")
    assert video["codec"] == codec
    report = check_media(download(service, rec["id"], tmp_path / "rec.webm"))
    assert report.decode_errors == 0
    assert report.video is not None and report.audio is not None
    assert (report.video.width, report.video.height) == (sent.width, sent.height)
    assert report.video.frames >= 0.8 * sent.frames_sent
    assert report.duration is not None and abs(report.duration - sent.span) < 0.75
    print(
        f"{codec}: sent {sent.frames_sent} frames in {sent.span:.2f} s, recorded "
        f"{report.video.frames} frames, {report.duration:.2f} s"
    )

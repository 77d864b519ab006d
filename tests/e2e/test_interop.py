"""Real publishers other than aiortc: headless Debian Chromium and FFmpeg's WHIP muxer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.conftest import download, only_recording, publish_token, wait_finished, whip_url
from tests.mediacheck import check_media
from tests.publishers.browser import lan_ip, publish_chromium
from tests.publishers.ffmpeg_pub import publish_ffmpeg
from tests.servicehost import ServiceProcess


@pytest.mark.parametrize(("codec", "fmt"), [("VP8", "webm"), ("H264", "mp4")])
async def test_chromium_publishes(
    service: ServiceProcess, tmp_path: Path, codec: str, fmt: str
) -> None:
    token = publish_token(service, ["*"])
    endpoint = whip_url(service, "browser", host=lan_ip())
    sent = await publish_chromium(endpoint, token, codec=codec, duration=4.0, workdir=tmp_path)  # type: ignore[arg-type]
    assert sent.delete_status == 200
    rec = await asyncio.to_thread(wait_finished, service, only_recording(service)["id"])
    assert rec["status"] == "complete", rec
    assert rec["format"] == fmt
    video = next(t for t in rec["tracks"] if t["type"] == "video")
    assert video["codec"] == codec
    report = check_media(download(service, rec["id"], tmp_path / f"rec.{fmt}"))
    assert report.decode_errors == 0
    assert report.video is not None and report.audio is not None
    assert (report.video.width, report.video.height) == (sent.width, sent.height)
    assert report.video.frames >= 0.8 * sent.frames_sent
    assert report.duration is not None and abs(report.duration - sent.span) < 0.75


async def test_chromium_killed_publisher_still_completes(
    service: ServiceProcess, tmp_path: Path
) -> None:
    token = publish_token(service, ["*"])
    endpoint = whip_url(service, "crashy-browser", host=lan_ip())
    await publish_chromium(endpoint, token, duration=3.0, ending="kill", workdir=tmp_path)
    rec = await asyncio.to_thread(wait_finished, service, only_recording(service)["id"], 60)
    assert rec["status"] == "complete", rec
    report = check_media(download(service, rec["id"], tmp_path / "rec.webm"))
    assert report.decode_errors == 0 and report.video is not None


async def test_ffmpeg_whip_muxer_publishes(service: ServiceProcess, tmp_path: Path) -> None:
    token = publish_token(service, ["*"])
    sent = await publish_ffmpeg(whip_url(service, "ffmpeg"), token, duration=4.0)
    rec = await asyncio.to_thread(wait_finished, service, only_recording(service)["id"])
    assert rec["status"] == "complete", rec
    assert rec["format"] == "mp4"
    report = check_media(download(service, rec["id"], tmp_path / "rec.mp4"))
    assert report.decode_errors == 0
    assert report.video is not None and report.video.codec == "h264"
    assert report.video.frames >= 0.85 * sent.video_frames
    assert report.duration is not None and abs(report.duration - sent.span) < 0.75

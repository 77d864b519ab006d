"""aiortc publishers end to end through HTTP: WHIP in, a complete recording out that plays."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import download, only_recording, publish_token, wait_finished, whip_url
from tests.mediacheck import check_media
from tests.publishers.aiortc_pub import SizeChange, publish_aiortc
from tests.servicehost import ServiceProcess

EXPECTED = {"VP8": ("webm", "vp8"), "H264": ("mp4", "h264")}


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_publish_record_and_play(service: ServiceProcess, tmp_path: Path, codec: str) -> None:
    token = publish_token(service, ["cam-*"])
    sent = await publish_aiortc(whip_url(service, "cam-1"), token, codec=codec, duration=4.0)  # type: ignore[arg-type]
    assert sent.delete_status == 200

    rec = wait_finished(service, only_recording(service, stream_name="cam-1")["id"])
    assert rec["status"] == "complete", rec
    fmt, vcodec = EXPECTED[codec]
    assert rec["format"] == fmt and rec["recovered"] is False
    assert abs(rec["duration"] - sent.span) < 0.5, (rec["duration"], sent.span)
    video = next(t for t in rec["tracks"] if t["type"] == "video")
    audio = next(t for t in rec["tracks"] if t["type"] == "audio")
    assert video["codec"] == codec and (video["width"], video["height"]) == (640, 480)
    assert audio["codec"] == "opus" and audio["sample_rate"] == 48000
    assert rec["size_bytes"] == sum(rec["sizes"].values()) > 0

    report = check_media(download(service, rec["id"], tmp_path / f"rec.{fmt}"))
    assert report.container == fmt
    assert report.video is not None and report.video.codec == vcodec
    assert (report.video.width, report.video.height) == (640, 480)
    assert report.audio is not None and report.audio.codec == "opus"
    assert report.decode_errors == 0
    assert report.video.frames >= sent.video_frames * 0.9
    assert report.duration is not None and abs(report.duration - sent.span) < 0.5


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_resolution_change_is_kept(
    service: ServiceProcess, tmp_path: Path, codec: str
) -> None:
    token = publish_token(service, ["*"])
    changes = [SizeChange(1.5, 320, 240), SizeChange(3.0, 640, 480)]
    await publish_aiortc(
        whip_url(service, "resize"),
        token,
        codec=codec,
        duration=4.5,
        size_changes=changes,  # type: ignore[arg-type]
    )
    rec = wait_finished(service, only_recording(service, stream_name="resize")["id"])
    assert rec["status"] == "complete", rec
    report = check_media(download(service, rec["id"], tmp_path / f"rec.{rec['format']}"))
    assert report.decode_errors == 0
    assert report.video is not None
    assert (320, 240) in report.video.sizes and (640, 480) in report.video.sizes


async def test_audio_only(service: ServiceProcess, tmp_path: Path) -> None:
    token = publish_token(service, ["*"])
    sent = await publish_aiortc(whip_url(service, "radio"), token, video=False, duration=3.0)
    rec = wait_finished(service, only_recording(service, stream_name="radio")["id"])
    assert rec["status"] == "complete", rec
    assert rec["format"] == "webm" and [t["type"] for t in rec["tracks"]] == ["audio"]
    assert abs(rec["duration"] - sent.span) < 0.5
    report = check_media(download(service, rec["id"], tmp_path / "rec.webm"))
    assert report.video is None and report.audio is not None and report.decode_errors == 0


async def test_token_without_record_records_nothing(service: ServiceProcess) -> None:
    token = publish_token(service, ["*"], record=False)
    await publish_aiortc(whip_url(service, "quiet"), token, duration=1.5)
    assert service.api("GET", "/v1/recordings").json()["data"] == []

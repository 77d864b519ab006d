"""The publishers against a stock-aiortc WHIP echo server, and mediacheck on PyAV-made files."""

from __future__ import annotations

import asyncio
import fractions
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import av
import pytest

from tests.mediacheck import check_media
from tests.publishers.aiortc_pub import SizeChange, publish_aiortc
from tests.publishers.browser import CHROMIUM, lan_ip, publish_chromium
from tests.publishers.ffmpeg_pub import publish_ffmpeg
from tests.publishers.synthetic import pattern_frame, tone_frame
from tests.publishers.whip_client import WhipError
from tests.whip_echo import EchoSession, WhipEcho

pytestmark = pytest.mark.timeout(30)
needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no Debian chromium")


@pytest.fixture
def echo() -> Iterator[WhipEcho]:
    with WhipEcho() as server:
        yield server


def _session(echo: WhipEcho, resource_url: str) -> EchoSession:
    return echo.sessions[resource_url.rsplit("/", 1)[1]]


def _live_processes_mentioning(text: str) -> list[str]:
    """Non-zombie processes whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(f"{entry.name}: {cmdline[:120]}")
    return found


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_aiortc_publisher_sends_decodable_media(
    echo: WhipEcho, codec: Literal["VP8", "H264"]
) -> None:
    changes = [SizeChange(1.0, 320, 240)]
    result = await publish_aiortc(
        echo.endpoint(), echo.token, codec=codec, duration=2.0, size_changes=changes
    )
    session = _session(echo, result.resource_url)
    assert await echo.wait_for(lambda: session.deleted)
    assert result.delete_status == 200
    assert result.video_codec == session.video_codec == codec
    assert result.video_frames == 60 and result.audio_frames == 100
    assert result.span == pytest.approx(2.0)
    assert result.sizes == [(640, 480), (320, 240)]
    video, audio = session.track("video"), session.track("audio")
    assert video is not None and audio is not None
    assert await echo.wait_for(lambda: video.ended and audio.ended)
    assert video.frames >= 0.9 * result.video_frames
    assert audio.frames >= 0.9 * result.audio_frames
    assert video.sizes == [(640, 480), (320, 240)]


async def test_aiortc_publisher_refused_token_raises(echo: WhipEcho) -> None:
    with pytest.raises(WhipError) as refused:
        await publish_aiortc(echo.endpoint(), "wrong", duration=0.5)
    assert refused.value.status == 401
    assert echo.sessions == {}


async def test_aiortc_close_without_delete_ends_connection(echo: WhipEcho) -> None:
    result = await publish_aiortc(echo.endpoint(), echo.token, duration=1.0, ending="close")
    session = _session(echo, result.resource_url)
    assert result.delete_status is None
    assert await echo.wait_for(lambda: session.connection_state == "closed")
    assert not session.deleted


async def test_aiortc_vanish_sends_nothing_more(echo: WhipEcho) -> None:
    result = await publish_aiortc(echo.endpoint(), echo.token, duration=1.0, ending="vanish")
    session = _session(echo, result.resource_url)
    video = session.track("video")
    assert video is not None and video.frames > 0
    frames = video.frames
    await asyncio.sleep(1.5)
    # No DELETE, no RTCP BYE, no DTLS close_notify: the server still thinks it is connected.
    assert result.delete_status is None and not session.deleted
    assert session.connection_state == "connected"
    assert video.frames == frames and not video.ended


async def test_aiortc_audio_only(echo: WhipEcho) -> None:
    result = await publish_aiortc(echo.endpoint(), echo.token, duration=1.0, video=False)
    session = _session(echo, result.resource_url)
    assert result.video_codec is None and result.video_frames == 0
    assert result.span == pytest.approx(1.0)
    assert [t.kind for t in session.tracks] == ["audio"]


@needs_chromium
@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_chromium_publisher(
    echo: WhipEcho, codec: Literal["VP8", "H264"], tmp_path: Path
) -> None:
    endpoint = echo.endpoint(host=lan_ip())
    result = await publish_chromium(
        endpoint, echo.token, codec=codec, duration=2.0, workdir=tmp_path
    )
    assert not _live_processes_mentioning(str(tmp_path))
    session = _session(echo, result.resource_url)
    assert result.video_codec == session.video_codec == codec
    assert result.delete_status == 200 and session.deleted
    assert (result.width, result.height) == (640, 480)
    assert result.frames_sent > 10 and result.audio_packets > 10
    video, audio = session.track("video"), session.track("audio")
    assert video is not None and audio is not None
    assert await echo.wait_for(lambda: video.ended)
    assert video.frames >= 0.8 * result.frames_sent
    assert audio.frames > 0
    assert video.sizes == [(640, 480)]


@needs_chromium
async def test_chromium_killed_without_delete(echo: WhipEcho, tmp_path: Path) -> None:
    endpoint = echo.endpoint(host=lan_ip())
    result = await publish_chromium(
        endpoint, echo.token, duration=1.0, ending="kill", workdir=tmp_path
    )
    assert not _live_processes_mentioning(str(tmp_path))
    session = _session(echo, result.resource_url)
    assert result.delete_status is None and not session.deleted
    video = session.track("video")
    assert video is not None and video.frames > 0


@needs_chromium
async def test_chromium_refused_token_raises(echo: WhipEcho, tmp_path: Path) -> None:
    with pytest.raises(WhipError) as refused:
        await publish_chromium(
            echo.endpoint(host=lan_ip()), "wrong", duration=0.5, workdir=tmp_path
        )
    assert refused.value.status == 401
    assert not _live_processes_mentioning(str(tmp_path))


async def test_ffmpeg_publisher(echo: WhipEcho) -> None:
    result = await publish_ffmpeg(echo.endpoint(), echo.token, duration=2.0, width=320, height=240)
    assert result.video_frames == 60 and result.audio_frames == 100
    assert await echo.wait_for(lambda: len(echo.sessions) == 1)
    session = next(iter(echo.sessions.values()))
    assert session.video_codec == "H264"
    assert await echo.wait_for(lambda: session.deleted)  # the muxer DELETEs on close
    video, audio = session.track("video"), session.track("audio")
    assert video is not None and audio is not None
    assert await echo.wait_for(lambda: video.ended and audio.ended)
    assert video.frames >= 0.9 * result.video_frames
    assert audio.frames >= 0.9 * result.audio_frames
    assert video.sizes == [(320, 240)]


async def test_ffmpeg_publisher_refused_token_raises(echo: WhipEcho) -> None:
    with pytest.raises(RuntimeError, match="401"):
        await publish_ffmpeg(echo.endpoint(), "wrong", duration=0.5)
    assert echo.sessions == {}


def _encoder(codec: str, width: int, height: int, fps: int) -> av.VideoCodecContext:
    context = av.CodecContext.create(codec, "w")
    assert isinstance(context, av.VideoCodecContext)
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    context.time_base = fractions.Fraction(1, fps)
    if codec == "libvpx":
        context.options = {"deadline": "realtime", "cpu-used": "8"}
    return context


def _write_file(path: Path, codec: str, sizes: list[tuple[int, int]], fps: int = 30) -> None:
    """One second of video per size (a new encoder each, like a resolution change), muxed
    into one stream, plus 100 Opus frames (2 s)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=fps)
        assert isinstance(video, av.VideoStream)
        video.width, video.height = sizes[0]
        video.pix_fmt = "yuv420p"
        audio = container.add_stream("libopus", rate=48000, layout="stereo")
        index = 0
        for width, height in sizes:
            encoder = _encoder(codec, width, height, fps)
            for frame in [*(pattern_frame(width, height, index + n) for n in range(fps)), None]:
                if frame is not None:
                    frame.pts, frame.time_base = index, encoder.time_base
                    index += 1
                for packet in encoder.encode(frame):
                    packet.stream = video
                    container.mux(packet)
        for n in range(100):
            container.mux(audio.encode(tone_frame(n)))
        container.mux(audio.encode(None))


def test_mediacheck_webm(tmp_path: Path) -> None:
    path = tmp_path / "a.webm"
    _write_file(path, "libvpx", [(320, 240), (160, 120)])
    report = check_media(path)
    assert report.container == "webm"
    assert report.duration == pytest.approx(2.0, abs=0.1)
    video, audio = report.video, report.audio
    assert video is not None and audio is not None
    assert (video.codec, video.width, video.height) == ("vp8", 320, 240)
    assert video.packets == video.frames == 60
    assert video.sizes == [(320, 240), (160, 120)]
    assert video.keyframes >= 1
    assert video.duration == pytest.approx(2.0, abs=0.05)
    assert (audio.codec, audio.sample_rate, audio.channels) == ("opus", 48000, 2)
    assert audio.samples == pytest.approx(96000, abs=960)
    assert report.decode_errors == 0


def test_mediacheck_mp4_h264(tmp_path: Path) -> None:
    path = tmp_path / "a.mp4"
    _write_file(path, "libx264", [(320, 240)])
    report = check_media(path)
    assert report.container == "mp4"
    video = report.video
    assert video is not None
    assert (video.codec, video.width, video.height) == ("h264", 320, 240)
    assert video.frames == 30 and report.decode_errors == 0
    assert report.audio is not None and report.audio.codec == "opus"


def test_mediacheck_truncated_file_reports_less(tmp_path: Path) -> None:
    path = tmp_path / "a.webm"
    _write_file(path, "libvpx", [(320, 240), (320, 240)])
    full = check_media(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    cut = check_media(path)
    assert full.video is not None and cut.video is not None
    assert 0 < cut.video.frames < full.video.frames

"""Metadata of a finished recording: format, duration and per-track codec details."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.video.stream import VideoStream

from telerecord.media.errors import MediaError
from telerecord.media.finalize import TrackStats

_CODEC_NAMES = {"vp8": "VP8", "vp9": "VP9", "av1": "AV1", "h264": "H264", "opus": "opus"}


@dataclass
class MediaInfo:
    """What API.md shows for a recording file."""

    format: Literal["webm", "mp4"]
    duration: float
    tracks: list[dict[str, object]]


@dataclass
class _Tally:
    bytes: int = 0
    frames: int = 0
    start: float | None = None
    end: float = 0.0
    times: list[float] = field(default_factory=list)


def probe(path: Path, measured: Mapping[str, TrackStats] | None = None) -> MediaInfo:
    """Describe the file and its tracks.

    Bit rate and frame rate need every packet's size and time: taken from ``measured`` (what
    :func:`telerecord.media.finalize.join_pieces` saw while copying) or else read from the file.
    """
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"cannot open {path.name}: {exc}") from exc
    with container:
        fmt = _format(container)
        tallies = _from_measured(container, measured) if measured else _tally(container)
        spans = [t.end - t.start for t in tallies.values() if t.start is not None]
        duration = container.duration / 1_000_000 if container.duration else max(spans, default=0.0)
        tracks = [_describe(container, index, tally) for index, tally in tallies.items()]
    return MediaInfo(format=fmt, duration=round(duration, 3), tracks=tracks)


def _format(container: InputContainer) -> Literal["webm", "mp4"]:
    names = container.format.name.split(",")
    if "webm" in names or "matroska" in names:
        return "webm"
    if "mp4" in names or "mov" in names:
        return "mp4"
    raise MediaError(f"unexpected container {container.format.name}")


def _from_measured(
    container: InputContainer, measured: Mapping[str, TrackStats]
) -> dict[int, _Tally]:
    tallies: dict[int, _Tally] = {}
    for stream in container.streams:
        stats = measured.get(stream.type)
        if stats is None or stats.first_us is None or stream.index in tallies:
            continue
        start = stats.first_us / 1_000_000
        tallies[stream.index] = _Tally(stats.bytes, stats.packets, start, start + stats.span)
    return tallies


def _tally(container: InputContainer) -> dict[int, _Tally]:
    wanted = [s for s in container.streams if s.type in ("audio", "video")]
    tallies = {s.index: _Tally() for s in wanted}
    try:
        for packet in container.demux(wanted):
            if packet.pts is None or packet.time_base is None:
                continue
            tally = tallies[packet.stream.index]
            start = float(packet.pts * packet.time_base)
            end = start + float((packet.duration or 0) * packet.time_base)
            tally.bytes += packet.size
            tally.frames += 1
            tally.start = start if tally.start is None else min(tally.start, start)
            tally.end = max(tally.end, end)
    except av.FFmpegError as exc:
        raise MediaError(f"cannot read packets: {exc}") from exc
    return tallies


def _describe(container: InputContainer, index: int, tally: _Tally) -> dict[str, object]:
    stream = container.streams[index]
    span = tally.end - tally.start if tally.start is not None else 0.0
    # Stream copies carry no bit rate in their headers: measure it from the packets.
    bitrate = stream.codec_context.bit_rate or (round(tally.bytes * 8 / span) if span > 0 else 0)
    name = stream.codec_context.codec.canonical_name  # "av1", not the decoder "libdav1d"
    codec = _CODEC_NAMES.get(name, name.upper())
    if isinstance(stream, VideoStream):
        return {
            "type": "video",
            "codec": codec,
            "bitrate": int(bitrate),
            "width": int(stream.codec_context.width),
            "height": int(stream.codec_context.height),
            "framerate": round(tally.frames / span, 3) if span > 0 else 0.0,
        }
    assert isinstance(stream, AudioStream)
    return {
        "type": "audio",
        "codec": codec,
        "bitrate": int(bitrate),
        "channels": int(stream.codec_context.channels),
        "sample_rate": int(stream.codec_context.sample_rate),
    }

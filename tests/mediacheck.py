"""Reopen a media file with PyAV, demux and decode every packet, and report what is in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import av
import av.error

Container = Literal["webm", "matroska", "mp4", "other"]


@dataclass
class StreamCheck:
    """One stream: declared parameters, then what demuxing and decoding found."""

    index: int
    kind: str  # "video" | "audio" | ...
    codec: str  # FFmpeg codec name: "vp8", "h264", "opus", ...
    width: int | None = None
    height: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    packets: int = 0
    keyframes: int = 0  # packets flagged keyframe by the demuxer
    frames: int = 0  # frames decoded (video frames; audio frames, not samples)
    samples: int = 0  # audio samples decoded
    decode_errors: int = 0  # packets (or the final flush) the decoder rejected
    corrupt_frames: int = 0  # decoded frames FFmpeg flagged corrupt
    start: float | None = None  # seconds, smallest packet pts
    end: float | None = None  # seconds, largest packet pts + duration
    sizes: list[tuple[int, int]] = field(default_factory=list)  # distinct decoded sizes, in order

    @property
    def duration(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return self.end - self.start


@dataclass
class MediaReport:
    """The whole file: container, its declared duration and a check per stream."""

    path: Path
    container: Container
    format_name: str  # PyAV's demuxer name, e.g. "matroska,webm"
    duration: float | None  # the container's declared duration (None if it declares none)
    streams: list[StreamCheck]

    def first(self, kind: str) -> StreamCheck | None:
        return next((s for s in self.streams if s.kind == kind), None)

    @property
    def video(self) -> StreamCheck | None:
        return self.first("video")

    @property
    def audio(self) -> StreamCheck | None:
        return self.first("audio")

    @property
    def decode_errors(self) -> int:
        return sum(s.decode_errors + s.corrupt_frames for s in self.streams)


def _container_kind(path: Path, format_name: str) -> Container:
    if "matroska" in format_name:
        with open(path, "rb") as file:
            header = file.read(64)  # the EBML header carries DocType "webm" or "matroska"
        return "webm" if b"webm" in header else "matroska"
    if "mp4" in format_name:
        return "mp4"
    return "other"


MediaStream = av.VideoStream | av.AudioStream


def _new_check(stream: MediaStream) -> StreamCheck:
    if isinstance(stream, av.VideoStream):
        context = stream.codec_context
        return StreamCheck(
            stream.index, "video", context.name, width=context.width, height=context.height
        )
    audio = stream.codec_context
    return StreamCheck(
        stream.index, "audio", audio.name, sample_rate=audio.sample_rate, channels=audio.channels
    )


def _count_frames(check: StreamCheck, frames: list[av.VideoFrame] | list[av.AudioFrame]) -> None:
    for frame in frames:
        check.frames += 1
        if getattr(frame, "is_corrupt", False):
            check.corrupt_frames += 1
        if isinstance(frame, av.VideoFrame):
            size = (frame.width, frame.height)
            if not check.sizes or check.sizes[-1] != size:
                check.sizes.append(size)
        elif isinstance(frame, av.AudioFrame):
            check.samples += frame.samples


def _track_times(check: StreamCheck, packet: av.Packet[Any]) -> None:
    if packet.pts is None or packet.time_base is None:
        return
    start = float(packet.pts * packet.time_base)
    end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
    check.start = start if check.start is None else min(check.start, start)
    check.end = end if check.end is None else max(check.end, end)


def _decode(stream: MediaStream, check: StreamCheck, packet: av.Packet[Any] | None) -> None:
    try:
        _count_frames(check, stream.decode(packet))
    except av.error.FFmpegError:
        check.decode_errors += 1


def check_media(path: Path) -> MediaReport:
    """Demux and decode every packet of every audio/video stream of `path`.

    Raises av.error.FFmpegError if the file cannot be opened at all.
    """
    with av.open(str(path)) as container:
        streams: list[MediaStream] = [
            s for s in container.streams if isinstance(s, (av.VideoStream, av.AudioStream))
        ]
        checks = {s.index: _new_check(s) for s in streams}
        by_index = {s.index: s for s in streams}
        for packet in container.demux(streams):
            if packet.size == 0:  # demuxer's end-of-stream marker
                continue
            stream = by_index[packet.stream.index]
            check = checks[stream.index]
            check.packets += 1
            check.keyframes += int(packet.is_keyframe)
            _track_times(check, packet)
            _decode(stream, check, packet)
        for stream in streams:
            _decode(stream, checks[stream.index], None)  # flush delayed frames
        duration = None if container.duration is None else container.duration / av.time_base
        format_name = container.format.name
        ordered = [checks[s.index] for s in streams]
    return MediaReport(
        path=path,
        container=_container_kind(path, format_name),
        format_name=format_name,
        duration=duration,
        streams=ordered,
    )

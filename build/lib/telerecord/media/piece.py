"""One crash-safe spool piece: encoded packets muxed by PyAV without encoding.

VP8/VP9/AV1 (+ Opus) and Opus-only go to WebM with small clusters flushed after every
packet; H.264 (+ Opus) goes to fragmented MP4 flushed every 0.5 s. A reader can recover a
piece cut off at any byte (see finalize.py).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
from av.container import OutputContainer
from av.stream import Stream

from telerecord.media.bitstream import frame_size
from telerecord.media.opus import opus_head, packet_samples

log = logging.getLogger(__name__)

Kind = Literal["audio", "video"]

# Formats that take each video codec (codec in = codec out; DESIGN.md).
_VIDEO_FORMAT = {"VP8": "webm", "VP9": "webm", "AV1": "webm", "H264": "mp4"}
_FFMPEG_CODEC = {"VP8": "vp8", "VP9": "vp9", "AV1": "av1", "H264": "h264"}

# max_interleave_delta: FFmpeg holds packets until every stream has one, by default for up to
# 10 s; a silent track must not keep that much media in memory (lost on a crash).
WEBM_OPTIONS = {
    "cluster_time_limit": "1000",
    "flush_packets": "1",
    "max_interleave_delta": "1000000",
}
# delay_moov: the moov (with edit lists holding each track's start offset) is written with the
# first fragment; empty_moov alone rebases every track to 0 and loses A/V alignment.
MP4_OPTIONS = {
    "movflags": "frag_keyframe+empty_moov+delay_moov+default_base_moof",
    "frag_duration": "500000",
    "flush_packets": "1",
    "max_interleave_delta": "1000000",
}
# A piece holds back its first packets until it has seen both audio and video, or this much
# media has passed: the header must list every track, and a track's start offset is only
# kept (MP4 edit list) if its first packet comes before the first fragment is written.
START_WAIT = 1.0
_VIDEO_RATE = 90000
_AUDIO_RATE = 48000


@dataclass(frozen=True, slots=True)
class PieceLayout:
    """Which tracks a piece holds. video_codec None = audio-only."""

    video_codec: str | None
    audio: bool

    @property
    def format(self) -> Literal["webm", "mp4"]:
        if self.video_codec is None:
            return "webm"
        return "mp4" if _VIDEO_FORMAT[self.video_codec] == "mp4" else "webm"


def container_format(video_codec: str | None) -> Literal["webm", "mp4"]:
    """Spool/final container for a recording whose video codec is `video_codec`."""
    return PieceLayout(video_codec, True).format


def supported_video_codec(codec: str) -> bool:
    """True if the recorder can mux this video codec."""
    return codec in _VIDEO_FORMAT


@dataclass(slots=True)
class _Pending:
    kind: Kind
    codec: str
    data: bytes
    time: float
    keyframe: bool


class PieceWriter:
    """Writes one piece file; `write` takes recording-timeline seconds, strictly increasing.

    The tracks (and so the container and file name) are chosen from the first packets; a
    packet that does not fit the piece once it is open is refused (`write` returns False).
    """

    def __init__(self, spool_dir: Path, number: int) -> None:
        self.spool_dir = spool_dir
        self.number = number
        self.layout: PieceLayout | None = None
        self.path: Path | None = None
        self._container: OutputContainer | None = None
        self._streams: dict[Kind, Stream] = {}
        self._start: list[_Pending] = []
        self._held_video: _Pending | None = None  # written once the next frame gives its duration
        self._last_video_duration = 1 / 30
        self.packets = 0

    def write(self, kind: Kind, codec: str, data: bytes, time: float, keyframe: bool) -> bool:
        """Mux one packet (video is held one frame to learn its duration).

        False if the packet belongs to a track this (open) piece does not have.
        """
        item = _Pending(kind, codec, data, time, keyframe)
        if self._container is None:
            self._start.append(item)
            if self._ready_to_open():
                self._open()
            return True
        assert self.layout is not None
        fits = self.layout.audio if kind == "audio" else self.layout.video_codec == codec
        if fits:
            self._route(item)
        return fits

    def close(self) -> None:
        """Flush held packets and write the trailer (WebM Cues/Duration, last MP4 fragment)."""
        if self._container is None and self._start:
            self._open()
        if self._held_video is not None:
            self._mux(self._held_video, self._last_video_duration)
            self._held_video = None
        if self._container is not None:
            self._container.close()
            self._container = None

    # --- internals ---------------------------------------------------------------------

    def _ready_to_open(self) -> bool:
        seen = {item.kind for item in self._start}
        span = self._start[-1].time - self._start[0].time
        return len(seen) == 2 or span >= START_WAIT

    def _open(self) -> None:
        video = next((i.codec for i in self._start if i.kind == "video"), None)
        layout = self.layout = PieceLayout(video, any(i.kind == "audio" for i in self._start))
        self.path = self.spool_dir / f"piece-{self.number:04d}.{layout.format}"
        # PyAV 18 hands av.open(options=...) to avformat_write_header, which applies generic
        # AVFormatContext options (flush_packets, max_interleave_delta) and the muxer's private
        # ones (cluster_time_limit, movflags, frag_duration) alike; unused keys get logged.
        options = MP4_OPTIONS if layout.format == "mp4" else WEBM_OPTIONS
        container = av.open(str(self.path), "w", format=layout.format, options=dict(options))
        if layout.video_codec is not None:
            self._streams["video"] = self._add_video(container, layout.video_codec)
        if layout.audio:
            self._streams["audio"] = _add_opus(container)
        self._container = container
        log.info("piece %s: opened (%s)", self.path.name, layout)
        pending, self._start = self._start, []
        for item in pending:
            if item.kind == "audio" or item.codec == video:
                self._route(item)

    def _add_video(self, container: OutputContainer, codec: str) -> Stream:
        size = next(
            (frame_size(codec, i.data) for i in self._start if i.kind == "video" and i.keyframe),
            None,
        )
        width, height = size or (0, 0)
        stream = container.add_mux_stream(_FFMPEG_CODEC[codec], width=width, height=height)
        stream.time_base = Fraction(1, _VIDEO_RATE)
        return stream

    def _route(self, item: _Pending) -> None:
        if item.kind == "audio":
            self._mux(item, packet_samples(item.data) / _AUDIO_RATE or 0.02)
            return
        held = self._held_video
        self._held_video = item
        if held is not None:
            self._last_video_duration = max(item.time - held.time, 0.001)
            self._mux(held, self._last_video_duration)

    def _mux(self, item: _Pending, duration: float) -> None:
        stream = self._streams.get(item.kind)
        if stream is None or self._container is None:
            return
        rate = _VIDEO_RATE if item.kind == "video" else _AUDIO_RATE
        packet = av.Packet(item.data)
        packet.pts = packet.dts = round(item.time * rate)
        packet.duration = max(1, round(duration * rate))
        packet.time_base = Fraction(1, rate)
        packet.is_keyframe = item.keyframe
        packet.stream = stream
        self._container.mux(packet)
        self.packets += 1


def _add_opus(container: OutputContainer) -> Stream:
    # add_mux_stream() cannot set extradata, and an Opus stream needs OpusHead; a stream
    # copied from an unopened template gets a codec context whose extradata we can set.
    with av.open(io.BytesIO(), "w", format=container.format.name.split(",")[0]) as scratch:
        template = scratch.add_stream("libopus", rate=_AUDIO_RATE, layout="stereo")
        stream = container.add_stream_from_template(template, opaque=True)
    stream.codec_context.extradata = opus_head(2)
    stream.time_base = Fraction(1, _AUDIO_RATE)
    return stream

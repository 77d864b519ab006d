"""Join a recording's spool pieces by stream copy into one seekable file.

Pieces may be cut off anywhere (the process was killed): each is read until its demuxer
fails or a packet would run past the end of the file, and what was read is kept.
"""

from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.container import InputContainer, OutputContainer
from av.stream import Stream

from telerecord.media.errors import MediaError

log = logging.getLogger(__name__)

_PIECE = re.compile(r"^piece-(\d+)\.(webm|mp4)$")
_RATES = {"video": 90000, "audio": 48000}


@dataclass
class _Output:
    """Output streams by kind, with per-stream state that keeps the copy decodable."""

    container: OutputContainer
    streams: dict[str, Stream] = field(default_factory=dict)
    codecs: dict[str, str] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    stats: dict[str, TrackStats] = field(default_factory=dict)
    packets: int = 0


@dataclass
class TrackStats:
    """What the copy saw of one track: enough for bit rate and frame rate, no second read."""

    bytes: int = 0
    packets: int = 0
    first_us: int | None = None
    end_us: int = 0

    def add(self, size: int, start_us: int, end_us: int) -> None:
        self.bytes += size
        self.packets += 1
        if self.first_us is None:
            self.first_us = start_us
        self.end_us = max(self.end_us, end_us)

    @property
    def span(self) -> float:
        """Seconds from the first packet's start to the last one's end."""
        return 0.0 if self.first_us is None else (self.end_us - self.first_us) / 1_000_000


@dataclass(frozen=True)
class Finalized:
    path: Path
    tracks: dict[str, TrackStats]


def spool_pieces(spool_dir: Path) -> list[Path]:
    """The pieces of a spool dir in recording order."""
    found = [(int(m.group(1)), p) for p in spool_dir.iterdir() if (m := _PIECE.match(p.name))]
    return [path for _, path in sorted(found)]


def finalize(spool_dir: Path, out_dir: Path) -> Path:
    """Stream-copy all pieces (also truncated ones) into out_dir/recording.webm or .mp4.

    WebM gets Cues and Duration, MP4 its moov up front (+faststart). Raises
    MediaError("no usable media") if no piece holds a usable packet.
    """
    return join_pieces(spool_dir, out_dir).path


def join_pieces(spool_dir: Path, out_dir: Path) -> Finalized:
    """:func:`finalize`, also returning per-track statistics gathered during the copy."""
    pieces = [p for p in spool_pieces(spool_dir) if p.stat().st_size > 0]
    codecs = _first_codecs(pieces)
    if not codecs:
        raise MediaError("no usable media")
    fmt = "mp4" if codecs.get("video") == "h264" else "webm"
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"recording.{fmt}"
    partial = out_dir / f".recording.partial.{fmt}"
    options = {"movflags": "+faststart"} if fmt == "mp4" else {}
    out = _Output(av.open(str(partial), "w", format=fmt, options=options))
    try:
        _add_streams(pieces, out)
        for piece in pieces:
            _copy_piece(piece, out)
    finally:
        _close(out)
    if not out.packets:
        partial.unlink(missing_ok=True)
        raise MediaError("no usable media")
    os.replace(partial, final)
    log.info("finalize %s: %d packets, %d pieces -> %s", spool_dir, out.packets, len(pieces), final)
    return Finalized(final, out.stats)


def _open(piece: Path) -> InputContainer | None:
    try:
        if piece.suffix == ".mp4":
            end = complete_mp4_prefix(piece)
            if end < piece.stat().st_size:
                # The mov demuxer refuses a file cut inside a moof: read only whole fragments.
                log.warning("finalize: %s is cut off after byte %d", piece.name, end)
                return av.open(_Prefix(piece, end), "r", format="mp4")
        return av.open(str(piece))
    except (av.FFmpegError, OSError) as exc:
        log.warning("finalize: skipping unreadable %s: %s", piece.name, exc)
        return None


def complete_mp4_prefix(path: Path) -> int:
    """Length of the leading whole top-level boxes, a moof counting only with its mdat."""
    size = path.stat().st_size
    good = offset = 0
    with path.open("rb") as file:
        while offset + 8 <= size:
            file.seek(offset)
            header = file.read(16)
            box_size, box_type = int.from_bytes(header[:4], "big"), header[4:8]
            if box_size == 1 and len(header) == 16:
                box_size = int.from_bytes(header[8:16], "big")
            if box_size < 8 or offset + box_size > size:
                break
            offset += box_size
            if box_type != b"moof":
                good = offset
    return good


class _Prefix(io.RawIOBase):
    """Read-only view of the first `end` bytes of a file (for a demuxer)."""

    def __init__(self, path: Path, end: int) -> None:
        self._file = path.open("rb")
        self._end = end

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        left = max(0, self._end - self._file.tell())
        return self._file.readinto(view[: min(len(view), left)])

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            return self._file.seek(self._end + offset)
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()
        super().close()


def _first_codecs(pieces: list[Path]) -> dict[str, str]:
    """Codec of the first audio and of the first video track found, by kind."""
    codecs: dict[str, str] = {}
    for piece in pieces:
        if (source := _open(piece)) is None:
            continue
        with source:
            for stream in source.streams:
                if stream.type in _RATES:
                    codecs.setdefault(stream.type, stream.codec_context.name)
    return codecs


def _add_streams(pieces: list[Path], out: _Output) -> None:
    """Output streams copied from the first piece that has each kind of track."""
    for piece in pieces:
        if (source := _open(piece)) is None:
            continue
        with source:
            for stream in source.streams:
                kind = stream.type
                if kind in _RATES and kind not in out.streams:
                    target = out.container.add_stream_from_template(stream, opaque=True)
                    target.time_base = Fraction(1, _RATES[kind])
                    out.streams[kind] = target
                    out.codecs[kind] = stream.codec_context.name


def _close(out: _Output) -> None:
    try:
        out.container.close()
    except av.FFmpegError as exc:
        if out.packets:
            raise MediaError(f"cannot write the recording: {exc}") from exc


def _copy_piece(piece: Path, out: _Output) -> None:
    if (source := _open(piece)) is None:
        return
    with source:
        routes = {s.index: _Route.of(s, out) for s in _map_streams(source, out)}
        size = piece.stat().st_size
        try:
            _copy_packets(source, routes, size, out)
        except av.FFmpegError as exc:
            log.warning("finalize: %s ends early (%s); keeping what was read", piece.name, exc)


@dataclass
class _Route:
    """Where packets of one source stream go, and how to read their time in microseconds."""

    kind: str
    target: Stream
    stats: TrackStats
    num: int
    den: int

    @classmethod
    def of(cls, stream: Stream, out: _Output) -> _Route:
        base = stream.time_base or Fraction(1, 1000)
        stats = out.stats.setdefault(stream.type, TrackStats())
        target = out.streams[stream.type]
        return cls(stream.type, target, stats, base.numerator * 1_000_000, base.denominator)


def _copy_packets(
    source: InputContainer, routes: dict[int, _Route], size: int, out: _Output
) -> None:
    """The hot loop: a few integer checks per packet; PyAV rescales timestamps in C."""
    last = out.last
    mux = out.container.mux
    for packet in source.demux(*(source.streams[i] for i in routes)):
        pts = packet.pts
        if pts is None:
            continue
        if packet.is_corrupt or (packet.pos or 0) + packet.size > size:
            log.warning("finalize: a piece is cut off; keeping what was read")
            return
        route = routes[packet.stream_index]
        dts = packet.dts
        micros = (pts if dts is None else dts) * route.num // route.den
        previous = last.get(route.kind)
        if previous is None:
            if route.kind == "video" and not packet.is_keyframe:
                continue  # a video track must start on a keyframe
        elif micros <= previous:
            continue  # overlapping pieces: keep timestamps increasing
        packet.stream = route.target
        try:
            mux(packet)
        except av.FFmpegError as exc:
            log.warning("finalize: dropped a %s packet: %s", route.kind, exc)
            continue
        last[route.kind] = micros
        start = pts * route.num // route.den
        route.stats.add(packet.size, start, start + (packet.duration or 0) * route.num // route.den)
        out.packets += 1


def _map_streams(source: InputContainer, out: _Output) -> list[Stream]:
    streams: list[Stream] = []
    for stream in source.streams:
        kind = stream.type
        if kind not in out.streams or any(s.type == kind for s in streams):
            continue
        codec = stream.codec_context.name
        if out.codecs[kind] != codec:
            log.warning(
                "finalize: skipping %s %s (recording has %s)", kind, codec, out.codecs[kind]
            )
            continue
        streams.append(stream)
    return streams

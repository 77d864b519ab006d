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
    packets: int = 0


def spool_pieces(spool_dir: Path) -> list[Path]:
    """The pieces of a spool dir in recording order."""
    found = [(int(m.group(1)), p) for p in spool_dir.iterdir() if (m := _PIECE.match(p.name))]
    return [path for _, path in sorted(found)]


def finalize(spool_dir: Path, out_dir: Path) -> Path:
    """Stream-copy all pieces (also truncated ones) into out_dir/recording.webm or .mp4.

    WebM gets Cues and Duration, MP4 its moov up front (+faststart). Raises
    MediaError("no usable media") if no piece holds a usable packet.
    """
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
    return final


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
        mapping = _map_streams(source, out)
        size = piece.stat().st_size
        try:
            for packet in source.demux(mapping):
                if packet.pts is None:
                    continue
                if packet.is_corrupt or (packet.pos or 0) + packet.size > size:
                    log.warning("finalize: %s is cut off; keeping what was read", piece.name)
                    break
                _copy_packet(packet, out)
        except av.FFmpegError as exc:
            log.warning("finalize: %s ends early (%s); keeping what was read", piece.name, exc)


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


def _copy_packet(packet: av.Packet[Stream], out: _Output) -> None:
    kind = packet.stream.type
    target = out.streams[kind]
    assert packet.time_base is not None and packet.pts is not None
    rate = _RATES[kind]
    pts = round(float(packet.pts * packet.time_base) * rate)
    dts = pts if packet.dts is None else round(float(packet.dts * packet.time_base) * rate)
    last = out.last.get(kind)
    if last is None and kind == "video" and not packet.is_keyframe:
        return  # a video track must start on a keyframe
    if last is not None and dts <= last:
        return  # overlapping pieces: keep timestamps increasing
    duration = round(float(packet.duration * packet.time_base) * rate) if packet.duration else 0
    packet.pts, packet.dts = pts, dts
    packet.duration = duration
    packet.time_base = Fraction(1, rate)
    packet.stream = target
    try:
        out.container.mux(packet)
    except av.FFmpegError as exc:
        log.warning("finalize: dropped a %s packet: %s", kind, exc)
        return
    out.last[kind] = dts
    out.packets += 1

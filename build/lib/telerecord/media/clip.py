"""A time range of a recording as its own file, cut at keyframes by stream copy."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer, OutputContainer
from av.stream import Stream

from telerecord.media.duration import container_span
from telerecord.media.errors import MediaError

log = logging.getLogger(__name__)

_EPSILON = 1e-6

_FORMATS = {".webm": ("webm", {}), ".mp4": ("mp4", {"movflags": "+faststart"})}


@dataclass
class ClipRange:
    """The range a clip really covers, in seconds from the recording start."""

    start: float
    duration: float


def make_clip(src: Path, out: Path, start: float, duration: float) -> ClipRange:
    """Copy [start, start + duration) of `src` into `out` without transcoding.

    The start moves back to the video keyframe at or before `start`; the end is cut
    at start + duration or the end of the recording. Timestamps of `out` start at 0.
    Raises ValueError for an empty or out-of-range request.
    """
    if out.suffix != src.suffix or src.suffix not in _FORMATS:
        raise ValueError(f"clip of {src.suffix} must be written as {src.suffix} (.webm or .mp4)")
    if duration <= 0 or start < 0:
        raise ValueError("clip needs start >= 0 and duration > 0")
    try:
        with av.open(str(src)) as source:
            first_ts, total = container_span(source)
            # Codec delay (Opus pre-skip) can make the first timestamp negative; the
            # recording still starts at 0 for the user.
            origin = max(0.0, first_ts)
            if start >= total:
                raise ValueError(f"clip start {start:g} s is beyond the end ({total:.3f} s)")
            end = origin + min(start + duration, total)
            fmt, options = _FORMATS[src.suffix]
            try:
                with av.open(str(out), "w", format=fmt, options=options) as target:
                    first = _copy_range(source, target, origin + start, end)
            except BaseException:
                out.unlink(missing_ok=True)  # never leave half a clip behind
                raise
    except av.FFmpegError as exc:
        raise MediaError(f"clip failed: {exc}") from exc
    result = ClipRange(start=max(0.0, first - origin), duration=end - first)
    log.info("clip %s: %.3f s from %.3f s", src.name, result.duration, result.start)
    return result


def _copy_range(source: InputContainer, target: OutputContainer, start: float, end: float) -> float:
    """Copy packets of [keyframe <= start, end) with timestamps moved to 0; return the cut."""
    streams = [s for s in source.streams if s.type in ("audio", "video")]
    if not streams:
        raise MediaError("no usable media")
    anchor = next((s for s in streams if s.type == "video"), streams[0])
    assert anchor.time_base is not None
    source.seek(max(0, int(start / anchor.time_base)), stream=anchor)
    # opaque=True copies the template's codec: a decoder such as libdav1d has no encoder.
    mapping = {s.index: target.add_stream_from_template(s, opaque=True) for s in streams}
    # The demuxer ends each stream with an empty flush packet without timestamps.
    packets = (p for p in source.demux(streams) if p.pts is not None and p.dts is not None)
    cut, pending = _find_cut(packets, anchor, start)
    ended: set[int] = set()
    for packet in itertools.chain(pending, packets):
        if _seconds(packet.dts, packet.time_base) >= end:
            ended.add(packet.stream.index)
            if len(ended) == len(streams):
                break
            continue
        if _seconds(packet.pts, packet.time_base) >= cut - _EPSILON:
            _mux(packet, cut, mapping[packet.stream.index], target)
    return cut


def _find_cut(
    packets: Iterator[av.Packet[Stream]], anchor: Stream, start: float
) -> tuple[float, list[av.Packet[Stream]]]:
    """Read up to the first anchor packet after `start`; return the cut time and the
    packets read from it on (a seek can land before the last keyframe at or before start)."""
    pending: list[av.Packet[Stream]] = []
    cut: float | None = None
    for packet in packets:
        pending.append(packet)
        if packet.stream is not anchor:
            continue
        at = _seconds(packet.pts, packet.time_base)
        if packet.is_keyframe and (at <= start + _EPSILON or cut is None):
            cut = at
            pending = [p for p in pending if _seconds(p.pts, p.time_base) >= at - _EPSILON]
        if cut is not None and at > start + _EPSILON:
            return cut, pending
    if cut is None:
        raise MediaError("no keyframe at or after the clip start")
    return cut, pending


def _mux(packet: av.Packet[Stream], cut: float, stream: Stream, target: OutputContainer) -> None:
    assert packet.pts is not None and packet.dts is not None and packet.time_base is not None
    shift = round(cut / packet.time_base)
    packet.pts -= shift
    packet.dts -= shift
    packet.stream = stream
    target.mux(packet)


def _seconds(value: int | None, time_base: Fraction | None) -> float:
    assert value is not None and time_base is not None
    return float(value * time_base)

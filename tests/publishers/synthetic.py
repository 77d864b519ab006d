"""Synthetic media tracks for the aiortc publisher: a moving test pattern and a tone.

Each track produces a fixed amount of media (paced in real time), counts what it
handed to the encoder, and then blocks until the sender is stopped.
"""

from __future__ import annotations

import array
import asyncio
import fractions
import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import av
from aiortc.mediastreams import MediaStreamTrack

VIDEO_CLOCK = 90000
AUDIO_RATE = 48000
AUDIO_SAMPLES = 960  # 20 ms, one Opus packet


@dataclass(frozen=True, slots=True)
class SizeChange:
    """From media time `at` (seconds) on, send frames of width x height."""

    at: float
    width: int
    height: int


class _PacedTrack(MediaStreamTrack):
    """Common pacing: frame n is released at start + n / rate; stops after `count` frames."""

    def __init__(self, rate: float, count: int) -> None:
        super().__init__()
        self.rate = rate
        self.count = count
        self.sent = 0
        self.done = asyncio.Event()
        self._start: float | None = None

    async def _next_index(self) -> int:
        if self.sent >= self.count:
            self.done.set()
            # Hold the sender here until the peer connection is closed (it cancels us).
            await asyncio.Future()
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self.sent / self.rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        index = self.sent
        self.sent += 1
        if self.sent >= self.count:
            self.done.set()
        return index


class PatternVideoTrack(_PacedTrack):
    """A moving gradient (so encoders have real work), sized per a change schedule."""

    kind = "video"

    def __init__(
        self, width: int, height: int, fps: float, duration: float, changes: Sequence[SizeChange]
    ) -> None:
        super().__init__(fps, max(1, round(fps * duration)))
        self._schedule = [SizeChange(0.0, width, height), *sorted(changes, key=lambda c: c.at)]
        self.sizes_sent: list[tuple[int, int]] = []

    def _size_at(self, seconds: float) -> tuple[int, int]:
        current = self._schedule[0]
        for change in self._schedule:
            if change.at <= seconds:
                current = change
        return current.width, current.height

    async def recv(self) -> av.VideoFrame:
        index = await self._next_index()
        width, height = self._size_at(index / self.rate)
        if not self.sizes_sent or self.sizes_sent[-1] != (width, height):
            self.sizes_sent.append((width, height))
        frame = pattern_frame(width, height, index)
        frame.pts = round(index * VIDEO_CLOCK / self.rate)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame


@functools.lru_cache(maxsize=4)
def _gradient(width: int, height: int) -> bytes:
    row = bytes(x % 256 for x in range(width))
    return b"".join(row[y % width :] + row[: y % width] for y in range(height))


def pattern_frame(width: int, height: int, index: int) -> av.VideoFrame:
    """Frame `index` of the moving test pattern (yuv420p, no timestamps set)."""
    frame = av.VideoFrame(width, height, "yuv420p")
    luma = _gradient(width, height)
    shift = (index * 4) % len(luma)
    y_plane, u_plane, v_plane = frame.planes
    # Plane rows may be padded: write row by row through the line size.
    _fill_plane(y_plane, luma[shift:] + luma[:shift], width, height)
    grey = bytes([128]) * ((width // 2) * (height // 2))
    _fill_plane(u_plane, grey, width // 2, height // 2)
    _fill_plane(v_plane, grey, width // 2, height // 2)
    return frame


def _fill_plane(plane: av.video.plane.VideoPlane, data: bytes, width: int, height: int) -> None:
    stride = plane.line_size
    if stride == width:
        plane.update(data)
        return
    padded = b"".join(
        data[y * width : (y + 1) * width] + bytes(stride - width) for y in range(height)
    )
    plane.update(padded)


@functools.lru_cache(maxsize=1)
def _tone_second() -> bytes:
    """One second of a 440 Hz stereo tone, s16 interleaved."""
    samples = array.array("h")
    for n in range(AUDIO_RATE):
        value = int(math.sin(2 * math.pi * 440.0 * n / AUDIO_RATE) * 8000)
        samples.extend((value, value))
    return samples.tobytes()


class ToneAudioTrack(_PacedTrack):
    """A 440 Hz stereo tone in 20 ms frames."""

    kind = "audio"

    def __init__(self, duration: float) -> None:
        rate = AUDIO_RATE / AUDIO_SAMPLES
        super().__init__(rate, max(1, round(rate * duration)))

    async def recv(self) -> av.AudioFrame:
        return tone_frame(await self._next_index())


def tone_frame(index: int) -> av.AudioFrame:
    """20 ms frame `index` of the tone (s16 stereo, 48 kHz, pts in samples)."""
    start = index * AUDIO_SAMPLES
    offset = (start % AUDIO_RATE) * 4  # 2 channels x 2 bytes
    frame = av.AudioFrame(format="s16", layout="stereo", samples=AUDIO_SAMPLES)
    frame.planes[0].update(_tone_second()[offset : offset + AUDIO_SAMPLES * 4])
    frame.sample_rate = AUDIO_RATE
    frame.pts = start
    frame.time_base = fractions.Fraction(1, AUDIO_RATE)
    return frame

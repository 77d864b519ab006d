"""Real encoded media for media tests: PyAV encoders (libvpx, libx264, libsvtav1, libopus)."""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from fractions import Fraction

import av

ENCODERS = {"VP8": "libvpx", "VP9": "libvpx-vp9", "H264": "libx264", "AV1": "libsvtav1"}


@dataclass(frozen=True)
class Coded:
    """One encoded frame and its presentation time in seconds."""

    data: bytes
    time: float
    keyframe: bool


def _video_options(codec: str) -> dict[str, str]:
    if codec == "H264":
        return {"preset": "ultrafast", "tune": "zerolatency", "bf": "0"}
    if codec == "AV1":
        return {"preset": "12"}
    return {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}


def _picture(width: int, height: int, n: int) -> av.VideoFrame:
    """A moving bar over a changing background, so every frame differs."""
    frame = av.VideoFrame(width, height, "yuv420p")
    luma = bytearray([(n * 7) % 256]) * (width * height)
    bar = max(1, width // 8)
    x0 = (n * 9) % max(1, width - bar)
    for row in range(height):
        luma[row * width + x0 : row * width + x0 + bar] = b"\xeb" * bar
    planes = [
        bytes(luma),
        bytes([90]) * (width * height // 4),
        bytes([160]) * (width * height // 4),
    ]
    for plane, data in zip(frame.planes, planes, strict=True):
        line = plane.line_size
        w = plane.width
        if line == w:
            plane.update(data)
        else:
            padded = b"".join(
                data[r * w : (r + 1) * w].ljust(line, b"\0") for r in range(plane.height)
            )
            plane.update(padded)
    return frame


def _tone(n: int) -> av.AudioFrame:
    frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
    samples = array("h")
    for i in range(960):
        value = int(math.sin(2 * math.pi * 440 * (n * 960 + i) / 48000) * 8000)
        samples.extend((value, value))
    frame.planes[0].update(samples.tobytes())
    return frame


def encode_video(
    codec: str,
    sizes: list[tuple[int, int, int]],
    *,
    fps: int = 30,
    gop: int = 30,
    start: float = 0.0,
) -> list[Coded]:
    """Encode (width, height, frame count) runs back to back; each run starts on a keyframe."""
    out: list[Coded] = []
    index = 0
    for width, height, count in sizes:
        enc = av.CodecContext.create(ENCODERS[codec], "w")
        enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
        enc.time_base = Fraction(1, fps)
        enc.framerate = Fraction(fps, 1)
        enc.gop_size = gop
        enc.bit_rate = 300_000
        enc.options = _video_options(codec)
        frames = []
        for n in range(count):
            frame = _picture(width, height, n)
            frame.pts = index + n
            frame.time_base = enc.time_base
            frames.append(frame)
        packets = [p for f in frames for p in enc.encode(f)] + list(enc.encode(None))
        for packet in packets:
            assert packet.pts is not None
            out.append(Coded(bytes(packet), start + packet.pts / fps, packet.is_keyframe))
        index += count
    return out


def encode_opus(seconds: float, *, start: float = 0.0) -> list[Coded]:
    """20 ms stereo Opus packets of a sine tone."""
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate = 48000
    enc.layout = "stereo"
    enc.format = "s16"
    enc.bit_rate = 64000
    enc.time_base = Fraction(1, 48000)
    count = round(seconds / 0.02)
    out: list[Coded] = []
    for n in range(count):
        frame = _tone(n)
        frame.sample_rate = 48000
        frame.pts = n * 960
        frame.time_base = Fraction(1, 48000)
        for packet in enc.encode(frame):
            out.append(Coded(bytes(packet), start + len(out) * 0.02, True))
    for packet in enc.encode(None):
        out.append(Coded(bytes(packet), start + len(out) * 0.02, True))
    return out[:count]

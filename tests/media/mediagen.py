"""Real encoded media for media tests: PyAV encoders (libvpx, libx264, libsvtav1, libopus)."""

from __future__ import annotations

import functools
import math
from array import array
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import av
from av.video.codeccontext import VideoCodecContext

from telerecord.media.frames import EncodedFrame

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
    if codec == "AV1":  # low delay: no frame reordering, as in WebRTC
        return {"preset": "12", "svtav1-params": "pred-struct=1"}
    return {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}


def _picture(width: int, height: int, n: int) -> av.VideoFrame:
    """A moving bar over a changing background, so every frame differs."""
    frame = av.VideoFrame(width, height, "yuv420p")
    background = bytes([(n * 7) % 256])
    bar = max(1, width // 8)
    x0 = (n * 9) % max(1, width - bar)
    luma = (background * x0 + b"\xeb" * bar + background * (width - x0 - bar)) * height
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
    return list(_encode_video(codec, tuple(sizes), fps, gop, start))


@functools.cache
def _encode_video(
    codec: str, sizes: tuple[tuple[int, int, int], ...], fps: int, gop: int, start: float
) -> tuple[Coded, ...]:
    out: list[Coded] = []
    index = 0
    for width, height, count in sizes:
        enc = cast(VideoCodecContext, av.CodecContext.create(ENCODERS[codec], "w"))
        enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
        enc.time_base = Fraction(1, fps)
        enc.framerate = Fraction(fps, 1)
        enc.gop_size = gop
        if codec != "AV1":  # SVT-AV1 low delay takes CRF, not a VBR target
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
    return tuple(out)


def encode_opus(seconds: float, *, start: float = 0.0) -> list[Coded]:
    """20 ms stereo Opus packets of a sine tone."""
    return list(_encode_opus(seconds, start))


@functools.cache
def _encode_opus(seconds: float, start: float) -> tuple[Coded, ...]:
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
    return tuple(out[:count])


def as_frames(
    kind: str,
    codec: str,
    coded: list[Coded],
    *,
    t0: float = 1000.0,
    delay: float = 0.0,
    rtp_base: int = 123_456,
    ntp0: float | None = None,
    sr_after: float = 0.0,
) -> list[EncodedFrame]:
    """EncodedFrames as a tap would hand them out.

    `delay`: how late this track arrives (arrival = t0 + time + delay). `ntp0`: sender wall
    clock at media time 0 (None = no sender reports); wall clocks start at media time sr_after.
    """
    rate = 90000 if kind == "video" else 48000
    frames = []
    for item in coded:
        wallclock = None if ntp0 is None or item.time < sr_after else ntp0 + item.time
        frames.append(
            EncodedFrame(
                kind="video" if kind == "video" else "audio",
                codec=codec,
                data=item.data,
                rtp_timestamp=rtp_base + round(item.time * rate),
                clock_rate=rate,
                keyframe=item.keyframe,
                arrival=t0 + item.time + delay,
                wallclock=wallclock,
            )
        )
    return frames


def by_arrival(*tracks: list[EncodedFrame]) -> list[EncodedFrame]:
    """Interleave tracks in arrival order (stable for equal arrivals)."""
    return sorted((f for track in tracks for f in track), key=lambda f: f.arrival)


@dataclass
class Decoded:
    """What a reopened file holds, per kind ("audio"/"video")."""

    format: str
    duration: float
    codecs: dict[str, str]
    times: dict[str, list[float]]  # packet pts in seconds
    decoded: dict[str, int]  # frames (video) or packets (audio) that decoded
    sizes: list[tuple[int, int]]  # video frame sizes in order


def decode_all(path: object) -> Decoded:
    """Reopen a file with PyAV and decode every packet; decoding errors raise."""
    with av.open(str(path)) as container:
        streams = [s for s in container.streams if s.type in ("audio", "video")]
        result = Decoded(
            format=container.format.name,
            duration=(container.duration or 0) / 1_000_000,
            codecs={s.type: s.codec_context.name for s in streams},
            times={s.type: [] for s in streams},
            decoded={s.type: 0 for s in streams},
            sizes=[],
        )
        for packet in container.demux(streams):  # ends with empty packets that flush decoders
            kind = packet.stream.type
            if packet.pts is not None and packet.time_base is not None:
                result.times[kind].append(float(packet.pts * packet.time_base))
            for frame in packet.decode():
                result.decoded[kind] += 1
                if isinstance(frame, av.VideoFrame):
                    result.sizes.append((frame.width, frame.height))
    return result

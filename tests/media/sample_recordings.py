"""Finalized-recording-like files (WebM/MP4) encoded with PyAV, for output tests."""

from __future__ import annotations

import math
from array import array
from fractions import Fraction
from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream
from PIL import Image, ImageChops, ImageDraw

ENCODERS = {"vp8": "libvpx", "vp9": "libvpx-vp9", "av1": "libsvtav1", "h264": "libx264"}
_OPTIONS = {
    "libvpx": {"deadline": "realtime", "cpu-used": "16", "lag-in-frames": "0"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"},
    "libsvtav1": {"preset": "12"},
    # WebRTC H.264 has no B-frames.
    "libx264": {"preset": "ultrafast", "tune": "zerolatency", "bf": "0"},
}


def write_recording(
    path: Path,
    *,
    video: str | None = "vp8",
    seconds: float = 20.0,
    size: tuple[int, int] = (640, 360),
    fps: int = 30,
    keyframe_seconds: float = 2.0,
) -> Path:
    """Write `seconds` of moving picture (+ a 440 Hz Opus tone) like media/finalize makes:
    WebM (VP8/VP9/AV1 or audio only) or MP4 with faststart (H.264), by path suffix."""
    options = {"movflags": "+faststart"} if path.suffix == ".mp4" else {}
    with av.open(str(path), "w", options=options) as out:
        vstream = _video_stream(out, video, size, fps, keyframe_seconds) if video else None
        astream = out.add_stream("libopus", rate=48000, layout="stereo")
        astream.bit_rate = 64000
        frames = round(seconds * fps)
        base = _background(size)
        audio_samples = 0
        for n in range(frames):
            if vstream is not None:
                _mux_all(out, vstream.encode(_picture(base, n, fps)))
            while audio_samples < (n + 1) * 48000 // fps:
                _mux_all(out, astream.encode(_tone(audio_samples)))
                audio_samples += 960
        for stream in (vstream, astream):
            if stream is not None:
                _mux_all(out, stream.encode(None))
    return path


def _video_stream(
    out: OutputContainer, codec: str, size: tuple[int, int], fps: int, keyframe_seconds: float
) -> VideoStream:
    stream = out.add_stream(ENCODERS[codec], rate=fps)
    assert isinstance(stream, VideoStream)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.bit_rate = 600_000
    stream.codec_context.gop_size = round(keyframe_seconds * fps)
    stream.codec_context.options = _OPTIONS[ENCODERS[codec]]
    return stream


def _background(size: tuple[int, int]) -> Image.Image:
    ramp = Image.linear_gradient("L").resize(size)
    return Image.merge(
        "RGB", (ramp, ramp.transpose(Image.Transpose.ROTATE_90).resize(size), ramp.rotate(180))
    )


def _picture(base: Image.Image, n: int, fps: int) -> av.VideoFrame:
    image = ImageChops.offset(base, n * 4, n * 2)
    ImageDraw.Draw(image).text((8, 8), f"{n / fps:.2f}", fill=(255, 255, 255))
    rgb: av.VideoFrame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
    frame = rgb.reformat(format="yuv420p")
    frame.pts, frame.time_base = n, Fraction(1, fps)
    return frame


def _one_second_of_tone() -> bytes:
    # 440 Hz fits exactly 440 times in one second, so the second repeats seamlessly.
    samples = array("h")
    for i in range(48000):
        value = int(6000 * math.sin(2 * math.pi * 440 * i / 48000))
        samples.extend((value, value))
    return samples.tobytes()


_TONE = _one_second_of_tone()


def _tone(first_sample: int) -> av.AudioFrame:
    frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
    offset = (first_sample % 48000) * 4  # 2 channels x 2 bytes
    frame.planes[0].update((_TONE + _TONE[:3840])[offset : offset + 3840])
    frame.sample_rate, frame.pts, frame.time_base = 48000, first_sample, Fraction(1, 48000)
    return frame


def _mux_all(
    out: OutputContainer, packets: list[av.Packet[VideoStream]] | list[av.Packet[AudioStream]]
) -> None:
    for packet in packets:
        out.mux(packet)

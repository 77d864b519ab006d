"""A real WHIP publisher using FFmpeg's own WHIP muxer (inside PyAV): H.264 + Opus.

FFmpeg's default DTLS certificate is ECDSA P-224, which aiortc's OpenSSL refuses
(illegal_parameter), so an ECDSA P-256 certificate generated here is passed to the muxer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import fractions
import json
import logging
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import av
import av.logging
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.publishers.synthetic import AUDIO_RATE, AUDIO_SAMPLES, pattern_frame, tone_frame

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
CHILD_ALLOWANCE = 20.0  # interpreter start, ICE/DTLS and flush on a loaded 2-core machine


@dataclass(frozen=True, slots=True)
class FfmpegResult:
    """What was handed to FFmpeg's WHIP muxer."""

    video_frames: int
    audio_frames: int
    span: float  # media seconds of video sent


def write_p256_certificate(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed ECDSA P-256 certificate and key (PEM); returns (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "whip-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _add_streams(
    container: av.container.OutputContainer, width: int, height: int, fps: int
) -> tuple[av.VideoStream, av.AudioStream]:
    video = container.add_stream(
        "libx264",
        rate=fps,
        options={"profile": "baseline", "tune": "zerolatency", "preset": "ultrafast"},
    )
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    video.codec_context.gop_size = fps  # a keyframe every second
    video.codec_context.max_b_frames = 0
    video.time_base = fractions.Fraction(1, fps)
    audio = container.add_stream("libopus", rate=AUDIO_RATE, layout="stereo")
    audio.time_base = fractions.Fraction(1, AUDIO_RATE)
    return video, audio


def _push(
    container: av.container.OutputContainer, width: int, height: int, fps: int, duration: float
) -> FfmpegResult:
    video, audio = _add_streams(container, width, height, fps)
    video_count, audio_count = round(fps * duration), round(duration * AUDIO_RATE / AUDIO_SAMPLES)
    container.start_encoding()  # the WHIP exchange, ICE and DTLS happen here
    start = time.monotonic()
    sent_video = sent_audio = 0
    while sent_video < video_count or sent_audio < audio_count:
        # Interleave by media time and pace in real time, like a live source.
        video_due = sent_video / fps if sent_video < video_count else float("inf")
        audio_due = (
            sent_audio * AUDIO_SAMPLES / AUDIO_RATE if sent_audio < audio_count else float("inf")
        )
        due = min(video_due, audio_due)
        delay = start + due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if video_due <= audio_due:
            frame = pattern_frame(width, height, sent_video)
            # Not video.time_base: the muxer changes it to 1/90000 when it writes the header.
            frame.pts, frame.time_base = sent_video, fractions.Fraction(1, fps)
            container.mux(video.encode(frame))
            sent_video += 1
        else:
            container.mux(audio.encode(tone_frame(sent_audio)))
            sent_audio += 1
    container.mux(video.encode(None))
    container.mux(audio.encode(None))
    return FfmpegResult(sent_video, sent_audio, sent_video / fps)


def _publish_blocking(
    endpoint: str,
    token: str | None,
    certificate: tuple[Path, Path],
    media: tuple[int, int, int, float],
) -> FfmpegResult:
    cert, key = certificate
    options = {"cert_file": str(cert), "key_file": str(key), "handshake_timeout": "10000"}
    if token is not None:
        options["authorization"] = token
    # Closing the container flushes and makes the muxer send DELETE.
    with av.open(endpoint, "w", format="whip", options=options) as container:
        return _push(container, *media)


async def publish_ffmpeg(
    endpoint: str,
    token: str | None,
    *,
    width: int = 640,
    height: int = 480,
    fps: int = 30,
    duration: float = 3.0,
) -> FfmpegResult:
    """Push `duration` seconds of H.264 (libx264 baseline) + Opus through FFmpeg's WHIP muxer.

    The muxer POSTs the offer (Bearer token), does ICE/DTLS and sends DELETE on close.
    It runs in a child Python process: PyAV holds the GIL while the muxer does its HTTP
    exchange, which would deadlock a WHIP server running in this process.
    Raises RuntimeError (with FFmpeg's log tail) if the child fails; the child is always
    killed before returning.
    """
    with tempfile.TemporaryDirectory(prefix="whip-ffmpeg-") as tmp:
        cert, key = write_p256_certificate(Path(tmp))
        media = [str(width), str(height), str(fps), str(duration)]
        output = await _run_child([*media, endpoint, token or "", str(cert), str(key)], duration)
    result = FfmpegResult(**json.loads(output))
    logger.info("ffmpeg published %s: %s", endpoint, result)
    return result


async def _run_child(args: list[str], duration: float) -> bytes:
    with tempfile.TemporaryFile() as log:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            *args,
            cwd=REPO_ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
        try:
            output, _ = await asyncio.wait_for(child.communicate(), duration + CHILD_ALLOWANCE)
        finally:
            if child.returncode is None:
                os.killpg(child.pid, signal.SIGKILL)
                await child.wait()
        if child.returncode != 0:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"ffmpeg WHIP publisher exited {child.returncode}: {tail}")
    return output


def main(argv: list[str]) -> None:
    """Child entry point: width height fps duration endpoint token cert key; prints JSON."""
    width, height, fps, duration, endpoint, token, cert, key = argv
    av.logging.restore_default_callback()  # FFmpeg's own errors go to stderr (the log)
    av.logging.set_libav_level(av.logging.ERROR)
    media = (int(width), int(height), int(fps), float(duration))
    result = _publish_blocking(endpoint, token or None, (Path(cert), Path(key)), media)
    print(json.dumps(dataclasses.asdict(result)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

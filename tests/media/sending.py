"""Let aiortc peers in tests send a codec aiortc cannot encode, and catch any receiver decoding."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import av
import pytest
from aiortc.codecs.base import Encoder
from av.video.codeccontext import VideoCodecContext


def use_test_encoder(
    monkeypatch: pytest.MonkeyPatch, codec_name: str, make: Callable[[], Encoder]
) -> list[object]:
    """Senders encode ``codec_name`` with ``make()``; returns the receiver's decoder lookups
    (each also fails the test: the tap must never decode)."""
    original = getattr(aiortc.rtcrtpsender, "get_encoder")  # noqa: B009
    decoders: list[object] = []

    def get_encoder(codec: Any) -> Encoder:
        return make() if codec.name == codec_name else original(codec)

    def get_decoder(codec: object) -> object:
        decoders.append(codec)
        raise AssertionError("aiortc must not decode")

    monkeypatch.setattr(aiortc.rtcrtpsender, "get_encoder", get_encoder)
    monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", get_decoder)
    return decoders


class PyAvEncoder(Encoder):
    """An aiortc sender-side encoder: a PyAV encoder plus a test packetizer (subclasses)."""

    encoder = ""
    options: dict[str, str] = {}  # noqa: RUF012 - read-only class constant

    def __init__(self) -> None:
        self._context: VideoCodecContext | None = None
        self.count = 0

    def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        if self._context is None:
            self._context = av.CodecContext.create(self.encoder, "w")
            self._context.width, self._context.height = frame.width, frame.height
            self._context.pix_fmt, self._context.time_base = "yuv420p", Fraction(1, 30)
            self._context.framerate = Fraction(30, 1)
            self._context.options = dict(self.options)
        timestamp = int(frame.pts)
        frame.pts, frame.time_base = self.count, Fraction(1, 30)
        if force_keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        self.count += 1
        payloads: list[bytes] = []
        for packet in self._context.encode(frame):
            payloads += self.packetize(bytes(packet), packet.is_keyframe)
        return payloads, timestamp

    def packetize(self, data: bytes, keyframe: bool) -> list[bytes]:
        raise NotImplementedError

    def pack(self, packet: Any) -> tuple[list[bytes], int]:
        raise NotImplementedError

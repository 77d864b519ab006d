"""Let aiortc peers in tests send a codec aiortc cannot encode, and catch any receiver decoding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import pytest
from aiortc.codecs.base import Encoder


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

"""The unit that flows from the passthrough tap to the recorder: one encoded frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One encoded audio or video frame, exactly as the publisher sent it."""

    kind: Literal["audio", "video"]
    codec: str
    data: bytes
    rtp_timestamp: int
    clock_rate: int
    keyframe: bool
    arrival: float
    wallclock: float | None

"""Which frames may be written: video from a keyframe on, audio once the video has started.

Audio that arrives before the first video keyframe is dropped so that the file starts with
both tracks together, unless no video frame shows up within AUDIO_ONLY_AFTER seconds of the
first audio frame: then the stream is treated as audio-only, and the audio held back while
waiting is released (`Admission.release_held`) so an audio-only file loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AUDIO_ONLY_AFTER = 1.5
KEYFRAME_REQUEST_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class Admission:
    write: bool
    request_keyframe: bool = False
    hold: bool = False  # audio waiting for the start decision: keep it for now
    release_held: bool = False  # audio-only decided: write the held audio first


class KeyframeGate:
    """Per-segment start gate; `admit` is called for every frame in arrival order."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A new segment (reconnect): wait for a keyframe again before writing anything."""
        self._started = False
        self._video_running = False
        self._video_seen = False
        self._first_audio: float | None = None
        self._last_request: float | None = None

    def wait_for_keyframe(self) -> None:
        """Video must restart on a keyframe (after a pause or lost frames); audio keeps flowing."""
        self._video_running = False
        self._last_request = None

    def admit(self, kind: Literal["audio", "video"], keyframe: bool, now: float) -> Admission:
        if kind == "video":
            return self._admit_video(keyframe, now)
        if self._started:
            return Admission(True)
        if self._first_audio is None:
            self._first_audio = now
        if not self._video_seen and now - self._first_audio >= AUDIO_ONLY_AFTER:
            self._started = True  # audio-only stream
            return Admission(True, release_held=True)
        return Admission(False, hold=not self._video_seen)

    def _admit_video(self, keyframe: bool, now: float) -> Admission:
        self._video_seen = True
        if self._video_running:
            return Admission(True)
        if keyframe:
            self._video_running = self._started = True
            return Admission(True)
        due = self._last_request is None or now - self._last_request >= KEYFRAME_REQUEST_INTERVAL
        if due:
            self._last_request = now
        return Admission(False, request_keyframe=due)

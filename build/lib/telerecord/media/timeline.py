"""One shared recording timeline (seconds) for all tracks of a recording.

Each track's RTP timestamps are first mapped to local monotonic time by arrival (the first
frame's arrival anchors the track). Once RTCP sender reports give a frame's sender wall
clock, the track's mapping slews, at most `SLEW` seconds per second of media, towards
"wall clock + one sender-to-local offset shared by all tracks", which is what keeps audio
and video in sync even if one of them arrives late. Slewing instead of jumping keeps every
track's timestamps strictly increasing.

Pauses are closed up: the first frame written after a resume follows the last one written
before the pause by PAUSE_GAP, whatever the wall clock did meanwhile. A reconnect
(`begin_segment`) brings new RTP clocks and new sender reports; its first written frame is
placed RECONNECT_GAP seconds after the last frame written before: the real-time gap of a
reconnect is closed up to a short pause so the file plays straight through.
"""

from __future__ import annotations

from typing import Literal

from telerecord.media.frames import EncodedFrame

Kind = Literal["audio", "video"]

SLEW = 0.1
RECONNECT_GAP = 0.1
PAUSE_GAP = 0.02
MIN_STEP = 0.001  # WebM stores milliseconds: two frames of a track never share one


class TrackClock:
    """RTP timestamp -> local monotonic seconds for one track in one segment."""

    __slots__ = ("_adjust", "_base_arrival", "_base_rtp", "_clock_rate", "_last_rtp", "drift")

    def __init__(self, frame: EncodedFrame) -> None:
        self._base_rtp = frame.rtp_timestamp
        self._base_arrival = frame.arrival
        self._clock_rate = frame.clock_rate
        self._last_rtp = frame.rtp_timestamp
        self._adjust = 0.0
        self.drift: float | None = None  # arrival mapping minus sender-report mapping, seconds

    def local_time(
        self, frame: EncodedFrame, sender_offset: float | None, *, may_jump: bool
    ) -> float:
        """Local time of `frame` (frames in RTP order); `may_jump` while nothing is written."""
        by_arrival = self._base_arrival + (frame.rtp_timestamp - self._base_rtp) / self._clock_rate
        media_step = max(0, frame.rtp_timestamp - self._last_rtp) / self._clock_rate
        self._last_rtp = max(self._last_rtp, frame.rtp_timestamp)
        if frame.wallclock is not None and sender_offset is not None:
            target = frame.wallclock + sender_offset - by_arrival
            self.drift = -target
            limit = float("inf") if may_jump else SLEW * media_step
            self._adjust += max(-limit, min(limit, target - self._adjust))
        return by_arrival + self._adjust


class RecordingTimeline:
    """Maps frames of all tracks, across pauses and reconnects, to recording seconds."""

    def __init__(self) -> None:
        self._clocks: dict[Kind, TrackClock] = {}
        self._sender_offset: float | None = None
        self._base = 0.0  # recording time of this segment's first written frame
        self._origin: float | None = None  # its local time
        self._paused = 0.0  # local seconds left out (pauses) since the origin
        self._pause_from: float | None = None  # local time of the last frame before a pause
        self._last_local: float | None = None
        self._last: dict[Kind, float] = {}
        self._written: set[Kind] = set()  # tracks written in this segment
        self._drift: dict[Kind, float] = {}

    def local_time(self, frame: EncodedFrame) -> float:
        """Local monotonic time of a frame (updates the track's clock)."""
        if frame.wallclock is not None and self._sender_offset is None:
            self._sender_offset = frame.arrival - frame.wallclock
        clock = self._clocks.get(frame.kind)
        if clock is None:
            clock = self._clocks[frame.kind] = TrackClock(frame)
        may_jump = frame.kind not in self._written  # nothing of this track written yet
        local = clock.local_time(frame, self._sender_offset, may_jump=may_jump)
        if clock.drift is not None:
            self._drift[frame.kind] = clock.drift
        return local

    def to_recording(self, kind: Kind, local: float) -> float:
        """Recording time for a frame that will be written; strictly increasing per track."""
        if self._origin is None:
            self._origin = local
        if self._pause_from is not None:
            self._paused += max(0.0, local - self._pause_from - PAUSE_GAP)
            self._pause_from = None
        self._last_local = local if self._last_local is None else max(self._last_local, local)
        time = max(self._base, self._base + local - self._origin - self._paused)
        last = self._last.get(kind)
        if last is not None and time < last + MIN_STEP:
            time = last + MIN_STEP
        self._last[kind] = time
        self._written.add(kind)
        return time

    def pause(self) -> None:
        """Frames are left out from now on; the next written frame closes the gap."""
        if self._pause_from is None and self._last_local is not None and self._origin is not None:
            self._pause_from = self._last_local

    def begin_segment(self) -> None:
        """New RTP clocks and sender reports; the next written frame continues the timeline."""
        self._clocks.clear()
        self._sender_offset = None
        if self._last:
            self._base = max(self._last.values()) + RECONNECT_GAP
        self._origin = None
        self._paused = 0.0
        self._pause_from = None
        self._last_local = None
        self._written.clear()

    @property
    def av_drift_ms(self) -> float | None:
        """How much later audio arrives than video, relative to their capture times (ms).

        Each track's arrival-based mapping minus its sender-report mapping, audio minus video;
        None until both tracks have had sender reports.
        """
        if "audio" not in self._drift or "video" not in self._drift:
            return None
        return (self._drift["audio"] - self._drift["video"]) * 1000.0

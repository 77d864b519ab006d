"""RecordingTimeline / TrackClock: arrival mapping, sender-report slewing, pauses, reconnects."""

from __future__ import annotations

import itertools

import pytest

from telerecord.media.frames import EncodedFrame
from telerecord.media.timeline import (
    MIN_STEP,
    PAUSE_GAP,
    RECONNECT_GAP,
    SLEW,
    RecordingTimeline,
)


def frame(
    kind: str, t: float, *, delay: float = 0.0, ntp: float | None = None, jitter: float = 0.0
) -> EncodedFrame:
    rate = 90000 if kind == "video" else 48000
    return EncodedFrame(
        kind="video" if kind == "video" else "audio",
        codec="VP8" if kind == "video" else "opus",
        data=b"",
        rtp_timestamp=5000 + round(t * rate),
        clock_rate=rate,
        keyframe=True,
        arrival=100.0 + t + delay + jitter,
        wallclock=None if ntp is None else ntp + t,
    )


def place(timeline: RecordingTimeline, f: EncodedFrame) -> float:
    return timeline.to_recording(f.kind, timeline.local_time(f))


def test_arrival_mapping_follows_rtp_not_jitter() -> None:
    timeline = RecordingTimeline()
    times = [place(timeline, frame("video", n / 30, jitter=0.03 * (n % 3))) for n in range(30)]
    assert times == pytest.approx([n / 30 for n in range(30)])


def test_timestamps_stay_strictly_increasing_per_track() -> None:
    timeline = RecordingTimeline()
    first = place(timeline, frame("video", 0.0))
    same = place(timeline, frame("video", 0.0))  # repeated RTP timestamp
    assert same == pytest.approx(first + MIN_STEP)


def test_sender_reports_slew_late_audio_into_sync_without_going_backwards() -> None:
    timeline = RecordingTimeline()
    audio: list[float] = []
    video: list[float] = []
    for n in range(400):  # 8 s; sender reports from 1 s on; audio arrives 200 ms late
        t = n * 0.02
        ntp = 1.7e9 if t >= 1.0 else None
        audio.append(place(timeline, frame("audio", t, delay=0.2, ntp=ntp)))
        if n % 2 == 0:
            video.append(place(timeline, frame("video", t, ntp=ntp)))
    steps = [b - a for a, b in itertools.pairwise(audio)]
    assert min(steps) >= 0.02 * (1 - SLEW) - 1e-9  # slewed, never a jump backwards
    assert max(steps) <= 0.02 * (1 + SLEW) + 1e-9
    assert audio[-1] - video[-1] == pytest.approx(0.02, abs=1e-6)  # same capture -> same time
    assert timeline.av_drift_ms == pytest.approx(200.0)


def test_sender_reports_from_the_start_need_no_slewing() -> None:
    timeline = RecordingTimeline()
    v = place(timeline, frame("video", 0.0, ntp=1.7e9))
    a = place(timeline, frame("audio", 0.0, delay=0.3, ntp=1.7e9))
    assert a == pytest.approx(v)
    assert timeline.av_drift_ms == pytest.approx(300.0)


def test_no_sender_reports_no_drift() -> None:
    timeline = RecordingTimeline()
    place(timeline, frame("video", 0.0))
    place(timeline, frame("audio", 0.0))
    assert timeline.av_drift_ms is None


def test_pause_is_closed_up() -> None:
    timeline = RecordingTimeline()
    for n in range(50):
        last = place(timeline, frame("audio", n * 0.02))
    timeline.pause()
    resumed = place(timeline, frame("audio", 5.0))  # 4 s later
    assert resumed == pytest.approx(last + PAUSE_GAP)
    assert place(timeline, frame("audio", 5.02)) == pytest.approx(resumed + 0.02)


def test_reconnect_continues_after_a_short_gap() -> None:
    timeline = RecordingTimeline()
    for n in range(50):
        last = place(timeline, frame("video", n * 0.02))
    timeline.begin_segment()
    later = EncodedFrame("video", "VP8", b"", 77, 90000, True, 500.0, None)  # new RTP clock
    assert place(timeline, later) == pytest.approx(last + RECONNECT_GAP)

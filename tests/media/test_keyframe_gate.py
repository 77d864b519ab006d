"""KeyframeGate: start on a keyframe, audio with it, audio-only after a while."""

from __future__ import annotations

from telerecord.media.keyframe_gate import AUDIO_ONLY_AFTER, Admission, KeyframeGate


def test_video_waits_for_a_keyframe_and_asks_once_a_second() -> None:
    gate = KeyframeGate()
    decisions = [gate.admit("video", False, 10.0 + n / 30) for n in range(61)]
    assert not any(d.write for d in decisions)
    assert [n for n, d in enumerate(decisions) if d.request_keyframe] == [0, 30, 60]
    assert gate.admit("video", True, 12.1) == Admission(True)
    assert gate.admit("video", False, 12.2) == Admission(True)


def test_audio_before_the_first_keyframe_is_dropped() -> None:
    gate = KeyframeGate()
    assert gate.admit("audio", True, 0.0) == Admission(False, hold=True)
    assert not gate.admit("video", False, 0.01).write
    assert gate.admit("audio", True, 0.02) == Admission(False)  # video exists: no holding
    assert gate.admit("audio", True, 5.0) == Admission(False)  # never audio-only now
    assert gate.admit("video", True, 5.01).write
    assert gate.admit("audio", True, 5.02).write


def test_audio_only_after_a_while_without_video() -> None:
    gate = KeyframeGate()
    assert gate.admit("audio", True, 0.0).hold
    assert gate.admit("audio", True, AUDIO_ONLY_AFTER - 0.01).hold
    assert gate.admit("audio", True, AUDIO_ONLY_AFTER) == Admission(True, release_held=True)
    assert gate.admit("audio", True, AUDIO_ONLY_AFTER + 0.02) == Admission(True)
    # Video joining later still starts on a keyframe.
    assert gate.admit("video", False, 3.0).request_keyframe
    assert gate.admit("video", True, 3.1).write


def test_wait_for_keyframe_keeps_audio_flowing_and_reset_starts_over() -> None:
    gate = KeyframeGate()
    gate.admit("video", True, 0.0)
    gate.wait_for_keyframe()
    assert gate.admit("audio", True, 0.1).write
    assert gate.admit("video", False, 0.1) == Admission(False, request_keyframe=True)
    gate.reset()
    assert not gate.admit("audio", True, 0.2).write

"""Sequence unwrapping, reorder buffer, NACK bookkeeping and the per-SSRC pipeline (no network)."""

from __future__ import annotations

from telerecord.media.frames import EncodedFrame
from telerecord.media.reorder import (
    RESYNC_AFTER_LATE,
    NackTracker,
    ReorderBuffer,
    SequenceUnwrapper,
)
from telerecord.media.rtp_stream import RtpStream


def test_sequence_unwrapper_across_wrap() -> None:
    unwrap = SequenceUnwrapper()
    raw = [65533, 65534, 65535, 0, 1, 65535, 2]
    assert [unwrap.unwrap(s) for s in raw] == [65533, 65534, 65535, 65536, 65537, 65535, 65538]


def test_sequence_unwrapper_many_cycles() -> None:
    unwrap = SequenceUnwrapper()
    values = [unwrap.unwrap((i * 1000) & 0xFFFF) for i in range(300)]
    assert values == [i * 1000 for i in range(300)]


def test_reorder_in_order_passes_straight_through() -> None:
    buf: ReorderBuffer[str] = ReorderBuffer(max_delay=0.5, max_packets=100)
    assert buf.push(10, "a", 0.0) == [(10, "a")]
    assert buf.push(11, "b", 0.0) == [(11, "b")]
    assert buf.held == 0


def test_reorder_swapped_packets() -> None:
    buf: ReorderBuffer[str] = ReorderBuffer(max_delay=0.5, max_packets=100)
    buf.push(1, "a", 0.0)
    assert buf.push(3, "c", 0.01) == []
    assert buf.push(2, "b", 0.02) == [(2, "b"), (3, "c")]
    assert buf.skipped == 0


def test_reorder_gives_up_gap_after_max_delay() -> None:
    buf: ReorderBuffer[str] = ReorderBuffer(max_delay=0.5, max_packets=100)
    buf.push(1, "a", 0.0)
    buf.push(4, "d", 0.1)
    buf.push(5, "e", 0.2)
    assert buf.expire(0.5) == []
    assert buf.expire(0.61) == [(4, "d"), (5, "e")]
    assert buf.skipped == 2
    assert buf.push(2, "late", 0.7) == []  # its gap was already given up
    assert buf.late == 1


def test_reorder_gives_up_when_full() -> None:
    buf: ReorderBuffer[int] = ReorderBuffer(max_delay=10.0, max_packets=3)
    buf.push(0, 0, 0.0)
    for seq in (2, 3, 4):
        assert buf.push(seq, seq, 0.0) == []
    assert buf.push(5, 5, 0.0) == [(2, 2), (3, 3), (4, 4), (5, 5)]
    assert buf.skipped == 1


def test_reorder_duplicate_dropped() -> None:
    buf: ReorderBuffer[str] = ReorderBuffer(max_delay=0.5, max_packets=100)
    buf.push(1, "a", 0.0)
    buf.push(3, "c", 0.0)
    assert buf.push(3, "c", 0.0) == []
    assert buf.push(1, "a", 0.0) == []
    assert buf.late == 2


def test_reorder_two_gaps_expire_one_at_a_time() -> None:
    buf: ReorderBuffer[str] = ReorderBuffer(max_delay=0.5, max_packets=100)
    buf.push(1, "a", 0.0)
    buf.push(3, "c", 0.0)
    buf.push(6, "f", 0.4)
    assert buf.expire(0.55) == [(3, "c")]  # 6 has waited only 0.15 s
    assert buf.push(4, "d", 0.6) == [(4, "d")]
    assert buf.push(5, "e", 0.6) == [(5, "e"), (6, "f")]
    assert buf.skipped == 1


def test_nack_tracker_reports_new_gaps_and_retries() -> None:
    nacks = NackTracker(retry_interval=0.1, max_tries=2, max_missing=100)
    assert nacks.on_packet(10, 0.0) == []
    assert nacks.on_packet(11, 0.0) == []
    assert nacks.on_packet(14, 0.0) == [12, 13]
    assert nacks.on_packet(12, 0.05) == []  # recovered
    assert nacks.due(0.05) == []
    assert nacks.due(0.11) == [13]
    assert nacks.due(0.25) == []  # asked twice: given up
    assert nacks.pending == 0


def test_nack_tracker_limits_burst_and_forgets() -> None:
    nacks = NackTracker(retry_interval=0.1, max_tries=3, max_missing=5)
    nacks.on_packet(0, 0.0)
    assert nacks.on_packet(1000, 0.0) == [995, 996, 997, 998, 999]
    nacks.forget_below(998)
    assert nacks.pending == 2
    assert nacks.on_packet(5, 0.0) == []  # old and not awaited


def test_reorder_resyncs_after_a_run_of_late_packets() -> None:
    buf: ReorderBuffer[int] = ReorderBuffer(max_delay=0.1, max_packets=100)
    buf.push(100, 0, 0.0)
    buf.push(40_000, 1, 0.0)  # one bogus packet far ahead
    assert buf.expire(0.2) == [(40_000, 1)]
    released = [buf.push(seq, seq, 0.3) for seq in range(101, 101 + RESYNC_AFTER_LATE + 3)]
    assert all(r == [] for r in released[:RESYNC_AFTER_LATE])
    assert released[RESYNC_AFTER_LATE] == [(101 + RESYNC_AFTER_LATE,) * 2]
    assert released[-1] == [(103 + RESYNC_AFTER_LATE,) * 2]
    assert buf.resyncs == 1


def test_reorder_occasional_duplicates_do_not_resync() -> None:
    buf: ReorderBuffer[int] = ReorderBuffer(max_delay=0.1, max_packets=100)
    for seq in range(1000):
        buf.push(seq, seq, 0.0)
        buf.push(seq, seq, 0.0)  # every packet twice
    assert buf.resyncs == 0 and buf.late == 1000


def test_rtp_stream_reorders_nacks_and_assembles_across_seq_wrap() -> None:
    frames: list[EncodedFrame] = []
    stream = RtpStream("video", "VP8", 90000, nack=True, on_frame=frames.append)
    key = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01, 0xF0, 0x00]) + b"\xaa" * 30
    parts = [bytes([0x10]) + key[:15], bytes([0x00]) + key[15:30], bytes([0x00]) + key[30:]]
    ts = (1 << 32) - 1500
    assert stream.on_packet(65535, ts, False, parts[0], 0.0) == []
    assert stream.on_packet(1, ts, True, parts[2], 0.01) == [0]  # 0 is missing: NACK it
    assert frames == [] and stream.needs_tick
    assert stream.tick(0.05) == []  # too early to ask again
    assert stream.tick(0.2) == [0]
    stream.on_packet(0, ts, False, parts[1], 0.25, retransmission=True)
    assert [(f.data, f.keyframe, f.rtp_timestamp, f.wallclock) for f in frames] == [
        (key, True, ts, None)
    ]
    stream.sender_clock.update((2_208_988_800 + 1000) << 32, ts)
    delta = bytes([0x10, 0x31, 0x01, 0x00]) + b"\xbb" * 10
    stream.on_packet(2, ts + 3000, True, delta, 0.3)  # RTP timestamp wraps here
    assert frames[-1].rtp_timestamp == ts + 3000 and frames[-1].wallclock == 1000 + 3000 / 90000
    assert stream.lost == 0 and stream.dropped == 0 and not stream.needs_tick

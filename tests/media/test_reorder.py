"""Sequence unwrapping, the reorder buffer and NACK bookkeeping (pure state, no network)."""

from __future__ import annotations

from telerecord.media.reorder import (
    RESYNC_AFTER_LATE,
    NackTracker,
    ReorderBuffer,
    SequenceUnwrapper,
)


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

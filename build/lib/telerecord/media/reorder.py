"""Packet order: sequence number unwrapping, a small reorder buffer and NACK bookkeeping.

All three work on unwrapped sequence numbers (plain ints that never wrap) and take the
current time as an argument, so they are pure state and tested without a network.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")

RESYNC_AFTER_LATE = 64
_WRAP16 = 1 << 16
_HALF16 = 1 << 15


class SequenceUnwrapper:
    """Turns 16-bit RTP sequence numbers into ints that never wrap (first one kept as is)."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: int | None = None

    def unwrap(self, seq: int) -> int:
        """Unwrapped `seq`, the value nearest to the highest one seen so far."""
        last = self._last
        if last is None:
            self._last = seq
            return seq
        delta = (seq - last) % _WRAP16
        if delta >= _HALF16:  # an older (reordered or retransmitted) packet
            return last + delta - _WRAP16
        self._last = last + delta
        return last + delta


class ReorderBuffer(Generic[T]):
    """Releases items in sequence order; waits at most `max_delay` seconds for a gap to fill.

    A gap that is given up on is skipped: the caller sees the jump in the released
    sequence numbers. Items older than the next expected one are dropped as late; a long
    run of them means the numbering jumped (a sender restart, or one bogus packet made us
    skip far ahead), so the buffer starts over at the current packet (`resyncs`).
    """

    def __init__(self, max_delay: float, max_packets: int) -> None:
        self.max_delay = max_delay
        self.max_packets = max_packets
        self.next_seq: int | None = None
        self.late = 0  # duplicates and packets that came after their gap was given up
        self.skipped = 0  # sequence numbers never received
        self.resyncs = 0
        self._late_run = 0
        self._held: dict[int, tuple[T, float]] = {}

    @property
    def held(self) -> int:
        """Number of items waiting for a gap to fill."""
        return len(self._held)

    def push(self, seq: int, item: T, now: float) -> list[tuple[int, T]]:
        """Add one item; return what is now releasable, in order."""
        expected = self.next_seq
        if expected is not None and (seq < expected or seq in self._held):
            self.late += 1
            self._late_run += 1
            if self._late_run <= RESYNC_AFTER_LATE:
                return []
            self.resyncs += 1
            self._held.clear()
            expected = None
        self._late_run = 0
        if expected is None or (seq == expected and not self._held):
            self.next_seq = seq + 1  # the common case: in order, nothing waiting
            return [(seq, item)]
        self._held[seq] = (item, now)
        released = self._release_run()
        released += self.expire(now)
        return released

    def expire(self, now: float) -> list[tuple[int, T]]:
        """Give up gaps that made the next held item wait too long (or the buffer is full)."""
        released: list[tuple[int, T]] = []
        while self._held:
            first = min(self._held)
            waited = now - self._held[first][1]
            if waited < self.max_delay and len(self._held) <= self.max_packets:
                break
            assert self.next_seq is not None
            self.skipped += first - self.next_seq
            self.next_seq = first
            released += self._release_run()
        return released

    def _release_run(self) -> list[tuple[int, T]]:
        released: list[tuple[int, T]] = []
        seq = self.next_seq
        assert seq is not None
        held = self._held
        while seq in held:
            released.append((seq, held.pop(seq)[0]))
            seq += 1
        self.next_seq = seq
        return released


class NackTracker:
    """Which sequence numbers to ask again for (RFC 4585 generic NACK), and when."""

    def __init__(self, retry_interval: float, max_tries: int, max_missing: int) -> None:
        self.retry_interval = retry_interval
        self.max_tries = max_tries
        self.max_missing = max_missing
        self.highest: int | None = None
        self._missing: dict[int, tuple[int, float]] = {}  # seq -> (tries, last sent)

    @property
    def pending(self) -> int:
        """Number of sequence numbers still awaited."""
        return len(self._missing)

    def on_packet(self, seq: int, now: float) -> list[int]:
        """Note a received packet; return sequence numbers newly found missing (NACK them now)."""
        highest = self.highest
        if highest is None or seq > highest:
            self.highest = seq
            if highest is None or seq == highest + 1:
                return []
            # A huge jump is a sender restart or a long outage: ask for the recent tail only.
            first = max(highest + 1, seq - self.max_missing)
            lost = list(range(first, seq))
            for missing in lost:
                self._missing[missing] = (1, now)
            self._trim()
            return lost
        self._missing.pop(seq, None)
        return []

    def due(self, now: float) -> list[int]:
        """Sequence numbers to NACK again now; ones asked `max_tries` times are given up."""
        again: list[int] = []
        for seq, (tries, sent) in list(self._missing.items()):
            if now - sent < self.retry_interval:
                continue
            if tries >= self.max_tries:
                del self._missing[seq]
                continue
            self._missing[seq] = (tries + 1, now)
            again.append(seq)
        return again

    def forget_below(self, seq: int) -> None:
        """Stop asking for anything older than `seq` (its gap was given up)."""
        for missing in [s for s in self._missing if s < seq]:
            del self._missing[missing]

    def _trim(self) -> None:
        if len(self._missing) > self.max_missing:
            for seq in sorted(self._missing)[: len(self._missing) - self.max_missing]:
                del self._missing[seq]

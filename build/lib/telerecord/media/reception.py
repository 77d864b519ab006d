"""Receiver-side RTP statistics for RTCP receiver reports (RFC 3550 section 6.4.1 / A.3, A.8)."""

from __future__ import annotations

from dataclasses import dataclass

_MAX_LOST = 0x7FFFFF  # 24-bit signed field
_MIN_LOST = -0x800000


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """The fields of one RTCP reception report block."""

    fraction_lost: int
    packets_lost: int
    highest_sequence: int
    jitter: int
    lsr: int
    dlsr: int


class ReceptionStats:
    """Loss, extended highest sequence number, jitter and LSR/DLSR of one SSRC."""

    def __init__(self, clock_rate: int) -> None:
        self._clock_rate = clock_rate
        self._base_seq: int | None = None
        self._max_seq = 0
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._jitter = 0.0
        self._last_timestamp: int | None = None
        self._last_transit = 0
        self._lsr = 0
        self._lsr_at: float | None = None

    def on_packet(self, seq: int, timestamp: int, now: float, *, retransmission: bool) -> None:
        """Count one packet (`seq` unwrapped); retransmissions do not feed jitter."""
        self._received += 1
        if self._base_seq is None:
            self._base_seq = self._max_seq = seq
        elif seq > self._max_seq:
            self._max_seq = seq
        if retransmission or timestamp == self._last_timestamp:
            return
        transit = int(now * self._clock_rate) - timestamp
        if self._last_timestamp is not None:
            self._jitter += (abs(transit - self._last_transit) - self._jitter) / 16
        self._last_timestamp = timestamp
        self._last_transit = transit

    def on_sender_report(self, ntp_timestamp: int, now: float) -> None:
        """Remember the middle 32 bits of the SR's NTP time for LSR/DLSR."""
        self._lsr = (ntp_timestamp >> 16) & 0xFFFFFFFF
        self._lsr_at = now

    def report(self, now: float) -> ReportBlock | None:
        """The report block for now (resets the fraction-lost interval); None before any packet."""
        if self._base_seq is None:
            return None
        expected = self._max_seq - self._base_seq + 1
        lost = min(max(expected - self._received, _MIN_LOST), _MAX_LOST)
        expected_interval = expected - self._expected_prior
        lost_interval = expected_interval - (self._received - self._received_prior)
        self._expected_prior, self._received_prior = expected, self._received
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min((lost_interval << 8) // expected_interval, 255)
        dlsr = 0
        if self._lsr_at is not None:
            dlsr = min(int((now - self._lsr_at) * 65536), 0xFFFFFFFF)
        return ReportBlock(
            fraction_lost=fraction,
            packets_lost=lost,
            highest_sequence=self._max_seq & 0xFFFFFFFF,
            jitter=int(self._jitter),
            lsr=self._lsr,
            dlsr=dlsr,
        )

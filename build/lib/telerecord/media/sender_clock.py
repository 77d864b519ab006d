"""The sender's clocks: RTP timestamp unwrapping and the RTCP SR NTP <-> RTP mapping."""

from __future__ import annotations

_NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01
_WRAP32 = 1 << 32
_HALF32 = 1 << 31


class TimestampUnwrapper:
    """Turns 32-bit RTP timestamps into a count that never wraps (not rebased)."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: int | None = None

    def unwrap(self, timestamp: int) -> int:
        """Unwrapped value of `timestamp`, taken as the nearest one to the previous value."""
        last = self._last
        if last is None:
            self._last = timestamp
            return timestamp
        delta = (timestamp - last) % _WRAP32
        if delta >= _HALF32:  # slightly older than the previous one, not 2^31 newer
            delta -= _WRAP32
        self._last = last + delta
        return last + delta


def ntp_to_unix(ntp_timestamp: int) -> float:
    """64-bit NTP timestamp (32.32 fixed point) as unix epoch seconds."""
    return (ntp_timestamp >> 32) - _NTP_UNIX_OFFSET + (ntp_timestamp & 0xFFFFFFFF) / _WRAP32


class SenderClock:
    """Maps RTP timestamps of one SSRC to the sender's wall clock via its latest sender report."""

    __slots__ = ("_clock_rate", "_sr_rtp", "_sr_unix")

    def __init__(self, clock_rate: int) -> None:
        self._clock_rate = clock_rate
        self._sr_unix: float | None = None
        self._sr_rtp = 0

    @property
    def synced(self) -> bool:
        """True once a sender report arrived."""
        return self._sr_unix is not None

    def update(self, ntp_timestamp: int, rtp_timestamp: int) -> None:
        """Take the NTP/RTP pair of a new RTCP sender report."""
        self._sr_unix = ntp_to_unix(ntp_timestamp)
        self._sr_rtp = rtp_timestamp & 0xFFFFFFFF

    def wallclock(self, rtp_timestamp: int) -> float | None:
        """Sender wall clock (unix seconds) of `rtp_timestamp`; None before the first SR."""
        if self._sr_unix is None:
            return None
        # Signed 32-bit distance from the SR, so it works across a wrap on either side.
        delta = (rtp_timestamp - self._sr_rtp) % _WRAP32
        if delta >= _HALF32:
            delta -= _WRAP32
        return self._sr_unix + delta / self._clock_rate

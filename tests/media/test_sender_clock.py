"""RTP timestamp unwrapping and the RTCP SR wall clock mapping."""

from __future__ import annotations

import pytest

from telerecord.media.sender_clock import SenderClock, TimestampUnwrapper, ntp_to_unix

NTP_UNIX_OFFSET = 2_208_988_800


def test_unwrapper_keeps_first_value_and_crosses_wraps() -> None:
    unwrap = TimestampUnwrapper()
    start = (1 << 32) - 6000
    raw = [(start + 3000 * i) % (1 << 32) for i in range(6)]
    assert [unwrap.unwrap(t) for t in raw] == [start + 3000 * i for i in range(6)]


def test_unwrapper_older_timestamp_goes_back() -> None:
    unwrap = TimestampUnwrapper()
    assert unwrap.unwrap(10) == 10
    assert unwrap.unwrap((1 << 32) - 5) == -5
    assert unwrap.unwrap(20) == 20


def test_unwrapper_monotonic_over_several_wraps() -> None:
    unwrap = TimestampUnwrapper()
    step = 1 << 30
    values = [unwrap.unwrap((7 + step * i) % (1 << 32)) for i in range(20)]
    assert values == [7 + step * i for i in range(20)]


def test_ntp_to_unix() -> None:
    ntp = ((NTP_UNIX_OFFSET + 1_700_000_000) << 32) | (1 << 31)
    assert ntp_to_unix(ntp) == pytest.approx(1_700_000_000.5)


def test_sender_clock_maps_rtp_time() -> None:
    clock = SenderClock(90000)
    assert clock.wallclock(1234) is None and not clock.synced
    ntp = (NTP_UNIX_OFFSET + 1_700_000_000) << 32
    clock.update(ntp, 900_000)
    assert clock.synced
    assert clock.wallclock(900_000 + 45_000) == pytest.approx(1_700_000_000.5)
    assert clock.wallclock(900_000 - 90_000) == pytest.approx(1_699_999_999.0)
    # Unwrapped timestamps (beyond 2^32) map the same as their wrapped value.
    assert clock.wallclock((1 << 32) + 900_000 + 9000) == pytest.approx(1_700_000_000.1)


def test_sender_clock_across_wrap() -> None:
    clock = SenderClock(48000)
    ntp = (NTP_UNIX_OFFSET + 100) << 32
    clock.update(ntp, (1 << 32) - 4800)
    assert clock.wallclock(4800) == pytest.approx(100.2)

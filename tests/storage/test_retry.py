import pytest

from telerecord.storage import StorageError
from telerecord.storage.retry import RetryPolicy, retry

FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.002)


class Flaky:
    """Fails `failures` times with `error`, then answers."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


def test_transient_failures_are_retried() -> None:
    op = Flaky(3, TimeoutError("slow"))
    assert retry(op, policy=FAST, is_transient=lambda e: True, what="op") == "done"
    assert op.calls == 4


def test_gives_up_after_the_last_attempt() -> None:
    op = Flaky(4, TimeoutError("slow"))
    with pytest.raises(StorageError, match="gave up after 4 attempts") as info:
        retry(op, policy=FAST, is_transient=lambda e: True, what="op")
    assert op.calls == 4
    assert isinstance(info.value.__cause__, TimeoutError)


def test_permanent_failure_is_not_retried() -> None:
    op = Flaky(1, PermissionError("no"))
    with pytest.raises(StorageError, match="op: no"):
        retry(op, policy=FAST, is_transient=lambda e: False, what="op")
    assert op.calls == 1


def test_default_policy_waits_about_a_minute() -> None:
    delays = list(RetryPolicy().delays())
    assert len(delays) == 5
    assert 45 <= sum(delays) <= 60
    assert all(d <= 30 for d in delays)

"""Retry with exponential backoff for storage operations."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from telerecord.storage.base import StorageError

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing operation is tried again.

    The default waits 2, 4, 8, 16 and 30 s between six attempts: about a minute in all,
    enough to ride out a restart of the storage service or a short network outage.
    """

    attempts: int = 6
    base_delay: float = 2.0
    max_delay: float = 30.0

    def delays(self) -> Iterator[float]:
        """The waits between attempts (attempts - 1 of them), with a little jitter."""
        for n in range(self.attempts - 1):
            delay = min(self.max_delay, self.base_delay * 2**n)
            # Jitter so that many workers hit by one outage do not retry in lockstep.
            yield delay * random.uniform(0.8, 1.0)


def retry(
    op: Callable[[], T],
    *,
    policy: RetryPolicy,
    is_transient: Callable[[Exception], bool],
    what: str,
) -> T:
    """Run `op`, retrying transient failures; raise StorageError when it cannot succeed."""
    delays = policy.delays()
    while True:
        try:
            return op()
        except Exception as exc:
            if not is_transient(exc):
                raise _as_storage_error(what, exc) from exc
            delay = next(delays, None)
            if delay is None:
                raise _as_storage_error(
                    f"{what} (gave up after {policy.attempts} attempts)", exc
                ) from exc
            logger.warning("%s failed (%s); retrying in %.1f s", what, exc, delay)
            time.sleep(delay)


def _as_storage_error(what: str, exc: Exception) -> StorageError:
    return StorageError(f"{what}: {exc}")

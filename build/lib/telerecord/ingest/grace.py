"""Recordings waiting for their publisher to come back (the reconnect grace period)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class GraceParking(Generic[K, V]):
    """Holds a value per key for ``grace`` seconds, then hands it to ``expire``.

    ``take`` before the deadline cancels the timer and returns the value: the publisher
    reconnected, and its recording goes on.
    """

    def __init__(self, grace: float, expire: Callable[[V], Coroutine[Any, Any, None]]) -> None:
        self.grace = grace
        self._expire = expire
        self._parked: dict[K, tuple[V, asyncio.TimerHandle]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def park(self, key: K, value: V) -> None:
        loop = asyncio.get_running_loop()
        self.cancel(key)
        handle = loop.call_later(self.grace, self._fire, key)
        self._parked[key] = (value, handle)

    def take(self, key: K) -> V | None:
        entry = self._parked.pop(key, None)
        if entry is None:
            return None
        entry[1].cancel()
        return entry[0]

    def cancel(self, key: K) -> None:
        entry = self._parked.pop(key, None)
        if entry is not None:
            entry[1].cancel()

    def values(self) -> list[tuple[K, V]]:
        return [(k, v) for k, (v, _h) in self._parked.items()]

    def _fire(self, key: K) -> None:
        entry = self._parked.pop(key, None)
        if entry is not None:
            task = asyncio.get_running_loop().create_task(self._expire(entry[0]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Expire everything now (shutdown)."""
        for key in list(self._parked):
            value = self.take(key)
            if value is not None:
                await self._expire(value)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

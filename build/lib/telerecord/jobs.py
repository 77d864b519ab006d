"""Background jobs on huey: SQLite in-process by default, Redis for separate workers.

Tasks find the runtime through :func:`bind`, called once by the process that consumes them
(``telerecord serve`` in embedded mode, ``telerecord worker`` in broker mode).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

from telerecord.clock import utcnow

if TYPE_CHECKING:
    from telerecord.runtime import Runtime

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


def backoff_delay(attempt: int) -> float:
    """Seconds before retry ``attempt`` (1-based): 5 s doubling, capped at 10 minutes."""
    return float(min(5 * 2 ** (attempt - 1), 600))


class _QuietConsumer(Consumer):  # type: ignore[misc]
    """A consumer living inside another server: the server owns the signal handlers."""

    def _set_signal_handlers(self) -> None:
        pass


def make_huey(url: str) -> Huey:
    parsed = urlparse(url)
    if parsed.scheme in ("redis", "rediss"):
        return RedisHuey("telerecord", url=url)
    if parsed.scheme == "sqlite":
        return SqliteHuey("telerecord", filename=url.split("sqlite:///", 1)[-1])
    raise ValueError(f"queue URL {url!r}: use sqlite:///path or redis://host:port/db")


class JobQueue:
    """The project's tasks on one huey instance."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.huey = make_huey(url)
        self._runtime: Runtime | None = None
        self._consumer: Consumer | None = None
        self._lock = threading.Lock()
        self._register()

    @property
    def is_embedded(self) -> bool:
        return isinstance(self.huey, SqliteHuey)

    def bind(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def runtime(self) -> Runtime:
        if self._runtime is None:
            raise RuntimeError("job queue used before bind()")
        return self._runtime

    def _register(self) -> None:
        huey = self.huey

        @huey.task(name="process_recording")  # type: ignore[untyped-decorator]
        def process_recording(recording_id: str, attempt: int = 1) -> None:
            self._run_processing(recording_id, attempt)

        @huey.periodic_task(crontab(minute="7"), name="retention")  # type: ignore[untyped-decorator]
        def retention() -> None:
            from telerecord.services import retention as retention_service

            retention_service.sweep(self.runtime())

        self._process_task: Any = process_recording

    def enqueue_processing(self, recording_id: str, *, attempt: int = 1, delay: float = 0) -> None:
        if delay > 0:
            self._process_task.schedule(args=(recording_id, attempt), delay=delay)
        else:
            self._process_task(recording_id, attempt)

    def _run_processing(self, recording_id: str, attempt: int) -> None:
        from telerecord.services import processing

        runtime = self.runtime()
        try:
            processing.process(runtime, recording_id)
        except processing.PermanentFailure as exc:
            processing.fail(runtime, recording_id, str(exc))
        except processing.LeaseHeld as held:
            # Someone else is on it; if they die, their lease runs out and we take over then.
            wait = (held.until - utcnow()).total_seconds() + 5
            self.enqueue_processing(recording_id, attempt=attempt, delay=max(wait, 5))
        except Exception as exc:
            if attempt >= MAX_ATTEMPTS:
                log.exception("recording %s: processing failed for good", recording_id)
                processing.fail(runtime, recording_id, f"processing failed: {exc}")
                return
            delay = backoff_delay(attempt)
            log.warning(
                "recording %s: processing attempt %d failed (%s); retry in %.0f s",
                recording_id,
                attempt,
                exc,
                delay,
            )
            self.enqueue_processing(recording_id, attempt=attempt + 1, delay=delay)

    def start_consumer(self, workers: int = 2, *, periodic: bool = True) -> None:
        """Consume in this process, in threads (embedded mode and tests)."""
        with self._lock:
            if self._consumer is not None:
                return
            self._consumer = _QuietConsumer(
                self.huey,
                workers=workers,
                worker_type="thread",
                periodic=periodic,
                max_delay=1.0,
                check_worker_health=False,
            )
            self._consumer.start()

    def stop_consumer(self) -> None:
        with self._lock:
            if self._consumer is not None:
                self._consumer.stop(graceful=False)
                self._consumer = None

    def run_worker(self, workers: int = 2) -> None:
        """Consume in the foreground until interrupted (``telerecord worker``)."""
        Consumer(self.huey, workers=workers, worker_type="thread", max_delay=1.0).run()

"""The webhook delivery worker: sends due deliveries concurrently, signed, with retries.

One task per leased delivery, at most one per webhook and ``concurrency`` overall, each bounded by
``timeout``: a slow or dead endpoint holds one slot and never delays the others. Database work runs
in threads so the event loop stays free. See :mod:`telerecord.services.delivery_queue` for the
leasing rules that make several workers (or processes) on one database safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import httpx

from telerecord.db.engine import Database
from telerecord.services import delivery_queue as queue
from telerecord.services.delivery_queue import Claim, Outcome
from telerecord.services.webhook_signing import signature_headers

log = logging.getLogger(__name__)

USER_AGENT = "telerecord-webhooks/0.1"
_SNIPPET = 200  # bytes of a failed response body kept in the delivery log


class DeliveryWorker:
    """Delivers pending webhook deliveries from the database until stopped."""

    def __init__(
        self,
        db: Database,
        *,
        poll_interval: float = 1.0,
        timeout: float = 10.0,
        concurrency: int = 8,
        backoff: Sequence[float] = queue.DEFAULT_BACKOFF,
        lease_seconds: float | None = None,
    ) -> None:
        self.db = db
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self.backoff = tuple(backoff)
        # The lease must outlive the longest attempt, or another worker could send it again.
        self.lease_seconds = lease_seconds if lease_seconds is not None else timeout + 60.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._inflight: dict[asyncio.Task[None], Claim] = {}
        self._stopping = False

    async def start(self) -> None:
        """Begin polling for due deliveries on the running event loop."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
            headers={"user-agent": USER_AGENT},
        )
        self._task = asyncio.create_task(self._run(), name="webhook-delivery")

    async def stop(self) -> None:
        """Stop polling, abandon in-flight attempts and hand their leases back."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        abandoned = list(self._inflight.items())
        for task, _claim in abandoned:
            task.cancel()
        await asyncio.gather(*(t for t, _ in abandoned), return_exceptions=True)
        for _task, claim in abandoned:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(queue.release, self.db, claim)
        self._inflight.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def wake(self) -> None:
        """Look for due deliveries now (thread-safe; a no-op when not running)."""
        loop, event = self._loop, self._wake
        if loop is None or event is None or self._stopping:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(event.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            self._wake.clear()
            try:
                await self._fill()
            except Exception:
                log.exception("webhook deliveries: claiming failed; retrying shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def _fill(self) -> None:
        free = self.concurrency - len(self._inflight)
        if free <= 0 or self._stopping:
            return
        busy = {c.webhook_id for c in self._inflight.values()}
        claims = await asyncio.to_thread(
            queue.claim_due, self.db, limit=free, busy=busy, lease_seconds=self.lease_seconds
        )
        for claim in claims:
            task = asyncio.create_task(self._deliver(claim), name=f"delivery-{claim.delivery_id}")
            self._inflight[task] = claim
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        if self._stopping:
            return  # stop() releases the leases of what it cancelled
        self._inflight.pop(task, None)
        if self._wake is not None:
            self._wake.set()  # a slot is free, and this webhook may have more waiting

    async def _deliver(self, claim: Claim) -> None:
        outcome = await self._send(claim)
        try:
            kept = await asyncio.to_thread(queue.finish, self.db, claim, outcome, self.backoff)
        except Exception:
            # The lease will expire and the attempt be made again: at least once, never lost.
            log.exception("delivery %s: could not record the outcome", claim.delivery_id)
            return
        if not kept:
            log.warning(
                "delivery %s: lease lost before the outcome was recorded", claim.delivery_id
            )
        elif outcome.ok:
            log.info("delivery %s: delivered to webhook %s", claim.delivery_id, claim.webhook_id)
        else:
            log.warning(
                "delivery %s: attempt %d to webhook %s failed: %s",
                claim.delivery_id,
                claim.attempt + 1,
                claim.webhook_id,
                outcome.error,
            )

    async def _send(self, claim: Claim) -> Outcome:
        assert self._client is not None
        headers = signature_headers(claim.secret, claim.event_id, claim.body)
        headers["content-type"] = "application/json"
        try:
            # httpx times each phase; this bounds the whole exchange (a trickling receiver too).
            async with asyncio.timeout(self.timeout):
                request = self._client.stream(
                    "POST", claim.url, content=claim.body, headers=headers
                )
                async with request as response:
                    snippet = await _read_some(response, _SNIPPET)
        except TimeoutError:
            return Outcome(ok=False, error=f"no answer within {self.timeout:g} s")
        except Exception as exc:
            return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}".rstrip(": "))
        code = response.status_code
        if 200 <= code < 300:
            return Outcome(ok=True, status_code=code)
        text = snippet.decode(errors="replace").strip()
        return Outcome(
            ok=False, status_code=code, error=f"HTTP {code}" + (f": {text}" if text else "")
        )


async def _read_some(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the body: enough for the log, never a huge download."""
    data = b""
    async for chunk in response.aiter_raw():
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit]

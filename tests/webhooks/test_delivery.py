"""The delivery worker against real HTTP receivers on loopback."""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from telerecord.db.engine import Database
from telerecord.db.models import Delivery, Event
from telerecord.services import accounts, delivery_queue, events, webhooks
from telerecord.services.delivery import DeliveryWorker

from .receiver import Received, Receiver, dead_url

FAST = {"poll_interval": 0.05, "timeout": 5.0}


@pytest.fixture
def account_id(db: Database) -> str:
    with db.session() as session:
        account, _ = accounts.create_account(session, "acme")
        return account.id


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    await rec.start()
    try:
        yield rec
    finally:
        await rec.close()


@asynccontextmanager
async def running(db: Database, **kwargs: object) -> AsyncIterator[DeliveryWorker]:
    worker = DeliveryWorker(db, **{**FAST, **kwargs})  # type: ignore[arg-type]
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


def add_webhook(db: Database, account_id: str, url: str) -> tuple[str, str]:
    with db.session() as session:
        hook = webhooks.create(session, account_id, url, [], "")
        return hook.id, hook.secret


def emit(db: Database, account_id: str, n: int = 1) -> list[str]:
    ids = []
    for i in range(n):
        with db.session() as session:
            ids.append(events.emit(session, account_id, "recording.started", {"n": i}).id)
    return ids


def deliveries(db: Database, webhook_id: str | None = None) -> list[Delivery]:
    query = select(Delivery).order_by(Delivery.created_at, Delivery.id)
    if webhook_id is not None:
        query = query.where(Delivery.webhook_id == webhook_id)
    with db.session() as session:
        return list(session.scalars(query))


async def settled(
    db: Database, done: Callable[[list[Delivery]], bool], timeout: float = 8.0
) -> None:
    async with asyncio.timeout(timeout):
        while not done(await asyncio.to_thread(deliveries, db)):
            await asyncio.sleep(0.05)


def all_delivered(rows: Sequence[Delivery]) -> bool:
    return bool(rows) and all(r.status == "delivered" for r in rows)


def verifying(secrets_by_path: dict[str, str], then: int = 200):  # type: ignore[no-untyped-def]
    """A responder that checks the signature with the reference implementation first."""

    async def respond(request: Received) -> int:
        try:
            StandardWebhook(secrets_by_path[request.path]).verify(request.body, request.headers)
        except WebhookVerificationError:
            return 400
        return then

    return respond


async def test_delivers_signed_event_payload(
    db: Database, account_id: str, receiver: Receiver
) -> None:
    hook_id, secret = add_webhook(db, account_id, receiver.url("/hook"))
    receiver.respond = verifying({"/hook": secret})
    [event_id] = emit(db, account_id)
    async with running(db):
        await settled(db, all_delivered)
    [(request, status)] = receiver.answered
    assert status == 200  # the standardwebhooks package verified the signature
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == event_id
    with db.session() as session:
        payload = session.get(Event, event_id).payload  # type: ignore[union-attr]
    assert json.loads(request.body) == payload
    assert payload["type"] == "recording.started" and payload["data"] == {"n": 0}
    [row] = deliveries(db, hook_id)
    assert (row.attempt, row.status_code, row.error) == (1, 200, None)
    assert row.delivered_at is not None and row.next_attempt_at is None and row.lease_until is None


async def test_retries_after_a_500_then_succeeds(
    db: Database, account_id: str, receiver: Receiver
) -> None:
    hook_id, secret = add_webhook(db, account_id, receiver.url("/hook"))
    statuses = iter([500, 200])

    async def respond(request: Received) -> int:
        StandardWebhook(secret).verify(request.body, request.headers)
        return next(statuses)

    receiver.respond = respond
    [event_id] = emit(db, account_id)
    async with running(db, backoff=(0.2, 0.2)):
        await settled(db, all_delivered)
    assert [status for _, status in receiver.answered] == [500, 200]
    assert {r.headers["webhook-id"] for r in receiver.received} == {event_id}
    [row] = deliveries(db, hook_id)
    assert (row.status, row.attempt, row.status_code, row.error) == ("delivered", 2, 200, None)


async def test_gives_up_after_the_backoff_schedule(
    db: Database, account_id: str, receiver: Receiver
) -> None:
    async def fail(_request: Received) -> int:
        return 503

    receiver.respond = fail
    hook_id, _ = add_webhook(db, account_id, receiver.url("/hook"))
    emit(db, account_id)
    async with running(db, backoff=(0.1, 0.1)):
        await settled(db, lambda rows: rows[0].status == "failed")
    [row] = deliveries(db, hook_id)
    assert (row.attempt, row.status_code, row.next_attempt_at) == (3, 503, None)
    assert row.error is not None and row.error.startswith("HTTP 503")
    assert len(receiver.received) == 3


def test_default_backoff_keeps_trying_for_more_than_a_day() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    at, attempts = start, 0
    while True:
        attempts += 1
        retry = delivery_queue.next_retry(attempts, delivery_queue.DEFAULT_BACKOFF, at)
        if retry is None:
            break
        at = retry
    assert at - start > timedelta(hours=24)
    assert attempts == len(delivery_queue.DEFAULT_BACKOFF) + 1


async def test_slow_and_dead_receivers_do_not_delay_a_healthy_one(
    db: Database, account_id: str, receiver: Receiver
) -> None:
    async def respond(request: Received) -> int:
        if request.path == "/slow":
            await asyncio.sleep(30)
        return 200

    receiver.respond = respond
    slow_id, _ = add_webhook(db, account_id, receiver.url("/slow"))
    dead_id, _ = add_webhook(db, account_id, dead_url())
    healthy_id, _ = add_webhook(db, account_id, receiver.url("/healthy"))
    event_ids = emit(db, account_id, 3)
    # Two slots for three endpoints with three deliveries each; the slow one could hold both.
    async with running(db, concurrency=2, timeout=60.0, backoff=(60,)):

        def healthy_done() -> bool:
            return len([r for r, _ in receiver.answered if r.path == "/healthy"]) == 3

        await receiver.wait_for(healthy_done)
        # The slow endpoint got its first request, is still sitting on it, and got no other.
        slow = [r for r in receiver.received if r.path == "/slow"]
        assert len(slow) == 1 and all(r.path != "/slow" for r, _ in receiver.answered)
        await settled(db, lambda _: all_delivered(deliveries(db, healthy_id)))
        assert all(r.status == "pending" and r.attempt == 0 for r in deliveries(db, slow_id))
        # Connection refused is quick, but not necessarily quicker than the healthy endpoint.
        await settled(db, lambda _: all(r.attempt >= 1 for r in deliveries(db, dead_id)))
    healthy = [r.headers["webhook-id"] for r, _ in receiver.answered if r.path == "/healthy"]
    assert healthy == event_ids  # in order
    dead = deliveries(db, dead_id)
    assert all(r.attempt >= 1 and r.status_code is None and r.error for r in dead)
    assert "Connect" in (dead[0].error or "")


async def test_a_new_worker_delivers_what_a_stopped_one_left(
    db: Database, database_url: str, account_id: str, receiver: Receiver
) -> None:
    release = asyncio.Event()

    async def respond(_request: Received) -> int:
        await release.wait()
        return 200

    receiver.respond = respond
    hook_id, _ = add_webhook(db, account_id, receiver.url("/hook"))
    event_ids = emit(db, account_id, 3)
    async with running(db):
        await receiver.wait_for(lambda: len(receiver.received) == 1)
    # Stopped mid-request: nothing was recorded as sent and the lease was handed back.
    rows = deliveries(db, hook_id)
    assert [(r.status, r.attempt, r.lease_until) for r in rows] == [("pending", 0, None)] * 3
    release.set()
    restarted = Database(database_url)  # as after a process restart
    try:
        async with running(restarted):
            await settled(restarted, all_delivered)
    finally:
        restarted.dispose()
    assert [r.attempt for r in deliveries(db, hook_id)] == [1, 1, 1]
    # The abandoned attempt is made again (at least once), then the rest, in order.
    sent = [r.headers["webhook-id"] for r in receiver.received]
    assert sent == [event_ids[0], *event_ids]


async def test_an_expired_lease_of_a_crashed_worker_is_reclaimed(
    db: Database, account_id: str, receiver: Receiver
) -> None:
    hook_id, _ = add_webhook(db, account_id, receiver.url("/hook"))
    [event_id] = emit(db, account_id)
    # A worker that claimed the delivery and died: its lease stays in the table.
    [claim] = delivery_queue.claim_due(db, limit=8, lease_seconds=600)
    assert claim.delivery_id == deliveries(db, hook_id)[0].id
    assert delivery_queue.claim_due(db, limit=8, lease_seconds=600) == []  # leased: not claimable
    with db.session() as session:  # ... and the lease ran out
        expired = datetime.now(UTC) - timedelta(seconds=1)
        session.execute(update(Delivery).values(lease_until=expired))
    async with running(db):
        await settled(db, all_delivered)
    assert [r.headers["webhook-id"] for r in receiver.received] == [event_id]
    # The dead worker's late answer cannot overwrite the new outcome.
    outcome = delivery_queue.Outcome(ok=False, status_code=500, error="late")
    assert not delivery_queue.finish(db, claim, outcome, (1,))
    assert deliveries(db, hook_id)[0].status == "delivered"


async def test_two_workers_never_send_the_same_attempt(
    db: Database, database_url: str, account_id: str, receiver: Receiver
) -> None:
    inflight: Counter[str] = Counter()
    most: dict[str, int] = defaultdict(int)

    async def respond(request: Received) -> int:
        inflight[request.path] += 1
        most[request.path] = max(most[request.path], inflight[request.path])
        await asyncio.sleep(0.01)
        inflight[request.path] -= 1
        return 200

    receiver.respond = respond
    paths = ["/a", "/b", "/c"]
    for path in paths:
        add_webhook(db, account_id, receiver.url(path))
    event_ids = emit(db, account_id, 10)
    other = Database(database_url)  # a second process's engine
    try:
        async with running(db, concurrency=4), running(other, concurrency=4):
            await settled(db, lambda rows: len(rows) == 30 and all_delivered(rows))
    finally:
        other.dispose()
    sent = Counter((r.path, r.headers["webhook-id"]) for r in receiver.received)
    assert sent == Counter({(p, e): 1 for p in paths for e in event_ids})
    assert all(r.attempt == 1 for r in deliveries(db))
    assert dict(most) == dict.fromkeys(paths, 1)  # one at a time per endpoint, across workers
    for path in paths:  # and in order
        assert [r.headers["webhook-id"] for r in receiver.received if r.path == path] == event_ids


async def test_wake_sends_without_waiting_for_the_next_poll(
    db: Database, account_id: str, receiver: Receiver
) -> None:
    add_webhook(db, account_id, receiver.url("/hook"))
    first, second = emit(db, account_id), None
    async with running(db, poll_interval=300.0) as worker:
        # The first is sent by the poll at start; after that the next poll is 5 minutes away.
        await receiver.wait_for(lambda: len(receiver.answered) == 1)
        await settled(db, all_delivered)
        second = await asyncio.to_thread(emit, db, account_id)
        await asyncio.to_thread(worker.wake)  # from another thread, like a sync route
        await receiver.wait_for(lambda: len(receiver.answered) == 2)
    assert [r.headers["webhook-id"] for r in receiver.received] == first + second

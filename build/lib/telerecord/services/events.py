"""Events: one row per thing that happened, and a delivery row per subscribed webhook.

Both are written in the caller's transaction, so an event exists exactly when the state change
that caused it was committed; the delivery worker picks the rows up afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy import event as orm_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from telerecord.clock import isoformat, utcnow
from telerecord.db.models import Delivery, Event, Webhook
from telerecord.ids import new_id

EventType = Literal[
    "recording.started",
    "recording.stopped",
    "recording.complete",
    "recording.failed",
    "recording.deleted",
    "room.session.started",
    "room.session.ended",
    "webhook.test",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]

# Called after a transaction that queued deliveries commits (the delivery worker's wake-up), so
# deliveries go out at once instead of at the worker's next poll.
delivery_listeners: list[Callable[[], None]] = []


def _notify(_session: Session) -> None:
    for listener in list(delivery_listeners):
        listener()


def emit(
    session: Session,
    account_id: str,
    type_: EventType,
    data: dict[str, Any],
    *,
    only_webhook: str | None = None,
) -> Event:
    """Record an event and queue it for every enabled webhook of the account subscribed to it."""
    now = utcnow()
    event_id = new_id("evt")
    payload = {"id": event_id, "type": type_, "created_at": isoformat(now), "data": data}
    event = Event(id=event_id, account_id=account_id, type=type_, payload=payload, created_at=now)
    session.add(event)
    session.flush()
    query = select(Webhook).where(Webhook.account_id == account_id, Webhook.enabled.is_(True))
    queued = False
    for hook in session.scalars(query):
        if only_webhook is not None and hook.id != only_webhook:
            continue
        if only_webhook is None and hook.events and type_ not in hook.events:
            continue
        session.add(
            Delivery(
                id=new_id("dlv"),
                webhook_id=hook.id,
                event_id=event.id,
                type=type_,
                status="pending",
                next_attempt_at=now,
                created_at=now,
            )
        )
        queued = True
    if queued and not orm_event.contains(session, "after_commit", _notify):
        orm_event.listen(session, "after_commit", _notify, once=True)
    return event

"""Webhook endpoints of an account: create, validate, change, delete, and their delivery log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from telerecord.clock import utcnow
from telerecord.db.models import Delivery, Webhook
from telerecord.errors import Conflict, NotFound, Unprocessable
from telerecord.ids import new_id
from telerecord.services import events
from telerecord.services.webhook_signing import generate_secret

# "webhook.test" is sent on request only; nobody subscribes to it.
SUBSCRIBABLE_EVENTS: tuple[str, ...] = tuple(t for t in events.EVENT_TYPES if t != "webhook.test")
MAX_URL_LENGTH = 2000


@dataclass(frozen=True)
class TestSent:
    event_id: str
    delivery_id: str


def check_url(url: str) -> None:
    """An absolute http(s) URL with a host, or Unprocessable."""
    if len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url):
        raise Unprocessable(
            f"url must be an http or https URL of at most {MAX_URL_LENGTH} characters."
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise Unprocessable(f"url {url!r} is not a valid URL.") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Unprocessable(f"url {url!r} must be an http or https URL with a host.")


def check_events(names: Sequence[str]) -> None:
    """Every name is a subscribable event type, or Unprocessable."""
    unknown = [n for n in names if n not in SUBSCRIBABLE_EVENTS]
    if unknown:
        raise Unprocessable(
            f"unknown event type(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(SUBSCRIBABLE_EVENTS)}."
        )


def create(
    session: Session, account_id: str, url: str, event_types: Sequence[str], description: str
) -> Webhook:
    """A new enabled webhook with a fresh signing secret. No event types means all of them."""
    check_url(url)
    check_events(event_types)
    row = Webhook(
        id=new_id("wh"),
        account_id=account_id,
        url=url,
        events=_dedupe(event_types),
        description=description,
        secret=generate_secret(),
        enabled=True,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def get(session: Session, account_id: str, webhook_id: str) -> Webhook:
    """The caller's webhook, or NotFound (also for another account's)."""
    row = session.get(Webhook, webhook_id)
    if row is None or row.account_id != account_id:
        raise NotFound(f"Webhook {webhook_id} does not exist.")
    return row


def update(session: Session, row: Webhook, changes: dict[str, Any]) -> Webhook:
    """Apply the given subset of url, events, description, enabled."""
    if "url" in changes:
        check_url(changes["url"])
        row.url = changes["url"]
    if "events" in changes:
        check_events(changes["events"])
        row.events = _dedupe(changes["events"])
    if "description" in changes:
        row.description = changes["description"]
    if "enabled" in changes:
        row.enabled = bool(changes["enabled"])
    session.flush()
    return row


def delete(session: Session, account_id: str, webhook_id: str) -> None:
    """Remove the webhook; its deliveries go with it (cascade), so nothing more is sent."""
    row = get(session, account_id, webhook_id)
    # Explicit as well as ON DELETE CASCADE, so no backend configuration can leave rows to send.
    session.execute(sql_delete(Delivery).where(Delivery.webhook_id == row.id))
    session.delete(row)


def list_query(account_id: str) -> Select[Any]:
    return select(Webhook).where(Webhook.account_id == account_id)


def deliveries_query(webhook_id: str) -> Select[Any]:
    return select(Delivery).where(Delivery.webhook_id == webhook_id)


def send_test(session: Session, account_id: str, webhook_id: str) -> TestSent:
    """Queue a ``webhook.test`` event for this webhook only."""
    row = get(session, account_id, webhook_id)
    if not row.enabled:
        raise Conflict(f"Webhook {webhook_id} is disabled; enable it to send a test.")
    event = events.emit(
        session, account_id, "webhook.test", {"webhook_id": row.id}, only_webhook=row.id
    )
    session.flush()
    delivery_id = session.scalar(
        select(Delivery.id).where(Delivery.event_id == event.id, Delivery.webhook_id == row.id)
    )
    if delivery_id is None:  # emit() skipped it: cannot happen for an enabled webhook
        raise Conflict(f"Webhook {webhook_id} did not accept the test event.")
    return TestSent(event_id=event.id, delivery_id=delivery_id)


def _dedupe(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))

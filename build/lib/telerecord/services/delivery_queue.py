"""The webhook delivery queue in the database: claim due deliveries under a lease, record outcomes.

All state lives in the ``deliveries`` table, so a restart loses nothing. A claim sets
``lease_until`` with one conditional UPDATE; only a row whose lease is empty or expired can be
claimed, so two workers (or processes) never send the same attempt. At most one delivery per
webhook is leased at a time, which keeps deliveries to one endpoint in order and lets a slow
endpoint hold only itself.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from telerecord.clock import utcnow
from telerecord.db.engine import Database
from telerecord.db.models import Delivery, Event, Webhook

# Retry delays after the 1st, 2nd, ... failed attempt: 12 attempts over about 31.7 hours.
DEFAULT_BACKOFF: tuple[float, ...] = (
    5,
    30,
    120,
    600,
    1800,
    3600,
    7200,
    14400,
    28800,
    28800,
    28800,
)
_ERROR_LIMIT = 500


@dataclass(frozen=True)
class Claim:
    """One leased delivery attempt and everything needed to send it."""

    delivery_id: str
    webhook_id: str
    event_id: str
    url: str
    secret: str
    body: bytes
    attempt: int  # attempts made before this one
    lease_until: datetime


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        Delivery.status == "pending",
        or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
        or_(Delivery.lease_until.is_(None), Delivery.lease_until <= now),
    )


def _webhook_leased(now: datetime) -> ColumnElement[bool]:
    """Some delivery of the same webhook holds a live lease."""
    other = aliased(Delivery)
    return exists().where(
        other.webhook_id == Delivery.webhook_id,
        other.status == "pending",
        other.lease_until > now,
    )


def claim_due(
    db: Database, *, limit: int, busy: Collection[str] = (), lease_seconds: float
) -> list[Claim]:
    """Lease up to ``limit`` due deliveries, the oldest one of each of different webhooks."""
    now = utcnow()
    with db.session() as session:
        query = (
            select(Delivery.webhook_id)
            .join(Webhook, Webhook.id == Delivery.webhook_id)
            .where(_due(now), Webhook.enabled.is_(True), ~_webhook_leased(now))
            .group_by(Delivery.webhook_id)
            .order_by(func.min(Delivery.next_attempt_at))
            .limit(limit + len(busy))
        )
        webhook_ids = [w for w in session.scalars(query) if w not in busy][:limit]
    lease_until = now + timedelta(seconds=lease_seconds)
    claims = (_claim_one(db, w, now, lease_until) for w in webhook_ids)
    return [c for c in claims if c is not None]


def _claim_one(db: Database, webhook_id: str, now: datetime, lease_until: datetime) -> Claim | None:
    with db.session() as session:
        if not db.is_sqlite:
            # Serialize claims per webhook, so two concurrent transactions cannot each see "no
            # lease" and lease two deliveries of one endpoint. (SQLite has one writer anyway, and a
            # read first would turn its deferred transaction into a failing lock upgrade.)
            session.execute(select(Webhook.id).where(Webhook.id == webhook_id).with_for_update())
        oldest = (
            select(Delivery.id)
            .where(Delivery.webhook_id == webhook_id, _due(now))
            .order_by(Delivery.created_at, Delivery.id)
            .limit(1)
            .scalar_subquery()
        )
        claimed = session.scalar(
            update(Delivery)
            .where(Delivery.id == oldest, _due(now), ~_webhook_leased(now))
            .values(lease_until=lease_until)
            .returning(Delivery.id)
        )
        if claimed is None:
            return None
        return _load_claim(session, claimed, lease_until)


def _load_claim(session: Session, delivery_id: str, lease_until: datetime) -> Claim:
    row = session.execute(
        select(Delivery, Webhook.url, Webhook.secret, Event.payload)
        .join(Webhook, Webhook.id == Delivery.webhook_id)
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.id == delivery_id)
    ).one()
    delivery: Delivery = row[0]
    return Claim(
        delivery_id=delivery.id,
        webhook_id=delivery.webhook_id,
        event_id=delivery.event_id,
        url=row.url,
        secret=row.secret,
        body=encode_payload(row.payload),
        attempt=delivery.attempt,
        lease_until=lease_until,
    )


def _held(claim: Claim) -> ColumnElement[bool]:
    """The row is still ours: same attempt, same lease, not settled by anyone else."""
    return and_(
        Delivery.id == claim.delivery_id,
        Delivery.status == "pending",
        Delivery.attempt == claim.attempt,
        Delivery.lease_until == claim.lease_until,
    )


def next_retry(attempts_made: int, backoff: Sequence[float], now: datetime) -> datetime | None:
    """When to try again after ``attempts_made`` failed attempts, or None to give up."""
    if attempts_made > len(backoff):
        return None
    return now + timedelta(seconds=backoff[attempts_made - 1])


def finish(db: Database, claim: Claim, outcome: Outcome, backoff: Sequence[float]) -> bool:
    """Record the attempt's outcome and drop the lease. False if the lease was lost meanwhile."""
    now = utcnow()
    attempts = claim.attempt + 1
    values: dict[str, Any] = {
        "attempt": attempts,
        "status_code": outcome.status_code,
        "error": None if outcome.ok else (outcome.error or "failed")[:_ERROR_LIMIT],
        "lease_until": None,
        "next_attempt_at": None,
    }
    if outcome.ok:
        values.update(status="delivered", delivered_at=now)
    else:
        retry_at = next_retry(attempts, backoff, now)
        values.update(status="pending" if retry_at else "failed", next_attempt_at=retry_at)
    with db.session() as session:
        result = session.execute(update(Delivery).where(_held(claim)).values(**values))
        return bool(getattr(result, "rowcount", 0) == 1)


def release(db: Database, claim: Claim) -> None:
    """Give the lease back without counting an attempt (the worker stopped before an answer)."""
    with db.session() as session:
        session.execute(update(Delivery).where(_held(claim)).values(lease_until=None))

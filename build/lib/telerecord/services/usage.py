"""Storage usage: bytes stored now and GB-hours per month, from storage spans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from telerecord.clock import utcnow
from telerecord.db.models import Recording, StorageSpan
from telerecord.errors import Unprocessable

GB = 1_000_000_000


@dataclass(frozen=True)
class Usage:
    storage_bytes: int
    recordings: int
    month: str
    gb_hours: float


def month_bounds(month: str) -> tuple[datetime, datetime]:
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise Unprocessable(f"month {month!r} is not YYYY-MM.") from None
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def storage_bytes(session: Session, account_id: str) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(StorageSpan.size_bytes), 0)).where(
            StorageSpan.account_id == account_id, StorageSpan.stored_until.is_(None)
        )
    )
    return int(total or 0)


def usage(session: Session, account_id: str, month: str | None = None) -> Usage:
    now = utcnow()
    month = month or now.strftime("%Y-%m")
    start, end = month_bounds(month)
    spans = session.scalars(
        select(StorageSpan).where(
            StorageSpan.account_id == account_id,
            StorageSpan.stored_from < end,
            or_(StorageSpan.stored_until.is_(None), StorageSpan.stored_until > start),
        )
    ).all()
    byte_seconds = 0.0
    for span in spans:
        lo = max(span.stored_from, start)
        hi = min(span.stored_until or now, end, now)
        if hi > lo:
            byte_seconds += span.size_bytes * (hi - lo).total_seconds()
    count = session.scalar(
        select(func.count()).select_from(Recording).where(Recording.account_id == account_id)
    )
    return Usage(
        storage_bytes(session, account_id), int(count or 0), month, byte_seconds / GB / 3600
    )

"""Cursor pagination, newest first, over (created_at, id)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from telerecord.errors import BadRequest

T = TypeVar("T")


def encode_cursor(created_at: datetime, id_: str) -> str:
    raw = f"{created_at.isoformat()}|{id_}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, id_ = base64.urlsafe_b64decode(padded).decode().split("|", 1)
        return datetime.fromisoformat(created), id_
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("cursor is not valid") from None


def paginate(
    session: Session,
    query: Select[Any],
    created_col: InstrumentedAttribute[datetime],
    id_col: InstrumentedAttribute[str],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Any], str | None]:
    """One page of ``query`` and the cursor of the next page (or None)."""
    if cursor:
        created, id_ = decode_cursor(cursor)
        query = query.where(or_(created_col < created, and_(created_col == created, id_col < id_)))
    rows = session.scalars(query.order_by(created_col.desc(), id_col.desc()).limit(limit + 1)).all()
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(getattr(last, created_col.key), getattr(last, id_col.key))

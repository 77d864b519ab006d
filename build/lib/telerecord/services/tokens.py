"""Publish tokens: who may publish which stream names, and whether it is recorded."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from telerecord.clock import utcnow
from telerecord.db.models import PublishToken
from telerecord.errors import NotFound, Unauthorized, Unprocessable
from telerecord.ids import new_id, new_secret
from telerecord.services.credentials import hash_secret

STREAM_NAME = re.compile(r"^[A-Za-z0-9._~-]{1,200}$")
_PATTERN = re.compile(r"^(\*|[A-Za-z0-9._~-]{1,200}\*?)$")


def check_stream_name(name: str) -> None:
    if not STREAM_NAME.match(name):
        raise Unprocessable(
            f"stream name {name!r} is not valid: use 1-200 letters, digits, '.', '_', '~' or '-'."
        )


def check_patterns(patterns: list[str]) -> None:
    if not patterns:
        raise Unprocessable("streams must list at least one name or pattern.")
    for pattern in patterns:
        if not isinstance(pattern, str) or not _PATTERN.match(pattern):
            raise Unprocessable(
                f"stream pattern {pattern!r} is not valid: use an exact name, 'prefix*' or '*'."
            )


def allows(patterns: list[str], stream_name: str) -> bool:
    """Whether a token with these patterns may publish ``stream_name``."""
    for pattern in patterns:
        if pattern == "*" or pattern == stream_name:
            return True
        if pattern.endswith("*") and stream_name.startswith(pattern[:-1]):
            return True
    return False


def create(
    session: Session, account_id: str, label: str, streams: list[str], record: bool
) -> PublishToken:
    check_patterns(streams)
    token = new_secret("ptk")
    row = PublishToken(
        id=new_id("ptk"),
        account_id=account_id,
        label=label,
        token=token,
        token_hash=hash_secret(token),
        streams=list(streams),
        record=record,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def get(session: Session, account_id: str, token_id: str) -> PublishToken:
    row = session.get(PublishToken, token_id)
    if row is None or row.account_id != account_id:
        raise NotFound(f"Publish token {token_id} does not exist.")
    return row


def list_query(account_id: str):  # type: ignore[no-untyped-def]
    return select(PublishToken).where(PublishToken.account_id == account_id)


def authenticate(session: Session, token: str) -> PublishToken:
    row = session.scalar(select(PublishToken).where(PublishToken.token_hash == hash_secret(token)))
    if row is None:
        raise Unauthorized("The publish token is not valid.")
    return row


def all_for_account(session: Session, account_id: str) -> Sequence[PublishToken]:
    return session.scalars(list_query(account_id)).all()

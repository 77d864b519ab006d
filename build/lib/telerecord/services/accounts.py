"""Accounts and their API secrets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from telerecord.clock import utcnow
from telerecord.db.models import Account, ApiSecret
from telerecord.errors import NotFound, Unauthorized
from telerecord.ids import new_id, new_secret
from telerecord.services.credentials import hash_secret

# last_used_at is a hint, not an audit log: write it at most once a minute per secret.
_LAST_USED_GRANULARITY = timedelta(seconds=60)


@dataclass(frozen=True)
class NewSecret:
    record: ApiSecret
    secret: str


def create_account(session: Session, name: str) -> tuple[Account, NewSecret]:
    """A new account with its first API secret."""
    account = Account(id=new_id("acc"), name=name, created_at=utcnow())
    session.add(account)
    session.flush()
    return account, create_secret(session, account.id, "default")


def create_secret(session: Session, account_id: str, label: str) -> NewSecret:
    secret = new_secret("trs")
    record = ApiSecret(
        id=new_id("sec"),
        account_id=account_id,
        label=label,
        secret_hash=hash_secret(secret),
        created_at=utcnow(),
    )
    session.add(record)
    session.flush()
    return NewSecret(record, secret)


def list_secrets(session: Session, account_id: str) -> Sequence[ApiSecret]:
    query = select(ApiSecret).where(ApiSecret.account_id == account_id)
    return session.scalars(query.order_by(ApiSecret.created_at.desc(), ApiSecret.id.desc())).all()


def revoke_secret(session: Session, account_id: str, secret_id: str) -> None:
    record = session.get(ApiSecret, secret_id)
    if record is None or record.account_id != account_id:
        raise NotFound(f"API secret {secret_id} does not exist.")
    session.delete(record)


def authenticate(session: Session, secret: str) -> str:
    """The account id of an API secret, or Unauthorized."""
    record = session.scalar(select(ApiSecret).where(ApiSecret.secret_hash == hash_secret(secret)))
    if record is None:
        raise Unauthorized("The API secret is not valid.")
    now = utcnow()
    if record.last_used_at is None or now - record.last_used_at > _LAST_USED_GRANULARITY:
        record.last_used_at = now
    return record.account_id


def count_accounts(session: Session) -> int:
    return len(session.scalars(select(Account.id).limit(1)).all())


def get_account(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"Account {account_id} does not exist.")
    return account

"""Per-account settings: retention, quota and the storage override."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from telerecord.db.models import Account
from telerecord.errors import Unprocessable
from telerecord.services.accounts import get_account
from telerecord.storage import parse_storage_url


def as_api(account: Account) -> dict[str, Any]:
    return {
        "retention_days": account.retention_days,
        "quota_bytes": account.quota_bytes,
        "storage": {
            "url": account.storage_url,
            "access_key_id": account.storage_access_key_id,
            "secret_access_key": None,
            "secret_access_key_set": account.storage_secret_access_key is not None,
        },
    }


def update(session: Session, account_id: str, changes: dict[str, Any]) -> Account:
    """Apply the fields present in ``changes`` (a PATCH body)."""
    account = get_account(session, account_id)
    if "retention_days" in changes:
        account.retention_days = changes["retention_days"]
    if "quota_bytes" in changes:
        account.quota_bytes = changes["quota_bytes"]
    storage = changes.get("storage")
    if storage is not None:
        if "url" in storage:
            url = storage["url"]
            if url is not None:
                try:
                    parse_storage_url(url)
                except ValueError as exc:
                    raise Unprocessable(f"storage.url: {exc}") from None
            account.storage_url = url
        if "access_key_id" in storage:
            account.storage_access_key_id = storage["access_key_id"]
        if "secret_access_key" in storage:
            account.storage_secret_access_key = storage["secret_access_key"]
    return account

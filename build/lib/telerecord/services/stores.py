"""Which storage a recording's assets go to: the account's own, or the service default."""

from __future__ import annotations

from telerecord.db.models import Account
from telerecord.settings import Settings
from telerecord.storage import open_storage
from telerecord.storage.base import Storage


def for_account(settings: Settings, account: Account) -> Storage:
    if account.storage_url:
        return open_storage(
            account.storage_url,
            data_dir=settings.data_dir,
            access_key_id=account.storage_access_key_id,
            secret_access_key=account.storage_secret_access_key,
        )
    return open_storage(settings.storage_url, data_dir=settings.data_dir)


def url_for_account(settings: Settings, account: Account) -> str:
    """The storage URL new recordings of this account go to (kept on each recording)."""
    return account.storage_url or settings.storage_url


def for_recording(settings: Settings, account: Account, storage_url: str | None) -> Storage:
    """The storage a recording was written to (it keeps its URL even if the account moves on)."""
    if storage_url is None or storage_url == settings.storage_url:
        return open_storage(settings.storage_url, data_dir=settings.data_dir)
    if storage_url == account.storage_url:
        return for_account(settings, account)
    return open_storage(storage_url, data_dir=settings.data_dir)

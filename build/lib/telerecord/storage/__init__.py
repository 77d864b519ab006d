"""Where recordings are kept: one interface, backends chosen by URL."""

from __future__ import annotations

from pathlib import Path

from telerecord.storage.base import Storage, StorageError, StoredObject
from telerecord.storage.local import LocalStorage
from telerecord.storage.s3 import S3Storage
from telerecord.storage.url import S3URL, LocalURL, StorageURL, parse_storage_url

__all__ = [
    "S3URL",
    "LocalStorage",
    "LocalURL",
    "S3Storage",
    "Storage",
    "StorageError",
    "StorageURL",
    "StoredObject",
    "open_storage",
    "parse_storage_url",
]


def open_storage(
    url: str,
    *,
    data_dir: Path,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
) -> Storage:
    """The backend for a storage URL ("file://" = data_dir/"storage"); ValueError if invalid.

    Credentials apply to S3 only (ignored for file://); without them boto3's default
    chain is used.
    """
    location = parse_storage_url(url)
    if isinstance(location, S3URL):
        return S3Storage(location, access_key_id=access_key_id, secret_access_key=secret_access_key)
    return LocalStorage(location.path or data_dir / "storage")

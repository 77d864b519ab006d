"""The storage interface shared by every backend, and key rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class StoredObject:
    """An object as stored and verified: its key, size in bytes and hex sha256."""

    key: str
    size: int
    sha256: str


class StorageError(Exception):
    """A storage operation failed (after any retries); the local copy must be kept."""


class Storage(Protocol):
    """Where a recording's files live. Keys are relative, "/"-separated paths."""

    url: str

    def put_file(self, key: str, path: Path, *, content_type: str) -> StoredObject:
        """Store `path` under `key`, verified (size + checksum) before returning.

        Never deletes `path`; the caller removes its copy after success.
        """
        ...

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def local_path(self, key: str) -> Path | None: ...

    def read_bytes(self, key: str) -> bytes:
        """The whole object (for small ones, such as a DASH manifest)."""
        ...

    def get_file(self, key: str, dest: Path) -> None:
        """Copy the object to the local file ``dest``."""
        ...

    def presign(self, key: str, expires_in: int, *, filename: str | None = None) -> str | None: ...


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative key, else raise ValueError.

    Safe: non-empty "/"-separated segments, none of them "." or "..", no backslash or NUL,
    so a key can never leave the storage root of the local backend.
    """
    if not key or key.startswith("/") or key.endswith("/"):
        raise ValueError(f"invalid storage key {key!r}: must be a relative path to a file")
    _check_segments(key, key.split("/"))
    return key


def check_prefix(prefix: str) -> str:
    """Return `prefix` if it is a safe, non-empty key prefix (e.g. "rec_x/"), else ValueError."""
    if not prefix or prefix.startswith("/"):
        raise ValueError(f"invalid storage prefix {prefix!r}: must be a non-empty relative path")
    segments = prefix.split("/")
    if segments[-1] == "":
        segments = segments[:-1]
    _check_segments(prefix, segments)
    return prefix


def _check_segments(value: str, segments: list[str]) -> None:
    for segment in segments:
        if segment in ("", ".", "..") or "\\" in segment or "\0" in segment:
            raise ValueError(f"invalid storage key {value!r}: bad segment {segment!r}")

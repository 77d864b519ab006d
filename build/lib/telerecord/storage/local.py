"""Local directory backend: files under a root directory, keys as relative paths."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import uuid
from pathlib import Path

from telerecord.storage.base import StoredObject, check_key, check_prefix
from telerecord.storage.checksum import sha256_file
from telerecord.storage.retry import RetryPolicy, retry

logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
# Errors worth another try; others (missing source, permissions) will not heal by waiting.
_TRANSIENT_ERRNOS = {errno.EIO, errno.EAGAIN, errno.EBUSY, errno.ESTALE, errno.ETIMEDOUT}


class VerificationError(OSError):
    """The stored file does not match the source (size or sha256)."""


class LocalStorage:
    """Files in a local directory.

    put_file hard-links the source when it is on the same filesystem (nothing is copied);
    otherwise it copies to a temporary name, fsyncs, re-reads to verify size and sha256,
    and renames into place atomically.
    """

    def __init__(
        self, root: Path, *, hard_link: bool = True, retry_policy: RetryPolicy | None = None
    ) -> None:
        self.root = root.absolute()
        self.url = self.root.as_uri()
        self.hard_link = hard_link
        self.retry_policy = retry_policy or RetryPolicy()

    def put_file(self, key: str, path: Path, *, content_type: str) -> StoredObject:
        """Store `path` under `key` (content_type is not kept locally); never removes `path`."""
        dest = self.root / check_key(key)
        return retry(
            lambda: self._put(key, path, dest),
            policy=self.retry_policy,
            is_transient=_is_transient,
            what=f"storing {key} in {self.url}",
        )

    def delete(self, key: str) -> None:
        """Remove the file if present; empty directories left behind are removed too."""
        path = self.root / check_key(key)
        path.unlink(missing_ok=True)
        self._prune(path.parent)

    def delete_prefix(self, prefix: str) -> None:
        """Remove every key starting with `prefix` (as S3 does: "rec_x/" is a folder)."""
        target = self.root / check_prefix(prefix)
        folder, name = (target, "") if prefix.endswith("/") else (target.parent, target.name)
        if not folder.is_dir():
            return
        for entry in folder.iterdir():
            if not entry.name.startswith(name):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)
        self._prune(folder)

    def exists(self, key: str) -> bool:
        return (self.root / check_key(key)).is_file()

    def local_path(self, key: str) -> Path | None:
        """The file's path under the root (it may not exist)."""
        return self.root / check_key(key)

    def read_bytes(self, key: str) -> bytes:
        return (self.root / check_key(key)).read_bytes()

    def get_file(self, key: str, dest: Path) -> None:
        shutil.copyfile(self.root / check_key(key), dest)

    def presign(self, key: str, expires_in: int, *, filename: str | None = None) -> str | None:
        """Local files are served through the service's own signed URLs: None."""
        check_key(key)
        return None

    def _put(self, key: str, source: Path, dest: Path) -> StoredObject:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists() and os.path.samefile(source, dest):
            size, sha256 = sha256_file(dest)
            return StoredObject(key=key, size=size, sha256=sha256)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        try:
            if self.hard_link and _try_link(source, tmp):
                size, sha256 = _verify_link(source, tmp)
            else:
                size, sha256 = _copy_verified(source, tmp)
            os.replace(tmp, dest)
            _fsync_dir(dest.parent)
        finally:
            tmp.unlink(missing_ok=True)
        logger.debug("stored %s (%d bytes) at %s", key, size, dest)
        return StoredObject(key=key, size=size, sha256=sha256)

    def _prune(self, folder: Path) -> None:
        # Remove now-empty directories up to (not including) the root.
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent


def _try_link(source: Path, tmp: Path) -> bool:
    try:
        os.link(source, tmp)
    except FileNotFoundError:
        raise
    except OSError as exc:
        # EXDEV (other filesystem), EPERM/ENOTSUP (no hard links there), EMLINK: copy instead.
        logger.debug("hard link %s -> %s failed (%s); copying", source, tmp, exc)
        return False
    return True


def _verify_link(source: Path, tmp: Path) -> tuple[int, str]:
    src, new = source.stat(), tmp.stat()
    if (src.st_dev, src.st_ino) != (new.st_dev, new.st_ino) or src.st_size != new.st_size:
        raise VerificationError(f"hard link {tmp} does not point at {source}")
    return sha256_file(tmp)


def _copy_verified(source: Path, tmp: Path) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    with source.open("rb") as src, tmp.open("xb") as out:
        while chunk := src.read(_CHUNK):
            sha.update(chunk)
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
        if hasattr(os, "posix_fadvise"):
            # Drop the cached pages so the verification below reads what reached the disk.
            os.posix_fadvise(out.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    stored_size, stored_sha = sha256_file(tmp)
    if (stored_size, stored_sha) != (size, sha.hexdigest()):
        raise VerificationError(
            f"copy of {source} does not verify: {stored_size} bytes sha256 {stored_sha}, "
            f"expected {size} bytes sha256 {sha.hexdigest()}"
        )
    return size, stored_sha


def _fsync_dir(folder: Path) -> None:
    # Makes the rename durable: without it a crash could forget the new name.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, VerificationError):
        return True
    return isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS

"""Checksums of local files as the backends verify them: sha256, and S3's MD5-based ETags."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileDigest:
    """One read of a file: its size, sha256 and the MD5 of each part of `part_size` bytes."""

    size: int
    sha256: str
    part_md5s: list[bytes]


def sha256_file(path: Path) -> tuple[int, str]:
    """Return (size, hex sha256) of the file, read in chunks."""
    digest = file_digest(path, part_size=0)
    return digest.size, digest.sha256


def file_digest(path: Path, *, part_size: int) -> FileDigest:
    """Read the file once; MD5s per part only when part_size > 0."""
    if part_size <= 0:
        # No parts: sha256 alone, read by hashlib in C (MD5 as well would triple the time).
        with path.open("rb") as f:
            sha256 = hashlib.file_digest(f, "sha256").hexdigest()
            return FileDigest(size=f.tell(), sha256=sha256, part_md5s=[])
    sha = hashlib.sha256()
    md5s: list[bytes] = []
    size = 0
    with path.open("rb") as f:
        while True:
            part = hashlib.md5(usedforsecurity=False)
            part_len = 0
            while part_size <= 0 or part_len < part_size:
                want = _CHUNK if part_size <= 0 else min(_CHUNK, part_size - part_len)
                chunk = f.read(want)
                if not chunk:
                    break
                sha.update(chunk)
                part.update(chunk)
                part_len += len(chunk)
            size += part_len
            if part_size > 0 and (part_len or not md5s):
                md5s.append(part.digest())
            if part_size <= 0 or part_len < part_size:
                break
    return FileDigest(size=size, sha256=sha.hexdigest(), part_md5s=md5s)


def multipart_etag(part_md5s: list[bytes]) -> str:
    """The ETag S3 gives a multipart object: md5 of the concatenated part MD5s, "-", part count."""
    joined = hashlib.md5(b"".join(part_md5s), usedforsecurity=False).hexdigest()
    return f"{joined}-{len(part_md5s)}"

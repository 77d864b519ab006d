"""Storage URLs: which backend, and where.

file://                        local directory data_dir/"storage" (the default)
file:///abs/path               local directory /abs/path
s3://bucket[/prefix][?endpoint_url=https://host:port&region=eu-west-1&addressing_style=path]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_S3_PARAMS = ("endpoint_url", "region", "addressing_style")
_ADDRESSING_STYLES = ("auto", "path", "virtual")


@dataclass(frozen=True)
class LocalURL:
    """A local directory; `path` None means the default, data_dir/"storage"."""

    path: Path | None


@dataclass(frozen=True)
class S3URL:
    """A bucket and a key prefix ("" or ending in "/") on an S3-compatible service."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    addressing_style: str | None = None

    def __str__(self) -> str:
        params = {n: v for n in _S3_PARAMS if (v := getattr(self, n)) is not None}
        query = urlencode(params, safe=":/")
        return f"s3://{self.bucket}/{quote(self.prefix)}" + (f"?{query}" if query else "")


StorageURL = LocalURL | S3URL


def parse_storage_url(url: str) -> StorageURL:
    """Parse a storage URL; raise ValueError with a message fit for an API client."""
    parts = urlsplit(url.strip())
    if parts.scheme == "file":
        return _parse_file(url, parts.netloc, parts.path, parts.query)
    if parts.scheme == "s3":
        return _parse_s3(url, parts.netloc, parts.path, parts.query)
    raise ValueError(
        f"unsupported storage URL {url!r}: use file:///absolute/path or s3://bucket/prefix"
    )


def _parse_file(url: str, netloc: str, path: str, query: str) -> LocalURL:
    if netloc or query:
        raise ValueError(
            f"invalid storage URL {url!r}: use file:// (default directory) or file:///absolute/path"
        )
    if not path:
        return LocalURL(None)
    local = Path(unquote(path))
    if not local.is_absolute() or ".." in local.parts:
        raise ValueError(f"invalid storage URL {url!r}: the path must be absolute, without '..'")
    return LocalURL(local)


def _parse_s3(url: str, netloc: str, path: str, query: str) -> S3URL:
    if "@" in netloc:
        raise ValueError(f"invalid storage URL {url!r}: pass credentials separately, not in it")
    if not _BUCKET.match(netloc) or ".." in netloc:
        raise ValueError(f"invalid storage URL {url!r}: {netloc!r} is not a valid bucket name")
    params = _parse_s3_query(url, query)
    return S3URL(bucket=netloc, prefix=_parse_prefix(url, path), **params)


def _parse_prefix(url: str, path: str) -> str:
    segments = [s for s in unquote(path).split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise ValueError(f"invalid storage URL {url!r}: the prefix must not contain '.' or '..'")
    return "".join(f"{s}/" for s in segments)


def _parse_s3_query(url: str, query: str) -> dict[str, str]:
    try:
        raw = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise ValueError(f"invalid storage URL {url!r}: bad query string") from exc
    unknown = sorted(set(raw) - set(_S3_PARAMS))
    if unknown:
        raise ValueError(
            f"invalid storage URL {url!r}: unknown parameter(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(_S3_PARAMS)}"
        )
    params: dict[str, str] = {}
    for name, values in raw.items():
        if len(values) != 1 or not values[0]:
            raise ValueError(f"invalid storage URL {url!r}: {name} needs exactly one value")
        params[name] = values[0]
    _check_endpoint(url, params.get("endpoint_url"))
    style = params.get("addressing_style")
    if style is not None and style not in _ADDRESSING_STYLES:
        raise ValueError(
            f"invalid storage URL {url!r}: addressing_style must be one of "
            f"{', '.join(_ADDRESSING_STYLES)}"
        )
    return params


def _check_endpoint(url: str, endpoint: str | None) -> None:
    if endpoint is None:
        return
    parts = urlsplit(endpoint)
    try:
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"invalid storage URL {url!r}: endpoint_url must be an http(s) URL, got {endpoint!r}"
        )

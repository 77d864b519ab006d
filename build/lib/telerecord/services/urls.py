"""URLs handed to clients: service-signed for local files, presigned for S3."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from telerecord.settings import Settings
from telerecord.signing import make_token
from telerecord.storage.base import Storage

DEFAULT_EXPIRES_IN = 3600
MAX_EXPIRES_IN = 7 * 24 * 3600


@dataclass(frozen=True)
class SignedUrl:
    url: str
    expires_at: datetime


def signed_url(
    settings: Settings, storage: Storage, key: str, expires_in: int, *, scope: str | None = None
) -> SignedUrl:
    """A URL for ``key`` valid ``expires_in`` seconds.

    ``scope`` (a prefix ending in "/") signs a whole folder, so relative URLs inside a DASH
    manifest keep working. S3 files get S3's own presigned URL unless a scope is asked for: the
    service then serves the manifest and redirects each segment to a presigned URL.
    """
    expires = int(time.time()) + expires_in
    if scope is None:
        presigned = storage.presign(key, expires_in, filename=key.rsplit("/", 1)[-1])
        if presigned is not None:
            return SignedUrl(presigned, datetime.fromtimestamp(expires, UTC))
    token = make_token(settings.signing_key.encode(), scope or key, expires)
    return SignedUrl(
        f"{settings.public_url}/media/{token}/{key}", datetime.fromtimestamp(expires, UTC)
    )

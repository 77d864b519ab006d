"""Hashing of bearer credentials: stored as SHA-256, compared by lookup of the hash."""

from __future__ import annotations

import hashlib


def hash_secret(secret: str) -> str:
    # Secrets are 32 random bytes, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()

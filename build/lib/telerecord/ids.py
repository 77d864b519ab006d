"""Opaque, prefixed identifiers (API.md: `acc_`, `rec_`, ...)."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    """A new random id such as ``rec_3kq0...`` (prefix without the underscore)."""
    return f"{prefix}_{secrets.token_urlsafe(12).replace('-', 'x').replace('_', 'y')}"


def new_secret(prefix: str) -> str:
    """A bearer credential with a readable prefix; 32 random bytes."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"

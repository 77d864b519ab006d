"""Signed, expiring tokens for media URLs: `{public_url}/media/{token}/{path}`.

A token carries its scope (one path, or a prefix ending in "/" such as a DASH folder)
and its expiry, both under an HMAC-SHA256. Layout before base64url (no padding):
8-byte big-endian expiry | scope (UTF-8) | 32-byte MAC.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct

_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]+")
_MAC_LEN = 32
_EXPIRY = struct.Struct(">Q")
# Domain separation: a MAC made for something else with the same key never passes here.
_CONTEXT = b"telerecord-media-token-v1\x00"


def make_token(key: bytes, scope: str, expires_at: int) -> str:
    """A URL-safe token (no "/", no padding) granting `scope` until `expires_at` (unix s)."""
    if not key:
        raise ValueError("signing key must not be empty")
    if not is_safe_path(scope.removesuffix("/")):
        raise ValueError(f"invalid token scope {scope!r}")
    payload = _EXPIRY.pack(expires_at) + scope.encode("utf-8")
    return _b64encode(payload + _mac(key, payload))


def check_token(key: bytes, token: str, path: str, now: float) -> bool:
    """True iff the token is authentic, not expired at `now` and its scope covers `path`.

    A scope "rec_x/dash/" covers every path below it; any other scope only itself.
    Paths with "", "." or ".." segments are refused outright.
    """
    payload = _b64decode(token)
    if payload is None or len(payload) <= _EXPIRY.size + _MAC_LEN:
        return False
    payload, mac = payload[:-_MAC_LEN], payload[-_MAC_LEN:]
    if not hmac.compare_digest(mac, _mac(key, payload)):
        return False
    (expires_at,) = _EXPIRY.unpack_from(payload)
    if now >= expires_at:
        return False
    try:
        scope = payload[_EXPIRY.size :].decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not is_safe_path(path):
        return False
    return path == scope or (scope.endswith("/") and path.startswith(scope))


def is_safe_path(path: str) -> bool:
    """A relative path of plain segments: no empty, "." or ".." segment, no "\\" or NUL."""
    if not path:
        return False
    return all(
        segment not in ("", ".", "..") and "\\" not in segment and "\0" not in segment
        for segment in path.split("/")
    )


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, _CONTEXT + payload, hashlib.sha256).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(token: str) -> bytes | None:
    if not _TOKEN_CHARS.fullmatch(token):
        return None
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None

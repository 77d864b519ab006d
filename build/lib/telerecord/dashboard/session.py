"""The dashboard's login session: a signed cookie naming an API secret, and its CSRF token.

The cookie holds ``{secret_id, account_id, expires_at}`` under an HMAC-SHA256 whose key is
derived from the service signing key for this purpose only, so neither a media token nor a
CSRF token can ever pass as a session. Every request re-checks that the API secret still
exists: revoking it through the API ends the dashboard session at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from telerecord.db.models import ApiSecret
from telerecord.services import accounts
from telerecord.services.credentials import hash_secret

COOKIE_NAME = "telerecord_session"
SESSION_SECONDS = 12 * 3600
_SESSION_PURPOSE = b"telerecord-dashboard-session-v1"
_CSRF_PURPOSE = b"telerecord-dashboard-csrf-v1"


@dataclass(frozen=True)
class DashboardSession:
    secret_id: str
    account_id: str
    expires_at: int  # unix seconds


def _derive(signing_key: str, purpose: bytes) -> bytes:
    if not signing_key:
        raise ValueError("signing key must not be empty")
    return hmac.new(signing_key.encode(), purpose, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def encode(session: DashboardSession, signing_key: str) -> str:
    """The cookie value: base64url(JSON) "." base64url(MAC)."""
    body = {"sid": session.secret_id, "aid": session.account_id, "exp": session.expires_at}
    payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    mac = hmac.new(_derive(signing_key, _SESSION_PURPOSE), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def decode(value: str, signing_key: str, now: float | None = None) -> DashboardSession | None:
    """The session in a cookie value, or None if it is forged, malformed or expired."""
    payload_text, _, mac_text = value.partition(".")
    payload, mac = _unb64(payload_text), _unb64(mac_text)
    if payload is None or mac is None:
        return None
    expected = hmac.new(_derive(signing_key, _SESSION_PURPOSE), payload, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        body = json.loads(payload)
        session = DashboardSession(str(body["sid"]), str(body["aid"]), int(body["exp"]))
    except (ValueError, KeyError, TypeError):
        return None
    if (time.time() if now is None else now) >= session.expires_at:
        return None
    return session


def csrf_token(cookie_value: str, signing_key: str) -> str:
    """The token forms must echo: an HMAC of the session cookie under its own derived key."""
    key = _derive(signing_key, _CSRF_PURPOSE)
    return hmac.new(key, cookie_value.encode(), hashlib.sha256).hexdigest()


def check_csrf(cookie_value: str, token: str | None, signing_key: str) -> bool:
    if not token:
        return False
    return hmac.compare_digest(csrf_token(cookie_value, signing_key).encode(), token.encode())


def login(db: Session, secret: str, now: float | None = None) -> DashboardSession:
    """A session for an API secret; raises Unauthorized if the secret is not valid."""
    account_id = accounts.authenticate(db, secret)
    secret_id = db.scalar(select(ApiSecret.id).where(ApiSecret.secret_hash == hash_secret(secret)))
    assert secret_id is not None  # authenticate just found it in this transaction
    started = time.time() if now is None else now
    return DashboardSession(secret_id, account_id, int(started) + SESSION_SECONDS)


def still_valid(db: Session, session: DashboardSession) -> bool:
    """True while the session's API secret exists and belongs to the session's account."""
    record = db.get(ApiSecret, session.secret_id)
    return record is not None and record.account_id == session.account_id

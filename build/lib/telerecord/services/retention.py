"""The scheduled sweep: delete expired recordings, then the oldest ones past the quota."""

from __future__ import annotations

import logging

from sqlalchemy import select

from telerecord.clock import utcnow
from telerecord.db.models import Account, Recording
from telerecord.errors import NotFound
from telerecord.runtime import Runtime
from telerecord.services import usage
from telerecord.services.deletion import delete_recording

log = logging.getLogger(__name__)

FINISHED = ("complete", "failed")


def sweep(runtime: Runtime) -> list[str]:
    """Delete what retention and quotas say must go; returns the deleted ids."""
    deleted: list[str] = []
    with runtime.db.session() as session:
        accounts = session.scalars(
            select(Account).where(
                (Account.retention_days.is_not(None)) | (Account.quota_bytes.is_not(None))
            )
        ).all()
        plans = [(a.id, a.quota_bytes) for a in accounts]
        expired = session.execute(
            select(Recording.account_id, Recording.id).where(
                Recording.expires_at.is_not(None),
                Recording.expires_at <= utcnow(),
                Recording.status.in_(FINISHED),
            )
        ).all()
    for account_id, recording_id in expired:
        _delete(runtime, account_id, recording_id, "expired", deleted)
    for account_id, quota in plans:
        if quota is not None:
            _enforce_quota(runtime, account_id, quota, deleted)
    return deleted


def _enforce_quota(runtime: Runtime, account_id: str, quota: int, deleted: list[str]) -> None:
    with runtime.db.session() as session:
        used = usage.storage_bytes(session, account_id)
        if used <= quota:
            return
        oldest = session.execute(
            select(Recording.id, Recording.size_bytes)
            .where(Recording.account_id == account_id, Recording.status == "complete")
            .order_by(Recording.created_at, Recording.id)
        ).all()
    for recording_id, size in oldest:
        if used <= quota:
            break
        _delete(runtime, account_id, recording_id, "over quota", deleted)
        used -= size


def _delete(
    runtime: Runtime, account_id: str, recording_id: str, why: str, deleted: list[str]
) -> None:
    try:
        delete_recording(runtime, account_id, recording_id)
    except NotFound:
        return
    log.info("recording %s: deleted by retention (%s)", recording_id, why)
    deleted.append(recording_id)

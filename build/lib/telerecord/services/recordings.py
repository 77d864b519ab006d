"""Recording rows: creation, state changes, listing and their API shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from telerecord.clock import isoformat, utcnow
from telerecord.db.models import Recording
from telerecord.errors import Conflict, NotFound
from telerecord.ids import new_id
from telerecord.services import events

FILTERS = ("kind", "status", "stream_name", "publish_token_id", "room_id", "session_id")
LIVE_STATUSES = ("recording", "paused")


def create_stream_recording(
    session: Session,
    *,
    account_id: str,
    stream_name: str,
    source_id: str | None,
    publish_token_id: str | None,
    spool_dir: str,
    recording_id: str | None = None,
) -> Recording:
    now = utcnow()
    rec = Recording(
        id=recording_id or new_id("rec"),
        account_id=account_id,
        kind="stream",
        status="recording",
        stream_name=stream_name,
        source_id=source_id,
        publish_token_id=publish_token_id,
        started_at=now,
        created_at=now,
        spool_dir=spool_dir,
        sizes={},
        tracks=[],
    )
    session.add(rec)
    session.flush()
    events.emit(session, account_id, "recording.started", {"recording": as_api(rec)})
    return rec


def get(session: Session, account_id: str, recording_id: str) -> Recording:
    rec = session.get(Recording, recording_id)
    if rec is None or rec.account_id != account_id:
        raise NotFound(f"Recording {recording_id} does not exist.")
    return rec


def list_query(account_id: str, filters: dict[str, str | None]) -> Select[Any]:
    query = select(Recording).where(Recording.account_id == account_id)
    for name in FILTERS:
        value = filters.get(name)
        if value is not None:
            query = query.where(getattr(Recording, name) == value)
    return query


def set_paused(session: Session, recording_id: str, paused: bool) -> Recording:
    rec = session.get(Recording, recording_id)
    if rec is None:
        raise NotFound(f"Recording {recording_id} does not exist.")
    expected = "recording" if paused else "paused"
    if rec.status != expected:
        raise Conflict(f"Recording {recording_id} is {rec.status}, not {expected}.")
    rec.status = "paused" if paused else "recording"
    return rec


def mark_stopped(
    session: Session,
    recording_id: str,
    *,
    ended_at: datetime | None = None,
    av_drift_ms: float | None = None,
    recovered: bool = False,
) -> Recording:
    """The live part is over: the recording waits for processing."""
    rec = session.get(Recording, recording_id)
    if rec is None:
        raise NotFound(f"Recording {recording_id} does not exist.")
    rec.status = "processing"
    rec.ended_at = ended_at or utcnow()
    rec.av_drift_ms = av_drift_ms
    rec.recovered = rec.recovered or recovered
    events.emit(session, rec.account_id, "recording.stopped", {"recording": as_api(rec)})
    return rec


def mark_failed(session: Session, rec: Recording, error: str) -> None:
    rec.status = "failed"
    rec.error = error
    if rec.ended_at is None:
        rec.ended_at = utcnow()
    events.emit(session, rec.account_id, "recording.failed", {"recording": as_api(rec)})


def as_api(rec: Recording) -> dict[str, Any]:
    """The recording object of API.md."""
    return {
        "id": rec.id,
        "kind": rec.kind,
        "status": rec.status,
        "stream_name": rec.stream_name,
        "source_id": rec.source_id,
        "publish_token_id": rec.publish_token_id,
        "room_id": rec.room_id,
        "session_id": rec.session_id,
        "peer": rec.peer,
        "started_at": isoformat(rec.started_at),
        "ended_at": isoformat(rec.ended_at),
        "duration": rec.duration,
        "format": rec.format,
        "recovered": bool(rec.recovered),
        "error": rec.error,
        "av_drift_ms": rec.av_drift_ms,
        "size_bytes": rec.size_bytes or 0,
        "sizes": {"file": 0, "dash": 0, "thumbnails": 0, **(rec.sizes or {})},
        "tracks": list(rec.tracks or []),
        "expires_at": isoformat(rec.expires_at),
        "created_at": isoformat(rec.created_at),
    }

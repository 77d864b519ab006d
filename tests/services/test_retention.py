"""The retention sweep: expired recordings go, then the oldest ones past the quota."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from telerecord.clock import utcnow
from telerecord.db.models import Account, Asset, Event, Recording, StorageSpan
from telerecord.ids import new_id
from telerecord.services import retention
from telerecord.storage import open_storage


def _stored_recording(
    runtime: Any, account_id: str, size: int, age_days: float, **extra: Any
) -> str:
    settings = runtime.settings
    storage = open_storage(settings.storage_url, data_dir=settings.data_dir)
    rec_id = new_id("rec")
    src = settings.data_dir / f"{rec_id}.webm"
    src.write_bytes(b"x" * size)
    obj = storage.put_file(
        f"{account_id}/{rec_id}/file/recording.webm", src, content_type="video/webm"
    )
    created = utcnow() - timedelta(days=age_days)
    with runtime.db.session() as session:
        session.add(
            Recording(
                id=rec_id,
                account_id=account_id,
                status="complete",
                stream_name="s",
                started_at=created,
                created_at=created,
                size_bytes=size,
                sizes={"file": size},
                tracks=[],
                storage_url=settings.storage_url,
                storage_prefix=f"{account_id}/{rec_id}",
                **extra,
            )
        )
        session.flush()
        session.add(
            Asset(
                recording_id=rec_id,
                type="file",
                name="file/recording.webm",
                key=obj.key,
                size_bytes=obj.size,
                sha256=obj.sha256,
                content_type="video/webm",
            )
        )
        session.add(
            StorageSpan(
                account_id=account_id, recording_id=rec_id, size_bytes=size, stored_from=created
            )
        )
    return rec_id


def _exists(runtime: Any, rec_id: str) -> bool:
    with runtime.db.session() as session:
        return session.get(Recording, rec_id) is not None


def test_expired_recordings_are_deleted(runtime: Any, account: tuple[str, str]) -> None:
    account_id = account[0]
    old = _stored_recording(runtime, account_id, 100, 10, expires_at=utcnow() - timedelta(hours=1))
    fresh = _stored_recording(runtime, account_id, 100, 1, expires_at=utcnow() + timedelta(days=5))
    forever = _stored_recording(runtime, account_id, 100, 400)
    assert retention.sweep(runtime) == [old]
    assert not _exists(runtime, old) and _exists(runtime, fresh) and _exists(runtime, forever)
    root = Path(runtime.settings.storage_url.removeprefix("file://"))
    assert not (root / account_id / old).exists()
    assert (root / account_id / fresh / "file" / "recording.webm").exists()
    with runtime.db.session() as session:
        types = session.scalars(select(Event.type)).all()
        span = session.scalar(select(StorageSpan).where(StorageSpan.recording_id == old))
    assert "recording.deleted" in types
    assert span is not None and span.stored_until is not None


def test_quota_deletes_oldest_first(runtime: Any, account: tuple[str, str]) -> None:
    account_id = account[0]
    oldest = _stored_recording(runtime, account_id, 400, 3)
    middle = _stored_recording(runtime, account_id, 400, 2)
    newest = _stored_recording(runtime, account_id, 400, 1)
    with runtime.db.session() as session:
        acc = session.get(Account, account_id)
        assert acc is not None
        acc.quota_bytes = 900
    assert retention.sweep(runtime) == [oldest]
    assert _exists(runtime, middle) and _exists(runtime, newest)
    assert retention.sweep(runtime) == []

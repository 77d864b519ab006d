"""Deleting recordings: every asset on every backend, now; then the row, with an event."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from sqlalchemy import update

from telerecord.clock import utcnow
from telerecord.db.models import Account, Recording, StorageSpan
from telerecord.runtime import Runtime
from telerecord.services import events, recordings, stores

log = logging.getLogger(__name__)


def delete_recording(runtime: Runtime, account_id: str, recording_id: str) -> None:
    """Remove a recording and all it stored. Raises NotFound for unknown or foreign ids."""
    with runtime.db.session() as session:
        rec = recordings.get(session, account_id, recording_id)
        account = session.get(Account, account_id)
        assert account is not None
        storage = stores.for_recording(runtime.settings, account, rec.storage_url)
        prefix = rec.storage_prefix or f"{account_id}/{recording_id}"
        spool = rec.spool_dir
        live = rec.status in recordings.LIVE_STATUSES
    if live and runtime.ingest is not None:
        runtime.ingest.discard_recording(recording_id)
    # Storage first: if it fails, the row stays and the caller can retry; never the reverse.
    storage.delete_prefix(prefix + "/")
    if spool:
        shutil.rmtree(Path(spool), ignore_errors=True)
    shutil.rmtree(runtime.settings.work_dir / recording_id, ignore_errors=True)
    with runtime.db.session() as session:
        row = session.get(Recording, recording_id)
        if row is None:
            return
        data = {"recording": recordings.as_api(row)}
        session.execute(
            update(StorageSpan)
            .where(StorageSpan.recording_id == recording_id, StorageSpan.stored_until.is_(None))
            .values(stored_until=utcnow())
        )
        session.delete(row)
        events.emit(session, account_id, "recording.deleted", data)
    log.info("recording %s: deleted", recording_id)

"""Turn a stopped recording's spool into stored outputs: file, DASH, thumbnails, metadata.

Runs in a job worker thread, never on the event loop. Idempotent: a retry after a crash or a
failed upload redoes the work from the spool, which is only removed once everything is stored.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, delete, or_, update

from telerecord.clock import isoformat, utcnow
from telerecord.db.models import Account, Asset, Recording, StorageSpan
from telerecord.media.dash import package_dash
from telerecord.media.errors import MediaError
from telerecord.media.finalize import join_pieces
from telerecord.media.probe import MediaInfo, probe
from telerecord.media.thumbnails import make_thumbnails
from telerecord.runtime import Runtime
from telerecord.services import events, recordings, stores, urls
from telerecord.settings import Settings
from telerecord.storage.base import Storage, StoredObject

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".webm": "video/webm",
    ".mp4": "video/mp4",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".jpg": "image/jpeg",
    ".vtt": "text/vtt",
    ".chk": "video/webm",
}


class PermanentFailure(Exception):
    """Processing cannot succeed by retrying (nothing usable was recorded)."""


class LeaseHeld(Exception):
    """Another worker is processing this recording; look again after ``until``."""

    def __init__(self, recording_id: str, until: datetime) -> None:
        super().__init__(f"recording {recording_id} is being processed until {until}")
        self.until = until


# Longer than any processing run (a 10-hour recording takes minutes); a worker that died
# mid-way holds its recording this long before another may take it.
LEASE = timedelta(minutes=15)


@dataclass(frozen=True)
class Output:
    type: str  # file | dash | poster | thumbnail | sprite | vtt
    name: str  # path under the recording's prefix, e.g. "dash/manifest.mpd"
    path: Path


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")


def _file_step(settings: Settings, src: Path, work: Path) -> list[Output]:
    return [Output("file", f"file/{src.name}", src)]


def _dash_step(settings: Settings, src: Path, work: Path) -> list[Output]:
    out_dir = work / "dash"
    files = package_dash(src, out_dir, segment_seconds=settings.dash_segment_seconds)
    return [Output("dash", f"dash/{p.relative_to(out_dir).as_posix()}", p) for p in files]


def _thumbnail_step(settings: Settings, src: Path, work: Path) -> list[Output]:
    try:
        thumbs = make_thumbnails(src, work / "thumbnails", interval=settings.thumbnail_interval)
    except MediaError:
        return []  # audio only: there is nothing to show
    outputs = [Output("poster", f"thumbnails/{thumbs.poster.name}", thumbs.poster)]
    outputs += [Output("thumbnail", f"thumbnails/{p.name}", p) for p in thumbs.images]
    outputs.append(Output("sprite", f"thumbnails/{thumbs.sprite.name}", thumbs.sprite))
    outputs.append(Output("vtt", f"thumbnails/{thumbs.vtt.name}", thumbs.vtt))
    return outputs


STEPS: dict[str, Callable[[Settings, Path, Path], list[Output]]] = {
    "file": _file_step,
    "dash": _dash_step,
    "thumbnails": _thumbnail_step,
}
SIZE_GROUPS = {"file": "file", "dash": "dash"}  # everything else counts as "thumbnails"


def process(runtime: Runtime, recording_id: str) -> None:
    """Do the whole pipeline for one recording in status ``processing``."""
    settings = runtime.settings
    if not _claim(runtime, recording_id):
        log.info("recording %s: nothing to process", recording_id)
        return
    with runtime.db.session() as session:
        rec = session.get(Recording, recording_id)
        assert rec is not None
        account = session.get(Account, rec.account_id)
        assert account is not None
        storage = stores.for_account(settings, account)
        storage_url = stores.url_for_account(settings, account)
        spool = Path(rec.spool_dir or settings.spool_dir / recording_id)
        prefix = f"{rec.account_id}/{rec.id}"
        retention_days = account.retention_days

    work = settings.work_dir / recording_id
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    done = False
    try:
        try:
            joined = join_pieces(spool, work / "file")
            src = joined.path
            info = probe(src, joined.tracks)
        except MediaError as exc:
            raise PermanentFailure(f"no usable media: {exc}") from exc
        stored = _run_steps(settings, src, work, storage, prefix)
        done = _commit(runtime, recording_id, info, stored, storage_url, prefix, retention_days)
        if not done:
            # Deleted while we worked: what we stored has no row left to find it by.
            storage.delete_prefix(prefix + "/")
            return
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not done:
            _release(runtime, recording_id)
    shutil.rmtree(spool, ignore_errors=True)
    log.info("recording %s: complete (%d assets)", recording_id, len(stored))


def _run_steps(
    settings: Settings, src: Path, work: Path, storage: Storage, prefix: str
) -> list[tuple[Output, StoredObject]]:
    """Make every output, storing each step's files while the next step runs.

    Storing is mostly checksumming and I/O, which release the GIL: on two cores it costs
    almost nothing next to packaging. Any failure surfaces from ``result()``.
    """

    def store(output: Output) -> tuple[Output, StoredObject]:
        key = f"{prefix}/{output.name}"
        return output, storage.put_file(key, output.path, content_type=content_type(output.name))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="store") as pool:
        pending = []
        for step in STEPS.values():
            pending += [pool.submit(store, output) for output in step(settings, src, work)]
        return [future.result() for future in pending]


def _claim(runtime: Runtime, recording_id: str) -> bool:
    """Take the recording's lease; False if there is nothing to process.

    Raises LeaseHeld while another worker holds it, so that duplicate jobs (a restart's
    sweep, a broker redelivery) never run side by side on the same files.
    """
    now = utcnow()
    with runtime.db.session() as session:
        result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(Recording)
            .where(
                Recording.id == recording_id,
                Recording.status == "processing",
                or_(Recording.lease_until.is_(None), Recording.lease_until < now),
            )
            .values(lease_until=now + LEASE, processing_attempts=Recording.processing_attempts + 1)
        )
        if result.rowcount:
            return True
        rec = session.get(Recording, recording_id)
        if rec is None or rec.status != "processing" or rec.lease_until is None:
            return False
        raise LeaseHeld(recording_id, rec.lease_until)


def _release(runtime: Runtime, recording_id: str) -> None:
    with runtime.db.session() as session:
        session.execute(
            update(Recording).where(Recording.id == recording_id).values(lease_until=None)
        )


def _commit(
    runtime: Runtime,
    recording_id: str,
    info: MediaInfo,
    stored: list[tuple[Output, StoredObject]],
    storage_url: str,
    prefix: str,
    retention_days: int | None,
) -> bool:
    """Record the outputs and complete the recording; False if it was deleted meanwhile."""
    now = utcnow()
    with runtime.db.session() as session:
        rec = session.get(Recording, recording_id)
        if rec is None or rec.status != "processing":
            return False
        session.execute(delete(Asset).where(Asset.recording_id == recording_id))
        sizes = {"file": 0, "dash": 0, "thumbnails": 0}
        for output, obj in stored:
            size = obj.size
            session.add(
                Asset(
                    recording_id=recording_id,
                    type=output.type,
                    name=output.name,
                    key=obj.key,
                    size_bytes=size,
                    sha256=obj.sha256,
                    content_type=content_type(output.name),
                    created_at=now,
                )
            )
            sizes[SIZE_GROUPS.get(output.type, "thumbnails")] += size
        rec.status = "complete"
        rec.lease_until = None
        rec.format = info.format
        rec.duration = round(info.duration, 3)
        rec.tracks = info.tracks
        rec.sizes = sizes
        rec.size_bytes = sum(sizes.values())
        rec.storage_url = storage_url
        rec.storage_prefix = prefix
        if retention_days is not None:
            rec.expires_at = now + timedelta(days=retention_days)
        session.add(
            StorageSpan(
                account_id=rec.account_id,
                recording_id=rec.id,
                size_bytes=rec.size_bytes,
                stored_from=now,
            )
        )
        session.flush()
        events.emit(session, rec.account_id, "recording.complete", _complete_data(runtime, rec))
    return True


def _complete_data(runtime: Runtime, rec: Recording) -> dict[str, object]:
    from telerecord.services import media

    data: dict[str, object] = {"recording": recordings.as_api(rec)}
    try:
        link = media.download_url(runtime, rec, urls.DEFAULT_EXPIRES_IN)
    except Exception:  # a webhook without a link beats no webhook
        log.exception("recording %s: no download URL for the webhook", rec.id)
        return data
    data["download_url"] = link.url
    data["download_expires_at"] = isoformat(link.expires_at)
    return data


def fail(runtime: Runtime, recording_id: str, error: str) -> None:
    with runtime.db.session() as session:
        rec = session.get(Recording, recording_id)
        if rec is None or rec.status in ("complete", "failed"):
            return
        recordings.mark_failed(session, rec, error)
    log.warning("recording %s: failed: %s", recording_id, error)

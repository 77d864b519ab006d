"""Start-up sweep: recordings a dead process left behind are finished from their spool."""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from telerecord.db.models import Recording
from telerecord.runtime import Runtime
from telerecord.services import recordings

log = logging.getLogger(__name__)


def recover(runtime: Runtime) -> list[str]:
    """Move interrupted live recordings to processing (``recovered``) and re-queue stuck jobs.

    Run once at start, before this node takes publishers: every recording still marked live
    belonged to a process that is gone (one media node per database).
    """
    with runtime.db.session() as session:
        live = session.scalars(
            select(Recording).where(Recording.status.in_(recordings.LIVE_STATUSES))
        ).all()
        for rec in live:
            log.warning("recording %s: interrupted by a crash; recovering from spool", rec.id)
            recordings.mark_stopped(session, rec.id, recovered=True)
        stuck = session.scalars(select(Recording.id).where(Recording.status == "processing")).all()
        if runtime.jobs.is_embedded:
            # Jobs run only inside this process, which just started: no lease is still held.
            session.execute(
                update(Recording).where(Recording.status == "processing").values(lease_until=None)
            )
    for recording_id in stuck:
        runtime.jobs.enqueue_processing(recording_id)
    return list(stuck)

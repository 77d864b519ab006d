"""/v1/recordings: list and read. Media URLs, clips and deletion live in api/media_urls.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from telerecord.api.deps import AccountId, RuntimeDep
from telerecord.api.schemas import RecordingList, RecordingOut
from telerecord.db.models import Recording
from telerecord.services import recordings
from telerecord.services.pagination import paginate

router = APIRouter(prefix="/v1/recordings", tags=["recordings"])


@router.get("", response_model=RecordingList)
def list_recordings(
    account_id: AccountId,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
    kind: Literal["stream", "track", "composite"] | None = None,
    status: Literal["recording", "paused", "processing", "complete", "failed"] | None = None,
    stream_name: str | None = None,
    publish_token_id: str | None = None,
    room_id: str | None = None,
    session_id: str | None = None,
) -> dict[str, Any]:
    filters = {
        "kind": kind,
        "status": status,
        "stream_name": stream_name,
        "publish_token_id": publish_token_id,
        "room_id": room_id,
        "session_id": session_id,
    }
    with runtime.db.session() as session:
        query = recordings.list_query(account_id, filters)
        rows, next_cursor = paginate(
            session, query, Recording.created_at, Recording.id, limit=limit, cursor=cursor
        )
        return {"data": [recordings.as_api(r) for r in rows], "next_cursor": next_cursor}


@router.get("/{recording_id}", response_model=RecordingOut)
def get_recording(recording_id: str, account_id: AccountId, runtime: RuntimeDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        return recordings.as_api(recordings.get(session, account_id, recording_id))

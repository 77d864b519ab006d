"""/v1/recordings/{id}/download, /assets, /clip, and deletion."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from telerecord.api.deps import AccountId, RuntimeDep
from telerecord.api.schemas import AssetList, ClipOut, DeleteMany, DeleteManyResult, SignedUrl
from telerecord.clock import isoformat
from telerecord.errors import NotFound
from telerecord.services import deletion, media, recordings, urls

router = APIRouter(prefix="/v1/recordings", tags=["recordings"])

ExpiresIn = Annotated[int, Query(ge=1, le=urls.MAX_EXPIRES_IN)]


@router.get("/{recording_id}/download", response_model=SignedUrl)
def download(
    recording_id: str, account_id: AccountId, runtime: RuntimeDep, expires_in: ExpiresIn = 3600
) -> dict[str, Any]:
    with runtime.db.session() as session:
        rec = recordings.get(session, account_id, recording_id)
        link = media.download_url(runtime, rec, expires_in)
    return {"url": link.url, "expires_at": isoformat(link.expires_at)}


@router.get("/{recording_id}/assets", response_model=AssetList)
def assets(
    recording_id: str, account_id: AccountId, runtime: RuntimeDep, expires_in: ExpiresIn = 3600
) -> dict[str, Any]:
    with runtime.db.session() as session:
        rec = recordings.get(session, account_id, recording_id)
        links = media.asset_links(runtime, rec, expires_in)
    data = [
        {
            "type": a.type,
            "name": a.name,
            "size_bytes": a.size_bytes,
            "url": a.link.url,
            "expires_at": isoformat(a.link.expires_at),
        }
        for a in links
    ]
    return {"data": data}


@router.get("/{recording_id}/clip", response_model=ClipOut)
def clip(
    recording_id: str,
    account_id: AccountId,
    runtime: RuntimeDep,
    start: Annotated[float, Query(ge=0)],
    duration: Annotated[float, Query(gt=0)],
    expires_in: ExpiresIn = 3600,
) -> dict[str, Any]:
    with runtime.db.session() as session:
        rec = recordings.get(session, account_id, recording_id)
        link, actual_start, actual_duration = media.clip(runtime, rec, start, duration, expires_in)
    return {
        "url": link.url,
        "expires_at": isoformat(link.expires_at),
        "start": actual_start,
        "duration": actual_duration,
    }


@router.delete("/{recording_id}", status_code=204, response_class=Response)
async def delete_one(recording_id: str, account_id: AccountId, runtime: RuntimeDep) -> Response:
    await run_in_threadpool(deletion.delete_recording, runtime, account_id, recording_id)
    return Response(status_code=204)


@router.post("/delete", response_model=DeleteManyResult)
async def delete_many(
    body: DeleteMany, account_id: AccountId, runtime: RuntimeDep
) -> dict[str, Any]:
    deleted: list[str] = []
    not_found: list[str] = []
    for recording_id in dict.fromkeys(body.ids):
        try:
            await run_in_threadpool(deletion.delete_recording, runtime, account_id, recording_id)
        except NotFound:
            not_found.append(recording_id)
        else:
            deleted.append(recording_id)
    return {"deleted": deleted, "not_found": not_found}

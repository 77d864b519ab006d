"""/v1/streams: live streams and their recording controls."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from telerecord.api.deps import AccountId, RuntimeDep
from telerecord.api.schemas import RecordingOut, StreamList
from telerecord.errors import ServiceUnavailable
from telerecord.ingest.manager import IngestManager
from telerecord.runtime import Runtime
from telerecord.services import recordings

router = APIRouter(prefix="/v1/streams", tags=["streams"])

SourceId = Annotated[str | None, Query(max_length=200)]


def _ingest(runtime: Runtime) -> IngestManager:
    if runtime.ingest is None:
        raise ServiceUnavailable("This process does not take WHIP publishers.")
    return runtime.ingest


async def _recording(runtime: Runtime, account_id: str, recording_id: str) -> dict[str, Any]:
    def _load() -> dict[str, Any]:
        with runtime.db.session() as session:
            return recordings.as_api(recordings.get(session, account_id, recording_id))

    return await run_in_threadpool(_load)


@router.get("", response_model=StreamList)
async def list_streams(account_id: AccountId, runtime: RuntimeDep) -> dict[str, Any]:
    ingest = runtime.ingest
    data = ingest.list_streams(account_id) if ingest is not None else []
    return {"data": data, "next_cursor": None}


@router.post("/{stream_name}/recording/start", status_code=202, response_model=RecordingOut)
async def start(
    stream_name: str, account_id: AccountId, runtime: RuntimeDep, source_id: SourceId = None
) -> dict[str, Any]:
    ingest = _ingest(runtime)
    recording_id = await ingest.start_recording(ingest.find(account_id, stream_name, source_id))
    return await _recording(runtime, account_id, recording_id)


@router.post("/{stream_name}/recording/stop", status_code=202, response_model=RecordingOut)
async def stop(
    stream_name: str, account_id: AccountId, runtime: RuntimeDep, source_id: SourceId = None
) -> dict[str, Any]:
    ingest = _ingest(runtime)
    recording_id = await ingest.stop_recording(ingest.find(account_id, stream_name, source_id))
    return await _recording(runtime, account_id, recording_id)


@router.post("/{stream_name}/recording/pause", status_code=202, response_model=RecordingOut)
async def pause(
    stream_name: str, account_id: AccountId, runtime: RuntimeDep, source_id: SourceId = None
) -> dict[str, Any]:
    ingest = _ingest(runtime)
    recording_id = await ingest.set_paused(ingest.find(account_id, stream_name, source_id), True)
    return await _recording(runtime, account_id, recording_id)


@router.post("/{stream_name}/recording/resume", status_code=202, response_model=RecordingOut)
async def resume(
    stream_name: str, account_id: AccountId, runtime: RuntimeDep, source_id: SourceId = None
) -> dict[str, Any]:
    ingest = _ingest(runtime)
    recording_id = await ingest.set_paused(ingest.find(account_id, stream_name, source_id), False)
    return await _recording(runtime, account_id, recording_id)

"""/v1/streams: live streams and their recording controls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from telerecord.api.deps import AccountId, RuntimeDep
from telerecord.api.schemas import RecordingOut, StreamList
from telerecord.errors import ServiceUnavailable
from telerecord.ingest.manager import IngestManager, LiveStream
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


Action = Callable[[IngestManager, LiveStream], Awaitable[str]]

ACTIONS: dict[str, Action] = {
    "start": lambda ingest, stream: ingest.start_recording(stream),
    "stop": lambda ingest, stream: ingest.stop_recording(stream),
    "pause": lambda ingest, stream: ingest.set_paused(stream, True),
    "resume": lambda ingest, stream: ingest.set_paused(stream, False),
}


def _control_route(action: str) -> None:
    async def control(
        stream_name: str, account_id: AccountId, runtime: RuntimeDep, source_id: SourceId = None
    ) -> dict[str, Any]:
        ingest = _ingest(runtime)
        stream = ingest.find(account_id, stream_name, source_id)
        recording_id = await ACTIONS[action](ingest, stream)
        return await _recording(runtime, account_id, recording_id)

    control.__name__ = f"{action}_recording"
    router.add_api_route(
        f"/{{stream_name}}/recording/{action}",
        control,
        methods=["POST"],
        status_code=202,
        response_model=RecordingOut,
        summary=f"{action.capitalize()} recording a live stream",
    )


for _action in ACTIONS:
    _control_route(_action)

"""/v1/publish-tokens"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from telerecord.api.deps import AccountId, RuntimeDep
from telerecord.api.schemas import (
    PublishTokenCreate,
    PublishTokenList,
    PublishTokenOut,
    PublishTokenPatch,
)
from telerecord.clock import isoformat
from telerecord.db.models import PublishToken
from telerecord.errors import Conflict
from telerecord.runtime import Runtime
from telerecord.services import tokens
from telerecord.services.pagination import paginate

router = APIRouter(prefix="/v1/publish-tokens", tags=["publish tokens"])


def _live(runtime: Runtime, token_id: str) -> bool:
    return runtime.ingest is not None and runtime.ingest.is_token_live(token_id)


def as_api(runtime: Runtime, row: PublishToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "label": row.label,
        "token": row.token,
        "streams": list(row.streams),
        "record": row.record,
        "live": _live(runtime, row.id),
        "created_at": isoformat(row.created_at),
    }


@router.post("", status_code=201, response_model=PublishTokenOut)
def create_token(
    body: PublishTokenCreate, account_id: AccountId, runtime: RuntimeDep
) -> dict[str, Any]:
    with runtime.db.session() as session:
        row = tokens.create(session, account_id, body.label, body.streams, body.record)
        return as_api(runtime, row)


@router.get("", response_model=PublishTokenList)
def list_tokens(
    account_id: AccountId,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    with runtime.db.session() as session:
        rows, next_cursor = paginate(
            session,
            tokens.list_query(account_id),
            PublishToken.created_at,
            PublishToken.id,
            limit=limit,
            cursor=cursor,
        )
        return {"data": [as_api(runtime, r) for r in rows], "next_cursor": next_cursor}


@router.get("/{token_id}", response_model=PublishTokenOut)
def get_token(token_id: str, account_id: AccountId, runtime: RuntimeDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        return as_api(runtime, tokens.get(session, account_id, token_id))


@router.patch("/{token_id}", response_model=PublishTokenOut)
def patch_token(
    token_id: str, body: PublishTokenPatch, account_id: AccountId, runtime: RuntimeDep
) -> dict[str, Any]:
    with runtime.db.session() as session:
        row = tokens.get(session, account_id, token_id)
        if body.record is not None and body.record != row.record and _live(runtime, row.id):
            raise Conflict("record cannot change while the token is live.")
        if body.label is not None:
            row.label = body.label
        if body.streams is not None:
            tokens.check_patterns(body.streams)
            row.streams = list(body.streams)
        if body.record is not None:
            row.record = body.record
        return as_api(runtime, row)


@router.delete("/{token_id}", status_code=204, response_class=Response)
async def delete_token(token_id: str, account_id: AccountId, runtime: RuntimeDep) -> Response:
    from starlette.concurrency import run_in_threadpool

    def _delete() -> None:
        with runtime.db.session() as session:
            session.delete(tokens.get(session, account_id, token_id))

    await run_in_threadpool(_delete)
    if runtime.ingest is not None:
        await runtime.ingest.end_token_streams(token_id, reason="token deleted")
    return Response(status_code=204)

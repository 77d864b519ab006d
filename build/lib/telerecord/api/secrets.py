"""/v1/api-secrets"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from telerecord.api.deps import AccountId, RuntimeDep
from telerecord.api.schemas import ApiSecretCreate, ApiSecretCreated, ApiSecretList
from telerecord.clock import isoformat
from telerecord.db.models import ApiSecret
from telerecord.services import accounts
from telerecord.services.pagination import paginate

router = APIRouter(prefix="/v1/api-secrets", tags=["api secrets"])


@router.post("", status_code=201, response_model=ApiSecretCreated)
def create_secret(
    body: ApiSecretCreate, account_id: AccountId, runtime: RuntimeDep
) -> dict[str, object]:
    with runtime.db.session() as session:
        new = accounts.create_secret(session, account_id, body.label)
        return {
            "id": new.record.id,
            "label": new.record.label,
            "secret": new.secret,
            "created_at": isoformat(new.record.created_at),
        }


@router.get("", response_model=ApiSecretList)
def list_secrets(
    account_id: AccountId,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> dict[str, object]:
    from sqlalchemy import select

    with runtime.db.session() as session:
        query = select(ApiSecret).where(ApiSecret.account_id == account_id)
        rows, next_cursor = paginate(
            session, query, ApiSecret.created_at, ApiSecret.id, limit=limit, cursor=cursor
        )
        data = [
            {
                "id": r.id,
                "label": r.label,
                "created_at": isoformat(r.created_at),
                "last_used_at": isoformat(r.last_used_at),
            }
            for r in rows
        ]
    return {"data": data, "next_cursor": next_cursor}


@router.delete("/{secret_id}", status_code=204, response_class=Response)
def delete_secret(secret_id: str, account_id: AccountId, runtime: RuntimeDep) -> Response:
    with runtime.db.session() as session:
        accounts.revoke_secret(session, account_id, secret_id)
    return Response(status_code=204)

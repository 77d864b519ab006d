"""/v1/webhooks"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from telerecord.api.deps import AccountId, RuntimeDep
from telerecord.api.webhook_schemas import (
    DeliveryList,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookOut,
    WebhookPatch,
    WebhookTestSent,
)
from telerecord.clock import isoformat
from telerecord.db.models import Delivery, Webhook
from telerecord.runtime import Runtime
from telerecord.services import webhooks
from telerecord.services.pagination import paginate

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

Limit = Annotated[int, Query(ge=1, le=100)]


def as_api(row: Webhook) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "events": list(row.events),
        "description": row.description,
        "enabled": row.enabled,
        "created_at": isoformat(row.created_at),
    }


def delivery_as_api(row: Delivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_id": row.event_id,
        "type": row.type,
        "status": row.status,
        "attempt": row.attempt,
        "status_code": row.status_code,
        "error": row.error,
        "delivered_at": isoformat(row.delivered_at),
        "next_attempt_at": isoformat(row.next_attempt_at),
        "created_at": isoformat(row.created_at),
    }


def _wake_delivery(runtime: Runtime) -> None:
    worker = runtime.extras.get("delivery")
    if worker is not None:
        worker.wake()


@router.post("", status_code=201, response_model=WebhookCreated)
def create_webhook(
    body: WebhookCreate, account_id: AccountId, runtime: RuntimeDep
) -> dict[str, Any]:
    with runtime.db.session() as session:
        row = webhooks.create(session, account_id, body.url, body.events, body.description)
        return {**as_api(row), "secret": row.secret}


@router.get("", response_model=WebhookList)
def list_webhooks(
    account_id: AccountId, runtime: RuntimeDep, limit: Limit = 20, cursor: str | None = None
) -> dict[str, Any]:
    with runtime.db.session() as session:
        rows, next_cursor = paginate(
            session,
            webhooks.list_query(account_id),
            Webhook.created_at,
            Webhook.id,
            limit=limit,
            cursor=cursor,
        )
        return {"data": [as_api(r) for r in rows], "next_cursor": next_cursor}


@router.get("/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: str, account_id: AccountId, runtime: RuntimeDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        return as_api(webhooks.get(session, account_id, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookOut)
def patch_webhook(
    webhook_id: str, body: WebhookPatch, account_id: AccountId, runtime: RuntimeDep
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    with runtime.db.session() as session:
        row = webhooks.get(session, account_id, webhook_id)
        result = as_api(webhooks.update(session, row, changes))
    if changes.get("enabled"):
        _wake_delivery(runtime)  # deliveries held while it was disabled are due now
    return result


@router.delete("/{webhook_id}", status_code=204, response_class=Response)
def delete_webhook(webhook_id: str, account_id: AccountId, runtime: RuntimeDep) -> Response:
    with runtime.db.session() as session:
        webhooks.delete(session, account_id, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList)
def list_deliveries(
    webhook_id: str,
    account_id: AccountId,
    runtime: RuntimeDep,
    limit: Limit = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    with runtime.db.session() as session:
        hook = webhooks.get(session, account_id, webhook_id)
        rows, next_cursor = paginate(
            session,
            webhooks.deliveries_query(hook.id),
            Delivery.created_at,
            Delivery.id,
            limit=limit,
            cursor=cursor,
        )
        return {"data": [delivery_as_api(r) for r in rows], "next_cursor": next_cursor}


@router.post("/{webhook_id}/test", status_code=202, response_model=WebhookTestSent)
def test_webhook(webhook_id: str, account_id: AccountId, runtime: RuntimeDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        sent = webhooks.send_test(session, account_id, webhook_id)
    _wake_delivery(runtime)  # after the commit, so the worker can see the row
    return {"event_id": sent.event_id, "delivery_id": sent.delivery_id}

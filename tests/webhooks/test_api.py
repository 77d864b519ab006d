"""/v1/webhooks through HTTP: CRUD, validation, tenant isolation, delivery log, test sends."""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from telerecord.api import webhooks as webhooks_api
from telerecord.api.problems import install
from telerecord.db.engine import Database
from telerecord.runtime import Runtime
from telerecord.services import accounts, events
from telerecord.services.delivery import DeliveryWorker
from telerecord.settings import load_settings

from .receiver import Receiver

# Starlette asks for the httpx2 package for its test client; the httpx one works the same here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient


@dataclass
class Api:
    client: TestClient
    runtime: Runtime
    account_id: str
    auth: dict[str, str]
    other_auth: dict[str, str]

    def create(self, **body: Any) -> dict[str, Any]:
        body.setdefault("url", "https://example.com/hooks")
        response = self.client.post("/v1/webhooks", json=body, headers=self.auth)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def emit(self, type_: events.EventType) -> str:
        with self.runtime.db.session() as session:
            return events.emit(session, self.account_id, type_, {}).id


@pytest.fixture
def api(tmp_path: Path, db: Database) -> Iterator[Api]:
    settings = load_settings(env={}, overrides={"data_dir": tmp_path / "data"}).resolved()
    runtime = Runtime(settings=settings, db=db, jobs=None)  # type: ignore[arg-type]
    app = FastAPI()
    install(app)
    app.include_router(webhooks_api.router)
    app.state.runtime = runtime
    with db.session() as session:
        account, first = accounts.create_account(session, "acme")
        _, second = accounts.create_account(session, "other")
    with TestClient(app) as client:
        yield Api(
            client,
            runtime,
            account.id,
            {"Authorization": f"Bearer {first.secret}"},
            {"Authorization": f"Bearer {second.secret}"},
        )


def assert_problem(response: Any, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == status and response.json()["detail"]


def test_create_returns_the_secret_once(api: Api) -> None:
    created = api.create(
        url="https://example.com/a", events=["recording.complete"], description="d"
    )
    assert created["id"].startswith("wh_")
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) == 24
    assert created["events"] == ["recording.complete"]
    assert created["enabled"] is True and created["created_at"].endswith("Z")
    fetched = api.client.get(f"/v1/webhooks/{created['id']}", headers=api.auth).json()
    assert "secret" not in fetched
    assert fetched == {k: v for k, v in created.items() if k != "secret"}


def test_list_patch_delete(api: Api) -> None:
    ids = [api.create(url=f"https://example.com/{i}")["id"] for i in range(3)]
    page = api.client.get("/v1/webhooks?limit=2", headers=api.auth).json()
    assert [w["id"] for w in page["data"]] == ids[::-1][:2]  # newest first
    rest = api.client.get(f"/v1/webhooks?limit=2&cursor={page['next_cursor']}", headers=api.auth)
    assert [w["id"] for w in rest.json()["data"]] == ids[:1] and rest.json()["next_cursor"] is None

    patch = {
        "url": "http://hooks.internal:8081/x",
        "events": ["recording.failed"],
        "enabled": False,
    }
    changed = api.client.patch(f"/v1/webhooks/{ids[0]}", json=patch, headers=api.auth)
    assert changed.status_code == 200
    assert {k: changed.json()[k] for k in patch} == patch
    described = api.client.patch(
        f"/v1/webhooks/{ids[0]}", json={"description": "x"}, headers=api.auth
    )
    assert described.json()["description"] == "x" and described.json()["url"] == patch["url"]

    assert api.client.delete(f"/v1/webhooks/{ids[0]}", headers=api.auth).status_code == 204
    assert_problem(api.client.get(f"/v1/webhooks/{ids[0]}", headers=api.auth), 404)
    assert_problem(api.client.delete(f"/v1/webhooks/{ids[0]}", headers=api.auth), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/x"},
        {"url": "example.com/hook"},
        {"url": "http://"},
        {"url": "https:///path-only"},
        {"url": "http://example.com:99999/"},
        {"url": "http://exa mple.com/"},
        {"url": "https://example.com", "events": ["recording.nope"]},
        {"url": "https://example.com", "events": ["webhook.test"]},
        {"url": "https://example.com", "events": "recording.started"},
        {"url": "https://example.com", "secret": "whsec_mine"},
        {"events": ["recording.started"]},
    ],
)
def test_invalid_bodies_are_422(api: Api, body: dict[str, Any]) -> None:
    assert_problem(api.client.post("/v1/webhooks", json=body, headers=api.auth), 422)


def test_invalid_patch_is_422_and_changes_nothing(api: Api) -> None:
    hook = api.create()
    path = f"/v1/webhooks/{hook['id']}"
    assert_problem(api.client.patch(path, json={"url": "mailto:a@b.c"}, headers=api.auth), 422)
    assert_problem(api.client.patch(path, json={"events": ["x"]}, headers=api.auth), 422)
    assert api.client.get(path, headers=api.auth).json()["url"] == hook["url"]


def test_other_accounts_webhooks_are_404(api: Api) -> None:
    hook_id = api.create()["id"]
    other = api.other_auth
    for method, path in [
        ("GET", f"/v1/webhooks/{hook_id}"),
        ("PATCH", f"/v1/webhooks/{hook_id}"),
        ("DELETE", f"/v1/webhooks/{hook_id}"),
        ("GET", f"/v1/webhooks/{hook_id}/deliveries"),
        ("POST", f"/v1/webhooks/{hook_id}/test"),
    ]:
        body = {"description": "x"} if method == "PATCH" else None
        assert_problem(api.client.request(method, path, json=body, headers=other), 404)
    assert api.client.get("/v1/webhooks", headers=other).json() == {"data": [], "next_cursor": None}
    assert api.client.get(f"/v1/webhooks/{hook_id}", headers=api.auth).status_code == 200
    assert_problem(api.client.get("/v1/webhooks"), 401)


def test_deliveries_are_listed_newest_first(api: Api) -> None:
    hook_id = api.create(events=["recording.started", "recording.complete"])["id"]
    everything_id = api.create()["id"]  # no events listed: all of them
    started, _stopped, complete = (
        api.emit("recording.started"),
        api.emit("recording.stopped"),
        api.emit("recording.complete"),
    )
    path = f"/v1/webhooks/{hook_id}/deliveries"
    first = api.client.get(f"{path}?limit=1", headers=api.auth).json()
    second = api.client.get(
        f"{path}?limit=1&cursor={first['next_cursor']}", headers=api.auth
    ).json()
    assert second["next_cursor"] is None
    rows = first["data"] + second["data"]
    assert [(d["event_id"], d["type"]) for d in rows] == [
        (complete, "recording.complete"),
        (started, "recording.started"),
    ]
    assert rows[0]["id"].startswith("dlv_")
    assert rows[0]["status"] == "pending" and rows[0]["attempt"] == 0
    assert rows[0]["status_code"] is None and rows[0]["error"] is None
    assert rows[0]["delivered_at"] is None and rows[0]["next_attempt_at"].endswith("Z")
    all_rows = api.client.get(f"/v1/webhooks/{everything_id}/deliveries", headers=api.auth).json()
    assert len(all_rows["data"]) == 3
    assert_problem(api.client.get(f"{path}?cursor=%%%", headers=api.auth), 400)


def test_test_event_goes_to_that_webhook_only(api: Api) -> None:
    hook_id = api.create(events=["recording.complete"])["id"]
    bystander_id = api.create()["id"]
    sent = api.client.post(f"/v1/webhooks/{hook_id}/test", headers=api.auth)
    assert sent.status_code == 202
    [row] = api.client.get(f"/v1/webhooks/{hook_id}/deliveries", headers=api.auth).json()["data"]
    assert (row["id"], row["event_id"], row["type"]) == (
        sent.json()["delivery_id"],
        sent.json()["event_id"],
        "webhook.test",
    )
    assert (
        api.client.get(f"/v1/webhooks/{bystander_id}/deliveries", headers=api.auth).json()["data"]
        == []
    )
    api.client.patch(f"/v1/webhooks/{hook_id}", json={"enabled": False}, headers=api.auth)
    assert_problem(api.client.post(f"/v1/webhooks/{hook_id}/test", headers=api.auth), 409)


def test_test_event_is_delivered_at_once_by_the_runtime_worker(api: Api) -> None:
    receiver = Receiver()
    portal = api.client.portal
    assert portal is not None
    portal.call(receiver.start)
    hook_id = api.create(url=receiver.url("/hook"))["id"]
    earlier = api.emit("recording.started")
    # A poll interval far beyond the test's patience: after the poll at start has sent the
    # earlier event, only wake() can make the test event prompt.
    worker = DeliveryWorker(api.runtime.db, poll_interval=600.0, timeout=5.0)
    portal.call(worker.start)
    api.runtime.extras["delivery"] = worker
    try:
        portal.call(receiver.wait_for, lambda: len(receiver.answered) == 1)
        sent = api.client.post(f"/v1/webhooks/{hook_id}/test", headers=api.auth).json()
        portal.call(receiver.wait_for, lambda: len(receiver.answered) == 2)
    finally:
        portal.call(worker.stop)
        portal.call(receiver.close)
    assert [r.headers["webhook-id"] for r, _ in receiver.answered] == [earlier, sent["event_id"]]
    assert all(status == 200 for _, status in receiver.answered)


def test_openapi_describes_the_webhook_routes(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    assert {"post", "get"} <= set(doc["paths"]["/v1/webhooks"])
    assert {"get", "patch", "delete"} <= set(doc["paths"]["/v1/webhooks/{webhook_id}"])
    assert "get" in doc["paths"]["/v1/webhooks/{webhook_id}/deliveries"]
    assert "post" in doc["paths"]["/v1/webhooks/{webhook_id}/test"]
    schemas = doc["components"]["schemas"]
    assert "secret" in schemas["WebhookCreated"]["properties"]
    assert {"id", "event_id", "type", "attempt", "status_code", "error"} <= set(
        schemas["DeliveryOut"]["properties"]
    )

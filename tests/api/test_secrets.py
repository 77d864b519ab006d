from __future__ import annotations

from typing import Any


def test_create_list_and_revoke_secret(client: Any, auth: dict[str, str]) -> None:
    created = client.post("/v1/api-secrets", json={"label": "ci"}, headers=auth)
    assert created.status_code == 201
    body = created.json()
    assert body["id"].startswith("sec_") and body["label"] == "ci"
    assert body["created_at"].endswith("Z")
    new_auth = {"Authorization": f"Bearer {body['secret']}"}

    listed = client.get("/v1/api-secrets", headers=new_auth).json()
    ids = [s["id"] for s in listed["data"]]
    assert body["id"] in ids and listed["next_cursor"] is None
    assert all("secret" not in s for s in listed["data"])
    used = next(s for s in listed["data"] if s["id"] == body["id"])
    assert used["last_used_at"] is not None

    assert client.delete(f"/v1/api-secrets/{body['id']}", headers=auth).status_code == 204
    gone = client.get("/v1/api-secrets", headers=new_auth)
    assert gone.status_code == 401
    assert gone.headers["content-type"] == "application/problem+json"


def test_secrets_are_stored_hashed(client: Any, auth: dict[str, str], runtime: Any) -> None:
    from sqlalchemy import select

    from telerecord.db.models import ApiSecret

    secret = client.post("/v1/api-secrets", json={"label": "x"}, headers=auth).json()["secret"]
    with runtime.db.session() as session:
        hashes = session.scalars(select(ApiSecret.secret_hash)).all()
    assert secret not in hashes and all(len(h) == 64 for h in hashes)


def test_missing_and_wrong_credentials(client: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = client.get("/v1/api-secrets", headers=headers)
        assert response.status_code == 401
        problem = response.json()
        assert problem["status"] == 401 and problem["title"] and problem["detail"]


def test_other_accounts_secret_is_not_found(
    client: Any, auth: dict[str, str], runtime: Any
) -> None:
    from telerecord.services import accounts

    with runtime.db.session() as session:
        _acc, other = accounts.create_account(session, "other")
        other_id = other.record.id
    response = client.delete(f"/v1/api-secrets/{other_id}", headers=auth)
    assert response.status_code == 404


def test_validation_errors_are_problems(client: Any, auth: dict[str, str]) -> None:
    bad_json = client.post(
        "/v1/api-secrets", content=b"{nope", headers={**auth, "Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.headers["content-type"] == "application/problem+json"
    missing = client.post("/v1/api-secrets", json={}, headers=auth)
    assert missing.status_code == 422 and "label" in missing.json()["detail"]
    assert client.get("/v1/api-secrets?limit=0", headers=auth).status_code == 422
    unknown = client.get("/v1/nothing-here", headers=auth)
    assert unknown.status_code == 404 and unknown.json()["status"] == 404

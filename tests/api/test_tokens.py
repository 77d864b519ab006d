from __future__ import annotations

from typing import Any


def _create(client: Any, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {"label": "cam", "streams": ["cam-*"], "record": True, **body}
    response = client.post("/v1/publish-tokens", json=payload, headers=auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_token_crud(client: Any, auth: dict[str, str]) -> None:
    token = _create(client, auth)
    assert token["id"].startswith("ptk_") and token["token"]
    assert token["streams"] == ["cam-*"] and token["record"] is True and token["live"] is False
    assert client.get(f"/v1/publish-tokens/{token['id']}", headers=auth).json() == token

    patched = client.patch(
        f"/v1/publish-tokens/{token['id']}",
        json={"label": "studio", "streams": ["a", "b*"], "record": False},
        headers=auth,
    )
    assert patched.status_code == 200
    assert patched.json()["label"] == "studio" and patched.json()["record"] is False

    assert client.delete(f"/v1/publish-tokens/{token['id']}", headers=auth).status_code == 204
    assert client.get(f"/v1/publish-tokens/{token['id']}", headers=auth).status_code == 404


def test_token_list_paginates_newest_first(client: Any, auth: dict[str, str]) -> None:
    ids = [_create(client, auth, label=f"t{i}")["id"] for i in range(5)]
    page1 = client.get("/v1/publish-tokens?limit=2", headers=auth).json()
    page2 = client.get(
        f"/v1/publish-tokens?limit=2&cursor={page1['next_cursor']}", headers=auth
    ).json()
    page3 = client.get(
        f"/v1/publish-tokens?limit=2&cursor={page2['next_cursor']}", headers=auth
    ).json()
    seen = [t["id"] for t in page1["data"] + page2["data"] + page3["data"]]
    assert seen == list(reversed(ids))
    assert page3["next_cursor"] is None
    assert client.get("/v1/publish-tokens?cursor=%%%", headers=auth).status_code == 400


def test_invalid_patterns_are_rejected(client: Any, auth: dict[str, str]) -> None:
    for streams in ([], ["a b"], ["*x"], ["a*b"], [""]):
        response = client.post(
            "/v1/publish-tokens", json={"label": "x", "streams": streams}, headers=auth
        )
        assert response.status_code == 422, streams


def test_tokens_of_other_accounts_are_invisible(
    client: Any, auth: dict[str, str], runtime: Any
) -> None:
    from telerecord.services import accounts

    token = _create(client, auth)
    with runtime.db.session() as session:
        _acc, other = accounts.create_account(session, "other")
    other_auth = {"Authorization": f"Bearer {other.secret}"}
    assert client.get(f"/v1/publish-tokens/{token['id']}", headers=other_auth).status_code == 404
    assert (
        client.patch(
            f"/v1/publish-tokens/{token['id']}", json={"label": "x"}, headers=other_auth
        ).status_code
        == 404
    )
    assert client.delete(f"/v1/publish-tokens/{token['id']}", headers=other_auth).status_code == 404
    assert client.get("/v1/publish-tokens", headers=other_auth).json()["data"] == []


def test_stream_patterns() -> None:
    from telerecord.services.tokens import allows

    assert allows(["*"], "anything")
    assert allows(["cam-*"], "cam-1") and not allows(["cam-*"], "cam")
    assert allows(["exact"], "exact") and not allows(["exact"], "exact2")

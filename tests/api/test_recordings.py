from __future__ import annotations

from datetime import timedelta
from typing import Any

from telerecord.clock import utcnow


def _insert(runtime: Any, account_id: str, n: int, **fields: Any) -> list[str]:
    from telerecord.db.models import Recording
    from telerecord.ids import new_id

    ids = []
    base = utcnow()
    with runtime.db.session() as session:
        for i in range(n):
            rec = Recording(
                id=new_id("rec"),
                account_id=account_id,
                kind="stream",
                status=fields.get("status", "complete"),
                stream_name=fields.get("stream_name", f"s{i % 2}"),
                publish_token_id=fields.get("publish_token_id"),
                started_at=base,
                created_at=base + timedelta(seconds=fields.get("offset", 0) + i),
                sizes={},
                tracks=[],
            )
            session.add(rec)
            ids.append(rec.id)
    return ids


def test_list_filters_and_pages(
    client: Any, auth: dict[str, str], account: Any, runtime: Any
) -> None:
    ids = _insert(runtime, account[0], 5)
    failed = _insert(runtime, account[0], 1, status="failed", stream_name="x", offset=10)
    everything = client.get("/v1/recordings?limit=100", headers=auth).json()
    assert [r["id"] for r in everything["data"]][1:] == list(reversed(ids))
    assert everything["data"][0]["id"] == failed[0]

    only_failed = client.get("/v1/recordings?status=failed", headers=auth).json()["data"]
    assert [r["id"] for r in only_failed] == failed
    s0 = client.get("/v1/recordings?stream_name=s0", headers=auth).json()["data"]
    assert {r["id"] for r in s0} == {ids[0], ids[2], ids[4]}

    page = client.get("/v1/recordings?limit=4", headers=auth).json()
    rest = client.get(f"/v1/recordings?limit=4&cursor={page['next_cursor']}", headers=auth).json()
    assert len(page["data"]) == 4 and len(rest["data"]) == 2 and rest["next_cursor"] is None
    assert client.get("/v1/recordings?status=bogus", headers=auth).status_code == 422


def test_recording_object_shape(
    client: Any, auth: dict[str, str], account: Any, runtime: Any
) -> None:
    (rec_id,) = _insert(runtime, account[0], 1)
    body = client.get(f"/v1/recordings/{rec_id}", headers=auth).json()
    expected = {
        "id",
        "kind",
        "status",
        "stream_name",
        "source_id",
        "publish_token_id",
        "room_id",
        "session_id",
        "peer",
        "started_at",
        "ended_at",
        "duration",
        "format",
        "recovered",
        "error",
        "av_drift_ms",
        "size_bytes",
        "sizes",
        "tracks",
        "expires_at",
        "created_at",
    }
    assert expected <= set(body)
    assert set(body["sizes"]) >= {"file", "dash", "thumbnails"}
    assert body["started_at"].endswith("Z")


def test_other_account_gets_404(client: Any, auth: dict[str, str], runtime: Any) -> None:
    from telerecord.services import accounts

    with runtime.db.session() as session:
        other, _secret = accounts.create_account(session, "other")
    (rec_id,) = _insert(runtime, other.id, 1)
    for path in ("", "/download", "/assets", "/clip?start=0&duration=1"):
        assert client.get(f"/v1/recordings/{rec_id}{path}", headers=auth).status_code == 404, path
    assert client.delete(f"/v1/recordings/{rec_id}", headers=auth).status_code == 404
    bulk = client.post("/v1/recordings/delete", json={"ids": [rec_id]}, headers=auth).json()
    assert bulk == {"deleted": [], "not_found": [rec_id]}


def test_media_of_unfinished_recording_is_409(
    client: Any, auth: dict[str, str], account: Any, runtime: Any
) -> None:
    (rec_id,) = _insert(runtime, account[0], 1, status="processing")
    for path in ("/download", "/assets", "/clip?start=0&duration=1"):
        response = client.get(f"/v1/recordings/{rec_id}{path}", headers=auth)
        assert response.status_code == 409, path
    assert (
        client.get(f"/v1/recordings/{rec_id}/download?expires_in=0", headers=auth).status_code
        == 422
    )
    too_long = client.get(f"/v1/recordings/{rec_id}/download?expires_in=604801", headers=auth)
    assert too_long.status_code == 422

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telerecord.clock import utcnow


def test_settings_roundtrip_and_secret_is_write_only(client: Any, auth: dict[str, str]) -> None:
    initial = client.get("/v1/settings", headers=auth).json()
    assert initial["retention_days"] is None and initial["quota_bytes"] is None
    assert initial["storage"]["url"] is None
    body = {
        "retention_days": 30,
        "quota_bytes": 10_000_000,
        "storage": {
            "url": "s3://bucket/prefix?endpoint_url=http://127.0.0.1:9000&region=us-east-1",
            "access_key_id": "AKIA1",
            "secret_access_key": "s3cr3t",
        },
    }
    patched = client.patch("/v1/settings", json=body, headers=auth)
    assert patched.status_code == 200
    for view in (patched.json(), client.get("/v1/settings", headers=auth).json()):
        assert view["retention_days"] == 30 and view["quota_bytes"] == 10_000_000
        assert view["storage"]["url"] == body["storage"]["url"]
        assert view["storage"]["access_key_id"] == "AKIA1"
        assert view["storage"]["secret_access_key"] is None
        assert view["storage"]["secret_access_key_set"] is True
    reset = client.patch(
        "/v1/settings", json={"retention_days": None, "storage": {"url": None}}, headers=auth
    )
    assert reset.json()["retention_days"] is None and reset.json()["storage"]["url"] is None
    assert reset.json()["quota_bytes"] == 10_000_000


def test_invalid_settings(client: Any, auth: dict[str, str]) -> None:
    for body in (
        {"retention_days": 0},
        {"quota_bytes": -1},
        {"storage": {"url": "ftp://x"}},
        {"storage": {"url": "s3://"}},
        {"nonsense": 1},
    ):
        response = client.patch("/v1/settings", json=body, headers=auth)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"


def test_usage_integrates_gb_hours(
    client: Any, auth: dict[str, str], account: Any, runtime: Any
) -> None:
    from telerecord.db.models import StorageSpan

    now = utcnow()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with runtime.db.session() as session:
        # 2 GB kept for exactly 10 hours inside this month, then deleted: 20 GB-hours.
        session.add(
            StorageSpan(
                account_id=account[0],
                recording_id="rec_a",
                size_bytes=2_000_000_000,
                stored_from=month_start,
                stored_until=month_start + timedelta(hours=10),
            )
        )
        # 1 GB stored from before this month until now: counted from the month's start.
        session.add(
            StorageSpan(
                account_id=account[0],
                recording_id="rec_b",
                size_bytes=1_000_000_000,
                stored_from=month_start - timedelta(days=40),
            )
        )
    usage = client.get("/v1/usage", headers=auth).json()
    hours_so_far = (utcnow() - month_start).total_seconds() / 3600
    assert usage["month"] == now.strftime("%Y-%m")
    assert usage["storage_bytes"] == 1_000_000_000
    assert abs(usage["gb_hours"] - (20 + hours_so_far)) < 0.01
    last = (month_start - timedelta(days=1)).strftime("%Y-%m")
    previous = client.get(f"/v1/usage?month={last}", headers=auth).json()
    assert previous["month"] == last and previous["gb_hours"] > 0
    assert client.get("/v1/usage?month=2024-13", headers=auth).status_code == 422
    assert client.get("/v1/usage?month=nope", headers=auth).status_code == 422

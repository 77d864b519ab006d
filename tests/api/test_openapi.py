"""The OpenAPI document describes the endpoints of API.md that this service implements."""

from __future__ import annotations

from typing import Any

BUILT = [
    ("post", "/v1/api-secrets"),
    ("get", "/v1/api-secrets"),
    ("delete", "/v1/api-secrets/{secret_id}"),
    ("post", "/v1/publish-tokens"),
    ("get", "/v1/publish-tokens"),
    ("get", "/v1/publish-tokens/{token_id}"),
    ("patch", "/v1/publish-tokens/{token_id}"),
    ("delete", "/v1/publish-tokens/{token_id}"),
    ("post", "/whip/{stream_name}"),
    ("delete", "/whip/sessions/{session_id}"),
    ("get", "/v1/streams"),
    ("post", "/v1/streams/{stream_name}/recording/start"),
    ("post", "/v1/streams/{stream_name}/recording/stop"),
    ("post", "/v1/streams/{stream_name}/recording/pause"),
    ("post", "/v1/streams/{stream_name}/recording/resume"),
    ("get", "/v1/recordings"),
    ("get", "/v1/recordings/{recording_id}"),
    ("get", "/v1/recordings/{recording_id}/download"),
    ("get", "/v1/recordings/{recording_id}/assets"),
    ("get", "/v1/recordings/{recording_id}/clip"),
    ("delete", "/v1/recordings/{recording_id}"),
    ("post", "/v1/recordings/delete"),
    ("post", "/v1/webhooks"),
    ("get", "/v1/webhooks"),
    ("get", "/v1/webhooks/{webhook_id}"),
    ("patch", "/v1/webhooks/{webhook_id}"),
    ("delete", "/v1/webhooks/{webhook_id}"),
    ("get", "/v1/webhooks/{webhook_id}/deliveries"),
    ("post", "/v1/webhooks/{webhook_id}/test"),
    ("get", "/v1/usage"),
    ("get", "/v1/settings"),
    ("patch", "/v1/settings"),
    ("get", "/healthz"),
    ("get", "/metrics"),
]


def test_every_built_endpoint_is_documented(client: Any) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    missing = [(m, p) for m, p in BUILT if m not in paths.get(p, {})]
    assert missing == []


def test_recording_schema_has_every_field(client: Any) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    fields = set(schemas["RecordingOut"]["properties"])
    assert {"id", "kind", "status", "av_drift_ms", "sizes", "tracks", "expires_at"} <= fields
    token = set(schemas["PublishTokenOut"]["properties"])
    assert token == {"id", "label", "token", "streams", "record", "live", "created_at"}


def test_health_and_metrics(client: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": True}
    text = client.get("/metrics").text
    assert "# TYPE telerecord_live_streams gauge" in text
    assert "telerecord_live_streams 0" in text

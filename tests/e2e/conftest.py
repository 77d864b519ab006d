"""A running service for end-to-end tests, one per test (each gets its own data dir)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servicehost import ServiceProcess


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    svc = ServiceProcess(
        tmp_path / "data",
        host="0.0.0.0",
        env={"TELERECORD_RECONNECT_GRACE": "4", "TELERECORD_SILENCE_TIMEOUT": "3"},
    )
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()


def publish_token(service: ServiceProcess, streams: list[str], record: bool = True) -> str:
    body = {"label": "e2e", "streams": streams, "record": record}
    response = service.api("POST", "/v1/publish-tokens", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def whip_url(service: ServiceProcess, stream: str, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{service.port}/whip/{stream}"


def wait_finished(
    service: ServiceProcess, recording_id: str, timeout: float = 90
) -> dict[str, Any]:
    return dict(
        service.wait_for(
            f"/v1/recordings/{recording_id}",
            lambda r: r.get("status") in ("complete", "failed"),
            timeout=timeout,
        )
    )


def only_recording(service: ServiceProcess, **filters: str) -> dict[str, Any]:
    body = service.api("GET", "/v1/recordings", params=filters).json()
    assert len(body["data"]) == 1, body
    return dict(body["data"][0])


def download(service: ServiceProcess, recording_id: str, dest: Path) -> Path:
    link = service.api("GET", f"/v1/recordings/{recording_id}/download").json()
    response = httpx.get(link["url"], timeout=60, follow_redirects=True)
    assert response.status_code == 200, response.text
    dest.write_bytes(response.content)
    return dest

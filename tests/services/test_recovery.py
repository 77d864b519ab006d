"""A restart finds recordings stuck in `processing` (their job died with its process)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from starlette.testclient import TestClient

from telerecord.clock import utcnow
from telerecord.db.models import Recording
from telerecord.server import build_app
from tests.services.test_processing import _record_spool, _stop


def test_startup_sweep_requeues_stuck_processing(runtime: Any, account: tuple[str, str]) -> None:
    spool = runtime.settings.spool_dir / "rec_stuck"
    _record_spool(spool, seconds=2.0)
    _stop(runtime, account[0], "rec_stuck", spool)
    with runtime.db.session() as session:
        rec = session.get(Recording, "rec_stuck")
        assert rec is not None
        # The process that held it died mid-job: its lease is still in the future.
        rec.lease_until = utcnow() + timedelta(minutes=10)
    runtime.jobs.huey.flush()  # and its queued job is gone
    with TestClient(build_app(runtime)) as client:
        headers = {"Authorization": f"Bearer {account[1]}"}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            body = client.get("/v1/recordings/rec_stuck", headers=headers).json()
            if body["status"] != "processing":
                break
            time.sleep(0.2)
    assert body["status"] == "complete", body
    assert body["duration"] is not None and abs(body["duration"] - 2.0) < 0.2

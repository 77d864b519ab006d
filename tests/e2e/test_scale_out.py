"""Broker mode: jobs on Redis consumed by a separate ``telerecord worker`` process, with the
database under test (PostgreSQL in the PostgreSQL pass)."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.e2e.conftest import only_recording, publish_token, wait_finished, whip_url
from tests.publishers.aiortc_pub import publish_aiortc
from tests.servicehost import ServiceProcess


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), 1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def queue_url() -> Iterator[str]:
    if not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    db = random.randint(1, 15)
    url = f"redis://127.0.0.1:6379/{db}"
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


async def test_worker_process_consumes_redis_queue(
    tmp_path: Path, database_url: str, queue_url: str
) -> None:
    env = {
        "TELERECORD_DATABASE_URL": database_url,
        "TELERECORD_QUEUE_URL": queue_url,
    }
    service = ServiceProcess(tmp_path / "data", env=env).start()
    worker_log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "telerecord.cli", "worker"],
        env={**os.environ, **env, "TELERECORD_DATA_DIR": str(tmp_path / "data")},
        stdout=worker_log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        token = publish_token(service, ["*"])
        await publish_aiortc(whip_url(service, "scaled"), token, duration=3.0)
        rec = wait_finished(service, only_recording(service)["id"])
        assert rec["status"] == "complete", rec
        log = (tmp_path / "worker.log").read_text()
        assert "process_recording" in log, log
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        worker_log.close()
        service.stop()

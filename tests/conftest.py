"""Fixtures shared by the whole suite: database per test (SQLite, or PostgreSQL when
TELERECORD_TEST_DATABASE_URL is set), settings in a temp dir, the app and an account."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PG_ENV = "TELERECORD_TEST_DATABASE_URL"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that never touch the database need not run again in the PostgreSQL pass.
    for item in items:
        if "database_url" not in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.nopg)


@pytest.fixture(autouse=True)
def no_public_stun(monkeypatch: pytest.MonkeyPatch) -> None:
    # aiortc peers default to Google's STUN server; this machine has no internet, and a resolver
    # that drops queries would stall every ICE gathering in the tests.
    from aiortc.rtcicetransport import RTCIceGatherer

    monkeypatch.setattr(RTCIceGatherer, "getDefaultIceServers", classmethod(lambda cls: []))


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        yield f"sqlite:///{tmp_path / 'telerecord.db'}"
        return
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Any:
    from telerecord.settings import load_settings

    data = tmp_path / "data"
    return load_settings(
        env={},
        overrides={
            "data_dir": data,
            "database_url": database_url,
            "public_url": "http://testserver",
            "reconnect_grace": 3.0,
            "silence_timeout": 4.0,
        },
    ).resolved()


@pytest.fixture
def runtime(settings: Any) -> Iterator[Any]:
    from telerecord.server import build_runtime

    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        rt.jobs.stop_consumer()
        rt.db.dispose()


@pytest.fixture
def client(runtime: Any) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from telerecord.server import build_app

    with TestClient(build_app(runtime)) as test_client:
        yield test_client


@pytest.fixture
def account(runtime: Any) -> tuple[str, str]:
    """(account id, API secret) of a fresh account."""
    from telerecord.services import accounts

    with runtime.db.session() as session:
        acc, secret = accounts.create_account(session, "test")
        return acc.id, secret.secret


@pytest.fixture
def auth(account: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {account[1]}"}

"""Fixtures of the webhook tests: a fresh database with the tables, on the suite's
``database_url`` (SQLite in a temp dir, or PostgreSQL when TELERECORD_TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from telerecord.db.engine import Database
from telerecord.db.models import Base


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    try:
        Base.metadata.create_all(database.engine)
        yield database
    finally:
        database.dispose()

from __future__ import annotations

from pathlib import Path

import pytest

from telerecord.jobs import backoff_delay
from telerecord.settings import load_settings


def test_env_then_flags(tmp_path: Path) -> None:
    env = {"TELERECORD_PORT": "9000", "TELERECORD_DATA_DIR": str(tmp_path / "a")}
    settings = load_settings(env=env, overrides={"data_dir": str(tmp_path / "b"), "host": None})
    assert settings.port == 9000 and settings.data_dir == tmp_path / "b"
    assert settings.host == "127.0.0.1"


def test_resolved_defaults_live_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(env={"TELERECORD_DATA_DIR": str(tmp_path)}).resolved()
    assert settings.database_url == f"sqlite:///{tmp_path / 'telerecord.db'}"
    assert settings.storage_url == f"file://{tmp_path / 'storage'}"
    assert settings.public_url == "http://127.0.0.1:8080"
    key = settings.signing_key
    assert (
        len(key) == 64
        and load_settings(env={"TELERECORD_DATA_DIR": str(tmp_path)}).resolved().signing_key == key
    )


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(ValueError, match="TELERECORD_PORT"):
        load_settings(env={"TELERECORD_PORT": "eighty"})


def test_job_backoff_grows_and_is_capped() -> None:
    delays = [backoff_delay(n) for n in range(1, 10)]
    assert delays[:3] == [5.0, 10.0, 20.0]
    assert delays == sorted(delays) and max(delays) == 600.0

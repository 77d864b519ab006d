"""The CLI as a newcomer uses it: first start, accounts create, one secret working everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.servicehost import ServiceProcess


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TELERECORD_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "telerecord.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_accounts_create_json_prints_one_object(tmp_path: Path) -> None:
    result = _cli("accounts", "create", "acme", "--json", data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert set(body) == {"id", "name", "api_secret"}
    assert body["id"].startswith("acc_") and body["name"] == "acme"


def test_first_start_prints_secret_and_cli_secret_works(tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = ServiceProcess(data).start()
    try:
        assert service.secret, service.output()
        assert "WHIP:" in service.output()
        assert service.api("GET", "/v1/recordings").status_code == 200
        created = _cli("accounts", "create", "second", "--json", data_dir=data)
        other = json.loads(created.stdout)["api_secret"]
        headers = {"Authorization": f"Bearer {other}"}
        import httpx

        assert httpx.get(service.url + "/v1/publish-tokens", headers=headers).status_code == 200
    finally:
        service.stop()
    # A second start on the same database creates no new default account.
    again = ServiceProcess(data).start()
    try:
        assert again.secret is None
    finally:
        again.stop()


def test_bad_setting_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "TELERECORD_DATA_DIR": str(tmp_path), "TELERECORD_PORT": "eighty"}
    result = subprocess.run(
        [sys.executable, "-m", "telerecord.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "TELERECORD_PORT" in result.stderr and "Traceback" not in result.stderr

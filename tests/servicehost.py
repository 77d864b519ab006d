"""A real ``telerecord serve`` process for end-to-end tests (and its restart after kill -9)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lan_ip() -> str:
    """The address of the default-route interface (Chromium does not use loopback for ICE)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        return str(sock.getsockname()[0])


class ServiceProcess:
    """``telerecord serve`` on a free port with its own data dir; output goes to a log file."""

    def __init__(
        self, data_dir: Path, *, host: str = "127.0.0.1", env: dict[str, str] | None = None
    ):
        self.data_dir = data_dir
        self.host = host
        self.port = free_port()
        self.env = {**os.environ, **(env or {})}
        self.env.update(
            {
                "TELERECORD_DATA_DIR": str(data_dir),
                "TELERECORD_HOST": host,
                "TELERECORD_PORT": str(self.port),
                "TELERECORD_PUBLIC_URL": f"http://{host}:{self.port}",
            }
        )
        self.log_path = data_dir.parent / f"serve-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.secret: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "telerecord.cli", "serve"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited early:\n{self.output()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"serve did not become healthy:\n{self.output()}")
        found = re.search(r"API secret \(shown once, keep it\): (\S+)", self.output())
        if found:
            self.secret = found.group(1)
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def auth(self) -> dict[str, str]:
        assert self.secret, "no API secret was printed"
        return {"Authorization": f"Bearer {self.secret}"}

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, self.url + path, headers=self.auth, timeout=30, **kwargs)

    def kill(self) -> None:
        """kill -9, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def wait_for(self, path: str, predicate: Any, timeout: float = 60.0) -> Any:
        """Poll a GET until ``predicate(json)`` holds; returns that JSON."""
        deadline = time.monotonic() + timeout
        body: Any = None
        while time.monotonic() < deadline:
            body = self.api("GET", path).json()
            if predicate(body):
                return body
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting on {path}: last {body}\n{self.output()[-3000:]}")

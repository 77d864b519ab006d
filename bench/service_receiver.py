"""The real product as the ingest benchmark's receiver: a ``telerecord serve`` subprocess.

Used by bench/ingest.py ("service" mode): starts the service on a free port with its own
data dir, reads its CPU time and RSS from /proc, and counts the video packets of the
recordings it finished.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RecordedVideo:
    """What one finished recording holds: its video packet count and first packet's digest."""

    recording_id: str
    stream_name: str
    packets: int
    first_digest: str


class ServiceUnderTest:
    """``telerecord serve`` with its own data dir; output goes to ``<data_dir>.log``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.with_suffix(".log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.secret = ""

    def start(self, timeout: float = 60.0) -> None:
        """Start the service and wait for /healthz; read the API secret it prints."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "TELERECORD_DATA_DIR": str(self.data_dir),
            "TELERECORD_HOST": "127.0.0.1",
            "TELERECORD_PORT": str(self.port),
            "TELERECORD_PUBLIC_URL": self.url,
        }
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "telerecord.cli", "serve"],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._wait_healthy(timeout)
        found = re.search(r"API secret \(shown once, keep it\): (\S+)", self.output())
        if not found:
            raise RuntimeError(f"serve printed no API secret:\n{self.output()[-2000:]}")
        self.secret = found.group(1)

    def _wait_healthy(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited early:\n{self.output()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"serve did not become healthy:\n{self.output()[-2000:]}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """SIGTERM the service's process group, then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.secret}"}
        response = httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)
        response.raise_for_status()
        return response

    def publish_token(self) -> str:
        """A publish token for any stream name, recording on."""
        body = {"label": "bench", "streams": ["*"], "record": True}
        return str(self.api("POST", "/v1/publish-tokens", json=body).json()["token"])

    # --- measurements ----------------------------------------------------------------------

    def cpu_seconds(self) -> float:
        """utime + stime of the service process, all its threads included."""
        assert self.proc is not None
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of stat

    def rss_mib(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def wait_complete(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """Poll GET /v1/recordings until `count` recordings are complete (or failed)."""
        deadline = time.monotonic() + timeout
        done: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            rows = self.api("GET", "/v1/recordings", params={"limit": 100}).json()["data"]
            done = [r for r in rows if r["status"] in ("complete", "failed")]
            if len(done) >= count:
                return done
            time.sleep(0.5)
        raise TimeoutError(f"{len(done)} of {count} recordings finished in {timeout:.0f} s")

    def recorded_video(self, recording: dict[str, Any]) -> RecordedVideo:
        """Video packets in the recording's file (downloaded through its signed URL)."""
        name = str(recording["stream_name"])
        if recording["status"] != "complete":
            return RecordedVideo(recording["id"], name, 0, "")
        link = self.api("GET", f"/v1/recordings/{recording['id']}/download").json()["url"]
        target = self.data_dir.parent / f"{recording['id']}.media"
        with httpx.stream("GET", link, timeout=60) as response, open(target, "wb") as out:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                out.write(chunk)
        try:
            packets, digest = count_video_packets(target)
        finally:
            target.unlink()
        return RecordedVideo(recording["id"], name, packets, digest)


def count_video_packets(path: Path) -> tuple[int, str]:
    """Video packets in a media file (PyAV demux) and the SHA-1 of the first one's bytes."""
    count, digest = 0, ""
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            if packet.size == 0:
                continue  # the demuxer's flush packet
            if count == 0:
                digest = hashlib.sha1(bytes(packet)).hexdigest()
            count += 1
    return count, digest

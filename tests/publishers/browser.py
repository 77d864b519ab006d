"""A real browser publisher: headless Debian Chromium with its fake camera and microphone.

Chromium loads whip.html from a tiny local HTTP server; the page reads its parameters from
the URL, publishes for `duration` seconds, optionally DELETEs, and POSTs its outcome
(from getStats) back to that server. No DevTools protocol is needed.

Chromium does not use loopback for ICE: the WHIP server's answer must carry a candidate on
a real interface (aiortc gathers those by default); `lan_ip()` gives the default route's
address for URLs that must be reachable from outside loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

from tests.publishers.whip_client import WhipError

CHROMIUM = "/usr/bin/chromium"
PAGE = Path(__file__).with_name("whip.html")
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-crash-reporter",
    "--disable-breakpad",
    "--mute-audio",
]
STARTUP_ALLOWANCE = 20.0  # browser start + ICE/DTLS, on a loaded 2-core CI machine


@dataclass(frozen=True, slots=True)
class BrowserResult:
    """What Chromium reported (RTCPeerConnection.getStats at the end of the publish)."""

    resource_url: str
    video_codec: str | None  # e.g. "VP8", "H264", "VP9", "AV1"
    frames_encoded: int
    frames_sent: int
    width: int
    height: int
    audio_packets: int
    span: float  # seconds between "connected" and the stats read
    delete_status: int | None  # None when the page did not DELETE


def lan_ip() -> str:
    """The IPv4 address of the default route's interface (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))
        address: str = probe.getsockname()[0]
    return address


class _PageServer:
    """Serves whip.html and receives the page's result on POST /result."""

    def __init__(self) -> None:
        self.results: queue.Queue[dict[str, Any]] = queue.Queue()
        results = self.results

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = PAGE.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                results.put(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _start_chromium(url: str, profile: Path) -> subprocess.Popen[bytes]:
    with open(profile / "chromium.log", "wb") as log:
        return subprocess.Popen(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile / 'data'}", url],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,  # own process group: killpg takes its helpers too
        )


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


async def _await_result(
    server: _PageServer, process: subprocess.Popen[bytes], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return server.results.get_nowait()
        except queue.Empty:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited early with {process.returncode}")
        await asyncio.sleep(0.1)
    raise TimeoutError("no result from the browser page")


def _to_result(raw: dict[str, Any]) -> BrowserResult:
    if not raw["ok"]:
        status = raw.get("post_status")
        if status is not None and status != 201:
            raise WhipError(status, raw.get("post_body") or "", "browser WHIP POST refused")
        raise RuntimeError(f"browser publish failed: {raw.get('error')}")
    return BrowserResult(
        resource_url=raw["resource_url"],
        video_codec=raw["video_codec"],
        frames_encoded=int(raw["frames_encoded"]),
        frames_sent=int(raw["frames_sent"]),
        width=int(raw["width"]),
        height=int(raw["height"]),
        audio_packets=int(raw["audio_packets"]),
        span=float(raw["span"]),
        delete_status=raw["delete_status"],
    )


async def publish_chromium(
    endpoint: str,
    token: str | None,
    *,
    codec: Literal["VP8", "H264", "VP9", "AV1"] = "VP8",
    duration: float = 3.0,
    width: int = 640,
    height: int = 480,
    audio: bool = True,
    ending: Literal["delete", "kill"] = "delete",
    workdir: Path | None = None,
) -> BrowserResult:
    """Publish from headless Chromium's fake camera (+ microphone) for `duration` seconds.

    ending: "delete" makes the page send DELETE; "kill" SIGKILLs the browser without DELETE
    (a crashed publisher). Raises WhipError if the POST is refused, RuntimeError/TimeoutError
    on any other failure (the message carries the page's error).
    The browser and its helpers are always killed before returning.
    workdir: where the profile and chromium.log go and stay (default: a temp dir, removed).
    """
    profile = workdir or Path(tempfile.mkdtemp(prefix="whip-chromium-"))
    server = _PageServer()
    query = {
        "whip": endpoint,
        "token": token or "",
        "codec": codec,
        "duration": str(duration),
        "width": str(width),
        "height": str(height),
        "audio": "1" if audio else "0",
        "delete": "1" if ending == "delete" else "0",
        "result": f"http://127.0.0.1:{server.port}/result",
    }
    process = _start_chromium(
        f"http://127.0.0.1:{server.port}/whip.html?{urlencode(query)}", profile
    )
    try:
        raw = await _await_result(server, process, duration + STARTUP_ALLOWANCE)
    finally:
        _kill_group(process)
        server.close()
        if workdir is None:
            shutil.rmtree(profile, ignore_errors=True)
    return _to_result(raw)

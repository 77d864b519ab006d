"""A tiny test-only WHIP server: stock aiortc answers, decodes and counts frames per track.

Used only to test the publishers in tests/publishers. Runs uvicorn in a thread with its
own event loop, listening on 0.0.0.0 so that Chromium (which avoids loopback for ICE)
can reach it through the LAN address.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import uvicorn
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.publishers.whip_client import sdp_video_codec


@dataclass
class EchoTrack:
    """Frames decoded from one received track."""

    kind: str
    frames: int = 0
    sizes: list[tuple[int, int]] = field(default_factory=list)  # distinct sizes, in order
    ended: bool = False


@dataclass
class EchoSession:
    """One WHIP session as the echo server saw it."""

    id: str
    stream: str
    video_codec: str | None
    tracks: list[EchoTrack] = field(default_factory=list)
    deleted: bool = False
    connection_state: str = "new"

    def track(self, kind: str) -> EchoTrack | None:
        return next((t for t in self.tracks if t.kind == kind), None)


async def _count_frames(track: MediaStreamTrack, record: EchoTrack) -> None:
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            record.ended = True
            return
        record.frames += 1
        size = (getattr(frame, "width", 0), getattr(frame, "height", 0))
        if record.kind == "video" and (not record.sizes or record.sizes[-1] != size):
            record.sizes.append(size)


class WhipEcho:
    """WHIP endpoint at /whip/{stream}; sessions at /whip/sessions/{id}; Bearer `token`."""

    def __init__(self, token: str = "echo-token") -> None:
        self.token = token
        self.sessions: dict[str, EchoSession] = {}
        self._pcs: dict[str, RTCPeerConnection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("0.0.0.0", 0))
        self.port: int = self._socket.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def endpoint(self, stream: str = "live", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/whip/{stream}"

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    async def _post(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response("bad token", status_code=401)
        if request.headers.get("content-type", "").split(";")[0] != "application/sdp":
            return Response("offer must be application/sdp", status_code=415)
        offer = (await request.body()).decode()
        session_id = uuid.uuid4().hex
        pc = RTCPeerConnection()
        session = EchoSession(session_id, request.path_params["stream"], None)

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            record = EchoTrack(track.kind)
            session.tracks.append(record)
            task = asyncio.create_task(_count_frames(track, record))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            session.connection_state = pc.connectionState

        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        session.video_codec = sdp_video_codec(pc.localDescription.sdp)
        self.sessions[session_id] = session
        self._pcs[session_id] = pc
        headers = {"Location": f"/whip/sessions/{session_id}"}
        return Response(pc.localDescription.sdp, 201, headers, media_type="application/sdp")

    async def _delete(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response("bad token", status_code=401)
        session_id = request.path_params["session_id"]
        pc = self._pcs.pop(session_id, None)
        if pc is None:
            return Response("no such session", status_code=404)
        self.sessions[session_id].deleted = True
        await pc.close()
        return Response(status_code=200)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        yield
        for pc in list(self._pcs.values()):
            await pc.close()
        self._pcs.clear()
        for task in list(self._tasks):
            task.cancel()

    def _app(self) -> Starlette:
        routes = [
            Route("/whip/sessions/{session_id}", self._delete, methods=["DELETE"]),
            Route("/whip/{stream}", self._post, methods=["POST"]),
        ]
        cors = Middleware(
            CORSMiddleware,
            allow_origins=["*"],
            allow_methods=["POST", "DELETE", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["Location"],
        )
        return Starlette(routes=routes, middleware=[cors], lifespan=self._lifespan)

    def start(self) -> None:
        config = uvicorn.Config(
            self._app(), log_level="warning", ws="none", http="h11", loop="asyncio", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("whip echo server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> WhipEcho:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Poll `predicate` (reading sessions) until true or timeout; returns its last value."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

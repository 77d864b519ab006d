"""aiortc's stock receive path for the ingest benchmark: every track is decoded by recv().

Used by bench/ingest.py as the baseline ("stock") receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError


class StockReceiver:
    """Consumes every remote track of the given peer connections through aiortc's recv()."""

    def __init__(self) -> None:
        self.frames: Counter[str] = Counter()  # kind -> decoded frames
        self._tasks: list[asyncio.Task[None]] = []

    def watch(self, pc: RTCPeerConnection) -> None:
        """Start consuming each track `pc` announces (call before setRemoteDescription)."""

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.ensure_future(self._consume(track)))

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.frames[track.kind] += 1

    async def close(self) -> None:
        """Stop the consumers."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

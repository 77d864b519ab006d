"""Spool writer: one thread per recording muxes queued frames into numbered pieces.

The event loop only appends to a deque (never blocks, rarely wakes the thread); the thread
owns every PyAV object and drains the deque in batches.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time as clock
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from telerecord.media.piece import Kind, PieceWriter

log = logging.getLogger(__name__)

_QUEUE_LIMIT = 4000  # ~40 s of 480p video + audio; beyond that the disk is not keeping up
# Waking a thread per frame cost as much CPU as the muxing itself: the writer wakes at most
# this often and takes what has piled up. Far below the ~1 s that crash safety allows.
_BATCH_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class _Packet:
    kind: Kind
    codec: str
    data: bytes
    time: float
    keyframe: bool


class SpoolWriter:
    """Queue + writer thread for one recording's pieces (spool_dir/piece-0001.webm, ...).

    A new piece starts when a packet does not fit the current one: a track that was not
    there when the piece opened (video joining an audio-only recording), or another codec.
    """

    def __init__(self, spool_dir: Path, name: str = "recording") -> None:
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.spool_dir = spool_dir
        self.errors = 0
        self._pending: deque[_Packet | None] = deque()
        self._wake = threading.Event()
        self._signalled = False
        self._pieces = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"spool-{name}", daemon=True)
        self._thread.start()

    def write(self, kind: Kind, codec: str, data: bytes, time: float, keyframe: bool) -> bool:
        """Enqueue one packet; False if the queue is full and the packet was dropped."""
        if self._closed or len(self._pending) >= _QUEUE_LIMIT:
            return False
        self._pending.append(_Packet(kind, codec, data, time, keyframe))
        self._signal()
        return True

    def _signal(self) -> None:
        # Only the first packet after the writer went to sleep pays for Event.set().
        if not self._signalled:
            self._signalled = True
            self._wake.set()

    async def close(self) -> None:
        """Flush everything queued, close the last piece, stop the thread (off the loop)."""
        self._request_close()
        await asyncio.to_thread(self._thread.join)

    def close_sync(self) -> None:
        """Blocking close, for code that does not run an event loop."""
        self._request_close()
        self._thread.join()

    def _request_close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pending.append(None)
            self._signalled = False
            self._signal()

    # --- writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        piece: PieceWriter | None = None
        while True:
            self._wake.wait()
            clock.sleep(_BATCH_SECONDS)
            # Clear the event, then the flag, then drain: a packet appended after the flag is
            # cleared sets the event again; one appended before is drained below.
            self._wake.clear()
            self._signalled = False
            while self._pending:
                item = self._pending.popleft()
                if item is None:
                    self._finish(piece)
                    return
                piece = self._put(piece, item)

    def _put(self, piece: PieceWriter | None, item: _Packet) -> PieceWriter:
        if piece is None:
            piece = self._new_piece()
        if not self._write(piece, item):
            log.info("spool %s: %s %s: new piece", self.spool_dir, item.kind, item.codec)
            self._finish(piece)
            piece = self._new_piece()
            self._write(piece, item)
        return piece

    def _new_piece(self) -> PieceWriter:
        self._pieces += 1
        return PieceWriter(self.spool_dir, self._pieces)

    def _write(self, piece: PieceWriter, item: _Packet) -> bool:
        try:
            return piece.write(item.kind, item.codec, item.data, item.time, item.keyframe)
        except Exception:  # one bad packet must not end the recording
            self.errors += 1
            log.exception("spool %s: dropped a %s packet", piece.path, item.kind)
            return True

    def _finish(self, piece: PieceWriter | None) -> None:
        if piece is None:
            return
        try:
            piece.close()
        except Exception:
            self.errors += 1
            log.exception("spool %s: close failed", piece.path)

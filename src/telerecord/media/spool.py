"""Spool writer: one thread per recording muxes queued frames into numbered pieces.

The event loop only enqueues (never blocks); the thread owns every PyAV object.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

from telerecord.media.piece import Kind, PieceLayout, PieceWriter

log = logging.getLogger(__name__)

_QUEUE_LIMIT = 4000  # ~40 s of 480p video + audio; beyond that the disk is not keeping up


@dataclass(frozen=True, slots=True)
class _Packet:
    kind: Kind
    data: bytes
    time: float
    keyframe: bool


@dataclass(frozen=True, slots=True)
class _NewPiece:
    layout: PieceLayout


_Item = _Packet | _NewPiece | None  # None = close


def piece_path(spool_dir: Path, number: int, layout: PieceLayout) -> Path:
    """spool_dir/piece-0001.webm style names; numbers sort in recording order."""
    return spool_dir / f"piece-{number:04d}.{layout.format}"


class SpoolWriter:
    """Queue + writer thread for one recording's pieces."""

    def __init__(self, spool_dir: Path, name: str = "recording") -> None:
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.spool_dir = spool_dir
        self.errors = 0
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=_QUEUE_LIMIT)
        self._pieces = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"spool-{name}", daemon=True)
        self._thread.start()

    def new_piece(self, layout: PieceLayout) -> None:
        """Close the current piece (if any); following packets go to a new one."""
        self._queue.put(_NewPiece(layout))

    def write(self, kind: Kind, data: bytes, time: float, keyframe: bool) -> bool:
        """Enqueue one packet; False if the queue is full and the packet was dropped."""
        if self._closed:
            return False
        try:
            self._queue.put_nowait(_Packet(kind, data, time, keyframe))
        except queue.Full:
            return False
        return True

    async def close(self) -> None:
        """Flush everything queued, close the last piece, stop the thread (off the loop)."""
        if not self._closed:
            self._closed = True
            await asyncio.to_thread(self._queue.put, None)
        await asyncio.to_thread(self._thread.join)

    def close_sync(self) -> None:
        """Blocking close, for code that does not run an event loop."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    # --- writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        piece: PieceWriter | None = None
        while True:
            item = self._queue.get()
            if item is None:
                break
            if isinstance(item, _NewPiece):
                self._finish(piece)
                self._pieces += 1
                piece = PieceWriter(piece_path(self.spool_dir, self._pieces, item.layout), item.layout)
            elif piece is not None:
                piece = self._write(piece, item)
        self._finish(piece)

    def _write(self, piece: PieceWriter, item: _Packet) -> PieceWriter:
        try:
            piece.write(item.kind, item.data, item.time, item.keyframe)
        except Exception:  # one bad packet must not end the recording
            self.errors += 1
            log.exception("spool %s: dropped a %s packet", piece.path.name, item.kind)
        return piece

    def _finish(self, piece: PieceWriter | None) -> None:
        if piece is None:
            return
        try:
            piece.close()
        except Exception:
            self.errors += 1
            log.exception("spool %s: close failed", piece.path.name)

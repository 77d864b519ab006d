"""StreamRecorder: encoded frames of one recording -> crash-safe pieces under a spool dir.

Runs on the event loop and only decides and enqueues; a SpoolWriter thread does the muxing.

Limitations (by design of "codec in = codec out"):
- The recording's video codec is fixed by its first written keyframe. If a reconnect brings
  another video codec (e.g. VP8 -> H.264), that video is dropped (audio continues) and a
  warning is logged: one file cannot hold a video track whose codec changes, and VP8 and
  H.264 do not even share a container.
- An audio-only recording that later gets video continues in a new piece with both tracks;
  finalize joins them (it writes MP4 if the video is H.264, copying the Opus audio over).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import count
from pathlib import Path

from telerecord.media.bitstream import frame_size
from telerecord.media.frames import EncodedFrame
from telerecord.media.keyframe_gate import KeyframeGate
from telerecord.media.piece import supported_video_codec
from telerecord.media.spool import SpoolWriter
from telerecord.media.timeline import RecordingTimeline

log = logging.getLogger(__name__)

_ids = count(1)


class StreamRecorder:
    """One recording: frames -> crash-safe pieces under spool_dir; muxing in a writer thread."""

    def __init__(self, spool_dir: Path, *, request_keyframe: Callable[[], None]) -> None:
        self._name = f"{spool_dir.name or 'recording'}-{next(_ids)}"
        self._spool = SpoolWriter(spool_dir, self._name)
        self._request_keyframe = request_keyframe
        self._timeline = RecordingTimeline()
        self._gate = KeyframeGate()
        self._video_codec: str | None = None  # fixed by the first written video keyframe
        self._paused = False
        self._closed = False
        self._has_media = False
        self._warned: set[str] = set()
        self._held: list[tuple[EncodedFrame, float]] = []  # audio before the start decision

    def on_frame(self, frame: EncodedFrame) -> None:
        """Take one frame (event loop thread; never blocks)."""
        if self._closed or self._paused or not self._accepts(frame):
            return
        local = self._timeline.local_time(frame)
        admission = self._gate.admit(frame.kind, self._usable_keyframe(frame), frame.arrival)
        if admission.request_keyframe:
            self._request_keyframe()
        if admission.hold:
            self._held.append((frame, local))
        if not admission.write:
            if frame.kind == "video" and self._held:
                self._held.clear()  # not audio-only: audio before the first keyframe is dropped
            return
        if frame.kind == "video" and self._video_codec is None:
            self._video_codec = frame.codec
        held, self._held = (self._held if admission.release_held else []), []
        for earlier, earlier_local in held:
            self._write(earlier, earlier_local)
        self._write(frame, local)

    def begin_segment(self, request_keyframe: Callable[[], None]) -> None:
        """A reconnect continues this recording: new RTP clocks, wait for a keyframe again."""
        self._request_keyframe = request_keyframe
        self._timeline.begin_segment()
        self._gate.reset()
        self._held.clear()

    def pause(self) -> None:
        """Stop writing; the paused span is left out of the file."""
        if not self._paused:
            self._paused = True
            self._timeline.pause()

    def resume(self) -> None:
        """Continue writing; video restarts on a keyframe (requested now)."""
        if self._paused:
            self._paused = False
            self._gate.wait_for_keyframe()
            if self._video_codec is not None:
                self._request_keyframe()

    @property
    def has_media(self) -> bool:
        """True once any frame was handed to the writer."""
        return self._has_media

    @property
    def av_drift_ms(self) -> float | None:
        """Audio minus video offset between sender-report and arrival timing (ms); None w/o SRs."""
        return self._timeline.av_drift_ms

    @property
    def write_errors(self) -> int:
        """Packets the writer thread failed to mux (logged)."""
        return self._spool.errors

    async def close(self) -> None:
        """Flush and close the pieces (the muxing thread is joined off the loop)."""
        self._closed = True
        await self._spool.close()

    # --- internals ---------------------------------------------------------------------

    def _accepts(self, frame: EncodedFrame) -> bool:
        if frame.kind == "audio":
            return self._once_unless(frame.codec.lower() == "opus", f"audio codec {frame.codec}")
        if not supported_video_codec(frame.codec):
            return self._once_unless(False, f"video codec {frame.codec}")
        same = self._video_codec is None or frame.codec == self._video_codec
        return self._once_unless(same, f"video codec change to {frame.codec}")

    def _once_unless(self, ok: bool, what: str) -> bool:
        if not ok and what not in self._warned:
            self._warned.add(what)
            log.warning("recording %s: dropping frames: unsupported %s", self._name, what)
        return ok

    def _usable_keyframe(self, frame: EncodedFrame) -> bool:
        # An H.264 piece needs the picture size from an in-band SPS before its header.
        if not frame.keyframe:
            return False
        return frame.codec != "H264" or frame_size("H264", frame.data) is not None

    def _write(self, frame: EncodedFrame, local: float) -> None:
        when = self._timeline.to_recording(frame.kind, local)
        if self._spool.write(frame.kind, frame.codec, frame.data, when, frame.keyframe):
            self._has_media = True
        elif frame.kind == "video":
            log.warning("recording %s: writer queue full, waiting for a keyframe", self._name)
            self._gate.wait_for_keyframe()

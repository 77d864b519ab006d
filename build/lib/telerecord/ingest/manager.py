"""Live streams of this media node: publish, end, reconnect, takeover, live recording controls."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from telerecord.clock import isoformat, utcnow
from telerecord.db.engine import Database
from telerecord.db.models import Recording
from telerecord.errors import Conflict, Forbidden, NotFound
from telerecord.ids import new_id
from telerecord.ingest.grace import GraceParking
from telerecord.ingest.recorder import StreamRecorder
from telerecord.ingest.session import WhipSession
from telerecord.jobs import JobQueue
from telerecord.services import recordings
from telerecord.settings import Settings

log = logging.getLogger(__name__)

# A live session silent this long has lost its publisher: a new publisher may take over.
STALE_AFTER = 3.0
WATCHDOG_INTERVAL = 0.5

StreamKey = tuple[str, str, str | None]  # account, stream name, source id


@dataclass(frozen=True)
class Publisher:
    """What ingest needs to know of the publish token used."""

    token_id: str
    account_id: str
    token: str
    record: bool


@dataclass
class ActiveRecording:
    id: str
    account_id: str
    recorder: StreamRecorder
    spool_dir: Path


@dataclass
class LiveStream:
    id: str
    key: StreamKey
    publisher: Publisher
    session: WhipSession
    started_at: datetime = field(default_factory=utcnow)
    recording: ActiveRecording | None = None

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "stream_name": self.key[1],
            "source_id": self.key[2],
            "publish_token_id": self.publisher.token_id,
            "started_at": isoformat(self.started_at),
            "recording_id": self.recording.id if self.recording else None,
            "tracks": self.session.tracks,
        }


class IngestManager:
    """Owns every live stream and its recording on this node. Lives on the event loop."""

    def __init__(self, settings: Settings, db: Database, jobs: JobQueue) -> None:
        self.settings = settings
        self.db = db
        self.jobs = jobs
        self.streams: dict[str, LiveStream] = {}
        self._by_key: dict[StreamKey, LiveStream] = {}
        self._locks: dict[StreamKey, asyncio.Lock] = {}
        self.parked: GraceParking[StreamKey, ActiveRecording] = GraceParking(
            settings.reconnect_grace, self._finish
        )
        self._watchdog: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.counters = {
            "sessions_started": 0,
            "sessions_ended": 0,
            "takeovers": 0,
            "reconnects": 0,
        }

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._watchdog = asyncio.create_task(self._watch(), name="ingest-watchdog")

    # -- publishing -------------------------------------------------------------------------

    async def publish(
        self, publisher: Publisher, stream_name: str, source_id: str | None, offer: str
    ) -> tuple[LiveStream, str]:
        """Start a live stream from a WHIP offer; returns it and the SDP answer."""
        key: StreamKey = (publisher.account_id, stream_name, source_id)
        async with self._locks.setdefault(key, asyncio.Lock()):
            carried = await self._take_over(key)
            session = WhipSession(
                new_id("str"), stun_url=self.settings.stun_url, public_ip=self.settings.public_ip
            )
            try:
                answer = await session.accept(offer)
            except BaseException:
                await session.close()
                if carried is not None:
                    self.parked.park(key, carried)
                raise
            stream = LiveStream(session.id, key, publisher, session)
            self.streams[stream.id] = stream
            self._by_key[key] = stream
            self.counters["sessions_started"] += 1
            recording = carried or self.parked.take(key)
            if recording is not None:
                self.counters["reconnects"] += 1
                recording.recorder.begin_segment(session.request_keyframe)
                self._attach(stream, recording)
            elif publisher.record:
                await self._start_recording(stream)
        log.info("stream %s: %s/%s live", stream.id, stream_name, source_id or "-")
        return stream, answer

    async def _take_over(self, key: StreamKey) -> ActiveRecording | None:
        existing = self._by_key.get(key)
        if existing is None:
            return None
        if existing.session.silent_for(time.monotonic()) < STALE_AFTER:
            raise Conflict(f"Stream {key[1]!r} is already live.")
        log.info("stream %s: silent publisher replaced by a new one", existing.id)
        self.counters["takeovers"] += 1
        carried, existing.recording = existing.recording, None
        await self._end(existing, graceful=True)
        return carried

    def _attach(self, stream: LiveStream, recording: ActiveRecording) -> None:
        stream.recording = recording
        stream.session.on_frame = recording.recorder.on_frame

    async def _start_recording(self, stream: LiveStream) -> ActiveRecording:
        rec_id = new_id("rec")
        spool = self.settings.spool_dir / rec_id
        account_id, stream_name, source_id = stream.key

        def _create() -> None:
            with self.db.session() as session:
                recordings.create_stream_recording(
                    session,
                    account_id=account_id,
                    stream_name=stream_name,
                    source_id=source_id,
                    publish_token_id=stream.publisher.token_id,
                    spool_dir=str(spool),
                    recording_id=rec_id,
                )

        await asyncio.to_thread(_create)
        recorder = StreamRecorder(spool, request_keyframe=stream.session.request_keyframe)
        recording = ActiveRecording(rec_id, account_id, recorder, spool)
        self._attach(stream, recording)
        log.info("recording %s: started on stream %s", rec_id, stream.id)
        return recording

    # -- ending -----------------------------------------------------------------------------

    async def end_session(self, session_id: str, token: str) -> None:
        """WHIP DELETE: the publisher is done; its recording finishes now."""
        stream = self.streams.get(session_id)
        if stream is None:
            raise NotFound(f"WHIP session {session_id} does not exist.")
        if stream.publisher.token != token:
            raise Forbidden("This session belongs to another publish token.")
        await self._end(stream, graceful=True)

    async def end_token_streams(self, token_id: str, *, reason: str) -> None:
        for stream in [s for s in self.streams.values() if s.publisher.token_id == token_id]:
            log.info("stream %s: ended (%s)", stream.id, reason)
            await self._end(stream, graceful=True)

    async def _end(self, stream: LiveStream, *, graceful: bool) -> None:
        if self.streams.pop(stream.id, None) is None:
            return
        if self._by_key.get(stream.key) is stream:
            del self._by_key[stream.key]
        self.counters["sessions_ended"] += 1
        recording, stream.recording = stream.recording, None
        await stream.session.close()
        if recording is None:
            return
        if graceful or not recording.recorder.has_media:
            await self._finish(recording)
        else:
            log.info(
                "recording %s: publisher dropped; waiting %.0f s", recording.id, self.parked.grace
            )
            self.parked.park(stream.key, recording)

    async def _finish(self, recording: ActiveRecording) -> None:
        """Close the recorder and hand the recording to processing (or fail it if empty)."""
        await recording.recorder.close()
        has_media = recording.recorder.has_media
        drift = recording.recorder.av_drift_ms

        def _stop() -> None:
            with self.db.session() as session:
                rec = session.get(Recording, recording.id)
                if rec is None or rec.status not in recordings.LIVE_STATUSES:
                    return
                if has_media:
                    recordings.mark_stopped(session, recording.id, av_drift_ms=drift)
                else:
                    recordings.mark_failed(session, rec, "no media was received")
            if has_media:
                self.jobs.enqueue_processing(recording.id)

        await asyncio.to_thread(_stop)
        log.info("recording %s: stopped (media: %s)", recording.id, has_media)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCHDOG_INTERVAL)
            now = time.monotonic()
            for stream in list(self.streams.values()):
                session = stream.session
                if (
                    session.failed.is_set()
                    or session.silent_for(now) > self.settings.silence_timeout
                ):
                    log.info("stream %s: publisher gone", stream.id)
                    try:
                        await self._end(stream, graceful=False)
                    except Exception:
                        log.exception("stream %s: ending failed", stream.id)

    async def shutdown(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        for stream in list(self.streams.values()):
            await self._end(stream, graceful=True)
        await self.parked.flush()

    # -- live controls ----------------------------------------------------------------------

    def find(self, account_id: str, stream_name: str, source_id: str | None) -> LiveStream:
        stream = self._by_key.get((account_id, stream_name, source_id))
        if stream is None:
            raise NotFound(f"Stream {stream_name!r} is not live.")
        return stream

    async def start_recording(self, stream: LiveStream) -> str:
        if stream.recording is not None:
            raise Conflict(f"Stream {stream.key[1]!r} is already recording.")
        return (await self._start_recording(stream)).id

    async def stop_recording(self, stream: LiveStream) -> str:
        recording = stream.recording
        if recording is None:
            raise Conflict(f"Stream {stream.key[1]!r} is not recording.")
        stream.recording = None
        stream.session.on_frame = lambda _frame: None
        await self._finish(recording)
        return recording.id

    async def set_paused(self, stream: LiveStream, paused: bool) -> str:
        recording = stream.recording
        if recording is None:
            raise Conflict(f"Stream {stream.key[1]!r} is not recording.")

        def _update() -> None:
            with self.db.session() as session:
                recordings.set_paused(session, recording.id, paused)

        await asyncio.to_thread(_update)
        if paused:
            recording.recorder.pause()
        else:
            recording.recorder.resume()
        return recording.id

    def is_token_live(self, token_id: str) -> bool:
        return any(s.publisher.token_id == token_id for s in list(self.streams.values()))

    def list_streams(self, account_id: str) -> list[dict[str, Any]]:
        live = [s for s in list(self.streams.values()) if s.key[0] == account_id]
        live.sort(key=lambda s: s.started_at, reverse=True)
        return [s.as_api() for s in live]

    def discard_recording(self, recording_id: str) -> None:
        """Drop a live recording that is being deleted (called from a worker thread)."""
        if self.loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._discard(recording_id), self.loop)
        future.result(timeout=30)

    async def _discard(self, recording_id: str) -> None:
        for stream in list(self.streams.values()):
            if stream.recording is not None and stream.recording.id == recording_id:
                recording, stream.recording = stream.recording, None
                stream.session.on_frame = lambda _frame: None
                await recording.recorder.close()
        for key, recording in self.parked.values():
            if recording.id == recording_id:
                self.parked.cancel(key)
                await recording.recorder.close()

    def metric_samples(self) -> Iterable[tuple[str, str, dict[str, str], float]]:
        streams = list(self.streams.values())
        yield ("telerecord_live_streams", "gauge", {}, float(len(streams)))
        yield ("telerecord_parked_recordings", "gauge", {}, float(len(self.parked.values())))
        for name, value in self.counters.items():
            yield (f"telerecord_{name}_total", "counter", {}, float(value))
        totals: dict[str, int] = {}
        for stream in streams:
            for tap in stream.session.taps:
                for stat, value in vars(tap.stats).items():
                    totals[stat] = totals.get(stat, 0) + int(value)
        for stat, value in totals.items():
            yield ("telerecord_tap_" + stat, "gauge", {}, float(value))

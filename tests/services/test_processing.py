"""The processing job on a real spool: outputs, events, idempotence, failures and retries."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy import select

from telerecord.db.models import Account, Asset, Event, Recording, StorageSpan
from telerecord.ingest.recorder import StreamRecorder
from telerecord.services import processing, recordings
from tests.media.mediagen import as_frames, by_arrival, encode_opus, encode_video
from tests.storage.s3server import MotoServer
from tests.storage.tcpproxy import TcpProxy


def _record_spool(spool: Path, seconds: float = 3.0) -> None:
    video = as_frames("video", "VP8", encode_video("VP8", [(320, 240, int(30 * seconds))]))
    audio = as_frames("audio", "opus", encode_opus(seconds))

    async def _feed() -> None:
        recorder = StreamRecorder(spool, request_keyframe=lambda: None)
        for frame in by_arrival(video, audio):
            recorder.on_frame(frame)
        await recorder.close()

    asyncio.run(_feed())


@pytest.fixture
def stopped(runtime: Any, account: tuple[str, str]) -> str:
    """A recording whose live part ended: status processing, pieces in its spool."""
    spool = runtime.settings.spool_dir / "rec_p1"
    _record_spool(spool)
    return _stop(runtime, account[0], "rec_p1", spool)


def _stop(runtime: Any, account_id: str, recording_id: str, spool: Path) -> str:
    with runtime.db.session() as session:
        recordings.create_stream_recording(
            session,
            account_id=account_id,
            stream_name="s",
            source_id=None,
            publish_token_id=None,
            spool_dir=str(spool),
            recording_id=recording_id,
        )
        recordings.mark_stopped(session, recording_id)
    return recording_id


def _events(runtime: Any) -> list[dict[str, Any]]:
    with runtime.db.session() as session:
        return [e.payload for e in session.scalars(select(Event).order_by(Event.created_at))]


def test_process_stores_every_output(runtime: Any, stopped: str, account: tuple[str, str]) -> None:
    with runtime.db.session() as session:
        acc = session.get(Account, account[0])
        assert acc is not None
        acc.retention_days = 7
    processing.process(runtime, stopped)
    with runtime.db.session() as session:
        rec = session.get(Recording, stopped)
        assert rec is not None
        assets = session.scalars(select(Asset).where(Asset.recording_id == stopped)).all()
        span = session.scalar(select(StorageSpan).where(StorageSpan.recording_id == stopped))
        assert rec.status == "complete" and rec.format == "webm"
        assert rec.duration is not None and abs(rec.duration - 3.0) < 0.2
        assert rec.expires_at is not None
        types = {a.type for a in assets}
        assert {"file", "dash", "poster", "thumbnail", "sprite", "vtt"} <= types
        assert rec.sizes["file"] == next(a.size_bytes for a in assets if a.type == "file")
        assert rec.size_bytes == sum(a.size_bytes for a in assets)
        assert span is not None and span.size_bytes == rec.size_bytes and span.stored_until is None
    root = Path(runtime.settings.storage_url.removeprefix("file://"))
    for asset in assets:
        assert (root / asset.key).stat().st_size == asset.size_bytes
    assert not Path(runtime.settings.spool_dir / stopped).exists()
    complete = [e for e in _events(runtime) if e["type"] == "recording.complete"]
    assert len(complete) == 1 and complete[0]["data"]["download_url"].startswith(
        "http://testserver"
    )

    processing.process(runtime, stopped)  # a duplicate job is a no-op
    assert len([e for e in _events(runtime) if e["type"] == "recording.complete"]) == 1


def test_unusable_spool_fails_with_an_error(runtime: Any, account: tuple[str, str]) -> None:
    spool = runtime.settings.spool_dir / "rec_bad"
    spool.mkdir(parents=True)
    (spool / "piece-0001.webm").write_bytes(b"garbage" * 100)
    _stop(runtime, account[0], "rec_bad", spool)
    runtime.jobs._run_processing("rec_bad", 1)
    with runtime.db.session() as session:
        rec = session.get(Recording, "rec_bad")
        assert rec is not None and rec.status == "failed" and "no usable media" in (rec.error or "")
    assert _events(runtime)[-1]["type"] == "recording.failed"


def test_storage_failure_retries_and_keeps_the_spool(
    runtime: Any, stopped: str, account: tuple[str, str], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where storage wants a folder")
    with runtime.db.session() as session:
        acc = session.get(Account, account[0])
        assert acc is not None
        acc.storage_url = f"file://{blocker}/storage"
    runtime.jobs._run_processing(stopped, 1)
    with runtime.db.session() as session:
        rec = session.get(Recording, stopped)
        assert rec is not None and rec.status == "processing"
    assert any(Path(runtime.settings.spool_dir / stopped).iterdir())
    (retry,) = runtime.jobs.huey.pending()  # the retry, with backoff
    assert retry.args == (stopped, 2) and retry.eta is not None

    with runtime.db.session() as session:
        acc = session.get(Account, account[0])
        assert acc is not None
        acc.storage_url = None
    runtime.jobs._run_processing(stopped, 2)
    with runtime.db.session() as session:
        rec = session.get(Recording, stopped)
        assert rec is not None and rec.status == "complete"


def test_s3_outage_during_upload_loses_nothing(
    runtime: Any, stopped: str, account: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with MotoServer() as moto:
        s3 = boto3.client("s3", endpoint_url=moto.endpoint_url, region_name="us-east-1")
        s3.create_bucket(Bucket="out")
        proxy = TcpProxy(int(moto.endpoint_url.rsplit(":", 1)[1]))
        proxy.start()
        try:
            proxy.cut_after_bytes = 60_000  # in the middle of the first upload
            cuts: list[float] = []

            def _outage() -> None:
                cuts.append(1.5)
                threading.Timer(1.5, proxy.restore).start()

            proxy.on_cut = _outage
            url = f"s3://out/p?endpoint_url={proxy.endpoint_url}&region=us-east-1"
            with runtime.db.session() as session:
                acc = session.get(Account, account[0])
                assert acc is not None
                acc.storage_url = url
            processing.process(runtime, stopped)
        finally:
            proxy.close()
        assert cuts == [1.5]
        with runtime.db.session() as session:
            rec = session.get(Recording, stopped)
            assert rec is not None and rec.status == "complete"
            assets = session.scalars(select(Asset).where(Asset.recording_id == stopped)).all()
        for asset in assets:
            head = s3.head_object(Bucket="out", Key=f"p/{asset.key}")
            assert head["ContentLength"] == asset.size_bytes


def test_a_duplicate_job_waits_for_the_lease(runtime: Any, stopped: str) -> None:
    """Two jobs for one recording (a restart's sweep plus the queued job) never run together."""
    from telerecord.services.processing import LeaseHeld, _claim

    assert _claim(runtime, stopped)  # a first worker holds the lease
    with pytest.raises(LeaseHeld):
        processing.process(runtime, stopped)
    runtime.jobs._run_processing(stopped, 1)  # the job runner puts it back for later
    (later,) = runtime.jobs.huey.pending()
    assert later.args == (stopped, 1) and later.eta is not None
    with runtime.db.session() as session:
        rec = session.get(Recording, stopped)
        assert rec is not None and rec.status == "processing"
        rec.lease_until = None  # the first worker died and its lease ran out
    processing.process(runtime, stopped)
    with runtime.db.session() as session:
        rec = session.get(Recording, stopped)
        assert rec is not None and rec.status == "complete" and rec.lease_until is None


def test_a_failed_attempt_releases_the_lease(
    runtime: Any, stopped: str, account: tuple[str, str], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with runtime.db.session() as session:
        acc = session.get(Account, account[0])
        assert acc is not None
        acc.storage_url = f"file://{blocker}/storage"
    with pytest.raises(Exception, match="Not a directory"):
        processing.process(runtime, stopped)
    with runtime.db.session() as session:
        rec = session.get(Recording, stopped)
        assert rec is not None and rec.lease_until is None and rec.processing_attempts == 1

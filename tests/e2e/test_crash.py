"""kill -9 of the service mid-stream: the next start recovers the recording from its spool."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from tests.e2e.conftest import download, publish_token, wait_finished, whip_url
from tests.mediacheck import check_media
from tests.publishers.aiortc_pub import publish_aiortc
from tests.servicehost import ServiceProcess


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_kill_9_mid_stream_loses_at_most_2_seconds(
    service: ServiceProcess, tmp_path: Path, codec: str
) -> None:
    token = publish_token(service, ["*"])
    publisher = asyncio.create_task(
        publish_aiortc(whip_url(service, "crash"), token, codec=codec, duration=20.0)  # type: ignore[arg-type]
    )
    rec_id = None
    for _ in range(100):
        data = (await asyncio.to_thread(service.api, "GET", "/v1/recordings")).json()["data"]
        if data:
            rec_id = data[0]["id"]
            break
        await asyncio.sleep(0.1)
    assert rec_id is not None
    loop = asyncio.get_running_loop()
    live_from = loop.time()
    await asyncio.sleep(6.0)
    service.kill()
    published = loop.time() - live_from
    publisher.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await publisher

    service.start()
    rec = wait_finished(service, rec_id)
    assert rec["status"] == "complete", rec
    assert rec["recovered"] is True
    # Lost: what was not yet on disk (~1 s) plus the wait for the first keyframe.
    assert rec["duration"] >= published - 2.5, (rec["duration"], published)
    report = check_media(download(service, rec_id, tmp_path / f"rec.{rec['format']}"))
    assert report.decode_errors == 0
    assert report.video is not None and report.video.frames > 0


async def test_spool_with_nothing_usable_fails_cleanly(tmp_path: Path) -> None:
    """A recording left live with an empty spool ends failed with an error, not stuck."""
    from telerecord.db.engine import Database
    from telerecord.db.migrate import upgrade
    from telerecord.services import accounts, recordings

    data = tmp_path / "data"
    data.mkdir()
    db = Database(f"sqlite:///{data / 'telerecord.db'}")
    upgrade(db)
    spool = data / "spool" / "rec_empty"
    spool.mkdir(parents=True)
    (spool / "piece-0001.webm").write_bytes(b"\x1a\x45\xdf\xa3 not really webm")
    with db.session() as session:
        account, secret = accounts.create_account(session, "crashy")
        recordings.create_stream_recording(
            session,
            account_id=account.id,
            stream_name="s",
            source_id=None,
            publish_token_id=None,
            spool_dir=str(spool),
            recording_id="rec_empty",
        )
    db.dispose()
    service = ServiceProcess(data).start()
    service.secret = secret.secret
    try:
        rec = wait_finished(service, "rec_empty", timeout=30)
        assert rec["status"] == "failed" and rec["recovered"] is True
        assert rec["error"] and "no usable media" in rec["error"]
    finally:
        service.stop()

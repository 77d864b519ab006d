"""Spool pieces: container options, crash safety (SIGKILL), writer thread."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from telerecord.media.finalize import finalize, spool_pieces
from telerecord.media.opus import opus_head
from telerecord.media.piece import PieceWriter
from telerecord.media.spool import SpoolWriter

from .mediagen import decode_all, encode_opus, encode_video

CHILD = Path(__file__).with_name("spool_crash_child.py")


def feed(writer: PieceWriter, codec: str, seconds: float) -> None:
    video = encode_video(codec, [(320, 240, round(seconds * 30))])
    audio = encode_opus(seconds)
    items = [("video", codec, v) for v in video] + [("audio", "opus", a) for a in audio]
    for kind, name, coded in sorted(items, key=lambda i: i[2].time):
        writer.write(kind, name, coded.data, coded.time, coded.keyframe)  # type: ignore[arg-type]


@pytest.mark.parametrize(("codec", "suffix"), [("VP8", ".webm"), ("H264", ".mp4")])
def test_piece_is_readable_before_it_is_closed(tmp_path: Path, codec: str, suffix: str) -> None:
    # flush_packets + small clusters/fragments: an unclosed piece already holds the media.
    writer = PieceWriter(tmp_path, 1)
    feed(writer, codec, 4.0)
    assert writer.path is not None and writer.path.suffix == suffix
    copy = tmp_path / f"copy{suffix}"
    copy.write_bytes(writer.path.read_bytes())
    writer.close()
    unclosed = decode_all(copy)
    assert unclosed.times["video"][-1] >= 4.0 - 1.5
    assert unclosed.times["audio"][-1] >= 4.0 - 1.5
    closed = decode_all(writer.path)
    assert closed.duration == pytest.approx(4.0, abs=0.1)
    assert closed.decoded["video"] == 120


def test_webm_piece_has_opus_head_and_cues(tmp_path: Path) -> None:
    writer = PieceWriter(tmp_path, 1)
    feed(writer, "VP8", 2.0)
    writer.close()
    assert writer.path is not None
    with av.open(str(writer.path)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.extradata == opus_head(2)
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (320, 240)
        assert container.duration is not None
        container.seek(int(1.5 * av.time_base))  # Cues make the closed piece seekable
        packet = next(container.demux(video))
        assert packet.pts is not None and packet.time_base is not None


def test_audio_only_piece_is_webm(tmp_path: Path) -> None:
    writer = PieceWriter(tmp_path, 3)
    for coded in encode_opus(1.5):
        writer.write("audio", "opus", coded.data, coded.time, True)
    writer.close()
    assert writer.path == tmp_path / "piece-0003.webm"
    assert decode_all(writer.path).decoded["audio"] == 75


def test_packet_of_a_new_track_starts_a_new_piece(tmp_path: Path) -> None:
    spool = SpoolWriter(tmp_path / "spool")
    for coded in encode_opus(2.0):
        assert spool.write("audio", "opus", coded.data, coded.time, True)
    for coded in encode_video("VP8", [(160, 120, 30)], start=2.0):
        spool.write("video", "VP8", coded.data, coded.time, coded.keyframe)
    spool.close_sync()
    pieces = spool_pieces(tmp_path / "spool")
    assert [p.name for p in pieces] == ["piece-0001.webm", "piece-0002.webm"]
    assert decode_all(pieces[0]).codecs == {"audio": "opus"}
    assert decode_all(pieces[1]).codecs == {"video": "vp8"}
    assert spool.errors == 0
    assert not spool.write("audio", "opus", b"\xfc", 9.0, True)  # closed


@pytest.mark.parametrize("codec", ["VP8", "H264"])
def test_sigkill_loses_at_most_two_seconds(tmp_path: Path, codec: str) -> None:
    spool_dir, progress = tmp_path / "spool", tmp_path / "progress"
    log = (tmp_path / "child.log").open("wb")
    child = subprocess.Popen(
        [sys.executable, str(CHILD), codec, str(spool_dir), str(progress)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        fed = 0.0
        deadline = time.monotonic() + 30
        while fed < 5.0 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
            text = progress.read_text() if progress.exists() else ""
            fed = float(text) if text.strip() else 0.0
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        fed = float(progress.read_text())
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        log.close()
    assert fed >= 5.0, (tmp_path / "child.log").read_text()
    out = finalize(spool_dir, tmp_path / "out")
    result = decode_all(out)
    print(f"fed {fed:.2f} s, recovered {result.duration:.2f} s")
    assert result.duration >= fed - 2.0
    assert result.times["video"][-1] >= fed - 2.0
    assert result.times["audio"][-1] >= fed - 2.0
    assert result.decoded["video"] == len(result.times["video"])  # every frame decodes

"""probe(): format, duration and track details of finalized recordings."""

from __future__ import annotations

from pathlib import Path

import pytest

from telerecord.media.errors import MediaError
from telerecord.media.finalize import finalize, join_pieces
from telerecord.media.probe import probe

from .test_finalize import write_spool


@pytest.mark.parametrize(("codec", "fmt"), [("VP8", "webm"), ("H264", "mp4")])
def test_probe_video_and_audio(tmp_path: Path, codec: str, fmt: str) -> None:
    write_spool(tmp_path / "spool", codec, 3.0)
    info = probe(finalize(tmp_path / "spool", tmp_path / "out"))
    assert info.format == fmt
    assert info.duration == pytest.approx(3.0, abs=0.1)
    video, audio = sorted(info.tracks, key=lambda t: str(t["type"]), reverse=True)
    assert video["type"] == "video" and video["codec"] == codec
    assert (video["width"], video["height"]) == (320, 240)
    assert video["framerate"] == pytest.approx(30.0, abs=0.5)
    assert isinstance(video["bitrate"], int) and video["bitrate"] > 10_000
    assert set(video) == {"type", "codec", "bitrate", "width", "height", "framerate"}
    assert audio == {
        "type": "audio",
        "codec": "opus",
        "bitrate": audio["bitrate"],
        "channels": 2,
        "sample_rate": 48000,
    }
    assert isinstance(audio["bitrate"], int) and 30_000 < audio["bitrate"] < 100_000


def test_probe_audio_only(tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", None, 2.0)
    info = probe(finalize(tmp_path / "spool", tmp_path / "out"))
    assert info.format == "webm"
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert [t["type"] for t in info.tracks] == ["audio"]


def test_probe_rejects_non_media(tmp_path: Path) -> None:
    bad = tmp_path / "x.webm"
    bad.write_bytes(b"not media at all" * 10)
    with pytest.raises(MediaError):
        probe(bad)


@pytest.mark.parametrize("codec", ["VP8", "H264"])
def test_counts_from_the_copy_match_a_full_read(tmp_path: Path, codec: str) -> None:
    """The service skips probe's packet pass by using what join_pieces counted: same answer."""
    write_spool(tmp_path / "spool", codec, 3.0)
    joined = join_pieces(tmp_path / "spool", tmp_path / "out")
    measured = probe(joined.path, joined.tracks)
    read = probe(joined.path)
    assert measured.format == read.format and measured.duration == read.duration
    for ours, full in zip(measured.tracks, read.tracks, strict=True):
        assert ours["type"] == full["type"] and ours["codec"] == full["codec"]
        assert abs(int(ours["bitrate"]) - int(full["bitrate"])) <= 0.02 * int(full["bitrate"])  # type: ignore[call-overload]
        if ours["type"] == "video":
            assert ours["framerate"] == pytest.approx(full["framerate"], rel=0.02)

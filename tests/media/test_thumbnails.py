"""Thumbnails: poster, periodic images, sprite sheet and a WebVTT track into it."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageStat

from telerecord.media.errors import MediaError
from telerecord.media.thumbnails import make_thumbnails
from tests.media.sample_recordings import write_recording

CUE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})$")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("thumb-src")


@pytest.fixture(scope="module")
def recording(folder: Path) -> Path:
    """16 s, keyframe every 2 s: thumbnails come from keyframes."""
    return write_recording(folder / "rec.webm", seconds=16.0)


@pytest.fixture(scope="module")
def sparse(folder: Path) -> Path:
    """Keyframes only every 10 s, as WebRTC senders often do: frames must be decoded."""
    return write_recording(
        folder / "sparse.mp4", video="h264", seconds=12.0, size=(320, 180), keyframe_seconds=10.0
    )


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def _cues(vtt: Path) -> list[tuple[float, float, str]]:
    lines = vtt.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "WEBVTT"
    cues = []
    for i, line in enumerate(lines):
        match = CUE.match(line)
        if match:
            g = match.groups()
            cues.append((_seconds(*g[:4]), _seconds(*g[4:]), lines[i + 1]))
    return cues


def _frames_by_time(src: Path, size: tuple[int, int]) -> dict[float, Image.Image]:
    """Every frame of the source, scaled like a thumbnail, by time (ms precision)."""
    with av.open(str(src)) as container:
        return {
            round(f.time, 3): f.to_image(width=size[0], height=size[1])  # type: ignore[no-untyped-call]
            for f in container.decode(video=0)
        }


def _nearest(image: Image.Image, references: dict[float, Image.Image]) -> float:
    def distance(ref: Image.Image) -> float:
        return sum(ImageStat.Stat(ImageChops.difference(image, ref)).mean)

    return min(references, key=lambda t: distance(references[t]))


def _duration(src: Path) -> float:
    with av.open(str(src)) as container:
        return container.duration / av.time_base  # type: ignore[operator]


def test_files_sizes_and_vtt(recording: Path, tmp_path: Path) -> None:
    result = make_thumbnails(recording, tmp_path / "t", interval=5.0, width=160)
    duration = _duration(recording)

    assert len(result.images) == 4  # 0, 5, 10, 15 s
    for path in result.images:
        with Image.open(path) as image:
            assert (image.format, image.size) == ("JPEG", (160, 90))
    with Image.open(result.poster) as poster:
        assert (poster.format, poster.size) == ("JPEG", (640, 360))
    with Image.open(result.sprite) as sprite:
        assert sprite.format == "JPEG"
        sprite_w, sprite_h = sprite.size
    assert (sprite_w, sprite_h) == (4 * 160, 90)

    cues = _cues(result.vtt)
    assert len(cues) == len(result.images)
    assert cues[0][0] == 0.0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cues))  # no gaps
    assert abs(cues[-1][1] - duration) < 0.002
    for _, _, target in cues:
        name, x, y, w, h = re.fullmatch(r"(.+)#xywh=(\d+),(\d+),(\d+),(\d+)", target).groups()  # type: ignore[union-attr]
        assert name == "sprite.jpg"
        assert int(x) + int(w) <= sprite_w and int(y) + int(h) <= sprite_h


def test_images_show_the_keyframe_at_or_before_each_time(recording: Path, tmp_path: Path) -> None:
    result = make_thumbnails(recording, tmp_path / "t", interval=5.0, width=160)
    frames = _frames_by_time(recording, (160, 90))
    with Image.open(result.sprite) as sprite:
        sprite.load()
    for i, path in enumerate(result.images):
        # Keyframes every 2 s: the keyframe at or before i*5 s is at most 1 s before.
        expected = float(i * 5 // 2 * 2)
        with Image.open(path) as image:
            assert _nearest(image.convert("RGB"), frames) == expected
        tile = sprite.crop((i * 160, 0, i * 160 + 160, 90))
        assert _nearest(tile, frames) == expected


def test_sparse_keyframes_decode_to_the_exact_time(sparse: Path, tmp_path: Path) -> None:
    result = make_thumbnails(sparse, tmp_path / "t", interval=3.0, width=160)
    frames = _frames_by_time(sparse, (160, 90))
    assert len(result.images) == 4  # 0, 3, 6, 9 s
    for i, path in enumerate(result.images):
        with Image.open(path) as image:
            assert _nearest(image.convert("RGB"), frames) == pytest.approx(i * 3.0, abs=0.034)


def test_many_images_wrap_the_sprite_into_rows(recording: Path, tmp_path: Path) -> None:
    result = make_thumbnails(recording, tmp_path / "t", interval=1.0, width=96)
    assert len(result.images) == 16  # 16.007 s: no image for the last 7 ms
    with Image.open(result.sprite) as sprite:
        assert sprite.size == (10 * 96, 2 * 54)
    begin, end, target = _cues(result.vtt)[-1]
    assert begin == 15.0
    assert end == pytest.approx(_duration(recording), abs=0.002)
    assert target == "sprite.jpg#xywh=480,54,96,54"


def test_audio_only_raises_no_video(folder: Path, tmp_path: Path) -> None:
    audio = write_recording(folder / "audio.webm", video=None, seconds=3.0)
    with pytest.raises(MediaError, match="no video"):
        make_thumbnails(audio, tmp_path / "t")


def test_bad_arguments(recording: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_thumbnails(recording, tmp_path / "t", interval=0)
    with pytest.raises(ValueError):
        make_thumbnails(recording, tmp_path / "t", width=0)

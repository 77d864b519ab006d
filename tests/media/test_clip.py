"""Clips: keyframe-aligned stream copy of a time range, same container as the source."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import pytest
from PIL import ImageChops, ImageStat

from telerecord.media.clip import make_clip
from tests.media.sample_recordings import write_recording

FPS = 30


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clip-src")
    return {
        "webm": write_recording(folder / "rec.webm", seconds=14.0),
        "mp4": write_recording(folder / "rec.mp4", video="h264", seconds=14.0),
        "opus": write_recording(folder / "audio.webm", video=None, seconds=10.0),
    }


def _decode_all(path: Path) -> tuple[list[av.VideoFrame], list[av.AudioFrame]]:
    video: list[av.VideoFrame] = []
    audio: list[av.AudioFrame] = []
    with av.open(str(path)) as container:
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.VideoFrame):
                video.append(frame)
            elif isinstance(frame, av.AudioFrame):
                audio.append(frame)
    return video, audio


def _top_level_boxes(path: Path) -> list[str]:
    names, data, offset = [], path.read_bytes(), 0
    while offset + 8 <= len(data):
        size, name = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        names.append(name.decode("latin-1"))
        offset += size if size else len(data)
    return names


def _source_frame_at(src: Path, time: float) -> av.VideoFrame:
    with av.open(str(src)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and abs(frame.time - time) < 0.001:
                return frame
    raise AssertionError(f"no frame at {time}")


@pytest.mark.parametrize("kind", ["webm", "mp4"])
def test_clip_starts_at_keyframe_before_start(
    sources: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    src = sources[kind]
    out = tmp_path / f"clip.{kind}"
    result = make_clip(src, out, 5.3, 4.0)

    assert result.start == 4.0  # keyframes every 2 s
    assert result.duration == pytest.approx(5.3, abs=0.001)
    with av.open(str(out)) as container:
        assert container.format.name.split(",")[0] == ("matroska" if kind == "webm" else "mov")
        assert abs(container.duration / av.time_base - result.duration) < 0.1  # type: ignore[operator]
    video, audio = _decode_all(out)
    assert abs(len(video) - round(result.duration * FPS)) <= 1  # every frame decoded
    assert video[0].key_frame and video[0].time == pytest.approx(0.0, abs=0.001)
    assert audio[0].time is not None and 0 <= audio[0].time < 0.05
    assert video[-1].time == pytest.approx(result.duration - 1 / FPS, abs=0.04)
    # The picture is the source's keyframe at 4 s, not some other frame.
    expected = _source_frame_at(src, 4.0).to_image()  # type: ignore[no-untyped-call]
    actual = video[0].to_image()  # type: ignore[no-untyped-call]
    difference = ImageStat.Stat(ImageChops.difference(actual, expected)).mean
    assert max(difference) < 1.0
    if kind == "mp4":
        boxes = _top_level_boxes(out)
        assert boxes.index("moov") < boxes.index("mdat")  # faststart


def test_clip_on_a_keyframe_keeps_the_start(sources: dict[str, Path], tmp_path: Path) -> None:
    result = make_clip(sources["webm"], tmp_path / "clip.webm", 6.0, 2.0)
    assert result.start == pytest.approx(6.0, abs=0.001)
    assert result.duration == pytest.approx(2.0, abs=0.001)
    assert abs(len(_decode_all(tmp_path / "clip.webm")[0]) - 60) <= 1


def test_clip_past_the_end_is_cut_at_the_end(sources: dict[str, Path], tmp_path: Path) -> None:
    result = make_clip(sources["mp4"], tmp_path / "clip.mp4", 11.0, 60.0)
    assert result.start == pytest.approx(10.0, abs=0.001)
    assert result.duration == pytest.approx(4.0, abs=0.05)
    video, _ = _decode_all(tmp_path / "clip.mp4")
    assert abs(len(video) - 4 * FPS) <= 1


def test_audio_only_clip(sources: dict[str, Path], tmp_path: Path) -> None:
    result = make_clip(sources["opus"], tmp_path / "clip.webm", 3.0, 2.5)
    assert 2.9 <= result.start <= 3.0
    assert result.duration == pytest.approx(5.5 - result.start, abs=0.001)
    _, audio = _decode_all(tmp_path / "clip.webm")
    decoded = sum(f.samples for f in audio) / 48000
    assert decoded == pytest.approx(result.duration, abs=0.05)
    assert audio[0].time is not None and audio[0].time < 0.05


@pytest.mark.parametrize(
    ("start", "duration", "suffix"),
    [
        (14.5, 2.0, ".webm"),  # beyond the end
        (3.0, 0.0, ".webm"),
        (3.0, -1.0, ".webm"),
        (-1.0, 2.0, ".webm"),
        (1.0, 2.0, ".mp4"),
    ],
)
def test_bad_ranges_raise_value_error(
    sources: dict[str, Path], tmp_path: Path, start: float, duration: float, suffix: str
) -> None:
    with pytest.raises(ValueError):
        make_clip(sources["webm"], tmp_path / f"clip{suffix}", start, duration)

"""DASH packaging: the MPD lists segments that exist and play back as the source did."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import pytest

from telerecord.media.dash import package_dash
from telerecord.media.errors import MediaError
from tests.media.sample_recordings import write_recording

NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}
SEGMENT = 4.0

SOURCES: dict[str, dict[str, Any]] = {
    "vp8.webm": {"video": "vp8", "seconds": 20.0},
    "h264.mp4": {"video": "h264", "seconds": 12.0},
    "opus.webm": {"video": None, "seconds": 20.0},
    "vp9.webm": {"video": "vp9", "seconds": 8.0, "size": (320, 180)},
    "av1.webm": {"video": "av1", "seconds": 8.0, "size": (320, 180)},
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dash-src")
    return {name: write_recording(folder / name, **kw) for name, kw in SOURCES.items()}


@dataclass
class Representation:
    content_type: str
    mime_type: str
    init: str
    media: list[str]
    timeline_seconds: float


def _fill(template: str, rep_id: str, number: int, time: int) -> str:
    def value(match: re.Match[str]) -> str:
        name, fmt = match.group(1), match.group(2) or "%d"
        if name == "":
            return "$"
        if name == "RepresentationID":
            return rep_id
        return fmt % (number if name == "Number" else time)

    return re.sub(r"\$(RepresentationID|Number|Time|)(%0\d+d)?\$", value, template)


def _representations(mpd: Path) -> list[Representation]:
    root = ET.parse(mpd).getroot()
    reps = []
    for aset in root.iterfind("d:Period/d:AdaptationSet", NS):
        for rep in aset.iterfind("d:Representation", NS):
            tpl = rep.find("d:SegmentTemplate", NS)
            if tpl is None:
                tpl = aset.find("d:SegmentTemplate", NS)
            assert tpl is not None
            rep_id = rep.attrib["id"]
            number = int(tpl.get("startNumber", "1"))
            scale = int(tpl.get("timescale", "1"))
            media, t, total = [], 0, 0
            for s in tpl.iterfind("d:SegmentTimeline/d:S", NS):
                t = int(s.get("t", t))
                for _ in range(int(s.get("r", "0")) + 1):
                    media.append(_fill(tpl.attrib["media"], rep_id, number, t))
                    d = int(s.attrib["d"])
                    number, t, total = number + 1, t + d, total + d
            init = _fill(tpl.attrib["initialization"], rep_id, number, 0)
            kind = aset.get("contentType") or rep.attrib["mimeType"].split("/")[0]
            mime = rep.get("mimeType") or aset.attrib["mimeType"]
            reps.append(Representation(kind, mime, init, media, total / scale))
    return reps


def _decoded_span(data: bytes, kind: str) -> tuple[int, float]:
    """Decode every frame; return (frame count, seconds from first frame start to last end)."""
    with av.open(io.BytesIO(data), "r") as container:
        frames = list(container.decode(video=0) if kind == "video" else container.decode(audio=0))
    assert frames, "no frames decoded"
    first, last = frames[0].time, frames[-1].time
    assert first is not None and last is not None
    step = (last - first) / max(1, len(frames) - 1)
    return len(frames), last + step - first


@pytest.mark.parametrize("name", list(SOURCES))
def test_mpd_segments_exist_and_decode(sources: dict[str, Path], tmp_path: Path, name: str) -> None:
    src = sources[name]
    files = package_dash(src, tmp_path / "dash", segment_seconds=SEGMENT)

    manifest = tmp_path / "dash" / "manifest.mpd"
    assert files[0] == manifest
    reps = _representations(manifest)
    expected_kinds = {"audio"} if SOURCES[name]["video"] is None else {"audio", "video"}
    assert {r.content_type for r in reps} == expected_kinds
    listed = {name for r in reps for name in [r.init, *r.media]}
    assert all("/" not in url and ":" not in url for url in listed)  # relative, same folder
    assert {p.name for p in files[1:]} == listed
    assert all(p.is_file() and p.stat().st_size > 0 for p in files)

    with av.open(str(src)) as source:
        duration = source.duration / av.time_base  # type: ignore[operator]
    for rep in reps:
        assert rep.mime_type.endswith("/mp4" if src.suffix == ".mp4" else "/webm")
        assert abs(rep.timeline_seconds - duration) <= SEGMENT
        data = b"".join((tmp_path / "dash" / url).read_bytes() for url in [rep.init, *rep.media])
        count, span = _decoded_span(data, rep.content_type)
        assert abs(span - duration) <= SEGMENT, (rep.content_type, span, duration)
        if rep.content_type == "video":
            assert abs(count - duration * 30) <= 2  # every frame of the source is there


def test_repackaging_replaces_previous_output(sources: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "dash"
    first = package_dash(sources["vp8.webm"], out, segment_seconds=2.0)
    second = package_dash(sources["vp8.webm"], out, segment_seconds=SEGMENT)
    assert len(second) < len(first)
    listed = {n for r in _representations(out / "manifest.mpd") for n in [r.init, *r.media]}
    assert {p.name for p in out.iterdir()} == listed | {"manifest.mpd"}


def test_not_media_raises_media_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.webm"
    bogus.write_bytes(b"not a webm file at all" * 100)
    with pytest.raises(MediaError):
        package_dash(bogus, tmp_path / "dash")


def test_segment_seconds_must_be_positive(sources: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        package_dash(sources["opus.webm"], tmp_path / "dash", segment_seconds=0)

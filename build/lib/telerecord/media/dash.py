"""DASH packaging of a finalized recording by stream copy (no transcoding)."""

from __future__ import annotations

import logging
from pathlib import Path

import av
from av.container import InputContainer, OutputContainer
from av.stream import Stream

from telerecord.media.errors import MediaError

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.mpd"
INIT_SEGMENT_NAME = "init-$RepresentationID$.$ext$"
MEDIA_SEGMENT_NAME = "chunk-$RepresentationID$-$Number%05d$.$ext$"

# WebM segments carry what WebM carries; H.264 (and HEVC) need ISO BMFF segments.
_SEGMENT_TYPE_BY_VIDEO_CODEC = {"vp8": "webm", "vp9": "webm", "av1": "webm", "h264": "mp4"}


def package_dash(src: Path, out_dir: Path, *, segment_seconds: float = 4.0) -> list[Path]:
    """Package `src` (WebM or MP4) as DASH in `out_dir` without transcoding.

    Returns out_dir/manifest.mpd first, then the init and media segments it references
    by relative URL (SegmentTemplate + SegmentTimeline). Output of an earlier run in
    `out_dir` is replaced, so a retried job starts clean.
    """
    if segment_seconds <= 0:
        raise ValueError("segment_seconds must be > 0")
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_previous_output(out_dir)
    try:
        with av.open(str(src)) as source:
            streams = _media_streams(source)
            segment_type = _segment_type(source, streams)
            _copy_to_dash(source, streams, out_dir / MANIFEST_NAME, segment_type, segment_seconds)
    except av.FFmpegError as exc:
        raise MediaError(f"dash packaging failed: {exc}") from exc
    segments = sorted(p for p in out_dir.iterdir() if _is_segment(p.name))
    log.info("dash %s: %d segments (%s)", src.name, len(segments), segment_type)
    return [out_dir / MANIFEST_NAME, *segments]


def _media_streams(source: InputContainer) -> list[Stream]:
    streams = [s for s in source.streams if s.type in ("audio", "video")]
    if not streams:
        raise MediaError("no usable media")
    return streams


def _segment_type(source: InputContainer, streams: list[Stream]) -> str:
    videos = [s for s in streams if s.type == "video"]
    if not videos:
        return "mp4" if "mp4" in source.format.name.split(",") else "webm"
    codec = videos[0].codec_context.codec.canonical_name  # "av1", not the decoder "libdav1d"
    try:
        return _SEGMENT_TYPE_BY_VIDEO_CODEC[codec]
    except KeyError:
        raise MediaError(f"no DASH segment type for video codec {codec}") from None


def _copy_to_dash(
    source: InputContainer,
    streams: list[Stream],
    manifest: Path,
    segment_type: str,
    segment_seconds: float,
) -> None:
    options = {
        "seg_duration": f"{segment_seconds:g}",
        "dash_segment_type": segment_type,
        "use_template": "1",
        "use_timeline": "1",
        "init_seg_name": INIT_SEGMENT_NAME,
        "media_seg_name": MEDIA_SEGMENT_NAME,
    }
    output: OutputContainer = av.open(str(manifest), "w", format="dash", options=options)
    with output:
        # opaque=True copies the template's codec: a decoder such as libdav1d has no encoder.
        mapping = {s.index: output.add_stream_from_template(s, opaque=True) for s in streams}
        for packet in source.demux(streams):
            # The demuxer ends each stream with an empty flush packet that has no dts.
            if packet.dts is None:
                continue
            packet.stream = mapping[packet.stream.index]
            output.mux(packet)


def _is_segment(name: str) -> bool:
    return (name.startswith("init-") or name.startswith("chunk-")) and name.endswith(
        (".webm", ".m4s", ".mp4")
    )


def _remove_previous_output(out_dir: Path) -> None:
    for path in out_dir.iterdir():
        if path.is_file() and (path.name == MANIFEST_NAME or _is_segment(path.name)):
            path.unlink()

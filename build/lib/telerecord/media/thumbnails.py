"""Poster, periodic thumbnails, a sprite sheet and a WebVTT track pointing into it."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import av
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image, ImageStat

from telerecord.media.duration import container_span
from telerecord.media.errors import MediaError
from telerecord.media.frame_seek import frames_at

log = logging.getLogger(__name__)

SPRITE_COLUMNS = 10
POSTER_MAX_WIDTH = 1280
JPEG_QUALITY = 82
# A camera often starts black or grey: look at this many thumbnails for a poster with detail.
POSTER_CANDIDATES = 3
FLAT_STDDEV = 6.0
MIN_TAIL = 0.1


@dataclass
class ThumbnailSet:
    """Files written by make_thumbnails (all inside its out_dir)."""

    poster: Path
    images: list[Path]
    sprite: Path
    vtt: Path


def make_thumbnails(
    src: Path, out_dir: Path, *, interval: float = 10.0, width: int = 160
) -> ThumbnailSet:
    """Write poster.jpg, thumb-NNNNN.jpg every `interval` s (`width` px wide), sprite.jpg
    and thumbnails.vtt (cues "sprite.jpg#xywh=x,y,w,h" covering the whole duration).

    Decodes keyframes only where they are close enough to each point in time.
    Raises MediaError("no video") for audio-only input.
    """
    if interval <= 0 or width < 2:
        raise ValueError("interval must be > 0 and width >= 2")
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("thumb-*.jpg"):  # a retried job may have made more before
        stale.unlink()
    try:
        with av.open(str(src)) as container:
            if not container.streams.video:
                raise MediaError("no video")
            stream = container.streams.video[0]
            start, duration = container_span(container)
            if duration <= 0:
                raise MediaError("no usable media")
            # A last image for a sliver (e.g. Opus codec delay past the video) is useless.
            count = max(1, math.ceil((duration - MIN_TAIL) / interval))
            times = [start + i * interval for i in range(count)]
            result = _write_images(container, stream, times, out_dir, interval, width)
    except av.FFmpegError as exc:
        raise MediaError(f"thumbnails failed: {exc}") from exc
    _write_vtt(result.vtt, count, interval, duration, _tile_size(stream, width))
    log.info("thumbnails %s: %d images", src.name, count)
    return result


def _write_images(
    container: av.container.InputContainer,
    stream: VideoStream,
    times: list[float],
    out_dir: Path,
    interval: float,
    width: int,
) -> ThumbnailSet:
    tile_w, tile_h = _tile_size(stream, width)
    columns = min(SPRITE_COLUMNS, len(times))
    rows = math.ceil(len(times) / columns)
    sprite = Image.new("RGB", (columns * tile_w, rows * tile_h))
    images: list[Path] = []
    poster: Image.Image | None = None
    first: VideoFrame | None = None
    tolerance = min(interval / 2, 5.0)
    for i, frame in enumerate(frames_at(container, stream, times, tolerance=tolerance)):
        if first is None:
            first = frame
        if poster is None and i < POSTER_CANDIDATES and not _is_flat(frame):
            poster = _poster_image(frame)
        tile = _rgb_image(frame, tile_w, tile_h)
        images.append(out_dir / f"thumb-{i + 1:05d}.jpg")
        tile.save(images[-1], quality=JPEG_QUALITY)
        sprite.paste(tile, ((i % columns) * tile_w, (i // columns) * tile_h))
    assert first is not None  # frames_at yields one frame per time or raises
    poster_path = out_dir / "poster.jpg"
    (poster or _poster_image(first)).save(poster_path, quality=JPEG_QUALITY)
    sprite_path = out_dir / "sprite.jpg"
    sprite.save(sprite_path, quality=JPEG_QUALITY)
    return ThumbnailSet(poster_path, images, sprite_path, out_dir / "thumbnails.vtt")


def _tile_size(stream: VideoStream, width: int) -> tuple[int, int]:
    src_w, src_h = stream.codec_context.width, stream.codec_context.height
    if not src_w or not src_h:
        raise MediaError("video has no size")
    height = max(2, round(width * src_h / src_w / 2) * 2)
    return width, height


def _poster_image(frame: VideoFrame) -> Image.Image:
    if frame.width <= POSTER_MAX_WIDTH:
        return _rgb_image(frame, frame.width, frame.height)
    height = max(2, round(POSTER_MAX_WIDTH * frame.height / frame.width / 2) * 2)
    return _rgb_image(frame, POSTER_MAX_WIDTH, height)


def _rgb_image(frame: VideoFrame, width: int, height: int) -> Image.Image:
    image: Image.Image = frame.to_image(width=width, height=height)  # type: ignore[no-untyped-call]
    return image


def _is_flat(frame: VideoFrame) -> bool:
    small = _rgb_image(frame, 64, 36).convert("L")
    return bool(ImageStat.Stat(small).stddev[0] < FLAT_STDDEV)


def _write_vtt(
    path: Path, count: int, interval: float, duration: float, tile: tuple[int, int]
) -> None:
    tile_w, tile_h = tile
    columns = min(SPRITE_COLUMNS, count)
    lines = ["WEBVTT", ""]
    for i in range(count):
        begin = i * interval
        end = duration if i == count - 1 else min((i + 1) * interval, duration)
        x, y = (i % columns) * tile_w, (i // columns) * tile_h
        lines += [
            f"{_vtt_time(begin)} --> {_vtt_time(end)}",
            f"sprite.jpg#xywh={x},{y},{tile_w},{tile_h}",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"

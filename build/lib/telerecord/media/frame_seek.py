"""Decoded video frames at chosen times, decoding as little as the keyframes allow."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator

import av
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from telerecord.media.errors import MediaError


def frames_at(
    container: InputContainer, stream: VideoStream, times: list[float], *, tolerance: float
) -> Iterator[VideoFrame]:
    """Yield one frame for each of the ascending `times` (seconds, container timeline).

    When a keyframe lies at most `tolerance` before a time, only that keyframe is
    decoded (skip_frame=NONKEY after a seek). WebRTC senders often send keyframes
    only on request, so otherwise the frames from the previous keyframe on are
    decoded, continuing without a new seek while the same GOP covers the next time.
    """
    return _FrameSeeker(container, stream, tolerance).run(times)


class _FrameSeeker:
    def __init__(self, container: InputContainer, stream: VideoStream, tolerance: float) -> None:
        self._container = container
        self._stream = stream
        self._tolerance = tolerance
        # Cues (WebM) or the sample table (MP4) give keyframe times without reading media;
        # the WebM demuxer reads its Cues on the first seek, so this is filled after it.
        self._keyframes: list[float] | None = None
        # Frame threads hold frames back: a lone keyframe would come out only after
        # more packets. Slice threads return it from its own packet.
        stream.codec_context.thread_type = "SLICE"
        self._packets: Iterator[av.Packet[VideoStream]] = iter(())
        self._gop_start: float | None = None  # set while decoding every frame of one GOP
        self._last: VideoFrame | None = None

    def run(self, times: list[float]) -> Iterator[VideoFrame]:
        for t in times:
            frame = self._continue_gop(t) if self._same_gop(t) else self._seek_frame(t)
            if frame is not None:
                self._last = frame
            if self._last is None:
                raise MediaError("no decodable video")
            yield self._last

    def _same_gop(self, t: float) -> bool:
        if self._gop_start is None or not self._keyframes:  # None before the first seek
            return False
        index = bisect.bisect_right(self._keyframes, t + 1e-6) - 1
        return index >= 0 and abs(self._keyframes[index] - self._gop_start) < 1e-6

    def _seek_frame(self, t: float) -> VideoFrame | None:
        time_base = self._stream.time_base
        assert time_base is not None
        self._container.seek(max(0, int(t / time_base)), stream=self._stream)
        if self._keyframes is None:
            self._keyframes = _indexed_keyframes(self._stream)
        self._packets = self._container.demux(self._stream)
        self._gop_start = None
        first = next((p for p in self._packets if p.pts is not None), None)
        if first is None or first.pts is None or first.time_base is None:
            return None
        start = float(first.pts * first.time_base)
        codec = self._stream.codec_context
        if first.is_keyframe and t - start <= self._tolerance:
            codec.skip_frame = "NONKEY"
            return self._first_frame(first)
        codec.skip_frame = "DEFAULT"
        self._gop_start = start
        return self._decode_until(t, first)

    def _continue_gop(self, t: float) -> VideoFrame | None:
        return self._decode_until(t, None)

    def _first_frame(self, first: av.Packet[VideoStream]) -> VideoFrame | None:
        for packet in _chain(first, self._packets):
            frames = packet.decode()
            if frames:
                return frames[0]
        return None

    def _decode_until(self, t: float, first: av.Packet[VideoStream] | None) -> VideoFrame | None:
        packets = self._packets if first is None else _chain(first, self._packets)
        # Half a frame of slack so a frame at t (rounded down by the time base) counts.
        limit = t - 0.5 / float(self._stream.average_rate or 30)
        found: VideoFrame | None = None
        for packet in packets:
            for frame in packet.decode():
                found = frame
                if frame.time is not None and frame.time >= limit:
                    return frame
        return found


def _chain(
    first: av.Packet[VideoStream], rest: Iterator[av.Packet[VideoStream]]
) -> Iterator[av.Packet[VideoStream]]:
    # itertools.chain, not a generator: closing a generator would close `rest` too.
    return itertools.chain((first,), rest)


def _indexed_keyframes(stream: VideoStream) -> list[float]:
    time_base = stream.time_base
    if time_base is None:
        return []
    return sorted(float(e.timestamp * time_base) for e in stream.index_entries if e.is_keyframe)

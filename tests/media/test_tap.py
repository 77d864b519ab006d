"""Passthrough tap against real aiortc peers over loopback: aiortc encodes, nothing decodes."""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
import statistics
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiortc.rtcrtpreceiver
import av
import pytest
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import is_rtcp

from telerecord.media.frames import EncodedFrame
from telerecord.media.tap import TrackTap, attach_taps

DEADLINE = 8.0  # seconds to wait for something that normally happens in well under one


class PatternTrack(VideoStreamTrack):
    """320x240 video whose content changes every frame (so delta frames are not empty)."""

    def __init__(self) -> None:
        super().__init__()
        self._count = 0
        row = bytes(range(256)) * 2
        self._luma = [(row[i : i + 320] * 240) for i in range(0, 64, 4)]

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(320, 240, "yuv420p")
        frame.planes[0].update(self._luma[self._count % len(self._luma)])
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        self._count += 1
        frame.pts = pts
        frame.time_base = time_base
        return frame


@dataclass
class Session:
    sender: RTCPeerConnection
    receiver: RTCPeerConnection
    taps: list[TrackTap]
    frames: list[EncodedFrame] = field(default_factory=list)

    def tap(self, kind: str) -> TrackTap:
        return next(t for t in self.taps if t.kind == kind)

    def of(self, kind: str) -> list[EncodedFrame]:
        return [f for f in self.frames if f.kind == kind]

    def video_transport(self) -> Any:
        sender = next(t.sender for t in self.sender.getTransceivers() if t.kind == "video")
        return sender.transport


SendFilter = Callable[[bytes], bytes | None]


@asynccontextmanager
async def session(
    tracks: list[MediaStreamTrack],
    video_codec: str = "VP8",
    send_filter: SendFilter | None = None,
    signal_ssrc: bool = True,
) -> Any:
    """Sender pc (aiortc encodes `tracks`) -> receiver pc with taps; closes both afterwards."""
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    try:
        for track in tracks:
            transceiver = sender.addTransceiver(track, direction="sendonly")
            if track.kind == "video":
                caps = RTCRtpSender.getCapabilities("video")
                prefs = [c for c in caps.codecs if c.name in (video_codec, "rtx")]
                transceiver.setCodecPreferences(prefs)
        await sender.setLocalDescription(await sender.createOffer())
        offer = sender.localDescription
        if not signal_ssrc:  # like publishers that send no a=ssrc lines
            lines = [x for x in offer.sdp.splitlines() if not x.startswith("a=ssrc")]
            offer = RTCSessionDescription("\r\n".join(lines) + "\r\n", "offer")
        await receiver.setRemoteDescription(offer)
        result = Session(sender, receiver, [])
        result.taps = attach_taps(receiver, result.frames.append)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        if send_filter is not None:
            _filter_sent_rtp(result.video_transport(), send_filter)
        yield result
    finally:
        await sender.close()
        await receiver.close()


def _filter_sent_rtp(transport: Any, send_filter: SendFilter) -> None:
    """Let a test drop or rewrite RTP packets on the sender, before SRTP."""
    original = transport._send_rtp

    async def send(data: bytes) -> None:
        out = data if is_rtcp(data) else send_filter(data)
        if out is not None:
            await original(out)

    transport._send_rtp = send


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def decode_all(codec: str, frames: list[EncodedFrame]) -> list[av.VideoFrame]:
    decoder: Any = av.CodecContext.create(codec, "r")
    out = []
    for frame in frames:
        decoded = decoder.decode(av.Packet(frame.data))
        assert len(decoded) == 1, f"frame at {frame.rtp_timestamp} gave {len(decoded)} pictures"
        out += decoded
    return out


@pytest.fixture
def decoder_probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Records every call of aiortc's receiver-side get_decoder (there must be none)."""
    calls: list[object] = []
    original: Any = getattr(aiortc.rtcrtpreceiver, "get_decoder")  # noqa: B009

    def probe(codec: object) -> object:
        calls.append(codec)
        return original(codec)

    monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", probe)
    yield calls


def _decoder_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.endswith("-decoder")]


def _receive_buffer(pc: RTCPeerConnection) -> int:
    ice = pc.getTransceivers()[0].receiver.transport.transport
    sockets = [p.transport.get_extra_info("socket") for p in ice._connection._protocols]
    return min(int(s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)) for s in sockets)


def _spacing_ok(frames: list[EncodedFrame], step: int) -> None:
    stamps = [f.rtp_timestamp for f in frames]
    diffs = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(d > 0 for d in diffs), "rtp_timestamp must increase"
    # aiortc rounds each 1/30 s (video) or 20 ms (audio) step: allow one tick of rounding.
    assert all(abs(d - round(d / step) * step) <= 1 for d in diffs), diffs
    assert abs(statistics.median(diffs) - step) <= 1


async def test_vp8_and_opus_frames_without_decoding(decoder_probe: list[object]) -> None:
    async with session([PatternTrack(), AudioStreamTrack()]) as s:
        assert {(t.kind, t.codec) for t in s.taps} == {("video", "VP8"), ("audio", "opus")}
        await wait_until(lambda: any(f.wallclock for f in s.of("video")), "a sender report")
        await wait_until(lambda: len(s.of("video")) >= 60, "60 video frames")
        assert _decoder_threads() == []
        assert _receive_buffer(s.receiver) >= 2 << 20
        video, audio = s.of("video"), s.of("audio")
        video_stats = s.tap("video").stats

    assert decoder_probe == []
    assert video_stats.frames == len(video) and video_stats.garbage == 0
    assert s.tap("video").last_packet_at is not None
    pictures = decode_all("vp8", video)
    assert [p.key_frame for p in pictures] == [f.keyframe for f in video]
    assert video[0].keyframe
    assert (pictures[0].width, pictures[0].height) == (320, 240)
    assert all(f.codec == "VP8" and f.clock_rate == 90000 for f in video)
    _spacing_ok(video, 3000)
    # Not rebased: the first timestamp is the sender's (random) one, not 0.
    assert video[0].rtp_timestamp != 0
    synced = [(f.rtp_timestamp, f.wallclock) for f in video if f.wallclock is not None]
    assert abs(synced[-1][1] - time.time()) < 30
    span = synced[-1][0] - synced[0][0]
    assert synced[-1][1] - synced[0][1] == pytest.approx(span / 90000, abs=0.01)
    assert video[0].wallclock is None  # no SR yet when the first frame came

    assert len(audio) > 20
    assert all(f.codec == "opus" and f.clock_rate == 48000 and f.keyframe for f in audio)
    _spacing_ok(audio, 960)
    opus: Any = av.CodecContext.create("opus", "r")
    assert all(opus.decode(av.Packet(f.data)) for f in audio)


async def test_h264_annexb_frames_decode() -> None:
    async with session([PatternTrack()], video_codec="H264") as s:
        assert s.taps[0].codec == "H264"
        await wait_until(lambda: len(s.of("video")) >= 30, "30 video frames")
        video = s.of("video")
    assert video[0].keyframe
    assert all(f.data.startswith(b"\x00\x00\x00\x01") for f in video)
    assert b"\x00\x00\x00\x01\x67" in video[0].data  # SPS in-band before the IDR
    pictures = decode_all("h264", video)
    assert [p.key_frame for p in pictures] == [f.keyframe for f in video]
    _spacing_ok(video, 3000)


async def test_request_keyframe_sends_pli_and_a_keyframe_arrives() -> None:
    async with session([PatternTrack()]) as s:
        tap = s.taps[0]
        await wait_until(lambda: len(s.of("video")) >= 30, "30 video frames")
        before = sum(f.keyframe for f in s.of("video"))
        plis = tap.stats.plis_sent
        tap.request_keyframe()
        assert tap.stats.plis_sent == plis + 1
        tap.request_keyframe()  # rate-limited: no second PLI right away
        assert tap.stats.plis_sent == plis + 1
        await wait_until(lambda: sum(f.keyframe for f in s.of("video")) > before, "a keyframe")
        assert tap.stats.frames_dropped == 0


def _rtp_seq_ssrc(data: bytes) -> tuple[int, int]:
    seq, _, ssrc = struct.unpack_from("!HII", data, 2)
    return seq, ssrc


def _payload_offset(data: bytes) -> int:
    offset = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:
        offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
    return offset


class Dropper:
    """Drops chosen original video packets (every `every`-th); optionally their RTX too."""

    def __init__(self, every: int, count: int, drop_rtx: bool) -> None:
        self.every, self.count, self.drop_rtx = every, count, drop_rtx
        self.video_ssrc: int | None = None
        self.dropped: set[int] = set()
        self._seen = 0

    def __call__(self, data: bytes) -> bytes | None:
        seq, ssrc = _rtp_seq_ssrc(data)
        if self.video_ssrc is None:
            self.video_ssrc = ssrc  # the first RTP packet on this transport is video
        if ssrc != self.video_ssrc:
            original = struct.unpack_from("!H", data, _payload_offset(data))[0]
            return None if self.drop_rtx and original in self.dropped else data
        self._seen += 1
        if self._seen % self.every == 0 and len(self.dropped) < self.count:
            self.dropped.add(seq)
            return None
        return data


async def test_lost_packets_are_nacked_and_recovered_with_rtx() -> None:
    dropper = Dropper(every=10, count=6, drop_rtx=False)
    async with session([PatternTrack()], send_filter=dropper) as s:
        tap = s.taps[0]
        await wait_until(lambda: len(dropper.dropped) == 6, "6 dropped packets")
        await wait_until(lambda: len(s.of("video")) >= 75, "75 video frames")
        stats = tap.stats
        video = s.of("video")
    assert stats.nacks_sent >= 1
    assert stats.lost == 0 and stats.frames_dropped == 0
    decode_all("vp8", video)
    _spacing_ok(video, 3000)


async def test_unrecoverable_loss_drops_until_keyframe_then_recovers() -> None:
    dropper = Dropper(every=40, count=2, drop_rtx=True)
    async with session([PatternTrack()], send_filter=dropper) as s:
        tap = s.taps[0]
        await wait_until(lambda: len(dropper.dropped) == 2, "2 dropped packets")
        await wait_until(lambda: tap.stats.lost == 2, "the gaps to be given up")
        done = tap.stats.frames
        await wait_until(lambda: tap.stats.frames > done + 10, "frames after the loss")
        stats = tap.stats
        video = s.of("video")
    assert stats.frames_dropped >= 1
    assert stats.plis_sent >= 1
    assert sum(f.keyframe for f in video) >= 2
    decode_all("vp8", video)  # nothing undecodable was handed out


async def test_unsignalled_ssrcs_are_learned_with_rtx_and_sender_reports() -> None:
    dropper = Dropper(every=10, count=3, drop_rtx=False)
    async with session([PatternTrack()], send_filter=dropper, signal_ssrc=False) as s:
        tap = s.taps[0]
        await wait_until(lambda: len(dropper.dropped) == 3, "3 dropped packets")
        await wait_until(lambda: any(f.wallclock for f in s.of("video")), "a sender report")
        await wait_until(lambda: len(s.of("video")) >= 45, "45 video frames")
        stats = tap.stats
        video = s.of("video")
    assert stats.nacks_sent >= 1 and stats.lost == 0 and stats.frames_dropped == 0
    decode_all("vp8", video)


async def test_garbage_is_counted_and_does_not_stop_the_stream() -> None:
    sent = 0

    def corrupt(data: bytes) -> bytes | None:
        nonlocal sent
        sent += 1
        if sent % 50 == 0:  # a VP8 payload of one byte: no room for a descriptor and data
            return data[: _payload_offset(data)] + b"\x90"
        return data

    async with session([PatternTrack()], send_filter=corrupt) as s:
        tap = s.taps[0]
        await wait_until(lambda: tap.stats.garbage >= 2, "2 garbage payloads")
        # Decrypted-RTP level junk: random bytes with the video SSRC and payload type.
        transport = s.receiver.getTransceivers()[0].receiver.transport
        header = s.sender.getTransceivers()[0].sender._ssrc.to_bytes(4, "big")
        rng = random.Random(7)
        garbage_before = tap.stats.garbage
        for _ in range(200):
            junk = bytearray(rng.randbytes(rng.randrange(12, 80)))
            junk[0] = 0x80 | 0x10 | (junk[0] & 0x2F)  # version 2 + a bogus extension length
            junk[8:12] = header
            await transport._handle_rtp_data(bytes(junk), arrival_time_ms=0)
        assert tap.stats.garbage > garbage_before
        done = tap.stats.frames
        await wait_until(lambda: tap.stats.frames > done + 15, "frames after the garbage")
        video = s.of("video")
    decode_all("vp8", video)


async def test_close_ends_remote_track_without_decoder() -> None:
    async with session([PatternTrack()]) as s:
        track = s.receiver.getTransceivers()[0].receiver.track
        await wait_until(lambda: len(s.of("video")) >= 5, "5 video frames")
        waiter: Awaitable[object] = asyncio.ensure_future(track.recv())
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(waiter, DEADLINE)
    assert _decoder_threads() == []

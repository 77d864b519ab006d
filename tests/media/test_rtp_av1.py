"""AV1 RTP depayloading: hand-built packets, SVT-AV1 round trips, the recorder's av1C, aiortc."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import av
import pytest
from aiortc.exceptions import OperationError

from telerecord.ingest.recorder import StreamRecorder
from telerecord.media.finalize import finalize
from telerecord.media.frames import EncodedFrame
from telerecord.media.probe import probe
from telerecord.media.rtp_av1 import (
    Av1PayloadError,
    continues_obu,
    join_fragments,
    leb128,
    new_sequence,
    obu_elements,
    read_leb128,
    temporal_unit,
    with_size_field,
)
from telerecord.media.rtp_stream import RtpStream

from .mediagen import Coded, encode_video
from .sending import PyAvEncoder, use_test_encoder
from .test_rtp_vp9 import _answer, _offer_with_video
from .test_tap import PatternTrack, session, wait_until

TD, SEQ, FRAME, PADDING, TILE_LIST, METADATA = 2, 1, 6, 15, 8, 5

# --- test-side helpers: OBUs in low-overhead format and an RTP packetizer --------------------


@dataclass(frozen=True)
class Obu:
    type: int
    extension: bytes  # b"" or one byte
    payload: bytes

    def sized(self) -> bytes:  # obu_has_size_field = 1
        header = (self.type << 3) | (0x04 if self.extension else 0) | 0x02
        return bytes((header,)) + self.extension + _leb(len(self.payload)) + self.payload

    def unsized(self) -> bytes:  # as RTP wants it: obu_has_size_field = 0
        header = (self.type << 3) | (0x04 if self.extension else 0)
        return bytes((header,)) + self.extension + self.payload


def _leb(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def parse_obus(data: bytes) -> list[Obu]:
    """OBUs of a temporal unit as an encoder writes it (every OBU with a size field)."""
    obus, pos = [], 0
    while pos < len(data):
        header = data[pos]
        assert header & 0x02, "test data must have size fields"
        ext_size = 1 if header & 0x04 else 0
        extension = data[pos + 1 : pos + 1 + ext_size]
        pos += 1 + ext_size
        size = shift = 0
        while True:
            byte = data[pos]
            pos += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        obus.append(Obu((header >> 3) & 0x0F, extension, data[pos : pos + size]))
        pos += size
    return obus


def expected_unit(data: bytes) -> bytes:
    """What the depayloader must produce: the encoder's unit minus temporal delimiters."""
    return b"".join(o.sized() for o in parse_obus(data) if o.type != TD)


Mode = Literal["lengths", "count", "sized"]


def packetize(
    obus: list[Obu], mtu: int, mode: Mode = "lengths", *, keyframe: bool = False
) -> list[bytes]:
    """RTP payloads of one temporal unit (temporal delimiters left out, as the spec says).

    "lengths": W=0, every element has a length; "count": W=n, the last element has none;
    "sized": like "lengths" but the OBUs keep obu_has_size_field=1 (allowed, discouraged).
    """
    elements = [o.sized() if mode == "sized" else o.unsized() for o in obus if o.type != TD]
    packets: list[tuple[bool, bool, list[bytes]]] = []
    current: list[bytes] = []
    used, continuing = 1, False
    for element in elements:
        rest = element
        while rest:
            room = mtu - used - 3  # a length field of up to 3 bytes
            if room < 4:
                packets.append((continuing, False, current))
                current, used, continuing = [], 1, False
                continue
            chunk, rest = rest[:room], rest[room:]
            current.append(chunk)
            used += len(chunk) + 3
            if rest:  # fragmented: this packet ends inside the OBU, the next continues it
                packets.append((continuing, True, current))
                current, used, continuing = [], 1, True
    if current:
        packets.append((continuing, False, current))
    return [
        _payload(z, y, items, mode, keyframe and i == 0) for i, (z, y, items) in enumerate(packets)
    ]


def _payload(z: bool, y: bool, items: list[bytes], mode: Mode, first: bool) -> bytes:
    count = len(items) if mode == "count" and len(items) <= 3 else 0
    header = (0x80 if z else 0) | (0x40 if y else 0) | (count << 4) | (0x08 if first else 0)
    body = b"".join(
        item if count and i == count - 1 else _leb(len(item)) + item for i, item in enumerate(items)
    )
    return bytes((header,)) + body


Rtp = tuple[int, int, bool, bytes]


def rtp_packets(coded: list[Coded], mtu: int, mode: Mode) -> list[Rtp]:
    packets: list[Rtp] = []
    seq = 100
    for item in coded:
        payloads = packetize(parse_obus(item.data), mtu, mode, keyframe=item.keyframe)
        timestamp = 5000 + round(item.time * 90000)
        for index, payload in enumerate(payloads):
            packets.append((seq & 0xFFFF, timestamp, index == len(payloads) - 1, payload))
            seq += 1
    return packets


def receive(packets: list[Rtp]) -> tuple[list[EncodedFrame], RtpStream]:
    frames: list[EncodedFrame] = []
    stream = RtpStream("video", "AV1", 90000, nack=True, on_frame=frames.append)
    for index, (seq, timestamp, marker, payload) in enumerate(packets):
        stream.on_packet(seq, timestamp, marker, payload, now=index * 0.001)
    stream.tick(len(packets) * 0.001 + 5.0)
    return frames, stream


def decode(units: list[bytes]) -> list[av.VideoFrame]:
    decoder: Any = av.CodecContext.create("libdav1d", "r")
    out: list[av.VideoFrame] = []
    for data in units:
        out += decoder.decode(av.Packet(data))
    return out + list(decoder.decode(None))


@pytest.fixture(scope="module")
def coded() -> list[Coded]:
    """45 SVT-AV1 temporal units (low delay, a keyframe every 15), each starting with a TD."""
    units = encode_video("AV1", [(320, 240, 45)], gop=15)
    assert parse_obus(units[0].data)[0].type == TD
    return units


# --- hand-built packets --------------------------------------------------------------------


def test_leb128_round_trip() -> None:
    for value in (0, 1, 127, 128, 300, 16383, 16384, 2**32 - 1):
        encoded = leb128(value)
        assert encoded == _leb(value)
        assert read_leb128(b"\xff" + encoded + b"\x00", 1) == (value, 1 + len(encoded))
    with pytest.raises(Av1PayloadError):
        read_leb128(b"\x80\x80", 0)
    with pytest.raises(Av1PayloadError):
        read_leb128(b"\x80" * 9, 0)


def test_aggregation_header_and_elements() -> None:
    a, b, c = b"\x30abc", b"\x0a\x01\x02", b"\x32\x02xy"
    assert obu_elements(b"\x00" + _leb(4) + a + _leb(3) + b) == (False, False, [a, b])
    assert obu_elements(b"\x10" + a) == (False, False, [a])
    assert obu_elements(b"\x20" + _leb(4) + a + b) == (False, False, [a, b])
    assert obu_elements(b"\x30" + _leb(4) + a + _leb(3) + b + c) == (False, False, [a, b, c])
    assert obu_elements(b"\xd0" + a) == (True, True, [a])
    first = b"\x18" + a
    assert new_sequence(first) and not continues_obu(first)
    assert continues_obu(b"\x90" + a) and not new_sequence(b"\x90" + a)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x10",  # aggregation header only
        b"\x00\x05abc",  # element longer than the payload
        b"\x30\x01a",  # W=3 but one element
        b"\x00\x80",  # length field cut short
    ],
)
def test_malformed_payloads_raise(payload: bytes) -> None:
    with pytest.raises(Av1PayloadError):
        obu_elements(payload)


def test_fragments_are_joined_and_chain_errors_raise() -> None:
    obu = Obu(FRAME, b"", bytes(range(50))).unsized()
    payloads = [b"\x50" + obu[:10], b"\xd0" + obu[10:30], b"\x90" + obu[30:]]
    assert join_fragments(payloads) == [obu]
    with pytest.raises(Av1PayloadError):  # continuation without a start
        join_fragments(payloads[1:])
    with pytest.raises(Av1PayloadError):  # ends inside the OBU
        join_fragments(payloads[:2])
    with pytest.raises(Av1PayloadError):  # Y on one packet, no Z on the next
        join_fragments([payloads[0], b"\x10" + obu])


def test_obus_get_size_fields_and_unrecordable_ones_go() -> None:
    frame = Obu(FRAME, b"\x28", b"\x10" * 200)  # extension header (temporal 1, spatial 1)
    sequence = Obu(SEQ, b"", b"\x00\x00\x00")
    assert with_size_field(frame.unsized()) == (FRAME, frame.sized())
    assert with_size_field(frame.sized() + b"trailing") == (FRAME, frame.sized())
    with pytest.raises(Av1PayloadError):
        with_size_field(b"\x80\x00")  # forbidden bit
    with pytest.raises(Av1PayloadError):
        with_size_field(Obu(FRAME, b"", b"abc").sized()[:-1])  # shorter than obu_size
    dropped = [Obu(TD, b"", b""), Obu(PADDING, b"", b"\x00\x00"), Obu(TILE_LIST, b"", b"\x01")]
    metadata = Obu(METADATA, b"", b"\x01\x02")
    elements = [o.unsized() for o in [dropped[0], sequence, metadata, frame, *dropped[1:]]]
    payload = b"\x00" + b"".join(_leb(len(e)) + e for e in elements)
    assert temporal_unit([payload]) == sequence.sized() + metadata.sized() + frame.sized()
    only_delimiter = b"\x10" + Obu(TD, b"", b"").unsized()
    assert temporal_unit([only_delimiter]) == b""


# --- round trips with SVT-AV1 ----------------------------------------------------------------


@pytest.mark.parametrize(("mode", "mtu"), [("lengths", 200), ("count", 300), ("sized", 400)])
def test_round_trip_matches_the_encoder_and_decodes(
    coded: list[Coded], mode: Mode, mtu: int
) -> None:
    packets = rtp_packets(coded, mtu, mode)
    assert len(packets) > len(coded)  # some units span several packets
    frames, stream = receive(packets)
    assert [f.data for f in frames] == [expected_unit(c.data) for c in coded]
    assert [f.keyframe for f in frames] == [c.keyframe for c in coded]
    assert sum(f.keyframe for f in frames) == 3
    assert stream.garbage == 0 and stream.dropped == 0
    pictures = decode([f.data for f in frames])
    assert len(pictures) == len(coded) and (pictures[0].width, pictures[0].height) == (320, 240)


def test_a_lost_fragment_drops_frames_until_the_next_keyframe(coded: list[Coded]) -> None:
    counts = [len(rtp_packets([c], 100, "lengths")) for c in coded]
    hit = next(i for i in range(1, 14) if counts[i] >= 3)  # a delta unit split in 3+ packets
    packets = rtp_packets(coded, 100, "lengths")
    assert continues_obu(packets[sum(counts[:hit]) + 1][3])  # its OBU is fragmented
    del packets[sum(counts[:hit]) + 1]
    frames, stream = receive(packets)
    kept = coded[:hit] + coded[15:]
    assert [f.data for f in frames] == [expected_unit(c.data) for c in kept]
    assert stream.dropped == 15 - hit and stream.lost == 1
    assert len(decode([f.data for f in frames])) == len(kept)


async def test_recorder_writes_av1c_from_the_sequence_header(
    coded: list[Coded], tmp_path: Path
) -> None:
    frames, _ = receive(rtp_packets(coded, 300, "count"))
    recorder = StreamRecorder(tmp_path / "spool", request_keyframe=lambda: None)
    for frame in frames:
        recorder.on_frame(frame)
    await recorder.close()
    out = finalize(tmp_path / "spool", tmp_path / "out")
    sequence_header = next(o for o in parse_obus(frames[0].data) if o.type == SEQ)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        extradata = bytes(stream.codec_context.extradata or b"")
        assert stream.codec_context.codec.name in ("libdav1d", "av1")
        decoded = sum(len(p.decode()) for p in container.demux(stream))
    # av1C: marker + version 1, seq_profile/level, flags, then the sequence header OBU.
    assert extradata[0] == 0x81 and extradata[4:] == sequence_header.sized()
    assert decoded == len(coded)
    video = next(t for t in probe(out).tracks if t["type"] == "video")
    assert (video["codec"], video["width"], video["height"]) == ("AV1", 320, 240)


# --- negotiation and the tap over real aiortc peers ------------------------------------------


class Av1Encoder(PyAvEncoder):
    """SVT-AV1 + the packetizer above (tests only)."""

    encoder = "libsvtav1"
    options = {"preset": "12", "svtav1-params": "pred-struct=1"}  # noqa: RUF012

    def packetize(self, data: bytes, keyframe: bool) -> list[bytes]:
        return packetize(parse_obus(data), 1000, "count", keyframe=keyframe)


@pytest.fixture
def av1_sender(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """aiortc senders encode AV1 with `Av1Encoder`; records receiver-side decoder lookups."""
    return use_test_encoder(monkeypatch, "AV1", Av1Encoder)


async def test_aiortc_peer_sends_av1_and_the_tap_records_it(av1_sender: list[object]) -> None:
    async with session([PatternTrack()], video_codec="AV1") as s:
        answer = s.receiver.localDescription.sdp
        assert "AV1/90000" in answer and "VP8" not in answer and "VP9" not in answer
        assert [(t.kind, t.codec) for t in s.taps] == [("video", "AV1")]
        await wait_until(lambda: len(s.frames) >= 20, "20 AV1 frames")
        assert not [t for t in threading.enumerate() if t.name.endswith("-decoder")]
        frames, stats = list(s.frames), s.taps[0].stats
    assert av1_sender == []
    assert frames[0].keyframe and all(f.codec == "AV1" for f in frames)
    assert stats.garbage == 0 and stats.frames == len(frames)
    pictures = decode([f.data for f in frames])
    assert len(pictures) == len(frames) and (pictures[0].width, pictures[0].height) == (320, 240)


async def test_av1_only_offers_are_accepted_with_their_payload_type() -> None:
    answer = await _answer(_offer_with_video(["a=rtpmap:45 AV1/90000"]))
    assert "a=rtpmap:45 AV1/90000" in answer
    main = ["a=rtpmap:45 AV1/90000", "a=fmtp:45 level-idx=5;profile=0;tier=0"]
    assert "a=rtpmap:45 AV1/90000" in await _answer(_offer_with_video(main))
    with pytest.raises(OperationError):
        await _answer(_offer_with_video(["a=rtpmap:45 AV1/90000", "a=fmtp:45 profile=1"]))

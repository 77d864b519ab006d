"""RTP payload -> frame: hand-built VP8 / H.264 / Opus packets."""

from __future__ import annotations

import pytest

from telerecord.media.rtp_depacketize import (
    START_CODE,
    AssembledFrame,
    DepayloadError,
    FrameAssembler,
    h264_payload,
    vp8_payload,
)

# A VP8 keyframe starts: 3-byte frame tag with bit 0 clear, start code, 14-bit width/height.
VP8_KEY = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01, 0xF0, 0x00]) + b"\xaa" * 20
VP8_DELTA = bytes([0x31, 0x01, 0x00]) + b"\xbb" * 20
SPS = bytes([0x67, 0x42, 0xC0, 0x1F, 0xDA, 0x01, 0x40, 0x16, 0xE8])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
IDR = bytes([0x65]) + b"\x88" * 50
SLICE = bytes([0x41]) + b"\x9a" * 30


def test_vp8_minimal_descriptor() -> None:
    data, starts = vp8_payload(bytes([0x10]) + VP8_KEY)
    assert data == VP8_KEY and starts


@pytest.mark.parametrize(
    ("descriptor", "starts"),
    [
        (bytes([0x90, 0x80, 0x05]), True),  # X, I with 7-bit picture id
        (bytes([0x90, 0x80, 0x81, 0x23]), True),  # 15-bit picture id
        (bytes([0x90, 0xE0, 0x81, 0x23, 0x07, 0x40]), True),  # I, L, T: all extended fields
        (bytes([0x90, 0x50, 0x07, 0x20]), True),  # L and K without a picture id
        (bytes([0x80, 0x80, 0x05]), False),  # continuation (S = 0)
        (bytes([0x91, 0x80, 0x05]), False),  # S = 1 but partition index 1
    ],
)
def test_vp8_extended_descriptor(descriptor: bytes, starts: bool) -> None:
    data, begins = vp8_payload(descriptor + VP8_DELTA)
    assert data == VP8_DELTA
    assert begins is starts


@pytest.mark.parametrize("payload", [b"", b"\x10", bytes([0x90, 0x80]), bytes([0x90, 0xE0, 0x81])])
def test_vp8_truncated_descriptor(payload: bytes) -> None:
    with pytest.raises(DepayloadError):
        vp8_payload(payload)


def test_h264_single_nal() -> None:
    data, mask = h264_payload(SLICE)
    assert data == START_CODE + SLICE
    assert mask == 1 << 1


def test_h264_stap_a() -> None:
    stap = bytes([0x78])
    for nal in (SPS, PPS):
        stap += len(nal).to_bytes(2, "big") + nal
    data, mask = h264_payload(stap)
    assert data == START_CODE + SPS + START_CODE + PPS
    assert mask == (1 << 7) | (1 << 8)


def test_h264_fu_a_round_trip() -> None:
    indicator = (IDR[0] & 0xE0) | 28
    body = IDR[1:]
    chunks = [body[:20], body[20:40], body[40:]]
    out = b""
    masks = 0
    for index, chunk in enumerate(chunks):
        header = IDR[0] & 0x1F
        header |= 0x80 if index == 0 else 0
        header |= 0x40 if index == len(chunks) - 1 else 0
        data, mask = h264_payload(bytes([indicator, header]) + chunk)
        out += data
        masks |= mask
    assert out == START_CODE + IDR
    assert masks == 1 << 5


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        bytes([0x7C, 0x85]),  # FU-A without data
        bytes([0x78, 0x00]),  # STAP-A with a cut size field
        bytes([0x78, 0x00, 0x09, 0x67]),  # STAP-A whose NAL is shorter than announced
        bytes([0x78, 0x00, 0x00]),  # STAP-A with a zero size
        bytes([0x7D, 0x85, 0x00]),  # FU-B: not in packetization-mode 1
        bytes([0x00, 0x01]),  # NAL type 0
    ],
)
def test_h264_malformed(payload: bytes) -> None:
    with pytest.raises(DepayloadError):
        h264_payload(payload)


def _vp8_packets(frame: bytes, size: int) -> list[bytes]:
    chunks = [frame[i : i + size] for i in range(0, len(frame), size)]
    return [bytes([0x10 if i == 0 else 0x00]) + c for i, c in enumerate(chunks)]


class Collector:
    def __init__(self) -> None:
        self.frames: list[AssembledFrame] = []

    def __call__(self, frame: AssembledFrame) -> None:
        self.frames.append(frame)


def _feed(asm: FrameAssembler, seq: int, timestamp: int, packets: list[bytes]) -> int:
    for index, packet in enumerate(packets):
        asm.push(seq, timestamp, index == len(packets) - 1, packet)
        seq += 1
    return seq


def test_assembler_vp8_frames_and_keyframe_flag() -> None:
    out = Collector()
    asm = FrameAssembler("VP8", out)
    seq = _feed(asm, 100, 3000, _vp8_packets(VP8_KEY, 7))
    seq = _feed(asm, seq, 6000, _vp8_packets(VP8_DELTA, 9))
    assert [(f.data, f.timestamp, f.keyframe) for f in out.frames] == [
        (VP8_KEY, 3000, True),
        (VP8_DELTA, 6000, False),
    ]
    assert asm.dropped == 0


def test_assembler_waits_for_first_keyframe() -> None:
    out = Collector()
    asm = FrameAssembler("VP8", out)
    seq = _feed(asm, 0, 0, _vp8_packets(VP8_DELTA, 9))
    _feed(asm, seq, 3000, _vp8_packets(VP8_KEY, 9))
    assert [f.keyframe for f in out.frames] == [True]
    assert asm.dropped == 1


def test_assembler_gap_drops_frame_until_keyframe() -> None:
    out = Collector()
    asm = FrameAssembler("VP8", out)
    seq = _feed(asm, 0, 0, _vp8_packets(VP8_KEY, 7))
    packets = _vp8_packets(VP8_DELTA, 5)
    for index, packet in enumerate(packets):
        if index != 2:  # lost
            asm.push(seq + index, 3000, index == len(packets) - 1, packet)
    seq += len(packets)
    seq = _feed(asm, seq, 6000, _vp8_packets(VP8_DELTA, 5))  # intact, but its reference is not
    assert asm.waiting_for_keyframe
    _feed(asm, seq, 9000, _vp8_packets(VP8_KEY, 7))
    assert [f.timestamp for f in out.frames] == [0, 9000]
    assert asm.dropped == 2


def test_assembler_lost_frame_between_frames_keeps_keyframe_after_gap() -> None:
    out = Collector()
    asm = FrameAssembler("VP8", out)
    seq = _feed(asm, 0, 0, _vp8_packets(VP8_KEY, 7))
    # The next frame is lost entirely; a keyframe starting right after the gap is intact.
    _feed(asm, seq + 3, 6000, _vp8_packets(VP8_KEY, 7))
    assert [f.timestamp for f in out.frames] == [0, 6000]


def test_assembler_garbage_payload_counts_and_recovers() -> None:
    out = Collector()
    asm = FrameAssembler("VP8", out)
    seq = _feed(asm, 0, 0, _vp8_packets(VP8_KEY, 7))
    seq = _feed(asm, seq, 3000, [b"\x90"])  # truncated descriptor, with marker
    seq = _feed(asm, seq, 6000, _vp8_packets(VP8_DELTA, 7))
    _feed(asm, seq, 9000, _vp8_packets(VP8_KEY, 7))
    assert asm.garbage == 1
    assert [f.timestamp for f in out.frames] == [0, 9000]


def test_assembler_frame_without_marker_ends_at_next_timestamp() -> None:
    out = Collector()
    asm = FrameAssembler("VP8", out)
    packets = _vp8_packets(VP8_KEY, 7)
    for seq, packet in enumerate(packets):
        asm.push(seq, 0, False, packet)  # the sender never set the marker bit
    _feed(asm, len(packets), 3000, _vp8_packets(VP8_DELTA, 7))
    assert [(f.timestamp, f.keyframe) for f in out.frames] == [(0, True), (3000, False)]


def test_assembler_padding_keeps_sequence() -> None:
    out = Collector()
    asm = FrameAssembler("VP8", out)
    seq = _feed(asm, 0, 0, _vp8_packets(VP8_KEY, 7))
    asm.push(seq, 0, False, b"")  # padding-only packet
    _feed(asm, seq + 1, 3000, _vp8_packets(VP8_DELTA, 7))
    assert [f.timestamp for f in out.frames] == [0, 3000]


def _h264_packets(nals: list[bytes], mtu: int) -> list[bytes]:
    packets = []
    for nal in nals:
        if len(nal) <= mtu:
            packets.append(nal)
            continue
        body = nal[1:]
        chunks = [body[i : i + mtu] for i in range(0, len(body), mtu)]
        for index, chunk in enumerate(chunks):
            header = nal[0] & 0x1F
            header |= 0x80 if index == 0 else 0
            header |= 0x40 if index == len(chunks) - 1 else 0
            packets.append(bytes([(nal[0] & 0xE0) | 28, header]) + chunk)
    return packets


def test_assembler_h264_keyframe_with_parameter_sets() -> None:
    out = Collector()
    asm = FrameAssembler("H264", out)
    stap = bytes([0x78]) + b"".join(len(n).to_bytes(2, "big") + n for n in (SPS, PPS))
    seq = _feed(asm, 0, 0, [stap, *_h264_packets([IDR], 16)])
    seq = _feed(asm, seq, 3000, _h264_packets([SLICE], 16))
    # An IDR without in-band SPS/PPS gets the latest ones put in front.
    _feed(asm, seq, 6000, _h264_packets([IDR], 100))
    annexb_key = START_CODE + SPS + START_CODE + PPS + START_CODE + IDR
    assert [(f.data, f.keyframe) for f in out.frames] == [
        (annexb_key, True),
        (START_CODE + SLICE, False),
        (annexb_key, True),
    ]


def test_assembler_opus_passes_packets() -> None:
    out = Collector()
    asm = FrameAssembler("opus", out)
    asm.push(1, 960, True, b"\xfc\x01")
    asm.push(3, 2880, False, b"\xfc\x02")  # a gap does not matter for audio
    asm.push(4, 3840, False, b"")
    assert [(f.data, f.timestamp, f.keyframe) for f in out.frames] == [
        (b"\xfc\x01", 960, True),
        (b"\xfc\x02", 2880, True),
    ]

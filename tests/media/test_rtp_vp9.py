"""VP9 RTP depayloading (RFC 9628): hand-built descriptors, libvpx-vp9 round trips, aiortc."""

from __future__ import annotations

import random
import threading
from typing import Any

import av
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.exceptions import OperationError

from telerecord.media import bitstream
from telerecord.media.frames import EncodedFrame
from telerecord.media.rtp_depacketize import AssembledFrame, FrameAssembler
from telerecord.media.rtp_stream import RtpStream
from telerecord.media.rtp_vp9 import Vp9PayloadError, superframe, vp9_payload

from .mediagen import Coded, encode_video
from .sending import PyAvEncoder, use_test_encoder
from .test_tap import PatternTrack, session, wait_until

# --- a test-side packetizer (RFC 9628, non-flexible mode, as Chromium sends) -----------------


def descriptor(
    *,
    begin: bool = True,
    end: bool = True,
    picture_id: int | None = None,
    layer: tuple[int, int, int] | None = None,  # (TID, SID, TL0PICIDX)
    flexible: bool = False,
    p_diffs: tuple[int, ...] = (),
    ss_sizes: tuple[tuple[int, int], ...] = (),
) -> bytes:
    first = (0x08 if begin else 0) | (0x04 if end else 0)
    out = bytearray()
    if picture_id is not None:
        first |= 0x80
        out += bytes((picture_id,)) if picture_id < 128 else (0x8000 | picture_id).to_bytes(2)
    if layer is not None:
        tid, sid, tl0 = layer
        first |= 0x20
        out.append((tid << 5) | (sid << 1))
        if not flexible:
            out.append(tl0)
    if flexible:
        first |= 0x10
    if p_diffs:
        first |= 0x40
        out += bytes((d << 1) | (i < len(p_diffs) - 1) for i, d in enumerate(p_diffs))
    if ss_sizes:  # Y=1 (sizes) and G=1 with one group: TID 0, one reference 1 back
        first |= 0x02
        out.append(((len(ss_sizes) - 1) << 5) | 0x18)
        for width, height in ss_sizes:
            out += width.to_bytes(2) + height.to_bytes(2)
        out += bytes((1, 0x04, 1))
    return bytes((first,)) + bytes(out)


def packetize(
    frame: bytes, picture_id: int, keyframe: bool, size: tuple[int, int], mtu: int = 300
) -> list[bytes]:
    """RTP payloads of one single-layer VP9 frame."""
    chunks = [frame[i : i + mtu] for i in range(0, len(frame), mtu)]
    payloads = []
    for index, chunk in enumerate(chunks):
        head = descriptor(
            begin=index == 0,
            end=index == len(chunks) - 1,
            picture_id=picture_id & 0x7FFF,
            layer=(0, 0, picture_id & 0xFF),
            ss_sizes=(size,) if keyframe and index == 0 else (),
        )
        payloads.append(head + chunk)
    return payloads


Rtp = tuple[int, int, bool, bytes]  # seq, timestamp, marker, payload


def rtp_packets(coded: list[Coded], *, mtu: int = 300, seq0: int = 65500) -> list[Rtp]:
    packets: list[Rtp] = []
    seq = seq0
    for picture_id, item in enumerate(coded):
        size = bitstream.frame_size("VP9", item.data) or (0, 0)
        payloads = packetize(item.data, picture_id + 32760, item.keyframe, size, mtu)
        timestamp = (4_294_900_000 + round(item.time * 90000)) & 0xFFFFFFFF  # wraps
        for index, payload in enumerate(payloads):
            packets.append((seq & 0xFFFF, timestamp, index == len(payloads) - 1, payload))
            seq += 1
    return packets


def receive(packets: list[Rtp]) -> tuple[list[EncodedFrame], RtpStream]:
    frames: list[EncodedFrame] = []
    stream = RtpStream("video", "VP9", 90000, nack=True, on_frame=frames.append)
    for index, (seq, timestamp, marker, payload) in enumerate(packets):
        stream.on_packet(seq, timestamp, marker, payload, now=index * 0.001)
    stream.tick(len(packets) * 0.001 + 5.0)
    return frames, stream


def decode(frames: list[bytes]) -> list[av.VideoFrame]:
    decoder: Any = av.CodecContext.create("vp9", "r")
    out: list[av.VideoFrame] = []
    for data in frames:
        out += decoder.decode(av.Packet(data))
    return out + list(decoder.decode(None))


# --- descriptor parsing ----------------------------------------------------------------------


def test_descriptor_variants_are_stripped() -> None:
    data = b"\x82\x49\x83\x42"
    cases = [
        descriptor(),
        descriptor(picture_id=5),
        descriptor(picture_id=30000, layer=(2, 0, 77)),
        descriptor(picture_id=300, layer=(1, 0, 0), flexible=True, p_diffs=(1, 2, 3)),
        descriptor(picture_id=1, layer=(0, 0, 9), ss_sizes=((320, 180), (640, 360))),
    ]
    for head in cases:
        packet = vp9_payload(head + data)
        assert packet.data == data, head.hex()
        assert packet.begins_frame and packet.ends_frame and packet.begins_picture


def test_begin_end_and_spatial_layer_flags() -> None:
    middle = vp9_payload(descriptor(begin=False, end=False) + b"x")
    assert not middle.begins_frame and not middle.ends_frame and not middle.begins_picture
    upper = vp9_payload(descriptor(layer=(0, 1, 3)) + b"x")
    assert upper.spatial_id == 1 and upper.begins_frame and not upper.begins_picture
    flexible_upper = vp9_payload(descriptor(layer=(0, 2, 0), flexible=True) + b"x")
    assert flexible_upper.spatial_id == 2


@pytest.mark.parametrize(
    "payload",
    [
        b"\x0c",  # too short
        descriptor(picture_id=300),  # no data after the descriptor
        b"\x8c\x80",  # 15-bit picture id cut short
        descriptor(picture_id=1, layer=(0, 0, 0))[:3],  # TL0PICIDX missing
        bytes((0x5C, 0x03, 0x03, 0x03, 0x03, 0x00)),  # four P_DIFFs
        bytes((0x0E, 0x18, 0x01, 0x40)),  # SS sizes cut short
    ],
)
def test_malformed_descriptors_raise(payload: bytes) -> None:
    with pytest.raises(Vp9PayloadError):
        vp9_payload(payload)


# --- superframes -------------------------------------------------------------------------------


def test_superframe_index_is_what_the_decoder_splits() -> None:
    coded = encode_video("VP9", [(160, 120, 4)])
    frames = [c.data for c in coded]
    assert superframe(frames[:1]) == frames[0]
    joined = superframe(frames[:2])
    marker = joined[-1]
    assert marker >> 5 == 0b110 and marker & 0x07 == 1 and joined[0:1] == frames[0][0:1]
    pictures = decode([joined, *frames[2:]])
    assert len(pictures) == 4
    with pytest.raises(Vp9PayloadError):
        superframe([b"\x82"] * 9)


def test_two_spatial_layer_frames_become_one_superframe() -> None:
    coded = encode_video("VP9", [(160, 120, 3)])
    emitted: list[AssembledFrame] = []
    assembler = FrameAssembler("VP9", emitted.append)
    seq = 0
    for sid, item in enumerate(coded[:2]):  # two layer frames of one picture
        chunks = [item.data[i : i + 200] for i in range(0, len(item.data), 200)]
        for index, chunk in enumerate(chunks):
            end = index == len(chunks) - 1
            head = descriptor(begin=index == 0, end=end, picture_id=7, layer=(0, sid, 7))
            assembler.push(seq, 1000, sid == 1 and end, head + chunk)
            seq += 1
    assert len(emitted) == 1 and emitted[0].keyframe
    assert emitted[0].data == superframe([coded[0].data, coded[1].data])
    assert len(decode([emitted[0].data, coded[2].data])) == 3


# --- round trips with libvpx-vp9 -------------------------------------------------------------


def test_round_trip_is_byte_exact_through_reordering() -> None:
    coded = encode_video("VP9", [(320, 240, 45)], gop=15)
    packets = rtp_packets(coded)
    rng = random.Random(9)
    for i in range(5, len(packets) - 1, 7):  # swap neighbours now and then
        if rng.random() < 0.5:
            packets[i], packets[i + 1] = packets[i + 1], packets[i]
    frames, stream = receive(packets)
    assert [f.data for f in frames] == [c.data for c in coded]
    assert [f.keyframe for f in frames] == [c.keyframe for c in coded]
    assert sum(c.keyframe for c in coded) == 3
    assert all(f.codec == "VP9" and f.clock_rate == 90000 for f in frames)
    stamps = [f.rtp_timestamp for f in frames]
    assert stamps == sorted(stamps) and stamps[-1] > 2**32  # unwrapped across the wrap
    assert stream.garbage == 0 and stream.dropped == 0
    assert len(decode([f.data for f in frames])) == len(coded)


def test_lost_packet_drops_frames_until_the_next_keyframe() -> None:
    coded = encode_video("VP9", [(320, 240, 30)], gop=10)
    packets = rtp_packets(coded)
    first_of_frame_5 = sum(len(packetize(c.data, 0, c.keyframe, (1, 1))) for c in coded[:5])
    del packets[first_of_frame_5 + 1]
    frames, stream = receive(packets)
    expected = coded[:5] + coded[10:]
    assert [f.data for f in frames] == [c.data for c in expected]
    assert stream.dropped == 5 and stream.lost == 1
    assert len(decode([f.data for f in frames])) == len(expected)


def _profile_2_keyframe_header(width: int, height: int) -> bytes:
    # frame_marker 10, profile 2 (low bit 0, high bit 1), show_existing_frame 0, KEY_FRAME,
    # show_frame 1, error_resilient 0, sync code, 10-bit, BT.601, studio range, size - 1.
    fields = [(2, 2), (0, 1), (1, 1), (0, 1), (0, 1), (1, 1), (0, 1), (0x498342, 24)]
    fields += [(0, 1), (1, 3), (0, 1), (width - 1, 16), (height - 1, 16)]
    bits = "".join(format(value, f"0{count}b") for value, count in fields)
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8) + b"\x00" * 40


def test_profile_2_keyframe_is_recognised_after_depayloading() -> None:
    # The Debian libvpx has no high bit depth encoder, so the profile-2 header is built here.
    header = _profile_2_keyframe_header(640, 360)
    emitted: list[AssembledFrame] = []
    assembler = FrameAssembler("VP9", emitted.append)
    payloads = packetize(header, 1, True, (640, 360), mtu=20)
    for seq, payload in enumerate(payloads):
        assembler.push(seq, 3000, seq == len(payloads) - 1, payload)
    assert [(f.data, f.keyframe) for f in emitted] == [(header, True)]
    assert bitstream.frame_size("VP9", emitted[0].data) == (640, 360)


# --- negotiation and the tap over real aiortc peers ------------------------------------------


class Vp9Encoder(PyAvEncoder):
    """libvpx-vp9 + the packetizer above (tests only)."""

    encoder = "libvpx-vp9"
    options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}  # noqa: RUF012

    def packetize(self, data: bytes, keyframe: bool) -> list[bytes]:
        size = bitstream.frame_size("VP9", data) or (0, 0)
        return packetize(data, self.count, keyframe, size, mtu=1000)


@pytest.fixture
def vp9_sender(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """aiortc senders encode VP9 with `Vp9Encoder`; records receiver-side decoder lookups."""
    return use_test_encoder(monkeypatch, "VP9", Vp9Encoder)


async def test_aiortc_peer_sends_vp9_and_the_tap_records_it(vp9_sender: list[object]) -> None:
    async with session([PatternTrack()], video_codec="VP9") as s:
        answer = s.receiver.localDescription.sdp
        assert "VP9/90000" in answer and "VP8" not in answer and "H264" not in answer
        assert [(t.kind, t.codec) for t in s.taps] == [("video", "VP9")]
        await wait_until(lambda: len(s.frames) >= 30, "30 VP9 frames")
        assert not [t for t in threading.enumerate() if t.name.endswith("-decoder")]
        frames, stats = list(s.frames), s.taps[0].stats
    assert vp9_sender == []
    assert frames[0].keyframe and all(f.codec == "VP9" for f in frames)
    assert stats.garbage == 0 and stats.frames == len(frames)
    pictures = decode([f.data for f in frames])
    assert len(pictures) == len(frames) and (pictures[0].width, pictures[0].height) == (320, 240)


def _offer_with_video(codec_lines: list[str]) -> str:
    """A minimal recvonly-able offer whose video m-line carries `codec_lines` (rtpmap, fmtp)."""
    types = sorted({line.split(":")[1].split(" ")[0] for line in codec_lines})
    return "\r\n".join(
        [
            "v=0",
            "o=- 1 1 IN IP4 127.0.0.1",
            "s=-",
            "t=0 0",
            f"m=video 9 UDP/TLS/RTP/SAVPF {' '.join(types)}",
            "c=IN IP4 0.0.0.0",
            "a=mid:0",
            "a=sendonly",
            "a=rtcp-mux",
            "a=ice-ufrag:abcd",
            "a=ice-pwd:abcdefghijklmnopqrstuvwx",
            "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
            "a=setup:actpass",
            *codec_lines,
            "",
        ]
    )


async def _answer(offer: str) -> str:
    pc = RTCPeerConnection()
    try:
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


async def test_vp9_profiles_0_and_2_are_accepted_and_1_and_3_are_not() -> None:
    for profile in (0, 2):
        answer = await _answer(
            _offer_with_video(["a=rtpmap:98 VP9/90000", f"a=fmtp:98 profile-id={profile}"])
        )
        assert "a=rtpmap:98 VP9/90000" in answer and f"a=fmtp:98 profile-id={profile}" in answer
    unprofiled = await _answer(_offer_with_video(["a=rtpmap:98 VP9/90000"]))
    assert "a=rtpmap:98 VP9/90000" in unprofiled  # absent profile-id means 0
    for profile in (1, 3):
        offer = _offer_with_video(["a=rtpmap:98 VP9/90000", f"a=fmtp:98 profile-id={profile}"])
        with pytest.raises(OperationError):
            await _answer(offer)
    mixed = _offer_with_video(
        [
            "a=rtpmap:98 VP9/90000",
            "a=fmtp:98 profile-id=1",
            "a=rtpmap:100 VP9/90000",
            "a=fmtp:100 profile-id=2",
        ]
    )
    answer = await _answer(mixed)
    assert "a=rtpmap:100 VP9" in answer and "a=rtpmap:98 " not in answer


async def test_answer_keeps_the_publishers_codec_order() -> None:
    lines = ["a=rtpmap:45 AV1/90000", "a=rtpmap:98 VP9/90000", "a=rtpmap:96 VP8/90000"]
    answer = await _answer(_offer_with_video(lines))
    video = next(line for line in answer.splitlines() if line.startswith("m=video"))
    assert video.split(" ")[3:] == ["45", "98", "96"]
    answer = await _answer(_offer_with_video(list(reversed(lines))))
    video = next(line for line in answer.splitlines() if line.startswith("m=video"))
    assert video.split(" ")[3:] == ["96", "98", "45"]


def test_aiortc_senders_still_prefer_vp8() -> None:
    names = [c.name for c in RTCRtpSender.getCapabilities("video").codecs]
    assert names.index("VP8") < names.index("VP9") and names.index("H264") < names.index("AV1")


def test_codec_registration_is_idempotent() -> None:
    from aiortc.codecs import CODECS

    from telerecord.media.tap import register_receive_codecs

    before = [(c.mimeType, c.payloadType, dict(c.parameters)) for c in CODECS["video"]]
    register_receive_codecs()
    after = [(c.mimeType, c.payloadType, dict(c.parameters)) for c in CODECS["video"]]
    assert after == before
    assert [m for m, _, _ in after].count("video/VP9") == 2
    assert [m for m, _, _ in after].count("video/AV1") == 1

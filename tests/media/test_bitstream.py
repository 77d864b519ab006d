"""Keyframe flag and picture size from real encoder output and crafted headers."""

from __future__ import annotations

from fractions import Fraction

import av
import pytest

from telerecord.media import h264
from telerecord.media.bitstream import frame_size, is_keyframe

from .mediagen import encode_opus, encode_video


@pytest.mark.parametrize("codec", ["VP8", "VP9", "H264", "AV1"])
def test_keyframes_and_sizes_match_the_encoder(codec: str) -> None:
    frames = encode_video(codec, [(640, 480, 12), (320, 240, 6)], gop=8)
    flags = [is_keyframe(codec, f.data) for f in frames]
    assert flags == [f.keyframe for f in frames]
    assert sum(flags) >= 3
    sizes = [frame_size(codec, f.data) for f in frames if f.keyframe]
    assert sizes[0] == (640, 480)
    assert sizes[-1] == (320, 240)
    # Delta frames carry no size for VP8/VP9 (H.264 delta frames have no SPS either).
    assert all(frame_size(codec, f.data) is None for f in frames if not f.keyframe)


def _encode_h264_one(width: int, height: int, pix_fmt: str, profile: str) -> bytes:
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, pix_fmt
    enc.time_base = Fraction(1, 30)
    enc.options = {
        "preset": "ultrafast" if profile == "baseline" else "veryfast",
        "profile": profile,
    }
    frame = av.VideoFrame(width, height, "yuv420p").reformat(format=pix_fmt)
    frame.pts = 0
    packets = list(enc.encode(frame)) + list(enc.encode(None))
    return bytes(packets[0])


@pytest.mark.parametrize(
    ("width", "height", "pix_fmt", "profile", "profile_idc"),
    [
        (1920, 1080, "yuv420p", "high", 100),  # cropped from 1088
        (322, 242, "yuv420p", "baseline", 66),
        (322, 242, "yuv422p", "high422", 122),  # chroma_format_idc 2: crop unit 2x1
        (330, 246, "yuv444p", "high444", 244),  # chroma_format_idc 3: crop unit 1x1
    ],
)
def test_h264_sps_cropping_and_high_profiles(
    width: int, height: int, pix_fmt: str, profile: str, profile_idc: int
) -> None:
    data = _encode_h264_one(width, height, pix_fmt, profile)
    assert is_keyframe("H264", data)
    assert frame_size("H264", data) == (width, height)
    sps = h264.find_sps(data)
    assert sps is not None and sps.profile_idc == profile_idc


def test_h264_sps_with_scaling_matrix_and_emulation_prevention() -> None:
    # A high-profile SPS (1280x720) written by hand with seq_scaling_matrix_present_flag=1 and
    # explicit lists, then escaped the way an encoder must.
    bits = "01100100" + "00000000" + "00011111" + "1"  # profile 100, flags, level 31, sps_id 0
    bits += "010" + "1" + "1" + "0" + "1"  # chroma 1, depth 0/0, qpprime 0, scaling matrix
    bits += "1" + "010" * 16 + "0" * 7  # list 0: delta_scale +1 for 16 entries; others absent
    bits += "1" + "1" + "1" + "1" + "1"  # frame_num, poc 0, poc lsb, max_ref 0, gaps 0
    bits = bits[:-1] + "0"  # gaps flag = 0
    bits += (
        _ue(79) + _ue(44) + "1" + "1" + "0" + "0" + "1"
    )  # 80x45 MBs, frame_mbs, direct, no crop, vui 0
    bits += "0" * (-len(bits) % 8)
    rbsp = int(bits, 2).to_bytes(len(bits) // 8, "big")
    nal = b"\x67" + _escape(rbsp)
    assert h264.parse_sps(nal).width == 1280
    assert h264.parse_sps(nal).height == 720
    assert h264.unescape_rbsp(b"\x00\x00\x03\x01\x00\x00\x03") == b"\x00\x00\x01\x00\x00"


def _ue(value: int) -> str:
    code = bin(value + 1)[2:]
    return "0" * (len(code) - 1) + code


def _escape(rbsp: bytes) -> bytes:
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def test_nal_split_handles_three_and_four_byte_start_codes() -> None:
    data = b"\x00\x00\x00\x01\x67\xaa\x00\x00\x01\x68\xbb\x00\x00\x00\x01\x65\xcc"
    assert list(h264.iter_nal_units(data)) == [b"\x67\xaa", b"\x68\xbb", b"\x65\xcc"]
    assert h264.has_idr(data)
    assert not h264.has_idr(data[:11])


def test_opus_is_always_key_and_has_no_size() -> None:
    packet = encode_opus(0.04)[0].data
    assert is_keyframe("opus", packet)
    assert frame_size("opus", packet) is None


@pytest.mark.parametrize("codec", ["VP8", "VP9", "H264", "AV1"])
@pytest.mark.parametrize("data", [b"", b"\x00", b"\x10\x02\x00\x9d\x01", b"\xff" * 40])
def test_garbage_and_truncated_input_never_raises(codec: str, data: bytes) -> None:
    assert is_keyframe(codec, data) in (True, False)
    assert frame_size(codec, data) is None


def test_truncated_keyframes_give_no_size() -> None:
    for codec in ("VP8", "VP9", "H264"):
        key = encode_video(codec, [(64, 48, 1)])[0].data
        assert frame_size(codec, key[:5]) is None

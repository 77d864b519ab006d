"""H.264 Annex-B helpers: NAL unit split, emulation prevention removal and SPS picture size."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from telerecord.media.bitreader import BitReader

NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8

# profile_idc values whose SPS carries chroma_format_idc, bit depths and scaling matrices.
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


@dataclass(frozen=True, slots=True)
class SpsInfo:
    """What the muxer needs from a sequence parameter set."""

    profile_idc: int
    constraint_flags: int
    level_idc: int
    width: int
    height: int


def iter_nal_units(data: bytes) -> Iterator[bytes]:
    """Yield the NAL units (without start codes) of an Annex-B byte stream."""
    starts: list[tuple[int, int]] = []  # (start code position, payload position)
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        code_pos = i - 1 if i > 0 and data[i - 1] == 0 else i
        starts.append((code_pos, i + 3))
        i = data.find(b"\x00\x00\x01", i + 3)
    for index, (_, payload) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(data)
        # Trailing zero bytes before the next start code belong to no NAL unit.
        nal = data[payload:end].rstrip(b"\x00") if index + 1 < len(starts) else data[payload:end]
        if nal:
            yield nal


def nal_type(nal: bytes) -> int:
    """nal_unit_type of one NAL unit."""
    return nal[0] & 0x1F


def unescape_rbsp(nal: bytes) -> bytes:
    """Remove emulation prevention bytes (00 00 03 -> 00 00)."""
    if b"\x00\x00\x03" not in nal:
        return nal
    out = bytearray()
    zeros = 0
    for byte in nal:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _skip_scaling_list(reader: BitReader, size: int) -> None:
    last, nxt = 8, 8
    for _ in range(size):
        if nxt != 0:
            nxt = (last + reader.se() + 256) % 256
        last = last if nxt == 0 else nxt


def _read_chroma_format(reader: BitReader) -> tuple[int, bool]:
    """High-profile fields; returns (chroma_format_idc, separate_colour_plane)."""
    chroma_format_idc = reader.ue()
    separate = chroma_format_idc == 3 and reader.bit() == 1
    reader.ue()  # bit_depth_luma_minus8
    reader.ue()  # bit_depth_chroma_minus8
    reader.bit()  # qpprime_y_zero_transform_bypass_flag
    if reader.bit():  # seq_scaling_matrix_present_flag
        for index in range(8 if chroma_format_idc != 3 else 12):
            if reader.bit():
                _skip_scaling_list(reader, 16 if index < 6 else 64)
    return chroma_format_idc, separate


def _skip_poc(reader: BitReader) -> None:
    reader.ue()  # log2_max_frame_num_minus4
    poc_type = reader.ue()
    if poc_type == 0:
        reader.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        reader.bit()  # delta_pic_order_always_zero_flag
        reader.se()  # offset_for_non_ref_pic
        reader.se()  # offset_for_top_to_bottom_field
        for _ in range(reader.ue()):
            reader.se()


def _crop_units(chroma_format_idc: int, separate: bool, frame_mbs_only: int) -> tuple[int, int]:
    chroma_array_type = 0 if separate else chroma_format_idc
    if chroma_array_type == 0:
        return 1, 2 - frame_mbs_only
    sub_width = 1 if chroma_array_type == 3 else 2
    sub_height = 2 if chroma_array_type == 1 else 1
    return sub_width, sub_height * (2 - frame_mbs_only)


def parse_sps(nal: bytes) -> SpsInfo:
    """Parse an SPS NAL unit (with its header byte). Raises ValueError if malformed."""
    if not nal or nal_type(nal) != NAL_SPS:
        raise ValueError("not an SPS NAL unit")
    reader = BitReader(unescape_rbsp(nal[1:]))
    profile_idc = reader.bits(8)
    constraint_flags = reader.bits(8)
    level_idc = reader.bits(8)
    reader.ue()  # seq_parameter_set_id
    chroma_format_idc, separate = 1, False
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc, separate = _read_chroma_format(reader)
    _skip_poc(reader)
    reader.ue()  # max_num_ref_frames
    reader.bit()  # gaps_in_frame_num_value_allowed_flag
    width_mbs = reader.ue() + 1
    height_map_units = reader.ue() + 1
    frame_mbs_only = reader.bit()
    if not frame_mbs_only:
        reader.bit()  # mb_adaptive_frame_field_flag
    reader.bit()  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = (2 - frame_mbs_only) * height_map_units * 16
    if reader.bit():  # frame_cropping_flag
        left, right, top, bottom = reader.ue(), reader.ue(), reader.ue(), reader.ue()
        unit_x, unit_y = _crop_units(chroma_format_idc, separate, frame_mbs_only)
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    if width <= 0 or height <= 0:
        raise ValueError("SPS gives an empty picture")
    return SpsInfo(profile_idc, constraint_flags, level_idc, width, height)


def find_sps(data: bytes) -> SpsInfo | None:
    """The first parsable SPS of an Annex-B access unit, or None."""
    for nal in iter_nal_units(data):
        if nal_type(nal) == NAL_SPS:
            try:
                return parse_sps(nal)
            except ValueError:
                continue
    return None


def has_idr(data: bytes) -> bool:
    """True if the access unit contains an IDR slice."""
    return any(nal_type(nal) == NAL_IDR for nal in iter_nal_units(data))

"""Keyframe flag and picture size read straight from encoded frames (no decoder).

VP8 (RFC 6386 frame tag), VP9 (uncompressed header), AV1 (OBUs, low-overhead format with
obu_size fields) and H.264 (Annex-B, IDR slice / SPS). Opus frames are always "key".
"""

from __future__ import annotations

from telerecord.media import h264
from telerecord.media.bitreader import BitReader

_VP8_START_CODE = b"\x9d\x01\x2a"
_VP9_SYNC_CODE = 0x498342
_AV1_OBU_SEQUENCE_HEADER = 1
_AV1_OBU_FRAME_HEADER = 3
_AV1_OBU_FRAME = 6


def is_keyframe(codec: str, data: bytes) -> bool:
    """True if `data` (one encoded frame of `codec`) can start decoding on its own."""
    name = codec.upper()
    if name == "VP8":
        return _vp8_keyframe(data)
    if name == "H264":
        return h264.has_idr(data)
    if name == "VP9":
        return _vp9_keyframe_size(data) is not None
    if name == "AV1":
        return _av1_keyframe(data)
    return name == "OPUS"


def frame_size(codec: str, data: bytes) -> tuple[int, int] | None:
    """(width, height) of a keyframe (H.264: of its SPS), or None if not present/parsable."""
    name = codec.upper()
    if name == "VP8":
        return _vp8_size(data)
    if name == "H264":
        sps = h264.find_sps(data)
        return (sps.width, sps.height) if sps else None
    if name == "VP9":
        return _vp9_keyframe_size(data)
    if name == "AV1":
        return _av1_size(data)
    return None


# --- VP8 ---------------------------------------------------------------------------------


def _vp8_keyframe(data: bytes) -> bool:
    # Frame tag bit 0 is the inverse key frame flag; a keyframe also has the start code.
    return len(data) >= 10 and data[0] & 1 == 0 and data[3:6] == _VP8_START_CODE


def _vp8_size(data: bytes) -> tuple[int, int] | None:
    if not _vp8_keyframe(data):
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return (width, height) if width and height else None


# --- VP9 ---------------------------------------------------------------------------------


def _vp9_color_config(reader: BitReader, profile: int) -> None:
    if profile >= 2:
        reader.bit()  # ten_or_twelve_bit
    color_space = reader.bits(3)
    if color_space != 7:  # not CS_RGB
        reader.bit()  # color_range
        if profile in (1, 3):
            reader.bits(3)  # subsampling_x, subsampling_y, reserved_zero
    elif profile in (1, 3):
        reader.bit()  # reserved_zero


def _vp9_keyframe_size(data: bytes) -> tuple[int, int] | None:
    """Size if `data` starts with a VP9 key frame, else None."""
    try:
        reader = BitReader(data[:16])
        if reader.bits(2) != 2:  # frame_marker
            return None
        profile = reader.bit() | (reader.bit() << 1)
        if profile == 3:
            reader.bit()
        if reader.bit():  # show_existing_frame
            return None
        if reader.bit() != 0:  # frame_type: 0 = KEY_FRAME
            return None
        reader.bits(2)  # show_frame, error_resilient_mode
        if reader.bits(24) != _VP9_SYNC_CODE:
            return None
        _vp9_color_config(reader, profile)
        return reader.bits(16) + 1, reader.bits(16) + 1
    except ValueError:
        return None


# --- AV1 ---------------------------------------------------------------------------------


def _leb128(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for index in range(8):
        if pos + index >= len(data):
            raise ValueError("leb128 ended early")
        byte = data[pos + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, pos + index + 1
    raise ValueError("leb128 too long")


def _av1_obus(data: bytes) -> list[tuple[int, bytes]]:
    """(obu_type, payload) of each OBU; stops quietly at malformed data."""
    obus: list[tuple[int, bytes]] = []
    pos = 0
    try:
        while pos < len(data):
            header = data[pos]
            obu_type = (header >> 3) & 0xF
            pos += 2 if header & 0x04 else 1  # extension header
            if header & 0x02:  # has_size_field
                size, pos = _leb128(data, pos)
            else:
                size = len(data) - pos
            obus.append((obu_type, data[pos : pos + size]))
            pos += size
    except ValueError:
        pass
    return obus


def _av1_keyframe(data: bytes) -> bool:
    obus = _av1_obus(data)
    if not any(t == _AV1_OBU_SEQUENCE_HEADER for t, _ in obus):
        return False
    for obu_type, payload in obus:
        if obu_type in (_AV1_OBU_FRAME, _AV1_OBU_FRAME_HEADER) and payload:
            # show_existing_frame = 0 and frame_type = KEY_FRAME (0): top three bits zero.
            return payload[0] & 0xE0 == 0
    return False


def _av1_skip_operating_points(reader: BitReader) -> None:
    if reader.bit():  # timing_info_present_flag
        reader.bits(64)  # num_units_in_display_tick, time_scale
        if reader.bit():  # equal_picture_interval
            reader.uvlc()
        decoder_model = reader.bit()
        delay_length = 0
        if decoder_model:
            delay_length = reader.bits(5) + 1
            reader.bits(32 + 5 + 5)
    else:
        decoder_model = 0
    initial_display_delay = reader.bit()
    for _ in range(reader.bits(5) + 1):
        reader.bits(12)  # operating_point_idc
        if reader.bits(5) > 7:  # seq_level_idx
            reader.bit()  # seq_tier
        if decoder_model and reader.bit():
            reader.bits(2 * delay_length + 1)
        if initial_display_delay and reader.bit():
            reader.bits(4)


def _av1_size(data: bytes) -> tuple[int, int] | None:
    """Maximum frame size from the sequence header (what WebRTC senders code at)."""
    for obu_type, payload in _av1_obus(data):
        if obu_type != _AV1_OBU_SEQUENCE_HEADER:
            continue
        try:
            reader = BitReader(payload)
            reader.bits(4)  # seq_profile, still_picture
            if reader.bit():  # reduced_still_picture_header
                reader.bits(5)
            else:
                _av1_skip_operating_points(reader)
            width_bits = reader.bits(4) + 1
            height_bits = reader.bits(4) + 1
            return reader.bits(width_bits) + 1, reader.bits(height_bits) + 1
        except ValueError:
            return None
    return None

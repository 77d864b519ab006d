"""RTP payloads -> encoded frames: VP8 (RFC 7741), VP9 (RFC 9628, rtp_vp9.py), AV1 (rtp_av1.py),
H.264 (RFC 6184, modes 0/1) and Opus.

The payload functions are pure; `FrameAssembler` is the per-track state that joins the
packets of one frame and drops what cannot be decoded (lost parts, a broken reference
chain until the next keyframe).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from telerecord.media import bitstream, h264, rtp_av1, rtp_vp9

START_CODE = b"\x00\x00\x00\x01"
_H264_STAP_A = 24
_H264_FU_A = 28
_IDR_MASK = 1 << h264.NAL_IDR
_PARAMETER_SETS_MASK = (1 << h264.NAL_SPS) | (1 << h264.NAL_PPS)
_MAX_PACKETS_PER_FRAME = 4096  # a frame without end is garbage, not a frame
_MAX_FRAME_BYTES = 4 << 20


class DepayloadError(ValueError):
    """The RTP payload is not valid for its codec."""


_PAYLOAD_ERRORS = (DepayloadError, rtp_vp9.Vp9PayloadError, rtp_av1.Av1PayloadError)


def vp8_payload(payload: bytes) -> tuple[bytes, bool]:
    """Strip the VP8 payload descriptor; return (VP8 data, this packet starts a frame)."""
    size = len(payload)
    if size < 2:
        raise DepayloadError("VP8 payload too short")
    first = payload[0]
    pos = 1
    if first & 0x80:  # X: extension byte follows
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if pos >= size:
                raise DepayloadError("VP8 descriptor truncated")
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX byte
            pos += 1
    if pos >= size:
        raise DepayloadError("VP8 descriptor without data")
    starts = bool(first & 0x10) and first & 0x07 == 0  # S bit and partition index 0
    return payload[pos:], starts


def h264_payload(payload: bytes) -> tuple[bytes, int]:
    """Annex-B bytes of one H.264 RTP payload, and a bit mask (1 << type) of NAL units begun.

    Single NAL unit packets, STAP-A and FU-A (packetization-mode 0 and 1); an FU-A
    continuation returns its bytes with mask 0.
    """
    if not payload:
        raise DepayloadError("empty H.264 payload")
    nal_type = payload[0] & 0x1F
    if 1 <= nal_type <= 23:
        return START_CODE + payload, 1 << nal_type
    if nal_type == _H264_FU_A:
        if len(payload) < 3:
            raise DepayloadError("FU-A too short")
        fu_header = payload[1]
        if fu_header & 0x80:  # start: rebuild the NAL header from indicator + FU header
            inner = fu_header & 0x1F
            header = bytes(((payload[0] & 0xE0) | inner,))
            return START_CODE + header + payload[2:], 1 << inner
        return payload[2:], 0
    if nal_type == _H264_STAP_A:
        return _stap_a(payload)
    raise DepayloadError(f"unsupported H.264 NAL unit type {nal_type}")


def _stap_a(payload: bytes) -> tuple[bytes, int]:
    parts: list[bytes] = []
    mask = 0
    pos = 1
    size = len(payload)
    while pos < size:
        if pos + 2 > size:
            raise DepayloadError("STAP-A size field truncated")
        length = (payload[pos] << 8) | payload[pos + 1]
        pos += 2
        if length == 0 or pos + length > size:
            raise DepayloadError("STAP-A NAL unit truncated")
        mask |= 1 << (payload[pos] & 0x1F)
        parts += (START_CODE, payload[pos : pos + length])
        pos += length
    if not parts:
        raise DepayloadError("empty STAP-A")
    return b"".join(parts), mask


@dataclass(frozen=True, slots=True)
class AssembledFrame:
    """One complete frame: codec data, the sender's (wrapped) RTP timestamp, keyframe flag."""

    data: bytes
    timestamp: int
    keyframe: bool


class FrameAssembler:
    """Joins the in-order packets of one track into frames and hands each to `emit`.

    Feed every packet with its unwrapped sequence number (lost ones simply never come).
    A frame touched by a gap or by a bad payload is dropped, and so is every video frame
    after it until a keyframe (`waiting_for_keyframe`), since they cannot be decoded.
    """

    def __init__(self, codec: str, emit: Callable[[AssembledFrame], None]) -> None:
        self.codec = codec.upper()
        self.is_audio = self.codec == "OPUS"
        self.waiting_for_keyframe = not self.is_audio
        self.dropped = 0  # frames thrown away
        self.garbage = 0  # payloads that did not parse
        self._emit = emit
        self._parts: list[bytes] = []
        self._layer_starts: list[int] = []  # VP9: index in _parts where each layer frame begins
        self._mask = 0
        self._timestamp = -1
        self._last_seq: int | None = None
        self._broken = False
        self._parameter_sets = b""  # latest SPS + PPS (Annex-B), put before IDRs lacking them

    def push(self, seq: int, timestamp: int, marker: bool, payload: bytes) -> None:
        """Add one packet (sequence numbers unwrapped, ascending, lost ones skipped)."""
        if self.is_audio:
            if payload:
                self._emit(AssembledFrame(payload, timestamp, True))
            return
        gap = self._last_seq is not None and seq != self._last_seq + 1
        self._last_seq = seq
        if gap:
            # Lost packets belong to the pending frame (its tail) and/or to frames before this
            # packet; either way later frames reference what is missing.
            self.waiting_for_keyframe = True
            self._broken = self._broken or bool(self._parts)
        if (self._parts or self._broken) and timestamp != self._timestamp:
            self._finish()  # the previous frame ended without a marker bit
        if not payload:  # padding only: takes a sequence number, carries nothing
            if marker and (self._parts or self._broken):
                self._finish()
            return
        try:
            data, starts = self._depayload(payload)
        except _PAYLOAD_ERRORS:
            self.garbage += 1
            data, starts = b"", False
            self._broken = True
        if gap and not (starts and not self._parts):
            self._broken = True  # this frame's first packets may be the lost ones
        self._timestamp = timestamp
        if data:
            self._parts.append(data)
        if len(self._parts) > _MAX_PACKETS_PER_FRAME:
            self.garbage += 1
            self._broken = True
            self._finish()
        elif marker:
            self._finish()

    def _depayload(self, payload: bytes) -> tuple[bytes, bool]:
        if self.codec == "VP8":
            return vp8_payload(payload)
        if self.codec == "VP9":
            packet = rtp_vp9.vp9_payload(payload)
            if packet.begins_frame or not self._parts:
                self._layer_starts.append(len(self._parts))
            return packet.data, packet.begins_picture
        if self.codec == "AV1":
            # Kept whole: OBU fragments are joined once the temporal unit is complete.
            return payload, not rtp_av1.continues_obu(payload)
        data, mask = h264_payload(payload)
        self._mask |= mask
        # H.264 has no frame start flag; a lone gap-free packet is judged by the sequence only.
        return data, False

    def _finish(self) -> None:
        mask, broken = self._mask, self._broken
        try:
            data = b"" if broken else self._frame_data()
        except _PAYLOAD_ERRORS:
            self.garbage += 1
            data, broken = b"", True
        empty_unit = self.codec == "AV1" and not data and not broken and bool(self._parts)
        self._parts, self._layer_starts, self._mask, self._broken = [], [], 0, False
        if empty_unit:
            return  # only temporal delimiters or padding: nothing to record, nothing lost
        if broken or not data or len(data) > _MAX_FRAME_BYTES:
            self.dropped += 1
            self.waiting_for_keyframe = True
            return
        keyframe = self._is_keyframe(data, mask)
        if self.waiting_for_keyframe and not keyframe:
            self.dropped += 1
            return
        if keyframe:
            self.waiting_for_keyframe = False
            if self.codec == "H264":
                data = self._with_parameter_sets(data, mask)
        self._emit(AssembledFrame(data, self._timestamp, keyframe))

    def _frame_data(self) -> bytes:
        parts = self._parts
        if self.codec == "AV1":
            return rtp_av1.temporal_unit(parts)
        if self.codec == "VP9" and len(self._layer_starts) > 1:
            bounds = [*self._layer_starts, len(parts)]
            layers = [b"".join(parts[a:b]) for a, b in itertools.pairwise(bounds)]
            return rtp_vp9.superframe(layers)
        return b"".join(parts)

    def _is_keyframe(self, data: bytes, mask: int) -> bool:
        if self.codec == "H264":
            return bool(mask & _IDR_MASK)
        return bitstream.is_keyframe(self.codec, data)

    def _with_parameter_sets(self, data: bytes, mask: int) -> bytes:
        if mask & _PARAMETER_SETS_MASK == _PARAMETER_SETS_MASK:
            sets = [
                nal
                for nal in h264.iter_nal_units(data)
                if h264.nal_type(nal) in (h264.NAL_SPS, h264.NAL_PPS)
            ]
            self._parameter_sets = b"".join(START_CODE + nal for nal in sets)
            return data
        return self._parameter_sets + data

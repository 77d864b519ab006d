"""VP9 RTP depayloading (RFC 9628): payload descriptor, and layer frames -> one VP9 sample.

Pure functions over bytes. A picture with several spatial layers arrives as one layer
frame per layer (same RTP timestamp); they are joined into a VP9 superframe (VP9 spec
Annex B) so that one WebM block holds one decodable picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_I, _P, _L, _F, _B, _E, _V = 0x80, 0x40, 0x20, 0x10, 0x08, 0x04, 0x02
_MAX_P_DIFFS = 3
_MAX_SUPERFRAME_FRAMES = 8


class Vp9PayloadError(ValueError):
    """A VP9 RTP payload (or set of layer frames) that cannot be used."""


@dataclass(frozen=True, slots=True)
class Vp9Packet:
    """One VP9 RTP payload without its descriptor."""

    data: bytes
    begins_frame: bool  # B: first packet of a layer frame
    ends_frame: bool  # E: last packet of a layer frame
    spatial_id: int  # SID of the layer indices; 0 when absent

    @property
    def begins_picture(self) -> bool:
        """First packet of the picture (its lowest spatial layer)."""
        return self.begins_frame and self.spatial_id == 0


def vp9_payload(payload: bytes) -> Vp9Packet:
    """Parse and strip the payload descriptor; Vp9PayloadError if it is malformed."""
    size = len(payload)
    if size < 2:
        raise Vp9PayloadError("VP9 payload too short")
    first = payload[0]
    pos = 1
    if first & _I:  # picture ID: M bit selects 15 instead of 7 bits
        pos += 2 if _at(payload, pos) & 0x80 else 1
    spatial_id = 0
    if first & _L:  # TID U SID D, plus TL0PICIDX in non-flexible mode
        spatial_id = (_at(payload, pos) >> 1) & 0x07
        pos += 1 if first & _F else 2
    if first & _F and first & _P:  # up to three reference indices, N bit chains them
        for count in range(_MAX_P_DIFFS + 1):
            if count == _MAX_P_DIFFS:
                raise Vp9PayloadError("VP9 descriptor has more than three P_DIFFs")
            more = _at(payload, pos) & 0x01
            pos += 1
            if not more:
                break
    if first & _V:
        pos = _skip_scalability_structure(payload, pos)
    if pos >= size:
        raise Vp9PayloadError("VP9 descriptor without data")
    return Vp9Packet(payload[pos:], bool(first & _B), bool(first & _E), spatial_id)


def _at(payload: bytes, pos: int) -> int:
    if pos >= len(payload):
        raise Vp9PayloadError("VP9 descriptor truncated")
    return payload[pos]


def _skip_scalability_structure(payload: bytes, pos: int) -> int:
    header = _at(payload, pos)
    pos += 1
    if header & 0x10:  # Y: a width and height per spatial layer
        pos += 4 * ((header >> 5) + 1)
    if header & 0x08:  # G: picture group description
        groups = _at(payload, pos)
        pos += 1
        for _ in range(groups):
            references = (_at(payload, pos) >> 2) & 0x03
            pos += 1 + references
    if pos > len(payload):
        raise Vp9PayloadError("VP9 scalability structure truncated")
    return pos


def superframe(frames: Sequence[bytes]) -> bytes:
    """One VP9 sample from the layer frames of a picture (a lone frame is returned as is)."""
    if len(frames) == 1:
        return frames[0]
    if not frames or len(frames) > _MAX_SUPERFRAME_FRAMES:
        raise Vp9PayloadError(f"cannot make a VP9 superframe of {len(frames)} frames")
    largest = max(len(frame) for frame in frames)
    width = next(n for n in (1, 2, 3, 4) if largest < 1 << (8 * n))
    marker = bytes((0xC0 | ((width - 1) << 3) | (len(frames) - 1),))
    sizes = b"".join(len(frame).to_bytes(width, "little") for frame in frames)
    return b"".join(frames) + marker + sizes + marker

"""AV1 RTP depayloading (AOM "RTP Payload Format For AV1"): packets -> one temporal unit.

Pure functions over bytes. Each RTP payload is an aggregation header (Z Y W W N - - -)
followed by OBU elements: with a leb128 length each (W = 0), or W elements of which the
last has no length. An OBU may be fragmented over packets (Y on one, Z on the next). The
temporal unit is returned in the low-overhead ("Section 5") format that Matroska/WebM
and decoders take: every OBU with obu_has_size_field = 1, and temporal delimiters, tile
lists and padding OBUs removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

OBU_SEQUENCE_HEADER = 1
OBU_TEMPORAL_DELIMITER = 2
OBU_FRAME = 6
OBU_TILE_LIST = 8
OBU_PADDING = 15
_DROPPED_TYPES = frozenset((OBU_TEMPORAL_DELIMITER, OBU_TILE_LIST, OBU_PADDING))
_Z, _Y, _N = 0x80, 0x40, 0x08
_HAS_EXTENSION, _HAS_SIZE, _FORBIDDEN = 0x04, 0x02, 0x80


class Av1PayloadError(ValueError):
    """An AV1 RTP payload (or a temporal unit's packets) that cannot be used."""


def continues_obu(payload: bytes) -> bool:
    """Z: the payload's first OBU element continues an OBU begun in the previous packet."""
    return bool(payload) and bool(payload[0] & _Z)


def new_sequence(payload: bytes) -> bool:
    """N: the payload is the first packet of a coded video sequence."""
    return bool(payload) and bool(payload[0] & _N)


def leb128(value: int) -> bytes:
    """Unsigned LEB128 encoding (AV1 spec 4.10.5)."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_leb128(data: bytes | bytearray, pos: int) -> tuple[int, int]:
    """(value, position after it) of the leb128 number at `pos`."""
    value = 0
    for index in range(8):
        if pos + index >= len(data):
            raise Av1PayloadError("leb128 number truncated")
        byte = data[pos + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, pos + index + 1
    raise Av1PayloadError("leb128 number longer than 8 bytes")


def obu_elements(payload: bytes) -> tuple[bool, bool, list[bytes]]:
    """(Z, Y, OBU elements) of one RTP payload."""
    if len(payload) < 2:
        raise Av1PayloadError("AV1 payload too short")
    header = payload[0]
    count = (header >> 4) & 0x03  # W: 0 = every element has a length field
    elements: list[bytes] = []
    pos = 1
    while pos < len(payload):
        if count and len(elements) == count - 1:  # the last of W elements: no length
            elements.append(payload[pos:])
            break
        size, pos = read_leb128(payload, pos)
        if pos + size > len(payload):
            raise Av1PayloadError("AV1 OBU element runs past the payload")
        elements.append(payload[pos : pos + size])
        pos += size
    if count and len(elements) != count:
        raise Av1PayloadError(f"AV1 payload has {len(elements)} OBU elements, W says {count}")
    return bool(header & _Z), bool(header & _Y), elements


def join_fragments(payloads: Iterable[bytes]) -> list[bytes]:
    """Whole OBUs (as sent, size field or not) from the in-order payloads of one unit."""
    obus: list[bytearray] = []
    open_fragment = False
    for payload in payloads:
        z, y, elements = obu_elements(payload)
        if z != open_fragment:
            raise Av1PayloadError("AV1 OBU fragment without its other part")
        if z:
            if not elements:
                raise Av1PayloadError("AV1 continuation without data")
            obus[-1] += elements[0]
            elements = elements[1:]
        obus.extend(bytearray(element) for element in elements)
        open_fragment = y and bool(obus)
    if open_fragment:
        raise Av1PayloadError("AV1 temporal unit ends inside an OBU")
    return [bytes(obu) for obu in obus if obu]


def with_size_field(obu: bytes) -> tuple[int, bytes]:
    """(obu_type, the OBU rewritten with obu_has_size_field = 1)."""
    header = obu[0]
    if header & _FORBIDDEN:
        raise Av1PayloadError("AV1 OBU forbidden bit set")
    header_size = 2 if header & _HAS_EXTENSION else 1
    if len(obu) < header_size:
        raise Av1PayloadError("AV1 OBU extension header truncated")
    if header & _HAS_SIZE:
        size, start = read_leb128(obu, header_size)
        if start + size > len(obu):
            raise Av1PayloadError("AV1 OBU shorter than its obu_size")
        body = obu[start : start + size]
    else:
        body = obu[header_size:]
    head = bytes((header | _HAS_SIZE,)) + obu[1:header_size]
    return (header >> 3) & 0x0F, head + leb128(len(body)) + body


def temporal_unit(payloads: Sequence[bytes]) -> bytes:
    """One temporal unit in low-overhead format from the RTP payloads that carried it."""
    parts: list[bytes] = []
    for obu in join_fragments(payloads):
        obu_type, rewritten = with_size_field(obu)
        if obu_type not in _DROPPED_TYPES:
            parts.append(rewritten)
    return b"".join(parts)

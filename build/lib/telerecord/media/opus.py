"""Opus helpers for muxing without an encoder: OpusHead extradata and packet durations."""

from __future__ import annotations

import struct

# Frame durations in 1/48000 s for TOC configurations 0..31 (RFC 6716, section 3.1).
_SILK = (480, 960, 1920, 2880)
_HYBRID = (480, 960)
_CELT = (120, 240, 480, 960)


def opus_head(channels: int = 2, *, pre_skip: int = 0, input_sample_rate: int = 48000) -> bytes:
    """OpusHead (RFC 7845, section 5.1) for channel mapping family 0 (mono or stereo).

    WebM stores it as CodecPrivate and MP4 as the dOps box; without it MP4 refuses the
    stream and WebM files are out of spec. pre_skip is 0 because recording starts
    mid-stream: there are no encoder priming samples to skip.
    """
    if channels not in (1, 2):
        raise ValueError("channel mapping family 0 supports 1 or 2 channels")
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, pre_skip, input_sample_rate, 0, 0)


def packet_samples(packet: bytes) -> int:
    """Duration of one Opus packet in 48 kHz samples (0 if the packet is malformed)."""
    if not packet:
        return 0
    config = packet[0] >> 3
    if config < 12:
        per_frame = _SILK[config % 4]
    elif config < 16:
        per_frame = _HYBRID[config % 2]
    else:
        per_frame = _CELT[config % 4]
    code = packet[0] & 3
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    elif len(packet) >= 2:
        frames = packet[1] & 0x3F
    else:
        return 0
    samples = per_frame * frames
    return samples if samples <= 5760 else 0  # more than 120 ms is invalid


def packet_channels(packet: bytes) -> int:
    """1 or 2, from the stereo flag of the TOC byte."""
    return 2 if packet and packet[0] & 0x04 else 1

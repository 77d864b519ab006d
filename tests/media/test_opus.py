"""OpusHead and TOC durations, checked against libopus output and FFmpeg's Opus decoder."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import pytest

from telerecord.media.opus import opus_head, packet_channels, packet_samples

from .mediagen import encode_opus


def test_opus_head_layout() -> None:
    head = opus_head(2)
    assert len(head) == 19
    assert head[:8] == b"OpusHead"
    assert head[8] == 1 and head[9] == 2
    assert int.from_bytes(head[12:16], "little") == 48000
    assert opus_head(1)[9] == 1
    with pytest.raises(ValueError):
        opus_head(3)


def test_packet_duration_of_real_packets() -> None:
    packets = encode_opus(0.2)
    assert packets
    assert all(packet_samples(p.data) == 960 for p in packets)
    assert all(packet_channels(p.data) in (1, 2) for p in packets)


@pytest.mark.parametrize(
    ("toc", "samples"),
    [
        (bytes([0 << 3]), 480),  # SILK 10 ms
        (bytes([(3 << 3) | 1]), 2 * 2880),  # SILK 60 ms, two frames
        (bytes([(13 << 3) | 0]), 960),  # hybrid 20 ms
        (bytes([(16 << 3) | 3, 4]), 4 * 120),  # CELT 2.5 ms x 4
        (bytes([(31 << 3) | 3, 7]), 0),  # 7 x 20 ms > 120 ms: invalid
        (bytes([(31 << 3) | 3]), 0),  # code 3 without frame count byte
        (b"", 0),
    ],
)
def test_packet_duration_from_toc(toc: bytes, samples: int) -> None:
    assert packet_samples(toc) == samples


def test_head_makes_a_decodable_webm_without_an_encoder() -> None:
    buffer = io.BytesIO()
    packets = encode_opus(0.5)
    with (
        av.open(buffer, "w", format="webm") as out,
        av.open(io.BytesIO(), "w", format="webm") as scratch,
    ):
        template = scratch.add_stream("libopus", rate=48000)
        stream = out.add_stream_from_template(template, opaque=True)
        stream.codec_context.extradata = opus_head(2)
        for index, coded in enumerate(packets):
            packet = av.Packet(coded.data)
            packet.pts = packet.dts = index * 960
            packet.time_base = Fraction(1, 48000)
            packet.stream = stream
            out.mux(packet)
    buffer.seek(0)
    with av.open(buffer, "r") as reopened:
        audio = reopened.streams.audio[0]
        assert audio.codec_context.extradata == opus_head(2)
        samples = sum(int(frame.samples) for frame in reopened.decode(audio))
    assert samples == pytest.approx(0.5 * 48000, abs=960)

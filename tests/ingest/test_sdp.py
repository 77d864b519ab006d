"""Offer checks and answer edits, on SDP made by aiortc."""

from __future__ import annotations

import re

import pytest

from telerecord.errors import BadRequest, NotAcceptable
from telerecord.ingest.sdp import add_public_ip, check_offer
from tests.api.test_whip_errors import make_offer


@pytest.fixture(scope="module")
def offer() -> str:
    return make_offer()


def test_a_real_offer_passes(offer: str) -> None:
    check_offer(offer)


def test_not_sdp_is_bad_request() -> None:
    for text in ("", "hello", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n"):
        with pytest.raises(BadRequest):
            check_offer(text)


def test_unrecordable_sections_are_406(offer: str) -> None:
    no_video_codec = re.sub(r"a=rtpmap:(\d+) (VP8|VP9|AV1|H264|rtx)/", r"a=rtpmap:\1 H265/", offer)
    with pytest.raises(NotAcceptable, match="VP8"):
        check_offer(no_video_codec)
    no_audio_codec = re.sub(r"a=rtpmap:(\d+) (opus|PCMU|PCMA)/", r"a=rtpmap:\1 G722/", offer)
    with pytest.raises(NotAcceptable, match="opus"):
        check_offer(no_audio_codec)


def test_rejected_sections_are_ignored(offer: str) -> None:
    # A section with port 0 was rejected by the offerer itself; only the other one counts.
    video_off = re.sub(r"m=video \d+", "m=video 0", offer)
    check_offer(video_off)


def test_public_ip_repeats_host_candidates() -> None:
    answer = (
        "v=0\r\n"
        "a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host\r\n"
        "a=candidate:2 1 udp 1694498815 198.51.100.1 40000 typ srflx raddr 10.0.0.5 rport 40000\r\n"
    )
    edited = add_public_ip(answer, "203.0.113.7")
    lines = [line for line in edited.splitlines() if line.startswith("a=candidate:")]
    assert len(lines) == 3
    public = [line for line in lines if "203.0.113.7" in line]
    assert len(public) == 1 and public[0].split()[5] == "40000" and public[0].endswith("typ host")
    assert public[0].split()[0] != lines[0].split()[0]  # its own foundation

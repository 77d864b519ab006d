"""Checks on WHIP offers before aiortc sees them, and small edits of the answer."""

from __future__ import annotations

import re

from telerecord.errors import BadRequest, NotAcceptable

MAX_OFFER_BYTES = 64 * 1024
ACCEPTED = {"video": ("VP8", "VP9", "AV1", "H264"), "audio": ("opus",)}
_RTPMAP = re.compile(r"^a=rtpmap:(\d+) ([A-Za-z0-9_-]+)/", re.MULTILINE)


def accepted_codecs() -> str:
    return "video: " + ", ".join(ACCEPTED["video"]) + "; audio: " + ", ".join(ACCEPTED["audio"])


def check_offer(text: str) -> None:
    """BadRequest if ``text`` is no SDP offer; NotAcceptable if nothing in it can be recorded."""
    if not text.startswith("v=0"):
        raise BadRequest("The body is not an SDP offer (it must start with 'v=0').")
    sections = re.split(r"\r?\n(?=m=)", text)
    media = [s for s in sections[1:] if s.startswith("m=")]
    if not media:
        raise BadRequest("The SDP offer has no media sections.")
    recordable = 0
    for section in media:
        kind, _, rest = section[2:].partition(" ")
        port = rest.split(" ", 1)[0]
        if kind not in ACCEPTED or port == "0":
            continue
        names = {name.lower() for _, name in _RTPMAP.findall(section)}
        if names & {c.lower() for c in ACCEPTED[kind]}:
            recordable += 1
        else:
            offered = ", ".join(sorted(names)) or "none"
            raise NotAcceptable(
                f"No {kind} codec in the offer can be recorded (offered: {offered}). "
                f"Accepted codecs: {accepted_codecs()}."
            )
    if recordable == 0:
        raise NotAcceptable(
            f"The offer has no audio or video to record. Accepted codecs: {accepted_codecs()}."
        )


def add_public_ip(answer: str, public_ip: str) -> str:
    """Repeat each host candidate with the public address, for publishers behind our NAT."""
    out: list[str] = []
    for line in answer.splitlines():
        out.append(line)
        parts = line.split(" ")
        if line.startswith("a=candidate:") and len(parts) >= 8 and parts[7] == "host":
            if ":" in parts[4] or parts[4] == public_ip:
                continue
            parts[0] = parts[0] + "9"
            parts[3] = str(max(int(parts[3]) - 1000, 1))
            parts[4] = public_ip
            out.append(" ".join(parts))
    return "\r\n".join(out) + "\r\n"

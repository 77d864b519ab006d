"""The HTTP half of a WHIP client (RFC 9725): POST the offer, DELETE the session."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

TIMEOUT = 10.0


class WhipError(Exception):
    """The WHIP endpoint answered something other than what RFC 9725 asks for."""

    def __init__(self, status: int, body: str, message: str) -> None:
        super().__init__(f"{message} (HTTP {status}): {body[:500]}")
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class WhipSession:
    """A session created by POST: the absolute resource URL and the SDP answer."""

    resource_url: str
    answer_sdp: str
    token: str | None


def _headers(token: str | None, **extra: str) -> dict[str, str]:
    headers = dict(extra)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


async def post_offer(endpoint: str, offer_sdp: str, token: str | None) -> WhipSession:
    """POST the offer as application/sdp; expect 201, an SDP answer and a Location header.

    Raises WhipError with the status and body for any other answer.
    """
    headers = _headers(token, **{"Content-Type": "application/sdp"})
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        response = await client.post(endpoint, content=offer_sdp.encode(), headers=headers)
    if response.status_code != 201:
        raise WhipError(response.status_code, response.text, "WHIP POST not answered with 201")
    location = response.headers.get("location")
    if not location:
        raise WhipError(response.status_code, response.text, "WHIP answer has no Location")
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("application/sdp"):
        raise WhipError(response.status_code, response.text, "WHIP answer is not application/sdp")
    return WhipSession(urljoin(endpoint, location), response.text, token)


async def delete_session(session: WhipSession) -> int:
    """DELETE the session resource; returns the HTTP status (200 expected)."""
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        response = await client.delete(session.resource_url, headers=_headers(session.token))
    return response.status_code


def sdp_video_codec(sdp: str) -> str | None:
    """The first media codec of the SDP's video m-line (in an answer: the one in use)."""
    in_video = False
    for line in sdp.splitlines():
        if line.startswith("m="):
            in_video = line.startswith("m=video")
        elif in_video and line.startswith("a=rtpmap:"):
            name = line.split(" ", 1)[1].split("/", 1)[0]
            if name.lower() not in ("rtx", "red", "ulpfec", "flexfec-03"):
                return name
    return None

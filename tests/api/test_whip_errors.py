"""Every WHIP error status of API.md, with real offers made by aiortc."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from aiortc import RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack


def make_offer() -> str:
    async def _offer() -> str:
        pc = RTCPeerConnection()
        pc.addTrack(VideoStreamTrack())
        pc.addTrack(AudioStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return str(sdp)

    return asyncio.run(_offer())


@pytest.fixture(scope="module")
def offer() -> str:
    return make_offer()


def _token(client: Any, auth: dict[str, str], streams: list[str], record: bool = False) -> str:
    body = {"label": "t", "streams": streams, "record": record}
    return str(client.post("/v1/publish-tokens", json=body, headers=auth).json()["token"])


def _post(
    client: Any, name: str, token: str | None, body: str, ctype: str = "application/sdp"
) -> Any:
    headers = {"Content-Type": ctype}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.post(f"/whip/{name}", content=body.encode(), headers=headers)


def _is_problem(response: Any, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]


def test_auth_errors(client: Any, auth: dict[str, str], offer: str) -> None:
    token = _token(client, auth, ["cam-*"])
    _is_problem(_post(client, "cam-1", None, offer), 401)
    _is_problem(_post(client, "cam-1", "ptk_wrong", offer), 401)
    _is_problem(_post(client, "other", token, offer), 403)
    _is_problem(_post(client, "cam-1", auth["Authorization"].split()[1], offer), 401)


def test_content_errors(client: Any, auth: dict[str, str], offer: str) -> None:
    token = _token(client, auth, ["*"])
    _is_problem(_post(client, "cam", token, offer, ctype="text/plain"), 415)
    _is_problem(_post(client, "cam", token, "hello"), 400)
    _is_problem(_post(client, "cam", token, "v=0\r\ns=-\r\n"), 400)
    _is_problem(_post(client, "cam", token, "v=0\r\n" + "a=x\r\n" * 40000), 413)
    _is_problem(_post(client, "bad name!", token, offer), 422)


def test_unrecordable_codec_is_406(client: Any, auth: dict[str, str], offer: str) -> None:
    token = _token(client, auth, ["*"])
    h265_only = re.sub(r"a=rtpmap:(\d+) (VP8|VP9|AV1|H264|rtx)/", r"a=rtpmap:\1 H265/", offer)
    response = _post(client, "cam", token, h265_only)
    _is_problem(response, 406)
    assert "VP8" in response.json()["detail"] and "opus" in response.json()["detail"]


def test_only_unsupported_vp9_profile_is_406(client: Any, auth: dict[str, str]) -> None:
    import telerecord.media.tap  # noqa: F401 - registers VP9/AV1 with aiortc, so offers carry them

    token = _token(client, auth, ["*"])
    offer = make_offer()
    vp9_profile_1 = re.sub(r"a=rtpmap:(\d+) (VP8|AV1|H264|rtx)/", r"a=rtpmap:\1 H265/", offer)
    vp9_profile_1 = re.sub(r"profile-id=\d", "profile-id=1", vp9_profile_1)
    assert "VP9/90000" in vp9_profile_1
    response = _post(client, "cam", token, vp9_profile_1)
    _is_problem(response, 406)


def test_session_errors(client: Any, auth: dict[str, str]) -> None:
    token = _token(client, auth, ["*"])
    headers = {"Authorization": f"Bearer {token}"}
    _is_problem(client.delete("/whip/sessions/str_nope", headers=headers), 404)
    _is_problem(client.delete("/whip/sessions/str_nope"), 401)
    patch = client.patch("/whip/sessions/str_nope", headers=headers)
    _is_problem(patch, 405)


def test_cors_preflight(client: Any) -> None:
    response = client.options(
        "/whip/cam",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "Authorization" in response.headers["access-control-allow-headers"]
    assert "Location" in response.headers["access-control-expose-headers"]

"""A real WHIP publisher built on aiortc: synthetic video (VP8 or H.264) + Opus audio."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.rtcrtptransceiver import RTCRtpTransceiver

from tests.publishers.synthetic import PatternVideoTrack, SizeChange, ToneAudioTrack
from tests.publishers.whip_client import WhipSession, delete_session, post_offer, sdp_video_codec

logger = logging.getLogger(__name__)

Ending = Literal["delete", "close", "vanish"]
CONNECT_TIMEOUT = 15.0

__all__ = ["PublishResult", "SizeChange", "publish_aiortc"]


@dataclass(slots=True)
class PublishResult:
    """What the publisher sent. `span` is media seconds covered by the sent video
    frames (audio frames if there is no video)."""

    resource_url: str
    video_codec: str | None
    video_frames: int
    audio_frames: int
    span: float
    sizes: list[tuple[int, int]] = field(default_factory=list)
    delete_status: int | None = None  # HTTP status of the DELETE, None if none was sent


def _force_codec(transceiver: RTCRtpTransceiver, codec: str) -> None:
    capabilities = RTCRtpSender.getCapabilities("video").codecs
    wanted = f"video/{codec}".lower()
    chosen = [c for c in capabilities if c.mimeType.lower() == wanted]
    if not chosen:
        raise ValueError(f"aiortc cannot send {codec}")
    rtx = [c for c in capabilities if c.mimeType.lower() == "video/rtx"]
    transceiver.setCodecPreferences(chosen + rtx)


async def _wait_connected(pc: RTCPeerConnection) -> None:
    connected = asyncio.Event()

    @pc.on("connectionstatechange")
    def _on_state() -> None:
        if pc.connectionState == "connected" or pc.connectionState == "failed":
            connected.set()

    if pc.connectionState != "connected":
        await asyncio.wait_for(connected.wait(), CONNECT_TIMEOUT)
    if pc.connectionState != "connected":
        raise ConnectionError(f"WebRTC connection {pc.connectionState}")


def _black_hole(pc: RTCPeerConnection) -> None:
    """Drop every datagram from now on, like a publisher whose network vanished.

    Reaches into aioice: no public API stops sending without an RTCP BYE / DTLS close_notify.
    """
    for transceiver in pc.getTransceivers():
        dtls = transceiver.sender.transport
        if dtls is None:
            continue
        connection: Any = dtls.transport._connection
        for protocol in connection._protocols:
            protocol.transport.sendto = lambda *args, **kwargs: None


async def _end(pc: RTCPeerConnection, session: WhipSession, ending: Ending) -> int | None:
    status = None
    if ending == "delete":
        status = await delete_session(session)
    elif ending == "vanish":
        _black_hole(pc)
    await pc.close()
    return status


async def publish_aiortc(
    endpoint: str,
    token: str | None,
    *,
    codec: Literal["VP8", "H264"] = "VP8",
    width: int = 640,
    height: int = 480,
    fps: float = 30.0,
    duration: float = 3.0,
    video: bool = True,
    audio: bool = True,
    size_changes: Sequence[SizeChange] = (),
    ending: Ending = "delete",
    linger: float = 0.3,
) -> PublishResult:
    """Publish `duration` seconds of media to a WHIP endpoint and end the session.

    ending: "delete" sends DELETE then closes; "close" closes the peer connection (RTCP BYE,
    DTLS close_notify) without DELETE; "vanish" goes silent (no packet at all) without DELETE.
    linger: seconds to wait after the last frame before ending, so that it arrives.
    Raises WhipError if the POST is refused, ConnectionError/TimeoutError if ICE/DTLS fail.
    """
    pc = RTCPeerConnection()
    tracks: list[PatternVideoTrack | ToneAudioTrack] = []
    video_track = None
    if video:
        video_track = PatternVideoTrack(width, height, fps, duration, size_changes)
        _force_codec(pc.addTransceiver(video_track, direction="sendonly"), codec)
        tracks.append(video_track)
    audio_track = ToneAudioTrack(duration) if audio else None
    if audio_track is not None:
        pc.addTransceiver(audio_track, direction="sendonly")
        tracks.append(audio_track)
    try:
        await pc.setLocalDescription(await pc.createOffer())
        session = await post_offer(endpoint, pc.localDescription.sdp, token)
        await pc.setRemoteDescription(RTCSessionDescription(session.answer_sdp, "answer"))
        await _wait_connected(pc)
        await asyncio.wait_for(
            asyncio.gather(*(t.done.wait() for t in tracks)), duration + CONNECT_TIMEOUT
        )
        await asyncio.sleep(linger)
        status = await _end(pc, session, ending)
    finally:
        await pc.close()
    frames = video_track.sent if video_track else 0
    audio_frames = audio_track.sent if audio_track else 0
    span = frames / fps if video_track else audio_frames * 0.02
    logger.info(
        "published %s: %d video, %d audio frames", session.resource_url, frames, audio_frames
    )
    return PublishResult(
        resource_url=session.resource_url,
        video_codec=sdp_video_codec(session.answer_sdp) if video else None,
        video_frames=frames,
        audio_frames=audio_frames,
        span=span,
        sizes=video_track.sizes_sent if video_track else [],
        delete_status=status,
    )

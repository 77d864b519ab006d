"""One WHIP publisher: its peer connection and the taps on its tracks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InvalidAccessError, OperationError

from telerecord.errors import BadRequest, NotAcceptable
from telerecord.ingest.sdp import accepted_codecs, add_public_ip
from telerecord.media.frames import EncodedFrame
from telerecord.media.tap import TrackTap, attach_taps

log = logging.getLogger(__name__)


class WhipSession:
    """A peer connection that only receives, handing encoded frames to ``on_frame``."""

    def __init__(self, session_id: str, *, stun_url: str = "", public_ip: str = "") -> None:
        self.id = session_id
        self.created = time.monotonic()
        self.public_ip = public_ip
        servers = [RTCIceServer(urls=stun_url)] if stun_url else []
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        self.taps: list[TrackTap] = []
        self.on_frame: Callable[[EncodedFrame], None] = _drop
        self.closed = False
        self.failed = asyncio.Event()

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState in ("failed", "closed"):
                self.failed.set()

    async def accept(self, offer: str) -> str:
        """Apply the offer and return the SDP answer (ICE candidates included)."""
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        except OperationError:
            # No codec in common: e.g. only VP9 profile 1 or AV1 high profile was offered.
            raise NotAcceptable(
                f"No codec in the offer can be recorded. Accepted codecs: {accepted_codecs()}."
            ) from None
        except (ValueError, KeyError, IndexError, InvalidAccessError) as exc:
            raise BadRequest(f"The SDP offer could not be used: {exc}") from None
        for transceiver in self.pc.getTransceivers():
            transceiver.direction = "recvonly"
        self.taps = attach_taps(self.pc, self._frame)
        answer = await self.pc.createAnswer()
        await self.pc.setLocalDescription(answer)
        sdp = self.pc.localDescription.sdp
        return add_public_ip(sdp, self.public_ip) if self.public_ip else sdp

    def _frame(self, frame: EncodedFrame) -> None:
        self.on_frame(frame)

    def request_keyframe(self) -> None:
        for tap in self.taps:
            if tap.kind == "video":
                tap.request_keyframe()

    @property
    def last_media_at(self) -> float | None:
        times = [t.last_packet_at for t in self.taps if t.last_packet_at is not None]
        return max(times) if times else None

    def silent_for(self, now: float) -> float:
        """Seconds since the last media packet (or since the session began, if none came)."""
        return now - (self.last_media_at or self.created)

    @property
    def tracks(self) -> list[dict[str, str]]:
        return [{"type": tap.kind, "codec": tap.codec} for tap in self.taps]

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.on_frame = _drop
        try:
            await asyncio.wait_for(self.pc.close(), timeout=5)
        except Exception:
            log.exception("session %s: close failed", self.id)


def _drop(_frame: EncodedFrame) -> None:
    pass

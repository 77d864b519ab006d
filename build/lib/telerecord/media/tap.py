"""Passthrough tap: encoded frames straight out of aiortc, with no decoding.

The ONLY module that touches aiortc's private internals (pinned: aiortc 1.16.0).

How: `attach_taps` replaces `receive()`/`stop()` of each transceiver's RTCRtpReceiver, so
aiortc's receiver never starts (no decoder thread, jitter buffer or bitrate estimator).
Instead each `TrackTap` registers itself with the RTCDtlsTransport's RTP router (for RTCP:
sender reports, BYE), and the transport's `_handle_rtp_data` is wrapped by `_RtpFastPath`,
which reads the RTP header of each decrypted packet itself and hands the payload to the tap
owning the SSRC; anything else goes on to aiortc unchanged. The tap reorders, asks for lost
packets (NACK, RTX unwrapped), assembles frames, sends PLIs and receiver reports.

Importing this module also lets aiortc negotiate VP9 and AV1 for receiving
(`register_receive_codecs`), which aiortc 1.16 does not know.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import aiortc.codecs
import aiortc.rtcpeerconnection
import aiortc.rtp
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import (
    RTCRtcpFeedback,
    RTCRtpCodecParameters,
    RTCRtpReceiveParameters,
)
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    AnyRtcpPacket,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    RtpPacket,
    pack_remb_fci,
)

from telerecord.media.frames import EncodedFrame
from telerecord.media.rtp_stream import RtpStream

logger = logging.getLogger(__name__)

FrameCallback = Callable[[EncodedFrame], None]

RECEIVE_BUFFER_BYTES = 2 << 20  # 16 streams overflowed the default buffer (RcvbufErrors)
PLI_MIN_INTERVAL = 0.5  # seconds between two PLIs of one track
REMB_BITRATE = 10_000_000  # fixed ceiling: we record, we do not need to throttle publishers
TICK_INTERVAL = 0.02

_SEQ_TS_SSRC = struct.Struct("!HII")
_EXT_LENGTH = struct.Struct("!H")


@dataclass(slots=True)
class TapStats:
    """Counters of one track tap."""

    packets: int = 0
    bytes: int = 0
    lost: int = 0  # packets never received (after NACKs)
    nacks_sent: int = 0
    plis_sent: int = 0
    frames: int = 0
    frames_dropped: int = 0  # incomplete, or undecodable until the next keyframe
    garbage: int = 0  # malformed packets or payloads


class TrackTap:
    """Encoded frames of one received track, handed to `on_frame` on the event-loop thread."""

    def __init__(self, transceiver: RTCRtpTransceiver, on_frame: FrameCallback) -> None:
        self.kind: Literal["audio", "video"] = "video" if transceiver.kind == "video" else "audio"
        media = [c for c in transceiver._codecs if not is_rtx(c)]
        self.codec: str = _codec_name(media[0]) if media else ""
        self.last_packet_at: float | None = None
        self._stats = TapStats()
        self._on_frame = on_frame
        self._receiver: RTCRtpReceiver = transceiver.receiver
        if getattr(self._receiver, "_RTCRtpReceiver__started", False):
            raise RuntimeError("attach_taps() after media started: aiortc's decoder already runs")
        self._rtcp_ssrc: int = transceiver.sender._ssrc
        self._codecs: dict[int, RTCRtpCodecParameters] = {}
        self._rtx_apt: dict[int, int] = {}  # RTX payload type -> media payload type
        self._payload_type = -1
        self._nack_enabled = False
        self._remb_enabled = False
        self._media_ssrc: int | None = None
        self._stream = self._new_stream(90000 if self.kind == "video" else 48000)
        self._ended_streams = TapStats()  # counters of streams replaced by a new SSRC
        self._last_pli = -PLI_MIN_INTERVAL
        self._transport: Any = None
        self._fast_path: _RtpFastPath | None = None
        self._rtcp_task: asyncio.Task[None] | None = None
        self._tick: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._receiver.receive = self._receive  # type: ignore[method-assign]
        self._receiver.stop = self._stop  # type: ignore[method-assign]

    @property
    def stats(self) -> TapStats:
        """A snapshot of the counters."""
        stream, ended = self._stream, self._ended_streams
        return dataclasses.replace(
            self._stats,
            frames=ended.frames + stream.frames,
            frames_dropped=ended.frames_dropped + stream.dropped,
            garbage=self._stats.garbage + ended.garbage + stream.garbage,
            lost=ended.lost + stream.lost,
        )

    def request_keyframe(self) -> None:
        """Send a PLI now, unless one went out less than PLI_MIN_INTERVAL ago; audio: no-op."""
        self._send_pli(time.monotonic())

    # --- aiortc receiver replacement -----------------------------------------------------

    async def _receive(self, parameters: RTCRtpReceiveParameters) -> None:
        if self._fast_path is not None:
            return
        for codec in parameters.codecs:
            payload_type = codec.payloadType
            if payload_type is None:
                continue
            if is_rtx(codec):
                apt = codec.parameters.get("apt")
                if isinstance(apt, int):
                    self._rtx_apt[payload_type] = apt
            else:
                self._codecs[payload_type] = codec
        feedback = {(fb.type, fb.parameter) for c in parameters.codecs for fb in c.rtcpFeedback}
        self._nack_enabled = self.kind == "video" and ("nack", None) in feedback
        self._remb_enabled = self.kind == "video" and ("goog-remb", None) in feedback
        self._stream = self._new_stream(self._stream.clock_rate)
        self._transport = self._receiver.transport
        self._fast_path = _RtpFastPath.install(self._transport)
        self._fast_path.add(self, parameters)
        self._transport._register_rtp_receiver(self, parameters)  # RTCP: SR and BYE
        _raise_receive_buffer(self._transport)
        self._rtcp_task = asyncio.ensure_future(self._run_rtcp())

    async def _stop(self) -> None:
        self._shutdown()

    def _shutdown(self) -> None:
        if self._fast_path is not None:
            self._fast_path.remove(self)
            self._transport._unregister_rtp_receiver(self)
        if self._rtcp_task is not None:
            self._rtcp_task.cancel()
            self._rtcp_task = None
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        track: Any = self._receiver.track
        if track is not None and track.readyState == "live":
            track._queue.put_nowait(None)  # recv() raises MediaStreamError, as aiortc does

    # RtpReceiver protocol of aiortc's RtpRouter.
    def _handle_disconnect(self) -> None:
        self._shutdown()

    async def _handle_rtcp_packet(self, packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpSrPacket) and packet.ssrc == self._media_ssrc:
            info = packet.sender_info
            self._stream.sender_clock.update(info.ntp_timestamp, info.rtp_timestamp)
            self._stream.reception.on_sender_report(info.ntp_timestamp, time.monotonic())
        elif isinstance(packet, RtcpByePacket):
            logger.info("tap %s %s: BYE from the sender", self.kind, self.codec)

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        # Only reached if aiortc routes a parsed packet itself; the fast path normally does.
        self._on_rtp(
            packet.payload_type,
            bool(packet.marker),
            packet.sequence_number,
            packet.timestamp,
            packet.ssrc,
            packet.payload,
        )

    # --- per packet ----------------------------------------------------------------------

    def _on_rtp(
        self, payload_type: int, marker: bool, seq: int, timestamp: int, ssrc: int, payload: bytes
    ) -> None:
        now = time.monotonic()
        self.last_packet_at = now
        stats = self._stats
        stats.packets += 1
        stats.bytes += len(payload)
        retransmission = payload_type in self._rtx_apt
        if retransmission:
            if len(payload) < 2 or self._media_ssrc is None:
                return  # padding probe, or nothing to repair yet
            seq = (payload[0] << 8) | payload[1]
            payload = payload[2:]
            payload_type = self._rtx_apt[payload_type]
        elif ssrc != self._media_ssrc:
            self._new_media_ssrc(ssrc)
        if payload_type != self._payload_type and not self._switch_codec(payload_type):
            stats.garbage += 1
            return
        stream = self._stream
        missing = stream.on_packet(
            seq, timestamp, marker, payload, now, retransmission=retransmission
        )
        if missing:
            self._send_nack(missing)
        if stream.waiting_for_keyframe:
            self._send_pli(now)
        if self._tick is None and stream.needs_tick:
            self._tick = asyncio.get_running_loop().call_later(TICK_INTERVAL, self._on_tick)

    def _on_tick(self) -> None:
        self._tick = None
        now = time.monotonic()
        stream = self._stream
        again = stream.tick(now)
        if again:
            self._send_nack(again)
        if stream.waiting_for_keyframe:
            self._send_pli(now)
        if stream.needs_tick:
            self._tick = asyncio.get_running_loop().call_later(TICK_INTERVAL, self._on_tick)

    # --- stream state ----------------------------------------------------------------------

    def _new_stream(self, clock_rate: int) -> RtpStream:
        codec = self.codec or "VP8"
        nack = self._nack_enabled
        return RtpStream(self.kind, codec, clock_rate, nack=nack, on_frame=self._deliver)

    def _deliver(self, frame: EncodedFrame) -> None:
        try:
            self._on_frame(frame)
        except Exception:  # a consumer bug must not tear down aiortc's transport loop
            logger.exception("tap %s %s: on_frame failed", self.kind, self.codec)

    def _replace_stream(self, clock_rate: int) -> None:
        """Fresh per-SSRC state; the old stream's counters are kept in the totals."""
        old, ended = self._stream, self._ended_streams
        ended.frames += old.frames
        ended.frames_dropped += old.dropped
        ended.garbage += old.garbage
        ended.lost += old.lost
        self._stream = self._new_stream(clock_rate)

    def _new_media_ssrc(self, ssrc: int) -> None:
        if self._media_ssrc is not None:
            logger.info("tap %s: new SSRC %d (was %d)", self.kind, ssrc, self._media_ssrc)
            self._replace_stream(self._stream.clock_rate)
        self._media_ssrc = ssrc

    def _switch_codec(self, payload_type: int) -> bool:
        codec = self._codecs.get(payload_type)
        if codec is None:
            return False
        self._payload_type = payload_type
        name = _codec_name(codec)
        if name != self._stream.codec or codec.clockRate != self._stream.clock_rate:
            self.codec = name
            self._replace_stream(codec.clockRate)
        return True

    # --- RTCP out ------------------------------------------------------------------------

    def _send_pli(self, now: float) -> None:
        if self.kind != "video" or self._media_ssrc is None or self._fast_path is None:
            return
        if now - self._last_pli < PLI_MIN_INTERVAL:
            return
        self._last_pli = now
        self._stats.plis_sent += 1
        self._send(
            RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=self._rtcp_ssrc, media_ssrc=self._media_ssrc)
        )

    def _send_nack(self, seqs: list[int]) -> None:
        if self._media_ssrc is None:
            return
        self._stats.nacks_sent += 1
        packet = RtcpRtpfbPacket(
            fmt=RTCP_RTPFB_NACK, ssrc=self._rtcp_ssrc, media_ssrc=self._media_ssrc
        )
        packet.lost = [seq & 0xFFFF for seq in seqs]
        self._send(packet)

    def _send(self, packet: AnyRtcpPacket) -> None:
        task = asyncio.ensure_future(self._send_now(bytes(packet)))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_now(self, data: bytes) -> None:
        with contextlib.suppress(ConnectionError):  # closing: nothing left to tell the sender
            await self._transport._send_rtp(data)

    async def _run_rtcp(self) -> None:
        while True:
            await asyncio.sleep(0.5 + random.random())  # RFC 3550 randomised interval
            block = self._stream.reception.report(time.monotonic())
            if block is None or self._media_ssrc is None:
                continue
            info = RtcpReceiverInfo(
                ssrc=self._media_ssrc,
                fraction_lost=block.fraction_lost,
                packets_lost=block.packets_lost,
                highest_sequence=block.highest_sequence,
                jitter=block.jitter,
                lsr=block.lsr,
                dlsr=block.dlsr,
            )
            await self._send_now(bytes(RtcpRrPacket(ssrc=self._rtcp_ssrc, reports=[info])))
            if self._remb_enabled:
                fci = pack_remb_fci(REMB_BITRATE, [self._media_ssrc])
                remb = RtcpPsfbPacket(
                    fmt=RTCP_PSFB_APP, ssrc=self._rtcp_ssrc, media_ssrc=0, fci=fci
                )
                await self._send_now(bytes(remb))


class _RtpFastPath:
    """Replaces RTCDtlsTransport._handle_rtp_data: minimal RTP parse, SSRC -> tap lookup."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._fallback = transport._handle_rtp_data
        self._by_ssrc: dict[int, TrackTap] = {}
        self._by_payload_type: dict[int, list[TrackTap]] = {}
        transport._handle_rtp_data = self.handle

    @classmethod
    def install(cls, transport: Any) -> _RtpFastPath:
        fast_path = getattr(transport, "_telerecord_fast_path", None)
        if fast_path is None:
            fast_path = cls(transport)
            transport._telerecord_fast_path = fast_path
        assert isinstance(fast_path, _RtpFastPath)
        return fast_path

    def add(self, tap: TrackTap, parameters: RTCRtpReceiveParameters) -> None:
        for encoding in parameters.encodings:
            self._by_ssrc[encoding.ssrc] = tap
            if encoding.rtx is not None:
                self._by_ssrc[encoding.rtx.ssrc] = tap
        for codec in parameters.codecs:
            if codec.payloadType is not None:
                self._by_payload_type.setdefault(codec.payloadType, []).append(tap)

    def remove(self, tap: TrackTap) -> None:
        for ssrc in [s for s, t in self._by_ssrc.items() if t is tap]:
            del self._by_ssrc[ssrc]
        for taps in self._by_payload_type.values():
            if tap in taps:
                taps.remove(tap)

    async def handle(self, data: bytes, arrival_time_ms: int) -> None:
        """One decrypted RTP packet from the transport."""
        size = len(data)
        if size < 12:
            return
        first = data[0]
        seq, timestamp, ssrc = _SEQ_TS_SSRC.unpack_from(data, 2)
        tap = self._by_ssrc.get(ssrc) or self._learn(ssrc, data[1] & 0x7F)
        if tap is None:
            await self._fallback(data, arrival_time_ms=arrival_time_ms)
            return
        offset = 12 + 4 * (first & 0x0F)
        if first & 0x10:  # header extension
            if offset + 4 > size:
                offset = size + 1  # cut short: garbage below
            else:
                offset += 4 + 4 * _EXT_LENGTH.unpack_from(data, offset + 2)[0]
        end = size - data[-1] if first & 0x20 else size
        if offset > end or first >> 6 != 2:
            tap._stats.garbage += 1
            return
        second = data[1]
        try:
            tap._on_rtp(second & 0x7F, second > 127, seq, timestamp, ssrc, data[offset:end])
        except Exception:  # never let one bad packet end the transport's receive loop
            tap._stats.garbage += 1
            logger.exception("tap %s: packet handling failed", tap.kind)

    def _learn(self, ssrc: int, payload_type: int) -> TrackTap | None:
        # Unsignalled SSRC (no a=ssrc lines): the payload type decides, as aiortc's router does.
        taps = self._by_payload_type.get(payload_type, [])
        if len(taps) != 1:
            return None
        self._by_ssrc[ssrc] = taps[0]
        self._transport._rtp_router.ssrc_table[ssrc] = taps[0]  # so its SRs reach the tap
        return taps[0]


def _codec_name(codec: RTCRtpCodecParameters) -> str:
    name = codec.mimeType.split("/")[-1]
    return "opus" if name.lower() == "opus" else name.upper()


def _raise_receive_buffer(transport: Any) -> None:
    """Bigger UDP receive buffers: bursts of 16+ streams overflowed the default one."""
    connection = transport.transport._connection
    for protocol in getattr(connection, "_protocols", []):
        sock = protocol.transport.get_extra_info("socket") if protocol.transport else None
        if sock is None:
            continue
        try:
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) < RECEIVE_BUFFER_BYTES:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        except OSError as exc:
            logger.warning("tap: cannot raise SO_RCVBUF: %s", exc)


def attach_taps(pc: RTCPeerConnection, on_frame: FrameCallback) -> list[TrackTap]:
    """Tap every receiving transceiver of `pc`; aiortc's own receive path never starts.

    Call after setRemoteDescription(offer) and before media flows. `on_frame` runs on the
    event-loop thread and must be cheap.
    """
    taps = []
    for transceiver in pc.getTransceivers():
        if transceiver.kind in ("audio", "video") and transceiver.receiver.track is not None:
            taps.append(TrackTap(transceiver, on_frame))
    return taps


# --- negotiation: VP9 and AV1 (receive only) ------------------------------------------------

RECEIVE_ONLY_VIDEO_CODECS: tuple[tuple[str, dict[str, str]], ...] = (
    ("video/VP9", {"profile-id": "0"}),
    ("video/VP9", {"profile-id": "2"}),
    ("video/AV1", {}),
)
_PROFILE_PARAMETER = {"video/vp9": "profile-id", "video/av1": "profile"}  # absent means 0
# With rtcp-mux, 35-63 are dynamic payload types too (RFC 5761 4): Chromium puts AV1 and
# more H.264 profiles there once 96-127 are used up. aiortc only echoes an offer's payload
# type if it is "dynamic", else answers its own number, which the publisher may use for
# something else.
DYNAMIC_PAYLOAD_TYPES = frozenset(range(35, 64)) | frozenset(range(96, 128))

_CodecCheck = Callable[[RTCRtpCodecParameters, RTCRtpCodecParameters], bool]


def register_receive_codecs() -> None:
    """Teach aiortc to accept VP9 (profile-id 0 and 2) and AV1 (profile 0) in offers.

    Process-wide and idempotent; runs when this module is imported. The codecs go after
    VP8/H.264 in aiortc's table, so an answer keeps the publisher's order among what we
    accept and aiortc's own senders keep choosing VP8/H.264 (it has no VP9/AV1 encoder).
    No decoder is ever made for them: the tap replaces aiortc's receiver. aiortc's
    compatibility check ignores profiles, so it is wrapped to compare them: an offer of
    only VP9 profile 1/3 or AV1 profile 1/2 has no video codec in common. Payload types
    35-63 of an offer are kept in the answer (see DYNAMIC_PAYLOAD_TYPES).
    """
    setattr(aiortc.rtp, "DYNAMIC_PAYLOAD_TYPES", DYNAMIC_PAYLOAD_TYPES)  # noqa: B010
    video = aiortc.codecs.CODECS["video"]
    known = {(c.mimeType.lower(), str(c.parameters)) for c in video}
    payload_type = 1 + max(
        c.payloadType or 0 for codecs in aiortc.codecs.CODECS.values() for c in codecs
    )
    for mime_type, parameters in RECEIVE_ONLY_VIDEO_CODECS:
        if (mime_type.lower(), str(parameters)) in known:
            continue
        feedback = [RTCRtcpFeedback("nack"), RTCRtcpFeedback("nack", "pli")]
        feedback.append(RTCRtcpFeedback("goog-remb"))
        video.append(
            RTCRtpCodecParameters(
                mimeType=mime_type,
                clockRate=90000,
                payloadType=payload_type,
                rtcpFeedback=feedback,
                parameters=dict(parameters),
            )
        )
        video.append(
            RTCRtpCodecParameters(
                mimeType="video/rtx",
                clockRate=90000,
                payloadType=payload_type + 1,
                parameters={"apt": payload_type},
            )
        )
        payload_type += 2
    check: Any = aiortc.rtcpeerconnection.is_codec_compatible
    if not getattr(check, "telerecord_profiles", False):
        setattr(aiortc.rtcpeerconnection, "is_codec_compatible", _comparing_profiles(check))  # noqa: B010


def _comparing_profiles(original: _CodecCheck) -> _CodecCheck:
    def compatible(a: RTCRtpCodecParameters, b: RTCRtpCodecParameters) -> bool:
        if not original(a, b):
            return False
        key = _PROFILE_PARAMETER.get(a.mimeType.lower())
        return key is None or str(a.parameters.get(key, 0)) == str(b.parameters.get(key, 0))

    compatible.telerecord_profiles = True  # type: ignore[attr-defined]
    return compatible


register_receive_codecs()

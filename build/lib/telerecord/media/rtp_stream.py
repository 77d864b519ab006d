"""Receive pipeline of one RTP stream (one SSRC): order -> loss bookkeeping -> frames.

No I/O and no aiortc: the caller feeds parsed packets and sends the NACKs it is told to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from telerecord.media.frames import EncodedFrame
from telerecord.media.reception import ReceptionStats
from telerecord.media.reorder import NackTracker, ReorderBuffer, SequenceUnwrapper
from telerecord.media.rtp_depacketize import AssembledFrame, FrameAssembler
from telerecord.media.sender_clock import SenderClock, TimestampUnwrapper

VIDEO_REORDER_DELAY = 0.5  # long enough for a NACK to be answered a few times
AUDIO_REORDER_DELAY = 0.08
REORDER_MAX_PACKETS = 2048
NACK_RETRY_INTERVAL = 0.1
NACK_MAX_TRIES = 4
NACK_MAX_MISSING = 256

_Packet = tuple[int, bool, bytes]  # (RTP timestamp, marker, payload)


class RtpStream:
    """Packets of one SSRC in, `EncodedFrame`s out (through `on_frame`)."""

    def __init__(
        self,
        kind: Literal["audio", "video"],
        codec: str,
        clock_rate: int,
        *,
        nack: bool,
        on_frame: Callable[[EncodedFrame], None],
    ) -> None:
        self.kind = kind
        self.codec = codec
        self.clock_rate = clock_rate
        self.sender_clock = SenderClock(clock_rate)
        self.reception = ReceptionStats(clock_rate)
        self.frames = 0
        self._on_frame = on_frame
        self._nack = nack
        self._seq = SequenceUnwrapper()
        self._timestamps = TimestampUnwrapper()
        delay = VIDEO_REORDER_DELAY if kind == "video" else AUDIO_REORDER_DELAY
        self._reorder: ReorderBuffer[_Packet] = ReorderBuffer(delay, REORDER_MAX_PACKETS)
        self._resyncs = 0
        self._nacks = self._new_nack_tracker()
        self._assembler = FrameAssembler(codec, self._emit)
        self._now = 0.0

    @property
    def lost(self) -> int:
        """Packets given up on (never arrived, not even retransmitted)."""
        return self._reorder.skipped

    @property
    def dropped(self) -> int:
        """Frames thrown away: incomplete, or undecodable until the next keyframe."""
        return self._assembler.dropped

    @property
    def garbage(self) -> int:
        """Payloads that did not parse."""
        return self._assembler.garbage

    @property
    def waiting_for_keyframe(self) -> bool:
        """Video frames are being dropped until a keyframe comes (ask for one)."""
        return self._assembler.waiting_for_keyframe

    @property
    def needs_tick(self) -> bool:
        """Something waits on time: a gap to fill or NACKs to repeat; call `tick` soon."""
        return bool(self._reorder.held or (self._nacks is not None and self._nacks.pending))

    def on_packet(
        self,
        seq: int,
        timestamp: int,
        marker: bool,
        payload: bytes,
        now: float,
        *,
        retransmission: bool = False,
    ) -> list[int]:
        """One packet (16-bit `seq`; for RTX the original one); returns seqs to NACK now."""
        self._now = now
        useq = self._seq.unwrap(seq)
        self.reception.on_packet(useq, timestamp, now, retransmission=retransmission)
        missing: list[int] = []
        if self._nacks is not None:
            missing = self._nacks.on_packet(useq, now)
        push = self._assembler.push
        for rseq, (rts, rmark, rpayload) in self._reorder.push(
            useq, (timestamp, marker, payload), now
        ):
            push(rseq, rts, rmark, rpayload)
        if self._reorder.resyncs != self._resyncs:
            self._resyncs = self._reorder.resyncs
            self._nacks = self._new_nack_tracker()  # the numbering started over
        return [s & 0xFFFF for s in missing]

    def tick(self, now: float) -> list[int]:
        """Give up gaps that waited too long; return seqs to NACK again."""
        self._now = now
        for seq, (timestamp, marker, payload) in self._reorder.expire(now):
            self._assembler.push(seq, timestamp, marker, payload)
        nacks = self._nacks
        if nacks is None or self._reorder.next_seq is None:
            return []
        nacks.forget_below(self._reorder.next_seq)
        return [s & 0xFFFF for s in nacks.due(now)]

    def _new_nack_tracker(self) -> NackTracker | None:
        if not self._nack:
            return None
        return NackTracker(NACK_RETRY_INTERVAL, NACK_MAX_TRIES, NACK_MAX_MISSING)

    def _emit(self, frame: AssembledFrame) -> None:
        self.frames += 1
        self._on_frame(
            EncodedFrame(
                kind=self.kind,
                codec=self.codec,
                data=frame.data,
                rtp_timestamp=self._timestamps.unwrap(frame.timestamp),
                clock_rate=self.clock_rate,
                keyframe=frame.keyframe,
                arrival=self._now,
                wallclock=self.sender_clock.wallclock(frame.timestamp),
            )
        )

"""Ingest benchmark: passthrough tap vs aiortc's stock decoding receiver.

N publishers (one process, aiortc MediaPlayer(decode=False) replaying a pre-encoded
854x480 VP8 ~2.5 Mbit/s + Opus WebM made here with PyAV) send to one receiver process that
either uses `attach_taps` ("tap", frames are only counted) or aiortc's recv() ("stock").
Prints receiver CPU seconds per stream-second, video frames lost, RSS per stream.

    .venv/bin/python bench/ingest.py [--streams 1 4 8 16] [--seconds 10] [--modes tap stock]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import multiprocessing.connection
import resource
import sys
import tempfile
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer

sys.path.insert(0, str(Path(__file__).resolve().parent))

WARMUP = 3.0  # seconds after the last connection before measuring
DRAIN = 2.0  # seconds after the publishers stop before counting what arrived
VIDEO_SOURCE = "testsrc2=size=854x480:rate=30,noise=alls=12:allf=t"


def _encode_clip(seconds: int) -> tuple[list[Any], list[Any], Any, Any]:
    """`seconds` of 854x480 30 fps VP8 ~2.5 Mbit/s (noisy test pattern, keyframe every 3 s)
    and mono Opus, as packets of two mux streams of a throwaway container."""
    fps = 30
    scratch = av.open(io.BytesIO(), "w", format="webm")
    video: Any = scratch.add_stream("libvpx", rate=fps)
    video.width, video.height, video.pix_fmt = 854, 480, "yuv420p"
    video.bit_rate = 2_500_000
    video.gop_size = 90
    video.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "minrate": "2500000",
        "maxrate": "2500000",
        "bufsize": "2500000",
    }
    audio: Any = scratch.add_stream("libopus", rate=48000)
    audio.layout = "mono"
    video_packets: list[Any] = []
    with av.open(VIDEO_SOURCE, format="lavfi") as source:
        for index, frame in enumerate(source.decode(video=0)):
            if index >= fps * seconds:
                break
            frame.pts, frame.time_base = index, Fraction(1, fps)
            frame.pict_type = av.video.frame.PictureType.NONE  # lavfi marks all as I: not forced
            video_packets += video.encode(frame)
        video_packets += video.encode(None)
    audio_packets: list[Any] = []
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
    samples = 0
    with av.open("sine=frequency=440:sample_rate=48000", format="lavfi") as source:
        for sound in source.decode(audio=0):
            if samples >= 48000 * seconds:
                break
            for chunk in resampler.resample(sound):
                chunk.pts = samples
                samples += chunk.samples
                audio_packets += audio.encode(chunk)
        audio_packets += audio.encode(None)
    return video_packets, audio_packets, video, audio


def make_media(path: Path, seconds: int, clip_seconds: int = 10) -> None:
    """A WebM of `seconds` (a whole number of clips): the clip encoded once, then repeated.

    MediaPlayer(loop=True) is no option: with decode=False its clock goes back at each
    loop and it then sends as fast as it can.
    """
    video_packets, audio_packets, video_codec, audio_codec = _encode_clip(clip_seconds)
    with av.open(str(path), "w", format="webm") as out:
        video = out.add_stream_from_template(video_codec)
        audio = out.add_stream_from_template(audio_codec)
        for repeat in range(max(1, seconds // clip_seconds)):
            for packets, stream in ((video_packets, video), (audio_packets, audio)):
                shift = int(repeat * clip_seconds / packets[0].time_base)
                for packet in packets:
                    if packet.pts is None:
                        continue
                    copy = av.Packet(bytes(packet))
                    copy.pts, copy.dts = packet.pts + shift, (packet.dts or packet.pts) + shift
                    copy.time_base, copy.is_keyframe = packet.time_base, packet.is_keyframe
                    copy.stream = stream
                    out.mux(copy)


# --- publisher process -------------------------------------------------------------------


def publisher_main(conn: multiprocessing.connection.Connection, media: str, n: int) -> None:
    asyncio.run(_publish(conn, media, n))


async def _publish(conn: multiprocessing.connection.Connection, media: str, n: int) -> None:
    pcs, sent = [], Counter[int]()
    for index in range(n):
        pc = RTCPeerConnection()
        player = MediaPlayer(media, decode=False)
        for track in (player.audio, player.video):
            assert track is not None
            if track.kind == "video":
                _count_sent(track, sent, index)
            pc.addTrack(track)
        await pc.setLocalDescription(await pc.createOffer())
        pcs.append(pc)
    conn.send([pc.localDescription.sdp for pc in pcs])
    answers = await asyncio.to_thread(conn.recv)
    for pc, sdp in zip(pcs, answers, strict=True):
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
    await asyncio.to_thread(conn.recv)  # "stop"
    for pc in pcs:
        await pc.close()
    conn.send(dict(sent))


def _count_sent(track: Any, sent: Counter[int], index: int) -> None:
    recv = track.recv

    async def counted() -> Any:
        packet = await recv()
        sent[index] += 1
        return packet

    track.recv = counted


# --- receiver process --------------------------------------------------------------------


def receiver_main(conn: multiprocessing.connection.Connection, mode: str, seconds: float) -> None:
    asyncio.run(_receive(conn, mode, seconds))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _receive(conn: multiprocessing.connection.Connection, mode: str, seconds: float) -> None:
    from stock_receiver import StockReceiver

    from telerecord.media.frames import EncodedFrame
    from telerecord.media.tap import TrackTap, attach_taps

    rss_before = _rss_mib()
    offers = await asyncio.to_thread(conn.recv)
    frames: Counter[str] = Counter()

    def on_frame(frame: EncodedFrame) -> None:
        frames[frame.kind] += 1

    stock, taps, pcs = StockReceiver(), list[TrackTap](), []
    for sdp in offers:
        pc = RTCPeerConnection()
        if mode == "stock":
            stock.watch(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        if mode == "tap":
            taps += attach_taps(pc, on_frame)
        await pc.setLocalDescription(await pc.createAnswer())
        pcs.append(pc)
    conn.send([pc.localDescription.sdp for pc in pcs])
    counts = stock.frames if mode == "stock" else frames
    while sum(1 for pc in pcs if pc.connectionState == "connected") < len(pcs):
        await asyncio.sleep(0.1)
    await asyncio.sleep(WARMUP)
    cpu0, wall0, frames0 = _cpu_seconds(), time.monotonic(), counts["video"]
    await asyncio.sleep(seconds)
    cpu, wall = _cpu_seconds() - cpu0, time.monotonic() - wall0
    window_frames = counts["video"] - frames0
    rss = _rss_mib()
    conn.send("measured")
    await asyncio.to_thread(conn.recv)  # publishers stopped
    await asyncio.sleep(DRAIN)
    lost_packets = sum(t.stats.lost for t in taps)
    dropped = sum(t.stats.frames_dropped for t in taps)
    for pc in pcs:
        await pc.close()
    await stock.close()
    conn.send(
        {
            "cpu": cpu,
            "wall": wall,
            "window_frames": window_frames,
            "video_frames": counts["video"],
            "rss": rss,
            "rss_before": rss_before,
            "lost_packets": lost_packets,
            "frames_dropped": dropped,
        }
    )


# --- orchestration -----------------------------------------------------------------------


def _udp_rcvbuf_errors() -> int:
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    udp = [line for line in lines if line and line[0] == "Udp:"]
    return int(udp[1][udp[0].index("RcvbufErrors")])


def run_once(media: Path, mode: str, n: int, seconds: float) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    pub_conn, pub_child = ctx.Pipe()
    rx_conn, rx_child = ctx.Pipe()
    publisher = ctx.Process(target=publisher_main, args=(pub_child, str(media), n))
    receiver = ctx.Process(target=receiver_main, args=(rx_child, mode, seconds))
    rcvbuf_errors = _udp_rcvbuf_errors()
    publisher.start()
    receiver.start()
    try:
        rx_conn.send(pub_conn.recv())  # offers
        pub_conn.send(rx_conn.recv())  # answers
        assert rx_conn.recv() == "measured"
        pub_conn.send("stop")
        sent = pub_conn.recv()
        rx_conn.send("stopped")
        result: dict[str, Any] = rx_conn.recv()
        result["sent"] = sum(sent.values())
        result["rcvbuf_errors"] = _udp_rcvbuf_errors() - rcvbuf_errors
        return result
    finally:
        for process in (publisher, receiver):
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--modes", nargs="+", default=["tap", "stock"])
    parser.add_argument("--media", type=Path, help="reuse this WebM instead of making one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        media = args.media or Path(tmp) / "publisher.webm"
        if not args.media:
            make_media(media, seconds=int(args.seconds + 50))
        print(
            f"{'mode':6} {'N':>3} {'cpu s/stream-s':>15} {'us/frame':>9} {'sent':>6} "
            f"{'recv':>6} {'lost fr':>7} {'lost pk':>7} {'dropped':>7} {'MiB/stream':>10} "
            f"{'rcvbufErr':>9}"
        )
        for n in args.streams:
            for mode in args.modes:
                r = run_once(media, mode, n, args.seconds)
                per_stream = r["cpu"] / (n * r["wall"])
                per_frame = 1e6 * r["cpu"] / max(1, r["window_frames"])
                mib = (r["rss"] - r["rss_before"]) / n
                print(
                    f"{mode:6} {n:3d} {per_stream:15.4f} {per_frame:9.0f} {r['sent']:6d} "
                    f"{r['video_frames']:6d} {r['sent'] - r['video_frames']:7d} "
                    f"{r['lost_packets']:7d} {r['frames_dropped']:7d} {mib:10.1f} "
                    f"{r['rcvbuf_errors']:9d}",
                    flush=True,
                )


if __name__ == "__main__":
    main()

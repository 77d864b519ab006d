"""Ingest benchmark: the telerecord service vs aiortc's stock decoding receiver.

N publishers (one process, aiortc MediaPlayer(decode=False) replaying a pre-encoded
854x480 VP8 ~2.5 Mbit/s + Opus WebM made here with PyAV) send to a receiver that is either
- "service": a real `telerecord serve` subprocess, published to over WHIP and recording;
  frames lost = video frames sent (from the first keyframe the recording holds) minus
  video packets in the finished recording files;
- "stock": aiortc's recv() in a bare process (decodes every frame; the baseline);
- "tap": `attach_taps` in a bare process (frames are only counted).
Prints receiver CPU seconds per stream-second, video frames lost, RSS per stream.

    .venv/bin/python bench/ingest.py [--streams 1 4 8 16] [--seconds 10] [--modes service stock]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import io
import multiprocessing
import multiprocessing.connection
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import av
import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer

sys.path.insert(0, str(Path(__file__).resolve().parent))

WARMUP = 3.0  # seconds after the last connection before measuring
DRAIN = 2.0  # seconds after the publishers stop before counting what arrived
IDLE = 3.0  # seconds the service's idle CPU is measured before any publisher
PROCESSING_TIMEOUT = 600.0  # seconds to wait for the service to finish the recordings
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


@dataclass
class SentVideo:
    """Video frames one publisher sent, and where its keyframes were in that sequence."""

    frames: int = 0
    keyframes: list[tuple[int, str]] = field(default_factory=list)  # (index, SHA-1 of bytes)

    def from_keyframe(self, digest: str) -> int | None:
        """Frames sent from the first keyframe with these bytes on (None: never sent)."""
        for index, sent_digest in self.keyframes:
            if sent_digest == digest:
                return self.frames - index
        return None


def _player_peer(media: str, sent: SentVideo) -> tuple[RTCPeerConnection, MediaPlayer]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # aiortc's default is Google STUN
    player = MediaPlayer(media, decode=False)
    for track in (player.audio, player.video):
        assert track is not None
        if track.kind == "video":
            _count_sent(track, sent)
        pc.addTrack(track)
    return pc, player


def _count_sent(track: Any, sent: SentVideo) -> None:
    recv = track.recv

    async def counted() -> Any:
        packet = await recv()
        if packet.is_keyframe:
            sent.keyframes.append((sent.frames, hashlib.sha1(bytes(packet)).hexdigest()))
        sent.frames += 1
        return packet

    track.recv = counted


def publisher_main(conn: multiprocessing.connection.Connection, media: str, n: int) -> None:
    asyncio.run(_publish(conn, media, n))


async def _publish(conn: multiprocessing.connection.Connection, media: str, n: int) -> None:
    sent = [SentVideo() for _ in range(n)]
    pcs = [_player_peer(media, s)[0] for s in sent]
    for pc in pcs:
        await pc.setLocalDescription(await pc.createOffer())
    conn.send([pc.localDescription.sdp for pc in pcs])
    answers = await asyncio.to_thread(conn.recv)
    for pc, sdp in zip(pcs, answers, strict=True):
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
    await asyncio.to_thread(conn.recv)  # "stop"
    for pc in pcs:
        await pc.close()
    conn.send([dataclasses.asdict(s) for s in sent])  # plain data: __main__ differs


def whip_publisher_main(
    conn: multiprocessing.connection.Connection, media: str, n: int, url: str, token: str
) -> None:
    asyncio.run(_publish_whip(conn, media, n, url, token))


async def _publish_whip(
    conn: multiprocessing.connection.Connection, media: str, n: int, url: str, token: str
) -> None:
    """Publish N streams over WHIP; report "connected", and on "stop" stop sending, drain,
    DELETE the sessions and report what was sent."""
    sent = [SentVideo() for _ in range(n)]
    peers = [_player_peer(media, s) for s in sent]
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=auth, timeout=30) as client:
        sessions = [await _whip_post(client, pc, f"bench-{i}") for i, (pc, _) in enumerate(peers)]
        while any(pc.connectionState != "connected" for pc, _ in peers):
            if any(pc.connectionState == "failed" for pc, _ in peers):
                raise ConnectionError("a publisher's connection failed")
            await asyncio.sleep(0.05)
        conn.send("connected")
        await asyncio.to_thread(conn.recv)  # "stop"
        for _, player in peers:
            for track in (player.audio, player.video):
                assert track is not None
                track.stop()  # the senders' recv() now fails: nothing more is sent
        await asyncio.sleep(DRAIN)
        for session in sessions:
            (await client.delete(session)).raise_for_status()
    for pc, _ in peers:
        await pc.close()
    conn.send([dataclasses.asdict(s) for s in sent])  # plain data: __main__ differs


async def _whip_post(client: httpx.AsyncClient, pc: RTCPeerConnection, name: str) -> str:
    """POST the offer to /whip/{name}, apply the answer; returns the session URL."""
    await pc.setLocalDescription(await pc.createOffer())
    headers = {"Content-Type": "application/sdp"}
    response = await client.post(f"/whip/{name}", content=pc.localDescription.sdp, headers=headers)
    if response.status_code != 201:
        raise RuntimeError(f"WHIP POST {name}: {response.status_code} {response.text}")
    await pc.setRemoteDescription(RTCSessionDescription(response.text, "answer"))
    return urljoin(str(client.base_url), response.headers["location"])


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
        sent = [SentVideo(**s) for s in pub_conn.recv()]
        rx_conn.send("stopped")
        result: dict[str, Any] = rx_conn.recv()
        result["sent"] = sum(s.frames for s in sent)
        result["lost"] = result["sent"] - result["video_frames"]
        result["rcvbuf_errors"] = _udp_rcvbuf_errors() - rcvbuf_errors
        return result
    finally:
        for process in (publisher, receiver):
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()


def run_service(media: Path, n: int, seconds: float, scratch: Path) -> dict[str, Any]:
    """One point against a fresh `telerecord serve`: CPU over the same window as the other
    modes (WARMUP after all publishers connected, then `seconds`), then the recordings."""
    from service_receiver import ServiceUnderTest

    service = ServiceUnderTest(scratch / f"service-{n}")
    ctx = multiprocessing.get_context("spawn")
    pub_conn, pub_child = ctx.Pipe()
    publisher: Any = None
    try:
        service.start()
        token = service.publish_token()
        idle0 = service.cpu_seconds()
        time.sleep(IDLE)  # the service's own cost with no stream, for context
        idle = (service.cpu_seconds() - idle0) / IDLE
        rss_before, rcvbuf_errors = service.rss_mib(), _udp_rcvbuf_errors()
        args = (pub_child, str(media), n, service.url, token)
        publisher = ctx.Process(target=whip_publisher_main, args=args)
        publisher.start()
        result = _service_window(service, pub_conn, seconds)
        result["rss_before"], result["idle"] = rss_before, idle
        sent = [SentVideo(**s) for s in pub_conn.recv()]
        result["rcvbuf_errors"] = _udp_rcvbuf_errors() - rcvbuf_errors
        recordings = service.wait_complete(n, PROCESSING_TIMEOUT)
        result.update(_service_losses(service, recordings, sent))
        return result
    finally:
        if publisher is not None:
            publisher.join(timeout=10)
            if publisher.is_alive():
                publisher.kill()
                publisher.join()
        service.stop()


def _service_window(
    service: Any, pub_conn: multiprocessing.connection.Connection, seconds: float
) -> dict[str, Any]:
    if not pub_conn.poll(120):
        raise TimeoutError("the publishers did not connect in 120 s")
    assert pub_conn.recv() == "connected"
    time.sleep(WARMUP)
    cpu0, wall0 = service.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    cpu, wall = service.cpu_seconds() - cpu0, time.monotonic() - wall0
    rss = service.rss_mib()
    pub_conn.send("stop")
    return {"cpu": cpu, "wall": wall, "rss": rss}


def _service_losses(
    service: Any, recordings: list[dict[str, Any]], sent: list[SentVideo]
) -> dict[str, Any]:
    """Frames sent from the first keyframe each recording holds on, minus its video packets.

    The recording starts at the first keyframe the service saw: that keyframe is found among
    the publisher's by its bytes (a missing match counts from the first keyframe sent)."""
    by_name = {r["stream_name"]: service.recorded_video(r) for r in recordings}
    total_sent = expected = recorded = unmatched = failed = 0
    for index, video in enumerate(sent):
        found = by_name.get(f"bench-{index}")
        total_sent += video.frames
        if found is None or found.packets == 0:
            failed += 1
            expected += video.frames
            continue
        from_keyframe = video.from_keyframe(found.first_digest)
        if from_keyframe is None:
            unmatched += 1
            from_keyframe = video.frames - (video.keyframes[0][0] if video.keyframes else 0)
        expected += from_keyframe
        recorded += found.packets
    return {
        "sent": total_sent,
        "video_frames": recorded,
        "lost": expected - recorded,
        "before_keyframe": total_sent - expected,
        "unmatched": unmatched,
        "failed": failed,
        "window_frames": 0,
        "lost_packets": 0,
        "frames_dropped": 0,
    }


def _print_run(mode: str, n: int, r: dict[str, Any]) -> None:
    per_stream = r["cpu"] / (n * r["wall"])
    mib = (r["rss"] - r["rss_before"]) / n
    extra = ""
    if mode == "service":
        extra = (
            f"  (idle service: {r['idle']:.4f} CPU-s/s; not counted, sent before the first"
            f" recorded keyframe: {r['before_keyframe']};"
            f" keyframe not matched: {r['unmatched']}; no recording: {r['failed']})"
        )
    print(
        f"{mode:7} {n:3d} {per_stream:15.4f} {r['sent']:6d} {r['video_frames']:6d} "
        f"{r['lost']:7d} {r['lost_packets']:7d} {r['frames_dropped']:7d} {mib:10.1f} "
        f"{r['rcvbuf_errors']:9d}{extra}",
        flush=True,
    )


def _print_table(results: dict[tuple[str, int], dict[str, Any]], streams: list[int]) -> None:
    def cpu(mode: str, n: int) -> float | None:
        r = results.get((mode, n))
        return None if r is None else r["cpu"] / (n * r["wall"])

    def show(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    def lost(mode: str, n: int) -> str:
        r = results.get((mode, n))
        return "-" if r is None else str(r["lost"])

    print(
        "\n  N | service CPU-s/stream-s | stock CPU-s/stream-s | ratio stock/service"
        " | frames lost service/stock | RSS MiB/stream service | tap CPU-s/stream-s"
    )
    for n in streams:
        service, stock = cpu("service", n), cpu("stock", n)
        ratio = stock / service if service and stock else None
        svc = results.get(("service", n))
        mib = None if svc is None else (svc["rss"] - svc["rss_before"]) / n
        print(
            f"{n:3d} | {show(service, '22.4f')} | {show(stock, '20.4f')} | {show(ratio, '19.2f')}"
            f" | {lost('service', n) + '/' + lost('stock', n):>25} | {show(mib, '22.1f')}"
            f" | {show(cpu('tap', n), '18.4f')}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--modes", nargs="+", default=["service", "stock"])
    parser.add_argument("--media", type=Path, help="reuse this WebM instead of making one")
    args = parser.parse_args()
    results: dict[tuple[str, int], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        media = args.media or Path(tmp) / "publisher.webm"
        if not args.media:
            make_media(media, seconds=int(args.seconds + 50))
        print(
            f"{'mode':7} {'N':>3} {'cpu s/stream-s':>15} {'sent':>6} {'recv':>6} "
            f"{'lost fr':>7} {'lost pk':>7} {'dropped':>7} {'MiB/stream':>10} {'rcvbufErr':>9}"
        )
        for n in args.streams:
            for mode in args.modes:
                if mode == "service":
                    r = run_service(media, n, args.seconds, Path(tmp))
                else:
                    r = run_once(media, mode, n, args.seconds)
                results[mode, n] = r
                _print_run(mode, n, r)
    print(
        "service frames lost = video frames sent from the first keyframe each recording holds"
        " (the recorder starts at a keyframe) minus video packets in the finished file;"
        " stock/tap = frames sent minus frames received."
    )
    _print_table(results, args.streams)


if __name__ == "__main__":
    main()

"""Processing speed: our file/DASH/thumbnails/probe steps versus the FFmpeg CLI.

For each length (--minutes) a 720p VP8 + Opus spool piece is generated once and cached
under bench/out/ (a 20 s clip encoded with PyAV, keyframe every 2 s, ~2.5 Mbit/s, then
its packets repeated with shifted timestamps). Each run times, on the same input:

  ours: file = telerecord.media.finalize.join_pieces (spool piece -> seekable WebM), then on
        that file package_dash, make_thumbnails, and probe (bit rates from the copy's counts);
        and "end -> complete": the service's whole processing job (services.processing.process:
        all of the above plus verified storage and the database) on a recording in SQLite.
  cli:  ffmpeg -c copy out.webm; ffmpeg -c copy -f dash; ffmpeg fps=1/10,scale=160:-1
        thumbnails + a tile=10xN sprite (one decode) and a poster; ffprobe -show_format
        -show_streams.

Prints medians of --runs runs side by side. Usage:
  .venv/bin/python bench/processing.py --minutes 10 60 --runs 3
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from telerecord.media.dash import package_dash
from telerecord.media.finalize import Finalized, join_pieces
from telerecord.media.probe import probe
from telerecord.media.thumbnails import make_thumbnails

OUT = Path(__file__).resolve().parent / "out"
CLIP_SECONDS = 20
FPS = 30
SIZE = (1280, 720)
STEPS = ("file", "dash", "thumbnails", "probe")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, nargs="+", default=[10, 60])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        raise SystemExit("needs the ffmpeg CLI: apt-get install -y ffmpeg")
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"ffmpeg CLI: {_ffmpeg_version()}; PyAV {av.__version__} (FFmpeg inside)")
    for minutes in args.minutes:
        piece = _recording(minutes)
        jobs = ("end -> complete", "file + metadata job")
        ours: dict[str, list[float]] = {s: [] for s in (*STEPS, *jobs)}
        cli: dict[str, list[float]] = {s: [] for s in STEPS}
        remux: list[float] = []
        for _ in range(args.runs):
            for step, seconds in _run_ours(piece, OUT / f"ours-{minutes}").items():
                ours[step].append(seconds)
            for step, seconds in _run_cli(piece, OUT / f"cli-{minutes}").items():
                cli[step].append(seconds)
            target = OUT / f"ours-{minutes}" / "remux.webm"
            remux.append(_timed(functools.partial(_remux, piece, target)))
        _report(minutes, piece, ours, cli, args.runs)
        print(f"for reference, a plain PyAV remux of the piece: {statistics.median(remux):.2f} s")


# --- the recording ---------------------------------------------------------------------


def _recording(minutes: int) -> Path:
    """bench/out/rec-<m>min/spool/piece-0001.webm, made once."""
    piece = OUT / f"rec-{minutes}min" / "spool" / "piece-0001.webm"
    if piece.exists():
        return piece
    clip = OUT / "clip-720p.webm"
    if not clip.exists():
        print(f"encoding {CLIP_SECONDS} s 720p VP8 + Opus clip ...", flush=True)
        _encode_clip(clip)
    print(f"writing {minutes} min recording from the clip ...", flush=True)
    piece.parent.mkdir(parents=True, exist_ok=True)
    _repeat_clip(clip, piece.with_suffix(".tmp"), minutes * 60 // CLIP_SECONDS)
    piece.with_suffix(".tmp").rename(piece)
    return piece


def _encode_clip(path: Path) -> None:
    with av.open(str(path), "w") as out:
        video = out.add_stream("libvpx", rate=FPS)
        video.width, video.height = SIZE
        video.pix_fmt = "yuv420p"
        video.bit_rate = 2_500_000
        video.codec_context.gop_size = 2 * FPS
        video.codec_context.options = {"deadline": "realtime", "cpu-used": "8", "threads": "2"}
        audio = out.add_stream("libopus", rate=48000, layout="stereo")
        audio.bit_rate = 64000
        base = Image.merge(
            "RGB",
            (
                Image.linear_gradient("L").resize(SIZE),
                # Blurred noise: texture a camera would see, with keyframes of a
                # realistic size (sharp noise makes 650 KB keyframes).
                Image.effect_noise(SIZE, 40).filter(ImageFilter.GaussianBlur(2)),
                Image.radial_gradient("L").resize(SIZE),
            ),
        )
        samples = 0
        for n in range(CLIP_SECONDS * FPS):
            image = ImageChops.offset(base, n * 6, n * 3)
            ImageDraw.Draw(image).rectangle((n * 4 % 1200, 300, n * 4 % 1200 + 80, 380), "white")
            rgb: av.VideoFrame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
            frame = rgb.reformat(format="yuv420p")
            frame.pts, frame.time_base = n, Fraction(1, FPS)
            out.mux(video.encode(frame))
            while samples < (n + 1) * 48000 // FPS:
                out.mux(audio.encode(_silence(samples)))
                samples += 960
        out.mux(video.encode(None))
        out.mux(audio.encode(None))


def _silence(pts: int) -> av.AudioFrame:
    frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
    frame.planes[0].update(bytes(960 * 4))
    frame.sample_rate, frame.pts, frame.time_base = 48000, pts, Fraction(1, 48000)
    return frame


def _repeat_clip(clip: Path, piece: Path, repeats: int) -> None:
    """Write the clip's packets `repeats` times with shifted timestamps, like the
    recorder's spool piece (WebM, 1 s clusters)."""
    with av.open(str(clip)) as source:
        streams = list(source.streams)
        packets = [
            (p.stream.index, bytes(p), p.pts, p.dts, p.duration, p.is_keyframe)
            for p in source.demux()
            if p.pts is not None and p.dts is not None
        ]
        options = {"cluster_time_limit": "1000"}
        with av.open(str(piece), "w", format="webm", options=options) as out:
            mapping = {s.index: out.add_stream_from_template(s, opaque=True) for s in streams}
            # Exactly CLIP_SECONDS of each stream, so the repeats join without gaps or overlap.
            base = {s.index: s.time_base or Fraction(1, 1000) for s in streams}
            period = {i: round(CLIP_SECONDS / tb) for i, tb in base.items()}
            first = {s.index: min(p[2] for p in packets if p[0] == s.index) for s in streams}
            for k in range(repeats):
                for index, data, pts, dts, duration, key in packets:
                    if pts >= first[index] + period[index]:
                        continue
                    packet = av.Packet(data)
                    packet.stream = mapping[index]
                    packet.time_base = base[index]
                    packet.pts = pts + k * period[index]
                    packet.dts = dts + k * period[index]
                    packet.duration = duration
                    packet.is_keyframe = key
                    out.mux(packet)


# --- the two pipelines -------------------------------------------------------------------


def _timed(fn: Callable[[], object]) -> float:
    # Start every measurement with no dirty pages left by the previous one: otherwise a step
    # that writes a lot is throttled by the kernel for what an earlier step wrote.
    os.sync()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _run_ours(piece: Path, work: Path) -> dict[str, float]:
    work = _fresh(work)
    recording = work / "file" / "recording.webm"

    joined: list[Finalized] = []
    times = {
        "file": _timed(lambda: joined.append(join_pieces(piece.parent, work / "file"))),
        "dash": _timed(lambda: package_dash(recording, work / "dash", segment_seconds=4.0)),
        "thumbnails": _timed(lambda: make_thumbnails(recording, work / "thumbs")),
        "probe": _timed(lambda: probe(recording, joined[0].tracks)),
    }
    times["end -> complete"] = _service_job(piece, work / "service")
    times["file + metadata job"] = _service_job(piece, work / "service-file", only_file=True)
    return times


def _service_job(piece: Path, root: Path, *, only_file: bool = False) -> float:
    """The service's processing job, timed from "processing" to "complete".

    ``only_file``: the job with its file step alone (file + metadata, stored and recorded).
    """
    from telerecord.server import build_runtime
    from telerecord.services import accounts, processing, recordings
    from telerecord.settings import load_settings

    runtime = build_runtime(
        load_settings(env={"TELERECORD_DATA_DIR": str(root)}), with_ingest=False
    )
    spool = _fresh(runtime.settings.spool_dir / "rec_bench")
    os.link(piece, spool / piece.name)  # the job deletes its spool: give it a link, not the cache
    with runtime.db.session() as session:
        account, _secret = accounts.create_account(session, "bench")
        recordings.create_stream_recording(
            session,
            account_id=account.id,
            stream_name="bench",
            source_id=None,
            publish_token_id=None,
            spool_dir=str(spool),
            recording_id="rec_bench",
        )
        recordings.mark_stopped(session, "rec_bench")
    steps = dict(processing.STEPS)
    if only_file:
        processing.STEPS.clear()
        processing.STEPS["file"] = steps["file"]
    try:
        elapsed = _timed(lambda: processing.process(runtime, "rec_bench"))
    finally:
        processing.STEPS.update(steps)
    with runtime.db.session() as session:
        status = recordings.get(session, account.id, "rec_bench").status
    runtime.db.dispose()
    if status != "complete":
        raise SystemExit(f"the service job ended {status}")
    return elapsed


def _remux(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(src)) as source, av.open(str(dst), "w") as out:
        mapping = {s.index: out.add_stream_from_template(s, opaque=True) for s in source.streams}
        for packet in source.demux():
            if packet.dts is not None:
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)


def _run_cli(piece: Path, work: Path) -> dict[str, float]:
    work = _fresh(work)
    recording = work / "recording.webm"
    (work / "dash").mkdir()
    (work / "thumbs").mkdir()
    times = {"file": _timed(lambda: _ffmpeg("-i", piece, "-c", "copy", recording))}
    dash = ("-c", "copy", "-f", "dash", "-seg_duration", "4", "-dash_segment_type", "webm")
    times["dash"] = _timed(lambda: _ffmpeg("-i", recording, *dash, work / "dash" / "manifest.mpd"))
    with av.open(str(recording)) as container:
        count = math.ceil(container.duration / av.time_base / 10)  # type: ignore[operator]
    graph = f"[0:v]fps=1/10,scale=160:-2,split=2[t][s];[s]tile=10x{math.ceil(count / 10)}[sprite]"
    thumbs = (
        *("-i", recording, "-filter_complex", graph),
        *("-map", "[t]", work / "thumbs" / "thumb-%05d.jpg"),
        *("-map", "[sprite]", "-frames:v", "1", work / "thumbs" / "sprite.jpg"),
    )

    def thumbnails() -> None:
        _ffmpeg("-i", recording, "-frames:v", "1", work / "thumbs" / "poster.jpg")
        _ffmpeg(*thumbs)

    times["thumbnails"] = _timed(thumbnails)
    probe_cmd = ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json"]
    times["probe"] = _timed(
        lambda: subprocess.run([*probe_cmd, str(recording)], check=True, capture_output=True)
    )
    return times


def _ffmpeg(*args: object) -> None:
    command = ["ffmpeg", "-nostdin", "-y", "-v", "error", *map(str, args)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _ffmpeg_version() -> str:
    result = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True)
    return result.stdout.split("\n", 1)[0]


# --- report ------------------------------------------------------------------------------


def _report(
    minutes: int, piece: Path, ours: dict[str, list[float]], cli: dict[str, list[float]], runs: int
) -> None:
    size = piece.stat().st_size / 1e6
    print(f"\n{minutes} min 720p VP8+Opus ({size:.0f} MB), median of {runs} run(s), seconds")
    print(f"{'step':<12}{'ours':>9}{'ffmpeg CLI':>12}{'ratio':>8}")
    total_ours = total_cli = 0.0
    for step in STEPS:
        a, b = statistics.median(ours[step]), statistics.median(cli[step])
        total_ours, total_cli = total_ours + a, total_cli + b
        print(f"{step:<12}{a:>9.2f}{b:>12.2f}{a / b:>8.2f}x")
    print(f"{'total':<12}{total_ours:>9.2f}{total_cli:>12.2f}{total_ours / total_cli:>8.2f}x")
    job = statistics.median(ours["end -> complete"])
    print(
        f"{'end -> complete (service job)':<30}{job:>9.2f} s  vs CLI total {total_cli:.2f} s: "
        f"{job / total_cli:.2f}x (target <= 1.2x)"
    )
    metadata = statistics.median(ours["file"]) + statistics.median(ours["probe"])
    stored = statistics.median(ours["file + metadata job"])
    budget = 2.0 + minutes / 60
    for label, seconds in (("steps", metadata), ("service job, stored", stored)):
        verdict = "ok" if seconds <= budget else "MISSED"
        print(f"file + metadata ({label}): {seconds:.2f} s, target <= {budget:.2f} s: {verdict}")
    for step in STEPS:
        a, b = statistics.median(ours[step]), statistics.median(cli[step])
        if a > 1.2 * b:
            print(f"{step}: ours is {a / b:.2f}x the CLI (target <= 1.2x): MISSED")


if __name__ == "__main__":
    main()

"""StreamRecorder end to end: real encoded frames in, finalized file reopened and decoded."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from pathlib import Path

import pytest

from telerecord.ingest.recorder import StreamRecorder
from telerecord.media.finalize import finalize, spool_pieces
from telerecord.media.frames import EncodedFrame

from .mediagen import Decoded, as_frames, by_arrival, decode_all, encode_opus, encode_video

NTP0 = 1_700_000_000.0


class Requests:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


async def record(tmp_path: Path, frames: Iterable[EncodedFrame]) -> tuple[Decoded, Path]:
    recorder = StreamRecorder(tmp_path / "spool", request_keyframe=Requests())
    for frame in frames:
        recorder.on_frame(frame)
    await recorder.close()
    out = finalize(tmp_path / "spool", tmp_path / "out")
    return decode_all(out), out


def av_stream(codec: str, seconds: float, **kw: object) -> tuple[list[EncodedFrame], ...]:
    video = encode_video(codec, [(320, 240, round(seconds * 30))], gop=30)
    audio = encode_opus(seconds)
    return as_frames("video", codec, video, **kw), as_frames("audio", "opus", audio, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("codec", "suffix"), [("VP8", ".webm"), ("H264", ".mp4"), ("VP9", ".webm"), ("AV1", ".webm")]
)
async def test_records_video_and_audio_in_sync(tmp_path: Path, codec: str, suffix: str) -> None:
    video, audio = av_stream(codec, 3.0, ntp0=NTP0)
    result, out = await record(tmp_path, by_arrival(video, audio))
    assert out.suffix == suffix
    assert result.codecs["video"] in (codec.lower(), "libdav1d")
    assert result.codecs["audio"] == "opus"
    assert result.duration == pytest.approx(3.0, abs=0.1)
    assert result.decoded["video"] == len(video)  # every frame decodes
    assert result.decoded["audio"] == len(audio)
    assert result.sizes[0] == (320, 240)
    assert result.times["video"][0] == pytest.approx(0.0, abs=0.001)
    assert result.times["audio"][0] == pytest.approx(0.0, abs=0.025)  # A/V start aligned


async def test_video_waits_for_keyframe_and_audio_before_it_is_dropped(tmp_path: Path) -> None:
    video, audio = av_stream("VP8", 3.0)
    late_start = [f for f in video if f.arrival >= video[0].arrival + 1.0]  # first key at 1.0 s
    assert late_start[0].keyframe and not late_start[1].keyframe
    frames = by_arrival(video[1:30] + late_start, audio)
    requests = Requests()
    recorder = StreamRecorder(tmp_path / "spool", request_keyframe=requests)
    for frame in frames:
        recorder.on_frame(frame)
    await recorder.close()
    assert requests.count == 1  # ~once per second while waiting (29 frames < 1 s)
    result = decode_all(finalize(tmp_path / "spool", tmp_path / "out"))
    assert result.decoded["video"] == len(late_start)
    assert result.duration == pytest.approx(2.0, abs=0.1)
    assert result.times["audio"][0] == pytest.approx(0.0, abs=0.025)


async def test_keyframe_requests_repeat_every_second(tmp_path: Path) -> None:
    video = as_frames("video", "VP8", encode_video("VP8", [(160, 120, 100)], gop=1000))
    requests = Requests()
    recorder = StreamRecorder(tmp_path / "spool", request_keyframe=requests)
    for frame in video[1:]:  # 3.3 s of delta frames only
        recorder.on_frame(frame)
    await recorder.close()
    assert requests.count == 4
    assert not recorder.has_media


async def test_audio_only_stream_keeps_all_audio(tmp_path: Path) -> None:
    audio = as_frames("audio", "opus", encode_opus(3.0))
    result, out = await record(tmp_path, audio)
    assert out.suffix == ".webm"
    assert result.codecs == {"audio": "opus"}
    assert result.decoded["audio"] == len(audio)
    assert result.duration == pytest.approx(3.0, abs=0.1)


async def test_pause_leaves_the_paused_span_out(tmp_path: Path) -> None:
    video, audio = av_stream("VP8", 6.0)
    recorder = StreamRecorder(tmp_path / "spool", request_keyframe=Requests())
    frames = by_arrival(video, audio)
    t0 = frames[0].arrival
    for frame in frames:
        pause_or_resume(recorder, frame, t0)
        recorder.on_frame(frame)
    await recorder.close()
    result = decode_all(finalize(tmp_path / "spool", tmp_path / "out"))
    assert result.duration == pytest.approx(4.0, abs=0.15)  # 6 s fed, 2 s paused
    assert result.decoded["video"] == len(result.times["video"])
    assert all(
        b > a for a, b in zip(result.times["audio"], result.times["audio"][1:], strict=False)
    )


def pause_or_resume(recorder: StreamRecorder, frame: EncodedFrame, t0: float) -> None:
    """Paused from 2.0 s to 4.0 s of arrival time."""
    if t0 + 2.0 <= frame.arrival < t0 + 4.0:
        recorder.pause()
    else:
        recorder.resume()


async def test_reconnect_continues_the_same_file(tmp_path: Path) -> None:
    first_v, first_a = av_stream("H264", 2.0, ntp0=NTP0)
    second_v, second_a = av_stream("H264", 2.0, t0=1010.0, rtp_base=9_000_000, ntp0=NTP0 + 10)
    requests = Requests()
    recorder = StreamRecorder(tmp_path / "spool", request_keyframe=requests)
    for frame in by_arrival(first_v, first_a):
        recorder.on_frame(frame)
    recorder.begin_segment(requests)
    for frame in by_arrival(second_v, second_a):
        recorder.on_frame(frame)
    await recorder.close()
    assert len(spool_pieces(tmp_path / "spool")) == 1
    result = decode_all(finalize(tmp_path / "spool", tmp_path / "out"))
    # 8 s of real time: the 8 s gap is closed up to a short pause.
    assert result.duration == pytest.approx(4.1, abs=0.1)
    assert result.decoded["video"] == len(first_v) + len(second_v)


async def test_codec_change_after_reconnect_drops_the_new_video(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first_v, first_a = av_stream("VP8", 2.0)
    second_v, second_a = av_stream("H264", 2.0, t0=1005.0, rtp_base=7)
    recorder = StreamRecorder(tmp_path / "spool", request_keyframe=Requests())
    for frame in by_arrival(first_v, first_a):
        recorder.on_frame(frame)
    recorder.begin_segment(Requests())
    with caplog.at_level(logging.WARNING):
        for frame in by_arrival(second_v, second_a):
            recorder.on_frame(frame)
    await recorder.close()
    assert "video codec change to H264" in caplog.text
    result = decode_all(finalize(tmp_path / "spool", tmp_path / "out"))
    assert result.codecs == {"video": "vp8", "audio": "opus"}
    assert result.decoded["video"] == len(first_v)
    assert result.times["audio"][-1] > 3.5  # the audio of the second segment is kept


async def test_audio_only_recording_that_gets_video_later(tmp_path: Path) -> None:
    audio = as_frames("audio", "opus", encode_opus(5.0))
    video = as_frames("video", "VP8", encode_video("VP8", [(320, 240, 60)]), t0=1003.0)
    recorder = StreamRecorder(tmp_path / "spool", request_keyframe=Requests())
    for frame in by_arrival(audio, video):
        recorder.on_frame(frame)
    await recorder.close()
    assert [p.suffix for p in spool_pieces(tmp_path / "spool")] == [".webm", ".webm"]
    result = decode_all(finalize(tmp_path / "spool", tmp_path / "out"))
    assert result.decoded["audio"] == len(audio)
    assert result.decoded["video"] == len(video)
    assert result.times["video"][0] == pytest.approx(3.0, abs=0.03)


@pytest.mark.parametrize("sr_after", [0.0, 1.0])
async def test_late_audio_is_put_in_sync_by_sender_reports(tmp_path: Path, sr_after: float) -> None:
    # Audio arrives 200 ms later than video; sender reports say when both were captured.
    video, _ = av_stream("VP8", 5.0, ntp0=NTP0, sr_after=sr_after)
    audio = as_frames("audio", "opus", encode_opus(5.0), delay=0.2, ntp0=NTP0, sr_after=sr_after)
    recorder = StreamRecorder(tmp_path / "spool", request_keyframe=Requests())
    for frame in by_arrival(video, audio):
        recorder.on_frame(frame)
    await recorder.close()
    assert recorder.av_drift_ms == pytest.approx(200.0, abs=1.0)
    result = decode_all(finalize(tmp_path / "spool", tmp_path / "out"))
    # Same capture time -> same file time, at least once the mapping has settled.
    last_video_capture = 149 / 30
    last_audio_capture = 249 * 0.02
    offset = result.times["audio"][-1] - result.times["video"][-1]
    assert offset == pytest.approx(last_audio_capture - last_video_capture, abs=0.003)
    audio_times = result.times["audio"]
    assert all(b > a for a, b in itertools.pairwise(audio_times))


async def test_no_sender_reports_means_no_drift(tmp_path: Path) -> None:
    video, audio = av_stream("VP8", 1.0)
    recorder = StreamRecorder(tmp_path / "spool", request_keyframe=Requests())
    for frame in by_arrival(video, audio):
        recorder.on_frame(frame)
    await recorder.close()
    assert recorder.has_media
    assert recorder.av_drift_ms is None


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_resolution_changes_mid_stream(tmp_path: Path, codec: str) -> None:
    coded = encode_video(codec, [(640, 480, 20), (320, 240, 20), (640, 480, 20)])
    video = as_frames("video", codec, coded)
    audio = as_frames("audio", "opus", encode_opus(2.0))
    result, _ = await record(tmp_path, by_arrival(video, audio))
    assert result.decoded["video"] == len(video)
    assert result.sizes[0] == (640, 480)
    assert result.sizes[25] == (320, 240)
    assert result.sizes[-1] == (640, 480)

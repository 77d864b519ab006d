"""Child process for the crash test: records paced frames until it is killed with SIGKILL.

usage: python spool_crash_child.py CODEC SPOOL_DIR PROGRESS_FILE
Writes the media time fed so far to PROGRESS_FILE after every frame.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mediagen import as_frames, by_arrival, encode_opus, encode_video

from telerecord.ingest.recorder import StreamRecorder

SPEED = 2.0  # media seconds per real second


def main() -> None:
    codec, spool_dir, progress = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    seconds = 8.0
    video = as_frames("video", codec, encode_video(codec, [(320, 240, int(seconds * 30))]), t0=0)
    audio = as_frames("audio", "opus", encode_opus(seconds), t0=0)
    recorder = StreamRecorder(spool_dir, request_keyframe=lambda: None)
    fd = os.open(progress, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    started = time.monotonic()
    for frame in by_arrival(video, audio):
        delay = started + frame.arrival / SPEED - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        recorder.on_frame(frame)
        os.pwrite(fd, f"{frame.arrival:12.3f}".encode(), 0)
    time.sleep(60)  # never finishes on its own: the test kills it


if __name__ == "__main__":
    main()

"""finalize(): pieces (also cut off ones) -> one seekable file, checked by decoding it."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from telerecord.media.errors import MediaError
from telerecord.media.finalize import finalize, spool_pieces
from telerecord.media.spool import SpoolWriter

from .mediagen import decode_all, encode_opus, encode_video


def write_spool(spool_dir: Path, codec: str | None, seconds: float, *, start: float = 0.0) -> None:
    spool = SpoolWriter(spool_dir)
    items = [("audio", "opus", a) for a in encode_opus(seconds, start=start)]
    if codec is not None:
        video = encode_video(codec, [(320, 240, round(seconds * 30))], start=start)
        items += [("video", codec, v) for v in video]
    for kind, name, coded in sorted(items, key=lambda i: (i[2].time, i[0] == "audio")):
        spool.write(kind, name, coded.data, coded.time, coded.keyframe)  # type: ignore[arg-type]
    spool.close_sync()


def box_order(path: Path) -> list[str]:
    data, boxes, offset = path.read_bytes(), [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append(data[offset + 4 : offset + 8].decode("latin-1"))
        if size < 8:
            break
        offset += size
    return boxes


@pytest.mark.parametrize(("codec", "name"), [("VP8", "recording.webm"), ("H264", "recording.mp4")])
def test_joins_pieces_in_order_into_one_seekable_file(
    tmp_path: Path, codec: str, name: str
) -> None:
    spool = tmp_path / "spool"
    write_spool(spool, codec, 2.0)
    # A second recording session's pieces continue the numbering (as after a restart).
    (spool / "b").mkdir()
    write_spool(spool / "b", codec, 2.0, start=2.1)
    for piece in spool_pieces(spool / "b"):
        piece.rename(spool / piece.name.replace("0001", "0002"))
    out = finalize(spool, tmp_path / "out")
    assert out == tmp_path / "out" / name
    result = decode_all(out)
    assert result.duration == pytest.approx(4.1, abs=0.1)
    assert result.decoded["video"] == 120
    assert result.decoded["audio"] == 200
    assert result.times["video"] == sorted(result.times["video"])
    if codec == "H264":
        boxes = box_order(out)
        assert boxes.index("moov") < boxes.index("mdat")  # faststart
    with av.open(str(out)) as container:
        container.seek(3 * av.time_base)  # Cues / moov index
        video = container.streams.video[0]
        packet = next(p for p in container.demux(video) if p.pts is not None)
        assert packet.time_base is not None and packet.pts is not None
        assert 1.0 <= float(packet.pts * packet.time_base) <= 3.1


@pytest.mark.parametrize("codec", ["VP8", "H264"])
@pytest.mark.parametrize("keep", [0.5, 0.77, 0.93])
def test_truncated_piece_keeps_what_was_read(tmp_path: Path, codec: str, keep: float) -> None:
    spool = tmp_path / "spool"
    write_spool(spool, codec, 4.0)
    (piece,) = spool_pieces(spool)
    data = piece.read_bytes()
    piece.write_bytes(data[: int(len(data) * keep) | 1])  # odd offset: mid-packet
    result = decode_all(finalize(spool, tmp_path / "out"))
    assert result.duration >= 4.0 * keep - 2.0
    assert result.decoded["video"] == len(result.times["video"])  # every kept frame decodes
    assert result.times["video"][0] == 0.0


def test_audio_only_piece_then_h264_piece_make_one_mp4(tmp_path: Path) -> None:
    spool = SpoolWriter(tmp_path / "spool")
    for coded in encode_opus(3.0):
        spool.write("audio", "opus", coded.data, coded.time, True)
    for coded in encode_video("H264", [(320, 240, 30)], start=3.0):
        spool.write("video", "H264", coded.data, coded.time, coded.keyframe)
    for coded in encode_opus(1.0, start=3.0):
        spool.write("audio", "opus", coded.data, coded.time, True)
    spool.close_sync()
    assert [p.suffix for p in spool_pieces(tmp_path / "spool")] == [".webm", ".mp4"]
    out = finalize(tmp_path / "spool", tmp_path / "out")
    assert out.suffix == ".mp4"
    result = decode_all(out)
    assert result.codecs == {"audio": "opus", "video": "h264"}
    assert result.decoded["audio"] == 200
    assert result.decoded["video"] == 30
    assert result.times["video"][0] == pytest.approx(3.0, abs=0.01)


def test_nothing_usable_raises(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    with pytest.raises(MediaError, match="no usable media"):
        finalize(spool, tmp_path / "out")
    (spool / "piece-0001.webm").write_bytes(b"")
    (spool / "piece-0002.mp4").write_bytes(b"\x00\x00\x00\x18ftypiso5" + b"\x17" * 300)
    with pytest.raises(MediaError, match="no usable media"):
        finalize(spool, tmp_path / "out")
    assert not (tmp_path / "out" / "recording.webm").exists()


def test_garbage_piece_is_skipped(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    write_spool(spool, "VP8", 1.0)
    (spool / "piece-0002.webm").write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 64)
    result = decode_all(finalize(spool, tmp_path / "out"))
    assert result.decoded["video"] == 30

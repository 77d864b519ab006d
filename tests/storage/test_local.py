import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from telerecord.storage import LocalStorage, StorageError, StoredObject
from telerecord.storage.retry import RetryPolicy

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)


def _file(path: Path, size: int, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes((i * 31 + seed) % 251 for i in range(size)))
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage", retry_policy=FAST)


def test_put_hard_links_on_same_filesystem(storage: LocalStorage, tmp_path: Path) -> None:
    source = _file(tmp_path / "spool" / "recording.webm", 300_000)
    stored = storage.put_file("rec_x/file/recording.webm", source, content_type="video/webm")
    target = storage.local_path("rec_x/file/recording.webm")
    assert target is not None and target.read_bytes() == source.read_bytes()
    assert stored == StoredObject("rec_x/file/recording.webm", 300_000, _sha256(source))
    assert target.stat().st_ino == source.stat().st_ino  # linked, not copied
    assert source.exists()  # the caller removes it, not put_file
    assert storage.exists("rec_x/file/recording.webm")
    assert _leftovers(storage.root) == []


def test_put_copies_and_verifies(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "storage", hard_link=False, retry_policy=FAST)
    source = _file(tmp_path / "spool" / "recording.mp4", 2_500_000)
    stored = storage.put_file("rec_x/file/recording.mp4", source, content_type="video/mp4")
    target = storage.root / "rec_x/file/recording.mp4"
    assert target.stat().st_ino != source.stat().st_ino
    assert target.read_bytes() == source.read_bytes()
    assert stored.size == 2_500_000 and stored.sha256 == _sha256(source)
    assert _leftovers(storage.root) == []
    # Removing the local copy afterwards leaves the stored one intact.
    source.unlink()
    assert _sha256(target) == stored.sha256


@pytest.fixture
def other_filesystem(tmp_path: Path) -> Iterator[Path]:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second filesystem to copy across")
    with tempfile.TemporaryDirectory(dir=shm) as folder:
        yield Path(folder)


def test_put_across_filesystems_copies(tmp_path: Path, other_filesystem: Path) -> None:
    storage = LocalStorage(other_filesystem / "storage", retry_policy=FAST)
    source = _file(tmp_path / "recording.webm", 100_000)
    stored = storage.put_file("rec_x/file/recording.webm", source, content_type="video/webm")
    target = other_filesystem / "storage/rec_x/file/recording.webm"
    assert target.read_bytes() == source.read_bytes()
    assert stored.sha256 == _sha256(source)


def test_put_replaces_existing(storage: LocalStorage, tmp_path: Path) -> None:
    storage.put_file("k/a.bin", _file(tmp_path / "one", 1000, seed=1), content_type="x/y")
    second = _file(tmp_path / "two", 2000, seed=2)
    stored = storage.put_file("k/a.bin", second, content_type="x/y")
    assert (storage.root / "k/a.bin").read_bytes() == second.read_bytes()
    assert stored.size == 2000


def test_put_of_the_stored_file_itself(storage: LocalStorage, tmp_path: Path) -> None:
    source = _file(tmp_path / "a.bin", 1000)
    first = storage.put_file("k/a.bin", source, content_type="x/y")
    again = storage.put_file("k/a.bin", storage.root / "k/a.bin", content_type="x/y")
    assert again == first
    assert (storage.root / "k/a.bin").read_bytes() == source.read_bytes()
    assert _leftovers(storage.root) == []


def test_put_empty_file(storage: LocalStorage, tmp_path: Path) -> None:
    stored = storage.put_file("k/empty", _file(tmp_path / "empty", 0), content_type="x/y")
    assert stored.size == 0 and stored.sha256 == hashlib.sha256(b"").hexdigest()


@pytest.mark.timeout(20)
def test_missing_source_fails_without_waiting(tmp_path: Path) -> None:
    patient = RetryPolicy(attempts=3, base_delay=60)  # a retry would hit the test timeout
    storage = LocalStorage(tmp_path / "storage", retry_policy=patient)
    with pytest.raises(StorageError, match="missing"):
        storage.put_file("k/a.bin", tmp_path / "missing", content_type="x/y")
    assert not storage.exists("k/a.bin")


def test_unwritable_destination_is_a_storage_error(tmp_path: Path) -> None:
    blocker = _file(tmp_path / "storage" / "k", 10)  # a file where a folder is needed
    before = blocker.read_bytes()
    storage = LocalStorage(tmp_path / "storage", retry_policy=FAST)
    with pytest.raises(StorageError):
        storage.put_file("k/a.bin", _file(tmp_path / "a.bin", 10), content_type="x/y")
    assert blocker.read_bytes() == before


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "../b", "a//b", "a/./b", "a/", "a\\b"])
def test_unsafe_keys_refused(storage: LocalStorage, tmp_path: Path, key: str) -> None:
    source = _file(tmp_path / "a.bin", 10)
    with pytest.raises(ValueError):
        storage.put_file(key, source, content_type="x/y")
    with pytest.raises(ValueError):
        storage.exists(key)
    with pytest.raises(ValueError):
        storage.delete(key)


def test_delete(storage: LocalStorage, tmp_path: Path) -> None:
    storage.put_file("rec_x/file/a.bin", _file(tmp_path / "a.bin", 10), content_type="x/y")
    storage.put_file("rec_y/file/a.bin", _file(tmp_path / "a.bin", 10), content_type="x/y")
    storage.delete("rec_x/file/a.bin")
    assert not storage.exists("rec_x/file/a.bin")
    assert not (storage.root / "rec_x").exists()  # empty folders go too
    assert storage.exists("rec_y/file/a.bin")
    storage.delete("rec_x/file/a.bin")  # deleting what is gone is fine


def test_delete_prefix(storage: LocalStorage, tmp_path: Path) -> None:
    source = _file(tmp_path / "a.bin", 10)
    keys = ["rec_x/dash/m.mpd", "rec_x/dash/v/s1.webm", "rec_x/file/a.webm", "rec_xy/file/a.webm"]
    for key in keys:
        storage.put_file(key, source, content_type="x/y")
    storage.delete_prefix("rec_x/dash/")
    assert [storage.exists(k) for k in keys] == [False, False, True, True]
    storage.delete_prefix("rec_x/")
    assert not (storage.root / "rec_x").exists()
    assert storage.exists("rec_xy/file/a.webm")
    storage.delete_prefix("rec_x/")  # nothing left: fine
    # Without a trailing "/", a prefix matches names as in S3.
    storage.delete_prefix("rec_x")
    assert not storage.exists("rec_xy/file/a.webm")
    assert source.exists()
    with pytest.raises(ValueError):
        storage.delete_prefix("")
    with pytest.raises(ValueError):
        storage.delete_prefix("../")


def test_no_presigned_urls(storage: LocalStorage) -> None:
    assert storage.presign("rec_x/file/a.webm", 60, filename="a.webm") is None


def test_url_names_the_root(storage: LocalStorage) -> None:
    assert storage.url == storage.root.as_uri()
    assert os.path.isabs(storage.root)

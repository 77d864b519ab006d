"""S3 backend against a real moto server on loopback (and a TCP proxy for outages)."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import httpx
import pytest

from telerecord.storage import S3URL, S3Storage, StorageError, open_storage
from telerecord.storage.retry import RetryPolicy
from tests.storage.s3server import MotoServer
from tests.storage.tcpproxy import TcpProxy

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

MiB = 1024 * 1024
FAST = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.1)
# Patient enough to outlast the ~1 s outages below, short enough for a quick test.
OUTAGE = RetryPolicy(attempts=12, base_delay=0.1, max_delay=0.5)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # boto3's default chain must find these test keys, never real ones from the host.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


def _admin(endpoint_url: str, key: str = "testing", secret: str = "testing") -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


@pytest.fixture
def admin(moto: MotoServer) -> Iterator[S3Client]:
    client = _admin(moto.endpoint_url)
    yield client
    client.close()


@pytest.fixture
def bucket(admin: S3Client) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    admin.create_bucket(Bucket=name)
    return name


StorageFactory = Callable[..., S3Storage]


@pytest.fixture
def make_storage(moto: MotoServer, bucket: str) -> Iterator[StorageFactory]:
    made: list[S3Storage] = []

    def make(endpoint_url: str | None = None, prefix: str = "tenant/", **kwargs: Any) -> S3Storage:
        location = S3URL(bucket, prefix, endpoint_url or moto.endpoint_url, "us-east-1")
        kwargs.setdefault("retry_policy", FAST)
        storage = S3Storage(location, **kwargs)
        made.append(storage)
        return storage

    yield make
    for storage in made:
        storage.close()


def _file(path: Path, size: int, seed: int = 0) -> Path:
    block = hashlib.sha256(str(seed).encode()).digest() * (MiB // 32)
    data = (block * (size // len(block) + 1))[:size]
    # Make every MiB distinct so a part put in the wrong place would not match.
    chunks = [bytes([i % 256]) + data[i * MiB + 1 : (i + 1) * MiB] for i in range(size // MiB)]
    path.write_bytes(b"".join(chunks) + data[len(chunks) * MiB :])
    return path


def _get(admin: S3Client, bucket: str, key: str) -> bytes:
    body: bytes = admin.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def _uploads(admin: S3Client, bucket: str) -> list[str]:
    return [u["Key"] for u in admin.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def test_put_small_file(
    make_storage: StorageFactory, admin: S3Client, bucket: str, tmp_path: Path
) -> None:
    storage = make_storage()
    source = _file(tmp_path / "recording.webm", 300_000)
    stored = storage.put_file("rec_x/file/recording.webm", source, content_type="video/webm")
    assert stored.key == "rec_x/file/recording.webm"
    assert stored.size == 300_000
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    head = admin.head_object(Bucket=bucket, Key="tenant/rec_x/file/recording.webm")
    assert head["ContentType"] == "video/webm"
    assert head["Metadata"]["sha256"] == stored.sha256
    assert head["ETag"].strip('"') == hashlib.md5(source.read_bytes()).hexdigest()
    assert _get(admin, bucket, "tenant/rec_x/file/recording.webm") == source.read_bytes()
    assert storage.exists("rec_x/file/recording.webm")
    assert not storage.exists("rec_x/file/other.webm")
    assert storage.local_path("rec_x/file/recording.webm") is None
    assert source.exists()


def test_put_multipart(
    make_storage: StorageFactory, admin: S3Client, bucket: str, tmp_path: Path
) -> None:
    parts: list[int] = []
    storage = make_storage(on_part=lambda key, n, total: parts.append(n))
    source = _file(tmp_path / "recording.webm", 16 * MiB + 12345)
    stored = storage.put_file("rec_x/file/recording.webm", source, content_type="video/webm")
    assert parts == [1, 2, 3]  # 8 MiB parts
    head = admin.head_object(Bucket=bucket, Key="tenant/rec_x/file/recording.webm")
    assert head["ETag"].strip('"').endswith("-3")
    assert head["ContentLength"] == stored.size == 16 * MiB + 12345
    assert head["Metadata"]["sha256"] == stored.sha256
    assert _get(admin, bucket, "tenant/rec_x/file/recording.webm") == source.read_bytes()
    assert _uploads(admin, bucket) == []
    # Storing the same file again finds it there, verified, and sends nothing.
    again = storage.put_file("rec_x/file/recording.webm", source, content_type="video/webm")
    assert again == stored
    assert parts == [1, 2, 3]


@pytest.mark.parametrize(
    ("size", "expected_parts"), [(0, []), (5 * MiB, []), (5 * MiB + 1, [1, 2]), (10 * MiB, [1, 2])]
)
def test_part_boundaries(
    make_storage: StorageFactory,
    admin: S3Client,
    bucket: str,
    tmp_path: Path,
    size: int,
    expected_parts: list[int],
) -> None:
    parts: list[int] = []
    storage = make_storage(part_size=5 * MiB, on_part=lambda key, n, total: parts.append(n))
    source = _file(tmp_path / "a.bin", size)
    stored = storage.put_file("k/a.bin", source, content_type="x/y")
    assert parts == expected_parts
    assert stored.size == size
    assert _get(admin, bucket, "tenant/k/a.bin") == source.read_bytes()


def test_put_replaces_a_different_object(
    make_storage: StorageFactory, admin: S3Client, bucket: str, tmp_path: Path
) -> None:
    storage = make_storage()
    storage.put_file("k/a.bin", _file(tmp_path / "one", 1000, seed=1), content_type="x/y")
    second = _file(tmp_path / "two", 1000, seed=2)
    stored = storage.put_file("k/a.bin", second, content_type="x/y")
    assert _get(admin, bucket, "tenant/k/a.bin") == second.read_bytes()
    assert stored.sha256 == hashlib.sha256(second.read_bytes()).hexdigest()


def test_delete_and_delete_prefix(
    make_storage: StorageFactory, admin: S3Client, bucket: str, tmp_path: Path
) -> None:
    storage = make_storage()
    source = _file(tmp_path / "a.bin", 100)
    keys = ["rec_x/dash/m.mpd", "rec_x/dash/s1.webm", "rec_x/file/a.webm", "rec_xy/file/a.webm"]
    for key in keys:
        storage.put_file(key, source, content_type="x/y")
    admin.put_object(Bucket=bucket, Key="outside/rec_x/a", Body=b"x")  # not under the prefix
    # An unfinished upload under the prefix is cleaned up too.
    admin.create_multipart_upload(Bucket=bucket, Key="tenant/rec_x/file/big.webm")

    storage.delete("rec_x/dash/m.mpd")
    storage.delete("rec_x/dash/m.mpd")  # already gone: fine
    assert [storage.exists(k) for k in keys] == [False, True, True, True]
    storage.delete_prefix("rec_x/")
    assert [storage.exists(k) for k in keys] == [False, False, False, True]
    assert _uploads(admin, bucket) == []
    assert _get(admin, bucket, "outside/rec_x/a") == b"x"
    with pytest.raises(ValueError):
        storage.delete_prefix("")


def test_presigned_url_with_range(make_storage: StorageFactory, tmp_path: Path) -> None:
    storage = make_storage()
    source = _file(tmp_path / "a.webm", 50_000)
    storage.put_file("rec_x/file/a.webm", source, content_type="video/webm")
    url = storage.presign("rec_x/file/a.webm", 600)
    assert url is not None and "X-Amz-Signature" in url
    whole = httpx.get(url)
    assert whole.status_code == 200
    assert whole.content == source.read_bytes()
    assert whole.headers["content-type"] == "video/webm"
    part = httpx.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.content == source.read_bytes()[1000:2000]
    assert part.headers["content-range"] == "bytes 1000-1999/50000"


def test_presigned_download_name(make_storage: StorageFactory, tmp_path: Path) -> None:
    storage = make_storage()
    storage.put_file("rec_x/file/a.webm", _file(tmp_path / "a", 10), content_type="video/webm")
    url = storage.presign("rec_x/file/a.webm", 600, filename='talk "1" é.webm')
    assert url is not None
    answer = httpx.get(url)
    assert answer.status_code == 200
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="talk _1_ _.webm"')
    assert "filename*=UTF-8''talk%20%221%22%20%C3%A9.webm" in disposition


@pytest.mark.timeout(20)
def test_missing_bucket_fails_without_retrying(moto: MotoServer, tmp_path: Path) -> None:
    # A permanent error must not wait through the retries (30 s here would hit the timeout).
    location = S3URL("no-such-bucket", "", moto.endpoint_url, "us-east-1")
    storage = S3Storage(location, retry_policy=RetryPolicy(attempts=2, base_delay=30))
    try:
        with pytest.raises(StorageError, match="NoSuchBucket"):
            storage.put_file("k/a.bin", _file(tmp_path / "a", 10), content_type="x/y")
    finally:
        storage.close()


def test_missing_source_is_a_storage_error(make_storage: StorageFactory, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot read"):
        make_storage().put_file("k/a.bin", tmp_path / "missing", content_type="x/y")


def test_source_changing_during_upload_is_never_stored(
    make_storage: StorageFactory, admin: S3Client, bucket: str, tmp_path: Path
) -> None:
    source = _file(tmp_path / "a.webm", 12 * MiB)

    def scribble(key: str, number: int, total: int) -> None:
        if number == 1:  # after part 1 went up, part 2 on disk no longer matches its MD5
            with source.open("r+b") as f:
                f.seek(6 * MiB)
                f.write(b"changed")

    storage = make_storage(part_size=5 * MiB, on_part=scribble)
    with pytest.raises(StorageError, match="does not match"):
        storage.put_file("rec_x/file/a.webm", source, content_type="video/webm")
    assert not storage.exists("rec_x/file/a.webm")
    # The next try (a job retry) reads the file anew and stores what is there now.
    storage.on_part = None
    stored = storage.put_file("rec_x/file/a.webm", source, content_type="video/webm")
    assert _get(admin, bucket, "tenant/rec_x/file/a.webm") == source.read_bytes()
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()


def _proxy_storage(
    make_storage: StorageFactory, proxy: TcpProxy, parts: list[int], **kw: Any
) -> S3Storage:
    return make_storage(
        endpoint_url=proxy.endpoint_url,
        part_size=5 * MiB,  # moto's minimum, so that a small file has several parts
        on_part=lambda key, n, total: parts.append(n),
        connect_timeout=2,
        read_timeout=5,
        **kw,
    )


def test_outage_between_parts_resumes(
    moto: MotoServer, make_storage: StorageFactory, admin: S3Client, bucket: str, tmp_path: Path
) -> None:
    source = _file(tmp_path / "recording.webm", 22 * MiB)  # 5 parts
    parts: list[int] = []
    restore: threading.Timer | None = None
    with TcpProxy(moto.port) as proxy:

        def on_part(key: str, number: int, total: int) -> None:
            nonlocal restore
            parts.append(number)
            if number == 2:
                proxy.cut()
                restore = threading.Timer(1.0, proxy.restore)
                restore.start()

        storage = _proxy_storage(make_storage, proxy, [], retry_policy=OUTAGE)
        storage.on_part = on_part
        try:
            stored = storage.put_file("rec_x/file/recording.webm", source, content_type="x/y")
        finally:
            if restore is not None:
                restore.join()
        assert proxy.refused > 0  # the outage really hit the upload
    assert parts == [1, 2, 3, 4, 5]  # parts 1 and 2 were kept, not sent again
    assert _get(admin, bucket, "tenant/rec_x/file/recording.webm") == source.read_bytes()
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert _uploads(admin, bucket) == []


def test_outage_in_the_middle_of_a_part_resumes(
    moto: MotoServer, make_storage: StorageFactory, admin: S3Client, bucket: str, tmp_path: Path
) -> None:
    source = _file(tmp_path / "recording.webm", 22 * MiB)
    parts: list[int] = []
    timers: list[threading.Timer] = []
    with TcpProxy(moto.port) as proxy:

        def later_restore() -> None:
            timers.append(threading.Timer(1.0, proxy.restore))
            timers[-1].start()

        proxy.cut_after_bytes = 12 * MiB  # halfway through part 3
        proxy.on_cut = later_restore
        storage = _proxy_storage(make_storage, proxy, parts, retry_policy=OUTAGE)
        try:
            storage.put_file("rec_x/file/recording.webm", source, content_type="video/webm")
        finally:
            for timer in timers:
                timer.join()
        assert timers and proxy.refused > 0
    assert parts == [1, 2, 3, 4, 5]
    assert _get(admin, bucket, "tenant/rec_x/file/recording.webm") == source.read_bytes()
    assert _uploads(admin, bucket) == []


def test_failed_upload_resumes_on_the_next_call(
    moto: MotoServer, make_storage: StorageFactory, admin: S3Client, bucket: str, tmp_path: Path
) -> None:
    """An outage longer than the retries: put_file fails, the job retry continues the upload."""
    source = _file(tmp_path / "recording.webm", 17 * MiB)  # 4 parts
    parts: list[int] = []
    with TcpProxy(moto.port) as proxy:
        storage = _proxy_storage(make_storage, proxy, parts)
        proxy.cut_after_bytes = 8 * MiB  # during part 2
        with pytest.raises(StorageError, match="gave up"):
            storage.put_file("rec_x/file/recording.webm", source, content_type="video/webm")
        assert parts == [1]
        assert _uploads(admin, bucket) == ["tenant/rec_x/file/recording.webm"]
        assert source.exists()
        proxy.restore()
        retried = _proxy_storage(make_storage, proxy, parts)
        stored = retried.put_file("rec_x/file/recording.webm", source, content_type="video/webm")
    assert parts == [1, 2, 3, 4]  # part 1 came from the first call
    assert _get(admin, bucket, "tenant/rec_x/file/recording.webm") == source.read_bytes()
    assert stored.size == 17 * MiB


@pytest.fixture(scope="module")
def moto_with_auth() -> Iterator[tuple[MotoServer, dict[str, str]]]:
    """A moto server that checks credentials after its first 4 (setup) requests."""
    with MotoServer(env={"INITIAL_NO_AUTH_ACTION_COUNT": "4"}) as server:
        iam = boto3.client(
            "iam",
            endpoint_url=server.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )
        iam.create_user(UserName="account")
        key = iam.create_access_key(UserName="account")["AccessKey"]
        iam.put_user_policy(
            UserName="account",
            PolicyName="s3",
            PolicyDocument='{"Version":"2012-10-17","Statement":'
            '[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
        )
        iam.close()
        setup = _admin(server.endpoint_url, "setup", "setup")
        setup.create_bucket(Bucket="account-bucket")
        setup.close()
        yield server, {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


def _open(server: MotoServer, tmp_path: Path, **creds: str) -> S3Storage:
    url = f"s3://account-bucket/p?endpoint_url={server.endpoint_url}&region=us-east-1"
    storage = open_storage(url, data_dir=tmp_path, **creds)
    assert isinstance(storage, S3Storage)
    storage.retry_policy = FAST
    return storage


def test_per_account_credentials(
    moto_with_auth: tuple[MotoServer, dict[str, str]], tmp_path: Path
) -> None:
    server, key = moto_with_auth
    source = _file(tmp_path / "a.webm", 1000)
    good = _open(server, tmp_path, access_key_id=key["id"], secret_access_key=key["secret"])
    wrong_secret = _open(server, tmp_path, access_key_id=key["id"], secret_access_key="nope")
    from_env = _open(server, tmp_path)  # the default chain finds "testing", unknown here
    try:
        assert good.put_file("rec_x/a.webm", source, content_type="video/webm").size == 1000
        assert good.exists("rec_x/a.webm")
        with pytest.raises(StorageError, match="SignatureDoesNotMatch"):
            wrong_secret.put_file("rec_x/b.webm", source, content_type="video/webm")
        with pytest.raises(StorageError, match="403"):  # a HEAD answer has no error code
            wrong_secret.exists("rec_x/a.webm")
        with pytest.raises(StorageError, match="InvalidAccessKeyId"):
            from_env.delete("rec_x/a.webm")
        assert good.exists("rec_x/a.webm")
        assert not good.exists("rec_x/b.webm")
    finally:
        for storage in (good, wrong_secret, from_env):
            storage.close()


def test_default_credential_chain(
    moto_with_auth: tuple[MotoServer, dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, key = moto_with_auth
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["secret"])
    storage = _open(server, tmp_path)
    try:
        storage.put_file("rec_y/a.webm", _file(tmp_path / "a", 100), content_type="video/webm")
        assert storage.exists("rec_y/a.webm")
    finally:
        storage.close()

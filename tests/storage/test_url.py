from pathlib import Path

import pytest

from telerecord.storage import (
    S3URL,
    LocalStorage,
    LocalURL,
    S3Storage,
    open_storage,
    parse_storage_url,
)


def test_file_default() -> None:
    assert parse_storage_url("file://") == LocalURL(None)


def test_file_absolute() -> None:
    assert parse_storage_url("file:///srv/rec%20data") == LocalURL(Path("/srv/rec data"))


def test_s3_full() -> None:
    url = "s3://my-bucket/a/b/?endpoint_url=http://127.0.0.1:9000&region=eu-west-1"
    assert parse_storage_url(url) == S3URL(
        bucket="my-bucket", prefix="a/b/", endpoint_url="http://127.0.0.1:9000", region="eu-west-1"
    )


def test_s3_bucket_only_and_prefix_normalised() -> None:
    assert parse_storage_url("s3://bucket") == S3URL(bucket="bucket")
    assert parse_storage_url("s3://bucket/") == S3URL(bucket="bucket")
    assert parse_storage_url("s3://bucket//x//y") == S3URL(bucket="bucket", prefix="x/y/")


def test_s3_url_round_trips() -> None:
    location = S3URL("b-1", "p/", "https://minio.example:9000/", "us-east-1", "path")
    assert parse_storage_url(str(location)) == location


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "unsupported"),
        ("/srv/data", "unsupported"),
        ("http://example.com/x", "unsupported"),
        ("gs://bucket", "unsupported"),
        ("file://host/path", "absolute"),
        ("file:relative/path", "absolute"),
        ("file:///srv/../etc", "'..'"),
        ("file:///srv?x=1", "file://"),
        ("s3://", "bucket name"),
        ("s3://Bad_Bucket", "bucket name"),
        ("s3://ab", "bucket name"),
        ("s3://key:secret@bucket/p", "credentials"),
        ("s3://bucket/a/../b", "'..'"),
        ("s3://bucket?endpoint=http://x", "unknown parameter"),
        ("s3://bucket?region=a&region=b", "exactly one"),
        ("s3://bucket?region=", "exactly one"),
        ("s3://bucket?endpoint_url=minio:9000", "endpoint_url"),
        ("s3://bucket?endpoint_url=http://host:99999", "endpoint_url"),
        ("s3://bucket?addressing_style=dns", "addressing_style"),
    ],
)
def test_bad_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_storage_url(url)


def test_open_storage_default_is_data_dir(tmp_path: Path) -> None:
    storage = open_storage("file://", data_dir=tmp_path)
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "storage"
    assert storage.url == (tmp_path / "storage").as_uri()


def test_open_storage_s3(tmp_path: Path) -> None:
    storage = open_storage(
        "s3://bucket/p?endpoint_url=http://127.0.0.1:1&region=us-east-1",
        data_dir=tmp_path,
        access_key_id="AKIDEXAMPLE",
        secret_access_key="secret",
    )
    assert isinstance(storage, S3Storage)
    assert storage.url == "s3://bucket/p/?endpoint_url=http://127.0.0.1:1&region=us-east-1"
    storage.close()


def test_open_storage_bad_url(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        open_storage("ftp://x", data_dir=tmp_path)


def test_open_storage_needs_both_credentials(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both"):
        open_storage("s3://bucket", data_dir=tmp_path, access_key_id="AKID")

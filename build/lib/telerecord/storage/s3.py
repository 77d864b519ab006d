"""S3-compatible backend (AWS S3, MinIO, GCS's S3 API, ...) through boto3."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from telerecord.storage.base import StorageError, StoredObject, check_key, check_prefix
from telerecord.storage.checksum import file_digest
from telerecord.storage.retry import RetryPolicy, retry
from telerecord.storage.s3_upload import PartCallback, Upload, is_transient, upload_verified
from telerecord.storage.url import S3URL

if TYPE_CHECKING:
    from botocore.config import _S3Dict
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef
else:
    S3Client = Any

logger = logging.getLogger(__name__)

T = TypeVar("T")

MiB = 1024 * 1024
_MAX_PARTS = 10_000  # S3's limit on parts per upload


class S3Storage:
    """Objects in a bucket under a key prefix.

    Credentials are the given pair, else boto3's default chain (environment, config
    files, instance role). Files larger than `part_size` go up in parts, each with its
    Content-MD5; the object is verified (size, ETag, sha256 metadata) before put_file
    returns. Failed attempts are retried with backoff, resuming stored parts.
    """

    def __init__(
        self,
        location: S3URL,
        *,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        part_size: int = 8 * MiB,
        retry_policy: RetryPolicy | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        on_part: PartCallback | None = None,
    ) -> None:
        if part_size < 5 * MiB:
            raise ValueError("part_size must be at least 5 MiB (S3's smallest part)")
        if (access_key_id is None) != (secret_access_key is None):
            raise ValueError("give both access_key_id and secret_access_key, or neither")
        self.location = location
        self.url = str(location)
        self.part_size = part_size
        self.retry_policy = retry_policy or RetryPolicy()
        self.on_part = on_part
        self.client = _make_client(
            location, access_key_id, secret_access_key, connect_timeout, read_timeout
        )

    def put_file(self, key: str, path: Path, *, content_type: str) -> StoredObject:
        """Upload and verify `path` as `key`; never removes `path`. Raises StorageError."""
        full_key = self._full_key(key)
        try:
            part_size = self._part_size_for(path.stat().st_size)
            digest = file_digest(path, part_size=part_size)
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc}") from exc
        upload = Upload(
            client=self.client,
            bucket=self.location.bucket,
            key=full_key,
            path=path,
            content_type=content_type,
            digest=digest,
            part_size=part_size,
            on_part=self.on_part,
        )
        self._retry(lambda: upload_verified(upload), f"uploading {path} to {full_key}")
        logger.debug("s3 %s: stored %s (%d bytes)", self.location.bucket, full_key, digest.size)
        return StoredObject(key=key, size=digest.size, sha256=digest.sha256)

    def delete(self, key: str) -> None:
        full_key = self._full_key(key)
        self._retry(
            lambda: self.client.delete_object(Bucket=self.location.bucket, Key=full_key),
            f"deleting {full_key}",
        )

    def delete_prefix(self, prefix: str) -> None:
        """Delete all objects under `prefix`, and abort unfinished uploads there."""
        full_prefix = self.location.prefix + check_prefix(prefix)
        self._retry(lambda: self._delete_all(full_prefix), f"deleting {full_prefix}*")

    def exists(self, key: str) -> bool:
        full_key = self._full_key(key)
        return self._retry(lambda: self._head(full_key), f"checking {full_key}")

    def local_path(self, key: str) -> Path | None:
        check_key(key)
        return None

    def read_bytes(self, key: str) -> bytes:
        full_key = self._full_key(key)

        def _read() -> bytes:
            response = self.client.get_object(Bucket=self.location.bucket, Key=full_key)
            return bytes(response["Body"].read())

        return self._retry(_read, f"reading {full_key}")

    def get_file(self, key: str, dest: Path) -> None:
        full_key = self._full_key(key)
        self._retry(
            lambda: self.client.download_file(self.location.bucket, full_key, str(dest)),
            f"downloading {full_key}",
        )

    def presign(self, key: str, expires_in: int, *, filename: str | None = None) -> str | None:
        """A presigned GET URL (range requests work); `filename` makes it a download."""
        params = {"Bucket": self.location.bucket, "Key": self._full_key(key)}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)

    def close(self) -> None:
        """Release the client's connections."""
        self.client.close()

    def _full_key(self, key: str) -> str:
        return self.location.prefix + check_key(key)

    def _part_size_for(self, size: int) -> int:
        # Grow the parts for huge files so they fit in S3's 10,000 parts.
        needed = math.ceil(size / _MAX_PARTS / MiB) * MiB
        return max(self.part_size, needed)

    def _retry(self, op: Callable[[], T], what: str) -> T:
        return retry(op, policy=self.retry_policy, is_transient=is_transient, what=what)

    def _head(self, full_key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.location.bucket, Key=full_key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def _delete_all(self, full_prefix: str) -> None:
        bucket = self.location.bucket
        objects = self.client.get_paginator("list_objects_v2")
        for page in objects.paginate(Bucket=bucket, Prefix=full_prefix):
            # One page is at most 1,000 keys, the most one delete_objects call takes.
            keys: list[ObjectIdentifierTypeDef] = [
                {"Key": obj["Key"]} for obj in page.get("Contents", [])
            ]
            if not keys:
                continue
            answer = self.client.delete_objects(
                Bucket=bucket, Delete={"Objects": keys, "Quiet": True}
            )
            if answer.get("Errors"):
                raise StorageError(f"deleting under {full_prefix}: {answer['Errors'][:3]}")
        # Unfinished uploads keep their parts (and cost) until aborted.
        uploads = self.client.get_paginator("list_multipart_uploads")
        for listing in uploads.paginate(Bucket=bucket, Prefix=full_prefix):
            for upload in listing.get("Uploads", []):
                self.client.abort_multipart_upload(
                    Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _make_client(
    location: S3URL,
    access_key_id: str | None,
    secret_access_key: str | None,
    connect_timeout: float,
    read_timeout: float,
) -> S3Client:
    session = boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name=location.region,
    )
    # Path style suits MinIO and other self-hosted endpoints without wildcard DNS.
    style = location.addressing_style or ("path" if location.endpoint_url else "auto")
    s3_options = cast("_S3Dict", {"addressing_style": style})
    config = Config(
        signature_version="s3v4",
        s3=s3_options,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # Our own retry loop resumes multipart uploads; botocore retrying too would
        # multiply the waits.
        retries={"total_max_attempts": 1},
        # Content-MD5 is sent explicitly; the newer default CRC checksums are not
        # understood by every S3-compatible service.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return session.client("s3", endpoint_url=location.endpoint_url, config=config)

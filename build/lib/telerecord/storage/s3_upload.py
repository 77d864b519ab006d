"""One verified upload of a local file to S3: single PUT or resumable multipart.

Every call of `upload_verified` is one attempt; the caller retries it. An attempt first
checks whether the object is already there and verified (a previous attempt may have
completed without hearing the answer), and a multipart attempt resumes the parts an
earlier attempt stored (list_parts) instead of starting over.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, HTTPClientError, IncompleteReadError
from botocore.exceptions import ConnectionError as BotoConnectionError

from telerecord.storage.checksum import FileDigest, multipart_etag

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef
else:
    S3Client = Any

logger = logging.getLogger(__name__)

# Called after each stored part: (key, part number, number of parts).
PartCallback = Callable[[str, int, int], None]

_TRANSIENT_CODES = {
    "BadDigest",  # the bytes were damaged on the way
    "InternalError",
    "InvalidPart",  # a part we counted on is gone: list again
    "NoSuchUpload",  # the multipart upload vanished (aborted elsewhere): start a new one
    "RequestTimeout",
    "ServiceUnavailable",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
}
_DENIED = ("403", "AccessDenied")
# With these encryptions an ETag is not an MD5 of the content, so it cannot verify it.
_OPAQUE_ETAG_SSE = {"aws:kms", "aws:kms:dsse"}


class VerificationError(Exception):
    """The object in the bucket does not match the local file."""


@dataclass(frozen=True)
class Upload:
    """What to upload where, with the digest of the local file (read once beforehand)."""

    client: S3Client
    bucket: str
    key: str
    path: Path
    content_type: str
    digest: FileDigest
    part_size: int
    on_part: PartCallback | None = None

    @property
    def multipart(self) -> bool:
        return len(self.digest.part_md5s) > 1

    @property
    def etag(self) -> str:
        md5s = self.digest.part_md5s
        return multipart_etag(md5s) if self.multipart else md5s[0].hex()


def is_transient(exc: Exception) -> bool:
    """Whether another attempt may succeed (network, server-side or verification trouble)."""
    if isinstance(
        exc, VerificationError | HTTPClientError | BotoConnectionError | IncompleteReadError
    ):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or _code(exc) in _TRANSIENT_CODES
    return False


def upload_verified(up: Upload) -> None:
    """One attempt: store the file unless already there, then verify the object."""
    if _remote_matches(up, before=True):
        logger.debug("s3 %s/%s: already stored and verified", up.bucket, up.key)
        return
    if up.multipart:
        _put_multipart(up)
    else:
        _put_single(up)
    if not _remote_matches(up):
        up.client.delete_object(Bucket=up.bucket, Key=up.key)
        raise VerificationError(f"s3 object {up.bucket}/{up.key} does not match {up.path}")


def _remote_matches(up: Upload, *, before: bool = False) -> bool:
    try:
        head = up.client.head_object(Bucket=up.bucket, Key=up.key)
    except ClientError as exc:
        code = _code(exc)
        # Without s3:ListBucket, S3 answers 403 instead of 404 for a missing key.
        if code in ("404", "NoSuchKey", "NotFound") or (before and code in _DENIED):
            return False
        raise
    if head["ContentLength"] != up.digest.size:
        return False
    if head.get("Metadata", {}).get("sha256") != up.digest.sha256:
        return False
    if not _etag_is_md5(head):
        return True  # sizes match and every part was checked with Content-MD5 on arrival
    return head["ETag"].strip('"') == up.etag


def _etag_is_md5(answer: Mapping[str, Any]) -> bool:
    return answer.get("ServerSideEncryption") not in _OPAQUE_ETAG_SSE and not answer.get(
        "SSECustomerAlgorithm"
    )


def _put_single(up: Upload) -> None:
    body = up.path.read_bytes()
    if len(body) != up.digest.size:
        raise VerificationError(f"{up.path} changed while being stored")
    up.client.put_object(
        Bucket=up.bucket,
        Key=up.key,
        Body=body,
        ContentMD5=_b64(up.digest.part_md5s[0]),
        ContentType=up.content_type,
        Metadata={"sha256": up.digest.sha256},
    )


def _put_multipart(up: Upload) -> None:
    upload_id, stored = _resume_or_create(up)
    total = len(up.digest.part_md5s)
    with up.path.open("rb") as f:
        for number, md5 in enumerate(up.digest.part_md5s, start=1):
            if number in stored:
                continue
            f.seek((number - 1) * up.part_size)
            # Content-MD5 was computed before the upload: S3 rejects the part if the bytes
            # were damaged on the way or the file changed since (BadDigest).
            answer = up.client.upload_part(
                Bucket=up.bucket,
                Key=up.key,
                UploadId=upload_id,
                PartNumber=number,
                Body=f.read(up.part_size),
                ContentMD5=_b64(md5),
            )
            if _etag_is_md5(answer) and answer["ETag"].strip('"') != md5.hex():
                raise VerificationError(f"part {number} of {up.key} does not match {up.path}")
            if up.on_part is not None:
                up.on_part(up.key, number, total)
    parts: list[CompletedPartTypeDef] = [
        {"PartNumber": n, "ETag": f'"{md5.hex()}"'}
        for n, md5 in enumerate(up.digest.part_md5s, start=1)
    ]
    up.client.complete_multipart_upload(
        Bucket=up.bucket, Key=up.key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )


def _resume_or_create(up: Upload) -> tuple[str, set[int]]:
    """The upload to continue (and its parts that match the file), or a new upload."""
    upload_id = _latest_upload(up)
    if upload_id is not None:
        try:
            stored = _matching_parts(up, upload_id)
        except ClientError as exc:
            if _code(exc) not in ("NoSuchUpload", *_DENIED):
                raise
        else:
            logger.info("s3 %s/%s: resuming upload, %d parts kept", up.bucket, up.key, len(stored))
            return upload_id, stored
    created = up.client.create_multipart_upload(
        Bucket=up.bucket,
        Key=up.key,
        ContentType=up.content_type,
        Metadata={"sha256": up.digest.sha256},
    )
    return created["UploadId"], set()


def _latest_upload(up: Upload) -> str | None:
    """The id of the newest unfinished upload of this key, if there is one."""
    try:
        listing = up.client.list_multipart_uploads(Bucket=up.bucket, Prefix=up.key)
    except ClientError as exc:
        if _code(exc) in _DENIED:  # no s3:ListBucketMultipartUploads: start afresh
            return None
        raise
    uploads = [u for u in listing.get("Uploads", []) if u.get("Key") == up.key]
    if not uploads:
        return None
    return max(uploads, key=lambda u: u["Initiated"])["UploadId"]


def _matching_parts(up: Upload, upload_id: str) -> set[int]:
    stored: set[int] = set()
    marker = 0
    while True:
        page = up.client.list_parts(
            Bucket=up.bucket, Key=up.key, UploadId=upload_id, PartNumberMarker=marker
        )
        for part in page.get("Parts", []):
            number = part["PartNumber"]
            if _part_matches(up, number, part["ETag"], part["Size"]):
                stored.add(number)
        if not page.get("IsTruncated"):
            return stored
        marker = page["NextPartNumberMarker"]


def _part_matches(up: Upload, number: int, etag: str, size: int) -> bool:
    if not 1 <= number <= len(up.digest.part_md5s):
        return False
    expected_size = min(up.part_size, up.digest.size - (number - 1) * up.part_size)
    return size == expected_size and etag.strip('"') == up.digest.part_md5s[number - 1].hex()


def _code(exc: ClientError) -> str | None:
    return exc.response.get("Error", {}).get("Code")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")

"""A recording stored in an account's S3 bucket (moto's server on loopback): presigned file links,
a DASH package served through the service, deletion of every object."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import av
import boto3
import httpx
import pytest

from tests.e2e.conftest import only_recording, publish_token, wait_finished, whip_url
from tests.mediacheck import check_media
from tests.publishers.aiortc_pub import publish_aiortc
from tests.servicehost import ServiceProcess
from tests.storage.s3server import MotoServer


@pytest.fixture
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


async def test_recording_in_account_bucket(
    service: ServiceProcess, moto: MotoServer, tmp_path: Path
) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=moto.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="sekrit",
    )
    s3.create_bucket(Bucket="recs")
    url = f"s3://recs/tenant-a?endpoint_url={moto.endpoint_url}&region=us-east-1"
    settings = {"storage": {"url": url, "access_key_id": "AKIDTEST", "secret_access_key": "sekrit"}}
    assert service.api("PATCH", "/v1/settings", json=settings).status_code == 200

    token = publish_token(service, ["*"])
    await publish_aiortc(whip_url(service, "s3cam"), token, duration=4.0)
    rec = await asyncio.to_thread(wait_finished, service, only_recording(service)["id"])
    assert rec["status"] == "complete", rec
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="recs")["Contents"]]
    assert any(k.endswith("/file/recording.webm") for k in keys)
    assert all(k.startswith("tenant-a/") for k in keys)
    assert not (service.data_dir / "storage").exists() or not any(
        rec["id"] in str(p) for p in (service.data_dir / "storage").rglob("*")
    )

    link = service.api("GET", f"/v1/recordings/{rec['id']}/download").json()["url"]
    assert link.startswith(moto.endpoint_url)
    media = tmp_path / "s3.webm"
    media.write_bytes(httpx.get(link).content)
    assert check_media(media).decode_errors == 0
    assert httpx.get(link, headers={"Range": "bytes=0-9"}).status_code == 206

    assets = service.api("GET", f"/v1/recordings/{rec['id']}/assets").json()["data"]
    mpd_url = next(a["url"] for a in assets if a["type"] == "dash")
    assert mpd_url.startswith(service.url)
    mpd = httpx.get(mpd_url)
    assert mpd.status_code == 200 and "<MPD" in mpd.text
    init = httpx.get(urljoin(mpd_url, "init-0.webm"), follow_redirects=False)
    assert init.status_code == 307 and init.headers["location"].startswith(moto.endpoint_url)
    first = httpx.get(urljoin(mpd_url, "chunk-0-00001.webm"), follow_redirects=True)
    blob = httpx.get(init.headers["location"]).content + first.content
    with av.open(io.BytesIO(blob)) as container:
        assert sum(1 for _ in container.decode(video=0)) > 0

    assert service.api("DELETE", f"/v1/recordings/{rec['id']}").status_code == 204
    assert s3.list_objects_v2(Bucket="recs").get("KeyCount", 0) == 0

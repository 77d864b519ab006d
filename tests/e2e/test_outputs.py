"""What a finished recording offers: signed links with Range, DASH, thumbnails, clips, deletion,
and the webhooks that announce it."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import av
import httpx
import pytest
from PIL import Image
from standardwebhooks import Webhook

from tests.e2e.conftest import only_recording, publish_token, wait_finished, whip_url
from tests.mediacheck import check_media
from tests.publishers.aiortc_pub import publish_aiortc
from tests.servicehost import ServiceProcess
from tests.webhooks.receiver import Receiver


@pytest.fixture
async def recorded(service: ServiceProcess) -> dict[str, Any]:
    token = publish_token(service, ["*"])
    await publish_aiortc(whip_url(service, "vod"), token, duration=5.0)
    rec = await asyncio.to_thread(wait_finished, service, only_recording(service)["id"])
    assert rec["status"] == "complete", rec
    return rec


async def test_download_link_range_tamper_and_expiry(
    service: ServiceProcess, recorded: dict[str, Any]
) -> None:
    rid = recorded["id"]
    link = service.api("GET", f"/v1/recordings/{rid}/download").json()
    full = httpx.get(link["url"])
    assert full.status_code == 200 and full.headers["content-type"] == "video/webm"
    assert len(full.content) == recorded["sizes"]["file"]
    part = httpx.get(link["url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full.content[100:200]
    assert httpx.get(link["url"], headers={"Range": "bytes=99999999-"}).status_code == 416

    token = link["url"].split("/media/")[1].split("/")[0]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert httpx.get(link["url"].replace(token, flipped)).status_code == 403
    other_path = link["url"].replace("/file/", "/dash/")
    assert httpx.get(other_path).status_code == 403

    short = service.api("GET", f"/v1/recordings/{rid}/download?expires_in=1").json()
    time.sleep(2.1)
    assert httpx.get(short["url"]).status_code == 403


async def test_dash_package_plays(
    service: ServiceProcess, recorded: dict[str, Any], tmp_path: Path
) -> None:
    assets = service.api("GET", f"/v1/recordings/{recorded['id']}/assets").json()["data"]
    types = {a["type"] for a in assets}
    assert {"file", "dash", "poster", "thumbnail", "sprite", "vtt"} <= types
    mpd_url = next(a["url"] for a in assets if a["type"] == "dash")
    mpd = httpx.get(mpd_url)
    assert mpd.status_code == 200 and mpd.headers["content-type"].startswith("application/dash+xml")
    ns = {"d": "urn:mpeg:dash:schema:mpd:2011"}
    root = ET.fromstring(mpd.text)
    reps = root.findall(".//d:Representation", ns)
    assert len(reps) == 2
    for rep in reps:
        template = rep.find("d:SegmentTemplate", ns)
        if template is None:
            template = rep.find("../d:SegmentTemplate", ns)
        assert template is not None
        rep_id = rep.get("id", "")
        init = template.get("initialization", "").replace("$RepresentationID$", rep_id)
        media = template.get("media", "").replace("$RepresentationID$", rep_id)
        start = int(template.get("startNumber", "1"))
        timeline = template.find("d:SegmentTimeline", ns)
        count = 0
        if timeline is not None:
            for s in timeline.findall("d:S", ns):
                count += 1 + int(s.get("r", "0"))
        assert count > 0
        blob = httpx.get(urljoin(mpd_url, init)).content
        for n in range(start, start + count):
            segment = httpx.get(urljoin(mpd_url, _number(media, n)))
            assert segment.status_code == 200
            blob += segment.content
        with av.open(io.BytesIO(blob)) as container:
            frames = sum(1 for _ in container.decode(container.streams[0]))
        assert frames > 0


def _number(template: str, n: int) -> str:
    """Expand $Number$ and $Number%05d$ as DASH players do."""
    return re.sub(r"\$Number(%0(\d+)d)?\$", lambda m: str(n).zfill(int(m.group(2) or 0)), template)


async def test_thumbnails_and_vtt(service: ServiceProcess, recorded: dict[str, Any]) -> None:
    assets = service.api("GET", f"/v1/recordings/{recorded['id']}/assets").json()["data"]
    poster = next(a for a in assets if a["type"] == "poster")
    image = Image.open(io.BytesIO(httpx.get(poster["url"]).content))
    assert image.size == (640, 480)
    vtt_url = next(a["url"] for a in assets if a["type"] == "vtt")
    vtt = httpx.get(vtt_url).text
    assert vtt.startswith("WEBVTT")
    cue_target = next(line for line in vtt.splitlines() if "#xywh=" in line)
    sprite = httpx.get(urljoin(vtt_url, cue_target.split("#")[0]))
    assert sprite.status_code == 200 and sprite.headers["content-type"] == "image/jpeg"


async def test_clip_is_cut_and_cached(
    service: ServiceProcess, recorded: dict[str, Any], tmp_path: Path
) -> None:
    path = f"/v1/recordings/{recorded['id']}/clip?start=1&duration=2"
    first = service.api("GET", path).json()
    assert first["start"] <= 1.0 and first["duration"] >= 1.0
    clip_file = tmp_path / "clip.webm"
    clip_file.write_bytes(httpx.get(first["url"]).content)
    report = check_media(clip_file)
    assert report.decode_errors == 0 and report.video is not None
    assert report.duration is not None and report.duration <= recorded["duration"]
    again = service.api("GET", path).json()
    assert (
        again["url"].split("?")[0].rsplit("/", 1)[1] == first["url"].split("?")[0].rsplit("/", 1)[1]
    )
    assert (again["start"], again["duration"]) == (first["start"], first["duration"])
    assert (
        service.api("GET", f"/v1/recordings/{recorded['id']}/clip?start=999&duration=1").status_code
        == 422
    )


async def test_delete_removes_everything(service: ServiceProcess, recorded: dict[str, Any]) -> None:
    rid = recorded["id"]
    link = service.api("GET", f"/v1/recordings/{rid}/download").json()["url"]
    storage = service.data_dir / "storage"
    assert any(rid in str(p) for p in storage.rglob("*"))
    assert service.api("DELETE", f"/v1/recordings/{rid}").status_code == 204
    assert service.api("GET", f"/v1/recordings/{rid}").status_code == 404
    assert not any(rid in str(p) for p in storage.rglob("*"))
    assert httpx.get(link).status_code == 404
    usage = service.api("GET", "/v1/usage").json()
    assert usage["storage_bytes"] == 0 and usage["gb_hours"] > 0


async def test_webhooks_announce_the_recording(service: ServiceProcess, tmp_path: Path) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        hook = service.api(
            "POST", "/v1/webhooks", json={"url": receiver.url(), "events": []}
        ).json()
        token = publish_token(service, ["*"])
        await publish_aiortc(whip_url(service, "hooked"), token, duration=3.0)

        def types() -> list[str]:
            return [json.loads(r.body)["type"] for r in receiver.received]

        await receiver.wait_for(lambda: "recording.complete" in types(), timeout=60)
        assert types()[:3] == ["recording.started", "recording.stopped", "recording.complete"]
        verifier = Webhook(hook["secret"])
        for request in receiver.received:
            verifier.verify(request.body, request.headers)
        complete = json.loads(receiver.received[2].body)
        assert complete["data"]["recording"]["status"] == "complete"
        media = tmp_path / "hooked.webm"
        media.write_bytes(httpx.get(complete["data"]["download_url"]).content)
        assert check_media(media).decode_errors == 0
        rid = complete["data"]["recording"]["id"]
        assert service.api("DELETE", f"/v1/recordings/{rid}").status_code == 204
        await receiver.wait_for(lambda: "recording.deleted" in types(), timeout=20)
        log = service.api("GET", f"/v1/webhooks/{hook['id']}/deliveries").json()["data"]
        assert {d["type"] for d in log} >= {"recording.complete", "recording.deleted"}
        assert all(d["status_code"] == 200 for d in log)
    finally:
        await receiver.close()

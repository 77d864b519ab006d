"""Links to a recording's stored assets, and clips cut from its file."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from telerecord.clock import utcnow
from telerecord.db.models import Account, Asset, Recording
from telerecord.errors import Conflict, NotFound, Unprocessable
from telerecord.media.clip import make_clip
from telerecord.runtime import Runtime
from telerecord.services import stores, urls
from telerecord.storage.base import Storage

LISTED_TYPES = ("file", "dash", "thumbnail", "sprite", "vtt", "poster")


@dataclass(frozen=True)
class AssetLink:
    type: str
    name: str
    size_bytes: int
    link: urls.SignedUrl


def check_expires_in(expires_in: int) -> int:
    if not 1 <= expires_in <= urls.MAX_EXPIRES_IN:
        raise Unprocessable(f"expires_in must be between 1 and {urls.MAX_EXPIRES_IN} seconds.")
    return expires_in


def storage_of(runtime: Runtime, rec: Recording) -> Storage:
    from sqlalchemy.orm import object_session

    session = object_session(rec)
    account = session.get(Account, rec.account_id) if session is not None else None
    if account is None:
        raise NotFound(f"Recording {rec.id} has no account.")
    return stores.for_recording(runtime.settings, account, rec.storage_url)


def _require_complete(rec: Recording) -> None:
    if rec.status != "complete":
        raise Conflict(f"Recording {rec.id} is {rec.status}; media is ready when it is complete.")


def _assets(rec: Recording) -> Sequence[Asset]:
    from sqlalchemy.orm import object_session

    session = object_session(rec)
    assert session is not None
    return session.scalars(
        select(Asset).where(Asset.recording_id == rec.id).order_by(Asset.id)
    ).all()


def download_url(runtime: Runtime, rec: Recording, expires_in: int) -> urls.SignedUrl:
    """A link to the recording's file (``rec`` must be attached to a session)."""
    _require_complete(rec)
    for asset in _assets(rec):
        if asset.type == "file":
            return urls.signed_url(
                runtime.settings, storage_of(runtime, rec), asset.key, expires_in
            )
    raise NotFound(f"Recording {rec.id} has no file.")


def asset_links(runtime: Runtime, rec: Recording, expires_in: int) -> list[AssetLink]:
    _require_complete(rec)
    storage = storage_of(runtime, rec)
    assets = _assets(rec)
    links = []
    for asset in assets:
        if asset.type not in LISTED_TYPES:
            continue
        if asset.type == "dash":
            if not asset.name.endswith(".mpd"):
                continue
            scope = asset.key.rsplit("/", 1)[0] + "/"
            size = sum(a.size_bytes for a in assets if a.type == "dash")
            link = urls.signed_url(runtime.settings, storage, asset.key, expires_in, scope=scope)
        elif asset.type == "vtt":
            # The VTT names the sprite relatively, so sign the thumbnails folder.
            scope = asset.key.rsplit("/", 1)[0] + "/"
            size = asset.size_bytes
            link = urls.signed_url(runtime.settings, storage, asset.key, expires_in, scope=scope)
        else:
            size = asset.size_bytes
            link = urls.signed_url(runtime.settings, storage, asset.key, expires_in)
        links.append(AssetLink(asset.type, asset.name.rsplit("/", 1)[-1], size, link))
    return links


def clip(
    runtime: Runtime, rec: Recording, start: float, duration: float, expires_in: int
) -> tuple[urls.SignedUrl, float, float]:
    """A keyframe-aligned cut of the file, made once and kept as an asset."""
    _require_complete(rec)
    if start < 0 or duration <= 0:
        raise Unprocessable("start must be >= 0 and duration > 0.")
    if rec.duration is not None and start >= rec.duration:
        raise Unprocessable(f"start {start} is beyond the recording's end ({rec.duration} s).")
    from sqlalchemy.orm import object_session

    session = object_session(rec)
    assert session is not None
    assets = _assets(rec)
    name = f"clips/{start:.3f}-{duration:.3f}.{rec.format}"
    storage = storage_of(runtime, rec)
    for asset in assets:
        if asset.type == "clip" and asset.name == name:
            link = urls.signed_url(runtime.settings, storage, asset.key, expires_in)
            return link, float(asset.meta["start"]), float(asset.meta["duration"])
    file_asset = next((a for a in assets if a.type == "file"), None)
    if file_asset is None:
        raise NotFound(f"Recording {rec.id} has no file.")
    work = runtime.settings.work_dir / f"clip-{rec.id}-{utcnow().timestamp():.6f}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        src = _local_copy(storage, file_asset.key, work / Path(file_asset.key).name)
        out = work / f"clip.{rec.format}"
        try:
            actual = make_clip(src, out, start, duration)
        except ValueError as exc:
            raise Unprocessable(str(exc)) from None
        key = f"{rec.storage_prefix}/{name}"
        ctype = "video/webm" if rec.format == "webm" else "video/mp4"
        obj = storage.put_file(key, out, content_type=ctype)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    session.add(
        Asset(
            recording_id=rec.id,
            type="clip",
            name=name,
            key=obj.key,
            size_bytes=obj.size,
            sha256=obj.sha256,
            content_type=ctype,
            meta={"start": actual.start, "duration": actual.duration},
            created_at=utcnow(),
        )
    )
    link = urls.signed_url(runtime.settings, storage, obj.key, expires_in)
    return link, actual.start, actual.duration


def _local_copy(storage: Storage, key: str, dest: Path) -> Path:
    path = storage.local_path(key)
    if path is not None:
        return path
    storage.get_file(key, dest)
    return dest

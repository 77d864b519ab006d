"""/media/{token}/{path}: serves stored assets behind service-signed URLs, with Range support."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from telerecord.api.deps import RuntimeDep
from telerecord.db.models import Account, Recording
from telerecord.errors import Forbidden, NotFound
from telerecord.services import processing, stores
from telerecord.signing import check_token
from telerecord.storage.base import Storage

router = APIRouter(tags=["media"])

SEGMENT_REDIRECT_SECONDS = 300


@router.get("/media/{token}/{path:path}", include_in_schema=False)
async def media_file(token: str, path: str, request: Request, runtime: RuntimeDep) -> Response:
    key = runtime.settings.signing_key.encode()
    if not check_token(key, token, path, time.time()):
        raise Forbidden("This link is not valid or has expired.")
    parts = path.split("/")
    if len(parts) < 3:
        raise NotFound("No such file.")

    def _locate() -> tuple[Storage, str]:
        with runtime.db.session() as session:
            rec = session.get(Recording, parts[1])
            account = session.get(Account, parts[0])
            if rec is None or account is None or rec.account_id != account.id:
                raise NotFound("No such file.")
            return stores.for_recording(runtime.settings, account, rec.storage_url), rec.id

    storage, _ = await run_in_threadpool(_locate)
    local = storage.local_path(path)
    ctype = processing.content_type(path)
    if local is not None:
        if not local.is_file():
            raise NotFound("No such file.")
        return FileResponse(local, media_type=ctype)
    if path.endswith(".mpd"):
        # Relative segment URLs must resolve against this signed prefix, not S3's.
        body = await run_in_threadpool(storage.read_bytes, path)
        return Response(body, media_type=ctype)
    url = storage.presign(path, SEGMENT_REDIRECT_SECONDS)
    if url is None:
        raise NotFound("No such file.")
    return RedirectResponse(url, status_code=307)

"""WHIP ingest (RFC 9725): POST an offer, DELETE the session, CORS preflight."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from telerecord.api.deps import RuntimeDep, bearer
from telerecord.errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from telerecord.ingest.manager import IngestManager, Publisher
from telerecord.ingest.sdp import MAX_OFFER_BYTES, check_offer
from telerecord.runtime import Runtime
from telerecord.services import tokens

router = APIRouter(tags=["whip"])

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
    "Access-Control-Expose-Headers": "Location, Link, ETag",
    "Access-Control-Max-Age": "86400",
}


def _ingest(runtime: Runtime) -> IngestManager:
    if runtime.ingest is None:
        raise ServiceUnavailable("This process does not take WHIP publishers.")
    return runtime.ingest


async def _read_offer(request: Request, content_type: str | None) -> str:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/sdp":
        raise UnsupportedMediaType("The offer must be sent as Content-Type: application/sdp.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_OFFER_BYTES:
        raise PayloadTooLarge(f"The offer is larger than {MAX_OFFER_BYTES} bytes.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_OFFER_BYTES:
            raise PayloadTooLarge(f"The offer is larger than {MAX_OFFER_BYTES} bytes.")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The offer is not UTF-8 text.") from None


async def _publisher(runtime: Runtime, authorization: str | None, stream_name: str) -> Publisher:
    token = bearer(authorization)

    def _load() -> Publisher:
        with runtime.db.session() as session:
            row = tokens.authenticate(session, token)
            if not tokens.allows(list(row.streams), stream_name):
                raise Forbidden(f"This token may not publish stream {stream_name!r}.")
            return Publisher(row.id, row.account_id, token, row.record)

    return await run_in_threadpool(_load)


@router.post(
    "/whip/{stream_name}",
    status_code=201,
    response_class=Response,
    responses={201: {"content": {"application/sdp": {}}, "description": "SDP answer"}},
)
async def publish(
    stream_name: str,
    request: Request,
    runtime: RuntimeDep,
    source_id: Annotated[str | None, Query(max_length=200)] = None,
    authorization: Annotated[str | None, Header()] = None,
    content_type: Annotated[str | None, Header()] = None,
) -> Response:
    publisher = await _publisher(runtime, authorization, stream_name)
    offer = await _read_offer(request, content_type)
    tokens.check_stream_name(stream_name)
    check_offer(offer)
    stream, answer = await _ingest(runtime).publish(publisher, stream_name, source_id, offer)
    headers = {"Location": f"/whip/sessions/{stream.id}", **CORS_HEADERS}
    return Response(answer, status_code=201, media_type="application/sdp", headers=headers)


@router.delete("/whip/sessions/{session_id}", response_class=Response)
async def end(
    session_id: str,
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    token = bearer(authorization)
    await _ingest(runtime).end_session(session_id, token)
    return Response(status_code=200, headers=CORS_HEADERS)


@router.options("/whip/{path:path}", include_in_schema=False)
async def preflight(path: str) -> Response:
    return Response(status_code=204, headers={**CORS_HEADERS, "Accept-Post": "application/sdp"})


@router.patch("/whip/sessions/{session_id}", include_in_schema=False)
async def patch_session(session_id: str) -> Response:
    from telerecord.api.problems import problem

    return problem(
        405,
        "Method Not Allowed",
        "Trickle ICE and ICE restarts are not supported; send the full offer again.",
        allow="DELETE, OPTIONS",
    )

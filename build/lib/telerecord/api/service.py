"""/healthz and /metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from telerecord.api.deps import RuntimeDep
from telerecord.api.schemas import Health
from telerecord.metrics import render

router = APIRouter(tags=["service"])


@router.get("/healthz", response_model=Health)
def healthz(runtime: RuntimeDep) -> JSONResponse:
    ok = runtime.db.ping()
    body = {"status": "ok" if ok else "unavailable", "database": ok}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(runtime: RuntimeDep) -> PlainTextResponse:
    return PlainTextResponse(render(runtime), media_type="text/plain; version=0.0.4")

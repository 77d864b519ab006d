"""Dashboard routes: login, the recordings list, a recording's page, delete, logout, static files.

Blocking database and storage work runs in the thread pool (sync routes, or run_in_threadpool
in the async form handlers that must read the request body first).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from telerecord.dashboard import pages, session
from telerecord.db.models import Recording
from telerecord.errors import BadRequest, Forbidden, PayloadTooLarge, TelerecordError, Unauthorized
from telerecord.runtime import Runtime
from telerecord.services import deletion, media, recordings
from telerecord.services.pagination import paginate

log = logging.getLogger(__name__)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
LINK_SECONDS = 3600
MAX_FORM_BYTES = 16 * 1024
STATIC_DIR = Path(__file__).with_name("static")
STATIC_FILES = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
# Media may live on S3 (another origin); scripts and styles only ever come from here.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: http: https:; "
    "media-src 'self' http: https:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


@dataclass(frozen=True)
class Visitor:
    """The logged-in user of one request."""

    account_id: str
    cookie: str
    csrf: str


def _visitor(request: Request, runtime: Runtime) -> Visitor | None:
    """The request's valid session, re-checked against the database (blocking)."""
    cookie = request.cookies.get(session.COOKIE_NAME)
    if not cookie:
        return None
    key = runtime.settings.signing_key
    found = session.decode(cookie, key)
    if found is None:
        return None
    with runtime.db.session() as db:
        if not session.still_valid(db, found):
            return None
    return Visitor(found.account_id, cookie, session.csrf_token(cookie, key))


def _html(body: str, status: int = 200) -> HTMLResponse:
    response = HTMLResponse(body, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    # Not "no-referrer": with it Chromium sends "Origin: null" on form posts, failing the check.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _logged_out(request: Request, response: Response) -> Response:
    if session.COOKIE_NAME in request.cookies:
        response.delete_cookie(session.COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


def _login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    return _logged_out(request, _html(pages.login_page(error), status))


def _error(exc: TelerecordError, visitor: Visitor | None) -> Response:
    csrf = visitor.csrf if visitor else None
    body = pages.error_page(exc.status, exc.title, exc.detail, csrf=csrf)
    return _html(body, exc.status)


def _to_home() -> Response:
    return RedirectResponse("/", status_code=303)


def _list(
    runtime: Runtime, account_id: str, status: str | None, cursor: str | None
) -> tuple[list[dict[str, Any]], dict[str, str], str | None]:
    with runtime.db.session() as db:
        query = recordings.list_query(account_id, {"status": status})
        rows, next_cursor = paginate(
            db, query, Recording.created_at, Recording.id, limit=PAGE_SIZE, cursor=cursor
        )
        downloads: dict[str, str] = {}
        for rec in rows:
            if rec.status == "complete":
                # A complete recording without a file still gets listed, just without a link.
                with contextlib.suppress(TelerecordError):
                    downloads[rec.id] = media.download_url(runtime, rec, LINK_SECONDS).url
        return [recordings.as_api(r) for r in rows], downloads, next_cursor


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request, runtime: RuntimeDep, status: str | None = None, cursor: str | None = None
) -> Response:
    """The recordings page with a session, the login page without one."""
    visitor = _visitor(request, runtime)
    if visitor is None:
        return _login_page(request)
    status = status or None
    try:
        if status is not None and status not in pages.STATUSES:
            raise BadRequest(f"There is no status {status!r}.")
        recs, downloads, next_cursor = _list(runtime, visitor.account_id, status, cursor or None)
    except TelerecordError as exc:
        return _error(exc, visitor)
    next_url = None
    if next_cursor:
        params = {"status": status, "cursor": next_cursor}
        next_url = "/?" + urlencode({k: v for k, v in params.items() if v})
    live = runtime.ingest.list_streams(visitor.account_id) if runtime.ingest else None
    body = pages.recordings_page(
        recs,
        downloads=downloads,
        live=live,
        status=status,
        next_url=next_url,
        is_first_page=not cursor,
        csrf=visitor.csrf,
    )
    return _html(body)


def _detail(
    runtime: Runtime, account_id: str, recording_id: str
) -> tuple[dict[str, Any], list[media.AssetLink]]:
    with runtime.db.session() as db:
        rec = recordings.get(db, account_id, recording_id)
        links = media.asset_links(runtime, rec, LINK_SECONDS) if rec.status == "complete" else []
        return recordings.as_api(rec), links


@router.get("/recordings/{recording_id}", response_class=HTMLResponse)
def recording_page(request: Request, recording_id: str, runtime: RuntimeDep) -> Response:
    """One recording: preview, metadata, asset links; another account's id is a 404."""
    visitor = _visitor(request, runtime)
    if visitor is None:
        return _logged_out(request, _to_home())
    try:
        rec, links = _detail(runtime, visitor.account_id, recording_id)
    except TelerecordError as exc:
        return _error(exc, visitor)
    by_type = {link.type: link.link.url for link in links}
    body = pages.detail_page(
        rec,
        file_url=by_type.get("file"),
        poster_url=by_type.get("poster"),
        assets=links,
        csrf=visitor.csrf,
    )
    return _html(body)


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body (first value per field); anything else reads as empty."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        return {}
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PayloadTooLarge("The form is too large.")
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def _cross_site(request: Request, runtime: Runtime) -> bool:
    """True for a form posted from another site (login CSRF); browsers send Origin on POST."""
    origin = request.headers.get("origin")
    if origin is None:
        return False
    ours = {request.url.netloc, urlsplit(runtime.settings.public_url).netloc}
    return urlsplit(origin).netloc not in ours


def _login(runtime: Runtime, secret: str) -> str:
    with runtime.db.session() as db:
        found = session.login(db, secret)
    return session.encode(found, runtime.settings.signing_key)


@router.post("/login")
async def login(request: Request, runtime: RuntimeDep) -> Response:
    """Exchange an API secret for a session cookie; a wrong secret is a 401 login page."""
    try:
        if _cross_site(request, runtime):
            raise Forbidden("Log in from the dashboard's own page.")
        secret = (await _form(request)).get("secret", "").strip()
        if not secret:
            raise Unauthorized("Enter an API secret.")
        cookie = await run_in_threadpool(_login, runtime, secret)
    except Unauthorized:
        return _login_page(request, "That API secret is not valid.", 401)
    except TelerecordError as exc:
        return _error(exc, None)
    response = _to_home()
    response.set_cookie(
        session.COOKIE_NAME,
        cookie,
        max_age=session.SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=runtime.settings.public_url.startswith("https://"),
    )
    return response


async def _checked(request: Request, runtime: Runtime) -> tuple[Visitor | None, bool]:
    """The visitor and whether the form's CSRF token matches their session."""
    visitor = await run_in_threadpool(_visitor, request, runtime)
    token = (await _form(request)).get("csrf")
    ok = visitor is not None and session.check_csrf(
        visitor.cookie, token, runtime.settings.signing_key
    )
    return visitor, ok


@router.post("/logout")
async def logout(request: Request, runtime: RuntimeDep) -> Response:
    try:
        visitor, ok = await _checked(request, runtime)
    except TelerecordError as exc:
        return _error(exc, None)
    if visitor is not None and not ok:
        return _error(Forbidden("The form is out of date; reload and try again."), visitor)
    return _logged_out(request, _to_home())


@router.post("/recordings/{recording_id}/delete")
async def delete(request: Request, recording_id: str, runtime: RuntimeDep) -> Response:
    """Delete a recording (CSRF-checked), then back to the list."""
    visitor: Visitor | None = None
    try:
        visitor, ok = await _checked(request, runtime)
        if visitor is None:
            return _logged_out(request, _to_home())
        if not ok:
            raise Forbidden("The form is out of date; reload and try again.")
        await run_in_threadpool(
            deletion.delete_recording, runtime, visitor.account_id, recording_id
        )
    except TelerecordError as exc:
        return _error(exc, visitor)
    log.info("recording %s: deleted from the dashboard", recording_id)
    return _to_home()


@router.get("/dashboard/static/{name}")
def static(name: str) -> Response:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    return FileResponse(
        STATIC_DIR / name, media_type=media_type, headers={"Cache-Control": "max-age=300"}
    )

"""HTML of the dashboard pages. Pure functions of plain data; every value goes through escape()."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

from telerecord.services.media import AssetLink

STATUSES = ("recording", "paused", "processing", "complete", "failed")
STATIC_PREFIX = "/dashboard/static"


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def human_size(size: int | None) -> str:
    """1536 -> "1.5 KiB"."""
    value = float(size or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float | None) -> str:
    """75.4 -> "1:15"; None -> "—"."""
    if seconds is None:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def _when(iso: str | None) -> str:
    if not iso:
        return "—"
    shown = iso.replace("T", " ").split(".")[0].removesuffix("Z") + " UTC"
    return f'<time datetime="{_e(iso)}">{_e(shown)}</time>'


def recording_path(recording_id: str) -> str:
    return "/recordings/" + quote(recording_id, safe="")


def document(title: str, main: str, *, csrf: str | None = None) -> str:
    """The page shell; with a CSRF token the header carries the logout button."""
    logout = ""
    if csrf is not None:
        logout = (
            f'<form method="post" action="/logout">{_csrf_field(csrf)}'
            "<button>Log out</button></form>"
        )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · telerecord</title>"
        f'<link rel="stylesheet" href="{STATIC_PREFIX}/dashboard.css">'
        f'<script src="{STATIC_PREFIX}/dashboard.js" defer></script></head><body>'
        f'<header><a class="brand" href="/">telerecord</a>{logout}</header>'
        f"<main>{main}</main></body></html>\n"
    )


def _csrf_field(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{_e(csrf)}">'


def login_page(error: str | None = None) -> str:
    message = f'<p class="error" role="alert">{_e(error)}</p>' if error else ""
    main = (
        "<h1>Log in</h1>"
        f"{message}"
        '<form method="post" action="/login" class="login">'
        '<label for="secret">API secret</label>'
        '<input id="secret" name="secret" type="password" autocomplete="current-password" '
        "required autofocus>"
        "<button>Log in</button></form>"
        "<p>Use an API secret of your account (<code>telerecord accounts create</code> "
        "prints one).</p>"
    )
    return document("Log in", main)


def error_page(status: int, title: str, detail: str, *, csrf: str | None = None) -> str:
    main = (
        f'<h1>{status} {_e(title)}</h1><p>{_e(detail)}</p><p><a href="/">Back to recordings</a></p>'
    )
    return document(title, main, csrf=csrf)


def _delete_form(recording_id: str, csrf: str) -> str:
    action = _e(recording_path(recording_id) + "/delete")
    prompt = _e(f"Delete recording {recording_id}? Its files are removed for good.")
    return (
        f'<form method="post" action="{action}" class="delete" data-confirm="{prompt}">'
        f'{_csrf_field(csrf)}<button class="danger">Delete</button></form>'
    )


def _source(rec: Mapping[str, Any]) -> str:
    name = rec.get("stream_name") or rec.get("peer") or rec.get("room_id") or "—"
    source = rec.get("source_id")
    return _e(name) + (f' <span class="muted">({_e(source)})</span>' if source else "")


def _row(rec: Mapping[str, Any], download: str | None, csrf: str) -> str:
    rid = str(rec["id"])
    actions = [f'<a href="{_e(recording_path(rid))}">Open</a>']
    if download:
        actions.append(f'<a href="{_e(download)}" download>Download</a>')
    actions.append(_delete_form(rid, csrf))
    return (
        f'<tr data-id="{_e(rid)}"><td>{_when(rec.get("created_at"))}</td>'
        f"<td>{_source(rec)}</td>"
        f'<td><span class="status {_e(rec["status"])}">{_e(rec["status"])}</span></td>'
        f"<td>{human_duration(rec.get('duration'))}</td>"
        f"<td>{human_size(rec.get('size_bytes'))}</td>"
        f"<td>{_e(rec.get('format') or '—')}</td>"
        f'<td class="actions">{"".join(actions)}</td></tr>'
    )


def _filter_form(status: str | None) -> str:
    options = ['<option value="">all</option>']
    for value in STATUSES:
        selected = " selected" if value == status else ""
        options.append(f'<option value="{value}"{selected}>{value}</option>')
    return (
        '<form method="get" action="/" class="filter"><label for="status">Status</label>'
        f'<select id="status" name="status" data-autosubmit>{"".join(options)}</select>'
        "<button>Filter</button></form>"
    )


def _live_section(live: Sequence[Mapping[str, Any]] | None) -> str:
    if live is None:
        return ""
    if not live:
        return '<section id="live"><h2>Live now</h2><p class="muted">No live streams.</p></section>'
    rows = []
    for stream in live:
        rec_id = stream.get("recording_id")
        recording = (
            f'<a href="{_e(recording_path(str(rec_id)))}">{_e(rec_id)}</a>'
            if rec_id
            else "not recording"
        )
        rows.append(
            f"<tr><td>{_source(stream)}</td><td>{_when(stream.get('started_at'))}</td>"
            f"<td>{len(stream.get('tracks') or [])}</td><td>{recording}</td></tr>"
        )
    return (
        '<section id="live"><h2>Live now</h2><table><thead><tr><th>Stream</th><th>Started</th>'
        f"<th>Tracks</th><th>Recording</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def recordings_page(
    recs: Sequence[Mapping[str, Any]],
    *,
    downloads: Mapping[str, str],
    live: Sequence[Mapping[str, Any]] | None,
    status: str | None,
    next_url: str | None,
    is_first_page: bool,
    csrf: str,
) -> str:
    """The list: newest first, one page; ``downloads`` maps ids of complete recordings to URLs."""
    if recs:
        body = "".join(_row(r, downloads.get(str(r["id"])), csrf) for r in recs)
        table = (
            '<table id="recordings"><thead><tr><th>Created</th><th>Stream (source)</th>'
            "<th>Status</th><th>Duration</th><th>Size</th><th>Format</th><th>Actions</th>"
            f"</tr></thead><tbody>{body}</tbody></table>"
        )
    else:
        table = '<p class="muted" id="no-recordings">No recordings.</p>'
    nav = []
    if not is_first_page:
        first = "/" + (f"?status={quote(status)}" if status else "")
        nav.append(f'<a href="{_e(first)}">First page</a>')
    if next_url:
        nav.append(f'<a href="{_e(next_url)}" rel="next">Next</a>')
    main = (
        f"{_live_section(live)}<section><h1>Recordings</h1>{_filter_form(status)}{table}"
        f'<nav class="pages">{" ".join(nav)}</nav></section>'
    )
    return document("Recordings", main, csrf=csrf)


def _definition_list(items: Iterable[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def _track(track: Mapping[str, Any]) -> str:
    keys = ("width", "height", "framerate", "bitrate", "channels", "sample_rate")
    details = ", ".join(f"{k} {_e(track[k])}" for k in keys if track.get(k) not in (None, 0))
    kind, codec = _e(track.get("type")), _e(track.get("codec"))
    return f"<tr><td>{kind}</td><td>{codec}</td><td>{details}</td></tr>"


def _metadata(rec: Mapping[str, Any]) -> str:
    sizes = rec.get("sizes") or {}
    drift = rec.get("av_drift_ms")
    return _definition_list(
        [
            ("Status", _e(rec["status"])),
            ("Kind", _e(rec.get("kind"))),
            ("Stream (source)", _source(rec)),
            ("Started", _when(rec.get("started_at"))),
            ("Ended", _when(rec.get("ended_at"))),
            ("Duration", _e(human_duration(rec.get("duration")))),
            ("Format", _e(rec.get("format") or "—")),
            ("Size", _e(human_size(rec.get("size_bytes")))),
            ("Sizes", ", ".join(f"{_e(k)} {_e(human_size(v))}" for k, v in sizes.items())),
            ("A/V drift", "—" if drift is None else f"{_e(drift)} ms"),
            ("Recovered", "yes" if rec.get("recovered") else "no"),
            ("Error", _e(rec.get("error") or "—")),
            ("Expires", _when(rec.get("expires_at"))),
        ]
    )


def _media(rec: Mapping[str, Any], file_url: str | None, poster_url: str | None) -> str:
    if file_url is None:
        status = _e(rec["status"])
        message = f"Media is available once the recording is complete (now {status})."
        return f'<p class="muted">{message}</p>'
    poster = f' poster="{_e(poster_url)}"' if poster_url else ""
    return (
        f'<video id="player" controls preload="metadata" src="{_e(file_url)}"{poster}></video>'
        f'<p><a href="{_e(file_url)}" download>Download file</a></p>'
    )


def _assets(assets: Sequence[AssetLink]) -> str:
    if not assets:
        return ""
    rows = "".join(
        f'<tr><td>{_e(a.type)}</td><td><a href="{_e(a.link.url)}">{_e(a.name)}</a></td>'
        f"<td>{_e(human_size(a.size_bytes))}</td></tr>"
        for a in assets
    )
    return (
        '<h2>Assets</h2><table id="assets"><thead><tr><th>Type</th><th>Name</th><th>Size</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def detail_page(
    rec: Mapping[str, Any],
    *,
    file_url: str | None,
    poster_url: str | None,
    assets: Sequence[AssetLink],
    csrf: str,
) -> str:
    """One recording: player, metadata, tracks, asset links and a delete button."""
    tracks = "".join(_track(t) for t in rec.get("tracks") or [])
    main = (
        f"<h1>Recording <code>{_e(rec['id'])}</code></h1>"
        f"{_media(rec, file_url, poster_url)}"
        f"<h2>Details</h2>{_metadata(rec)}"
        '<h2>Tracks</h2><table id="tracks"><thead><tr><th>Type</th><th>Codec</th><th>Details</th>'
        f"</tr></thead><tbody>{tracks}</tbody></table>"
        f"{_assets(assets)}"
        f'<p class="actions">{_delete_form(str(rec["id"]), csrf)}</p>'
    )
    return document(f"Recording {rec['id']}", main, csrf=csrf)

"""Prometheus text exposition of the service's counters and gauges."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from telerecord.db.models import Delivery, Recording

if TYPE_CHECKING:
    from telerecord.runtime import Runtime

Sample = tuple[str, str, dict[str, str], float]  # name, type, labels, value


def _fmt(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _database_samples(runtime: Runtime) -> Iterable[Sample]:
    with runtime.db.session() as session:
        for status, count in session.execute(
            select(Recording.status, func.count()).group_by(Recording.status)
        ):
            yield ("telerecord_recordings", "gauge", {"status": status}, float(count))
        for status, count in session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        ):
            yield ("telerecord_webhook_deliveries", "gauge", {"status": status}, float(count))


def render(runtime: Runtime) -> str:
    sources: list[Callable[[], Iterable[Sample]]] = [lambda: _database_samples(runtime)]
    if runtime.ingest is not None:
        sources.append(runtime.ingest.metric_samples)
    lines: list[str] = []
    typed: set[str] = set()
    for source in sources:
        for name, kind, labels, value in source():
            if name not in typed:
                lines.append(f"# TYPE {name} {kind}")
                typed.add(name)
            lines.append(f"{name}{_fmt(labels)} {value:g}")
    return "\n".join(lines) + "\n"

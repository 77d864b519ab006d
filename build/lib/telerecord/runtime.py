"""The objects a running service shares: settings, database, ingest, jobs. Built at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telerecord.db.engine import Database
from telerecord.settings import Settings

if TYPE_CHECKING:
    from telerecord.ingest.manager import IngestManager
    from telerecord.jobs import JobQueue


@dataclass
class Runtime:
    settings: Settings
    db: Database
    jobs: JobQueue
    ingest: IngestManager | None = None
    extras: dict[str, Any] = field(default_factory=dict)

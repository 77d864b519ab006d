"""Assembly of the running service: runtime, FastAPI app and its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from telerecord.api import (
    account,
    media_files,
    media_urls,
    recordings,
    secrets,
    service,
    streams,
    tokens,
    webhooks,
    whip,
)
from telerecord.api.problems import install as install_problems
from telerecord.dashboard import routes as dashboard
from telerecord.db.engine import Database
from telerecord.db.migrate import upgrade
from telerecord.ingest.manager import IngestManager
from telerecord.jobs import JobQueue
from telerecord.runtime import Runtime
from telerecord.services import events, recovery
from telerecord.services.delivery import DeliveryWorker
from telerecord.settings import Settings

log = logging.getLogger(__name__)

API_DESCRIPTION = "Records WHIP (WebRTC) streams; see API.md for the contract."


def build_runtime(settings: Settings, *, with_ingest: bool = True) -> Runtime:
    """Database (migrated), job queue and, for media nodes, the ingest manager."""
    settings = settings.resolved()
    db = Database(settings.database_url)
    upgrade(db)
    jobs = JobQueue(settings.queue_url)
    runtime = Runtime(settings=settings, db=db, jobs=jobs)
    jobs.bind(runtime)
    if with_ingest:
        runtime.ingest = IngestManager(settings, db, jobs)
    return runtime


def build_app(runtime: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        recovery.recover(runtime)
        if runtime.ingest is not None:
            await runtime.ingest.start()
        if runtime.jobs.is_embedded and runtime.settings.embedded_worker:
            runtime.jobs.start_consumer()
        # New deliveries wake the worker on commit; the poll only catches other processes' rows.
        delivery = DeliveryWorker(runtime.db, poll_interval=5.0)
        runtime.extras["delivery"] = delivery
        events.delivery_listeners.append(delivery.wake)
        await delivery.start()
        try:
            yield
        finally:
            if runtime.ingest is not None:
                await runtime.ingest.shutdown()
            events.delivery_listeners.remove(delivery.wake)
            await delivery.stop()
            runtime.jobs.stop_consumer()

    app = FastAPI(
        title="telerecord", version="0.1.0", description=API_DESCRIPTION, lifespan=lifespan
    )
    app.state.runtime = runtime
    install_problems(app)
    for module in (
        service,
        secrets,
        tokens,
        streams,
        recordings,
        media_urls,
        webhooks,
        account,
        whip,
        media_files,
    ):
        app.include_router(module.router)
    app.include_router(dashboard.router)
    return app

"""The FastAPI application: routers, error handlers, the request unit of work, and (optionally) the worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import URL

from homeops import __version__
from homeops.assistant import tasks as assistant_tasks  # noqa: F401  (registers jobs)
from homeops.assistant import transcription
from homeops.assistant.api import router as assistant_router
from homeops.audit.api import router as audit_router
from homeops.audit.repository import write_audit
from homeops.catalog.api import router as catalog_router
from homeops.core.config import Settings
from homeops.core.context import UnitOfWorkMiddleware
from homeops.core.database import create_app_engine, session_factory
from homeops.core.errors import install_error_handlers, problem_response
from homeops.core.jobs import Worker, registry
from homeops.core.security import FieldCipher
from homeops.core.storage import build_storage, files_router
from homeops.devices.api import router as devices_router
from homeops.homes.api import router as homes_router
from homeops.identity.api import auth_router, users_router
from homeops.maintenance import tasks as maintenance_tasks  # noqa: F401  (registers jobs)
from homeops.maintenance.api import router as maintenance_router
from homeops.manuals import tasks as manual_tasks
from homeops.manuals.api import router as manuals_router
from homeops.manuals.embeddings import load_embedder
from homeops.notifications import tasks as notification_tasks  # noqa: F401  (registers jobs)
from homeops.notifications.api import router as notifications_router
from homeops.retention import tasks as retention_tasks  # noqa: F401  (registers jobs)
from homeops.settings.api import router as settings_router
from homeops.troubleshooting import tasks as troubleshooting_tasks  # noqa: F401  (registers jobs)
from homeops.troubleshooting.api import router as troubleshooting_router

log = logging.getLogger(__name__)

ROUTERS = (
    auth_router, users_router, homes_router, catalog_router, devices_router, manuals_router, maintenance_router,
    troubleshooting_router, assistant_router, notifications_router, audit_router, settings_router, files_router,
)


def create_app(settings: Settings, app_url: URL, *, worker_url: URL | None = None) -> FastAPI:
    """``worker_url`` (the owner connection): also run the background worker inside this process."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_app_engine(app_url, settings)
        app.state.engine = engine
        app.state.session_factory = session_factory(engine)
        stop = asyncio.Event()
        worker_task = None
        if worker_url is not None:
            worker = Worker(worker_url, registry)
            worker_task = asyncio.create_task(worker.run(stop), name="homeops-worker")
        try:
            yield
        finally:
            stop.set()
            if worker_task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(worker_task, timeout=30)
            await engine.dispose()

    app = FastAPI(
        title="HomeOps",
        version=__version__,
        description=(
            "Self-hostable maintenance platform for homes, equipment and the services around them. "
            "Errors are RFC 9457 `application/problem+json` with a stable `code`."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.cipher = FieldCipher(settings.secret("field_encryption_key"))
    app.state.storage = build_storage(settings)
    app.state.embedder = load_embedder(settings.embedder)
    manual_tasks.configure(app.state.storage, app.state.embedder)
    notification_tasks.configure(settings)
    if settings.transcriber:
        transcription.install(transcription.load_transcriber(settings.transcriber))
    install_error_handlers(app)
    app.add_middleware(UnitOfWorkMiddleware, audit_writer=write_audit)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/healthz", tags=["system"])
    async def healthz(request: Request) -> JSONResponse:
        """Liveness and database reachability."""
        try:
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
            return problem_response(request, 503, "database_unavailable", "Database unavailable", str(exc)[:200])
        return JSONResponse({"status": "ok", "database": "ok", "version": __version__})

    return app

"""The FastAPI application: the domains' routers, error handlers, the request unit of work, and (optionally)
the background worker. Everything domain-specific comes from ``homeops.domains``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import URL

from homeops import __version__, domains
from homeops.audit.repository import write_audit
from homeops.core.config import Settings
from homeops.core.context import UnitOfWorkMiddleware
from homeops.core.database import create_app_engine, session_factory
from homeops.core.dispatch import install_prefix_dispatch
from homeops.core.errors import install_error_handlers, problem_response
from homeops.core.jobs import Worker, registry
from homeops.core.logging import install_redaction
from homeops.core.openapi import errors, install_docs, install_openapi
from homeops.core.routing import harden_routes
from homeops.core.runtime import Runtime
from homeops.core.storage import files_router
from homeops.core.web import install_web

log = logging.getLogger(__name__)


def create_app(
    settings: Settings, app_url: URL, *, worker_url: URL | None = None, runtime: Runtime | None = None
) -> FastAPI:
    """``worker_url`` (the owner connection): also run the background worker inside this process.
    ``runtime``: the process runtime (tests pass one with a frozen clock); built from the settings if omitted."""
    runtime = runtime or domains.build_runtime(settings)
    bus = domains.event_bus()
    domains.load_tasks()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_app_engine(app_url, settings)
        app.state.engine = engine
        app.state.session_factory = session_factory(engine)
        async with engine.connect() as conn:
            runtime.distributed = bool(
                await conn.scalar(text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')"))
            )
        stop = asyncio.Event()
        worker_task = None
        if worker_url is not None:
            worker = Worker(worker_url, registry, runtime=runtime, bus=bus, audit_writer=write_audit)
            worker_task = asyncio.create_task(worker.run(stop), name="homeops-worker")
        mqtt_task = None
        if settings.mqtt_url:  # every API process subscribes (a shared subscription: docs in the module)
            from homeops.telemetry import mqtt

            mqtt_task = mqtt.start(settings.mqtt_url, engine, runtime, stop)
        try:
            yield
        finally:
            stop.set()
            for task in (worker_task, mqtt_task):
                if task is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(task, timeout=30)
            await engine.dispose()

    app = FastAPI(
        title="HomeOps",
        version=__version__,
        description=(
            "Self-hostable maintenance platform for homes, equipment and the services around them. "
            "Errors are RFC 9457 `application/problem+json` with a stable `code`; every error an operation "
            "can answer is listed under it. Text may not contain the NUL character (`\\u0000`): PostgreSQL "
            "cannot store it, so a request carrying one anywhere is a 422. Request bodies are limited to "
            f"{settings.max_request_body_kb} KB unless an operation says otherwise (uploads)."
        ),
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, from installed assets
        redoc_url=None,
    )
    install_redaction()
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.bus = bus
    # Kept for the routes that read them directly (signed downloads, serials).
    app.state.cipher = runtime.cipher
    app.state.storage = runtime.storage
    install_error_handlers(app)
    app.add_middleware(UnitOfWorkMiddleware, audit_writer=write_audit)

    @app.get("/healthz", tags=["system"])
    @errors(503)
    async def healthz(request: Request) -> JSONResponse:
        """Liveness and database reachability."""
        try:
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
            return problem_response(
                request, 503, "database_unavailable", "Database unavailable", str(exc)[:200]
            )
        return JSONResponse({"status": "ok", "database": "ok", "version": __version__})

    for router in (*domains.routers(), files_router):
        _add_routes(app, router)
    # The web interface: every domain's pages at ``/`` (the JSON API above stays at /api/v1).
    web = install_web(app, settings, list(domains.pages()))
    for router in web.routers():
        _add_routes(app, router)
    install_docs(app)
    harden_routes(app, settings)  # UUID paths, body limits, NUL/media-type checks (homeops.core.routing)
    install_openapi(app)
    install_prefix_dispatch(app)  # a request tries only the routes that can match it (homeops.core.dispatch)
    return app


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's routes on the app's own router (one flat list), instead of ``include_router``: an included
    router is matched by scanning its routes, then scanned again to dispatch — twice per request. The domain
    routers carry their prefixes in each route's path and no router-level dependencies, so nothing is lost."""
    if router.dependencies or (
        router.prefix and not all(getattr(r, "path", "").startswith(router.prefix) for r in router.routes)
    ):
        app.include_router(router)
        return
    app.router.routes.extend(router.routes)


def app_from_environment() -> FastAPI:
    """The app of one API process started by ``homeops serve --workers N`` (settings and the database URLs
    come from the environment the parent process set)."""
    from homeops.core.config import get_settings
    from homeops.core.database import resolve_urls
    from homeops.core.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    urls = resolve_urls(settings, start_embedded=False)
    return create_app(settings, urls.app)

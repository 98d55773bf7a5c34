"""The request owns the transaction.

``UnitOfWorkMiddleware`` gives every HTTP request a lazily opened database connection (and, on first use, an
ORM session bound to it). When the application
starts its response, the middleware commits (status < 400) or rolls back (anything else) *before* the first
byte is sent, writing the request's audit rows in that same transaction. Work that must outlive a failed
request (a failed login's audit row and throttle counter) is queued as ``durable`` and written in a separate
transaction after the rollback. Side effects queued with ``after_commit`` run only once the commit succeeded.

Each transaction carries the caller's identity for row-level security, set by the database itself when the
request authenticates (``homeops_begin``). The connections are in driver autocommit mode: this module opens
and ends the server transaction explicitly (``BEGIN`` goes out with the first statement).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from homeops.core import urls
from homeops.core.audit import AuditEntry, AuditRecorder, AuditWriter
from homeops.core.database import driver_connection
from homeops.core.uow import DurableOp

log = logging.getLogger("homeops.request")

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ORIGIN_HEADERS = frozenset({b"host", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"})


@dataclass
class RequestContext(AuditRecorder):
    """One HTTP request: where it comes from (the audit recorder's fields), its lazily opened session,
    and what must happen once it commits."""

    role: str | None = None
    connection: AsyncConnection | None = None
    driver: psycopg.AsyncConnection[Any] | None = None
    session: AsyncSession | None = None
    durable_ops: list[DurableOp] = field(default_factory=list)
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    route_name: str | None = None
    finished: bool = False

    def orm_session(self) -> AsyncSession:
        """The ORM session of the request, bound to its connection; created on first use."""
        if self.session is None:
            if self.connection is None:
                raise RuntimeError("the request has no database connection yet")
            self.session = AsyncSession(bind=self.connection, expire_on_commit=False, autoflush=True)
            self.session.info["homeops_driver"] = self.driver
        return self.session


def get_context(request: Request) -> RequestContext:
    ctx: RequestContext = request.state.ctx
    return ctx


async def open_connection(request: Request, *, begin: bool = True) -> psycopg.AsyncConnection[Any]:
    """The request's connection (the driver's), checked out on first use. The API's connections are in driver
    autocommit mode, so the server transaction is opened explicitly: here with ``BEGIN`` (``begin=True``), or
    by the caller in its first statement (authentication sends ``BEGIN`` with the identity statement)."""
    ctx = get_context(request)
    if ctx.driver is None:
        engine: AsyncEngine = request.app.state.engine
        ctx.connection = await engine.connect()
        raw = await ctx.connection.get_raw_connection()
        ctx.driver = raw.driver_connection
        if begin:
            await ctx.driver.execute(b"BEGIN")  # type: ignore[union-attr]
    return ctx.driver  # type: ignore[return-value]


async def open_session(request: Request) -> AsyncSession:
    """The request's ORM session, in its transaction."""
    await open_connection(request)
    return get_context(request).orm_session()


# --- reads end after the response -------------------------------------------------------------------------
# A request that wrote nothing has nothing to lose if its transaction ends after the response was sent, so a
# read costs its own statements only (the identity statement goes out pipelined with BEGIN). Every write —
# an ORM flush or any statement executed through the session that is not a plain SELECT — marks the session.

WROTE = "homeops_wrote"


@event.listens_for(Session, "do_orm_execute")
def _mark_writes(state: ORMExecuteState) -> None:
    if not state.is_select:
        state.session.info[WROTE] = True


@event.listens_for(Session, "after_flush")
def _mark_flush(session: Session, _context: Any) -> None:
    session.info[WROTE] = True


def _wrote(session: AsyncSession | None) -> bool:
    return session is not None and bool(session.sync_session.info.get(WROTE))


async def end_read(driver: psycopg.AsyncConnection[Any], status: int = 200) -> None:
    """Ends a successful read's transaction with ``COMMIT`` (it wrote nothing: the same outcome as a rollback).
    psycopg forgets every statement the connection prepared when it sees a ``ROLLBACK`` — ``rollback()`` or the
    statement — and sends ``DEALLOCATE ALL``, so the next request on the pooled connection would prepare its hot
    statements again and pay a round trip for the DEALLOCATE. A failed request (status ≥ 400) or a transaction
    in error rolls back."""
    if status < 400 and driver.pgconn.transaction_status == TransactionStatus.INTRANS:
        await driver.commit()
    else:
        await driver.rollback()


class UnitOfWorkMiddleware:
    def __init__(self, app: ASGIApp, audit_writer: AuditWriter) -> None:
        self.app = app
        self.audit_writer = audit_writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming_id, user_agent = "", None
        where: dict[bytes, bytes] = {}
        for key, value in scope.get("headers", ()):
            if key == b"x-request-id":
                incoming_id = value.decode("latin-1")
            elif key == b"user-agent":
                user_agent = value.decode("latin-1").replace("\x00", "")
            elif key in _ORIGIN_HEADERS:
                where.setdefault(key, value)
        request_id = incoming_id if incoming_id and _REQUEST_ID_RE.match(incoming_id) else uuid.uuid4().hex
        app_settings = getattr(scope["app"].state, "settings", None) if "app" in scope else None
        origin = urls.resolve(scope, where, getattr(app_settings, "trusted_proxies", "") or "")
        # The URL as the audit row and the request log keep it: a NUL (which text columns cannot hold) escaped.
        path = scope.get("path", "").replace("\x00", "%00")
        query = scope.get("query_string", b"")
        ctx = RequestContext(
            request_id=request_id,
            method=scope["method"],
            url=path + ("?" + query.decode("latin-1") if query else ""),
            ip=_valid_ip(origin.client_ip),
            user_agent=user_agent,
        )
        scope.setdefault("state", {})["ctx"] = ctx
        scope["state"]["request_id"] = request_id
        session_factory = scope["app"].state.session_factory if "app" in scope else None
        replaced = False
        status_holder = {"status": 500}
        request_id_header = (b"x-request-id", request_id.encode())

        def read_only() -> bool:
            return ctx.method in SAFE_METHODS and not _wrote(ctx.session) and not ctx.durable_audit

        async def send_wrapper(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                status_holder["status"] = status
                route = scope.get("route")
                ctx.route_name = getattr(route, "name", None)
                if not read_only():
                    try:
                        await self._finish(ctx, status, session_factory)
                    except Exception:
                        log.exception("commit failed", extra={"request_id": request_id})
                        replaced = True
                        await _send_internal_error(send, request_id)
                        return
                message["headers"] = [*message.get("headers", ()), request_id_header]
            await send(message)

        origin_tokens = urls.enter_request(origin)  # the links this request hands out (core.urls)
        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            if not ctx.finished:
                try:
                    await self._finish(ctx, 500, session_factory)
                except Exception:
                    log.exception("rollback after error failed")
            urls.leave_request(origin_tokens)
            raise
        finally:
            try:
                if not ctx.finished and ctx.driver is not None:
                    # A read: its transaction ends now that the response is out (straight through the driver:
                    # nothing was written, there is nothing for the ORM to do).
                    ctx.finished = True
                    await end_read(ctx.driver, status_holder["status"])
            except Exception:
                log.exception("ending a read transaction failed", extra={"request_id": request_id})
            finally:
                await _release(ctx)
                _log_request(ctx, status_holder["status"])
        try:
            if ctx.after_commit and status_holder["status"] < 400:
                for hook in ctx.after_commit:
                    try:
                        await hook()
                    except Exception:
                        log.exception("after-commit hook failed", extra={"request_id": request_id})
        finally:
            urls.leave_request(origin_tokens)

    async def _finish(
        self, ctx: RequestContext, status: int, session_factory: async_sessionmaker[AsyncSession] | None
    ) -> None:
        if ctx.finished:
            return
        ctx.finished = True
        mutating = ctx.method in MUTATING_METHODS
        ok = status < 400
        if ctx.driver is not None:
            if ok:
                session = ctx.orm_session()
                await session.flush()  # what services changed but did not flush yet
                if mutating:
                    entries = ctx.audit or [AuditEntry(action_type=ctx.route_name or "api_request")]
                    await self.audit_writer(session, ctx, status, entries)
                await ctx.driver.commit()
            else:
                await ctx.driver.rollback()
        elif ok and mutating and session_factory is not None:
            await self._write_separately(
                ctx, status, session_factory, [AuditEntry(ctx.route_name or "api_request")]
            )
        if not ok:
            ctx.after_commit.clear()
            entries = list(ctx.durable_audit)
            if mutating and not entries:
                entries.append(
                    AuditEntry(action_type=ctx.route_name or "api_request", error_message=f"HTTP {status}")
                )
            if (entries or ctx.durable_ops) and session_factory is not None:
                await self._write_separately(ctx, status, session_factory, entries)
        elif (ctx.durable_audit or ctx.durable_ops) and session_factory is not None:
            # A successful request with durable work (e.g. a login): write it too.
            await self._write_separately(ctx, status, session_factory, list(ctx.durable_audit))

    async def _write_separately(
        self,
        ctx: RequestContext,
        status: int,
        session_factory: async_sessionmaker[AsyncSession],
        entries: list[AuditEntry],
    ) -> None:
        async with session_factory() as session, session.begin():
            await (await driver_connection(session)).execute(b"BEGIN")  # the API's connections autocommit
            for op in ctx.durable_ops:
                await op(session)
            if entries:
                await self.audit_writer(session, ctx, status, entries)


async def _release(ctx: RequestContext) -> None:
    """Closes the ORM session (if one was made) and returns the connection to the pool. A transaction still
    open here (an error path) is rolled back by the pool's reset."""
    try:
        if ctx.session is not None:
            await ctx.session.close()
    finally:
        if ctx.connection is not None:
            await ctx.connection.close()


async def _send_internal_error(send: Send, request_id: str) -> None:
    body = json.dumps(
        {
            "type": "https://homeops.dev/problems/internal_error",
            "title": "Internal server error",
            "status": 500,
            "code": "internal_error",
            "request_id": request_id,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


@lru_cache(maxsize=4096)
def _valid_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _log_request(ctx: RequestContext, status: int) -> None:
    log.info(
        "%s %s %s",
        ctx.method,
        ctx.url,
        status,
        extra={
            "request_id": ctx.request_id,
            "method": ctx.method,
            "path": ctx.url,
            "status": status,
            "duration_ms": ctx.elapsed_ms,
            "user_id": str(ctx.user_id) if ctx.user_id else None,
        },
    )

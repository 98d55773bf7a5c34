"""The unit of work a service runs in: one database transaction, who acts, where the audit goes, the clock,
the domain-event bus and the process runtime. Services flush, never commit.

* The API builds one per request (``homeops.identity.deps``): the request's middleware commits or rolls
  back before the response is sent (``homeops.core.context``).
* Commands and jobs use ``transaction()`` below, which commits, writes the audit rows in the same
  transaction and runs the after-commit hooks.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homeops.core.actor import Actor
from homeops.core.audit import AuditEntry, AuditRecorder, AuditWriter
from homeops.core.clock import local_today
from homeops.core.events import DomainEvent, EventBus
from homeops.core.runtime import Runtime

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]
DurableOp = Callable[[AsyncSession], Awaitable[None]]


class UnitOfWork:
    """``session`` may be given as a factory: the API creates the ORM session only when a service uses it (the
    hottest reads go straight through the driver, see ``driver()``)."""

    def __init__(
        self,
        session: AsyncSession | Callable[[], AsyncSession],
        actor: Actor,
        audit: AuditRecorder,
        runtime: Runtime,
        bus: EventBus,
        after_commit: list[AfterCommit] | None = None,
        durable: list[DurableOp] | None = None,
        driver: psycopg.AsyncConnection[Any] | None = None,
    ) -> None:
        if isinstance(session, AsyncSession):
            self._session: AsyncSession | None = session
            self._session_factory: Callable[[], AsyncSession] | None = None
        else:
            self._session, self._session_factory = None, session
        self.actor = actor
        self.audit = audit
        self.runtime = runtime
        self.bus = bus
        self.after_commit: list[AfterCommit] = after_commit if after_commit is not None else []
        # Writes that must happen even if this unit fails (a failed login's throttle counter): run in a
        # transaction of their own after the rollback (or after the commit).
        self.durable: list[DurableOp] = durable if durable is not None else []
        self._driver = driver

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            assert self._session_factory is not None
            self._session = self._session_factory()
        return self._session

    async def driver(self) -> psycopg.AsyncConnection[Any]:
        """The psycopg connection of this unit's transaction (for prepared hot-path statements)."""
        if self._driver is None:
            from homeops.core.database import driver_connection

            self._driver = await driver_connection(self.session)
        return self._driver

    # --- conveniences ---------------------------------------------------------------------------------
    def record(self, entry: AuditEntry) -> None:
        self.audit.record(entry)

    def record_durable(self, entry: AuditEntry) -> None:
        self.audit.record_durable(entry)

    def on_outcome(self, op: DurableOp) -> None:
        """Writes ``op`` whatever happens to this unit, in a separate transaction."""
        self.durable.append(op)

    async def publish(self, event: DomainEvent) -> None:
        """Runs the subscribers of ``event`` now, in this transaction."""
        await self.bus.publish(self, event)

    def on_commit(self, hook: AfterCommit) -> None:
        """Runs ``hook`` once the transaction has committed (never after a rollback)."""
        self.after_commit.append(hook)

    def now(self) -> datetime:
        return self.runtime.clock.now()

    def today(self, timezone: str | None = "UTC") -> date:
        """Today's date in ``timezone`` (a home's timezone: its day, not the server's)."""
        return local_today(self.runtime.clock, timezone)

    def set_actor(self, actor: Actor) -> None:
        """The actor changed within this transaction (signed in, created or joined a home)."""
        self.actor = actor
        self.audit.user_id = actor.user_id
        self.audit.session_id = actor.session_id


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
    actor: Actor,
    runtime: Runtime,
    bus: EventBus,
    audit: AuditRecorder,
    audit_writer: AuditWriter | None = None,
    *,
    status: int = 200,
) -> AsyncIterator[UnitOfWork]:
    """One transaction for a command or a job: commits on success (with its audit rows), rolls back on an
    exception (then writes its durable operations and durable audit rows apart), and runs the after-commit
    hooks once committed."""
    async with sessions() as session:
        uow = UnitOfWork(session, actor, audit, runtime, bus)
        try:
            async with session.begin():
                yield uow
                entries = audit.take()
                if entries and audit_writer is not None:
                    await audit_writer(session, audit, status, entries)
        except BaseException:
            await _write_apart(sessions, uow, audit_writer, 500)
            raise
    await _write_apart(sessions, uow, audit_writer, status)
    for hook in uow.after_commit:
        try:
            await hook()
        except Exception:
            log.exception("after-commit hook failed", extra={"request_id": audit.request_id})


async def _write_apart(
    sessions: async_sessionmaker[AsyncSession], uow: UnitOfWork, audit_writer: AuditWriter | None, status: int
) -> None:
    durable, uow.durable = uow.durable, []
    entries, uow.audit.durable_audit = uow.audit.durable_audit, []
    if not durable and not (entries and audit_writer):
        return
    async with sessions() as session, session.begin():
        for op in durable:
            await op(session)
        if entries and audit_writer is not None:
            await audit_writer(session, uow.audit, status, entries)

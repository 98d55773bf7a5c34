"""Background work with PostgreSQL as the only broker.

``enqueue`` inserts in the caller's transaction (an outbox: the job and its NOTIFY exist only if it commits);
it works for the API role, which may INSERT but not read jobs back. ``Worker`` (the owner) claims jobs with
``FOR UPDATE SKIP LOCKED`` and runs each task in the transaction that marks it ``done``; a failure rolls back
and re-queues with exponential backoff until ``max_attempts``, then ``failed``. Idle workers wake on NOTIFY.
Run one: import the modules that register tasks, then ``await Worker(owner_url, registry).run(stop)``.

A task is ``async def task(job: JobContext, payload: dict) -> None``: ``job.session`` is its transaction,
``job.runtime`` the process runtime (storage, clock, the domains' resources), and ``job.uow()`` a unit of
work on that transaction for calling services (acting as the system, with the job's audit recorder).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Self

import psycopg
from pydantic_core import to_jsonable_python
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from homeops.core.actor import Actor
from homeops.core.audit import AuditRecorder, AuditWriter
from homeops.core.database import libpq_dsn, sqlalchemy_url
from homeops.core.events import EventBus
from homeops.core.runtime import Runtime
from homeops.core.tenancy import HomeRole, OrgRole, UserRole
from homeops.core.uow import UnitOfWork

log = logging.getLogger("homeops.jobs")

CHANNEL = "homeops_jobs"
DEFAULT_ATTEMPTS = 5
MAX_ERROR_CHARS = 4000
MAX_BACKOFF_SECONDS = 24 * 3600
HOUSEKEEPING_SECONDS = 60  # how often a running worker recovers stale locks
STALE_AFTER = timedelta(minutes=15)  # a running job whose lock is older is presumed orphaned


@dataclass
class JobContext:
    """What a running task gets besides its payload."""

    session: AsyncSession
    runtime_or_none: Runtime | None
    bus: EventBus
    job_id: int
    task: str
    attempt: int
    worker: str
    audit: AuditRecorder

    @property
    def runtime(self) -> Runtime:
        if self.runtime_or_none is None:
            raise RuntimeError("this worker was created without a runtime (pass runtime=… to Worker)")
        return self.runtime_or_none

    async def act_for(self, user_id: uuid.UUID) -> UnitOfWork | None:
        """A unit of work acting as ``user_id`` under the same row policies as their requests (the worker role
        may take any user's identity, and only it); None if the user is gone."""
        row = (
            await self.session.execute(
                text("SELECT role, email, home_ids, home_roles, org_ids, org_roles FROM homeops_act_for(:u)"),
                {"u": user_id},
            )
        ).first()
        if row is None:
            return None
        actor = Actor(
            user_id=user_id,
            role=UserRole(row.role),
            email=row.email,
            homes=MappingProxyType(
                {h: HomeRole(r) for h, r in zip(row.home_ids, row.home_roles, strict=True)}
            ),
            orgs=MappingProxyType({o: OrgRole(r) for o, r in zip(row.org_ids, row.org_roles, strict=True)}),
        )
        return self.uow(actor)

    def uow(self, actor: Actor | None = None) -> UnitOfWork:
        """A unit of work on the job's transaction (committed, with its audit rows, when the task returns)."""
        return UnitOfWork(
            self.session, actor or Actor.system(f"job:{self.task}"), self.audit, self.runtime, self.bus
        )


TaskFn = Callable[[JobContext, dict[str, Any]], Awaitable[None]]
Decorator = Callable[[TaskFn], TaskFn]
Params = dict[str, Any]

_ON_CONFLICT = " ON CONFLICT (dedupe_key) WHERE status IN ('queued', 'running') DO NOTHING"
_ENQUEUE = (
    """INSERT INTO jobs (task, payload, run_at, dedupe_key, max_attempts)
    VALUES (:task, CAST(:payload AS jsonb), COALESCE(:run_at, now()), :key, :attempts)"""
    + _ON_CONFLICT
)
_CLAIM = """UPDATE jobs SET status = 'running', locked_at = now(), locked_by = :me, attempts = attempts + 1
    WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= now() {only}
                ORDER BY run_at, id FOR UPDATE SKIP LOCKED LIMIT 1)
    RETURNING id, task, payload, attempts, max_attempts"""
_MINE = " WHERE id = :id AND locked_by = :me AND attempts = :n"  # still ours (not recovered meanwhile)
_FINISH = (
    """UPDATE jobs SET status = :status, last_error = :error, locked_at = NULL, locked_by = NULL,
    run_at = CASE WHEN :retry THEN now() + make_interval(secs => :delay) ELSE run_at END,
    finished_at = CASE WHEN :retry THEN NULL ELSE now() END"""
    + _MINE
)
_HEARTBEAT = "UPDATE jobs SET locked_at = now()" + _MINE + " AND status = 'running'"
_RECOVER = """UPDATE jobs SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
    finished_at = CASE WHEN attempts >= max_attempts THEN now() END, locked_at = NULL, locked_by = NULL,
    last_error = 'worker ' || coalesce(locked_by, '?') || ' lost the job (stale lock)'
    WHERE status = 'running' AND locked_at < now() - :age"""
_PERIODIC = (
    """INSERT INTO jobs (task, payload, dedupe_key, max_attempts)
    SELECT CAST(:task AS varchar), CAST(:payload AS jsonb), CAST(:key AS varchar), :attempts
    WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE task = :task AND dedupe_key = :key)"""
    + _ON_CONFLICT
)


@dataclass(frozen=True)
class TaskDef:
    name: str
    fn: TaskFn
    max_attempts: int
    retry_backoff_seconds: float
    every_seconds: int | None = None  # periodic tasks only


class TaskRegistry:
    def __init__(self) -> None:
        self.tasks: dict[str, TaskDef] = {}

    def task(self, name: str, *, max_attempts: int = 5, retry_backoff_seconds: float = 10) -> Decorator:
        return self._register(name, max_attempts, retry_backoff_seconds, None)

    def periodic(
        self, name: str, *, every_seconds: int, max_attempts: int = 3, retry_backoff_seconds: float = 10
    ) -> Decorator:
        """A task the workers enqueue themselves once per ``every_seconds`` slot (payload ``{"slot": n}``)."""
        if every_seconds < 1:
            raise ValueError("every_seconds must be >= 1")
        return self._register(name, max_attempts, retry_backoff_seconds, every_seconds)

    def _register(self, name: str, attempts: int, backoff: float, every: int | None) -> Decorator:
        def decorator(fn: TaskFn) -> TaskFn:
            if name in self.tasks:
                raise ValueError(f"task {name!r} is already registered")
            self.tasks[name] = TaskDef(name, fn, attempts, backoff, every)
            return fn

        return decorator


registry = TaskRegistry()


async def enqueue(
    session: AsyncSession,
    task: str,
    payload: dict[str, Any],
    *,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int | None = None,
) -> bool:
    """Queues ``task`` in the session's transaction; False when an active job has the same ``dedupe_key``.

    ``max_attempts`` defaults to the task's registration in the module ``registry`` (if imported), else 5.
    """
    if run_at is not None and run_at.tzinfo is None:
        raise ValueError("run_at must be timezone-aware")
    if max_attempts is None:
        max_attempts = known.max_attempts if (known := registry.tasks.get(task)) else DEFAULT_ATTEMPTS
    values = {
        "task": task,
        "payload": json.dumps(to_jsonable_python(payload)),
        "run_at": run_at,
        "key": dedupe_key,
        "attempts": max_attempts,
    }
    result = await session.execute(text(_ENQUEUE), values)
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    task: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


class LostJobError(Exception):
    """The job was recovered from this worker while it ran (stale lock); its work is rolled back."""


class Worker:
    """Runs jobs as the database owner. ``tasks``, if given, restricts which task names it claims (tests,
    dedicated queues); otherwise it claims every task and fails those its registry does not know."""

    def __init__(
        self,
        owner_url: URL | str,
        registry: TaskRegistry,
        *,
        name: str | None = None,
        concurrency: int = 1,
        poll_interval: float = 5.0,
        stale_after: timedelta = STALE_AFTER,
        tasks: set[str] | None = None,
        runtime: Runtime | None = None,
        bus: EventBus | None = None,
        audit_writer: AuditWriter | None = None,
    ) -> None:
        self.url = sqlalchemy_url(owner_url)
        self.registry = registry
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.concurrency = max(1, concurrency)
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self.tasks = sorted(tasks) if tasks is not None else None
        self._runtime = runtime
        self.bus = bus or EventBus()
        self.audit_writer = audit_writer
        self.engine = create_async_engine(
            self.url, pool_size=self.concurrency + 1, pool_pre_ping=True, hide_parameters=True
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._wake = asyncio.Event()
        self._periodic_slots: dict[str, int] = {}

    async def aclose(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        """Works until ``stop`` is set (a running job finishes first), then disposes the engine."""
        listening = asyncio.Event()
        listener = asyncio.create_task(self._listen(stop, listening))
        with contextlib.suppress(TimeoutError):  # LISTEN before the first claim: no wake-up is missed
            await asyncio.wait_for(listening.wait(), timeout=5)
        log.info("worker started", extra={"worker": self.name, "concurrency": self.concurrency})
        try:
            await asyncio.gather(*(self._loop(stop, first=i == 0) for i in range(self.concurrency)))
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            await self.aclose()
            log.info("worker stopped", extra={"worker": self.name})

    async def _loop(self, stop: asyncio.Event, *, first: bool) -> None:
        next_recovery = 0.0  # recover stale jobs at start, then every HOUSEKEEPING_SECONDS
        while not stop.is_set():
            self._wake.clear()
            try:
                if first:
                    await self.enqueue_periodic()
                    if time.monotonic() >= next_recovery:
                        next_recovery = time.monotonic() + HOUSEKEEPING_SECONDS
                        await self.recover_stale()
                if await self.run_once():
                    continue
            except Exception:
                log.exception("worker loop error", extra={"worker": self.name})
            waits = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
            await asyncio.wait(waits, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waits:
                waiter.cancel()

    async def _listen(self, stop: asyncio.Event, listening: asyncio.Event) -> None:
        dsn = libpq_dsn(self.url)
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    listening.set()
                    while not stop.is_set():
                        async for _ in conn.notifies(timeout=self.poll_interval):
                            self._wake.set()
            except Exception:
                log.warning("LISTEN failed; polling meanwhile", exc_info=True, extra={"worker": self.name})
                listening.set()
                await asyncio.sleep(min(self.poll_interval, 5))

    async def drain(self, max_jobs: int = 1000) -> int:
        """Runs jobs until none is ready (or ``max_jobs`` ran); returns how many ran."""
        ran = 0
        while ran < max_jobs and await self.run_once():
            ran += 1
        return ran

    async def run_once(self) -> bool:
        """Claims and runs at most one ready job; returns whether one ran."""
        sql = _CLAIM.format(only="AND task = ANY(:tasks)" if self.tasks is not None else "")
        async with self.engine.begin() as conn:
            row = (await conn.execute(text(sql), {"me": self.name, "tasks": self.tasks})).first()
        if row is None:
            return False
        await self._execute(ClaimedJob(*row))
        return True

    async def _execute(self, job: ClaimedJob) -> None:
        extra = {"job_id": job.id, "task": job.task, "attempt": job.attempts, "worker": self.name}
        definition = self.registry.tasks.get(job.task)
        if definition is None:
            await self._finish(job, "failed", f"unknown task {job.task!r} (not registered in {self.name})")
            log.error("unknown task %s", job.task, extra=extra)
            return
        started = time.perf_counter()
        heartbeat = asyncio.create_task(self._heartbeat(job))
        try:
            async with self.sessions() as session, session.begin():
                audit = AuditRecorder.for_command(f"job:{job.task}:{job.id}", method="JOB")
                context = JobContext(
                    session, self._runtime, self.bus, job.id, job.task, job.attempts, self.name, audit
                )
                await definition.fn(context, dict(job.payload))
                if audit.audit and self.audit_writer is not None:
                    await self.audit_writer(session, audit, 200, audit.take())
                heartbeat.cancel()
                done = await session.execute(text(_FINISH), self._outcome(job, "done"))
                if not done.rowcount:  # type: ignore[attr-defined]
                    raise LostJobError(f"job {job.id} was recovered while running")
        except LostJobError:
            log.warning("job lost while running; its work was rolled back", extra=extra)
            return
        except Exception as exc:  # noqa: BLE001 - any task failure is recorded and retried
            extra["duration_ms"] = int((time.perf_counter() - started) * 1000)
            summary = f"{type(exc).__qualname__}: {exc}"[:500]  # kept even when the traceback is long
            error = summary + "\n" + traceback.format_exc()[-(MAX_ERROR_CHARS - len(summary) - 1) :]
            final = job.attempts >= job.max_attempts
            delay = min(definition.retry_backoff_seconds * 2 ** (job.attempts - 1), MAX_BACKOFF_SECONDS)
            await self._finish(job, "failed" if final else "queued", error, delay)
            level, outcome = (logging.ERROR, "failed") if final else (logging.WARNING, "will retry")
            extra["retry_in_s"] = None if final else delay
            log.log(level, "job %s %s", job.task, outcome, extra=extra)
            return
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        log.info("job done", extra={**extra, "duration_ms": int((time.perf_counter() - started) * 1000)})

    def _outcome(self, job: ClaimedJob, status: str, error: str | None = None, delay: float = 0) -> Params:
        # id/me/n feed _MINE: the update applies only while this claim still holds the job
        return {
            "status": status,
            "error": error,
            "retry": status == "queued",
            "delay": float(delay),
            "id": job.id,
            "me": self.name,
            "n": job.attempts,
        }

    async def _finish(self, job: ClaimedJob, status: str, error: str | None, delay: float = 0) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(_FINISH), self._outcome(job, status, error, delay))

    async def _heartbeat(self, job: ClaimedJob) -> None:
        """Keeps ``locked_at`` fresh so a long task is not mistaken for a dead worker's."""
        while True:
            await asyncio.sleep(max(self.stale_after.total_seconds() / 3, 1))
            async with self.engine.begin() as conn:
                await conn.execute(text(_HEARTBEAT), self._outcome(job, "running"))

    async def recover_stale(self) -> int:
        """Re-queues ``running`` jobs locked more than ``stale_after`` ago (their worker died); one that has
        used all its attempts is marked ``failed`` instead, so a job that kills its worker cannot loop."""
        async with self.engine.begin() as conn:
            result = await conn.execute(text(_RECOVER), {"age": self.stale_after})
        if count := result.rowcount:
            log.warning("recovered %d stale jobs", count, extra={"worker": self.name, "count": count})
        return count

    async def enqueue_periodic(self, now: float | None = None) -> int:
        """Enqueues each periodic task's current slot (``floor(epoch / every)``) unless a job for that slot
        ever existed (any worker, any status); returns how many were enqueued."""
        epoch = time.time() if now is None else now
        created = 0
        for task in self.registry.tasks.values():
            if task.every_seconds is None or (self.tasks is not None and task.name not in self.tasks):
                continue
            slot = int(epoch // task.every_seconds)
            if self._periodic_slots.get(task.name) == slot:
                continue
            params = {
                "task": task.name,
                "payload": json.dumps({"slot": slot}),
                "key": f"periodic:{task.name}:{slot}",
                "attempts": task.max_attempts,
            }
            async with self.engine.begin() as conn:
                result = await conn.execute(text(_PERIODIC), params)
            created += result.rowcount
            self._periodic_slots[task.name] = slot
        return created

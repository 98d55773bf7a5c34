"""Background work with PostgreSQL as the only broker.

* ``enqueue`` inserts into ``jobs`` in the caller's transaction (a transactional outbox): the job exists only
  if that transaction commits, and the insert trigger's NOTIFY is delivered only then. It works for the API
  role, which may INSERT but cannot read jobs back (no RETURNING).
* ``Worker`` (connected as the database owner) claims one ready job at a time with ``FOR UPDATE SKIP LOCKED``,
  runs its task in a transaction that also marks the job ``done`` (so the task's writes and the status commit
  together), and on an exception rolls back and re-queues with exponential backoff until ``max_attempts``,
  then ``failed``. Idle workers wake on ``LISTEN homeops_jobs`` or after ``poll_interval``.

Run a worker: ``await Worker(owner_url, registry).run(stop_event)``; tasks must be imported (registered) first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import socket
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from pydantic_core import to_jsonable_python
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from homeops.core.database import libpq_dsn, sqlalchemy_url

log = logging.getLogger("homeops.jobs")

CHANNEL = "homeops_jobs"
MAX_ERROR_CHARS = 4000
MAX_BACKOFF_SECONDS = 24 * 3600

TaskFn = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class TaskDef:
    name: str
    fn: TaskFn
    max_attempts: int
    retry_backoff_seconds: float
    every_seconds: int | None = None  # set for periodic tasks


class TaskRegistry:
    def __init__(self) -> None:
        self.tasks: dict[str, TaskDef] = {}

    def task(self, name: str, *, max_attempts: int = 5, retry_backoff_seconds: float = 10) -> Callable[[TaskFn], TaskFn]:
        return self._register(name, max_attempts, retry_backoff_seconds, None)

    def periodic(
        self, name: str, *, every_seconds: int, max_attempts: int = 3, retry_backoff_seconds: float = 10
    ) -> Callable[[TaskFn], TaskFn]:
        """A task the workers enqueue themselves once per ``every_seconds`` slot (payload: ``{"slot": n}``)."""
        if every_seconds < 1:
            raise ValueError("every_seconds must be >= 1")
        return self._register(name, max_attempts, retry_backoff_seconds, every_seconds)

    def _register(self, name: str, attempts: int, backoff: float, every: int | None) -> Callable[[TaskFn], TaskFn]:
        def decorator(fn: TaskFn) -> TaskFn:
            if name in self.tasks:
                raise ValueError(f"task {name!r} is already registered")
            self.tasks[name] = TaskDef(name, fn, attempts, backoff, every)
            return fn

        return decorator

    def get(self, name: str) -> TaskDef | None:
        return self.tasks.get(name)


registry = TaskRegistry()

_INSERT_TAIL = " ON CONFLICT (dedupe_key) WHERE status IN ('queued', 'running') DO NOTHING"


async def enqueue(
    session: AsyncSession,
    task: str,
    payload: dict[str, Any],
    *,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int | None = None,
) -> bool:
    """Queues ``task`` in the session's transaction. Returns False when an active job has the same dedupe key.

    ``max_attempts`` defaults to the task's registration in the module ``registry`` (if imported), else 5.
    """
    if run_at is not None and run_at.tzinfo is None:
        raise ValueError("run_at must be timezone-aware")
    if max_attempts is None and (known := registry.get(task)) is not None:
        max_attempts = known.max_attempts
    values: dict[str, Any] = {"task": task, "payload": json.dumps(to_jsonable_python(payload))}
    optional = {"run_at": run_at, "dedupe_key": dedupe_key, "max_attempts": max_attempts}
    values.update({k: v for k, v in optional.items() if v is not None})
    columns = ", ".join(values)
    params = ", ".join("CAST(:payload AS jsonb)" if k == "payload" else f":{k}" for k in values)
    result = await session.execute(text(f"INSERT INTO jobs ({columns}) VALUES ({params})" + _INSERT_TAIL), values)
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    task: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


class LostJobError(Exception):
    """The job was taken from this worker (stale recovery) while it ran; its work is rolled back."""


class Worker:
    """Runs jobs as the database owner. ``tasks`` (optional) restricts which task names this worker claims."""

    def __init__(
        self,
        owner_url: URL | str,
        registry: TaskRegistry,
        *,
        name: str | None = None,
        concurrency: int = 1,
        poll_interval: float = 5.0,
        stale_after: timedelta = timedelta(minutes=15),
        tasks: set[str] | None = None,
    ) -> None:
        self.url = sqlalchemy_url(owner_url)
        self.registry = registry
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.concurrency = max(1, concurrency)
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self.tasks = sorted(tasks) if tasks is not None else None
        self.engine = create_async_engine(self.url, pool_size=self.concurrency + 1, pool_pre_ping=True)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._wake = asyncio.Event()
        self._periodic_slots: dict[str, int] = {}

    async def aclose(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Worker:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        """Works until ``stop`` is set; the current job finishes first. Disposes the engine on exit."""
        listening = asyncio.Event()
        listener = asyncio.create_task(self._listen(stop, listening))
        with contextlib.suppress(TimeoutError):  # LISTEN before the first claim, so no wake-up is missed
            await asyncio.wait_for(listening.wait(), timeout=5)
        log.info("worker started", extra={"worker": self.name, "concurrency": self.concurrency})
        try:
            await self.recover_stale()
            await asyncio.gather(*(self._loop(stop, slot) for slot in range(self.concurrency)))
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            await self.aclose()
            log.info("worker stopped", extra={"worker": self.name})

    async def _loop(self, stop: asyncio.Event, slot: int) -> None:
        next_recovery = time.monotonic() + 60
        while not stop.is_set():
            self._wake.clear()
            try:
                if slot == 0:
                    await self.enqueue_periodic()
                    if time.monotonic() >= next_recovery:
                        next_recovery = time.monotonic() + 60
                        await self.recover_stale()
                if await self.run_once():
                    continue
            except Exception:
                log.exception("worker loop error", extra={"worker": self.name})
            waits = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
            _, pending = await asyncio.wait(waits, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
            for waiter in pending:
                waiter.cancel()

    async def _listen(self, stop: asyncio.Event, listening: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(libpq_dsn(self.url), autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    listening.set()
                    while not stop.is_set():
                        async for _ in conn.notifies(timeout=self.poll_interval):
                            self._wake.set()
            except Exception:
                log.warning("LISTEN connection lost; polling meanwhile", exc_info=True, extra={"worker": self.name})
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
        job = await self._claim()
        if job is None:
            return False
        await self._execute(job)
        return True

    async def _claim(self) -> ClaimedJob | None:
        only = "AND task = ANY(:tasks)" if self.tasks is not None else ""
        sql = f"""
            UPDATE jobs SET status = 'running', locked_at = now(), locked_by = :name, attempts = attempts + 1
            WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= now() {only}
                        ORDER BY run_at, id FOR UPDATE SKIP LOCKED LIMIT 1)
            RETURNING id, task, payload, attempts, max_attempts"""
        async with self.engine.begin() as conn:
            row = (await conn.execute(text(sql), {"name": self.name, "tasks": self.tasks})).first()
        return ClaimedJob(*row) if row is not None else None

    async def _execute(self, job: ClaimedJob) -> None:
        extra: dict[str, Any] = {"job_id": job.id, "task": job.task, "attempt": job.attempts, "worker": self.name}
        definition = self.registry.get(job.task)
        if definition is None:
            await self._finish(job, "failed", f"unknown task {job.task!r}: not registered in worker {self.name}")
            log.error("unknown task %s", job.task, extra=extra)
            return
        started = time.perf_counter()
        heartbeat = asyncio.create_task(self._heartbeat(job))
        try:
            async with self.sessions() as session, session.begin():
                await definition.fn(session, dict(job.payload))
                heartbeat.cancel()
                done = await session.execute(text(_FINISH + "WHERE id = :id AND locked_by = :me AND attempts = :n"),
                                             {"status": "done", "error": None, "delay": 0, **self._key(job)})
                if not done.rowcount:  # type: ignore[attr-defined]
                    raise LostJobError(f"job {job.id} was reclaimed while running")
        except LostJobError:
            log.warning("job lost while running; its work was rolled back", extra=extra)
            return
        except Exception:
            extra["duration_ms"] = int((time.perf_counter() - started) * 1000)
            error = traceback.format_exc()[-MAX_ERROR_CHARS:]
            final = job.attempts >= job.max_attempts
            delay = min(definition.retry_backoff_seconds * 2 ** (job.attempts - 1), MAX_BACKOFF_SECONDS)
            await self._finish(job, "failed" if final else "queued", error, delay)
            log.log(logging.ERROR if final else logging.WARNING, "job %s: %s", "failed" if final else "will retry",
                    job.task, extra={**extra, "retry_in_s": None if final else delay})
            return
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        log.info("job done", extra={**extra, "duration_ms": int((time.perf_counter() - started) * 1000)})

    def _key(self, job: ClaimedJob) -> dict[str, Any]:
        return {"id": job.id, "me": self.name, "n": job.attempts}

    async def _finish(self, job: ClaimedJob, status: str, error: str | None, delay: float = 0) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(_FINISH + "WHERE id = :id AND locked_by = :me AND attempts = :n"),
                               {"status": status, "error": error, "delay": delay, **self._key(job)})

    async def _heartbeat(self, job: ClaimedJob) -> None:
        """Keeps ``locked_at`` fresh so a long task is not mistaken for a dead worker's."""
        while True:
            await asyncio.sleep(max(self.stale_after.total_seconds() / 3, 1))
            async with self.engine.begin() as conn:
                await conn.execute(text("UPDATE jobs SET locked_at = now() WHERE id = :id AND locked_by = :me "
                                        "AND attempts = :n AND status = 'running'"), self._key(job))

    async def recover_stale(self) -> int:
        """Re-queues jobs whose worker vanished (``running``, lock older than ``stale_after``); a job that
        already used all its attempts is marked ``failed`` instead, so a job that kills workers cannot loop."""
        async with self.engine.begin() as conn:
            result = await conn.execute(text("""
                UPDATE jobs SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
                    finished_at = CASE WHEN attempts >= max_attempts THEN now() END,
                    last_error = 'worker ' || coalesce(locked_by, '?') || ' lost the job (stale lock)',
                    locked_at = NULL, locked_by = NULL
                WHERE status = 'running' AND locked_at < now() - :age"""), {"age": self.stale_after})
        if count := result.rowcount:  # type: ignore[attr-defined]
            log.warning("recovered %d stale jobs", count, extra={"worker": self.name, "count": count})
        return int(count)

    async def enqueue_periodic(self, now: float | None = None) -> int:
        """Enqueues each periodic task's current slot unless a job for that slot ever existed; returns how many."""
        epoch = time.time() if now is None else now
        created = 0
        for task in self.registry.tasks.values():
            if task.every_seconds is None or (self.tasks is not None and task.name not in self.tasks):
                continue
            slot = math.floor(epoch / task.every_seconds)
            if self._periodic_slots.get(task.name) == slot:
                continue
            key = f"periodic:{task.name}:{slot}"
            async with self.engine.begin() as conn:
                result = await conn.execute(text("""
                    INSERT INTO jobs (task, payload, dedupe_key, max_attempts)
                    SELECT :task, CAST(:payload AS jsonb), :key, :attempts
                    WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE task = :task AND dedupe_key = :key)""" + _INSERT_TAIL),
                    {"task": task.name, "payload": json.dumps({"slot": slot}), "key": key,
                     "attempts": task.max_attempts})
            self._periodic_slots[task.name] = slot
            created += result.rowcount  # type: ignore[attr-defined]
        return created


_FINISH = """
    UPDATE jobs SET status = :status, last_error = :error, locked_at = NULL, locked_by = NULL,
        run_at = CASE WHEN :status = 'queued' THEN now() + make_interval(secs => :delay) ELSE run_at END,
        finished_at = CASE WHEN :status = 'queued' THEN NULL ELSE now() END
    """

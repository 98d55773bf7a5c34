"""The PostgreSQL job queue: transactional enqueue (as the API role), claiming, retries, recovery, wake-ups.

Every test uses its own task names and a worker restricted to them (``tasks=``), so tests never see each
other's jobs. Async code runs through ``asyncio.run`` inside plain tests.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from homeops.core import jobs
from homeops.core.jobs import JobContext, TaskRegistry, Worker, enqueue
from tests.conftest import PgTestDatabase


def unique(tag: str) -> str:
    return f"test.{tag}.{uuid.uuid4().hex[:10]}"


@asynccontextmanager
async def session_as(url: URL) -> AsyncIterator[AsyncSession]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with AsyncSession(engine) as session:
            yield session
    finally:
        await engine.dispose()


async def enqueue_committed(url: URL, task: str, payload: dict[str, Any], **kwargs: Any) -> bool:
    async with session_as(url) as session, session.begin():
        return await enqueue(session, task, payload, **kwargs)


def job_rows(conn: psycopg.Connection, task: str) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    return cur.execute(
        "SELECT *, run_at - now() AS due_in FROM jobs WHERE task = %s ORDER BY id", (task,)
    ).fetchall()


def run(coro_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(coro_fn())


def test_enqueue_as_api_role_exists_only_if_the_transaction_commits(
    test_db: PgTestDatabase, owner_conn: psycopg.Connection
) -> None:
    task = unique("outbox")
    ref, when = uuid.uuid4(), datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    async def main() -> None:
        async with session_as(test_db.app) as session:
            async with session.begin():
                assert await enqueue(session, task, {"ref": ref})
                await session.rollback()
            assert job_rows(owner_conn, task) == []
            async with session.begin():
                assert await enqueue(session, task, {"ref": ref, "when": when}, dedupe_key=f"k:{task}")

    run(main)
    [job] = job_rows(owner_conn, task)
    assert job["status"] == "queued" and job["attempts"] == 0 and job["max_attempts"] == 5
    assert job["payload"] == {"ref": str(ref), "when": "2030-01-02T03:04:05Z"}
    assert job["dedupe_key"] == f"k:{task}"


def test_api_role_still_cannot_read_job_payloads(app_conn: psycopg.Connection) -> None:
    # The enqueue path above must not rely on reading rows back: the role really is column-restricted.
    try:
        app_conn.execute("SELECT payload FROM jobs LIMIT 1")
    except psycopg.errors.InsufficientPrivilege:
        return
    raise AssertionError("homeops_app can read jobs.payload")


def test_dedupe_key_blocks_a_second_active_job_but_not_after_it_is_done(
    test_db: PgTestDatabase, owner_conn: psycopg.Connection
) -> None:
    task = unique("dedupe")
    reg = TaskRegistry()
    ran: list[dict[str, Any]] = []

    @reg.task(task)
    async def record(job: JobContext, payload: dict[str, Any]) -> None:
        ran.append(payload)

    async def main() -> None:
        key = f"dedupe:{task}"
        assert await enqueue_committed(test_db.app, task, {"n": 1}, dedupe_key=key)
        assert not await enqueue_committed(test_db.app, task, {"n": 2}, dedupe_key=key)
        assert [j["status"] for j in job_rows(owner_conn, task)] == ["queued"]
        async with Worker(test_db.owner, reg, tasks={task}) as worker:
            assert await worker.drain() == 1
        assert await enqueue_committed(test_db.app, task, {"n": 3}, dedupe_key=key)

    run(main)
    assert ran == [{"n": 1}]
    assert [(j["status"], j["payload"]) for j in job_rows(owner_conn, task)] == [
        ("done", {"n": 1}),
        ("queued", {"n": 3}),
    ]


def test_task_runs_in_a_transaction_and_is_marked_done(
    test_db: PgTestDatabase, owner_conn: psycopg.Connection
) -> None:
    task, table = unique("write"), f"jobtest_{uuid.uuid4().hex[:10]}"
    owner_conn.execute(f"CREATE TABLE {table} (value text NOT NULL)")
    reg = TaskRegistry()

    @reg.task(task)
    async def write(job: JobContext, payload: dict[str, Any]) -> None:
        session = job.session
        await session.execute(text(f"INSERT INTO {table} (value) VALUES (:v)"), {"v": payload["value"]})

    async def main() -> None:
        await enqueue_committed(test_db.app, task, {"value": "hello"})
        async with Worker(test_db.owner, reg, tasks={task}, name="w-done") as worker:
            assert await worker.run_once()
            assert not await worker.run_once()

    try:
        run(main)
        assert owner_conn.execute(f"SELECT value FROM {table}").fetchall() == [("hello",)]
        [job] = job_rows(owner_conn, task)
        assert job["status"] == "done" and job["attempts"] == 1 and job["finished_at"] is not None
        assert job["locked_by"] is None and job["last_error"] is None
    finally:
        owner_conn.execute(f"DROP TABLE {table}")


def test_failing_task_rolls_back_retries_with_backoff_then_fails(
    test_db: PgTestDatabase, owner_conn: psycopg.Connection
) -> None:
    task, table = unique("flaky"), f"jobtest_{uuid.uuid4().hex[:10]}"
    owner_conn.execute(f"CREATE TABLE {table} (value text NOT NULL)")

    # Registered on the module registry so enqueue picks up max_attempts=3 from the decorator.
    @jobs.registry.task(task, max_attempts=3, retry_backoff_seconds=100)
    async def flaky(job: JobContext, payload: dict[str, Any]) -> None:
        session = job.session
        await session.execute(text(f"INSERT INTO {table} (value) VALUES ('partial')"))
        raise RuntimeError("boom " + "x" * 10_000)

    def make_ready() -> None:
        owner_conn.execute("UPDATE jobs SET run_at = now() WHERE task = %s", (task,))

    async def main() -> None:
        await enqueue_committed(test_db.app, task, {})
        async with Worker(test_db.owner, jobs.registry, tasks={task}) as worker:
            assert await worker.run_once()
            [job] = job_rows(owner_conn, task)
            assert job["status"] == "queued" and job["attempts"] == 1 and job["max_attempts"] == 3
            assert 95 < job["due_in"].total_seconds() <= 100  # backoff * 2^0
            assert job["last_error"].startswith("RuntimeError: boom") and len(job["last_error"]) <= 4000
            assert job["last_error"].rstrip().endswith("x")  # the traceback's tail
            assert job["locked_by"] is None and job["finished_at"] is None
            assert not await worker.run_once()  # not ready before its backoff

            make_ready()
            assert await worker.run_once()
            [job] = job_rows(owner_conn, task)
            assert job["status"] == "queued" and job["attempts"] == 2
            assert 195 < job["due_in"].total_seconds() <= 200  # backoff * 2^1

            make_ready()
            assert await worker.run_once()
            [job] = job_rows(owner_conn, task)
            assert job["status"] == "failed" and job["attempts"] == 3 and job["finished_at"] is not None
            assert "boom" in job["last_error"]
            make_ready()
            assert not await worker.run_once()

    try:
        run(main)
        assert owner_conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    finally:
        jobs.registry.tasks.pop(task, None)
        owner_conn.execute(f"DROP TABLE {table}")


def test_unknown_task_fails_with_a_clear_error(
    test_db: PgTestDatabase, owner_conn: psycopg.Connection
) -> None:
    task = unique("unknown")

    async def main() -> None:
        await enqueue_committed(test_db.app, task, {})
        async with Worker(test_db.owner, TaskRegistry(), tasks={task}) as worker:
            assert await worker.run_once()

    run(main)
    [job] = job_rows(owner_conn, task)
    assert job["status"] == "failed" and job["attempts"] == 1
    assert f"unknown task '{task}'" in job["last_error"]


def test_concurrent_workers_never_run_the_same_job_twice(
    test_db: PgTestDatabase, owner_conn: psycopg.Connection
) -> None:
    task = unique("parallel")
    reg = TaskRegistry()
    seen: list[int] = []

    @reg.task(task)
    async def slow(job: JobContext, payload: dict[str, Any]) -> None:
        session = job.session
        await session.execute(text("SELECT pg_sleep(0.01)"))
        seen.append(payload["i"])

    async def main() -> None:
        async with session_as(test_db.app) as session, session.begin():
            for i in range(20):
                await enqueue(session, task, {"i": i})
        async with (
            Worker(test_db.owner, reg, tasks={task}) as a,
            Worker(test_db.owner, reg, tasks={task}) as b,
        ):
            counts = await asyncio.gather(a.drain(), b.drain(), a.drain(), b.drain())
        assert sum(counts) == 20 and counts[0] > 0 and counts[1] > 0

    run(main)
    assert sorted(seen) == list(range(20))
    rows = job_rows(owner_conn, task)
    assert {(j["status"], j["attempts"]) for j in rows} == {("done", 1)}


def test_stale_running_jobs_are_recovered(test_db: PgTestDatabase, owner_conn: psycopg.Connection) -> None:
    task = unique("stale")
    reg = TaskRegistry()

    @reg.task(task)
    async def noop(job: JobContext, payload: dict[str, Any]) -> None:
        return None

    insert = (
        "INSERT INTO jobs (task, payload, status, attempts, max_attempts, locked_at, locked_by)"
        " VALUES (%s, %s, 'running', %s, 3, now() - %s::interval, 'ghost') RETURNING id"
    )
    ids = {
        name: owner_conn.execute(insert, (task, Jsonb({"k": name}), attempts, age)).fetchall()[0][0]
        for name, attempts, age in [
            ("stale", 1, "1 hour"),
            ("fresh", 1, "1 minute"),
            ("exhausted", 3, "1 hour"),
        ]
    }

    async def main() -> None:
        async with Worker(test_db.owner, reg, tasks={task}) as worker:
            assert await worker.recover_stale() >= 2
            by_id = {j["id"]: j for j in job_rows(owner_conn, task)}
            assert by_id[ids["stale"]]["status"] == "queued" and by_id[ids["stale"]]["locked_by"] is None
            assert "ghost" in by_id[ids["stale"]]["last_error"]
            assert by_id[ids["fresh"]]["status"] == "running"
            assert by_id[ids["exhausted"]]["status"] == "failed"
            assert await worker.drain() == 1

    run(main)
    by_id = {j["id"]: j for j in job_rows(owner_conn, task)}
    assert (by_id[ids["stale"]]["status"], by_id[ids["stale"]]["attempts"]) == ("done", 2)


def test_long_task_keeps_its_lock_fresh_and_a_recovered_job_rolls_back(
    test_db: PgTestDatabase, owner_conn: psycopg.Connection
) -> None:
    task, table = unique("long"), f"jobtest_{uuid.uuid4().hex[:10]}"
    owner_conn.execute(f"CREATE TABLE {table} (value text NOT NULL)")
    reg = TaskRegistry()
    locks: list[datetime] = []

    @reg.task(task)
    async def long(job: JobContext, payload: dict[str, Any]) -> None:
        session = job.session
        await session.execute(text(f"INSERT INTO {table} (value) VALUES (:v)"), {"v": payload["mode"]})
        locks.append(job_rows(owner_conn, task)[-1]["locked_at"])
        await asyncio.sleep(1.3)  # heartbeat every max(stale_after / 3, 1 s)
        locks.append(job_rows(owner_conn, task)[-1]["locked_at"])
        if payload["mode"] == "recovered":  # as if recover_stale had taken it from this worker meanwhile
            owner_conn.execute(
                "UPDATE jobs SET status = 'queued', locked_by = NULL WHERE task = %s AND status = 'running'",
                (task,),
            )

    async def main() -> None:
        async with Worker(test_db.owner, reg, tasks={task}, stale_after=timedelta(seconds=3)) as worker:
            await enqueue_committed(test_db.app, task, {"mode": "kept"})
            assert await worker.run_once()
            assert locks[1] > locks[0]
            await enqueue_committed(test_db.app, task, {"mode": "recovered"})
            assert await worker.run_once()

    try:
        run(main)
        assert [(j["status"], j["payload"]["mode"]) for j in job_rows(owner_conn, task)] == [
            ("done", "kept"),
            ("queued", "recovered"),  # left for its new owner, not marked done by the one that lost it
        ]
        assert owner_conn.execute(f"SELECT value FROM {table}").fetchall() == [("kept",)]
    finally:
        owner_conn.execute(f"DROP TABLE {table}")


def test_periodic_enqueue_is_idempotent_per_slot(
    test_db: PgTestDatabase, owner_conn: psycopg.Connection
) -> None:
    task = unique("periodic")
    reg = TaskRegistry()
    slots: list[int] = []

    @reg.periodic(task, every_seconds=60)
    async def tick(job: JobContext, payload: dict[str, Any]) -> None:
        slots.append(payload["slot"])

    now = 1_800_000_030.0  # slot 30_000_000

    async def main() -> None:
        async with (
            Worker(test_db.owner, reg, tasks={task}) as a,
            Worker(test_db.owner, reg, tasks={task}) as b,
        ):
            assert await a.enqueue_periodic(now) == 1
            assert await a.enqueue_periodic(now + 20) == 0
            assert await b.enqueue_periodic(now) == 0  # another worker, same slot (job still queued)
            assert await a.drain() == 1
        async with Worker(test_db.owner, reg, tasks={task}) as c:
            assert await c.enqueue_periodic(now + 10) == 0  # same slot, job already done
            assert await c.enqueue_periodic(now + 60) == 1  # next slot
            assert await c.drain() == 1

    run(main)
    assert slots == [30_000_000, 30_000_001]
    assert [j["dedupe_key"] for j in job_rows(owner_conn, task)] == [
        f"periodic:{task}:30000000",
        f"periodic:{task}:30000001",
    ]


def test_run_wakes_on_notify_and_stops_promptly(
    test_db: PgTestDatabase, owner_conn: psycopg.Connection
) -> None:
    task = unique("notify")
    reg = TaskRegistry()

    @reg.task(task)
    async def noop(job: JobContext, payload: dict[str, Any]) -> None:
        return None

    async def wait_for_status(status: str, timeout: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            rows = job_rows(owner_conn, task)
            if rows and rows[-1]["status"] == status:
                return time.monotonic() - start
            await asyncio.sleep(0.05)
        raise AssertionError(f"job not {status} after {timeout}s: {job_rows(owner_conn, task)}")

    owner_conn.execute(  # left behind by a dead worker: recovered when the worker starts
        "INSERT INTO jobs (task, status, attempts, locked_at, locked_by)"
        " VALUES (%s, 'running', 1, now() - interval '1 hour', 'ghost')",
        (task,),
    )

    async def main() -> None:
        stop = asyncio.Event()
        worker = Worker(test_db.owner, reg, tasks={task}, poll_interval=30)
        runner = asyncio.create_task(worker.run(stop))
        await wait_for_status("done", timeout=2.0)
        await asyncio.sleep(0.3)  # the worker found nothing more and is now idle, listening
        assert not runner.done()
        await enqueue_committed(test_db.app, task, {})
        assert await wait_for_status("done", timeout=2.0) < 2.0
        await asyncio.sleep(0.2)  # idle again: stopping must not wait for the 30 s poll interval
        started = time.monotonic()
        stop.set()
        await asyncio.wait_for(runner, timeout=2.0)
        assert time.monotonic() - started < 2.0

    run(main)


def test_run_with_concurrency_runs_jobs_in_parallel(
    test_db: PgTestDatabase, owner_conn: psycopg.Connection
) -> None:
    task = unique("concurrency")
    reg = TaskRegistry()
    active, peak = 0, 0

    @reg.task(task)
    async def slow(job: JobContext, payload: dict[str, Any]) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.3)
        active -= 1

    async def main() -> None:
        async with session_as(test_db.app) as session, session.begin():
            for i in range(6):
                await enqueue(session, task, {"i": i})
        stop = asyncio.Event()
        runner = asyncio.create_task(Worker(test_db.owner, reg, tasks={task}, concurrency=3).run(stop))
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and {j["status"] for j in job_rows(owner_conn, task)} != {"done"}:
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(runner, timeout=2)

    run(main)
    assert {j["status"] for j in job_rows(owner_conn, task)} == {"done"}
    assert peak == 3

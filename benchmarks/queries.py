"""Time seed 000's "Common Queries" against the data set made by benchmarks/generate.py.

    python benchmarks/queries.py [--samples 500] [--data-dir benchmarks/.data] [--http] [--tag NAME]
                                 [--explain-only] [--explain-options "ANALYZE, VERBOSE"]

The database: the embedded server in --data-dir, or HOMEOPS_DATABASE_URL (e.g. a Citus coordinator).

(a) SQL: the exact statements the application emits - captured from the repositories
    (``DeviceRepository.search`` for Query 1, ``LinkRepository.device_manuals`` for Query 2,
    ``ManualRepository.by_file_hash / by_content_hash / by_composite`` for Query 3,
    ``ScheduleRepository.due`` for Query 4, ``SessionRepository.search`` for Query 5), called with the
    arguments the services pass (the caller's home ids, the clock's ``now`` ...), through SQLAlchemy's
    ``before_cursor_execute`` event - re-executed with psycopg as the API role ``homeops_app``, row-level
    security on, each sample in its own transaction after ``SELECT homeops_sign_in(user, password_hash)``
    (the database sets the identity the row policies read, as at login; ``homeops_begin`` does the same for
    a session). Only the statement itself (execute + fetch) is timed.
    EXPLAIN (ANALYZE, BUFFERS) of Queries 1-5 goes to benchmarks/results/explain.txt.
(b) --http: the API in a uvicorn subprocess on 127.0.0.1 (free port); a few bench users log in; sequential,
    bounded GET /api/v1/devices?status=active, GET /api/v1/devices/{id}/manuals,
    GET /api/v1/maintenance/upcoming?days=30 and GET /api/v1/troubleshooting-sessions?symptoms=… with httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import random
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
from _serve import free_port, stop, wait_ready
from psycopg import sql as pgsql
from psycopg.types.json import Jsonb
from rich.console import Console
from rich.table import Table
from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from homeops.bootstrap import prepare_database
from homeops.core.config import Settings
from homeops.core.database import libpq_dsn
from homeops.core.pagination import PageParams
from homeops.devices.links import LinkRepository
from homeops.devices.models import DeviceStatus
from homeops.devices.repository import DeviceRepository
from homeops.identity.repository import sign_in
from homeops.maintenance.repository import ScheduleRepository
from homeops.manuals.models import ManualType
from homeops.manuals.repository import ManualRepository
from homeops.troubleshooting.models import TroubleshootingSession
from homeops.troubleshooting.repository import SessionRepository

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BENCH_DOMAIN = "bench.homeops.org"
BENCH_PASSWORD = "bench-password-1"
HEAVY_DEVICES = 20  # seed 000: "Expected: <10ms for 20 appliances"
HEAVY_SESSIONS = 60  # Query 5 is also timed for owners with this many troubleshooting sessions (3x the mean)
UPCOMING_DAYS = 30  # Query 4: GET /maintenance/upcoming?days=30
UPCOMING_LIMIT = 200  # the endpoint's default limit
WARMUP = 10
# Seed 000 "Common Queries & Performance" targets (ms).
TARGET_Q1, TARGET_Q2, TARGET_L1, TARGET_L2, TARGET_L3 = 10.0, 5.0, 1.0, 2.0, 5.0
TARGET_Q4, TARGET_Q5 = 10.0, 20.0

console = Console(width=int(os.environ.get("COLUMNS", "150")))


# --------------------------------------------------------------------------------------------------------
# Capturing the application's SQL
# --------------------------------------------------------------------------------------------------------

# How a repository may turn an argument into a bind parameter (detected per argument at capture time).
TRANSFORMS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("as is", lambda v: v),
    ("strip", lambda v: v.strip()),
    ("strip + lower", lambda v: v.strip().lower()),
    ("enum value", lambda v: v.value),
    ("normalise", lambda v: " ".join(v.split()).upper()),
    ("[normalise]", lambda v: [" ".join(v.split()).upper()]),
    ("normalise each", lambda v: [" ".join(x.split()).upper() for x in v]),
    ("jsonb", lambda v: Jsonb(v)),
    # ScheduleRepository.due: constant bounds around the clock's instant (every home's date is UTC's ± 1).
    ("UTC date - 1 day", lambda v: v.astimezone(UTC).date() - timedelta(days=1)),
    ("UTC date + 1 day", lambda v: v.astimezone(UTC).date() + timedelta(days=1)),
)


def same_value(a: Any, b: Any) -> bool:
    """Bind-parameter equality; psycopg's Jsonb wrapper compares by the value it wraps."""
    if type(a) is not type(b):
        return False
    return bool(a.obj == b.obj) if isinstance(a, Jsonb) else bool(a == b)


@dataclass
class Captured:
    name: str
    sql: str
    params: dict[str, Any]
    slots: dict[str, list[tuple[str, str]]]  # argument → [(bind parameter, transform name), …]

    def bind(self, **values: Any) -> dict[str, Any]:
        """The captured parameters with per-sample arguments, transformed as the repository does (one
        argument may feed several parameters: Query 4 names the homes on both joined tables)."""
        params = dict(self.params)
        transforms = dict(TRANSFORMS)
        for arg, value in values.items():
            for name, transform in self.slots[arg]:
                params[name] = transforms[transform](value)
        return params


# What homeops_identity_apply sets (the identity migration's SETTINGS).
IDENTITY_SETTINGS = (
    "uid",
    "role",
    "staff",
    "homes_read",
    "homes_write",
    "homes_admin",
    "homes_owner",
    "orgs_read",
    "orgs_write",
    "orgs_admin",
    "orgs_owner",
)
IDENTITY_SQL = "SELECT homeops_sign_in(%s, %s)"  # the row-security identity, set by the database (not timed)


def establish(cur: psycopg.Cursor[Any], user_id: uuid.UUID, password_hash: str) -> None:
    """The transaction acts for ``user_id`` (role and memberships read by the database, ``SET LOCAL``)."""
    cur.execute(IDENTITY_SQL, (user_id, password_hash))
    row = cur.fetchone()
    if row is None or row[0] is None:
        raise RuntimeError(f"homeops_sign_in refused user {user_id}")


async def capture(
    app_url: URL,
    user_id: uuid.UUID,
    password_hash: str,
    name: str,
    call: Callable[[AsyncSession], Awaitable[Any]],
    sentinels: dict[str, Any],
    *,
    rollback: bool = False,
) -> Captured:
    """Runs ``call`` (a repository method) as the API role, signed in as ``user_id``, and records the statement
    it sends to psycopg.

    ``sentinels`` are the distinctive argument values given to the call; each must reappear, possibly
    transformed (see TRANSFORMS: stripped, lowered, enum value, a date derived from an instant ...), in at
    least one bind parameter, and no parameter may come from two arguments.
    """
    engine = create_async_engine(app_url, poolclass=NullPool)
    seen: list[tuple[str, Any]] = []
    # Seen at the driver's cursor: the hot reads bypass SQLAlchemy (compiled once, run through psycopg).
    original = psycopg.AsyncCursor.execute

    async def hook(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        seen.append((query.decode() if isinstance(query, bytes) else str(query), params))
        return await original(self, query, params, **kwargs)

    psycopg.AsyncCursor.execute = hook  # type: ignore[method-assign]
    try:
        async with AsyncSession(engine) as session:
            await session.begin()
            if await sign_in(session, user_id, password_hash) is None:
                raise RuntimeError(f"{name}: homeops_sign_in refused user {user_id}")
            seen.clear()
            await call(session)
            await (session.rollback() if rollback else session.commit())
    finally:
        psycopg.AsyncCursor.execute = original  # type: ignore[method-assign]
        await engine.dispose()
    if len(seen) != 1:
        raise RuntimeError(f"{name}: expected one statement, captured {len(seen)}")
    statement, params = seen[0]
    params = dict(params or {})
    slots: dict[str, list[tuple[str, str]]] = {}
    owner: dict[str, str] = {}
    for arg, value in sentinels.items():
        expected: list[tuple[str, Any]] = []
        for label, transform in TRANSFORMS:
            try:
                expected.append((label, transform(value)))
            except (AttributeError, TypeError):
                continue
        for key, bound in params.items():
            label = next((lbl for lbl, e in expected if same_value(bound, e)), None)
            if label is None:
                continue
            if key in owner:
                raise RuntimeError(f"{name}: parameter {key} matches both {owner[key]} and {arg}")
            owner[key] = arg
            slots.setdefault(arg, []).append((key, label))
        if arg not in slots:
            raise RuntimeError(f"{name}: argument {arg}={value!r} not found in the parameters {params}")
    return Captured(name, statement, params, slots)


async def capture_all(app_url: URL, owner_dsn: str, password_hash: str) -> dict[str, Captured]:
    """One call of each repository method with the arguments its service passes for a caller with one home
    (every bench user has exactly one: ``in_homes`` then emits ``home_id = :id``; several homes would make it
    ``home_id IN (…)``, a different statement)."""
    with psycopg.connect(owner_dsn) as conn:
        row = conn.execute(
            "SELECT u.id FROM users u WHERE u.email LIKE %s ORDER BY u.email LIMIT 1", (f"%@{BENCH_DOMAIN}",)
        ).fetchone()
    assert row is not None
    uid = row[0]
    s_uid, s_home, s_dev = (
        uuid.UUID(int=0xBE7C4, version=4),
        uuid.UUID(int=0x40FE, version=4),
        uuid.UUID(int=0xDE71CE, version=4),
    )
    limit = PageParams().limit  # the API's default page size (the repository asks for limit + 1)
    out = {}
    # Query 1 (GET /devices?status=active): DeviceService.search passes the caller's home ids.
    out["q1"] = await capture(
        app_url,
        uid,
        password_hash,
        "Query 1",
        lambda s: DeviceRepository(s).search(
            home_ids=[s_home],
            status=DeviceStatus.active,
            category=None,
            serial_index=None,
            room_id=None,
            limit=limit,
            after=None,
        ),
        {"home_id": s_home},
    )
    # Query 2 (GET /devices/{id}/manuals): DeviceManualService.manuals → device_manuals(device, caller's homes).
    out["q2"] = await capture(
        app_url,
        uid,
        password_hash,
        "Query 2",
        lambda s: LinkRepository(s).device_manuals(s_dev, [s_home]),
        {"device_id": s_dev, "home_id": s_home},
    )
    out["l1"] = await capture(
        app_url,
        uid,
        password_hash,
        "Query 3 L1",
        lambda s: ManualRepository(s).by_file_hash("f" * 64, [s_home]),
        {"file_hash": "f" * 64, "home_id": s_home},
    )
    out["l2"] = await capture(
        app_url,
        uid,
        password_hash,
        "Query 3 L2",
        lambda s: ManualRepository(s).by_content_hash("c" * 64, [s_home]),
        {"content_hash": "c" * 64, "home_id": s_home},
    )
    out["l3"] = await capture(
        app_url,
        uid,
        password_hash,
        "Query 3 L3",
        lambda s: ManualRepository(s).by_composite(
            "  Bench-Brand ", ["BENCH-MODEL-1"], ManualType.warranty, "bench-version", [s_home]
        ),
        {
            "brand": "  Bench-Brand ",
            "model_numbers": ["BENCH-MODEL-1"],
            "manual_type": ManualType.warranty,
            "version": "bench-version",
            "home_ids": [s_home],
        },
    )
    # Query 4 (GET /maintenance/upcoming?days=30): MaintenanceService.upcoming → due(caller's homes, clock now,
    # days, limit). ``now`` also gives the constant bounds (UTC date ± 1); the homes appear twice.
    s_now = datetime(2099, 1, 2, 12, 34, 56, tzinfo=UTC)
    out["q4"] = await capture(
        app_url,
        uid,
        password_hash,
        "Query 4",
        lambda s: ScheduleRepository(s).due([s_home], s_now, UPCOMING_DAYS, UPCOMING_LIMIT),
        {"home_id": s_home, "now": s_now},
    )
    # Query 5 (GET /troubleshooting-sessions?symptoms=…, default page): SessionService.search → the caller's id
    # and ``home_filter`` (the caller's homes). The API normalises the symptoms (schemas.normalise_symptoms)
    # before the repository; the samples are stored, i.e. normalised, values.
    out["q5"] = await capture(
        app_url,
        uid,
        password_hash,
        "Query 5",
        lambda s: SessionRepository(s).search(
            user_id=s_uid,
            homes=TroubleshootingSession.home_id == s_home,
            symptoms=["bench symptom"],
            status=None,
            device_id=None,
            limit=limit,
            after=None,
        ),
        {"user_id": s_uid, "home_id": s_home, "symptoms": ["bench symptom"]},
    )
    # Device creation's manual auto-link (INSERT ... SELECT): captured in a rolled-back transaction.
    out["autolink"] = await capture(
        app_url,
        uid,
        password_hash,
        "auto_link_device",
        lambda s: LinkRepository(s).auto_link_device(s_dev, s_home, "  Bench-Brand ", " bench-model-1 "),
        {"device_id": s_dev, "home_id": s_home, "brand": "  Bench-Brand ", "model_number": " bench-model-1 "},
        rollback=True,
    )
    return out


# --------------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


@dataclass
class Result:
    name: str
    target_ms: float | None
    times_ms: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    note: str = ""
    server_cpu_ms: float | None = None  # HTTP: the API process's CPU time per timed request
    server_ms: list[int] = field(default_factory=list)  # HTTP: duration_ms from the API's request log

    @property
    def p50(self) -> float:
        return percentile(self.times_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.times_ms, 99)


Statement = Captured | Callable[[dict[str, Any]], tuple[str, Any]]


SQL_BUDGET_S = 60.0  # per query; --sql-seconds
DEFAULT_EXPLAIN_OPTIONS = "ANALYZE, BUFFERS, VERBOSE, SETTINGS"
EXPLAIN_OPTIONS = DEFAULT_EXPLAIN_OPTIONS  # --explain-options
BENCH_HASH = ""  # the bench users' one bcrypt hash (read once as the owner): homeops_sign_in checks it


def run_sql(
    conn: psycopg.Connection,
    stmt: Statement,
    samples: list[tuple[uuid.UUID, dict[str, Any]]],
    result: Result,
    *,
    rollback: bool = False,
) -> None:
    """Each sample: its own transaction (``conn`` is in autocommit mode: BEGIN … COMMIT, never a savepoint),
    the identity established by ``homeops_sign_in`` (not timed), then the timed statement (execute + fetch).
    ``rollback``: undo each sample (for writes). Stops after SQL_BUDGET_S."""
    deadline = time.monotonic() + SQL_BUDGET_S
    with conn.cursor() as cur:
        for i, (user_id, args) in enumerate(samples):
            sql, params = (stmt.sql, stmt.bind(**args)) if isinstance(stmt, Captured) else stmt(args)
            with conn.transaction(force_rollback=rollback):
                establish(cur, user_id, BENCH_HASH)
                start = time.perf_counter()
                cur.execute(sql, params)
                n = len(cur.fetchall()) if cur.description else max(0, cur.rowcount)
                elapsed = (time.perf_counter() - start) * 1000
            if i >= WARMUP:
                result.times_ms.append(elapsed)
                result.rows.append(n)
            if time.monotonic() > deadline and i + 1 < len(samples):
                result.note = f"stopped by the {SQL_BUDGET_S:g}s budget after {len(result.times_ms)} samples"
                break


def results_table(title: str, results: list[Result]) -> Table:
    cpu = any(r.server_cpu_ms is not None for r in results)
    table = Table(
        "query",
        "n",
        "rows/sample (mean)",
        "p50 ms",
        "p99 ms",
        "max ms",
        "target ms",
        "p99/target",
        "pass",
        *(["API CPU ms/req", "API log p50/p99 ms"] if cpu else []),
        title=title,
    )
    for r in results:
        ok = r.target_ms is None or r.p99 < r.target_ms
        extra = (
            [
                f"{r.server_cpu_ms:.2f}" if r.server_cpu_ms is not None else "",
                f"{percentile(r.server_ms, 50):.0f} / {percentile(r.server_ms, 99):.0f}"
                if r.server_ms
                else "",
            ]
            if cpu
            else []
        )
        table.add_row(
            r.name,
            str(len(r.times_ms)),
            f"{sum(r.rows) / max(1, len(r.rows)):.1f}",
            f"{r.p50:.3f}",
            f"{r.p99:.3f}",
            f"{max(r.times_ms):.3f}",
            f"< {r.target_ms:g}" if r.target_ms else "-",
            f"{r.p99 / r.target_ms:.2f}" if r.target_ms else "-",
            "-" if r.target_ms is None else "[green]PASS[/green]" if ok else "[red]FAIL[/red]",
            *extra,
        )
    return table


# --------------------------------------------------------------------------------------------------------
# EXPLAIN
# --------------------------------------------------------------------------------------------------------

_PARAM = re.compile(r"%\((\w+)\)s")


LOCAL_EXECUTION_CONFLICT = "local execution has accessed a placement"
NO_ANALYZE = "EXPLAIN ANALYZE is currently not supported"


def explain(
    conn: psycopg.Connection, cap: Captured, user_id: uuid.UUID, args: dict[str, Any], generic: bool
) -> str:
    """EXPLAIN (``--explain-options``) as the API role with RLS, after the identity statement in the same
    transaction. ``generic``: the plan PostgreSQL caches for a prepared statement (psycopg prepares a query
    after 5 executions on a connection), forced.

    Two Citus refusals are worked around, and the output says so:

    * EXPLAIN ANALYZE after the identity function executed locally on the coordinator (it reads the
      coordinator's reference-table placements users and home_members) fails with "cannot execute command
      because a local execution has accessed a placement in the transaction" — the statement itself runs fine
      after it (the API does exactly that). Then the identity is set with ``SET LOCAL`` of the very values the
      function set (read back from a first transaction): what the function does, minus its table reads.
    * "EXPLAIN ANALYZE is currently not supported for INSERT ... SELECT commands via coordinator": EXPLAIN
      without ANALYZE."""
    notes: list[str] = []
    identity, options = "function", EXPLAIN_OPTIONS
    for _ in range(3):
        try:
            return "".join(notes) + _explain(conn, cap, user_id, args, generic, identity, options)
        except psycopg.errors.InternalError_ as exc:
            message = exc.diag.message_primary or str(exc)
            if LOCAL_EXECUTION_CONFLICT in message and identity == "function":
                identity = "set local"
                notes.append(
                    f"-- Citus: {message} (the identity function executed locally first). Identity set "
                    "instead with SET LOCAL homeops.* = the values homeops_sign_in set for this user.\n"
                )
            elif NO_ANALYZE in message and "ANALYZE" in options.upper():
                options = ", ".join(o for o in options.split(",") if o.strip().upper() != "ANALYZE")
                notes.append(f"-- Citus: {message}. Plain EXPLAIN ({options}).\n")
            else:
                raise
        finally:
            _drop_generic(conn)
    raise RuntimeError(f"EXPLAIN of {cap.name}: gave up")


def _drop_generic(conn: psycopg.Connection) -> None:
    if conn.execute("SELECT 1 FROM pg_prepared_statements WHERE name = 'bench_generic'").fetchone():
        conn.execute("DEALLOCATE bench_generic")  # PREPARE outlives a rolled-back transaction


def identity_settings(conn: psycopg.Connection, user_id: uuid.UUID) -> list[tuple[str, str]]:
    """The ``homeops.*`` settings ``homeops_sign_in`` makes for ``user_id`` (read in a rolled-back transaction)."""
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        establish(cur, user_id, BENCH_HASH)
        names = [f"homeops.{n}" for n in IDENTITY_SETTINGS]
        row = cur.execute("SELECT " + ", ".join(f"current_setting('{n}', true)" for n in names)).fetchone()
        assert row is not None
        return list(zip(names, row, strict=True))


def _explain(
    conn: psycopg.Connection,
    cap: Captured,
    user_id: uuid.UUID,
    args: dict[str, Any],
    generic: bool,
    identity: str,
    options: str,
) -> str:
    params = cap.bind(**args)
    settings = identity_settings(conn, user_id) if identity == "set local" else []
    with conn.transaction(force_rollback=True), conn.cursor() as cur:  # EXPLAIN ANALYZE runs writes: undo
        if identity == "function":
            establish(cur, user_id, BENCH_HASH)
        else:
            for name, value in settings:
                cur.execute(pgsql.SQL("SET LOCAL {} = {}").format(pgsql.SQL(name), pgsql.Literal(value)))
        if not generic:
            cur.execute(f"EXPLAIN ({options}) " + cap.sql, params)
            return "\n".join(r[0] for r in cur.fetchall())
        order: list[str] = []

        def number(m: re.Match[str]) -> str:
            if m.group(1) not in order:
                order.append(m.group(1))
            return f"${order.index(m.group(1)) + 1}"

        statement = _PARAM.sub(number, cap.sql).replace("%%", "%")
        cur.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cur.execute(f"PREPARE bench_generic AS {statement}")
        literals = pgsql.SQL(", ").join(pgsql.Literal(params[name]) for name in order)
        cur.execute(pgsql.SQL(f"EXPLAIN ({options}) EXECUTE bench_generic ({{}})").format(literals))
        return "\n".join(r[0] for r in cur.fetchall())


# --------------------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------------------


def serve(port: int) -> None:
    """Subprocess entry: the API on 127.0.0.1:port (database URLs come from the parent's environment)."""
    import uvicorn

    from homeops.app import create_app
    from homeops.core.database import resolve_urls
    from homeops.core.logging import configure_logging

    settings = Settings()
    configure_logging("INFO", True)  # one JSON line per request (with duration_ms) into http-server.log
    if os.environ.get("BENCH_TRACE_SQL"):
        trace_sql(Path(os.environ["BENCH_TRACE_SQL"]))
    urls = resolve_urls(settings, start_embedded=False)
    uvicorn.run(
        create_app(settings, urls.app), host="127.0.0.1", port=port, log_level="warning", log_config=None
    )


def trace_sql(path: Path) -> None:
    """Diagnostics: every statement the API sends, with its driver time, one line each."""
    from sqlalchemy.engine import Engine

    out = path.open("w", buffering=1)

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        ms = (time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())) * 1000
        out.write(f"{time.time():.6f}\t{ms:.3f}\t{' '.join(statement.split())[:200]}\n")


def output_name(stem: str, tag: str, ext: str = "txt") -> str:
    return f"{stem}-{tag}.{ext}" if tag else f"{stem}.{ext}"


def http_bench(args: argparse.Namespace, urls: Any, owner_dsn: str) -> list[Result]:
    import httpx

    with psycopg.connect(owner_dsn) as conn:
        heavy = conn.execute(
            "SELECT u.email FROM users u JOIN homes h ON h.owner_id = u.id JOIN devices d ON d.home_id = h.id "
            "WHERE d.status = 'active' AND u.email LIKE %s GROUP BY u.email HAVING count(*) >= %s "
            "ORDER BY md5(u.email) LIMIT %s",
            (f"%@{BENCH_DOMAIN}", HEAVY_DEVICES, args.http_users),
        ).fetchall()
        typical = conn.execute(
            "SELECT email FROM users WHERE email LIKE %s ORDER BY md5(email || 'typical') LIMIT %s",
            (f"%@{BENCH_DOMAIN}", args.http_users),
        ).fetchall()
        # Query 5 over HTTP: the typical users' own symptoms (hits) and symptoms they never reported (misses).
        typical_ids = {
            e: u
            for e, u in conn.execute(
                "SELECT email, id FROM users WHERE email = ANY(%s)", ([e for (e,) in typical],)
            ).fetchall()
        }
        symptoms_of = session_symptoms(conn, list(typical_ids.values()))
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "HOMEOPS_DATABASE_URL": urls.owner.render_as_string(hide_password=False),
            "HOMEOPS_APP_DATABASE_URL": urls.app.render_as_string(hide_password=False),
            "HOMEOPS_DATA_DIR": str(Path(args.data_dir).resolve()),
            "HOMEOPS_LOG_LEVEL": "WARNING",
            "HOMEOPS_RUN_WORKER": "false",
        }
    )
    log = (RESULTS / output_name("http-server", args.tag, "log")).open("w")
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    results: list[Result] = []
    try:
        with httpx.Client(base_url=base, timeout=30.0) as client:
            wait_ready(f"{base}/healthz", proc)  # see the server's log if it raises
            console.print(f"API up on {base} (pid {proc.pid})")

            def login(email: str) -> dict[str, str]:
                r = client.post("/api/v1/auth/login", json={"email": email, "password": BENCH_PASSWORD})
                r.raise_for_status()
                return {"Authorization": f"Bearer {r.json()['access_token']}"}

            start = time.perf_counter()
            groups = {"heavy": [login(e) for (e,) in heavy], "typical": [login(e) for (e,) in typical]}
            console.print(
                f"logged in {sum(map(len, groups.values()))} bench users in "
                f"{time.perf_counter() - start:.1f}s (bcrypt)"
            )
            device_ids: list[tuple[dict[str, str], str]] = []

            def process_cpu_s(pid: int) -> float:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

            def timed(result: Result, calls: list[tuple[str, dict[str, str]]], collect: bool) -> None:
                budget = time.monotonic() + args.http_seconds
                cpu_start = 0.0
                for i in range(args.http_requests + WARMUP):
                    if i == WARMUP:
                        cpu_start = process_cpu_s(proc.pid)
                    path, headers = calls[i % len(calls)]
                    tag = f"bench-{len(results)}-{i}" if i >= WARMUP else f"warmup-{len(results)}-{i}"
                    t0 = time.perf_counter()
                    r = client.get(path, headers={**headers, "X-Request-ID": tag})
                    elapsed = (time.perf_counter() - t0) * 1000
                    r.raise_for_status()
                    body = r.json()
                    n = (
                        len(body["items"])
                        if isinstance(body, dict) and "items" in body
                        else len(body)
                        if isinstance(body, list)
                        else 1
                    )
                    if collect:
                        device_ids.extend((headers, d["id"]) for d in body["items"])
                    if i >= WARMUP:
                        result.times_ms.append(elapsed)
                        result.rows.append(n)
                    if time.monotonic() > budget:
                        result.note = f"stopped by the {args.http_seconds}s budget"
                        break
                if result.times_ms:
                    result.server_cpu_ms = (process_cpu_s(proc.pid) - cpu_start) * 1000 / len(result.times_ms)

            # Baselines: the framework + one trivial query, and authentication + one small query.
            res = Result("GET /healthz (baseline: no auth, SELECT 1)", None)
            timed(res, [("/healthz", {})], collect=False)
            results.append(res)
            res = Result("GET /api/v1/users/me (baseline: auth + 1 row)", None)
            timed(res, [("/api/v1/users/me", h) for h in groups["typical"]], collect=False)
            results.append(res)
            for group, target in (("heavy", TARGET_Q1), ("typical", TARGET_Q1)):
                label = f"≥{HEAVY_DEVICES} active devices" if group == "heavy" else "random users"
                res = Result(f"GET /api/v1/devices?status=active ({label})", target)
                timed(res, [("/api/v1/devices?status=active", h) for h in groups[group]], collect=True)
                results.append(res)
            rng = random.Random(args.seed)
            rng.shuffle(device_ids)
            res = Result("GET /api/v1/devices/{id}/manuals", TARGET_Q2)
            timed(res, [(f"/api/v1/devices/{d}/manuals", h) for h, d in device_ids[:500]], collect=False)
            results.append(res)
            for group in ("heavy", "typical"):
                label = f"≥{HEAVY_DEVICES} active devices" if group == "heavy" else "random users"
                res = Result(f"GET /api/v1/maintenance/upcoming?days={UPCOMING_DAYS} ({label})", TARGET_Q4)
                timed(
                    res,
                    [(f"/api/v1/maintenance/upcoming?days={UPCOMING_DAYS}", h) for h in groups[group]],
                    collect=False,
                )
                results.append(res)
            # Query 5: per logged-in user, 25 filters drawn from their own sessions (1 or 2 symptoms of one
            # session: at least that session matches) and 25 symptoms they never reported (no match).
            headers_of = dict(zip((e for (e,) in typical), groups["typical"], strict=True))
            vocabulary = sorted({x for lists in symptoms_of.values() for ss in lists for x in ss})
            calls: dict[str, list[tuple[str, dict[str, str]]]] = {"one": [], "two": [], "miss": []}
            for email, user_id in typical_ids.items():
                lists = symptoms_of.get(user_id, [])
                had = {x for ss in lists for x in ss}
                for kind, k in (("one", 1), ("two", 2)):
                    pool = [ss for ss in lists if len(ss) >= k]
                    calls[kind] += [
                        (rng.sample(rng.choice(pool), k), headers_of[email]) for _ in range(25) if pool
                    ]
                unused = [x for x in vocabulary if x not in had]
                calls["miss"] += [([rng.choice(unused)], headers_of[email]) for _ in range(25) if unused]
            for kind, label in (
                ("one", "1 own symptom"),
                ("two", "2 symptoms of one own session"),
                ("miss", "1 symptom never reported"),
            ):
                if not calls[kind]:
                    continue
                rng.shuffle(calls[kind])
                res = Result(f"GET /api/v1/troubleshooting-sessions?symptoms=… ({label})", TARGET_Q5)
                timed(
                    res,
                    [
                        ("/api/v1/troubleshooting-sessions?" + urlencode([("symptoms", x) for x in sx]), h)
                        for sx, h in calls[kind]
                    ],
                    collect=False,
                )
                results.append(res)
    finally:
        stop(proc)
        log.close()
    # The API's own view: duration_ms of each timed request (whole milliseconds), matched by X-Request-ID.
    durations: dict[str, int] = {}
    log_path = RESULTS / output_name("http-server", args.tag, "log")
    for line in log_path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and str(entry.get("request_id", "")).startswith("bench-"):
            durations[entry["request_id"]] = int(entry.get("duration_ms", 0))
    for index, result in enumerate(results):
        result.server_ms = [v for k, v in durations.items() if k.startswith(f"bench-{index}-")]
    if not args.keep_server_log:
        log_path.unlink()
    return results


# --------------------------------------------------------------------------------------------------------


def session_symptoms(conn: psycopg.Connection, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[list[str]]]:
    """Each user's sessions' symptoms (as stored, i.e. normalised), oldest first."""
    out: dict[uuid.UUID, list[list[str]]] = {}
    for user_id, symptoms in conn.execute(
        "SELECT user_id, symptoms FROM troubleshooting_sessions WHERE user_id = ANY(%s) "
        "ORDER BY user_id, created_at, id",
        (user_ids,),
    ):
        out.setdefault(user_id, []).append(symptoms)
    return out


def symptom_samples(
    by_user: dict[uuid.UUID, list[list[str]]],
    user_ids: list[uuid.UUID],
    k: int,
    rng: random.Random,
    home: dict[uuid.UUID, uuid.UUID],
) -> list[tuple[uuid.UUID, dict[str, Any]]]:
    """Per user: ``k`` symptoms of one of their own sessions (so the search finds at least that session), with
    the user's home (what ``home_filter`` adds). Users without a session of ``k`` symptoms are left out."""
    out = []
    for u in user_ids:
        lists = [s for s in by_user.get(u, []) if len(s) >= k]
        if lists:
            out.append((u, {"user_id": u, "home_id": home[u], "symptoms": rng.sample(rng.choice(lists), k)}))
    return out


def homes_of(conn: psycopg.Connection, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Each user's home ids, any role, sorted - what ``Actor.home_ids()`` gives the services."""
    out: dict[uuid.UUID, list[uuid.UUID]] = {u: [] for u in user_ids}
    for user_id, home_id in conn.execute(
        "SELECT user_id, home_id FROM home_members WHERE user_id = ANY(%s) ORDER BY user_id, home_id",
        (list(user_ids),),
    ):
        out[user_id].append(home_id)
    return out


def citus_nodes(conn: psycopg.Connection) -> str:
    rows = conn.execute(
        "SELECT nodename, nodeport, groupid FROM pg_dist_node WHERE noderole = 'primary' ORDER BY groupid"
    ).fetchall()
    return ", ".join(f"{'coordinator' if g == 0 else 'worker'} {h}:{p}" for h, p, g in rows)


def environment(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name, setting, unit FROM pg_settings WHERE name IN ('server_version', 'shared_buffers', "
        "'work_mem', 'effective_cache_size', 'random_page_cost', 'jit', 'max_parallel_workers_per_gather', "
        "'plan_cache_mode') ORDER BY name"
    ).fetchall()
    pg = ", ".join(f"{n}={s}{u or ''}" for n, s, u in rows)
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM homes), (SELECT count(*) FROM devices), "
        "(SELECT count(*) FROM devices WHERE status = 'active'), (SELECT count(*) FROM manuals), "
        "(SELECT count(*) FROM device_manuals), (SELECT count(*) FROM maintenance_schedules), "
        "(SELECT count(*) FROM troubleshooting_sessions), pg_size_pretty(pg_database_size(current_database()))"
    ).fetchone()
    cpu = platform.processor() or ""
    try:
        cpu = next(
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    try:
        head = subprocess.run(
            ["git", "-C", str(HERE), "log", "-1", "--format=%h %s"],
            capture_output=True,
            check=False,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(HERE), "status", "--porcelain", "--", "../src"],
            capture_output=True,
            check=False,
            text=True,
            timeout=10,
        ).stdout.count("\n")
    except (OSError, subprocess.SubprocessError):
        head, dirty = "?", 0
    return [
        f"code: git HEAD {head} ({dirty} uncommitted files under src/)",
        f"load average (1/5/15 min) now: {' '.join(load)}",
        f"machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, psycopg {psycopg.__version__}",
        f"postgres: {pg}",
        "data: users={:,} homes={:,} devices={:,} (active {:,}) manuals={:,} device_manuals={:,} "
        "maintenance_schedules={:,} troubleshooting_sessions={:,} db={}".format(
            *counts  # type: ignore[misc]
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=500, help="timed executions per query (after warm-up)")
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sql-seconds", type=float, default=60.0, help="time budget per SQL query")
    parser.add_argument(
        "--slow-samples",
        type=int,
        default=50,
        help="timed executions of the device-creation auto-link (each rolled back)",
    )
    parser.add_argument("--http", action="store_true", help="also time the API over HTTP")
    parser.add_argument(
        "--explain-only",
        action="store_true",
        help="capture the statements and write explain.txt (and captured-sql.txt) only; no timing",
    )
    parser.add_argument(
        "--explain-options",
        default=DEFAULT_EXPLAIN_OPTIONS,
        help="the EXPLAIN options (e.g. 'ANALYZE, VERBOSE' on a Citus coordinator)",
    )
    parser.add_argument(
        "--tag",
        default="",
        help="suffix of the output files: explain-TAG.txt, captured-sql-TAG.txt, http-server-TAG.log",
    )
    parser.add_argument("--http-users", type=int, default=4, help="users logged in per group")
    parser.add_argument("--http-requests", type=int, default=300, help="timed requests per endpoint")
    parser.add_argument("--http-seconds", type=float, default=60, help="time budget per endpoint")
    parser.add_argument(
        "--keep-server-log",
        action="store_true",
        help="keep the API's JSON request log (results/http-server.log, ~0.5 MB)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=HERE / "results",
        help="where explain.txt, captured-sql.txt and http-server.log go",
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    global RESULTS, SQL_BUDGET_S, EXPLAIN_OPTIONS
    RESULTS, SQL_BUDGET_S, EXPLAIN_OPTIONS = args.results, args.sql_seconds, args.explain_options

    RESULTS.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    settings = Settings(data_dir=args.data_dir)
    with console.status("Starting the database…"):
        urls = prepare_database(settings)
    try:
        owner_dsn, app_dsn = libpq_dsn(urls.owner), libpq_dsn(urls.app)
        n = args.samples + WARMUP
        with psycopg.connect(owner_dsn) as conn:
            if not conn.execute(
                "SELECT 1 FROM users WHERE email LIKE %s LIMIT 1", (f"%@{BENCH_DOMAIN}",)
            ).fetchone():
                console.print("[red]No bench data[/red]: run benchmarks/generate.py first.")
                return 2
            for line in environment(conn):
                console.print(line)
            conn.execute("SELECT setseed(%s)", (1 / (args.seed + 1),))
            users = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM users WHERE email LIKE %s ORDER BY random() LIMIT %s",
                    (f"%@{BENCH_DOMAIN}", n),
                ).fetchall()
            ]
            heavy = [
                r[0]
                for r in conn.execute(
                    "SELECT h.owner_id FROM devices d JOIN homes h ON h.id = d.home_id WHERE d.status = 'active' "
                    "GROUP BY h.owner_id HAVING count(*) >= %s ORDER BY random() LIMIT %s",
                    (HEAVY_DEVICES, n),
                ).fetchall()
            ]
            devices = conn.execute(
                "SELECT d.id, d.home_id, h.owner_id FROM devices d JOIN homes h ON h.id = d.home_id "
                "ORDER BY random() LIMIT %s",
                (n,),
            ).fetchall()
            manuals = conn.execute(
                "SELECT file_hash, content_hash, brand, model_numbers, manual_type::text, version FROM manuals "
                "ORDER BY random() LIMIT %s",
                (n,),
            ).fetchall()
            new_devices = conn.execute(
                "SELECT d.id, d.home_id, h.owner_id, d.manufacturer_name, d.model_number FROM devices d "
                "JOIN homes h ON h.id = d.home_id ORDER BY random() LIMIT %s",
                (args.slow_samples + WARMUP,),
            ).fetchall()
            # Query 5: every session's symptoms of the sampled users, to draw realistic filters from.
            heavy_session_users = [
                r[0]
                for r in conn.execute(
                    "SELECT user_id FROM troubleshooting_sessions GROUP BY user_id HAVING count(*) >= %s "
                    "ORDER BY random() LIMIT %s",
                    (HEAVY_SESSIONS, n),
                ).fetchall()
            ]
            user_symptoms = session_symptoms(conn, users)
            heavy_symptoms = session_symptoms(conn, heavy_session_users)
            # What the actor carries: each caller's home ids (homeops_sign_in / homeops_begin report them).
            homes = homes_of(
                conn,
                {
                    *users,
                    *heavy,
                    *heavy_session_users,
                    *(o for _, _, o in devices),
                    *(o for _, _, o, _, _ in new_devices),
                },
            )
            global BENCH_HASH
            hashes = conn.execute(
                "SELECT DISTINCT password_hash FROM users WHERE email LIKE %s", (f"%@{BENCH_DOMAIN}",)
            ).fetchall()
            if len(hashes) != 1:
                raise SystemExit(f"expected one bcrypt hash for every bench user, found {len(hashes)}")
            BENCH_HASH = hashes[0][0]
        several = sorted(u for u, hs in homes.items() if len(hs) != 1)
        if several:  # the captured statements are the one-home shape (home_id = :id)
            raise SystemExit(f"{len(several)} sampled users do not have exactly one home (e.g. {several[0]})")
        home = {u: hs[0] for u, hs in homes.items()}
        console.print(
            f"samples: {len(users)} random users, {len(heavy)} distinct users with ≥{HEAVY_DEVICES} "
            f"active devices, {len(devices)} devices, {len(manuals)} manuals, "
            f"{len(heavy_session_users)} users with ≥{HEAVY_SESSIONS} troubleshooting sessions "
            f"(first {WARMUP} executions of each query are warm-up, not timed)"
        )
        heavy_samples = [heavy[i % len(heavy)] for i in range(n)] if heavy else []
        rng.shuffle(heavy_samples)
        now = datetime.now(UTC)  # Query 4's clock instant (the service passes uow.now())
        vocabulary = sorted({s for lists in user_symptoms.values() for ss in lists for s in ss})
        q5_one = symptom_samples(user_symptoms, users, 1, rng, home)
        q5_two = symptom_samples(user_symptoms, users, 2, rng, home)
        q5_heavy = symptom_samples(heavy_symptoms, heavy_session_users, 1, rng, home)
        q5_miss = []
        for u in users:
            had = {s for ss in user_symptoms.get(u, []) for s in ss}
            unused = [s for s in vocabulary if s not in had]
            if unused:
                q5_miss.append((u, {"user_id": u, "home_id": home[u], "symptoms": [rng.choice(unused)]}))

        captured = asyncio.run(capture_all(urls.app, owner_dsn, BENCH_HASH))
        explain_path = RESULTS / output_name("explain", args.tag)
        captured_path = RESULTS / output_name("captured-sql", args.tag)
        with captured_path.open("w") as f:
            for cap in captured.values():
                f.write(
                    f"-- {cap.name}  (parameters: {cap.params!r}; per-sample: {cap.slots})\n{cap.sql};\n\n"
                )

        def missing_hash() -> str:
            return hashlib.sha256(f"missing:{rng.random()}".encode()).hexdigest()

        results: list[Result] = []
        with psycopg.connect(app_dsn, autocommit=True) as conn:
            any_user = users[0]
            plan = [
                (
                    Result("Q1 devices+manual summary (random users)", TARGET_Q1),
                    captured["q1"],
                    [(u, {"home_id": home[u]}) for u in users],
                ),
                (
                    Result(f"Q1 devices+manual summary (≥{HEAVY_DEVICES} active devices)", TARGET_Q1),
                    captured["q1"],
                    [(u, {"home_id": home[u]}) for u in heavy_samples],
                ),
                (
                    Result("Q2 manuals for a device", TARGET_Q2),
                    captured["q2"],
                    [(owner, {"device_id": d, "home_id": home[owner]}) for d, _, owner in devices],
                ),
                (
                    Result("Q3 L1 file_hash (hit)", TARGET_L1),
                    captured["l1"],
                    [(any_user, {"file_hash": m[0]}) for m in manuals],
                ),
                (
                    Result("Q3 L1 file_hash (miss)", TARGET_L1),
                    captured["l1"],
                    [(any_user, {"file_hash": missing_hash()}) for _ in manuals],
                ),
                (
                    Result("Q3 L2 content_hash (hit)", TARGET_L2),
                    captured["l2"],
                    [(any_user, {"content_hash": m[1]}) for m in manuals],
                ),
                (
                    Result("Q3 L2 content_hash (miss)", TARGET_L2),
                    captured["l2"],
                    [(any_user, {"content_hash": missing_hash()}) for _ in manuals],
                ),
                (
                    Result("Q3 L3 brand+model+type+version (hit)", TARGET_L3),
                    captured["l3"],
                    [
                        (
                            any_user,
                            {
                                "brand": m[2],
                                "model_numbers": [rng.choice(m[3])],
                                "manual_type": ManualType(m[4]),
                                "version": m[5],
                            },
                        )
                        for m in manuals
                    ],
                ),
                (
                    Result("Q3 L3 brand+model+type+version (miss)", TARGET_L3),
                    captured["l3"],
                    [
                        (
                            any_user,
                            {
                                "brand": m[2],
                                "model_numbers": [rng.choice(m[3]) + "-X"],
                                "manual_type": ManualType(m[4]),
                                "version": m[5],
                            },
                        )
                        for m in manuals
                    ],
                ),
                (
                    Result(f"Q4 upcoming maintenance, {UPCOMING_DAYS} days (random users)", TARGET_Q4),
                    captured["q4"],
                    [(u, {"home_id": home[u], "now": now}) for u in users],
                ),
                (
                    Result(
                        f"Q4 upcoming maintenance, {UPCOMING_DAYS} days (≥{HEAVY_DEVICES} active devices)",
                        TARGET_Q4,
                    ),
                    captured["q4"],
                    [(u, {"home_id": home[u], "now": now}) for u in heavy_samples],
                ),
                (
                    Result("Q5 sessions by symptom: 1 own symptom (random users)", TARGET_Q5),
                    captured["q5"],
                    q5_one,
                ),
                (
                    Result("Q5 sessions by symptom: 2 symptoms of one own session (random users)", TARGET_Q5),
                    captured["q5"],
                    q5_two,
                ),
                (
                    Result(
                        "Q5 sessions by symptom: 1 symptom never reported (miss, random users)", TARGET_Q5
                    ),
                    captured["q5"],
                    q5_miss,
                ),
                (
                    Result(f"Q5 sessions by symptom: 1 own symptom (≥{HEAVY_SESSIONS} sessions)", TARGET_Q5),
                    captured["q5"],
                    q5_heavy,
                ),
            ]
            for result, cap, samples in [] if args.explain_only else plan:
                if not samples:
                    console.print(f"[yellow]skipped[/yellow] {result.name}: no samples")
                    continue
                with console.status(f"{result.name}…"):
                    run_sql(conn, cap, samples, result)
                results.append(result)
            # Not a seed query, but the same manuals lookup shape: what POST /homes/{id}/devices runs to link
            # matching manuals (the links it makes are rolled back). No seed target.
            slow = Result("device create: auto_link_device INSERT…SELECT (rolled back)", None)
            autolink_samples = [
                (owner, {"device_id": d, "home_id": h, "brand": brand, "model_number": model})
                for d, h, owner, brand, model in new_devices
            ]
            if not args.explain_only:
                with console.status(f"{slow.name}…"):
                    run_sql(conn, captured["autolink"], autolink_samples, slow, rollback=True)
                results.append(slow)
            for r in results:
                if r.name.startswith("Q3") and "(hit)" in r.name and min(r.rows) < 1:
                    console.print(f"[red]{r.name}: a lookup for an existing manual found nothing[/red]")
                if r.name.startswith("Q5") and "own symptom" in r.name and r.rows and min(r.rows) < 1:
                    console.print(f"[red]{r.name}: a search for the user's own symptom found nothing[/red]")

            # EXPLAIN one execution of each query (Query 1 and 4 for a ≥20-device user), custom and generic plans.
            who = heavy_samples[0] if heavy_samples else users[0]
            dev, _, dev_owner = devices[0]
            citus = bool(
                conn.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')").fetchone()[
                    0
                ]
            )  # type: ignore[index]
            with explain_path.open("w") as f:
                f.write(
                    f"EXPLAIN ({EXPLAIN_OPTIONS}) as homeops_app with RLS "
                    f"(identity set by {IDENTITY_SQL!r} in the same transaction), "
                    f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n"
                )
                for line in environment(conn):
                    f.write(f"{line}\n")
                if citus:
                    f.write(
                        f"Citus coordinator ({citus_nodes(conn)}): custom plans only. Under plan_cache_mode = auto "
                        "Citus keeps re-planning these statements with their parameters (a forced generic plan "
                        "fails: 'could not create distributed plan').\n"
                    )
                m = manuals[0]
                l3_args = {
                    "brand": m[2],
                    "model_numbers": [m[3][0]],
                    "manual_type": ManualType(m[4]),
                    "version": m[5],
                }
                for title, cap, uid, a, modes in (
                    (f"Query 1 (user {who})", captured["q1"], who, {"home_id": home[who]}, (False, True)),
                    (
                        f"Query 2 (device {dev})",
                        captured["q2"],
                        dev_owner,
                        {"device_id": dev, "home_id": home[dev_owner]},
                        (False, True),
                    ),
                    (
                        f"Query 3 level 1 (file_hash {m[0]})",
                        captured["l1"],
                        any_user,
                        {"file_hash": m[0]},
                        (False,),
                    ),
                    (
                        f"Query 3 level 2 (content_hash {m[1]})",
                        captured["l2"],
                        any_user,
                        {"content_hash": m[1]},
                        (False,),
                    ),
                    (f"Query 3 level 3 ({l3_args})", captured["l3"], any_user, l3_args, (False, True)),
                    (
                        f"auto_link_device (device {new_devices[0][0]}, rolled back)",
                        captured["autolink"],
                        autolink_samples[0][0],
                        autolink_samples[0][1],
                        (False,),
                    ),
                    (
                        f"Query 4, {UPCOMING_DAYS} days (user {who}, ≥{HEAVY_DEVICES} active devices)",
                        captured["q4"],
                        who,
                        {"home_id": home[who], "now": now},
                        (False, True),
                    ),
                    *(
                        (
                            f"Query 5, 1 own symptom (user {u}, {len(user_symptoms.get(u, []))} sessions)",
                            captured["q5"],
                            u,
                            a,
                            (False, True),
                        )
                        for u, a in q5_one[:1]
                    ),
                    *(
                        (f"Query 5, 2 symptoms (user {u})", captured["q5"], u, a, (False,))
                        for u, a in q5_two[:1]
                    ),
                    *(
                        (
                            f"Query 5, 1 own symptom (user {u}, {len(heavy_symptoms.get(u, []))} sessions)",
                            captured["q5"],
                            u,
                            a,
                            (False, True),
                        )
                        for u, a in q5_heavy[:1]
                    ),
                ):
                    for generic in modes if not citus else (False,):
                        kind = (
                            "generic plan (what a prepared statement uses after psycopg's 5th execution, "
                            "forced with plan_cache_mode)"
                            if generic
                            else "custom plan (parameters known)"
                        )
                        f.write(
                            f"\n==== {title}: {kind}\n-- SQL (as emitted by the application):\n{cap.sql}\n"
                            f"-- parameters: {cap.bind(**a)!r}\n\n"
                        )
                        f.write(explain(conn, cap, uid, a, generic) + "\n")
        if results:
            console.print(
                results_table(
                    f"SQL as homeops_app with RLS — {args.samples} samples each "
                    f"(auto-link: {args.slow_samples})",
                    results,
                )
            )
        for r in results:
            if r.note:
                console.print(f"note: {r.name}: {r.note}")
        console.print(f"EXPLAIN output: {explain_path}; captured SQL: {captured_path}")
        if args.http:
            http_results = http_bench(args, urls, owner_dsn)
            console.print(
                results_table(
                    f"HTTP (uvicorn subprocess, sequential httpx requests, ≤{args.http_requests} per endpoint)",
                    http_results,
                )
            )
            for r in http_results:
                if r.note:
                    console.print(f"{r.name}: {r.note}")
        load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
        console.print(
            f"load average (1/5/15 min) at the end: {' '.join(load)}; finished {time.strftime('%Y-%m-%d %H:%M:%S %Z')}"
        )
    finally:
        urls.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

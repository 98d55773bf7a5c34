"""Telemetry history reads and retention at scale (issue 12, "Benchmarks").

    python benchmarks/telemetry_history.py [--days 365] [--homes 1000] [--sensors 50] [--other-step 240]
                                           [--requests 1000] [--workers 1] [--data-dir DIR] [--keep]

Self-contained like ``telemetry_ingest.py``: an embedded PostgreSQL 18 in a throw-away data directory, migrated,
the API served by uvicorn in a subprocess. Loaded directly as the table OWNER (not through HTTP):

* ``--homes`` users, homes and owner memberships (COPY, as ``benchmarks/generate.py`` does), 3 devices per home;
  the big home's owner is made with ``homeops.demo.create_user`` (a real password) and the big home has
  ``--sensors`` temperature sensors;
* the daily ``device_telemetry`` partitions for the past ``--days`` days, made with the very DDL of
  ``homeops_telemetry_ensure_partitions`` (which refuses a ``p_now`` far from the server clock) and recorded in
  ``telemetry_partitions`` (likewise the monthly hourly and the yearly daily roll-up partitions);
* the big home: every sensor one point a minute from the start of the first day until now
  (``--days`` = 365: 26.3M rows); every other home: its first device one point every ``--other-step`` minutes;
  binary ``COPY`` straight into each day's partition, two connections at once;
* roll-ups: one ``INSERT … SELECT`` per day partition into ``device_telemetry_hourly`` (the aggregation of
  ``rollups._TELEMETRY_HOURLY_RANGE``), then one into ``device_telemetry_daily`` from the hours (homes are in
  UTC), and the roll-up state's watermark and threshold set to the start of the current hour — the job path
  (``advance``/``materialize``, 6-hour chunks) would take a year of chunks; then ``VACUUM ANALYZE``.

Measured over HTTP as the big home's owner (bearer token from ``/api/v1/auth/login``), ``--requests`` requests
one at a time after a warm-up, p50/p99 (targets: 30-day hourly chart of every sensor < 50 ms, 24-hour raw chart
of one sensor < 20 ms, dashboard < 50 ms); the server-side statement time from ``pg_stat_statements`` when the
extension is available. Then retention: ``retention.telemetry_raw_days`` set so that exactly the oldest day goes,
``homeops_telemetry_drop_partitions(now(), false)`` timed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from _serve import free_port, stop, wait_ready

HERE = Path(__file__).resolve().parent
PASSWORD = "bench-password-1"
DEVICES_PER_HOME = 3
EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)
METRIC = b"temperature"

# One binary COPY row of (home_id, device_id, metric, ts, value): every field has a fixed length.
ROW = np.dtype(
    [
        ("n", ">i2"),
        ("lh", ">i4"),
        ("home", "S16"),
        ("ld", ">i4"),
        ("device", "S16"),
        ("lm", ">i4"),
        ("metric", f"S{len(METRIC)}"),
        ("lt", ">i4"),
        ("ts", ">i8"),
        ("lv", ">i4"),
        ("value", ">f8"),
    ]
)
HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") * 2
TRAILER = (-1).to_bytes(2, "big", signed=True)


def serve_main(port: int, workers: int, gc_freeze: bool = False) -> None:
    """The ingest benchmark's server, logging each full (generation 2) garbage collection of the interpreter
    and its pause (``GC2 <ms> <tracked objects>`` lines in the server log); ``gc_freeze``: ``gc.collect()`` and
    ``gc.freeze()`` on SIGUSR1, which the benchmark sends after each warm-up (the first requests still import
    and build lazily: ~200,000 objects), so that full collections no longer scan what lives for good."""
    import gc

    from telemetry_ingest import serve_main as serve  # the same server as the ingest benchmark

    started = [0.0]
    freezing = [False]

    def watch(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2 and not freezing[0]:
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                pause = (time.perf_counter() - started[0]) * 1000
                print(f"GC2 {pause:.1f} {len(gc.get_objects())}", file=sys.stderr, flush=True)

    gc.callbacks.append(watch)
    if gc_freeze:
        import signal

        def freeze(_signum: int, _frame: Any) -> None:
            freezing[0] = True
            gc.collect()
            gc.freeze()
            freezing[0] = False
            print(f"GC frozen {gc.get_freeze_count()}", file=sys.stderr, flush=True)

        signal.signal(signal.SIGUSR1, freeze)
    serve(port, workers)


def copy_rows(homes: np.ndarray, devices: np.ndarray, stamps: np.ndarray, values: np.ndarray) -> bytes:
    """Binary COPY data: row i = (homes[i], devices[i], 'temperature', stamps[i] (µs since 2000), values[i])."""
    rows = np.empty(len(stamps), dtype=ROW)
    rows["n"], rows["lh"], rows["ld"], rows["lm"], rows["lt"], rows["lv"] = 5, 16, 16, len(METRIC), 8, 8
    rows["home"], rows["device"], rows["metric"] = homes, devices, METRIC
    rows["ts"], rows["value"] = stamps, values
    return HEADER + rows.tobytes() + TRAILER


def us(instant: datetime) -> int:
    return (instant - EPOCH_2000) // timedelta(microseconds=1)


class World:
    def __init__(self, args: argparse.Namespace, now: datetime) -> None:
        self.now = now
        self.first_day = datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=args.days)
        self.user_ids = [uuid.uuid4() for _ in range(args.homes)]
        self.home_ids = [uuid.uuid4() for _ in range(args.homes)]
        self.devices = [
            [uuid.uuid4() for _ in range(args.sensors if i == 0 else DEVICES_PER_HOME)]
            for i in range(args.homes)
        ]
        self.sensors, self.step = args.sensors, args.other_step

    def day_data(self, day: datetime, since: datetime | None = None) -> bytes:
        """One day's rows (until now; from ``since`` on if given): the big home's sensors each minute, every
        other home's first device every ``step`` minutes; sorted by device then time (the primary key's order
        inside the partition)."""
        end = min(day + timedelta(days=1), self.now.replace(second=0, microsecond=0))
        minutes = int((end - day) / timedelta(minutes=1))
        first = 0 if since is None else max(0, -(-(since - day) // timedelta(minutes=1)))
        if minutes <= first:
            return b""
        t0 = us(day)
        big = np.arange(first, minutes, dtype=np.int64) * 60_000_000 + t0
        n_big = len(big) * self.sensors
        home0 = self.home_ids[0].bytes
        dev_big = np.repeat(np.array([d.bytes for d in self.devices[0]], dtype="S16"), len(big))
        ts_big = np.tile(big, self.sensors)
        phase = (ts_big // 60_000_000) % 1440 / 1440 * 2 * np.pi
        val_big = 21.0 + 3.0 * np.sin(phase) + np.repeat(np.arange(self.sensors) * 0.05, len(big))
        small_first = -(-first // self.step) * self.step
        small = np.arange(small_first, minutes, self.step, dtype=np.int64) * 60_000_000 + t0
        others = len(self.home_ids) - 1
        homes_small = np.repeat(np.array([h.bytes for h in self.home_ids[1:]], dtype="S16"), len(small))
        dev_small = np.repeat(np.array([d[0].bytes for d in self.devices[1:]], dtype="S16"), len(small))
        ts_small = np.tile(small, others)
        val_small = 20.0 + (ts_small // 60_000_000 % 97) * 0.1
        return copy_rows(
            np.concatenate([np.full(n_big, home0, dtype="S16"), homes_small]),
            np.concatenate([dev_big, dev_small]),
            np.concatenate([ts_big, ts_small]),
            np.concatenate([val_big, val_small]),
        )


def load_entities(owner_url: Any, owner_dsn: str, world: World, email: str) -> None:
    import psycopg

    from homeops.demo import create_user

    owner_id = uuid.UUID(create_user(owner_url, email, "History Bench", PASSWORD, "homeowner", rounds=4))
    world.user_ids[0] = owner_id
    now = world.now.isoformat()
    with psycopg.connect(owner_dsn) as conn:
        with (
            conn.cursor() as cur,
            cur.copy("COPY users (id, email, full_name, role, password_hash) FROM STDIN") as cp,
        ):
            for n, uid in enumerate(world.user_ids[1:], 1):
                cp.write_row((uid, f"bench-history-{n}@bench.homeops.org", f"Bench {n}", "homeowner", "!"))
        with conn.cursor() as cur, cur.copy("COPY homes (id, owner_id, name, timezone) FROM STDIN") as cp:
            for i, (hid, uid) in enumerate(zip(world.home_ids, world.user_ids, strict=True)):
                cp.write_row((hid, uid, "Big home" if i == 0 else f"Home {i}", "UTC"))
        with (
            conn.cursor() as cur,
            cur.copy("COPY home_members (home_id, user_id, role, created_at) FROM STDIN") as cp,
        ):
            for hid, uid in zip(world.home_ids, world.user_ids, strict=True):
                cp.write_row((hid, uid, "owner", now))
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY devices (id, home_id, added_by, nickname, status, created_at, updated_at) FROM STDIN"
            ) as cp,
        ):
            for hid, uid, devs in zip(world.home_ids, world.user_ids, world.devices, strict=True):
                for j, d in enumerate(devs):
                    cp.write_row((d, hid, uid, f"Sensor {j}", "active", now, now))
        conn.commit()


def make_partitions(owner_dsn: str, first_day: datetime) -> int:
    """The partitions before the ones the migration made, with ``homeops_telemetry_ensure_partitions``'s DDL."""
    import psycopg

    made = 0
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        plan = (
            ("device_telemetry", "day", False),
            ("device_telemetry_hourly", "month", False),
            ("device_telemetry_daily", "year", True),
        )
        for table, width, by_date in plan:
            row = conn.execute(
                "SELECT min(range_start) FROM telemetry_partitions WHERE table_name = %s", (table,)
            ).fetchone()
            assert row and row[0] is not None
            stop = row[0]
            lo = conn.execute(
                "SELECT date_trunc(%s, %s::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
                (width, first_day),
            ).fetchone()[0]  # type: ignore[index]
            with conn.transaction():
                while lo < stop:
                    hi = conn.execute(
                        "SELECT %s::timestamptz + ('1 ' || %s)::interval", (lo, width)
                    ).fetchone()[0]  # type: ignore[index]
                    part = f"{table}_p{lo:%Y%m%d}"
                    if by_date:
                        bounds = (f"'{lo:%Y-%m-%d}'", f"'{hi:%Y-%m-%d}'")
                    else:
                        bounds = (f"'{lo:%Y-%m-%d %H:%M:%S}+00'", f"'{hi:%Y-%m-%d %H:%M:%S}+00'")
                    conn.execute(
                        f'CREATE TABLE "{part}" PARTITION OF {table} FOR VALUES FROM ({bounds[0]}) TO ({bounds[1]})'
                    )
                    conn.execute(
                        "INSERT INTO telemetry_partitions (table_name, partition_name, range_start, range_end) "
                        "VALUES (%s, %s, %s, %s)",
                        (table, part, lo, hi),
                    )
                    made += 1
                    lo = hi
    return made


def load_raw(owner_dsn: str, world: World, days: list[datetime], connections: int = 2) -> tuple[int, float]:
    """Binary COPY of every day into its partition from ``connections`` connections at once: (rows, seconds)."""
    import psycopg

    total = [0] * connections

    def run(k: int) -> None:
        with psycopg.connect(owner_dsn) as conn:
            conn.execute("SET synchronous_commit = off")
            for day in days[k::connections]:
                data = world.day_data(day)
                if not data:
                    continue
                total[k] += (len(data) - len(HEADER) - len(TRAILER)) // ROW.itemsize
                with (
                    conn.cursor() as cur,
                    cur.copy(
                        f"COPY device_telemetry_p{day:%Y%m%d} (home_id, device_id, metric, ts, value) "
                        "FROM STDIN (FORMAT BINARY)"
                    ) as cp,
                ):
                    cp.write(data)
                conn.commit()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(connections)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sum(total), time.perf_counter() - t0


HOURLY = """
INSERT INTO device_telemetry_hourly
       (home_id, device_id, metric, bucket, min_value, max_value, sum_value, count, last_ts, last_value)
SELECT home_id, device_id, metric, date_bin('1 hour', ts, '2000-01-01 00:00:00+00'::timestamptz), min(value),
       max(value), sum(value), count(*), max(ts), (array_agg(value ORDER BY ts DESC))[1]
  FROM {part} WHERE ts < %(hi)s
 GROUP BY 1, 2, 3, 4
"""

DAILY = """
INSERT INTO device_telemetry_daily
       (home_id, device_id, metric, day, min_value, max_value, sum_value, count, last_ts, last_value)
SELECT home_id, device_id, metric, (bucket AT TIME ZONE 'UTC')::date, min(min_value), max(max_value),
       sum(sum_value), sum(count), max(last_ts), (array_agg(last_value ORDER BY last_ts DESC))[1]
  FROM device_telemetry_hourly WHERE bucket >= %(lo)s AND bucket < %(hi)s
 GROUP BY 1, 2, 3, 4
"""


def rollups(owner_dsn: str, days: list[datetime], threshold: datetime) -> tuple[int, int, float]:
    import psycopg

    t0 = time.perf_counter()
    hourly = daily = 0

    def run(mine: list[datetime], counts: list[int]) -> None:
        with psycopg.connect(owner_dsn) as conn:
            conn.execute("SET synchronous_commit = off")
            conn.execute("SET work_mem = '256MB'")
            for day in mine:
                cur = conn.execute(HOURLY.format(part=f"device_telemetry_p{day:%Y%m%d}"), {"hi": threshold})  # type: ignore[arg-type]
                counts[0] += cur.rowcount
                conn.commit()

    counts = [[0], [0]]
    threads = [threading.Thread(target=run, args=(days[k::2], counts[k])) for k in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    hourly = counts[0][0] + counts[1][0]
    with psycopg.connect(owner_dsn) as conn:
        conn.execute("SET work_mem = '256MB'")
        daily = conn.execute(DAILY, {"lo": days[0], "hi": threshold}).rowcount
        conn.execute(
            "UPDATE telemetry_rollup_state SET watermark = %(t)s, threshold = %(t)s, updated_at = now() "
            "WHERE name = 'hourly'",
            {"t": threshold},
        )
        conn.commit()
    return hourly, daily, time.perf_counter() - t0


HOURLY_SINCE = """
INSERT INTO device_telemetry_hourly
       (home_id, device_id, metric, bucket, min_value, max_value, sum_value, count, last_ts, last_value)
SELECT home_id, device_id, metric, date_bin('1 hour', ts, '2000-01-01 00:00:00+00'::timestamptz), min(value),
       max(value), sum(value), count(*), max(ts), (array_agg(value ORDER BY ts DESC))[1]
  FROM device_telemetry WHERE ts >= %(lo)s AND ts < %(hi)s
 GROUP BY 1, 2, 3, 4
"""


def rediscover(owner_dsn: str, args: argparse.Namespace, now: datetime) -> tuple[World, str]:
    """(``--reuse``) the world of a kept data directory, read back from its database: the big home, its owner's
    e-mail, its sensors (``Sensor 0`` first) and every other home's first device."""
    import psycopg

    world = World.__new__(World)
    with psycopg.connect(owner_dsn) as conn:
        rows = conn.execute(
            "SELECT h.id, h.owner_id, u.email, h.name = 'Big home' AS big FROM homes h JOIN users u ON "
            "u.id = h.owner_id WHERE h.name = 'Big home' OR h.name ~ '^Home [0-9]+$' "
            "ORDER BY big DESC, nullif(split_part(h.name, ' ', 2), 'home')::int"
        ).fetchall()
        assert rows and rows[0][3], "no 'Big home': not a data directory of this benchmark"
        devices = {}
        for home, dev in conn.execute(
            "SELECT home_id, id FROM devices WHERE nickname ~ '^Sensor [0-9]+$' "
            "ORDER BY home_id, split_part(nickname, ' ', 2)::int"
        ):
            devices.setdefault(home, []).append(dev)
        first = conn.execute(
            "SELECT min(range_start) FROM telemetry_partitions WHERE table_name = 'device_telemetry'"
        ).fetchone()[0]  # type: ignore[index]
    world.now = now
    world.first_day = first
    world.home_ids = [r[0] for r in rows]
    world.user_ids = [r[1] for r in rows]
    world.devices = [devices[h] for h in world.home_ids]
    world.sensors, world.step = len(world.devices[0]), args.other_step
    return world, rows[0][2]


def top_up(owner_dsn: str, world: World, threshold: datetime) -> str:
    """(``--reuse``) the points since the kept data set's last minute until now, and the hourly roll-up
    advanced to ``threshold`` (the current hour), as the first load leaves them; then ANALYZE of the touched
    partitions."""
    import psycopg

    with psycopg.connect(owner_dsn) as conn:
        last = conn.execute(
            "SELECT max(ts) FROM device_telemetry WHERE home_id = %s AND device_id = %s AND metric = 'temperature'",
            (world.home_ids[0], world.devices[0][0]),
        ).fetchone()[0]  # type: ignore[index]
        watermark = conn.execute(
            "SELECT watermark FROM telemetry_rollup_state WHERE name = 'hourly'"
        ).fetchone()[0]  # type: ignore[index]
        since = last + timedelta(minutes=1)
        day = datetime(since.year, since.month, since.day, tzinfo=UTC)
        rows, touched = 0, set()
        while day <= world.now:
            data = world.day_data(day, since)
            if data:
                rows += (len(data) - len(HEADER) - len(TRAILER)) // ROW.itemsize
                touched.add(f"device_telemetry_p{day:%Y%m%d}")
                with (
                    conn.cursor() as cur,
                    cur.copy(
                        f"COPY device_telemetry_p{day:%Y%m%d} (home_id, device_id, metric, ts, value) "
                        "FROM STDIN (FORMAT BINARY)"
                    ) as cp,
                ):
                    cp.write(data)
            day += timedelta(days=1)
        hours = 0
        if threshold > watermark:
            hours = conn.execute(HOURLY_SINCE, {"lo": watermark, "hi": threshold}).rowcount  # type: ignore[arg-type]
            conn.execute(
                "UPDATE telemetry_rollup_state SET watermark = %(t)s, threshold = %(t)s, updated_at = now() "
                "WHERE name = 'hourly'",
                {"t": threshold},
            )
            touched.add(f"device_telemetry_hourly_p{threshold:%Y%m01}")
        conn.commit()
        conn.autocommit = True
        for part in sorted(touched):
            conn.execute(f'ANALYZE "{part}"')  # type: ignore[arg-type]
    return (
        f"reused: {rows:,} raw points added since {last:%Y-%m-%d %H:%M}, {hours:,} hourly rows "
        f"({watermark:%H:%M} → {threshold:%H:%M}); ANALYZE {', '.join(sorted(touched)) or '-'}"
    )


def load(
    args: argparse.Namespace,
    owner_dsn: str,
    urls: Any,
    world: World,
    email: str,
    now: datetime,
    pgss: bool,
    t_all: float,
) -> tuple[datetime, list[datetime]]:
    """The whole data set (see the module's docstring): (the roll-up threshold, the days loaded)."""
    import psycopg

    t = time.perf_counter()
    load_entities(urls.owner, owner_dsn, world, email)
    print(
        f"entities: {args.homes:,} users/homes, {sum(len(d) for d in world.devices):,} devices "
        f"({time.perf_counter() - t:.1f} s)"
    )
    t = time.perf_counter()
    made = make_partitions(owner_dsn, world.first_day)
    print(f"partitions made behind the migration's: {made} ({time.perf_counter() - t:.1f} s)")
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    days = [world.first_day + timedelta(days=k) for k in range((today - world.first_day).days + 1)]
    rows, secs = load_raw(owner_dsn, world, days)
    big_rows = args.sensors * int(
        (now.replace(second=0, microsecond=0) - world.first_day) / timedelta(minutes=1)
    )
    print(
        f"raw: {rows:,} rows in device_telemetry ({big_rows:,} of the big home: {args.sensors} sensors × "
        f"{len(days) - 1} days + today × 1/minute; other homes every {args.other_step} min) in {secs:.1f} s "
        f"({rows / secs:,.0f} rows/s, binary COPY, 2 connections)"
    )
    threshold = now.replace(minute=0, second=0, microsecond=0)
    hourly, daily, secs = rollups(owner_dsn, days, threshold)
    print(
        f"roll-ups (one INSERT … SELECT per day partition, as the owner): {hourly:,} hourly, {daily:,} daily "
        f"rows in {secs:.1f} s; watermark = threshold = {threshold:%Y-%m-%d %H:%M}"
    )
    t = time.perf_counter()
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]  # type: ignore[index]
        if pgss:
            conn.execute("SELECT pg_stat_statements_reset()")
    print(
        f"VACUUM ANALYZE {time.perf_counter() - t:.1f} s; database {size}; setup total {time.perf_counter() - t_all:.0f} s"
    )
    return threshold, days


def timed(
    client: httpx.Client,
    path: str,
    params: dict[str, str],
    n: int,
    warm: int,
    freeze: tuple[int, Path] | None = None,
) -> dict[str, Any]:
    for _ in range(warm):
        r = client.get(path, params=params)
        r.raise_for_status()
    if freeze is not None:  # --gc-freeze: (the server's pid, its log); wait until it has frozen
        pid, server_log = freeze
        done = server_log.read_text(errors="replace").count("GC frozen")
        os.kill(pid, signal.SIGUSR1)
        for _ in range(100):
            time.sleep(0.1)
            if server_log.read_text(errors="replace").count("GC frozen") > done:
                break
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(path, params=params)
        lat.append(time.perf_counter() - t)
        r.raise_for_status()
    lat.sort()
    return {
        "p50": lat[len(lat) // 2] * 1000,
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        "max": lat[-1] * 1000,
        "bytes": len(r.content),
        "body": r.json(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=365, help="days of history before today")
    parser.add_argument("--homes", type=int, default=1000)
    parser.add_argument("--sensors", type=int, default=50)
    parser.add_argument("--other-step", type=int, default=240, help="minutes between the other homes' points")
    parser.add_argument(
        "--requests",
        type=int,
        default=1000,
        help="per request kind (a p99 of 200 would be the second-slowest request: one pause decides it)",
    )
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure on the data set kept in --data-dir by an earlier --keep run (topped up to now; no "
        "retention step, which would drop a day each time)",
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="the server calls gc.freeze() after each warm-up (the application itself does not; 1 worker)",
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        sys.path.insert(0, str(HERE))
        serve_main(args.serve, args.workers, args.gc_freeze)
        return 0
    if args.days < 5:
        parser.error(
            "--days must be at least 5 (the migration makes 3 days behind; retention drops the oldest)"
        )

    if args.reuse and not args.data_dir:
        parser.error("--reuse needs the --data-dir of a run made with --keep")
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="homeops-history-bench-"))
    os.environ["HOMEOPS_DATA_DIR"] = str(data_dir)
    for var in ("HOMEOPS_DATABASE_URL", "HOMEOPS_APP_DATABASE_URL", "HOMEOPS_MQTT_URL"):
        os.environ.pop(var, None)

    import psycopg

    import homeops
    from homeops.bootstrap import prepare_database
    from homeops.core.config import Settings
    from homeops.core.database import libpq_dsn

    code_dir = Path(homeops.__file__).resolve().parents[2]
    head = subprocess.run(
        ["git", "-C", str(code_dir), "log", "-1", "--format=%h"], check=False, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(code_dir), "status", "--porcelain", "src"],
        check=False,
        capture_output=True,
        text=True,
    ).stdout.strip()
    load0 = os.getloadavg()
    print(
        f"code {code_dir} @ {head}{' (+ uncommitted changes)' if dirty else ''}; {os.cpu_count()} CPUs; "
        f"load {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    t_all = time.perf_counter()
    urls = prepare_database(Settings(log_level="WARNING"))
    owner_dsn = libpq_dsn(urls.owner)
    proc = None
    log = open(data_dir / "server.log", "w")  # noqa: SIM115
    try:
        with psycopg.connect(owner_dsn, autocommit=True) as conn:
            pg_version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                conn.execute("SELECT pg_stat_statements_reset()")
                pgss = True
            except psycopg.Error:
                pgss = False
        print(
            f"PostgreSQL {pg_version} (embedded, {data_dir}); pg_stat_statements: {'yes' if pgss else 'no'}"
        )
        if args.reuse:
            world, email = rediscover(owner_dsn, args, now)
            threshold = now.replace(minute=0, second=0, microsecond=0)
            print(top_up(owner_dsn, world, threshold))
            today = datetime(now.year, now.month, now.day, tzinfo=UTC)
            days = [world.first_day + timedelta(days=k) for k in range((today - world.first_day).days + 1)]
        else:
            world = World(args, now)
            email = f"bench-history-{uuid.uuid4().hex[:8]}@bench.homeops.org"
            threshold, days = load(args, owner_dsn, urls, world, email, now, pgss, t_all)

        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), "--workers", str(args.workers)]
            + (["--gc-freeze"] if args.gc_freeze else []),
            stdout=log,
            stderr=log,
            env=os.environ.copy(),
        )
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/healthz", proc)
        home, device = world.home_ids[0], world.devices[0][0]
        with httpx.Client(base_url=base, timeout=60) as c:
            r = c.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
            r.raise_for_status()
            c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            end = datetime.now(UTC)
            iso = lambda x: x.isoformat().replace("+00:00", "Z")
            cases = [
                (
                    "30-day hourly chart, every sensor (home telemetry, agg=avg, interval=1h)",
                    f"/api/v1/homes/{home}/telemetry",
                    {
                        "metric": "temperature",
                        "from": iso(end - timedelta(days=30)),
                        "to": iso(end),
                        "agg": "avg",
                        "interval": "1h",
                    },
                    50,
                ),
                (
                    "24-hour raw chart, one sensor (device telemetry)",
                    f"/api/v1/devices/{device}/telemetry",
                    {"metric": "temperature", "from": iso(end - timedelta(hours=24)), "to": iso(end)},
                    20,
                ),
                ("home dashboard", f"/api/v1/homes/{home}/dashboard", {}, 50),
            ]
            results = []
            for name, path, params, target in cases:
                if pgss:
                    with psycopg.connect(owner_dsn, autocommit=True) as conn:
                        conn.execute("SELECT pg_stat_statements_reset()")
                freeze = (proc.pid, data_dir / "server.log") if args.gc_freeze else None
                res = timed(c, path, params, args.requests, args.warmup, freeze)
                res["sql"] = top_statements(owner_dsn, args.requests + args.warmup) if pgss else []
                results.append((name, path, target, res))

        print()
        print(
            f"| request ({args.requests} one at a time after {args.warmup} warm-up) | answer | p50 ms | p99 ms | max ms | target p99 | met |"
        )
        print("|---|---|---:|---:|---:|---:|---|")
        for name, _path, target, res in results:
            print(
                f"| {name} | {describe(res['body'], res['bytes'])} | {res['p50']:.1f} | {res['p99']:.1f} | "
                f"{res['max']:.1f} | < {target} ms | {'yes' if res['p99'] < target else 'NO'} |"
            )
        print()
        for name, _path, _target, res in results:
            if res["sql"]:
                print(f"SQL of '{name}' (pg_stat_statements, statements per request, mean ms):")
                for calls, mean, query in res["sql"]:
                    print(f"  {calls:6.1f} × {mean:7.3f} ms  {query}")

        explain(owner_dsn, home, world.devices[0], device, threshold)
        explain(libpq_dsn(urls.app), home, world.devices[0], device, threshold, as_api=True)

        print()
        if args.reuse:
            print("retention: not measured with --reuse (it would drop a day of the kept data set each run)")
        else:
            print(retention(owner_dsn, days, args.homes))
        load1 = os.getloadavg()
        print(f"load after {load1[0]:.2f}; total {time.perf_counter() - t_all:.0f} s")
    finally:
        stop(proc)
        log.close()
        if proc is not None:
            pauses = sorted(
                float(line.split()[1])
                for line in (data_dir / "server.log").read_text(errors="replace").splitlines()
                if line.startswith("GC2 ")
            )
            print(
                f"server: {len(pauses)} full garbage collections during the run"
                + (
                    f", pauses median {pauses[len(pauses) // 2]:.1f} ms, max {pauses[-1]:.1f} ms"
                    if pauses
                    else ""
                )
                + (" (gc.freeze() after each warm-up)" if args.gc_freeze else " (no gc.freeze())")
            )
        urls.stop()
        if not args.keep and not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def retention(owner_dsn: str, days: list[datetime], homes: int) -> str:
    """Exactly the oldest raw day goes: ``retention.telemetry_raw_days`` set so, then
    ``homeops_telemetry_drop_partitions(now(), false)`` timed."""
    import psycopg

    keep_days = len(days) - 2
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE system_settings SET setting_value = %s WHERE setting_key = 'retention.telemetry_raw_days'",
            (str(keep_days),),
        )
        dry = conn.execute("SELECT * FROM homeops_telemetry_drop_partitions(now(), true)").fetchall()
        oldest = f"device_telemetry_p{days[0]:%Y%m%d}"
        n_oldest = conn.execute(f'SELECT count(*) FROM "{oldest}"').fetchone()[0]  # type: ignore[index]
        t = time.perf_counter()
        dropped = conn.execute("SELECT * FROM homeops_telemetry_drop_partitions(now(), false)").fetchall()
        secs = time.perf_counter() - t
    return (
        f"retention: retention.telemetry_raw_days = {keep_days}; dry run lists {[d[1] for d in dry]}; "
        f"homeops_telemetry_drop_partitions(now(), false) dropped {[d[1] for d in dropped]} "
        f"({n_oldest:,} rows of {homes:,} homes) in {secs * 1000:.1f} ms"
    )


def explain(
    dsn: str,
    home: uuid.UUID,
    devices: list[uuid.UUID],
    device: uuid.UUID,
    watermark: datetime,
    as_api: bool = False,
) -> None:
    """The SQL time of the two series reads: the repository's statements under EXPLAIN ANALYZE, the median of
    5 runs, and the plan of the last; and the same statements run plainly (execution + fetch over psycopg,
    median of 10). ``as_api``: on the API role's connection with the big home's owner's identity (the row
    policies' filters apply, as in the API), else as the owner (no policies)."""
    import psycopg

    try:
        from homeops.telemetry.repository import _HOURLY_ROWS, _RAW_POINTS
    except ImportError:  # older code (one row per bucket): not explained here
        print("\nSQL: not explained (the code has no _HOURLY_ROWS: older than the columns)")
        return
    try:  # since the runs statement: what a 1-hour chart of sensors without holes sends
        from homeops.telemetry.repository import _HOURLY_RUNS as hourly_sql
    except ImportError:
        hourly_sql = _HOURLY_ROWS

    end = datetime.now(UTC)
    start = datetime.fromtimestamp((end - timedelta(days=30)).timestamp() // 3600 * 3600, UTC)
    hourly = {
        "home": home,
        "devices": devices,
        "metric": "temperature",
        "interval": timedelta(hours=1),
        "epoch": start.timestamp(),
        "step": 3600.0,
        "start": start,
        "rollup_end": watermark,
        "raw_start": watermark,
        "end": end,
    }
    raw = {
        "home": home,
        "devices": [device],
        "metric": "temperature",
        "start": end - timedelta(hours=24),
        "end": end,
        "limit": 50_001,
    }
    with psycopg.connect(dsn, autocommit=True) as conn:
        if as_api:
            conn.execute("SELECT set_config('homeops.homes_read', %s, false)", (f"{{{home}}}",))
            conn.execute("SELECT set_config('homeops.role', 'homeowner', false)")
        who = "as the API role, under the row policies" if as_api else "as the owner"
        for name, sql, params in (
            ("30-day hourly, 50 sensors", hourly_sql["avg"], hourly),
            ("24-hour raw, one sensor", _RAW_POINTS, raw),
        ):
            times, plan = [], []
            for _ in range(5):
                plan = [
                    r[0]
                    for r in conn.execute(
                        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql,  # type: ignore[arg-type]
                        params,
                    ).fetchall()
                ]
                times.append(float(plan[-1].split(":")[1].split()[0]))
            # psycopg prepares a statement from its 6th run on; the server plans a prepared statement for its
            # parameters 5 times, then builds a generic plan (the 11th run here): the repository's way
            # (unprepared) first, then 12 runs with psycopg's default threshold.
            runs: dict[str, list[float]] = {"unprepared (as the repository)": [], "prepared after 5": []}
            for label, prepare in (("unprepared (as the repository)", False), ("prepared after 5", None)):
                for _ in range(12):
                    t = time.perf_counter()
                    rows = conn.execute(sql, params, prepare=prepare, binary=True).fetchall()  # type: ignore[arg-type]
                    runs[label].append((time.perf_counter() - t) * 1000)
            n = sum(len(r[-1]) for r in rows)
            print()
            print(
                f"SQL {name}: {len(rows)} rows, {n:,} values; execution + fetch over psycopg (binary), "
                + ", ".join(
                    f"{label}: median {statistics.median(v):.1f} ms (max {max(v):.1f} at run {v.index(max(v)) + 1})"
                    for label, v in runs.items()
                )
                + f"; EXPLAIN ANALYZE {sorted(times)[2]:.1f} ms (median of 5; all {who})"
            )
            for line in plan:
                print("   ", line if len(line) <= 160 else line[:157] + "...")


def describe(body: Any, size: int) -> str:
    """(``points``: the answer's shape before the columns, so that older code can be measured too)"""
    kb = f"{size / 1000:.0f} kB"
    if isinstance(body, dict) and "series" in body:
        series = body["series"]
        values = sum(len(s.get("values", s.get("points", []))) for s in series)
        return f"{len(series)} series, {values:,} values, source {body.get('source', '?')}, {kb}"
    if isinstance(body, dict) and ("values" in body or "points" in body):
        return f"{len(body.get('values', body.get('points', []))):,} values, source {body.get('source', '?')}, {kb}"
    return kb


def top_statements(owner_dsn: str, requests: int) -> list[tuple[float, float, str]]:
    import psycopg

    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT calls, mean_exec_time, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements "
            "WHERE query NOT ILIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 4"
        ).fetchall()
    return [(c / requests, m, q[:110]) for c, m, q in rows]


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    raise SystemExit(main())

"""Telemetry ingest throughput, measured side by side in one run (issue 12, "Benchmarks").

    python benchmarks/telemetry_ingest.py [--senders 4] [--batch 10000] [--batches 20] [--rounds 3]
                                          [--workers 2] [--mqtt-message 10000,500] [--data-dir DIR] [--keep]
                                          [--profile DIR [--py-spy PATH]]
                                          [--results benchmarks/results/telemetry-ingest.jsonl]

Self-contained: an embedded PostgreSQL 18 in a throw-away data directory (a temporary one unless
``--data-dir``; removed at the end unless ``--keep``), migrated; ``--senders`` homes with 25 devices and a
home-wide ingest token each, made through the API. Then, on ``device_telemetry`` (emptied with TRUNCATE
between the phases, so every phase writes the same number of new rows into the same empty table):

1. **raw COPY**: the very rows the endpoint will write, ``COPY device_telemetry (home_id, device_id, metric,
   ts, value) FROM STDIN (FORMAT BINARY)`` as the table owner from one process, one transaction of
   ``--batch`` rows at a time (the binary data prepared before the clock starts): the database's ceiling;
   for reference also the same COPYs from ``--senders`` connections at once.
2. **HTTP**: ``POST /api/v1/ingest/telemetry`` (JSON arrays of ``--batch`` long-form points
   ``{"device_id", "metric", "ts", "value"}``, ISO timestamps) from ``--senders`` concurrent senders, each with
   its home's token, against the API served by uvicorn in a subprocess as ``homeops serve`` runs it
   (``--workers`` processes, default: the CPU count; no job worker; log level WARNING): points/s, and the
   ratio to raw COPY (targets: ≥ 150,000 points/s and ≥ 50 %). Steps 1 and 2 alternate for ``--rounds``
   rounds (medians printed), so both meet the same machine.
3. **MQTT**: the same server subscribed to the Mosquitto broker on 127.0.0.1:1883 (``HOMEOPS_MQTT_URL``,
   a topic prefix of its own), ``--senders`` publishers (MQTT 5, QoS 1, the token as the ``authorization``
   user property), for each size in ``--mqtt-message`` points per message: points/s from the first publish
   until every row is in the table. Skipped when no broker answers.

The bodies are encoded before the clock starts; the senders run in this process (asyncio + httpx), on the
same machine as the server and the database: they take CPU from both (reported as "client CPU").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from _serve import free_port, stop, wait_ready

HERE = Path(__file__).resolve().parent
PASSWORD = "bench-password-1"
DEVICES_PER_HOME = 25
METRICS = ("temperature", "humidity", "power", "voltage")
BROKER = ("127.0.0.1", 1883)
EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)


def broker_up() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=1):
            return True
    except OSError:
        return False


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds (user + system) of processes and their children (uvicorn workers, PostgreSQL backends)."""
    tick = os.sysconf("SC_CLK_TCK")
    seen: set[int] = set()
    todo = list(pids)
    total = 0.0
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def serve_main(port: int, workers: int) -> None:
    """(Subprocess) the API on 127.0.0.1:port as ``homeops serve`` runs it, without the job worker."""
    import uvicorn

    from homeops.bootstrap import prepare_database
    from homeops.core.config import Settings

    settings = Settings(log_level="WARNING", run_worker=False)
    urls = prepare_database(settings, migrate=False)
    try:
        if workers > 1:
            os.environ["HOMEOPS_DATABASE_URL"] = urls.owner.render_as_string(hide_password=False)
            os.environ["HOMEOPS_APP_DATABASE_URL"] = urls.app.render_as_string(hide_password=False)
            uvicorn.run(
                "homeops.app:app_from_environment",
                factory=True,
                host="127.0.0.1",
                port=port,
                workers=workers,
                log_level="warning",
                log_config=None,
                access_log=False,
                proxy_headers=False,
            )
        else:
            from homeops.app import create_app

            uvicorn.run(
                create_app(settings, urls.app),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                log_config=None,
                access_log=False,
                proxy_headers=False,
            )
    finally:
        urls.stop()


# --- the data -----------------------------------------------------------------------------------------------


class Sender:
    def __init__(self, home_id: str, devices: list[str], token: str, token_id: str) -> None:
        self.home_id, self.devices, self.token, self.token_id = home_id, devices, token, token_id


def points(sender: Sender, batch: int, size: int, start: datetime) -> list[dict[str, Any]]:
    """``size`` distinct points: every device × metric at consecutive 10 ms steps (batch-numbered)."""
    per_step = len(sender.devices) * len(METRICS)
    steps = -(-size // per_step)
    out: list[dict[str, Any]] = []
    for k in range(steps):
        ts = (start + timedelta(milliseconds=10 * (batch * steps + k))).isoformat().replace("+00:00", "Z")
        for d in sender.devices:
            for m in METRICS:
                out.append({"device_id": d, "metric": m, "ts": ts, "value": 20.0 + (k % 97) * 0.1})
    return out[:size]


_ROW = struct.Struct(">hi16si16s")  # field count; home uuid; device uuid; then metric text follows


def copy_data(sender: Sender, items: list[dict[str, Any]]) -> bytes:
    """The binary COPY of ``items`` into (home_id, device_id, metric, ts, value)."""
    home = uuid.UUID(sender.home_id).bytes
    devices = {d: uuid.UUID(d).bytes for d in sender.devices}
    metrics = {m: struct.pack(">i", len(m)) + m.encode() for m in METRICS}
    stamps: dict[str, bytes] = {}
    rows = [b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)]
    for p in items:
        ts = stamps.get(p["ts"])
        if ts is None:
            us = (datetime.fromisoformat(p["ts"]) - EPOCH_2000) // timedelta(microseconds=1)
            ts = stamps[p["ts"]] = struct.pack(">iq", 8, us)
        rows.append(
            _ROW.pack(5, 16, home, 16, devices[p["device_id"]])
            + metrics[p["metric"]]
            + ts
            + struct.pack(">id", 8, p["value"])
        )
    rows.append(struct.pack(">h", -1))
    return b"".join(rows)


# --- phases -------------------------------------------------------------------------------------------------


def truncate(owner_dsn: str) -> None:
    import psycopg

    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE device_telemetry")
        conn.execute("CHECKPOINT")


def count(owner_dsn: str) -> int:
    import psycopg

    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM device_telemetry").fetchone()
        return int(row[0]) if row else 0


def raw_copy(owner_dsn: str, batches: list[bytes]) -> float:
    import psycopg

    with psycopg.connect(owner_dsn) as conn:
        t0 = time.perf_counter()
        for data in batches:
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY device_telemetry (home_id, device_id, metric, ts, value) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.write(data)
            conn.commit()
        return time.perf_counter() - t0


def raw_copy_parallel(owner_dsn: str, per_sender: list[list[bytes]]) -> float:
    """The same COPYs from one connection per sender, concurrently (threads: psycopg releases the GIL)."""
    import threading

    import psycopg

    conns = [psycopg.connect(owner_dsn) for _ in per_sender]
    start = threading.Barrier(len(per_sender) + 1)

    def run(conn: psycopg.Connection[Any], mine: list[bytes]) -> None:
        start.wait()
        for data in mine:
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY device_telemetry (home_id, device_id, metric, ts, value) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.write(data)
            conn.commit()

    threads = [threading.Thread(target=run, args=(c, m)) for c, m in zip(conns, per_sender, strict=True)]
    for th in threads:
        th.start()
    start.wait()
    t0 = time.perf_counter()
    for th in threads:
        th.join()
    secs = time.perf_counter() - t0
    for c in conns:
        c.close()
    return secs


async def http_phase(base: str, bodies: list[tuple[str, list[bytes]]]) -> tuple[float, list[float], int]:
    """Each sender posts its bodies one after another; the senders run concurrently."""
    latencies: list[float] = []
    errors = 0

    async def sender(token: str, mine: list[bytes]) -> None:
        nonlocal errors
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=base, timeout=120) as c:
            for body in mine:
                t = time.perf_counter()
                r = await c.post("/api/v1/ingest/telemetry", content=body, headers=headers)
                latencies.append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors += 1
                    print("HTTP", r.status_code, r.text[:300], file=sys.stderr)

    t0 = time.perf_counter()
    await asyncio.gather(*(sender(token, mine) for token, mine in bodies))
    return time.perf_counter() - t0, latencies, errors


async def mqtt_phase(
    prefix: str, messages: list[tuple[Sender, list[bytes]]], owner_dsn: str, expected: int
) -> tuple[float, float]:
    """(seconds until every row is in the table, seconds the publishers took)."""
    import aiomqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    async def publisher(s: Sender, mine: list[bytes]) -> None:
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = ("authorization", f"Bearer {s.token}")
        async with aiomqtt.Client(
            *BROKER, protocol=aiomqtt.ProtocolVersion.V5, max_inflight_messages=100
        ) as c:
            topic = f"{prefix}/{s.token_id}/telemetry"
            for payload in mine:
                await c.publish(topic, payload, qos=1, properties=props)

    t0 = time.perf_counter()
    await asyncio.gather(*(publisher(s, mine) for s, mine in messages))
    published = time.perf_counter() - t0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if await asyncio.to_thread(count, owner_dsn) >= expected:
            break
        await asyncio.sleep(0.2)
    return time.perf_counter() - t0, published


# --- main ---------------------------------------------------------------------------------------------------


def setup_senders(base: str, owner_url: Any, n: int) -> list[Sender]:
    from homeops.demo import create_user

    email = f"bench-ingest-{uuid.uuid4().hex[:8]}@bench.homeops.org"
    create_user(owner_url, email, "Ingest Bench", PASSWORD, "homeowner", rounds=4)
    with httpx.Client(base_url=base, timeout=30) as c:
        r = c.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        r.raise_for_status()
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        senders = []
        for i in range(n):
            home = c.post("/api/v1/homes", json={"name": f"Bench {i}", "timezone": "UTC"}, headers=auth)
            home.raise_for_status()
            home_id = home.json()["id"]
            devices = []
            for j in range(DEVICES_PER_HOME):
                d = c.post(f"/api/v1/homes/{home_id}/devices", json={"nickname": f"Sensor {j}"}, headers=auth)
                d.raise_for_status()
                devices.append(d.json()["id"])
            t = c.post(f"/api/v1/homes/{home_id}/ingest-tokens", json={"name": "bench"}, headers=auth)
            t.raise_for_status()
            senders.append(Sender(home_id, devices, t.json()["token"], t.json()["id"]))
        return senders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=20, help="batches per sender")
    parser.add_argument("--rounds", type=int, default=3, help="alternated raw COPY / HTTP rounds (median)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--mqtt-message", default="10000,500", help="points per MQTT message (comma list)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--results", default=None, help="append the summary (JSON lines) to this file")
    parser.add_argument(
        "--profile",
        default=None,
        help="py-spy the API processes during the HTTP and MQTT phases into this folder",
    )
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve_main(args.serve, args.workers)
        return 0

    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="homeops-ingest-bench-"))
    os.environ["HOMEOPS_DATA_DIR"] = str(data_dir)
    os.environ.pop("HOMEOPS_DATABASE_URL", None)
    os.environ.pop("HOMEOPS_APP_DATABASE_URL", None)
    prefix = f"homeops-bench-{uuid.uuid4().hex[:8]}"
    mqtt = broker_up()
    if mqtt:
        os.environ["HOMEOPS_MQTT_URL"] = f"mqtt://{BROKER[0]}:{BROKER[1]}/{prefix}"

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
    t_setup = time.perf_counter()
    urls = prepare_database(Settings(log_level="WARNING"))
    owner_dsn = libpq_dsn(urls.owner)
    pg_pid = _postmaster_pid(owner_dsn)
    port = free_port()
    log_path = data_dir / "server.log"
    log = open(log_path, "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--workers", str(args.workers)],
        stdout=log,
        stderr=log,
        env=os.environ.copy(),
    )
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {
        "code": head,
        "dirty": bool(dirty),
        "senders": args.senders,
        "batch": args.batch,
        "batches": args.batches,
        "workers": args.workers,
        "load_before": load0,
    }
    try:
        wait_ready(f"{base}/healthz", proc)
        senders = setup_senders(base, urls.owner, args.senders)
        import psycopg

        with psycopg.connect(owner_dsn) as conn:
            row = conn.execute(
                "SELECT threshold FROM telemetry_rollup_state WHERE name = 'hourly'"
            ).fetchone()
            threshold = row[0] if row else datetime.now(UTC)
            pg_version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        # Live data (after the roll-up threshold, before now): no invalidations, as a device's fresh points.
        start = max(threshold, datetime.now(UTC) - timedelta(seconds=90))
        total = args.senders * args.batches * args.batch
        items = {
            (i, b): points(s, b, args.batch, start)
            for i, s in enumerate(senders)
            for b in range(args.batches)
        }
        print(
            f"PostgreSQL {pg_version} (embedded, {data_dir}); setup {time.perf_counter() - t_setup:.1f} s; "
            f"{args.senders} senders × {args.batches} batches × {args.batch:,} points = {total:,} points"
        )

        copies = [
            copy_data(senders[i], items[(i, b)]) for b in range(args.batches) for i in range(len(senders))
        ]
        bodies = [
            (s.token, [orjson.dumps(items[(i, b)]) for b in range(args.batches)])
            for i, s in enumerate(senders)
        ]
        results["body_mb"] = len(bodies[0][1][0]) / 1e6
        # HTTP warm-up: one batch per sender (other timestamps), then emptied again
        warm = [(s.token, [orjson.dumps(points(s, args.batches + 1, args.batch, start))]) for s in senders]
        asyncio.run(http_phase(base, warm))
        results["copy_runs"], results["copy_parallel_runs"], results["http_runs"] = [], [], []
        for r in range(args.rounds):  # alternated, so both meet the same (shared) machine
            # 1. raw COPY
            truncate(owner_dsn)
            load1 = os.getloadavg()
            cpu0 = cpu_seconds([pg_pid])
            secs = raw_copy(owner_dsn, copies)
            pg_cpu = cpu_seconds([pg_pid]) - cpu0
            assert count(owner_dsn) == total
            results["copy_runs"].append(
                {"seconds": secs, "pps": total / secs, "pg_cpu": pg_cpu, "load": load1}
            )
            # 1b. the same COPYs from one connection per sender (as many writers as the HTTP phase has)
            truncate(owner_dsn)
            secs = raw_copy_parallel(owner_dsn, [copies[i :: len(senders)] for i in range(len(senders))])
            assert count(owner_dsn) == total
            results["copy_parallel_runs"].append({"seconds": secs, "pps": total / secs})

            # 2. HTTP
            truncate(owner_dsn)
            cpu_api0, cpu_pg0, cpu_me0 = cpu_seconds([proc.pid]), cpu_seconds([pg_pid]), time.process_time()
            load1 = os.getloadavg()
            spies = start_profiles(args, proc.pid, f"http-{r}")
            secs, lat, errors = asyncio.run(http_phase(base, bodies))
            stop_profiles(spies)
            api_cpu, pg_cpu = cpu_seconds([proc.pid]) - cpu_api0, cpu_seconds([pg_pid]) - cpu_pg0
            client_cpu = time.process_time() - cpu_me0
            written = count(owner_dsn)
            lat.sort()
            results["http_runs"].append(
                {
                    "seconds": secs,
                    "pps": written / secs,
                    "errors": errors,
                    "written": written,
                    "p50_ms": lat[len(lat) // 2] * 1000,
                    "max_ms": lat[-1] * 1000,
                    "api_cpu": api_cpu,
                    "pg_cpu": pg_cpu,
                    "client_cpu": client_cpu,
                    "load": load1,
                }
            )
            c, h = results["copy_runs"][-1], results["http_runs"][-1]
            cp = results["copy_parallel_runs"][-1]
            print(
                f"round {r + 1}: raw COPY {c['pps']:,.0f} points/s (load {c['load'][0]:.1f}; "
                f"{len(senders)} connections: {cp['pps']:,.0f}), "
                f"HTTP {h['pps']:,.0f} points/s (load {h['load'][0]:.1f}, {h['errors']} errors): "
                f"{h['pps'] / c['pps'] * 100:.0f} %"
            )

        # 3. MQTT
        results["mqtt"] = []
        if mqtt:
            for size in [int(x) for x in args.mqtt_message.split(",") if x]:
                truncate(owner_dsn)
                msgs = []
                for i, s in enumerate(senders):
                    mine = []
                    for b in range(args.batches):
                        batch = items[(i, b)]
                        mine += [orjson.dumps(batch[k : k + size]) for k in range(0, len(batch), size)]
                    msgs.append((s, mine))
                cpu_api0, cpu_pg0 = cpu_seconds([proc.pid]), cpu_seconds([pg_pid])
                spies = start_profiles(args, proc.pid, f"mqtt-{size}")
                secs, published = asyncio.run(mqtt_phase(prefix, msgs, owner_dsn, total))
                stop_profiles(spies)
                written = count(owner_dsn)
                results["mqtt"].append(
                    {
                        "message_points": size,
                        "messages": sum(len(m) for _, m in msgs),
                        "seconds": secs,
                        "published_s": published,
                        "pps": written / secs,
                        "written": written,
                        "api_cpu": cpu_seconds([proc.pid]) - cpu_api0,
                        "pg_cpu": cpu_seconds([pg_pid]) - cpu_pg0,
                    }
                )
        results["load_after"] = os.getloadavg()
    finally:
        stop(proc)
        log.close()
        urls.stop()
        if not args.keep and not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)

    copy_runs, http_runs = results["copy_runs"], results["http_runs"]
    c, h = _median(copy_runs), _median(http_runs)
    ratio = h["pps"] / c["pps"] * 100
    ratios = [hr["pps"] / cr["pps"] * 100 for cr, hr in zip(copy_runs, http_runs, strict=True)]
    results["ratio_percent"], results["ratios"] = ratio, ratios
    n = args.rounds
    print()
    print(
        "| path | points | seconds | points/s | vs raw COPY | CPU s: API / PostgreSQL / client | CPU µs per point |"
    )
    print("|---|---:|---:|---:|---:|---|---:|")
    print(
        f"| raw binary COPY, 1 process, {args.batch:,}-row transactions (median of {n}) | {total:,} | "
        f"{c['seconds']:.2f} | {c['pps']:,.0f} | 100 % | – / {c['pg_cpu']:.1f} / – | "
        f"{c['pg_cpu'] / total * 1e6:.2f} |"
    )
    cp = _median(results["copy_parallel_runs"])
    print(
        f"| raw binary COPY, {args.senders} connections at once, same batches (median of {n}) | {total:,} | "
        f"{cp['seconds']:.2f} | {cp['pps']:,.0f} | {cp['pps'] / c['pps'] * 100:.0f} % | – | – |"
    )
    h_cpu = h["api_cpu"] + h["pg_cpu"] + h["client_cpu"]
    print(
        f"| HTTP `POST /api/v1/ingest/telemetry`, {args.senders} senders × {args.batch:,}-point JSON "
        f"({results['body_mb']:.2f} MB), {args.workers} API processes (median of {n}) | {h['written']:,} | "
        f"{h['seconds']:.2f} | {h['pps']:,.0f} | {ratio:.0f} % | {h['api_cpu']:.1f} / {h['pg_cpu']:.1f} / "
        f"{h['client_cpu']:.1f} | {h_cpu / total * 1e6:.2f} |"
    )
    for m in results["mqtt"]:
        m_cpu = m["api_cpu"] + m["pg_cpu"]
        print(
            f"| MQTT, {args.senders} publishers, {m['message_points']:,} points/message ({m['messages']:,} "
            f"messages, QoS 1) | {m['written']:,} | {m['seconds']:.2f} | {m['pps']:,.0f} | "
            f"{m['pps'] / c['pps'] * 100:.0f} % | {m['api_cpu']:.1f} / {m['pg_cpu']:.1f} / (publishers) | "
            f"{m_cpu / total * 1e6:.2f} (+ publishers) |"
        )
    if not mqtt:
        print("| MQTT | skipped: no broker on 127.0.0.1:1883 | | | | | |")
    print()
    best_c, best_h = max(r["pps"] for r in copy_runs), max(r["pps"] for r in http_runs)
    per_http = ", ".join(f"{r['pps']:,.0f}" for r in http_runs)
    per_copy = ", ".join(f"{r['pps']:,.0f}" for r in copy_runs)
    per_ratio = ", ".join(f"{x:.0f} %" for x in ratios)
    print(
        f"HTTP per round: {per_http} points/s; raw COPY: {per_copy}; ratio per round: {per_ratio}; "
        f"best HTTP {best_h:,.0f}, best raw COPY {best_c:,.0f}"
    )
    print(
        f"HTTP: {sum(r['errors'] for r in http_runs)} errors; per request p50 {h['p50_ms']:.0f} ms, "
        f"max {h['max_ms']:.0f} ms; load (1 min) {min(r['load'][0] for r in http_runs + copy_runs):.1f}–"
        f"{max(r['load'][0] for r in http_runs + copy_runs):.1f} during the rounds, "
        f"{results['load_after'][0]:.1f} after the run"
    )
    # What the CPU time says the endpoint would do on two otherwise idle cores (server side: API + PostgreSQL,
    # both parallel over 4 senders), next to one COPY backend's ceiling: an estimate, not a measurement.
    server_us = (h["api_cpu"] + h["pg_cpu"]) / total * 1e6
    print(
        f"CPU-time estimate for 2 idle cores: HTTP ≈ {2e6 / server_us:,.0f} points/s "
        f"({server_us:.2f} µs server CPU per point), one COPY backend ≈ {1e6 / (c['pg_cpu'] / total * 1e6):,.0f}"
    )
    print(
        f"targets (measured, median): ≥ 150,000 points/s: {'met' if h['pps'] >= 150_000 else 'NOT met'} "
        f"({h['pps']:,.0f}); ≥ 50 % of raw COPY: {'met' if ratio >= 50 else 'NOT met'} ({ratio:.0f} %)"
    )
    if args.results:
        with open(args.results, "a") as fh:
            fh.write(json.dumps(results, default=str) + "\n")
    return 0


def start_profiles(args: argparse.Namespace, server_pid: int, phase: str) -> list[subprocess.Popen[bytes]]:
    """py-spy (raw collapsed stacks) on each API process: the uvicorn workers, or the server itself."""
    if not args.profile:
        return []
    out = Path(args.profile)
    out.mkdir(parents=True, exist_ok=True)
    children = [int(c) for c in Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()]
    api = [c for c in children if b"multiprocessing" in Path(f"/proc/{c}/cmdline").read_bytes()]
    workers = [c for c in api if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]
    return [
        subprocess.Popen(
            [
                args.py_spy,
                "record",
                "--pid",
                str(p),
                "--rate",
                "250",
                "--format",
                "raw",
                "--nonblocking",
                "-o",
                str(out / f"{phase}-{p}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in (workers or [server_pid])
    ]


def stop_profiles(spies: list[subprocess.Popen[bytes]]) -> None:
    import signal

    for spy in spies:
        spy.send_signal(signal.SIGINT)
    for spy in spies:
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda r: r["pps"])[len(runs) // 2]


def _postmaster_pid(owner_dsn: str) -> int:
    """The PostgreSQL server's postmaster (its backends are its children)."""
    import psycopg

    with psycopg.connect(owner_dsn, autocommit=True) as conn:  # read while the backend is alive
        backend = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
        stat = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
    return int(stat[1])  # ppid


if __name__ == "__main__":
    raise SystemExit(main())

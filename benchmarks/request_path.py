"""The request path against the database it runs on, measured side by side in one run (issue 7 §5).

    python benchmarks/request_path.py [--data-dir benchmarks/.data] [--workers 1] [--seconds 15] [--connections 4]
                                  [--logins 8] [--results benchmarks/results/request-path.jsonl]

On the benchmark data set (``generate.py``) and its embedded PostgreSQL:

1. ``pgbench -S`` (select-only, prepared, ``--connections`` clients) against a ``pgbench`` database on the same
   server: the database's own ceiling for a one-row read on this machine;
2. ``wrk`` (Debian package ``wrk``) against the API served by uvicorn with ``--workers`` processes:
   ``GET /healthz`` and ``GET /api/v1/users/me`` (one signed-in bench user), throughput, p50/p99 and the
   API processes' CPU per request; the ratio users/me : pgbench is the issue's target (≥ 5 %, p99 < 10 ms);
3. ``GET /healthz`` one request at a time while ``--logins`` logins run concurrently (bcrypt cost 12):
   p50/p99 (target p99 < 20 ms), to show password hashing does not stall the event loop.

The same script runs against an older checkout (install it in its own venv and run this file with that
venv's python): it only uses ``homeops.bootstrap.prepare_database`` and ``homeops.app.create_app``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from _serve import free_port, stop, wait_ready

HERE = Path(__file__).resolve().parent
BENCH_PASSWORD = "bench-password-1"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def serve_main(port: int, workers: int) -> None:
    """(Subprocess) the API on 127.0.0.1:port, as ``homeops serve`` runs it, without the job worker."""
    import uvicorn

    from homeops.bootstrap import prepare_database
    from homeops.core.config import Settings

    settings = Settings(log_level="WARNING", run_worker=False)
    urls = prepare_database(settings, migrate=False)
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
        )


def serve_floor(port: int, dsn: str) -> None:
    """(Subprocess) the floor: FastAPI + one prepared psycopg statement per request, nothing else."""
    import asyncio
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    import psycopg
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import Response

    idle: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
    user_id: list[Any] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for _ in range(8):
            idle.put_nowait(await psycopg.AsyncConnection.connect(dsn, autocommit=True))
        conn = await idle.get()
        cur = await conn.execute("SELECT id FROM users WHERE lower(email) = 'bench-1@bench.homeops.org'")
        user_id.append((await cur.fetchone() or [None])[0])
        idle.put_nowait(conn)
        yield

    floor = FastAPI(lifespan=lifespan)
    statement = b"SELECT id, email, full_name, role, created_at FROM users WHERE id = %s"

    @floor.get("/floor")
    async def one_row() -> Response:
        conn = await idle.get()
        try:
            cur = await conn.execute(statement, (user_id[0],), prepare=True)
            row = await cur.fetchone()
        finally:
            idle.put_nowait(conn)
        assert row is not None
        body = json.dumps(
            {
                "id": str(row[0]),
                "email": row[1],
                "full_name": row[2],
                "role": row[3],
                "created_at": str(row[4]),
            }
        )
        return Response(body, media_type="application/json")

    uvicorn.run(floor, host="127.0.0.1", port=port, log_level="warning", log_config=None, access_log=False)


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children (uvicorn workers)."""
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    tick = os.sysconf("SC_CLK_TCK")
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def run_wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> dict[str, float]:
    cmd = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)

    def lat(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.MULTILINE)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    total = re.search(r"(\d+) requests in", out)
    return {
        "rps": rps,
        "p50": lat("50"),
        "p99": lat("99"),
        "requests": float(total.group(1)) if total else 0,
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def run_pgbench(server_dsn: dict[str, str], seconds: int, connections: int) -> dict[str, float]:
    env = {
        **os.environ,
        "PGHOST": server_dsn["host"],
        "PGPORT": server_dsn["port"],
        "PGUSER": server_dsn["user"],
    }
    if server_dsn.get("password"):
        env["PGPASSWORD"] = server_dsn["password"]
    exists = subprocess.run(
        ["psql", "-d", "postgres", "-Atc", "SELECT 1 FROM pg_database WHERE datname='pgbench'"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(
            ["psql", "-d", "postgres", "-c", "CREATE DATABASE pgbench"],
            env=env,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["pgbench", "-i", "-q", "-s", "10", "pgbench"], env=env, check=True, capture_output=True
        )
    out = subprocess.run(
        ["pgbench", "-S", "-M", "prepared", "-c", str(connections), "-j", "2", "-T", str(seconds), "pgbench"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))  # type: ignore[union-attr]
    return {"tps": tps, "latency_avg_ms": latency}


def healthz_under_logins(base: str, emails: list[str], seconds: float) -> dict[str, float]:
    stop = threading.Event()
    logins: list[float] = []

    def login_loop(email: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as c:
            while not stop.is_set():
                t = time.perf_counter()
                r = c.post("/api/v1/auth/login", json={"email": email, "password": BENCH_PASSWORD})
                if r.status_code == 200:
                    logins.append(time.perf_counter() - t)

    threads = [threading.Thread(target=login_loop, args=(e,), daemon=True) for e in emails]
    for th in threads:
        th.start()
    time.sleep(1.0)  # let the logins get going
    samples: list[float] = []
    with httpx.Client(base_url=base, timeout=30) as c:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            r = c.get("/healthz")
            if r.status_code == 200:
                samples.append((time.perf_counter() - t) * 1000)
            time.sleep(0.005)
    stop.set()
    for th in threads:
        th.join(timeout=10)
    return {
        "n": len(samples),
        "p50": percentile(samples, 50),
        "p99": percentile(samples, 99),
        "max": max(samples) if samples else float("nan"),
        "logins": len(logins),
        "login_p50_ms": statistics.median(logins) * 1000 if logins else float("nan"),
    }


def measure_floor(server: Any, seconds: int, connections: int) -> dict[str, float]:
    """The bare FastAPI + psycopg endpoint (``serve_floor``) in a subprocess, under the same wrk."""
    query = dict(server.query)
    dsn = " ".join(
        f"{k}={v}"
        for k, v in {
            "host": query.get("host") or server.host or "127.0.0.1",
            "port": server.port or 5432,
            "user": server.username or "postgres",
            "password": server.password or "",
            "dbname": server.database,
        }.items()
        if v != ""
    )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-floor", str(port), "--floor-dsn", dsn],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/floor", proc, seconds=30)
        url = f"http://127.0.0.1:{port}/floor"
        run_wrk(url, 2, connections, {})
        cpu0 = process_tree_cpu(proc.pid)
        r = run_wrk(url, seconds, connections, {})
        r["api_cpu_ms_per_req"] = (process_tree_cpu(proc.pid) - cpu0) * 1000 / max(r["requests"], 1)
        return r
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default=str(HERE / ".data"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--logins", type=int, default=8)
    parser.add_argument("--results", default=None, help="append the summary (JSON lines) to this file")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-floor", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--floor-dsn", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ["HOMEOPS_DATA_DIR"] = args.data_dir
    if args.serve_floor:
        serve_floor(args.serve_floor, args.floor_dsn)
        return 0
    if args.serve:
        serve_main(args.serve, args.workers)
        return 0
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2

    from sqlalchemy.engine import make_url

    from homeops.bootstrap import prepare_database
    from homeops.core.config import Settings

    settings = Settings()
    urls = prepare_database(settings)  # starts the embedded server; migrates
    server = make_url(urls.owner)
    query = dict(server.query)
    dsn = {
        "host": str(query.get("host") or server.host or "127.0.0.1"),
        "port": str(server.port or 5432),
        "user": server.username or "postgres",
        "password": server.password or "",
    }
    import homeops

    code_dir = Path(homeops.__file__).resolve().parents[2]
    head = subprocess.run(
        ["git", "-C", str(code_dir), "log", "-1", "--format=%h"], check=False, capture_output=True, text=True
    ).stdout.strip()
    print(f"code {code_dir} @ {head}; data {args.data_dir}; {os.cpu_count()} CPUs; load {os.getloadavg()}")

    port = free_port()
    log = open(Path(args.data_dir) / "platform-bench-server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            str(port),
            "--workers",
            str(args.workers),
            "--data-dir",
            args.data_dir,
        ],
        stdout=log,
        stderr=log,
        env=os.environ.copy(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/healthz", proc)
        emails = [f"bench-{n}@bench.homeops.org" for n in range(1, args.logins + 1)]
        token = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": emails[0], "password": BENCH_PASSWORD}, timeout=30
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        results: dict[str, Any] = {"code": head, "workers": args.workers, "connections": args.connections}

        results["pgbench"] = run_pgbench(dsn, args.seconds, args.connections)
        for name, path, headers in (("healthz", "/healthz", {}), ("users_me", "/api/v1/users/me", auth)):
            run_wrk(base + path, 2, args.connections, headers)  # warm-up
            cpu0 = process_tree_cpu(proc.pid)
            r = run_wrk(base + path, args.seconds, args.connections, headers)
            r["api_cpu_ms_per_req"] = (process_tree_cpu(proc.pid) - cpu0) * 1000 / max(r["requests"], 1)
            results[name] = r
        results["healthz_during_logins"] = healthz_under_logins(base, emails, args.seconds)
        results["floor"] = measure_floor(server, args.seconds, args.connections)
    finally:
        stop(proc)
        urls.stop()

    pg, me, hz, hl = (
        results["pgbench"],
        results["users_me"],
        results["healthz"],
        results["healthz_during_logins"],
    )
    ratio = me["rps"] / pg["tps"] * 100
    print(
        f"pgbench -S -M prepared -c {args.connections}: {pg['tps']:.0f} TPS (latency avg {pg['latency_avg_ms']:.3f} ms)"
    )
    print(
        f"GET /healthz           : {hz['rps']:.0f} req/s  p50 {hz['p50']:.2f} ms  p99 {hz['p99']:.2f} ms  "
        f"API CPU {hz['api_cpu_ms_per_req']:.2f} ms/req  non-2xx {hz['errors']:.0f}"
    )
    print(
        f"GET /api/v1/users/me   : {me['rps']:.0f} req/s  p50 {me['p50']:.2f} ms  p99 {me['p99']:.2f} ms  "
        f"API CPU {me['api_cpu_ms_per_req']:.2f} ms/req  non-2xx {me['errors']:.0f}"
    )
    print(f"users/me : pgbench -S  = {ratio:.2f} %   (target ≥ 5 %, p99 < 10 ms)")
    print(
        f"GET /healthz during {args.logins} concurrent logins: p50 {hl['p50']:.2f} ms  p99 {hl['p99']:.2f} ms  "
        f"max {hl['max']:.1f} ms over {hl['n']} requests ({hl['logins']} logins, p50 {hl['login_p50_ms']:.0f} ms)"
        "   (target p99 < 20 ms)"
    )
    fl = results["floor"]
    print(
        f"floor: bare FastAPI + 1 psycopg statement: {fl['rps']:.0f} req/s  p50 {fl['p50']:.2f} ms  "
        f"p99 {fl['p99']:.2f} ms  CPU {fl['api_cpu_ms_per_req']:.2f} ms/req  = {fl['rps'] / pg['tps'] * 100:.2f} % "
        f"of pgbench; users/me : floor = {me['rps'] / fl['rps'] * 100:.0f} %"
    )
    results["ratio_percent"] = ratio
    if args.results:
        with open(args.results, "a") as fh:
            fh.write(json.dumps(results) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Server time of the web pages at the benchmark scale (issue 10): the dashboard, the device list and the
support ticket queue, signed in with a cookie session as a person would be.

    python benchmarks/pages.py [--data-dir benchmarks/.data] [--requests 200] [--queue-path /support/tickets]

Needs the data set of ``generate.py`` (100,000 households, ~500,000 devices, 2,000,000 troubleshooting sessions
of which ~10 % escalated to tickets). Starts the API in a subprocess on the same database (``queries.py
--serve``), signs in bench homeowners (the heaviest owners: 20+ active devices) and a support user (made here as
the owner, with the bench password), requests each page ``--requests`` times one at a time, and reads the
*server* time of each request from the API's own request log (``duration_ms``: from the first byte in to the
last byte out, rendering included) next to the client's wall time. Prints p50/p99 and writes
``results/pages.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from homeops.bootstrap import prepare_database
from homeops.core.config import Settings
from homeops.core.database import libpq_dsn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _serve import free_port, wait_ready
from queries import (
    BENCH_DOMAIN,
    BENCH_PASSWORD,
    HEAVY_DEVICES,
    WARMUP,
    console,
    percentile,
)

SUPPORT_EMAIL = "support-bench@bench.homeops.org"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30.0, follow_redirects=False)
    token = CSRF.search(client.get("/sign-in").text)
    assert token, "no CSRF token on /sign-in"
    r = client.post(
        "/sign-in", data={"csrf_token": token.group(1), "email": email, "password": BENCH_PASSWORD}
    )
    if r.status_code != 303:
        raise RuntimeError(f"sign-in of {email} answered {r.status_code}: {r.text[:300]}")
    return client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--users", type=int, default=4, help="homeowners signed in (round robin)")
    parser.add_argument("--queue-path", default="/support/tickets", help="the support ticket queue page")
    parser.add_argument("--tickets", type=int, default=100_000, help="service tickets the queue holds")
    args = parser.parse_args(argv)

    settings = Settings(data_dir=args.data_dir)
    with console.status("Starting the database…"):
        urls = prepare_database(settings)
    owner_dsn = libpq_dsn(urls.owner)
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        heavy = [
            e
            for (e,) in conn.execute(
                "SELECT u.email FROM users u JOIN homes h ON h.owner_id = u.id JOIN devices d ON d.home_id = h.id "
                "WHERE d.status = 'active' AND u.email LIKE %s GROUP BY u.email HAVING count(*) >= %s "
                "ORDER BY md5(u.email) LIMIT %s",
                (f"%@{BENCH_DOMAIN}", HEAVY_DEVICES, args.users),
            ).fetchall()
        ]
        if not heavy:
            console.print("[red]No bench data[/red]: run benchmarks/generate.py first.")
            return 2
        bench_hash = conn.execute("SELECT password_hash FROM users WHERE email = %s", (heavy[0],)).fetchone()
        conn.execute(
            "INSERT INTO users (email, full_name, role, password_hash, is_verified, is_active) "
            "VALUES (%s, 'Bench support', 'support', %s, true, true) ON CONFLICT DO NOTHING",
            (SUPPORT_EMAIL, bench_hash[0] if bench_hash else None),
        )
        tickets = conn.execute("SELECT count(*) FROM service_tickets").fetchone()
        if tickets and tickets[0] < args.tickets:
            # The support queue's data: escalated sessions become tickets (generate.py stops at the sessions),
            # open or in progress, a third assigned to the bench support user.
            with console.status(f"Making {args.tickets - tickets[0]:,} service tickets…"):
                conn.execute(
                    "INSERT INTO service_tickets (home_id, user_id, device_id, session_id, summary, priority, "
                    "status, assigned_to, created_at, updated_at) "
                    "SELECT s.home_id, s.user_id, s.device_id, s.id, left(s.issue_summary, 500), "
                    "(ARRAY['low','medium','high','urgent'])[1 + (abs(hashtext(s.id::text)) %% 4)]::priority_level, "
                    "(CASE WHEN abs(hashtext(s.id::text)) %% 3 = 0 THEN 'assigned' ELSE 'open' END)::ticket_status, "
                    "CASE WHEN abs(hashtext(s.id::text)) %% 3 = 0 THEN (SELECT id FROM users WHERE email = %s) END, "
                    "s.created_at, s.created_at FROM troubleshooting_sessions s "
                    "WHERE s.device_id IS NOT NULL AND NOT EXISTS "
                    "(SELECT 1 FROM service_tickets t WHERE t.home_id = s.home_id AND t.session_id = s.id) "
                    "ORDER BY s.created_at DESC LIMIT %s",
                    (SUPPORT_EMAIL, args.tickets - tickets[0]),
                )
                conn.execute("ANALYZE service_tickets")
            tickets = conn.execute("SELECT count(*) FROM service_tickets").fetchone()
        devices = conn.execute("SELECT count(*) FROM devices").fetchone()
    console.print(
        f"{tickets[0] if tickets else 0:,} service tickets, {devices[0] if devices else 0:,} devices"
    )

    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "HOMEOPS_DATABASE_URL": urls.owner.render_as_string(hide_password=False),
            "HOMEOPS_APP_DATABASE_URL": urls.app.render_as_string(hide_password=False),
            "HOMEOPS_DATA_DIR": str(Path(args.data_dir).resolve()),
            "HOMEOPS_RUN_WORKER": "false",
        }
    )
    (HERE / "results").mkdir(exist_ok=True)
    log_path = HERE / "results" / "pages-server.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "queries.py"), "--serve", str(port)], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    rows: list[tuple[str, float, float, float, float, int]] = []
    try:
        wait_ready(f"{base}/healthz", proc)  # see the server's log if it raises
        owners = [sign_in(base, e) for e in heavy]
        support = sign_in(base, SUPPORT_EMAIL)
        pages = [
            ("dashboard  GET /", owners, "/"),
            ("device list  GET /devices", owners, "/devices"),
            ("device list, filtered  GET /devices?status=active&q=…", owners, "/devices?status=active&q=a"),
            ("ticket queue  GET " + args.queue_path, [support], args.queue_path),
            (
                "ticket queue, open  GET " + args.queue_path + "?status=open",
                [support],
                args.queue_path + "?status=open",
            ),
        ]
        for label, clients, path in pages:
            wall: list[float] = []
            ids: list[str] = []
            status = 0
            for i in range(args.requests + WARMUP):
                client = clients[i % len(clients)]
                rid = f"page-{len(rows)}-{i}"
                t0 = time.perf_counter()
                r = client.get(path, headers={"X-Request-ID": rid})
                elapsed = (time.perf_counter() - t0) * 1000
                status = r.status_code
                if status != 200:
                    break
                if i >= WARMUP:
                    wall.append(elapsed)
                    ids.append(rid)
            if not wall:
                console.print(f"[yellow]{label}: answered {status}, skipped[/yellow]")
                continue
            rows.append((label, percentile(wall, 50), percentile(wall, 99), 0.0, 0.0, len(wall)))
            rows[-1] = (*rows[-1][:3], *_server_times(log_path, set(ids)), len(wall))
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
    out = [f"{'page':<60} {'server p50':>11} {'server p99':>11} {'wall p50':>9} {'wall p99':>9} {'n':>5}"]
    for label, w50, w99, s50, s99, n in rows:
        out.append(f"{label:<60} {s50:>9.1f}ms {s99:>9.1f}ms {w50:>7.1f}ms {w99:>7.1f}ms {n:>5}")
    text = "\n".join(out)
    console.print(text)
    (HERE / "results" / "pages.txt").write_text(text + "\n")
    return 0


def _server_times(log_path: Path, ids: set[str]) -> tuple[float, float]:
    times: list[float] = []
    for line in log_path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("request_id") in ids and "duration_ms" in entry:
            times.append(float(entry["duration_ms"]))
    if not times:
        return 0.0, 0.0
    return percentile(times, 50), percentile(times, 99)


if __name__ == "__main__":
    sys.exit(main())

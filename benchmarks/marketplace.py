"""Marketplace at scale (issue 11): the five hot reads, as SQL and over HTTP, side by side.

    python benchmarks/marketplace.py [--data-dir benchmarks/.data] [--samples 300] [--requests 300]
                                     [--users 4] [--tag NAME] [--explain] [--apply-sql FILE]
                                     [--no-sql] [--no-http]

Needs the data set of ``generate.py --only core`` + ``generate_marketplace.py`` (100k homeowners, 10k providers,
300k requests, 1M quotes, 200k projects, 5M chat messages, 150k ratings). Measured, each with realistic
parameters picked from the data as the owner (popular service + city combinations, the providers with the most
matching open requests, requests with the most quotes, the chattiest projects, the most reviewed providers —
and random ones beside them):

1. provider search ``GET /api/v1/providers?service=…&city=…[&min_rating=…][&district=…][&q=…]``
   (``ProviderRepository.search`` → ``homeops_search_providers``);
2. a provider's matching open requests ``GET /api/v1/providers/me/matching-requests`` (as the provider;
   ``RequestRepository.matching`` → ``homeops_matching_requests``);
3. a request's quotes ``GET /api/v1/service-requests/{id}/quotes`` (as its owner; ``QuoteRepository.of_request``);
4. a project's chat page ``GET /api/v1/projects/{id}/messages`` (as the requester and as the provider;
   ``ChatRepository.history``);
5. a provider's reviews ``GET /api/v1/providers/{id}/reviews`` (``RatingRepository.of_provider``).

**SQL**: as ``queries.py`` does — the repository's own statement captured once through SQLAlchemy, then re-run
with psycopg on the ``homeops_app`` URL (row security on), each sample in its own transaction after
``homeops_sign_in(user, hash)`` (not timed), execute + fetch timed, 10 warm-up samples, one connection (psycopg
prepares after 5 executions: generic plans are part of the picture). **HTTP**: the API in a uvicorn subprocess
(``queries.py --serve``), bearer logins, one request at a time, wall time and the API's own ``duration_ms``.
Target: p99 < 20 ms over HTTP. Writes ``results/marketplace[-TAG].txt`` and, with ``--explain``, EXPLAIN
(ANALYZE, BUFFERS) of each statement as the API role with the identity set (and, for the two SECURITY DEFINER
functions, of the statement they run) to ``results/explain-marketplace[-TAG].txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg
from _serve import free_port, stop, wait_ready
from rich.table import Table

from homeops.bootstrap import prepare_database
from homeops.core.config import Settings
from homeops.core.database import libpq_dsn
from homeops.marketplace.models import ChatSide
from homeops.marketplace.repository import (
    ChatRepository,
    ProviderRepository,
    QuoteRepository,
    RatingRepository,
    RequestRepository,
)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import queries
from queries import (
    BENCH_PASSWORD,
    RESULTS,
    WARMUP,
    Captured,
    Result,
    capture,
    console,
    explain,
    percentile,
    run_sql,
)

TARGET_MS = 20.0
LIMIT = 50  # the API's default page


def pick(conn: psycopg.Connection, args: argparse.Namespace) -> dict[str, Any]:
    """The parameters, chosen from the data as the owner."""
    n = args.users
    out: dict[str, Any] = {}
    # Popular (service, city) combinations: most verified providers offering that service there.
    out["combos"] = conn.execute(
        "SELECT s.k, c.k, count(*) FROM provider_profiles p, unnest(p.search_keys) s(k), unnest(p.search_keys) c(k) "
        "WHERE p.is_verified AND s.k LIKE 'svc:%%' AND c.k LIKE 'city:%%' GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 6"
    ).fetchall()
    out["combos"] = [(s[4:], c[5:], int(k)) for s, c, k in out["combos"]]
    # City names as people type them (the search lower-cases and trims).
    cities: dict[str, str] = dict(
        conn.execute(
            "SELECT DISTINCT lower(btrim(a->>'city')), a->>'city' FROM provider_profiles p, "
            "jsonb_array_elements(p.coverage_areas) a"
        ).fetchall()
    )
    out["cities"] = cities
    # Providers with the most matching open requests (category in their services, city covered), and random ones.
    matching = """
        SELECT p.id, p.user_id, count(r.*) FROM provider_profiles p
          JOIN service_requests r ON r.status IN ('open', 'quotes_received') AND r.expires_at > now()
           AND r.problem_category IN (SELECT jsonb_array_elements_text(p.services_offered))
           AND r.city_key = ANY (ARRAY(SELECT substr(k, 6) FROM unnest(p.search_keys) k WHERE k LIKE 'city:%%'))
           AND (r.city_key = ANY (ARRAY(SELECT substr(k, 10) FROM unnest(p.search_keys) k WHERE k LIKE 'city-all:%%'))
                OR r.area_key = ANY (ARRAY(SELECT substr(k, 6) FROM unnest(p.search_keys) k WHERE k LIKE 'area:%%')))
           AND r.preferred_provider_type IN ('any', p.provider_type::text::preferred_provider_type)
         WHERE p.is_verified AND p.id = ANY (%s) GROUP BY 1, 2 ORDER BY 3 DESC LIMIT %s"""
    heavy_candidates = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM provider_profiles WHERE is_verified ORDER BY jsonb_array_length(services_offered) "
            "* jsonb_array_length(coverage_areas) DESC, md5(id::text) LIMIT 300"
        ).fetchall()
    ]
    out["match_heavy"] = conn.execute(matching, (heavy_candidates, n)).fetchall()
    random_ids = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM provider_profiles WHERE is_verified ORDER BY md5(id::text || 'r') LIMIT %s", (n,)
        ).fetchall()
    ]
    out["match_random"] = conn.execute(matching, (random_ids, n)).fetchall()
    # Requests with the most quotes (8) and random requests with quotes; their owners.
    out["quotes_heavy"] = conn.execute(
        "SELECT requester_id, id, quotes_count FROM service_requests ORDER BY quotes_count DESC, md5(id::text) "
        "LIMIT %s",
        (n * 25,),
    ).fetchall()
    out["quotes_random"] = conn.execute(
        "SELECT requester_id, id, quotes_count FROM service_requests WHERE quotes_count > 0 "
        "ORDER BY md5(id::text) LIMIT %s",
        (n * 25,),
    ).fetchall()
    # The chattiest projects and random ones (with their two parties).
    out["chat_heavy"] = conn.execute(
        "SELECT m.requester_id, m.project_id, p.provider_user_id, count(*) FROM chat_messages m "
        "JOIN projects p ON p.requester_id = m.requester_id AND p.id = m.project_id "
        "GROUP BY 1, 2, 3 ORDER BY 4 DESC LIMIT %s",
        (n,),
    ).fetchall()
    out["chat_random"] = conn.execute(
        "SELECT p.requester_id, p.id, p.provider_user_id, (SELECT count(*) FROM chat_messages m "
        "WHERE m.requester_id = p.requester_id AND m.project_id = p.id) FROM projects p "
        "ORDER BY md5(p.id::text) LIMIT %s",
        (n * 25,),
    ).fetchall()
    # The most reviewed providers and random rated ones.
    out["reviews_heavy"] = conn.execute(
        "SELECT id, total_ratings FROM provider_profiles ORDER BY total_ratings DESC LIMIT %s", (n,)
    ).fetchall()
    out["reviews_random"] = conn.execute(
        "SELECT id, total_ratings FROM provider_profiles WHERE total_ratings > 0 ORDER BY md5(id::text) LIMIT %s",
        (n * 25,),
    ).fetchall()
    # Every user signs in with the bench password: any homeowner works as the searcher.
    out["searchers"] = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM users WHERE email LIKE %s ORDER BY md5(email) LIMIT %s",
            (f"%@{queries.BENCH_DOMAIN}", n),
        ).fetchall()
    ]
    return out


def search_calls(p: dict[str, Any], rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """Per variant, the query parameters (API spelling)."""
    combos = p["combos"]
    cities: dict[str, str] = p["cities"]
    variants: dict[str, list[dict[str, Any]]] = {
        "service+city": [],
        "+min_rating=4": [],
        "+district": [],
        "q+city": [],
    }
    for _ in range(50):
        service, city_key, _n = rng.choice(combos)
        city = cities.get(city_key, city_key)
        variants["service+city"].append({"service": service, "city": city})
        variants["+min_rating=4"].append({"service": service, "city": city, "min_rating": 4})
        variants["+district"].append(
            {"service": service, "city": city, "district": rng.choice(("Downtown", "Riverside", "Old Town"))}
        )
        variants["q+city"].append(
            {"q": rng.choice(("plumbing", "heating", "licensed electrical", "repair", "roof")), "city": city}
        )
    return variants


def api_to_repo(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "query": params.get("q"),
        "service": params.get("service"),
        "city": params.get("city"),
        "district": params.get("district"),
        "min_rating": Decimal(str(params["min_rating"])) if "min_rating" in params else None,
    }


def chat_call(requester: uuid.UUID, project: uuid.UUID, side: ChatSide) -> Any:
    return lambda ses: ChatRepository(ses).history(requester, project, side, LIMIT, None)


async def capture_statements(app_url: Any, p: dict[str, Any]) -> dict[str, Captured]:
    h = queries.BENCH_HASH
    searcher = p["searchers"][0]
    prov_id, prov_user, _ = p["match_heavy"][0]
    req_owner, req_id, _ = p["quotes_heavy"][0]
    chat_req, chat_proj, _chat_prov, _ = p["chat_heavy"][0]
    rev_provider = p["reviews_heavy"][0][0]
    s = {
        "query": "bench words",
        "service": "bench_svc",
        "city": "Bench City",
        "district": "Bench District",
        "min_rating": Decimal("4.13"),
    }
    out = {}
    out["search"] = await capture(
        app_url,
        searcher,
        h,
        "provider search",
        lambda ses: ProviderRepository(ses).search(
            query=s["query"],
            service=s["service"],
            city=s["city"],
            district=s["district"],
            min_rating=s["min_rating"],
            provider_type=None,
            after=None,
            limit=LIMIT + 1,
        ),
        s,
    )
    out["matching"] = await capture(
        app_url,
        prov_user,
        h,
        "matching requests",
        lambda ses: RequestRepository(ses).matching(prov_id, LIMIT, None),
        {"provider_id": prov_id},
    )
    out["quotes"] = await capture(
        app_url,
        req_owner,
        h,
        "request quotes",
        lambda ses: QuoteRepository(ses).of_request(req_owner, req_id),
        {"requester_id": req_owner, "request_id": req_id},
    )
    for side in (ChatSide.requester, ChatSide.provider):
        out[f"chat-{side.value}"] = await capture(
            app_url,
            chat_req,
            h,
            f"chat page ({side.value})",
            chat_call(chat_req, chat_proj, side),
            {"requester_id": chat_req, "project_id": chat_proj},
        )
    out["reviews"] = await capture(
        app_url,
        searcher,
        h,
        "provider reviews",
        lambda ses: RatingRepository(ses).of_provider(
            rev_provider, query=None, featured=False, limit=LIMIT, after=None
        ),
        {"provider_id": rev_provider},
    )
    return out


# The statements the two SECURITY DEFINER functions run (p014 homeops_search_providers' dynamic SQL for
# service + city; p018 homeops_matching_requests), with the function's variables as literals. EXPLAIN of the
# function call itself shows a Function Scan only (and auto_explain is not in the embedded server).
SEARCH_INNER = """SELECT * FROM provider_profiles p WHERE p.is_verified AND p.search_keys @> ARRAY['svc:' || {svc}]
  AND p.search_keys @> ARRAY['city:' || lower(btrim({city}))]
  ORDER BY p.is_featured DESC, p.average_rating DESC, p.id DESC LIMIT 51"""
MATCHING_INNER = """WITH page AS (
  SELECT x.requester_id, x.id, x.created_at FROM (
    SELECT m.requester_id, m.id, m.created_at
      FROM unnest({services}::text[]) s(code) CROSS JOIN unnest({cities}::text[]) c(city_key)
      CROSS JOIN LATERAL (
        SELECT r.requester_id, r.id, r.created_at FROM service_requests r
         WHERE r.status IN ('open', 'quotes_received') AND r.problem_category = s.code
           AND r.city_key = c.city_key AND r.expires_at > now() AND r.requester_id <> {user}
           AND r.preferred_provider_type IN ('any', {ptype}::preferred_provider_type)
           AND (r.city_key = ANY ({whole}::text[]) OR r.area_key = ANY ({areas}::text[]))
         ORDER BY r.created_at DESC, r.id DESC LIMIT 51) m
    UNION
    (SELECT r.requester_id, r.id, r.created_at FROM service_requests r
      WHERE {radius}::numeric IS NOT NULL AND r.status IN ('open', 'quotes_received')
        AND r.latitude IS NOT NULL AND r.problem_category = ANY ({services}::text[])
        AND r.latitude BETWEEN {lat}::numeric - {delta}::numeric AND {lat}::numeric + {delta}::numeric
        AND r.expires_at > now() AND r.requester_id <> {user}
        AND r.preferred_provider_type IN ('any', {ptype}::preferred_provider_type)
        AND homeops_km(r.latitude, r.longitude, {lat}::numeric, {lon}::numeric) <= {radius}::numeric
      ORDER BY r.created_at DESC, r.id DESC LIMIT 51)
  ) x ORDER BY x.created_at DESC, x.id DESC LIMIT 51)
SELECT r.*, q.id AS my_quote_id, q.status AS my_quote_status
  FROM page JOIN service_requests r ON r.requester_id = page.requester_id AND r.id = page.id
  LEFT JOIN quotes q ON q.requester_id = r.requester_id AND q.request_id = r.id
       AND q.provider_id = {provider} AND q.status NOT IN ('withdrawn', 'expired')
 ORDER BY page.created_at DESC, page.id DESC"""


def inner_explain(owner_dsn: str, key: str, args: dict[str, Any]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a function's inner statement as the owner (the function's own rights),
    run twice: the second (warm) plan is returned."""
    from psycopg import sql as pgsql

    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        if key == "search":
            text = SEARCH_INNER.format(
                svc=pgsql.Literal(args["service"]).as_string(conn),
                city=pgsql.Literal(args["city"]).as_string(conn),
            )
        else:
            row = conn.execute(
                "SELECT (SELECT coalesce(array_agg(s), '{}') FROM jsonb_array_elements_text(p.services_offered) s), "
                "(SELECT coalesce(array_agg(DISTINCT substr(k, 6)), '{}') FROM unnest(p.search_keys) k WHERE k LIKE 'city:%%'), "
                "(SELECT coalesce(array_agg(DISTINCT substr(k, 10)), '{}') FROM unnest(p.search_keys) k WHERE k LIKE 'city-all:%%'), "
                "(SELECT coalesce(array_agg(DISTINCT substr(k, 6)), '{}') FROM unnest(p.search_keys) k WHERE k LIKE 'area:%%'), "
                "p.user_id, p.provider_type::text, p.service_radius_km, p.service_center_lat, p.service_center_lon, "
                "coalesce(p.service_radius_km, 0) / 111.0 FROM provider_profiles p WHERE p.id = %s",
                (args["provider_id"],),
            ).fetchone()
            assert row is not None
            names = ("services", "cities", "whole", "areas", "user", "ptype", "radius", "lat", "lon", "delta")
            values = {n: pgsql.Literal(v).as_string(conn) for n, v in zip(names, row, strict=True)}
            text = MATCHING_INNER.format(
                provider=pgsql.Literal(args["provider_id"]).as_string(conn), **values
            )
        plan = ""
        for _ in range(2):
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + text).fetchall())
        return text + "\n\n" + plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument("--samples", type=int, default=300, help="SQL samples per statement")
    parser.add_argument("--requests", type=int, default=300, help="timed HTTP requests per endpoint")
    parser.add_argument("--users", type=int, default=4, help="users signed in per group")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--tag", default="")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--apply-sql",
        type=Path,
        action="append",
        default=[],
        help="run this SQL file as the owner first (e.g. /work/ddl/marketplace-bench.sql), then ANALYZE",
    )
    parser.add_argument("--no-sql", action="store_true")
    parser.add_argument("--no-http", action="store_true")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    settings = Settings(data_dir=args.data_dir)
    with console.status("Starting the database…"):
        urls = prepare_database(settings)
    owner_dsn = libpq_dsn(urls.owner)
    RESULTS.mkdir(exist_ok=True)
    lines: list[str] = []
    try:
        with psycopg.connect(owner_dsn, autocommit=True) as conn:
            row = conn.execute(
                "SELECT password_hash FROM users WHERE email LIKE %s LIMIT 1", ("%@bench.homeops.org",)
            ).fetchone()
            if row is None or not conn.execute("SELECT 1 FROM chat_messages LIMIT 1").fetchone():
                console.print(
                    "[red]No marketplace data[/red]: run generate.py and generate_marketplace.py first."
                )
                return 2
            queries.BENCH_HASH = str(row[0])
            for path in args.apply_sql:
                start = time.perf_counter()
                conn.execute(path.read_text())
                conn.execute("VACUUM ANALYZE service_requests")
                console.print(f"applied {path} in {time.perf_counter() - start:.1f}s")
            t = time.perf_counter()
            p = pick(conn, args)
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM provider_profiles), "
                "(SELECT count(*) FROM service_requests), (SELECT count(*) FROM quotes), "
                "(SELECT count(*) FROM projects), (SELECT count(*) FROM chat_messages), (SELECT count(*) FROM ratings)"
            ).fetchone()
            env_lines = queries.environment(conn)
        console.print(f"parameters picked in {time.perf_counter() - t:.1f}s")
        assert counts is not None
        lines.append(
            f"data: {counts[0]:,} users, {counts[1]:,} providers, {counts[2]:,} requests, {counts[3]:,} quotes, "
            f"{counts[4]:,} projects, {counts[5]:,} chat messages, {counts[6]:,} ratings"
        )
        lines += env_lines
        lines.append(
            "popular combos (service, city, verified providers): "
            + ", ".join(f"{s}/{c} {k}" for s, c, k in p["combos"])
        )
        lines.append(
            "matching: heavy providers' open matches "
            + ", ".join(str(r[2]) for r in p["match_heavy"])
            + "; random "
            + ", ".join(str(r[2]) for r in p["match_random"])
        )
        lines.append(
            "chat: heavy projects' messages "
            + ", ".join(str(r[3]) for r in p["chat_heavy"])
            + f"; random mean {sum(r[3] for r in p['chat_random']) / max(1, len(p['chat_random'])):.1f}"
        )
        lines.append(
            "reviews: heavy providers' ratings "
            + ", ".join(str(r[1]) for r in p["reviews_heavy"])
            + f"; random mean {sum(r[1] for r in p['reviews_random']) / max(1, len(p['reviews_random'])):.1f}"
        )
        for text in lines:
            console.print(text)

        # The work list: (label, statement key, [(user id for identity, repository args)], [(API path, user id)]).
        variants = search_calls(p, rng)
        work: list[tuple[str, str, list[tuple[uuid.UUID, dict[str, Any]]], list[tuple[str, uuid.UUID]]]] = []
        searchers = p["searchers"]
        # Baselines (HTTP only): the framework with one trivial query, and authentication + one small row.
        work.append(("baseline GET /healthz (no auth, SELECT 1)", "", [], [("/healthz", searchers[0])]))
        work.append(
            (
                "baseline GET /api/v1/users/me (auth + 1 row)",
                "",
                [],
                [("/api/v1/users/me", u) for u in searchers],
            )
        )
        for name, calls in variants.items():
            sql = [(searchers[i % len(searchers)], {**api_to_repo(c)}) for i, c in enumerate(calls)]
            http = [
                (f"/api/v1/providers?{urlencode(c)}", searchers[i % len(searchers)])
                for i, c in enumerate(calls)
            ]
            work.append((f"provider search ({name})", "search", sql, http))
        for group in ("match_heavy", "match_random"):
            rows = p[group]
            sql = [(u, {"provider_id": pid}) for pid, u, _ in rows]
            http = [("/api/v1/providers/me/matching-requests", u) for _pid, u, _ in rows]
            label = "most matches" if group == "match_heavy" else "random verified"
            work.append((f"matching open requests ({label})", "matching", sql, http))
        for group in ("quotes_heavy", "quotes_random"):
            rows = p[group]
            owners = list(dict.fromkeys(r for r, _i, _n in rows))[: args.users]
            chosen = [(r, i) for r, i, _n in rows if r in owners]
            sql = [(r, {"requester_id": r, "request_id": i}) for r, i in chosen]
            http = [(f"/api/v1/service-requests/{i}/quotes", r) for r, i in chosen]
            label = "8 quotes" if group == "quotes_heavy" else "random with quotes"
            work.append((f"request's quotes, owner ({label})", "quotes", sql, http))
        for group in ("chat_heavy", "chat_random"):
            rows = p[group][: args.users]
            for side in ("requester", "provider"):
                who = [(r if side == "requester" else pu, r, pj) for r, pj, pu, _ in rows]
                sql = [(u, {"requester_id": r, "project_id": pj}) for u, r, pj in who]
                http = [(f"/api/v1/projects/{pj}/messages", u) for u, _r, pj in who]
                label = "chattiest" if group == "chat_heavy" else "random"
                work.append((f"chat page as {side} ({label})", f"chat-{side}", sql, http))
        for group in ("reviews_heavy", "reviews_random"):
            rows = p[group]
            sql = [(searchers[i % len(searchers)], {"provider_id": pid}) for i, (pid, _n) in enumerate(rows)]
            http = [
                (f"/api/v1/providers/{pid}/reviews", searchers[i % len(searchers)])
                for i, (pid, _n) in enumerate(rows)
            ]
            label = "most reviewed" if group == "reviews_heavy" else "random rated"
            work.append((f"provider reviews ({label})", "reviews", sql, http))

        caps = asyncio.run(capture_statements(urls.app, p))
        sql_results: dict[str, Result] = {}
        if not args.no_sql:
            with psycopg.connect(libpq_dsn(urls.app), autocommit=True) as conn:
                for label, key, sql, _http in work:
                    if not key:
                        continue
                    res = Result(label, None)
                    samples = [sql[i % len(sql)] for i in range(args.samples + WARMUP)]
                    run_sql(conn, caps[key], samples, res)
                    sql_results[label] = res
                    console.print(f"SQL  {label}: p50 {res.p50:.2f} ms, p99 {res.p99:.2f} ms")
                if args.explain:
                    out = []
                    done: set[str] = set()
                    for label, key, sql, _http in work:
                        if not key or (
                            key in done
                            and "heavy" not in label
                            and "most" not in label
                            and "chattiest" not in label
                        ):
                            continue
                        done.add(key)
                        user, a = sql[0]
                        for generic in (False, True):
                            out.append(
                                f"===== {label} ({'generic' if generic else 'custom'} plan) =====\n{caps[key].sql}\n"
                            )
                            out.append(explain(conn, caps[key], user, a, generic) + "\n")
                    # The two SECURITY DEFINER functions: EXPLAIN shows a Function Scan; their inner statements.
                    for label, key, sql, _http in work:
                        if key in ("search", "matching") and ("service+city" in label or "most" in label):
                            user, a = sql[0]
                            out.append(f"===== {label}: the function's statement, as its owner =====\n")
                            out.append(inner_explain(owner_dsn, key, a) + "\n")
                    (RESULTS / queries.output_name("explain-marketplace", args.tag)).write_text(
                        "\n".join(out)
                    )
        http_results: dict[str, Result] = {}
        if not args.no_http:
            http_results = http_bench(args, urls, work)
    finally:
        urls.stop()

    table = Table(
        "endpoint / statement",
        "rows",
        "SQL p50",
        "SQL p99",
        "HTTP p50",
        "HTTP p99",
        "API log p50/p99",
        "API CPU/req",
        "HTTP p99 / 20 ms",
        "pass",
        title="Marketplace at scale (ms)",
    )
    report = [
        f"{'endpoint':<52} {'rows':>5} {'SQL p50':>8} {'SQL p99':>8} {'HTTP p50':>9} {'HTTP p99':>9} {'log p50/p99':>12} {'CPU/req':>8} {'p99/tgt':>8}"
    ]
    for label, *_ in work:
        s = sql_results.get(label)
        h = http_results.get(label)
        rows = (
            (sum(h.rows) / max(1, len(h.rows)))
            if h and h.rows
            else (sum(s.rows) / max(1, len(s.rows)) if s else 0)
        )
        ok = h is not None and h.p99 < TARGET_MS
        log = (
            f"{percentile(h.server_ms, 50):.0f}/{percentile(h.server_ms, 99):.0f}"
            if h and h.server_ms
            else ""
        )
        cpu = f"{h.server_cpu_ms:.1f}" if h and h.server_cpu_ms is not None else ""
        table.add_row(
            label,
            f"{rows:.1f}",
            f"{s.p50:.2f}" if s else "",
            f"{s.p99:.2f}" if s else "",
            f"{h.p50:.2f}" if h else "",
            f"{h.p99:.2f}" if h else "",
            log,
            cpu,
            f"{h.p99 / TARGET_MS:.2f}" if h else "",
            ("[green]PASS[/green]" if ok else "[red]FAIL[/red]") if h else "",
        )
        report.append(
            f"{label:<52} {rows:>5.1f} {s.p50 if s else float('nan'):>8.2f} {s.p99 if s else float('nan'):>8.2f} "
            f"{h.p50 if h else float('nan'):>9.2f} {h.p99 if h else float('nan'):>9.2f} {log:>12} {cpu:>8} "
            f"{(h.p99 / TARGET_MS) if h else float('nan'):>8.2f}"
        )
    console.print(table)
    load = os.getloadavg()
    lines.append(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    (RESULTS / queries.output_name("marketplace", args.tag)).write_text(
        "\n".join([*lines, "", *report]) + "\n"
    )
    console.print(lines[-1])
    return 0


def http_bench(
    args: argparse.Namespace, urls: Any, work: list[tuple[str, str, list[Any], list[tuple[str, uuid.UUID]]]]
) -> dict[str, Result]:
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
    log_path = RESULTS / queries.output_name("http-server-marketplace", args.tag, "log")
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "queries.py"), "--serve", str(port)], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Result] = {}
    try:
        with psycopg.connect(libpq_dsn(urls.owner), autocommit=True) as conn:
            all_users = {u for _l, _k, _s, http in work for _p, u in http}
            emails: dict[uuid.UUID, str] = dict(
                conn.execute("SELECT id, email FROM users WHERE id = ANY(%s)", (list(all_users),)).fetchall()
            )
        with httpx.Client(base_url=base, timeout=30.0) as client:
            wait_ready(f"{base}/healthz", proc)  # see the server's log if it raises
            tokens: dict[uuid.UUID, dict[str, str]] = {}
            start = time.perf_counter()
            for user in all_users:
                r = client.post(
                    "/api/v1/auth/login", json={"email": emails[user], "password": BENCH_PASSWORD}
                )
                r.raise_for_status()
                tokens[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}
            console.print(f"{len(tokens)} users signed in in {time.perf_counter() - start:.1f}s")

            def cpu_s() -> float:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

            for index, (label, _key, _sql, http) in enumerate(work):
                res = Result(label, TARGET_MS)
                cpu0 = 0.0
                for i in range(args.requests + WARMUP):
                    if i == WARMUP:
                        cpu0 = cpu_s()
                    path, user = http[i % len(http)]
                    rid = f"mkt-{index}-{i}"
                    t0 = time.perf_counter()
                    r = client.get(path, headers={**tokens[user], "X-Request-ID": rid})
                    elapsed = (time.perf_counter() - t0) * 1000
                    if r.status_code != 200:
                        raise RuntimeError(f"{label}: {path} answered {r.status_code}: {r.text[:300]}")
                    body = r.json()
                    n = (
                        len(body["items"])
                        if isinstance(body, dict) and "items" in body
                        else len(body)
                        if isinstance(body, list)
                        else 1
                    )
                    if i >= WARMUP:
                        res.times_ms.append(elapsed)
                        res.rows.append(n)
                res.server_cpu_ms = (cpu_s() - cpu0) * 1000 / max(1, len(res.times_ms))
                results[label] = res
                console.print(
                    f"HTTP {label}: p50 {res.p50:.2f} ms, p99 {res.p99:.2f} ms ({sum(res.rows) / len(res.rows):.1f} rows)"
                )
    finally:
        stop(proc)
        log.close()
    durations: dict[str, int] = {}
    for entry_line in log_path.read_text().splitlines():
        try:
            entry = json.loads(entry_line)
        except ValueError:
            continue
        if isinstance(entry, dict) and str(entry.get("request_id", "")).startswith("mkt-"):
            durations[entry["request_id"]] = round(float(entry.get("duration_ms", 0)))
    log_path.unlink()  # ~1 MB of request log lines; the figures are in the results file
    for index, (label, *_rest) in enumerate(work):
        if label in results:
            warm = {f"mkt-{index}-{i}" for i in range(WARMUP)}
            results[label].server_ms = [
                v for k, v in durations.items() if k.startswith(f"mkt-{index}-") and k not in warm
            ]
    return results


if __name__ == "__main__":
    sys.exit(main())

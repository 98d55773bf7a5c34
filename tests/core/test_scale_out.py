"""On a Citus cluster (``HOMEOPS_TEST_CITUS_URL``): the migrations placed every table as docs/scale-out.md says,
and row security holds on the workers — the identity the coordinator's transaction established reaches the
shard, so a user sees their own rows and none of another tenant's."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import CITUS, as_user

pytestmark = pytest.mark.skipif(not CITUS, reason="needs a Citus coordinator (HOMEOPS_TEST_CITUS_URL)")

# table -> ("reference", None) | ("distributed", key column) | ("local", None); docs/scale-out.md has the reasons
PLACEMENT: dict[str, tuple[str, str | None]] = {
    **{
        t: ("reference", None)
        for t in (
            "users",
            "homes",
            "home_members",
            "organizations",
            "organization_members",
            "system_settings",
            "device_categories",
            "ecosystems",
            "manufacturers",
            "device_models",
            "common_problems",
            "model_maintenance_templates",
            "manuals",
            "manual_chunks",
            "manual_trusted_sources",
            "service_categories",
            "provider_profiles",
            "portfolio_items",
        )
    },
    **{
        t: ("distributed", "home_id")
        for t in (
            "rooms",
            "devices",
            "device_groups",
            "device_group_members",
            "device_manuals",
            "maintenance_schedules",
            "maintenance_occurrences",
            "service_events",
            "troubleshooting_sessions",
            "service_tickets",
            "device_telemetry",
            "device_states",
            "energy_usage",
            "device_error_logs",
            "network_metrics",
            "device_telemetry_hourly",
            "device_telemetry_daily",
            "energy_usage_hourly",
            "energy_usage_daily",
            "device_health_history",
            "rollup_invalidations",
        )
    },
    **{
        t: ("distributed", "requester_id")
        for t in (
            "service_requests",
            "quotes",
            "projects",
            "chat_messages",
            "ratings",
            "rating_votes",
            "request_views",
        )
    },
    **{
        t: ("distributed", "user_id")
        for t in (
            "notifications",
            "chat_sessions",
            "messages",
            "documents",
            "media_files",
            "transcriptions",
            "complaints",
            "product_queries",
            "manual_reports",
            "diagnostics",
        )
    },
    "audit_logs": ("distributed", "id"),
    **{
        t: ("local", None)
        for t in (
            "jobs",
            "user_sessions",
            "retired_refresh_tokens",
            "login_attempts",
            "throttle_events",
            "account_tokens",
            "calendar_feeds",
            "ingest_tokens",
            "telemetry_rollup_state",
            "telemetry_partitions",
        )
    },
}


def _placement(conn: psycopg.Connection) -> dict[str, tuple[str, str | None]]:
    rows = conn.execute(
        "SELECT logicalrelid::regclass::text, partmethod, "
        "CASE WHEN partmethod = 'h' THEN column_to_column_name(logicalrelid, partkey) END, repmodel "
        "FROM pg_dist_partition WHERE NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = logicalrelid)"
    ).fetchall()
    out: dict[str, tuple[str, str | None]] = {}
    for table, method, column, repmodel in rows:
        # A table local to the coordinator that has a foreign key to a reference table becomes a "Citus local
        # table" (partmethod n, repmodel s): still on the coordinator only.
        if method == "h":
            out[table] = ("distributed", column)
        elif method == "n" and repmodel == "t":
            out[table] = ("reference", None)
        else:
            out[table] = ("local", None)
    return out


def test_every_table_is_placed_as_documented(owner_conn: psycopg.Connection) -> None:
    placed = _placement(owner_conn)
    tables = [
        r[0]
        for r in owner_conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
            "AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname NOT IN ('alembic_version', "
            "'manual_chunk_embeddings') ORDER BY 1"
        )
    ]
    actual = {t: placed.get(t, ("local", None)) for t in tables}
    assert actual == {t: PLACEMENT[t] for t in tables}
    assert set(tables) == set(PLACEMENT), "a table was added without a documented placement"


def test_home_keyed_tables_are_colocated(owner_conn: psycopg.Connection) -> None:
    groups = dict(
        owner_conn.execute(
            "SELECT logicalrelid::regclass::text, colocationid FROM pg_dist_partition WHERE partmethod = 'h'"
        ).fetchall()
    )
    home_keyed = {t for t, (kind, key) in PLACEMENT.items() if kind == "distributed" and key == "home_id"}
    user_keyed = {t for t, (kind, key) in PLACEMENT.items() if kind == "distributed" and key == "user_id"}
    assert len({groups[t] for t in home_keyed}) == 1
    assert len({groups[t] for t in user_keyed}) == 1


def test_the_identity_reaches_the_worker_holding_the_shard(
    client: TestClient, make_user, make_home, app_conn: psycopg.Connection, owner_conn: psycopg.Connection
) -> None:  # type: ignore[no-untyped-def]
    alice, mallory = make_user("alice"), make_user("mallory")
    home = make_home(alice)
    for name in ("Kitchen", "Garage", "Attic"):
        assert (
            client.post(
                f"/api/v1/homes/{home['id']}/rooms", json={"name": name}, headers=alice.headers
            ).status_code
            == 201
        )
    node = owner_conn.execute(
        "SELECT nodeport FROM citus_shards WHERE table_name = 'rooms'::regclass "
        "AND shardid = get_shard_id_for_distribution_column('rooms', %s::uuid)",
        (home["id"],),
    ).fetchone()[0]
    coordinator = owner_conn.execute("SELECT nodeport FROM pg_dist_node WHERE groupid = 0").fetchone()[0]
    assert node != coordinator, "the home's rooms should live on a worker"
    with app_conn.transaction():
        as_user(app_conn, alice.id)
        assert (
            app_conn.execute("SELECT count(*) FROM rooms WHERE home_id = %s", (home["id"],)).fetchone()[0]
            == 3
        )
        assert (
            app_conn.execute("SELECT count(*) FROM rooms").fetchone()[0] == 3
        )  # multi-shard: still only hers
    with app_conn.transaction():
        as_user(app_conn, mallory.id)
        assert (
            app_conn.execute("SELECT count(*) FROM rooms WHERE home_id = %s", (home["id"],)).fetchone()[0]
            == 0
        )
        assert app_conn.execute("UPDATE rooms SET name = 'x' WHERE home_id = %s", (home["id"],)).rowcount == 0
    with app_conn.transaction():  # no identity at all: the worker sees nothing either
        assert (
            app_conn.execute("SELECT count(*) FROM rooms WHERE home_id = %s", (home["id"],)).fetchone()[0]
            == 0
        )
    assert [
        r["name"] for r in client.get(f"/api/v1/homes/{home['id']}/rooms", headers=alice.headers).json()
    ] == ["Attic", "Garage", "Kitchen"]
    assert client.get(f"/api/v1/homes/{home['id']}/rooms", headers=mallory.headers).status_code == 404


def test_a_home_read_is_a_single_shard_query(make_user, make_home, app_conn: psycopg.Connection) -> None:  # type: ignore[no-untyped-def]
    bob = make_user("bob")
    home = make_home(bob)
    with app_conn.transaction():
        as_user(app_conn, bob.id)
        plan = "\n".join(
            r[0]
            for r in app_conn.execute(
                "EXPLAIN SELECT * FROM devices WHERE home_id = %s AND status = 'active'", (home["id"],)
            )
        )
    assert "Task Count: 1" in plan, plan

"""Models and migrations never drift; the migrations go down to nothing and up again."""

from __future__ import annotations

import psycopg
from alembic import command

from homeops.core.config import APP_DB_ROLE
from homeops.core.database import alembic_config, libpq_dsn, upgrade
from tests.conftest import PgTestDatabase


def _objects(url) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with psycopg.connect(libpq_dsn(url)) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'alembic_version'"
        ).fetchone()[0]
        functions = conn.execute(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND p.proname LIKE 'homeops_%'"
        ).fetchone()[0]
        types = conn.execute(
            "SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = 'public' AND t.typtype = 'e'"
        ).fetchone()[0]
        policies = conn.execute("SELECT count(*) FROM pg_policies WHERE schemaname = 'public'").fetchone()[0]
    return {"tables": tables, "functions": functions, "types": types, "policies": policies}


def test_upgrade_check_downgrade_upgrade(test_db: PgTestDatabase) -> None:
    url = test_db.new_database("homeops_mig")
    try:
        app = url.set(username=APP_DB_ROLE, password="x")
        cfg = alembic_config(url)
        upgrade(url, app)
        command.check(cfg)  # raises if the models and the migrated schema differ
        after_up = _objects(url)
        assert after_up["tables"] >= 7 and after_up["policies"] >= 15 and after_up["functions"] >= 8

        command.downgrade(cfg, "base")
        assert _objects(url) == {"tables": 0, "functions": 0, "types": 0, "policies": 0}

        upgrade(url, app)
        command.check(cfg)
        assert _objects(url) == after_up
    finally:
        test_db.drop_database(url)


def test_api_role_owns_nothing_and_cannot_bypass_rls(owner_conn: psycopg.Connection) -> None:
    role = owner_conn.execute(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = %s",
        (APP_DB_ROLE,),
    ).fetchone()
    assert role == (False, False, False, False, True)
    owned = owner_conn.execute(
        # (a session's temporary tables, e.g. ingest's staging tables, are its own and go with it)
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
        "WHERE r.rolname = %s AND c.relpersistence <> 't'",
        (APP_DB_ROLE,),
    ).fetchone()[0]
    assert owned == 0
    without_rls = owner_conn.execute(
        "SELECT array_agg(relname ORDER BY relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity "
        "AND NOT c.relispartition AND relname <> 'alembic_version'"
    ).fetchone()[0]
    # Only the job queue (API role: insert only) and the throttle counters (written before anyone is
    # authenticated) are outside RLS.
    assert without_rls == ["jobs", "login_attempts", "throttle_events"]


def test_audit_logs_are_partitioned_by_month(owner_conn: psycopg.Connection) -> None:
    parts = [
        r[0]
        for r in owner_conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'audit_logs'::regclass ORDER BY 1"
        )
    ]
    assert "audit_logs_default" in parts
    current = owner_conn.execute("SELECT 'audit_logs_p' || to_char(now(), 'YYYYMM')").fetchone()[0]
    assert current in parts
    assert len([p for p in parts if p.startswith("audit_logs_p")]) >= 12

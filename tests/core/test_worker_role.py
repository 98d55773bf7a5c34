"""The background worker's role has exactly the system-wide access docs/security.md lists, and no more."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def _documented() -> set[str]:
    text = DOC.read_text()
    block = text.split("<!-- worker-system-access:start -->")[1].split("<!-- worker-system-access:end -->")[0]
    return {m.group(1) for m in re.finditer(r"^\| `(\w+)` \|", block, re.MULTILINE)}


def test_worker_system_policies_are_documented(owner_conn: psycopg.Connection) -> None:
    with_policy = {
        r[0]
        for r in owner_conn.execute(
            "SELECT DISTINCT tablename FROM pg_policies WHERE 'homeops_worker' = ANY (roles) "
            "AND NOT 'homeops_app' = ANY (roles)"
        )
    }
    audit_and_queue = {"audit_logs", "jobs"}  # reached without a worker-only policy (insert-anyone / no RLS)
    optional = {"manual_chunk_embeddings"}  # only where pgvector exists
    assert (with_policy | audit_and_queue) - optional == _documented() - optional


def test_worker_owns_nothing_and_cannot_reach_credentials(owner_conn: psycopg.Connection) -> None:
    role = owner_conn.execute(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'homeops_worker'"
    ).fetchone()
    assert role == (False, False, False, False)
    owned = owner_conn.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = 'homeops_worker'"
    ).fetchone()[0]
    assert owned == 0
    for table in (
        "user_sessions",
        "retired_refresh_tokens",
        "login_attempts",
        "throttle_events",
        "account_tokens",
        "calendar_feeds",
    ):
        assert not owner_conn.execute(
            "SELECT has_table_privilege('homeops_worker', %s, 'SELECT')", (table,)
        ).fetchone()[0], table

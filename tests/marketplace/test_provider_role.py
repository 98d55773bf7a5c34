"""Becoming a provider is the API role's own write (p016): its only role change, guarded by the database."""

from __future__ import annotations

import psycopg
import pytest
from tests.conftest import as_user


def _role(owner_conn: psycopg.Connection, user_id: object) -> str:
    row = owner_conn.execute("SELECT role::text FROM users WHERE id = %s", (user_id,)).fetchone()
    assert row is not None
    return str(row[0])


def test_the_api_role_may_only_make_its_own_homeowner_account_a_provider(  # type: ignore[no-untyped-def]
    make_user, app_conn: psycopg.Connection, owner_conn: psycopg.Connection
) -> None:
    me, other = make_user(), make_user()
    # Another user's row: not visible to the update (row policy), nothing changes.
    with app_conn.transaction():
        as_user(app_conn, me.id)
        cur = app_conn.execute("UPDATE users SET role = 'provider' WHERE id = %s", (other.id,))
        assert cur.rowcount == 0
    assert _role(owner_conn, other.id) == "homeowner"
    # Any other role than provider, for oneself: refused by the guard.
    for role in ("admin", "support", "technician"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
            as_user(app_conn, me.id)
            app_conn.execute("UPDATE users SET role = %s::user_role WHERE id = %s", (role, me.id))
    # homeowner → provider for oneself (what homeops_become_provider does, now as the caller) …
    with app_conn.transaction():
        as_user(app_conn, me.id)
        assert app_conn.execute("SELECT homeops_become_provider()::text").fetchone() == ("provider",)
    assert _role(owner_conn, me.id) == "provider"
    # … once: never back, never on to anything else.
    for role in ("homeowner", "admin"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
            as_user(app_conn, me.id)
            app_conn.execute("UPDATE users SET role = %s::user_role WHERE id = %s", (role, me.id))
    assert _role(owner_conn, me.id) == "provider"


def test_become_provider_runs_as_the_caller(owner_conn: psycopg.Connection) -> None:
    row = owner_conn.execute(
        "SELECT prosecdef FROM pg_proc WHERE oid = 'homeops_become_provider()'::regprocedure"
    ).fetchone()
    assert row == (False,)

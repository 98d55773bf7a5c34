"""The claims of docs/security.md about the transaction's identity, tested from the attacker's side: the API role
acting as a Python bug would (raw SQL through ``app_conn``)."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import as_user, live_session

SRC = Path(__file__).resolve().parents[2] / "src" / "homeops"


def _settings(conn: psycopg.Connection) -> dict[str, str]:
    names = ("uid", "role", "staff", "homes_read", "homes_write", "homes_owner")
    row = conn.execute(
        "SELECT " + ", ".join(f"current_setting('homeops.{n}', true)" for n in names)
    ).fetchone()
    return {n: v or "" for n, v in zip(names, row, strict=True)}


def test_a_foreign_or_dead_session_establishes_no_identity(
    client: TestClient, make_user, make_home, app_conn, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    alice, bob = make_user("alice"), make_user("bob")
    make_home(alice)
    with app_conn.transaction():
        # bob's live session presented as alice's: nothing.
        assert (
            app_conn.execute(
                "SELECT * FROM homeops_begin(%s, %s)", (live_session(bob.id), alice.id)
            ).fetchall()
            == []
        )
        assert _settings(app_conn)["uid"] == "" and _settings(app_conn)["homes_read"] == ""
        assert app_conn.execute("SELECT count(*) FROM homes").fetchone()[0] == 0
    session = live_session(alice.id)
    owner_conn.execute("UPDATE user_sessions SET revoked_at = now() WHERE id = %s", (session,))
    with app_conn.transaction():
        assert app_conn.execute("SELECT * FROM homeops_begin(%s, %s)", (session, alice.id)).fetchall() == []
        assert app_conn.execute("SELECT count(*) FROM homes").fetchone()[0] == 0
    assert client.get("/api/v1/users/me", headers=alice.headers).status_code == 401


def test_a_deactivated_user_gets_no_identity(client: TestClient, make_user, app_conn, owner_conn) -> None:  # type: ignore[no-untyped-def]
    carol = make_user("carol")
    session = live_session(carol.id)
    owner_conn.execute("UPDATE users SET is_active = false WHERE id = %s", (carol.id,))
    with app_conn.transaction():
        assert app_conn.execute("SELECT * FROM homeops_begin(%s, %s)", (session, carol.id)).fetchall() == []
    assert client.get("/api/v1/users/me", headers=carol.headers).status_code == 401


def test_the_role_is_the_stored_one_not_the_tokens(
    client: TestClient, make_user, app_conn, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    dave = make_user("dave")
    with app_conn.transaction():
        as_user(app_conn, dave.id, "admin")  # asking for admin
        assert _settings(app_conn)["role"] == "homeowner" and _settings(app_conn)["staff"] == "off"
    owner_conn.execute("UPDATE users SET role = 'support' WHERE id = %s", (dave.id,))
    with app_conn.transaction():  # the same session, the stored role changed: the next transaction says so
        as_user(app_conn, dave.id)
        assert _settings(app_conn)["role"] == "support" and _settings(app_conn)["staff"] == "on"
    assert client.get("/api/v1/users/me", headers=dave.headers).json()["role"] == "support"


def test_sign_in_needs_the_stored_password_hash(make_user, app_conn, owner_conn) -> None:  # type: ignore[no-untyped-def]
    erin = make_user("erin")
    stored = owner_conn.execute("SELECT password_hash FROM users WHERE id = %s", (erin.id,)).fetchone()[0]
    with app_conn.transaction():
        assert (
            app_conn.execute("SELECT homeops_sign_in(%s, %s)", (erin.id, "$2b$04$forged")).fetchone()[0]
            is None
        )
        assert _settings(app_conn)["uid"] == ""
        assert (
            app_conn.execute("SELECT homeops_sign_in(%s, %s)", (erin.id, stored)).fetchone()[0] == "homeowner"
        )
        assert _settings(app_conn)["uid"] == str(erin.id)


@pytest.mark.parametrize(
    "call",
    ["homeops_act_for(%s)", "homeops_identity_apply(%s, 'admin')", "homeops_identity_set('uid', %s::text)"],
)
def test_the_api_role_cannot_call_the_internal_identity_functions(make_user, app_conn, call: str) -> None:  # type: ignore[no-untyped-def]
    frank = make_user("frank")
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        app_conn.execute(f"SELECT {call}", (frank.id,))


def test_a_claimed_home_id_is_fresh(make_user, make_home, app_conn) -> None:  # type: ignore[no-untyped-def]
    """Creating a home: the database hands out the id. It cannot be an existing home, so a claim grants
    nothing over anyone's data."""
    gina, hank = make_user("gina"), make_user("hank")
    home = make_home(gina)
    with app_conn.transaction():
        as_user(app_conn, hank.id)
        claimed = app_conn.execute("SELECT homeops_claim_new_home()").fetchone()[0]
        assert str(claimed) != home["id"]
        assert app_conn.execute("SELECT count(*) FROM homes").fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app_conn.execute(  # the claim does not extend to an existing home
                "INSERT INTO home_members (home_id, user_id, role) VALUES (%s, %s, 'owner')",
                (home["id"], hank.id),
            )


def test_no_module_sets_the_identity_settings() -> None:
    """The identity is only ever set by the database functions of the identity migration: no Python module
    writes a ``homeops.*`` setting or the old ``app.*`` ones (see docs/security.md: code that did could
    impersonate anyone — that is the one thing row security cannot stop)."""
    pattern = re.compile(
        r"(SET\s+(LOCAL\s+)?homeops\.|set_config\(\s*'homeops\.|set_config\(\s*'app\.)", re.IGNORECASE
    )
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if "migrations" not in p.parts and pattern.search(p.read_text())
    ]
    assert offenders == []


def test_forged_settings_are_the_boundary(make_user, make_home, app_conn) -> None:  # type: ignore[no-untyped-def]
    """The limit of the guarantee, stated as a test so it stays true and visible: PostgreSQL lets any role set
    a custom setting, so SQL that wrote ``homeops.homes_read`` itself would read that home. HomeOps never does
    (test above); a query bug — no filter, a wrong id — cannot."""
    ian, jill = make_user("ian"), make_user("jill")
    home = make_home(ian)
    with app_conn.transaction():
        as_user(app_conn, jill.id)
        assert app_conn.execute("SELECT count(*) FROM homes WHERE id = %s", (home["id"],)).fetchone()[0] == 0
        app_conn.execute(f"SET LOCAL homeops.homes_read = '{{{home['id']}}}'")
        assert app_conn.execute("SELECT count(*) FROM homes WHERE id = %s", (home["id"],)).fetchone()[0] == 1

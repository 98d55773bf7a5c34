"""Tenancy from the attacker's side: through the API (404, never 403) and bypassing it (RLS)."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import as_user, assert_problem, live_session


@pytest.fixture
def victim_home(client: TestClient, make_user, make_home):  # type: ignore[no-untyped-def]
    alice = make_user("alice")
    home = make_home(alice, name="Alice's House")
    room = client.post(
        f"/api/v1/homes/{home['id']}/rooms", json={"name": "Vault"}, headers=alice.headers
    ).json()
    friend = make_user("friend")
    client.post(f"/api/v1/homes/{home['id']}/members", json={"email": friend.email}, headers=alice.headers)
    return alice, home, room, friend


def test_another_user_cannot_touch_a_home_through_the_api(client: TestClient, make_user, victim_home) -> None:  # type: ignore[no-untyped-def]
    alice, home, room, _ = victim_home
    bob = make_user("bob")
    hid, rid = home["id"], room["id"]
    assert hid not in [h["id"] for h in client.get("/api/v1/homes", headers=bob.headers).json()["items"]]
    assert_problem(client.get(f"/api/v1/homes/{hid}", headers=bob.headers), 404, "home_not_found")
    assert_problem(client.patch(f"/api/v1/homes/{hid}", json={"name": "pwned"}, headers=bob.headers), 404)
    assert_problem(client.delete(f"/api/v1/homes/{hid}", headers=bob.headers), 404)
    assert_problem(client.get(f"/api/v1/homes/{hid}/members", headers=bob.headers), 404)
    assert_problem(
        client.post(
            f"/api/v1/homes/{hid}/members", json={"email": bob.email, "role": "admin"}, headers=bob.headers
        ),
        404,
    )
    assert_problem(client.delete(f"/api/v1/homes/{hid}/members/{alice.id}", headers=bob.headers), 404)
    assert_problem(client.get(f"/api/v1/homes/{hid}/rooms", headers=bob.headers), 404)
    assert_problem(client.post(f"/api/v1/homes/{hid}/rooms", json={"name": "Mine"}, headers=bob.headers), 404)
    assert_problem(client.patch(f"/api/v1/rooms/{rid}", json={"name": "Mine"}, headers=bob.headers), 404)
    assert_problem(client.delete(f"/api/v1/rooms/{rid}", headers=bob.headers), 404)
    # Nothing changed.
    assert client.get(f"/api/v1/homes/{hid}", headers=alice.headers).json()["name"] == "Alice's House"
    assert [r["name"] for r in client.get(f"/api/v1/homes/{hid}/rooms", headers=alice.headers).json()] == [
        "Vault"
    ]


def test_database_hides_other_homes_from_the_api_role(
    make_user, victim_home, app_conn: psycopg.Connection
) -> None:  # type: ignore[no-untyped-def]
    alice, home, _, friend = victim_home
    bob = make_user("bob")
    with app_conn.transaction():
        as_user(app_conn, bob.id, "homeowner")
        # Even asking for the ids directly, with no filter of ours, finds nothing.
        assert app_conn.execute("SELECT count(*) FROM homes WHERE id = %s", (home["id"],)).fetchone()[0] == 0
        assert (
            app_conn.execute(
                "SELECT count(*) FROM home_members WHERE home_id = %s", (home["id"],)
            ).fetchone()[0]
            == 0
        )
        assert (
            app_conn.execute("SELECT count(*) FROM rooms WHERE home_id = %s", (home["id"],)).fetchone()[0]
            == 0
        )
        assert app_conn.execute("SELECT count(*) FROM users WHERE id = %s", (alice.id,)).fetchone()[0] == 0
        assert (
            app_conn.execute("SELECT count(*) FROM user_sessions WHERE user_id = %s", (alice.id,)).fetchone()[
                0
            ]
            == 0
        )
        # Asking for more does not help: the identity comes from the stored role and memberships, the identity
        # function takes no role, and bob's session cannot be used as alice.
        as_user(app_conn, bob.id, "admin")
        assert app_conn.execute("SELECT count(*) FROM homes WHERE id = %s", (home["id"],)).fetchone()[0] == 0
        assert (
            app_conn.execute(
                "SELECT count(*) FROM homeops_begin(%s, %s)", (live_session(bob.id), alice.id)
            ).fetchone()[0]
            == 0
        )
        assert app_conn.execute("SELECT count(*) FROM homes WHERE id = %s", (home["id"],)).fetchone()[0] == 0
        updated = app_conn.execute("UPDATE homes SET name = 'pwned' WHERE id = %s", (home["id"],)).rowcount
        deleted = app_conn.execute("DELETE FROM rooms WHERE home_id = %s", (home["id"],)).rowcount
        assert (updated, deleted) == (0, 0)
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, bob.id)
        app_conn.execute("INSERT INTO rooms (home_id, name) VALUES (%s, 'Sneaky')", (home["id"],))
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, bob.id)
        app_conn.execute(
            "INSERT INTO home_members (home_id, user_id, role) VALUES (%s, %s, 'admin')",
            (home["id"], bob.id),
        )
    with app_conn.transaction():
        as_user(app_conn, None)  # no identity at all
        assert app_conn.execute("SELECT count(*) FROM homes").fetchone()[0] == 0
        assert app_conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    with app_conn.transaction():
        as_user(app_conn, friend.id)  # the legitimate member sees the home
        assert app_conn.execute("SELECT count(*) FROM homes WHERE id = %s", (home["id"],)).fetchone()[0] == 1
        assert (
            app_conn.execute("SELECT count(*) FROM rooms WHERE home_id = %s", (home["id"],)).fetchone()[0]
            == 1
        )


def test_guest_cannot_write_at_the_database_level(
    client: TestClient, make_user, victim_home, app_conn
) -> None:  # type: ignore[no-untyped-def]
    alice, home, room, _ = victim_home
    guest = make_user("guest")
    client.post(
        f"/api/v1/homes/{home['id']}/members",
        json={"email": guest.email, "role": "guest"},
        headers=alice.headers,
    )
    with app_conn.transaction():
        as_user(app_conn, guest.id)
        assert (
            app_conn.execute("SELECT count(*) FROM rooms WHERE home_id = %s", (home["id"],)).fetchone()[0]
            == 1
        )
        assert app_conn.execute("UPDATE rooms SET name = 'x' WHERE id = %s", (room["id"],)).rowcount == 0
        assert app_conn.execute("UPDATE homes SET name = 'x' WHERE id = %s", (home["id"],)).rowcount == 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, guest.id)
        app_conn.execute("INSERT INTO rooms (home_id, name) VALUES (%s, 'Guest room')", (home["id"],))


def test_system_admin_sees_every_home(client: TestClient, make_staff, victim_home) -> None:  # type: ignore[no-untyped-def]
    _, home, _, _ = victim_home
    admin = make_staff("admin")
    r = client.get(f"/api/v1/homes/{home['id']}", headers=admin.headers)
    assert r.status_code == 200 and r.json()["my_role"] is None
    assert len(client.get(f"/api/v1/homes/{home['id']}/members", headers=admin.headers).json()) == 2
    assert_problem(
        client.patch(f"/api/v1/homes/{home['id']}", json={"name": "x"}, headers=admin.headers), 403
    )

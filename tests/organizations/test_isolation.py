"""Organization tenancy from the attacker's side: through the API (404, never 403) and bypassing it (RLS)."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import as_user, assert_problem


@pytest.fixture
def victim_org(make_user, make_org, add_member):  # type: ignore[no-untyped-def]
    alice, friend = make_user("alice"), make_user("friend")
    org = make_org(alice, name="Alice Heating Ltd")
    add_member(org, alice, friend, "technician")
    return alice, org, friend


@pytest.fixture
def attacker(make_user, make_org):  # type: ignore[no-untyped-def]
    """A member (the owner) of another organization A."""
    bob = make_user("bob")
    return bob, make_org(bob, name="Bob Builders")


def test_a_member_of_another_organization_cannot_touch_it_through_the_api(  # type: ignore[no-untyped-def]
    client: TestClient, victim_org, attacker
) -> None:
    alice, org, friend = victim_org
    bob, own = attacker
    oid, base = org["id"], f"/api/v1/organizations/{org['id']}"
    mine = [o["id"] for o in client.get("/api/v1/organizations", headers=bob.headers).json()["items"]]
    assert mine == [own["id"]]
    code = "organization_not_found"
    assert_problem(client.get(base, headers=bob.headers), 404, code)
    assert_problem(client.patch(base, json={"name": "pwned"}, headers=bob.headers), 404, code)
    assert_problem(client.patch(base, json={"slug": "pwned-slug"}, headers=bob.headers), 404, code)
    assert_problem(client.delete(base, headers=bob.headers), 404, code)
    assert_problem(client.get(f"{base}/members", headers=bob.headers), 404, code)
    assert_problem(
        client.post(f"{base}/members", json={"email": bob.email, "role": "manager"}, headers=bob.headers),
        404,
        code,
    )
    assert_problem(
        client.patch(f"{base}/members/{friend.id}", json={"role": "staff"}, headers=bob.headers), 404, code
    )
    assert_problem(
        client.patch(f"{base}/members/{bob.id}", json={"role": "owner"}, headers=bob.headers), 404, code
    )
    assert_problem(client.delete(f"{base}/members/{alice.id}", headers=bob.headers), 404, code)
    assert_problem(client.delete(f"{base}/members/{friend.id}", headers=bob.headers), 404, code)
    # Nothing changed.
    got = client.get(base, headers=alice.headers).json()
    assert (got["name"], got["slug"]) == ("Alice Heating Ltd", org["slug"])
    members = client.get(f"{base}/members", headers=alice.headers).json()
    assert [(m["user_id"], m["role"]) for m in members] == [
        (str(alice.id), "owner"),
        (str(friend.id), "technician"),
    ]
    assert oid not in [
        o["id"] for o in client.get("/api/v1/organizations", headers=bob.headers).json()["items"]
    ]


def test_database_hides_other_organizations_from_the_api_role(  # type: ignore[no-untyped-def]
    victim_org, attacker, app_conn: psycopg.Connection
) -> None:
    alice, org, friend = victim_org
    bob, own = attacker
    oid = org["id"]
    with app_conn.transaction():
        as_user(app_conn, bob.id)
        # With no filter of ours, and asking for the ids directly: only A.
        assert app_conn.execute("SELECT id::text FROM organizations").fetchall() == [(own["id"],)]
        assert app_conn.execute("SELECT count(*) FROM organizations WHERE id = %s", (oid,)).fetchone()[0] == 0
        assert (
            app_conn.execute(
                "SELECT count(*) FROM organization_members WHERE organization_id = %s", (oid,)
            ).fetchone()[0]
            == 0
        )
        assert (
            app_conn.execute(
                "SELECT count(*) FROM organization_members WHERE user_id IN (%s, %s)", (alice.id, friend.id)
            ).fetchone()[0]
            == 0
        )
        assert (
            app_conn.execute("SELECT count(*) FROM homeops_organization_members(%s)", (oid,)).fetchone()[0]
            == 0
        )
        updated = app_conn.execute("UPDATE organizations SET name = 'pwned' WHERE id = %s", (oid,)).rowcount
        roles = app_conn.execute(
            "UPDATE organization_members SET role = 'staff' WHERE organization_id = %s", (oid,)
        ).rowcount
        deleted = app_conn.execute(
            "DELETE FROM organization_members WHERE organization_id = %s", (oid,)
        ).rowcount
        assert (updated, roles, deleted) == (0, 0, 0)
    for role in ("staff", "owner"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
            as_user(app_conn, bob.id)
            app_conn.execute(
                "INSERT INTO organization_members (organization_id, user_id, role) VALUES (%s, %s, %s)",
                (oid, bob.id, role),
            )
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, bob.id)
        app_conn.execute("SELECT homeops_delete_organization(%s)", (oid,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, bob.id)  # claiming a new id gives rights over that id only
        app_conn.execute("SELECT homeops_claim_new_organization()")
        app_conn.execute(
            "INSERT INTO organizations (id, kind, name, slug, created_by) "
            "VALUES (%s, 'partner', 'Mine', 'mine-now', %s)",
            (oid, bob.id),
        )
    with app_conn.transaction() as tx:
        as_user(app_conn, bob.id)
        claimed = app_conn.execute("SELECT homeops_claim_new_organization()").fetchone()[0]
        assert str(claimed) not in (oid, own["id"])
        assert app_conn.execute("SELECT count(*) FROM organizations WHERE id = %s", (oid,)).fetchone()[0] == 0
        app_conn.execute("SELECT homeops_delete_organization(%s)", (own["id"],))  # their own, as its owner
        assert app_conn.execute("SELECT count(*) FROM organizations").fetchone()[0] == 0
        raise psycopg.Rollback(tx)
    with app_conn.transaction():
        as_user(app_conn, None)  # no identity at all
        assert app_conn.execute("SELECT count(*) FROM organizations").fetchone()[0] == 0
        assert app_conn.execute("SELECT count(*) FROM organization_members").fetchone()[0] == 0
    with app_conn.transaction():
        as_user(app_conn, friend.id)  # the legitimate member sees their organization and its members
        assert app_conn.execute("SELECT count(*) FROM organizations WHERE id = %s", (oid,)).fetchone()[0] == 1
        assert (
            app_conn.execute(
                "SELECT count(*) FROM organization_members WHERE organization_id = %s", (oid,)
            ).fetchone()[0]
            == 2
        )


def test_weak_roles_cannot_write_at_the_database_level(  # type: ignore[no-untyped-def]
    make_user, victim_org, add_member, app_conn: psycopg.Connection
) -> None:
    alice, org, friend = victim_org  # friend is a technician
    manager, staff = make_user("mgr"), make_user("staff")
    add_member(org, alice, manager, "manager")
    add_member(org, alice, staff, "staff")
    oid = org["id"]
    with app_conn.transaction():
        as_user(app_conn, staff.id)
        assert app_conn.execute("UPDATE organizations SET name = 'x' WHERE id = %s", (oid,)).rowcount == 0
        assert (
            app_conn.execute(
                "UPDATE organization_members SET role = 'manager' WHERE organization_id = %s", (oid,)
            ).rowcount
            == 0
        )
        # A member may delete only their own membership row.
        assert (
            app_conn.execute(
                "DELETE FROM organization_members WHERE organization_id = %s AND user_id <> %s",
                (oid, staff.id),
            ).rowcount
            == 0
        )
    outsider = make_user("x")
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, friend.id)
        app_conn.execute(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES (%s, %s, 'staff')",
            (oid, outsider.id),
        )
    with app_conn.transaction():
        as_user(app_conn, manager.id)  # managers cannot touch the owner's row
        assert (
            app_conn.execute(
                "UPDATE organization_members SET role = 'staff' WHERE user_id = %s AND organization_id = %s",
                (alice.id, oid),
            ).rowcount
            == 0
        )
        assert (
            app_conn.execute(
                "DELETE FROM organization_members WHERE user_id = %s AND organization_id = %s",
                (alice.id, oid),
            ).rowcount
            == 0
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, manager.id)  # … nor make anyone an owner
        app_conn.execute(
            "UPDATE organization_members SET role = 'owner' WHERE user_id = %s AND organization_id = %s",
            (staff.id, oid),
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, manager.id)  # … nor delete the organization
        app_conn.execute("SELECT homeops_delete_organization(%s)", (oid,))


def test_a_deleted_organization_is_gone_for_its_former_members(  # type: ignore[no-untyped-def]
    client: TestClient, victim_org, make_staff, app_conn: psycopg.Connection
) -> None:
    alice, org, friend = victim_org
    oid = org["id"]
    assert client.delete(f"/api/v1/organizations/{oid}", headers=alice.headers).status_code == 204
    admin = make_staff("admin")  # the API answers 404 to platform admins too
    assert_problem(
        client.get(f"/api/v1/organizations/{oid}", headers=admin.headers), 404, "organization_not_found"
    )
    for user in (alice, friend):
        assert_problem(client.get(f"/api/v1/organizations/{oid}", headers=user.headers), 404)
        assert_problem(client.get(f"/api/v1/organizations/{oid}/members", headers=user.headers), 404)
        assert_problem(
            client.patch(f"/api/v1/organizations/{oid}", json={"name": "back"}, headers=user.headers), 404
        )
        with app_conn.transaction():
            as_user(app_conn, user.id)
            assert (
                app_conn.execute("SELECT count(*) FROM organizations WHERE id = %s", (oid,)).fetchone()[0]
                == 0
            )
            assert (
                app_conn.execute(
                    "SELECT count(*) FROM organization_members WHERE organization_id = %s", (oid,)
                ).fetchone()[0]
                == 0
            )

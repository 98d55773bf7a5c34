"""Organizations: the CRUD and member flows, and who may do what inside one."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from tests.conftest import as_user, assert_problem, live_session
from tests.organizations.conftest import unique_slug


def test_organization_lifecycle(client: TestClient, make_user, owner_conn: psycopg.Connection) -> None:  # type: ignore[no-untyped-def]
    owner = make_user("owner", full_name="Olive Owner")
    slug = unique_slug("clara")
    r = client.post(
        "/api/v1/organizations",
        json={
            "kind": "contractor",
            "name": "Clara Fire Safety",
            "slug": slug,
            "contact": {
                "email": "office@clara.example",
                "phone": "+1 555 0100",
                "address": {"city": "Austin"},
            },
            "settings": {"dispatch": {"auto_assign": True}},
        },
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    org = r.json()
    oid = org["id"]
    assert org["my_role"] == "owner" and org["created_by"] == str(owner.id) and org["slug"] == slug
    assert org["contact"] == {
        "email": "office@clara.example",
        "phone": "+1 555 0100",
        "address": {"city": "Austin"},
    }
    assert org["settings"] == {"dispatch": {"auto_assign": True}}

    # The next request's identity (established by the database) reports the new membership.
    got = client.get(f"/api/v1/organizations/{oid}", headers=owner.headers)
    assert got.status_code == 200 and got.json()["my_role"] == "owner"
    listed = client.get("/api/v1/organizations", headers=owner.headers).json()["items"]
    assert [(o["id"], o["my_role"]) for o in listed] == [(oid, "owner")]

    patched = client.patch(
        f"/api/v1/organizations/{oid}",
        json={
            "name": "Clara Fire & Safety",
            "contact": {"email": "hello@clara.example", "phone": None},
            "settings": {"dispatch": {"auto_assign": False}},
        },
        headers=owner.headers,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"] == "Clara Fire & Safety" and body["contact"] == {"email": "hello@clara.example"}
    assert body["settings"] == {"dispatch": {"auto_assign": False}} and body["kind"] == "contractor"
    assert body["updated_at"] > org["updated_at"]
    assert_problem(
        client.patch(f"/api/v1/organizations/{oid}", json={"name": None}, headers=owner.headers), 422
    )
    assert_problem(
        client.patch(f"/api/v1/organizations/{oid}", json={"kind": "partner"}, headers=owner.headers), 422
    )

    members = client.get(f"/api/v1/organizations/{oid}/members", headers=owner.headers).json()
    assert [(m["user_id"], m["email"], m["full_name"], m["role"]) for m in members] == [
        (str(owner.id), owner.email, "Olive Owner", "owner")
    ]

    assert client.delete(f"/api/v1/organizations/{oid}", headers=owner.headers).status_code == 204
    assert_problem(
        client.get(f"/api/v1/organizations/{oid}", headers=owner.headers), 404, "organization_not_found"
    )
    assert_problem(client.get(f"/api/v1/organizations/{oid}/members", headers=owner.headers), 404)
    assert_problem(client.delete(f"/api/v1/organizations/{oid}", headers=owner.headers), 404)
    assert client.get("/api/v1/organizations", headers=owner.headers).json()["items"] == []
    # Soft: the row stays (its slug stays taken), its memberships are gone.
    row = owner_conn.execute(
        "SELECT deleted_at IS NOT NULL FROM organizations WHERE id = %s", (oid,)
    ).fetchone()
    assert row == (True,)
    assert owner_conn.execute(
        "SELECT count(*) FROM organization_members WHERE organization_id = %s", (oid,)
    ).fetchone() == (0,)
    again = client.post(
        "/api/v1/organizations", json={"kind": "contractor", "name": "X", "slug": slug}, headers=owner.headers
    )
    assert_problem(again, 409, "slug_taken")

    actions = [
        a
        for (a,) in owner_conn.execute(
            "SELECT action_type FROM audit_logs WHERE entity_type = 'organization' AND entity_id = %s ORDER BY created_at",
            (oid,),
        )
    ]
    assert actions == ["organization_created", "organization_updated", "organization_deleted"]


def test_slugs_are_unique_and_well_formed(client: TestClient, make_user, make_org) -> None:  # type: ignore[no-untyped-def]
    alice, bob = make_user("alice"), make_user("bob")
    taken = make_org(alice)["slug"]
    mine = make_org(bob)
    # Someone else's organization: invisible, but its slug is still taken.
    dup = client.post(
        "/api/v1/organizations", json={"kind": "provider", "name": "Copy", "slug": taken}, headers=bob.headers
    )
    assert_problem(dup, 409, "slug_taken")
    assert_problem(
        client.patch(f"/api/v1/organizations/{mine['id']}", json={"slug": taken}, headers=bob.headers),
        409,
        "slug_taken",
    )
    for bad in ("ab", "Upper-Case", "-leading", "trailing-", "has space", "under_score", "x" * 101):
        r = client.post(
            "/api/v1/organizations", json={"kind": "partner", "name": "Bad", "slug": bad}, headers=bob.headers
        )
        assert_problem(r, 422, "validation_error")
    assert_problem(
        client.post(
            "/api/v1/organizations",
            json={"kind": "guild", "name": "N", "slug": unique_slug()},
            headers=bob.headers,
        ),
        422,
    )
    assert_problem(
        client.post("/api/v1/organizations", json={"name": "N", "slug": unique_slug()}, headers=bob.headers),
        422,
    )
    renamed = client.patch(
        f"/api/v1/organizations/{mine['id']}", json={"slug": unique_slug("renamed")}, headers=bob.headers
    )
    assert renamed.status_code == 200 and renamed.json()["slug"].startswith("renamed-")
    assert_problem(
        client.post(
            "/api/v1/organizations",
            json={"kind": "partner", "name": "N", "slug": "ok-slug", "settings": {"blob": "x" * 20_000}},
            headers=bob.headers,
        ),
        422,
    )


def test_list_organizations_is_paginated(client: TestClient, make_user, make_org) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    created = [make_org(user, name=f"Org {i}")["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        url = "/api/v1/organizations?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=user.headers).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(created))


def test_members_are_added_by_email(
    client: TestClient,
    make_user,
    make_org,
    add_member,  # type: ignore[no-untyped-def]
    owner_conn: psycopg.Connection,
) -> None:
    owner, manager, tech = make_user("owner"), make_user("mgr", "Mia Manager"), make_user("tech", "Ted Tech")
    org = make_org(owner)
    oid = org["id"]
    added = add_member(org, owner, manager, "manager")
    assert (
        added["role"] == "manager"
        and added["invited_by"] == str(owner.id)
        and added["full_name"] == "Mia Manager"
    )
    add_member(org, manager, tech, "technician")  # managers add members too
    url = f"/api/v1/organizations/{oid}/members"
    assert_problem(
        client.post(url, json={"email": tech.email, "role": "staff"}, headers=owner.headers),
        409,
        "already_member",
    )
    assert_problem(
        client.post(url, json={"email": "nobody-here@example.com"}, headers=owner.headers),
        404,
        "user_not_found",
    )
    someone = make_user("someone")
    assert_problem(
        client.post(url, json={"email": someone.email, "role": "owner"}, headers=owner.headers), 422
    )
    assert_problem(
        client.post(url, json={"email": someone.email, "role": "boss"}, headers=owner.headers), 422
    )
    staff = client.post(url, json={"email": someone.email}, headers=owner.headers)  # the default role: staff
    assert staff.status_code == 201 and staff.json()["role"] == "staff"

    members = client.get(url, headers=tech.headers).json()  # every member reads the list, owners first
    assert [(m["user_id"], m["role"]) for m in members] == [
        (str(owner.id), "owner"),
        (str(manager.id), "manager"),
        (str(tech.id), "technician"),
        (str(someone.id), "staff"),
    ]
    # The new members' next requests know their role.
    assert client.get(f"/api/v1/organizations/{oid}", headers=tech.headers).json()["my_role"] == "technician"
    assert [
        (o["id"], o["my_role"])
        for o in client.get("/api/v1/organizations", headers=manager.headers).json()["items"]
    ] == [(oid, "manager")]
    actions = [
        a
        for (a,) in owner_conn.execute(
            "SELECT action_type FROM audit_logs WHERE entity_id = %s AND action_type LIKE 'organization_member%%'",
            (oid,),
        )
    ]
    assert actions.count("organization_member_added") == 3


def test_who_may_do_what_inside_an_organization(client: TestClient, make_user, make_org, add_member) -> None:  # type: ignore[no-untyped-def]
    owner, manager, office, tech, staff = (make_user(t) for t in ("owner", "mgr", "office", "tech", "staff"))
    org = make_org(owner)
    oid = org["id"]
    for user, role in (
        (manager, "manager"),
        (office, "office_staff"),
        (tech, "technician"),
        (staff, "staff"),
    ):
        add_member(org, owner, user, role)
    members = f"/api/v1/organizations/{oid}/members"
    newcomer = make_user("newcomer")

    # staff / technicians / office staff: read, never manage.
    for weak in (staff, tech, office):
        assert client.get(f"/api/v1/organizations/{oid}", headers=weak.headers).status_code == 200
        assert client.get(members, headers=weak.headers).status_code == 200
        assert_problem(
            client.patch(f"/api/v1/organizations/{oid}", json={"name": "x"}, headers=weak.headers),
            403,
            "insufficient_organization_role",
        )
        assert_problem(
            client.post(members, json={"email": newcomer.email}, headers=weak.headers),
            403,
            "insufficient_organization_role",
        )
        assert_problem(
            client.patch(
                f"{members}/{staff.id if weak is not staff else tech.id}",
                json={"role": "manager"},
                headers=weak.headers,
            ),
            403,
        )
        assert_problem(client.delete(f"{members}/{manager.id}", headers=weak.headers), 403)
        assert_problem(client.delete(f"/api/v1/organizations/{oid}", headers=weak.headers), 403)

    # Managers manage the organization and its non-owner members, never owners.
    assert (
        client.patch(
            f"/api/v1/organizations/{oid}", json={"name": "Renamed"}, headers=manager.headers
        ).json()["name"]
        == "Renamed"
    )
    r = client.patch(f"{members}/{staff.id}", json={"role": "technician"}, headers=manager.headers)
    assert r.status_code == 200 and r.json()["role"] == "technician"
    assert_problem(
        client.patch(f"{members}/{staff.id}", json={"role": "owner"}, headers=manager.headers),
        403,
        "insufficient_organization_role",
    )
    assert_problem(
        client.patch(f"{members}/{owner.id}", json={"role": "staff"}, headers=manager.headers),
        403,
        "insufficient_organization_role",
    )
    assert_problem(
        client.delete(f"{members}/{owner.id}", headers=manager.headers), 403, "insufficient_organization_role"
    )
    assert_problem(
        client.delete(f"/api/v1/organizations/{oid}", headers=manager.headers),
        403,
        "insufficient_organization_role",
    )
    assert client.delete(f"{members}/{tech.id}", headers=manager.headers).status_code == 204
    assert_problem(
        client.get(f"/api/v1/organizations/{oid}", headers=tech.headers), 404, "organization_not_found"
    )
    assert_problem(
        client.patch(f"{members}/{tech.id}", json={"role": "staff"}, headers=manager.headers),
        404,
        "member_not_found",
    )
    assert_problem(
        client.delete(f"{members}/{newcomer.id}", headers=manager.headers), 404, "member_not_found"
    )

    # A member may leave.
    assert client.delete(f"{members}/{office.id}", headers=office.headers).status_code == 204
    assert_problem(client.get(f"/api/v1/organizations/{oid}", headers=office.headers), 404)

    # The last owner stays; an owner makes another owner, then may leave.
    assert_problem(client.delete(f"{members}/{owner.id}", headers=owner.headers), 409, "last_owner")
    assert_problem(
        client.patch(f"{members}/{owner.id}", json={"role": "manager"}, headers=owner.headers),
        409,
        "last_owner",
    )
    promoted = client.patch(f"{members}/{manager.id}", json={"role": "owner"}, headers=owner.headers)
    assert promoted.status_code == 200 and promoted.json()["role"] == "owner"
    assert client.get(f"/api/v1/organizations/{oid}", headers=manager.headers).json()["my_role"] == "owner"
    demoted = client.patch(f"{members}/{owner.id}", json={"role": "manager"}, headers=manager.headers)
    assert demoted.status_code == 200 and demoted.json()["role"] == "manager"
    assert_problem(client.delete(f"{members}/{manager.id}", headers=owner.headers), 403)  # a manager again
    assert (
        client.patch(f"{members}/{owner.id}", json={"role": "owner"}, headers=manager.headers).status_code
        == 200
    )
    assert client.delete(f"{members}/{manager.id}", headers=manager.headers).status_code == 204  # leaves
    assert_problem(client.delete(f"{members}/{owner.id}", headers=owner.headers), 409, "last_owner")
    assert [(m["user_id"], m["role"]) for m in client.get(members, headers=owner.headers).json()] == [
        (str(owner.id), "owner"),
        (str(staff.id), "technician"),
    ]


def test_platform_admins_read_every_organization_and_change_none(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_staff, make_org, add_member
) -> None:
    owner, member = make_user("owner"), make_user("member")
    org = make_org(owner, kind="government", name="City Buildings Department")
    add_member(org, owner, member, "staff")
    admin = make_staff("admin")
    oid = org["id"]
    got = client.get(f"/api/v1/organizations/{oid}", headers=admin.headers)
    assert got.status_code == 200 and got.json()["my_role"] is None
    assert len(client.get(f"/api/v1/organizations/{oid}/members", headers=admin.headers).json()) == 2
    assert client.get("/api/v1/organizations", headers=admin.headers).json()["items"] == []  # only their own
    assert_problem(
        client.patch(f"/api/v1/organizations/{oid}", json={"name": "x"}, headers=admin.headers), 403
    )
    assert_problem(
        client.post(
            f"/api/v1/organizations/{oid}/members", json={"email": admin.email}, headers=admin.headers
        ),
        403,
    )
    assert_problem(
        client.patch(
            f"/api/v1/organizations/{oid}/members/{member.id}",
            json={"role": "manager"},
            headers=admin.headers,
        ),
        403,
    )
    assert_problem(
        client.delete(f"/api/v1/organizations/{oid}/members/{member.id}", headers=admin.headers), 403
    )
    assert_problem(client.delete(f"/api/v1/organizations/{oid}", headers=admin.headers), 403)
    support = make_staff("support")  # staff is not admin: organizations are not theirs to read
    assert_problem(client.get(f"/api/v1/organizations/{oid}", headers=support.headers), 404)


def test_the_identity_reports_organization_memberships(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_org, add_member, app_conn: psycopg.Connection
) -> None:
    owner, manager, tech = make_user("owner"), make_user("mgr"), make_user("tech")
    org = make_org(owner)
    add_member(org, owner, manager, "manager")
    add_member(org, owner, tech, "technician")
    oid = org["id"]
    expected = {owner.id: ("owner", "rwao"), manager.id: ("manager", "rwa"), tech.id: ("technician", "rw")}
    for user_id, (role, levels) in expected.items():
        with app_conn.transaction():
            row = app_conn.execute(
                "SELECT org_ids, org_roles FROM homeops_begin(%s, %s)",
                (str(live_session(user_id)), str(user_id)),
            ).fetchone()
            assert row is not None
            assert [str(o) for o in row[0]] == [oid] and row[1] == [role]
            for level, letter in (("read", "r"), ("write", "w"), ("admin", "a"), ("owner", "o")):
                value = app_conn.execute(f"SELECT current_setting('homeops.orgs_{level}')").fetchone()[0]
                assert (oid in value) == (letter in levels), (role, level, value)
    with app_conn.transaction():
        as_user(app_conn, tech.id)
        assert app_conn.execute("SELECT count(*) FROM organizations WHERE id = %s", (oid,)).fetchone()[0] == 1

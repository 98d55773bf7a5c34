from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import assert_problem


def test_home_lifecycle(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    owner = make_user()
    r = client.post(
        "/api/v1/homes",
        json={
            "name": "Cottage",
            "timezone": "America/New_York",
            "address": {"city": "Albany", "country": "US"},
        },
        headers=owner.headers,
    )
    assert r.status_code == 201
    home = r.json()
    assert home["owner_id"] == str(owner.id) and home["my_role"] == "owner"
    assert home["address"] == {"city": "Albany", "country": "US"}

    patched = client.patch(f"/api/v1/homes/{home['id']}", json={"name": "Big Cottage"}, headers=owner.headers)
    assert patched.status_code == 200 and patched.json()["name"] == "Big Cottage"
    assert patched.json()["updated_at"] > home["updated_at"]  # maintained by the trigger
    assert_problem(
        client.patch(f"/api/v1/homes/{home['id']}", json={"timezone": "Nowhere/City"}, headers=owner.headers),
        422,
    )

    members = client.get(f"/api/v1/homes/{home['id']}/members", headers=owner.headers).json()
    assert [(m["user_id"], m["role"]) for m in members] == [(str(owner.id), "owner")]

    assert client.delete(f"/api/v1/homes/{home['id']}", headers=owner.headers).status_code == 204
    assert_problem(client.get(f"/api/v1/homes/{home['id']}", headers=owner.headers), 404, "home_not_found")


def test_list_homes_is_paginated(client: TestClient, make_user, make_home) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    created = [make_home(user, name=f"Home {i}")["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        url = "/api/v1/homes?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=user.headers).json()
        seen += [h["id"] for h in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(created))


def test_roles_inside_a_home(client: TestClient, make_user, make_home) -> None:  # type: ignore[no-untyped-def]
    owner, admin, member, guest = (
        make_user("owner"),
        make_user("admin"),
        make_user("member"),
        make_user("guest"),
    )
    home = make_home(owner)
    hid = home["id"]
    for user, role in ((admin, "admin"), (member, "member"), (guest, "guest")):
        r = client.post(
            f"/api/v1/homes/{hid}/members", json={"email": user.email, "role": role}, headers=owner.headers
        )
        assert r.status_code == 201 and r.json()["role"] == role
    assert_problem(
        client.post(f"/api/v1/homes/{hid}/members", json={"email": guest.email}, headers=owner.headers),
        409,
        "already_member",
    )
    assert_problem(
        client.post(
            f"/api/v1/homes/{hid}/members", json={"email": "nobody@example.com"}, headers=owner.headers
        ),
        404,
        "user_not_found",
    )
    assert_problem(
        client.post(
            f"/api/v1/homes/{hid}/members",
            json={"email": guest.email, "role": "owner"},
            headers=owner.headers,
        ),
        422,
    )

    # Guests read, never write.
    assert client.get(f"/api/v1/homes/{hid}", headers=guest.headers).json()["my_role"] == "guest"
    assert client.get(f"/api/v1/homes/{hid}/rooms", headers=guest.headers).status_code == 200
    assert_problem(
        client.post(f"/api/v1/homes/{hid}/rooms", json={"name": "Attic"}, headers=guest.headers),
        403,
        "insufficient_home_role",
    )
    assert_problem(client.patch(f"/api/v1/homes/{hid}", json={"name": "Mine"}, headers=guest.headers), 403)

    # Members write contents but do not manage members or the home.
    room = client.post(
        f"/api/v1/homes/{hid}/rooms", json={"name": "Kitchen", "floor": 0}, headers=member.headers
    )
    assert room.status_code == 201
    rid = room.json()["id"]
    assert (
        client.patch(f"/api/v1/rooms/{rid}", json={"notes": "gas stove"}, headers=member.headers).json()[
            "notes"
        ]
        == "gas stove"
    )
    assert_problem(
        client.post(f"/api/v1/homes/{hid}/rooms", json={"name": "kitchen"}, headers=member.headers),
        409,
        "room_exists",
    )
    assert_problem(client.patch(f"/api/v1/rooms/{rid}", json={"notes": "x"}, headers=guest.headers), 403)
    assert_problem(client.delete(f"/api/v1/rooms/{rid}", headers=guest.headers), 403)
    assert_problem(
        client.post(
            f"/api/v1/homes/{hid}/members", json={"email": make_user().email}, headers=member.headers
        ),
        403,
    )
    assert_problem(client.delete(f"/api/v1/homes/{hid}/members/{guest.id}", headers=member.headers), 403)

    # Admins manage members and the home, but only the owner deletes it; nobody removes the owner.
    assert (
        client.patch(f"/api/v1/homes/{hid}", json={"name": "Renamed"}, headers=admin.headers).status_code
        == 200
    )
    assert client.delete(f"/api/v1/homes/{hid}/members/{guest.id}", headers=admin.headers).status_code == 204
    assert_problem(
        client.delete(f"/api/v1/homes/{hid}/members/{owner.id}", headers=admin.headers),
        409,
        "cannot_remove_owner",
    )
    assert_problem(client.delete(f"/api/v1/homes/{hid}", headers=admin.headers), 403)
    assert_problem(
        client.get(f"/api/v1/homes/{hid}", headers=guest.headers), 404
    )  # removed guest sees nothing

    # A member may leave.
    assert (
        client.delete(f"/api/v1/homes/{hid}/members/{member.id}", headers=member.headers).status_code == 204
    )
    assert client.delete(f"/api/v1/rooms/{rid}", headers=admin.headers).status_code == 204
    assert client.delete(f"/api/v1/homes/{hid}", headers=owner.headers).status_code == 204


def test_members_list_shows_names_of_housemates(client: TestClient, make_user, make_home) -> None:  # type: ignore[no-untyped-def]
    owner, mate = make_user(full_name="Olivia Owner"), make_user(full_name="Mike Mate")
    home = make_home(owner)
    client.post(f"/api/v1/homes/{home['id']}/members", json={"email": mate.email}, headers=owner.headers)
    members = client.get(f"/api/v1/homes/{home['id']}/members", headers=mate.headers).json()
    assert {m["full_name"] for m in members} == {"Olivia Owner", "Mike Mate"}

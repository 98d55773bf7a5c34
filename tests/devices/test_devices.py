from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import as_user, assert_problem


def _device(client: TestClient, user, home_id: str, **body):  # type: ignore[no-untyped-def]
    body.setdefault("nickname", f"Device {uuid.uuid4().hex[:6]}")
    r = client.post(f"/api/v1/homes/{home_id}/devices", json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_create_device_links_catalog_model(client: TestClient, make_user, make_staff, make_home) -> None:  # type: ignore[no-untyped-def]
    admin, user = make_staff("admin"), make_user()
    maker = f"Acmeheat {uuid.uuid4().hex[:6]}"
    model = client.post(
        "/api/v1/models",
        json={"manufacturer": maker, "model_number": "ZX-100", "category": "water_heater"},
        headers=admin.headers,
    ).json()
    home = make_home(user)
    room = client.post(
        f"/api/v1/homes/{home['id']}/rooms", json={"name": "Basement"}, headers=user.headers
    ).json()
    d = _device(
        client,
        user,
        home["id"],
        nickname="Basement heater",
        manufacturer=maker.upper(),
        model_number="zx-100",
        serial_number="SN-1",
        room_id=room["id"],
        purchase_date="2023-05-01",
        warranty_end="2027-05-01",
    )
    assert d["model_id"] == model["id"] and d["category"] == "water_heater" and d["manufacturer"] == maker
    assert d["serial_number"] == "SN-1" and d["room_id"] == room["id"] and d["status"] == "active"
    assert d["manual_count"] == 0 and d["manual_types"] == []
    by_id = _device(client, user, home["id"], model_id=model["id"])
    assert by_id["model_number"] == "ZX-100"
    unknown = _device(
        client, user, home["id"], manufacturer="Nobody", model_number="Q1", category="dishwasher"
    )
    assert unknown["model_id"] is None and unknown["manufacturer"] == "Nobody"


def test_bad_device_input(client: TestClient, make_user, make_home, owner_conn) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    home, other = make_home(user), make_home(user, name="Other")
    other_room = client.post(
        f"/api/v1/homes/{other['id']}/rooms", json={"name": "Attic"}, headers=user.headers
    ).json()
    url = f"/api/v1/homes/{home['id']}/devices"
    cases = [
        ({"nickname": "x", "category": "warp_drive"}, 422, "unknown_category"),
        ({"nickname": "x", "room_id": other_room["id"]}, 422, "room_not_in_home"),
        ({"nickname": "x", "model_id": str(uuid.uuid4())}, 404, "model_not_found"),
        (
            {"nickname": "x", "warranty_start": "2025-01-01", "warranty_end": "2024-01-01"},
            422,
            "validation_error",
        ),
        ({"nickname": "x", "purchase_price": -5}, 422, "validation_error"),
        ({"nickname": "x", "serial_number": "S" * 101}, 422, "validation_error"),
        ({"nickname": ""}, 422, "validation_error"),
        ({"nickname": "x", "colour": "red"}, 422, "validation_error"),
    ]
    for body, status, code in cases:
        assert_problem(client.post(url, json=body, headers=user.headers), status, code)
    assert (
        owner_conn.execute("SELECT count(*) FROM devices WHERE home_id = %s", (home["id"],)).fetchone()[0]
        == 0
    )


def test_serial_is_encrypted_and_findable(client: TestClient, make_user, make_home, owner_conn) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    home = make_home(user)
    serial = f"SER-{uuid.uuid4().hex[:10]}"
    d = _device(client, user, home["id"], serial_number=serial)
    raw, index = owner_conn.execute(
        "SELECT serial_number_encrypted, serial_number_index FROM devices WHERE id = %s", (d["id"],)
    ).fetchone()
    assert serial.encode() not in bytes(raw) and serial.lower().encode() not in bytes(raw)
    assert serial not in index
    found = client.get(f"/api/v1/devices?serial={serial.lower()}", headers=user.headers).json()["items"]
    assert [x["id"] for x in found] == [d["id"]] and found[0]["serial_number"] == serial
    assert client.get("/api/v1/devices?serial=NOPE-123", headers=user.headers).json()["items"] == []
    patched = client.patch(
        f"/api/v1/devices/{d['id']}", json={"serial_number": "NEW-1"}, headers=user.headers
    ).json()
    assert patched["serial_number"] == "NEW-1"


def test_query1_list_with_manual_summary_and_filters(client: TestClient, make_user, make_home) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    h1, h2 = make_home(user, name="A"), make_home(user, name="B")
    a = _device(client, user, h1["id"], category="oven")
    b = _device(client, user, h2["id"], category="dishwasher")
    c = _device(client, user, h2["id"], category="dishwasher")
    client.patch(f"/api/v1/devices/{c['id']}", json={"status": "archived"}, headers=user.headers)
    active = client.get("/api/v1/devices?status=active", headers=user.headers).json()["items"]
    assert [x["id"] for x in active] == [b["id"], a["id"]]  # newest first, across homes
    assert all("manual_count" in x and "manual_types" in x for x in active)
    dishwashers = client.get("/api/v1/devices?category=dishwasher", headers=user.headers).json()["items"]
    assert {x["id"] for x in dishwashers} == {b["id"], c["id"]}
    page1 = client.get(f"/api/v1/homes/{h2['id']}/devices?limit=1", headers=user.headers).json()
    page2 = client.get(
        f"/api/v1/homes/{h2['id']}/devices?limit=1&cursor={page1['next_cursor']}", headers=user.headers
    ).json()
    assert [page1["items"][0]["id"], page2["items"][0]["id"]] == [c["id"], b["id"]] and page2[
        "next_cursor"
    ] is None


def test_warranty_expiring(client: TestClient, make_user, make_home, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    home = make_home(user)  # Europe/Paris: noon UTC is the same day there
    frozen_clock.set(datetime(2030, 6, 15, 12, tzinfo=UTC))
    today = date(2030, 6, 15)
    soon = _device(client, user, home["id"], warranty_end=str(today + timedelta(days=10)))
    _device(client, user, home["id"], warranty_end=str(today + timedelta(days=400)))
    _device(client, user, home["id"], warranty_end=str(today - timedelta(days=1)))
    items = client.get("/api/v1/devices/warranty-expiring?days=60", headers=user.headers).json()
    assert [(i["device_id"], i["days_left"]) for i in items] == [(soon["id"], 10)]


def test_warranty_days_are_each_homes_own(client: TestClient, make_user, make_home, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    """At 12:00 UTC on 15 June it is already the 16th on Kiritimati (UTC+14) and still the 15th in Pago Pago
    (UTC-11): the same warranty end is expired in one home and ends today in the other."""
    user = make_user()
    east, west = (
        make_home(user, name="East", timezone="Pacific/Kiritimati"),
        make_home(user, name="West", timezone="Pacific/Pago_Pago"),
    )
    frozen_clock.set(datetime(2030, 6, 15, 12, tzinfo=UTC))
    ends = ("2030-06-15", "2030-07-15", "2030-07-16")
    ids = {
        (h["name"], end): _device(client, user, h["id"], warranty_end=end)["id"]
        for h in (east, west)
        for end in ends
    }
    items = client.get("/api/v1/devices/warranty-expiring?days=30", headers=user.headers).json()
    got = {(i["device_id"], i["days_left"]) for i in items}
    assert got == {
        (ids["West", "2030-06-15"], 0),  # today in Pago Pago
        (ids["East", "2030-07-15"], 29),
        (ids["West", "2030-07-15"], 30),
        (ids["East", "2030-07-16"], 30),  # 31 days away in Pago Pago: not listed
    }
    assert [i["warranty_end"] for i in items] == sorted(i["warranty_end"] for i in items)


def test_replacement_chain_and_groups(client: TestClient, make_user, make_home) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    home = make_home(user)
    old = _device(client, user, home["id"], nickname="Old fridge")
    new = _device(client, user, home["id"], nickname="New fridge", replaces_device_id=old["id"])
    old_now = client.get(f"/api/v1/devices/{old['id']}", headers=user.headers).json()
    assert old_now["status"] == "replaced" and old_now["replaced_by_device_id"] == new["id"]

    g = client.post(
        f"/api/v1/homes/{home['id']}/device-groups", json={"name": "Kitchen"}, headers=user.headers
    ).json()
    assert client.post(
        f"/api/v1/device-groups/{g['id']}/devices", json={"device_id": new["id"]}, headers=user.headers
    ).json()["device_ids"] == [new["id"]]
    assert_problem(
        client.post(
            f"/api/v1/device-groups/{g['id']}/devices", json={"device_id": new["id"]}, headers=user.headers
        ),
        409,
        "already_in_group",
    )
    other_home = make_home(user, name="Elsewhere")
    foreign = _device(client, user, other_home["id"])
    assert_problem(
        client.post(
            f"/api/v1/device-groups/{g['id']}/devices",
            json={"device_id": foreign["id"]},
            headers=user.headers,
        ),
        422,
        "device_not_in_home",
    )
    assert (
        client.delete(
            f"/api/v1/device-groups/{g['id']}/devices/{new['id']}", headers=user.headers
        ).status_code
        == 204
    )
    assert [
        x["name"]
        for x in client.get(f"/api/v1/homes/{home['id']}/device-groups", headers=user.headers).json()
    ] == ["Kitchen"]


def test_devices_are_invisible_to_other_households(
    client: TestClient, make_user, make_home, app_conn
) -> None:  # type: ignore[no-untyped-def]
    alice, bob, guest = make_user("alice"), make_user("bob"), make_user("guest")
    home = make_home(alice)
    client.post(
        f"/api/v1/homes/{home['id']}/members",
        json={"email": guest.email, "role": "guest"},
        headers=alice.headers,
    )
    d = _device(client, alice, home["id"], serial_number="ALICE-SERIAL")
    g = client.post(
        f"/api/v1/homes/{home['id']}/device-groups", json={"name": "G"}, headers=alice.headers
    ).json()
    for method, url, body in (
        ("get", f"/api/v1/devices/{d['id']}", None),
        ("patch", f"/api/v1/devices/{d['id']}", {"nickname": "pwned"}),
        ("delete", f"/api/v1/devices/{d['id']}", None),
        ("get", f"/api/v1/homes/{home['id']}/devices", None),
        ("post", f"/api/v1/homes/{home['id']}/devices", {"nickname": "plant"}),
        ("get", f"/api/v1/device-groups/{g['id']}", None),
        ("post", f"/api/v1/device-groups/{g['id']}/devices", {"device_id": d["id"]}),
    ):
        r = client.request(method, url, json=body, headers=bob.headers)
        assert_problem(r, 404)
    assert client.get("/api/v1/devices?serial=ALICE-SERIAL", headers=bob.headers).json()["items"] == []
    # A guest reads (with the serial: a member of the home) but cannot write.
    assert (
        client.get(f"/api/v1/devices/{d['id']}", headers=guest.headers).json()["serial_number"]
        == "ALICE-SERIAL"
    )
    assert_problem(
        client.patch(f"/api/v1/devices/{d['id']}", json={"nickname": "x"}, headers=guest.headers), 403
    )
    assert_problem(
        client.post(f"/api/v1/homes/{home['id']}/devices", json={"nickname": "x"}, headers=guest.headers), 403
    )
    with app_conn.transaction():
        as_user(app_conn, bob.id)
        assert app_conn.execute("SELECT count(*) FROM devices WHERE id = %s", (d["id"],)).fetchone()[0] == 0
        assert (
            app_conn.execute(
                "SELECT count(*) FROM device_groups WHERE home_id = %s", (home["id"],)
            ).fetchone()[0]
            == 0
        )
        assert app_conn.execute("UPDATE devices SET nickname = 'x' WHERE id = %s", (d["id"],)).rowcount == 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, guest.id)
        app_conn.execute("INSERT INTO devices (home_id, nickname) VALUES (%s, 'guest device')", (home["id"],))


def test_removing_a_room_keeps_its_devices(client: TestClient, make_user, make_home, app_conn) -> None:  # type: ignore[no-untyped-def]
    """The room's devices stay in the home, in no room (the devices domain detaches them on ``RoomRemoved``;
    no foreign key can ``SET NULL`` a key that contains the home)."""
    user = make_user()
    home = make_home(user)
    cellar, attic = (
        client.post(f"/api/v1/homes/{home['id']}/rooms", json={"name": n}, headers=user.headers).json()
        for n in ("Cellar", "Attic")
    )
    boiler = _device(client, user, home["id"], nickname="Boiler", room_id=cellar["id"])
    freezer = _device(client, user, home["id"], nickname="Freezer", room_id=cellar["id"])
    fan = _device(client, user, home["id"], nickname="Fan", room_id=attic["id"])
    # The database refuses to drop a room that still has devices (what the service does first).
    with pytest.raises(psycopg.errors.ForeignKeyViolation), app_conn.transaction():
        as_user(app_conn, user.id)
        app_conn.execute("DELETE FROM rooms WHERE home_id = %s AND id = %s", (home["id"], cellar["id"]))
    assert client.delete(f"/api/v1/rooms/{cellar['id']}", headers=user.headers).status_code == 204
    for d in (boiler, freezer):
        after = client.get(f"/api/v1/devices/{d['id']}", headers=user.headers)
        assert (
            after.status_code == 200
            and after.json()["room_id"] is None
            and after.json()["nickname"] == d["nickname"]
        )
    assert client.get(f"/api/v1/devices/{fan['id']}", headers=user.headers).json()["room_id"] == attic["id"]
    assert [
        r["name"] for r in client.get(f"/api/v1/homes/{home['id']}/rooms", headers=user.headers).json()
    ] == ["Attic"]


def test_deleting_a_device_clears_the_replacement_chain(
    client: TestClient, make_user, make_home, app_conn
) -> None:  # type: ignore[no-untyped-def]
    """A deleted device is forgotten by the devices that pointed at it (replaces / replaced by), in the same
    request; the database refuses a delete that would leave them dangling."""
    user = make_user()
    home = make_home(user)
    first = _device(client, user, home["id"], nickname="First heater")
    second = _device(client, user, home["id"], nickname="Second heater", replaces_device_id=first["id"])
    third = _device(client, user, home["id"], nickname="Third heater", replaces_device_id=second["id"])
    chain = client.get(f"/api/v1/devices/{second['id']}", headers=user.headers).json()
    assert (chain["replaces_device_id"], chain["replaced_by_device_id"]) == (first["id"], third["id"])
    with pytest.raises(psycopg.errors.ForeignKeyViolation), app_conn.transaction():
        as_user(app_conn, user.id)
        app_conn.execute("DELETE FROM devices WHERE home_id = %s AND id = %s", (home["id"], second["id"]))
    assert client.delete(f"/api/v1/devices/{second['id']}", headers=user.headers).status_code == 204
    assert_problem(
        client.get(f"/api/v1/devices/{second['id']}", headers=user.headers), 404, "device_not_found"
    )
    before = client.get(f"/api/v1/devices/{first['id']}", headers=user.headers).json()
    after = client.get(f"/api/v1/devices/{third['id']}", headers=user.headers).json()
    assert (before["status"], before["replaced_by_device_id"]) == ("replaced", None)
    assert (after["status"], after["replaces_device_id"]) == ("active", None)

"""Seed 000 Query 4 (upcoming maintenance) and the overdue list."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import assert_problem, captured_sql
from tests.maintenance.conftest import days


def test_upcoming_content_order_and_scope(
    client: TestClient,
    make_user,
    make_home,
    make_device,
    make_schedule,  # type: ignore[no-untyped-def]
    add_member,
) -> None:
    user, stranger, guest = make_user(), make_user(), make_user()
    home_a, home_b = make_home(user, "A"), make_home(user, "B")
    room = client.post(f"/api/v1/homes/{home_a['id']}/rooms", json={"name": "Kitchen"}, headers=user.headers)
    assert room.status_code == 201, room.text
    fridge = make_device(user, home_a, "Fridge", room_id=room.json()["id"])
    boiler = make_device(user, home_b, "Boiler", location_detail="Basement, north wall")
    later = make_schedule(user, fridge, task_name="Clean coils", next_due=days(20), estimated_cost=0)
    soon = make_schedule(user, boiler, task_name="Bleed radiators", next_due=days(3), estimated_cost=12.5)
    today = make_schedule(user, fridge, task_name="Check seal", next_due=days(0))
    make_schedule(user, fridge, task_name="Too far", next_due=days(45))
    make_schedule(user, fridge, task_name="Overdue", next_due=days(-2))
    make_schedule(user, fridge, task_name="Silent", next_due=days(5), reminder_enabled=False)
    off = make_schedule(user, boiler, task_name="Off", next_due=days(6))
    client.patch(
        f"/api/v1/maintenance-schedules/{off['id']}", json={"is_active": False}, headers=user.headers
    )
    make_schedule(
        stranger, make_device(stranger, make_home(stranger)), task_name="Not mine", next_due=days(4)
    )

    r = client.get("/api/v1/maintenance/upcoming?days=30", headers=user.headers)
    assert r.status_code == 200, r.text
    items = r.json()
    assert [i["schedule_id"] for i in items] == [today["id"], soon["id"], later["id"]]
    first, second = items[0], items[1]
    assert (first["device_nickname"], first["location"], first["days_until_due"]) == ("Fridge", "Kitchen", 0)
    assert (second["location"], second["home_id"], second["estimated_cost"], second["days_until_due"]) == (
        "Basement, north wall",
        home_b["id"],
        "12.50",
        3,
    )
    assert set(second) == {
        "schedule_id",
        "device_id",
        "device_nickname",
        "location",
        "home_id",
        "task_name",
        "next_due",
        "estimated_cost",
        "days_until_due",
    }
    assert [
        i["task_name"] for i in client.get("/api/v1/maintenance/upcoming?days=5", headers=user.headers).json()
    ] == ["Check seal", "Bleed radiators"]
    assert_problem(client.get("/api/v1/maintenance/upcoming?days=-1", headers=user.headers), 422)
    assert (
        client.get("/api/v1/maintenance/upcoming", headers=stranger.headers).json()[0]["task_name"]
        == "Not mine"
    )
    # A guest of home A sees home A's upcoming maintenance only.
    add_member(user, home_a, guest, "guest")
    assert {
        i["task_name"] for i in client.get("/api/v1/maintenance/upcoming", headers=guest.headers).json()
    } == {"Check seal", "Clean coils"}

    overdue = client.get("/api/v1/maintenance/overdue", headers=user.headers).json()
    assert [(i["task_name"], i["days_until_due"]) for i in overdue] == [("Overdue", -2)]


def test_query4_is_one_statement(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_home, make_device, make_schedule
) -> None:
    user = make_user()
    home = make_home(user)
    for i in range(3):
        make_schedule(user, make_device(user, home, f"D{i}"), next_due=days(i + 1))
    with captured_sql(client) as statements:
        r = client.get("/api/v1/maintenance/upcoming?days=30", headers=user.headers)
    assert r.status_code == 200 and len(r.json()) == 3
    touching = [s for s in statements if "maintenance_schedules" in s]
    assert len(touching) == 1, statements
    assert "JOIN devices" in touching[0] and "rooms" in touching[0]

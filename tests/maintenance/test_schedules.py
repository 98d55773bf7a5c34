"""Schedules through the API: create/patch/delete, complete and skip (atomic), templates, isolation."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from homeops.catalog.models import IntervalUnit
from homeops.maintenance.recurrence import add_interval
from tests.conftest import as_user, assert_problem, captured_sql
from tests.maintenance.conftest import days


def _count(owner_conn, sql: str, *args) -> int:  # type: ignore[no-untyped-def]
    return owner_conn.execute(sql, args).fetchone()[0]


def test_create_defaults_and_patch(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_home, make_device, make_schedule
) -> None:
    user = make_user()
    device = make_device(user, make_home(user))
    s = make_schedule(
        user,
        device,
        anchor="completion",
        lead_days=10,
        estimated_cost=25.0,
        parts_needed=[{"name": "Filter", "part_number": "F-1"}],
    )
    assert s["next_due"] == add_interval(date.today(), 3, IntervalUnit.months).isoformat()
    assert (s["anchor"], s["lead_days"], s["estimated_cost"], s["is_active"], s["reminder_enabled"]) == (
        "completion",
        10,
        "25.00",
        True,
        True,
    )
    assert s["device_id"] == device["id"] and s["home_id"] == device["home_id"]

    listed = client.get(f"/api/v1/devices/{device['id']}/maintenance-schedules", headers=user.headers).json()
    assert [x["id"] for x in listed] == [s["id"]]

    url = f"/api/v1/maintenance-schedules/{s['id']}"
    r = client.patch(
        url,
        json={"reminder_enabled": False, "interval": 1, "interval_unit": "years", "next_due": "2031-01-31"},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["reminder_enabled"], r.json()["interval_unit"], r.json()["next_due"]) == (
        False,
        "years",
        "2031-01-31",
    )
    assert_problem(client.patch(url, json={"task_name": None}, headers=user.headers), 422)
    assert_problem(client.patch(url, json={"colour": "red"}, headers=user.headers), 422)
    # An end date before the next due ends the series.
    ended = client.patch(url, json={"end_date": "2030-12-31"}, headers=user.headers).json()
    assert ended["is_active"] is False
    assert_problem(client.patch(url, json={"is_active": True}, headers=user.headers), 422, "end_before_due")
    assert client.patch(url, json={"end_date": None, "is_active": True}, headers=user.headers).json()[
        "is_active"
    ]

    assert client.delete(url, headers=user.headers).status_code == 204
    assert_problem(client.get(url, headers=user.headers), 404, "schedule_not_found")


def test_bad_input_writes_nothing(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_home, make_device, owner_conn
) -> None:
    user = make_user()
    device = make_device(user, make_home(user))
    url = f"/api/v1/devices/{device['id']}/maintenance-schedules"
    base = {"task_name": "Flush", "interval": 1, "interval_unit": "years"}
    for bad in (
        {**base, "interval": 0},
        {**base, "interval_unit": "fortnights"},
        {**base, "anchor": "moon"},
        {**base, "lead_days": -1},
        {**base, "next_due": "2030-05-01", "end_date": "2030-01-01"},
        {"interval": 1, "interval_unit": "days"},
    ):
        assert_problem(client.post(url, json=bad, headers=user.headers), 422)
    assert_problem(
        client.post(f"/api/v1/devices/{uuid.uuid4()}/maintenance-schedules", json=base, headers=user.headers),
        404,
        "device_not_found",
    )
    assert (
        _count(owner_conn, "SELECT count(*) FROM maintenance_schedules WHERE device_id = %s", device["id"])
        == 0
    )


def test_complete_moves_next_due_and_writes_history(
    client: TestClient,
    make_user,
    make_home,
    make_device,  # type: ignore[no-untyped-def]
    make_schedule,
) -> None:
    user = make_user()
    device = make_device(user, make_home(user))
    sched = make_schedule(
        user, device, anchor="completion", next_due=days(-5), interval=3, interval_unit="months"
    )
    performed = date.today() - timedelta(days=2)
    r = client.post(
        f"/api/v1/maintenance-schedules/{sched['id']}/complete",
        json={
            "performed_on": performed.isoformat(),
            "cost": 31.5,
            "notes": "Merv 13",
            "parts": [{"name": "Filter 16x25x4", "qty": 1}],
            "technician": "Me",
        },
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["schedule"]["next_due"] == add_interval(performed, 3, IntervalUnit.months).isoformat()
    assert body["schedule"]["last_performed"] == performed.isoformat()
    assert body["occurrence"]["due_date"] == days(-5) and body["occurrence"]["outcome"] == "completed"
    event = body["service_event"]
    assert (event["event_type"], event["schedule_id"], event["cost"], event["parts_replaced"]) == (
        "maintenance",
        sched["id"],
        "31.50",
        [{"name": "Filter 16x25x4", "qty": 1}],
    )
    assert body["occurrence"]["service_event_id"] == event["id"]
    history = client.get(f"/api/v1/devices/{device['id']}/history", headers=user.headers).json()["items"]
    assert [e["id"] for e in history] == [event["id"]]


def test_schedule_anchor_completion_keeps_the_series(
    client: TestClient,
    make_user,
    make_home,
    make_device,  # type: ignore[no-untyped-def]
    make_schedule,
) -> None:
    user = make_user()
    device = make_device(user, make_home(user))
    due = date.today() + timedelta(days=3)
    sched = make_schedule(
        user, device, anchor="schedule", next_due=due.isoformat(), interval=2, interval_unit="weeks"
    )
    r = client.post(f"/api/v1/maintenance-schedules/{sched['id']}/complete", json={}, headers=user.headers)
    assert r.status_code == 200, r.text
    assert (
        r.json()["schedule"]["next_due"] == (due + timedelta(weeks=2)).isoformat()
    )  # done early: series kept
    assert r.json()["service_event"]["event_date"] == date.today().isoformat()


def test_complete_is_atomic(
    client: TestClient,
    make_user,
    make_home,
    make_device,
    make_schedule,  # type: ignore[no-untyped-def]
    owner_conn,
) -> None:
    user = make_user()
    device = make_device(user, make_home(user))
    sched = make_schedule(user, device, next_due=days(-1))
    url = f"/api/v1/maintenance-schedules/{sched['id']}/complete"
    # Bad input: nothing happens.
    assert_problem(
        client.post(url, json={"performed_on": days(1)}, headers=user.headers), 422, "performed_in_future"
    )
    assert_problem(client.post(url, json={"cost": -3}, headers=user.headers), 422)
    # A failure after the service event was written (the due date already has an outcome) rolls it all back.
    owner_conn.execute(
        "INSERT INTO maintenance_occurrences (schedule_id, home_id, due_date, outcome, acted_on) "
        "VALUES (%s, %s, %s, 'skipped', current_date)",
        (sched["id"], sched["home_id"], sched["next_due"]),
    )
    assert_problem(
        client.post(url, json={"notes": "done"}, headers=user.headers), 409, "occurrence_already_recorded"
    )
    assert _count(owner_conn, "SELECT count(*) FROM service_events WHERE device_id = %s", device["id"]) == 0
    row = owner_conn.execute(
        "SELECT next_due, last_performed, occurrence FROM maintenance_schedules WHERE id = %s", (sched["id"],)
    ).fetchone()
    assert (row[0].isoformat(), row[1], row[2]) == (sched["next_due"], None, 0)
    assert (
        _count(owner_conn, "SELECT count(*) FROM maintenance_occurrences WHERE schedule_id = %s", sched["id"])
        == 1
    )


def test_skip_records_and_moves(
    client: TestClient,
    make_user,
    make_home,
    make_device,
    make_schedule,  # type: ignore[no-untyped-def]
    owner_conn,
) -> None:
    user = make_user()
    device = make_device(user, make_home(user))
    sched = make_schedule(
        user,
        device,
        anchor="schedule",
        next_due="2026-01-31",
        interval=1,
        interval_unit="months",
        end_date="2026-03-31",
    )
    url = f"/api/v1/maintenance-schedules/{sched['id']}/skip"
    first = client.post(url, json={"notes": "away"}, headers=user.headers).json()
    assert first["schedule"]["next_due"] == "2026-02-28"
    assert (
        first["occurrence"]["outcome"],
        first["occurrence"]["due_date"],
        first["occurrence"]["notes"],
    ) == ("skipped", "2026-01-31", "away")
    assert client.post(url, json={}, headers=user.headers).json()["schedule"]["next_due"] == "2026-03-31"
    last = client.post(url, json={}, headers=user.headers).json()["schedule"]
    assert last["is_active"] is False  # Apr 30 is past the end date
    assert_problem(client.post(url, json={}, headers=user.headers), 409, "schedule_inactive")
    assert _count(owner_conn, "SELECT count(*) FROM service_events WHERE device_id = %s", device["id"]) == 0
    # Atomic too: a conflicting outcome leaves the schedule where it was.
    other = make_schedule(user, device, next_due="2026-06-30")
    owner_conn.execute(
        "INSERT INTO maintenance_occurrences (schedule_id, home_id, due_date, outcome, acted_on) "
        "VALUES (%s, %s, '2026-06-30', 'completed', current_date)",
        (other["id"], other["home_id"]),
    )
    assert_problem(
        client.post(f"/api/v1/maintenance-schedules/{other['id']}/skip", json={}, headers=user.headers),
        409,
        "occurrence_already_recorded",
    )
    assert client.get(f"/api/v1/maintenance-schedules/{other['id']}", headers=user.headers).json()[
        "next_due"
    ] == ("2026-06-30")


def test_other_households_and_guests(
    client: TestClient,
    make_user,
    make_home,
    make_device,
    make_schedule,  # type: ignore[no-untyped-def]
    add_member,
    app_conn,
) -> None:
    owner, guest, stranger = make_user(), make_user(), make_user()
    home = make_home(owner)
    device = make_device(owner, home)
    sched = make_schedule(owner, device)
    add_member(owner, home, guest, "guest")
    url = f"/api/v1/maintenance-schedules/{sched['id']}"
    # A guest reads but does not write.
    assert client.get(url, headers=guest.headers).status_code == 200
    assert (
        len(client.get(f"/api/v1/devices/{device['id']}/maintenance-schedules", headers=guest.headers).json())
        == 1
    )
    assert_problem(
        client.patch(url, json={"lead_days": 1}, headers=guest.headers), 403, "insufficient_home_role"
    )
    assert_problem(client.post(f"{url}/complete", json={}, headers=guest.headers), 403)
    # Another household: 404 everywhere.
    assert_problem(client.get(url, headers=stranger.headers), 404, "schedule_not_found")
    assert_problem(client.patch(url, json={"lead_days": 1}, headers=stranger.headers), 404)
    assert_problem(client.delete(url, headers=stranger.headers), 404)
    assert_problem(client.post(f"{url}/complete", json={}, headers=stranger.headers), 404)
    assert_problem(client.post(f"{url}/skip", json={}, headers=stranger.headers), 404)
    assert_problem(
        client.get(f"/api/v1/devices/{device['id']}/maintenance-schedules", headers=stranger.headers), 404
    )
    assert_problem(
        client.post(
            f"/api/v1/devices/{device['id']}/maintenance-schedules",
            json={"task_name": "x", "interval": 1, "interval_unit": "days"},
            headers=stranger.headers,
        ),
        404,
    )
    # From the database's side: the stranger sees and changes nothing.
    with app_conn.transaction():
        as_user(app_conn, stranger.id)
        assert (
            app_conn.execute(
                "SELECT count(*) FROM maintenance_schedules WHERE id = %s", (sched["id"],)
            ).fetchone()[0]
            == 0
        )
        assert (
            app_conn.execute(
                "UPDATE maintenance_schedules SET lead_days = 0 WHERE id = %s", (sched["id"],)
            ).rowcount
            == 0
        )
    with app_conn.transaction():
        as_user(app_conn, guest.id)
        assert (
            app_conn.execute(
                "UPDATE maintenance_schedules SET lead_days = 0 WHERE id = %s", (sched["id"],)
            ).rowcount
            == 0
        )
    assert client.get(url, headers=owner.headers).json()["lead_days"] == 7


def test_templates_become_schedules(
    client: TestClient,
    make_staff,
    make_user,
    make_home,
    make_device,  # type: ignore[no-untyped-def]
    owner_conn,
) -> None:
    admin, user = make_staff("admin"), make_user()
    model = client.post(
        "/api/v1/models",
        json={
            "manufacturer": f"Aqua{uuid.uuid4().hex[:6]}",
            "model_number": "WH-50",
            "category": "water_heater",
        },
        headers=admin.headers,
    )
    assert model.status_code == 201, model.text
    mid = model.json()["id"]
    for t in (
        {"task_name": "Flush tank", "interval": 1, "interval_unit": "years", "estimated_cost": "40.00"},
        {
            "task_name": "Check anode rod",
            "interval": 6,
            "interval_unit": "months",
            "parts": [{"name": "Anode rod"}],
        },
    ):
        assert (
            client.post(
                f"/api/v1/models/{mid}/maintenance-templates", json=t, headers=admin.headers
            ).status_code
            == 201
        )
    device = make_device(user, make_home(user), nickname="Heater", model_id=mid)
    schedules = client.get(
        f"/api/v1/devices/{device['id']}/maintenance-schedules", headers=user.headers
    ).json()
    by_name = {s["task_name"]: s for s in schedules}
    assert set(by_name) == {"Flush tank", "Check anode rod"}
    assert by_name["Flush tank"]["next_due"] == add_interval(date.today(), 1, IntervalUnit.years).isoformat()
    assert by_name["Check anode rod"]["parts_needed"] == [{"name": "Anode rod"}]
    assert all(s["template_id"] and s["reminder_enabled"] for s in schedules)
    audit = owner_conn.execute(
        "SELECT new_values FROM audit_logs WHERE action_type = 'device_created' AND entity_id = %s",
        (device["id"],),
    ).fetchone()[0]
    assert audit["maintenance_schedules"] == 2
    # The user turns one off.
    off = client.patch(
        f"/api/v1/maintenance-schedules/{by_name['Flush tank']['id']}",
        json={"is_active": False},
        headers=user.headers,
    )
    assert off.status_code == 200 and off.json()["is_active"] is False
    # A device without a model gets none.
    plain = make_device(user, make_home(user), nickname="Plain")
    assert (
        client.get(f"/api/v1/devices/{plain['id']}/maintenance-schedules", headers=user.headers).json() == []
    )


def test_complete_reads_the_schedule_once(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_home, make_device, make_schedule
) -> None:
    """One completion: the schedule read once, locked (with its home's timezone in the same statement), no
    home or membership look-up (the actor carries the memberships), then the three writes and the audit row.
    Before the platform core it took 13 statements (11 not counting the two identity ones, which now go
    through the raw driver, outside this capture)."""
    user = make_user()
    sched = make_schedule(user, make_device(user, make_home(user)), next_due=days(-1))
    with captured_sql(client) as statements:
        r = client.post(
            f"/api/v1/maintenance-schedules/{sched['id']}/complete", json={}, headers=user.headers
        )
    assert r.status_code == 200, r.text
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1 and "FROM maintenance_schedules" in reads[0] and "FOR UPDATE" in reads[0], (
        statements
    )
    assert not any("home_members" in s for s in statements), statements
    kinds = [" ".join(s.split()[:3]) for s in statements]
    assert kinds == [
        kinds[0],
        "INSERT INTO service_events",
        "INSERT INTO maintenance_occurrences",
        "UPDATE maintenance_schedules SET",
        "INSERT INTO audit_logs",
    ], statements
    assert len(statements) == 5


def test_deleting_a_schedule_keeps_its_service_history(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_home, make_device, make_schedule, owner_conn
) -> None:
    """The service events of a deleted schedule stay in the device's history, without the schedule (its
    occurrences go). The foreign key has no ON DELETE SET NULL (a cluster cannot have one on a key with the
    distribution column): the service detaches the events in the same transaction."""
    user = make_user()
    device = make_device(user, make_home(user))
    sched = make_schedule(user, device, next_due=days(-1))
    done = client.post(
        f"/api/v1/maintenance-schedules/{sched['id']}/complete",
        json={"notes": "new filter"},
        headers=user.headers,
    )
    assert done.status_code == 200, done.text
    event = done.json()["service_event"]
    assert event["schedule_id"] == sched["id"]

    assert (
        client.delete(f"/api/v1/maintenance-schedules/{sched['id']}", headers=user.headers).status_code == 204
    )
    history = client.get(f"/api/v1/devices/{device['id']}/history", headers=user.headers).json()["items"]
    assert [(e["id"], e["schedule_id"], e["notes"]) for e in history] == [(event["id"], None, "new filter")]
    assert (
        _count(owner_conn, "SELECT count(*) FROM maintenance_occurrences WHERE schedule_id = %s", sched["id"])
        == 0
    )
    # Without the service's detaching, the database refuses to orphan the events.
    other = make_schedule(user, device, next_due=days(-1))
    client.post(f"/api/v1/maintenance-schedules/{other['id']}/complete", json={}, headers=user.headers)
    with pytest.raises(psycopg.errors.ForeignKeyViolation), owner_conn.transaction():
        owner_conn.execute("DELETE FROM maintenance_schedules WHERE id = %s", (other["id"],))

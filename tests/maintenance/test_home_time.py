"""Home-local time: due dates, "today", overdue, upcoming and reminders follow each home's timezone, not the
server's. The clock is frozen at 2026-12-01 12:00 UTC: already 2026-12-02 (01:00) in Auckland, still
2026-12-01 in UTC and Paris (13:00)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from homeops.core.clock import FrozenClock
from homeops.core.jobs import Worker, enqueue
from homeops.maintenance.tasks import REMINDERS, send_maintenance_reminders
from tests.conftest import ApiUser, assert_problem

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DEC_1, DEC_2, DEC_3 = "2026-12-01", "2026-12-02", "2026-12-03"


@pytest.fixture
def across_date_line(frozen_clock: FrozenClock) -> FrozenClock:
    frozen_clock.set(AT)
    return frozen_clock


@pytest.fixture
def two_homes(
    make_user: Callable[..., ApiUser],
    make_home: Callable[..., dict[str, Any]],
    make_device: Callable[..., Any],
) -> tuple[ApiUser, dict[str, Any], dict[str, Any]]:
    """A user with a device in an Auckland home and one in a Paris home."""
    user = make_user()
    auckland = make_device(user, make_home(user, "Auckland", timezone="Pacific/Auckland"), "Heat pump")
    paris = make_device(user, make_home(user, "Paris", timezone="Europe/Paris"), "Boiler")
    return user, auckland, paris


def test_due_today_and_overdue_by_the_homes_date(  # type: ignore[no-untyped-def]
    client: TestClient, across_date_line, two_homes, make_schedule
) -> None:
    user, auckland, paris = two_homes
    a_today = make_schedule(user, auckland, task_name="A due Dec 2", next_due=DEC_2, lead_days=0)
    p_tomorrow = make_schedule(user, paris, task_name="P due Dec 2", next_due=DEC_2, lead_days=0)
    a_late = make_schedule(user, auckland, task_name="A due Dec 1", next_due=DEC_1, lead_days=0)
    p_today = make_schedule(user, paris, task_name="P due Dec 1", next_due=DEC_1, lead_days=0)

    upcoming = client.get("/api/v1/maintenance/upcoming?days=30", headers=user.headers).json()
    by_id = {i["schedule_id"]: i["days_until_due"] for i in upcoming}
    assert by_id == {a_today["id"]: 0, p_tomorrow["id"]: 1, p_today["id"]: 0}  # Auckland's Dec 1 is past

    due_today = client.get("/api/v1/maintenance/upcoming?days=0", headers=user.headers).json()
    assert {i["schedule_id"] for i in due_today} == {a_today["id"], p_today["id"]}

    overdue = client.get("/api/v1/maintenance/overdue", headers=user.headers).json()
    assert [(i["schedule_id"], i["days_until_due"]) for i in overdue] == [(a_late["id"], -1)]

    # An hour before midnight UTC Paris is already on Dec 2 (UTC+1): its Dec 1 schedule turns overdue.
    across_date_line.set(datetime(2026, 12, 1, 23, 30, tzinfo=UTC))
    overdue = client.get("/api/v1/maintenance/overdue", headers=user.headers).json()
    assert {i["schedule_id"] for i in overdue} == {a_late["id"], p_today["id"]}


def test_default_dates_are_the_homes_today(  # type: ignore[no-untyped-def]
    client: TestClient, across_date_line, two_homes, make_schedule
) -> None:
    user, auckland, paris = two_homes
    # A schedule without next_due is first due one interval from its home's today.
    assert make_schedule(user, auckland, interval=1, interval_unit="days")["next_due"] == DEC_3
    assert make_schedule(user, paris, interval=1, interval_unit="days")["next_due"] == DEC_2

    # Completing without performed_on records the home's date.
    for device, expected in ((auckland, DEC_2), (paris, DEC_1)):
        sched = make_schedule(user, device, next_due="2026-11-20")
        r = client.post(
            f"/api/v1/maintenance-schedules/{sched['id']}/complete", json={}, headers=user.headers
        )
        assert r.status_code == 200, r.text
        assert r.json()["service_event"]["event_date"] == expected
        assert r.json()["schedule"]["last_performed"] == expected
        skip = make_schedule(user, device, next_due="2026-11-20")
        r = client.post(f"/api/v1/maintenance-schedules/{skip['id']}/skip", json={}, headers=user.headers)
        assert r.status_code == 200, r.text
        assert r.json()["occurrence"]["acted_on"] == expected
        event = client.post(
            f"/api/v1/devices/{device['id']}/service-events",
            json={"event_type": "repair"},
            headers=user.headers,
        )
        assert event.status_code == 201, event.text
        assert event.json()["event_date"] == expected


def test_performed_on_in_the_future_is_the_homes_future(  # type: ignore[no-untyped-def]
    client: TestClient, across_date_line, two_homes, make_schedule
) -> None:
    user, auckland, paris = two_homes
    a = make_schedule(user, auckland, next_due="2026-11-20")
    p = make_schedule(user, paris, next_due="2026-11-20")
    # Dec 2 is today in Auckland ...
    r = client.post(
        f"/api/v1/maintenance-schedules/{a['id']}/complete",
        json={"performed_on": DEC_2},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["service_event"]["event_date"] == DEC_2
    # ... and tomorrow in Paris.
    assert_problem(
        client.post(
            f"/api/v1/maintenance-schedules/{p['id']}/complete",
            json={"performed_on": DEC_2},
            headers=user.headers,
        ),
        422,
        "performed_in_future",
    )
    assert_problem(
        client.post(
            f"/api/v1/devices/{paris['id']}/service-events",
            json={"event_type": "repair", "event_date": DEC_2},
            headers=user.headers,
        ),
        422,
        "event_in_future",
    )
    # Once it is Dec 2 in Paris too, the same completion is accepted.
    across_date_line.set(datetime(2026, 12, 1, 23, 30, tzinfo=UTC))
    r = client.post(
        f"/api/v1/maintenance-schedules/{p['id']}/complete",
        json={"performed_on": DEC_2},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text


def _reminders(owner_conn, schedule_ids: list[str]) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    rows = owner_conn.execute(
        "SELECT related_entity_id::text, dedupe_key FROM notifications WHERE related_entity_id = ANY(%s::uuid[])",
        (schedule_ids,),
    ).fetchall()
    out: dict[str, set[str]] = {s: set() for s in schedule_ids}
    for schedule_id, key in rows:
        out[schedule_id].add(key.rsplit(":", 1)[1])
    return out


def test_reminders_use_each_homes_date(  # type: ignore[no-untyped-def]
    across_date_line, two_homes, make_schedule, as_worker, owner_conn
) -> None:
    user, auckland, paris = two_homes
    a_today = make_schedule(user, auckland, next_due=DEC_2, lead_days=0)
    p_tomorrow = make_schedule(user, paris, next_due=DEC_2, lead_days=0)
    a_late = make_schedule(user, auckland, next_due=DEC_1, lead_days=0)
    p_today = make_schedule(user, paris, next_due=DEC_1, lead_days=0)
    p_lead = make_schedule(user, paris, next_due=DEC_3, lead_days=2)
    a_lead = make_schedule(user, auckland, next_due="2026-12-05", lead_days=2)
    ids = [s["id"] for s in (a_today, p_tomorrow, a_late, p_today, p_lead, a_lead)]

    assert as_worker(lambda s: send_maintenance_reminders(s, AT)) >= 4
    got = _reminders(owner_conn, ids)
    assert got == {
        a_today["id"]: {"due"},  # Dec 2 is Auckland's today
        p_tomorrow["id"]: set(),  # Paris is still on Dec 1
        a_late["id"]: {"overdue"},
        p_today["id"]: {"due"},
        p_lead["id"]: {"due"},  # Dec 3 - 2 days = Dec 1: Paris entered the lead time
        a_lead["id"]: set(),  # Dec 5 - 2 days = Dec 3: not yet in Auckland
    }
    (message,) = owner_conn.execute(
        "SELECT message FROM notifications WHERE related_entity_id = %s AND user_id = %s",
        (a_today["id"], user.id),
    ).fetchone()
    assert message.endswith("is due today.")


def test_the_reminder_job_reads_the_clock(  # type: ignore[no-untyped-def]
    across_date_line, two_homes, make_schedule, as_worker, owner_conn, make_worker: Callable[..., Worker]
) -> None:
    """The hourly task run by a worker: the instant comes from the runtime's (frozen) clock."""
    user, auckland, paris = two_homes
    a_today = make_schedule(user, auckland, next_due=DEC_2, lead_days=0)
    p_tomorrow = make_schedule(user, paris, next_due=DEC_2, lead_days=0)
    as_worker(lambda s: enqueue(s, REMINDERS, {"slot": 0}))

    async def drain() -> int:
        async with make_worker(tasks={REMINDERS}) as worker:
            return await worker.drain()

    assert asyncio.run(drain()) >= 1
    got = _reminders(owner_conn, [a_today["id"], p_tomorrow["id"]])
    assert got == {a_today["id"]: {"due"}, p_tomorrow["id"]: set()}

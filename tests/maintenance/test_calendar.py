"""The iCalendar feed: valid RFC 5545 (parsed by the icalendar library), stable UIDs, token lifecycle."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import icalendar
from fastapi.testclient import TestClient

from homeops.maintenance.ics import escape_text, fold
from tests.conftest import assert_problem
from tests.maintenance.conftest import days

TASK = "Filter, HVAC; main \\ ünïcødé ✓ — " * 4


def _feed_path(client: TestClient, user) -> str:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/calendar/token", headers=user.headers)
    assert r.status_code == 201, r.text
    url = urlsplit(r.json()["url"])
    assert url.path.startswith("/api/v1/calendar/") and url.path.endswith(".ics")
    return url.path


def test_fold_and_escape() -> None:
    line = "SUMMARY:" + "é" * 80
    folded = fold(line)
    parts = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in parts) and all(p.startswith(" ") for p in parts[1:])
    assert "".join(p[1:] if i else p for i, p in enumerate(parts)) == line
    assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"


def test_feed_is_valid_and_stable(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_home, make_device, make_schedule
) -> None:
    user, stranger = make_user(), make_user()
    home = make_home(user, timezone="America/Chicago")
    device = make_device(user, home, "Furnace", warranty_end=days(100), location_detail="Garage")
    sched = make_schedule(
        user,
        device,
        task_name=TASK.strip()[:200],
        interval=1,
        interval_unit="months",
        next_due=days(10),
        lead_days=5,
    )
    make_schedule(
        stranger, make_device(stranger, make_home(stranger)), task_name="Not mine", next_due=days(3)
    )
    path = _feed_path(client, user)

    r = client.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"
    raw = r.content
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))

    cal = icalendar.Calendar.from_ical(raw)
    assert (str(cal["VERSION"]), str(cal["CALSCALE"]), str(cal["METHOD"])) == ("2.0", "GREGORIAN", "PUBLISH")
    assert str(cal["PRODID"]) and str(cal["X-WR-CALNAME"]) == "HomeOps maintenance"
    assert str(cal["X-WR-TIMEZONE"]) == "America/Chicago"
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    first_due = date.fromisoformat(days(10))
    maint = sorted(uid for uid in events if uid.startswith(f"maint-{sched['id']}-"))
    assert maint[0] == f"maint-{sched['id']}-{first_due.isoformat()}@homeops"
    assert 12 <= len(maint) <= 13  # monthly for 365 days
    first = events[maint[0]]
    assert str(first["SUMMARY"]) == f"{TASK.strip()[:200]} — Furnace"  # escaping and folding round-trip
    start = first["DTSTART"].dt
    assert type(start) is date and start == first_due  # all-day: VALUE=DATE
    assert first["DTEND"].dt == first_due + timedelta(days=1)
    assert isinstance(first["DTSTAMP"].dt, datetime) and first["DTSTAMP"].dt.utcoffset() == timedelta(0)
    assert str(first["LOCATION"]) == "Garage"
    alarm = first.walk("VALARM")[0]
    assert alarm["TRIGGER"].dt == timedelta(days=-5)
    warranty = events[f"warranty-{device['id']}@homeops"]
    assert warranty["DTSTART"].dt == date.fromisoformat(days(100))
    assert not any("Not mine" in str(e["SUMMARY"]) for e in events.values())

    again = icalendar.Calendar.from_ical(client.get(path).content)
    assert {str(e["UID"]) for e in again.walk("VEVENT")} == set(events)


def test_token_rotation_and_revocation(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    assert client.get("/api/v1/calendar/token", headers=user.headers).json()["active"] is False
    old = _feed_path(client, user)
    assert client.get(old).status_code == 200
    status = client.get("/api/v1/calendar/token", headers=user.headers).json()
    assert status["active"] is True and status["rotated_at"] is None
    new = _feed_path(client, user)
    assert new != old
    assert_problem(client.get(old), 404, "calendar_not_found")
    assert client.get(new).status_code == 200
    assert client.get("/api/v1/calendar/token", headers=user.headers).json()["rotated_at"] is not None
    assert client.delete("/api/v1/calendar/token", headers=user.headers).status_code == 204
    assert_problem(client.get(new), 404, "calendar_not_found")
    assert_problem(
        client.get("/api/v1/calendar/not-a-real-token-but-long-enough.ics"), 404, "calendar_not_found"
    )
    assert_problem(client.get("/api/v1/calendar/x.ics"), 404)
    assert_problem(client.post("/api/v1/calendar/token"), 401)

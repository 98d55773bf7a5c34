from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.database import rows_affected
from homeops.troubleshooting.models import TroubleshootingSession
from homeops.troubleshooting.repository import TicketRepository
from tests.conftest import as_user, assert_problem
from tests.troubleshooting.conftest import SESSIONS, TICKETS

CRITICAL = {"problem_description": "Compressor failure", "symptoms": ["not cooling"], "severity": "critical"}


def _ticket(client: TestClient, user, device: dict[str, Any], **fields: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post(
        TICKETS,
        json={"device_id": device["id"], "summary": "Needs a technician", **fields},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


def _patch(client: TestClient, user, ticket: dict[str, Any], **body: Any):  # type: ignore[no-untyped-def]
    return client.patch(f"{TICKETS}/{ticket['id']}", json=body, headers=user.headers)


def test_escalation_makes_exactly_one_ticket(
    client: TestClient, make_user, make_model, make_device, open_session, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    device = make_device(user, model_id=make_model([CRITICAL])["id"])
    s = open_session(
        user, device, "Fridge is warm", symptoms=["not cooling", "warm inside"], error_codes=["e5"]
    )
    url = f"{SESSIONS}/{s['id']}/escalate"
    r = client.post(url, headers=user.headers)  # no body: priority from the matched problem's severity
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert ticket["session_id"] == s["id"] and ticket["status"] == "open" and ticket["priority"] == "urgent"
    assert ticket["summary"] == "Fridge is warm" and ticket["symptoms"] == ["not cooling", "warm inside"]
    assert ticket["error_codes"] == ["E5"] and ticket["device_id"] == device["id"]
    assert_problem(client.post(url, json={"priority": "low"}, headers=user.headers), 409, "already_escalated")
    rows = owner_conn.execute(
        "SELECT count(*) FROM service_tickets WHERE session_id = %s", (s["id"],)
    ).fetchone()
    assert rows is not None and rows[0] == 1
    session = client.get(f"{SESSIONS}/{s['id']}", headers=user.headers).json()
    assert session["status"] == "escalated" and ticket["id"] in session["conversation"][-1]["content"]
    assert_problem(
        client.post(f"{SESSIONS}/{s['id']}/messages", json={"content": "x"}, headers=user.headers), 409
    )
    assert_problem(
        client.patch(f"{SESSIONS}/{s['id']}", json={"status": "resolved"}, headers=user.headers),
        409,
        "invalid_transition",
    )
    audit = owner_conn.execute(
        "SELECT action_type FROM audit_logs WHERE entity_id IN (%s, %s) ORDER BY action_type",
        (s["id"], ticket["id"]),
    ).fetchall()
    assert [a[0] for a in audit] == [
        "service_ticket_created",
        "troubleshooting_session_created",
        "troubleshooting_session_escalated",
    ]


def test_unique_index_is_the_last_line_of_defence(
    client: TestClient, make_user, make_device, open_session, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    user, stranger = make_user(), make_user()
    device = make_device(user)
    s = open_session(user, device)
    # A ticket the caller cannot see (another user's) already holds the session: the insert hits the index.
    owner_conn.execute(
        "INSERT INTO service_tickets (user_id, device_id, home_id, session_id, summary) VALUES (%s, %s, %s, %s, 'x')",
        (stranger.id, device["id"], device["home_id"], s["id"]),
    )
    r = client.post(f"{SESSIONS}/{s['id']}/escalate", json={"priority": "high"}, headers=user.headers)
    assert_problem(r, 409, "already_escalated")
    assert client.get(f"{SESSIONS}/{s['id']}", headers=user.headers).json()["status"] == "open"  # rolled back


def test_direct_tickets_and_visibility(
    client: TestClient, make_user, make_staff, make_home, make_device, app_conn
) -> None:  # type: ignore[no-untyped-def]
    alice, bob, guest = make_user(), make_user(), make_user()
    support, technician = make_staff("support"), make_staff("technician")
    home = make_home(alice)
    client.post(
        f"/api/v1/homes/{home['id']}/members",
        json={"email": guest.email, "role": "guest"},
        headers=alice.headers,
    )
    device = make_device(alice, home)
    mine = _ticket(client, alice, device, priority="high", symptoms=["Rattle"], error_codes=["f1"])
    assert mine["session_id"] is None and mine["symptoms"] == ["rattle"] and mine["error_codes"] == ["F1"]
    theirs = _ticket(client, bob, make_device(bob))
    body = {"device_id": device["id"], "summary": "x"}
    assert_problem(client.post(TICKETS, json=body, headers=bob.headers), 404, "device_not_found")
    assert_problem(client.post(TICKETS, json=body, headers=guest.headers), 403, "insufficient_home_role")

    alice_ids = [t["id"] for t in client.get(TICKETS, headers=alice.headers).json()["items"]]
    assert alice_ids == [mine["id"]]
    assert_problem(client.get(f"{TICKETS}/{mine['id']}", headers=bob.headers), 404, "ticket_not_found")
    assert_problem(_patch(client, bob, mine, status="closed"), 404, "ticket_not_found")
    for staff in (support, technician):  # staff see every ticket
        listed = {t["id"] for t in client.get(f"{TICKETS}?limit=200", headers=staff.headers).json()["items"]}
        assert {mine["id"], theirs["id"]} <= listed
        assert client.get(f"{TICKETS}/{theirs['id']}", headers=staff.headers).status_code == 200
    high = client.get(f"{TICKETS}?priority=high&status=open&limit=200", headers=support.headers).json()[
        "items"
    ]
    assert mine["id"] in {t["id"] for t in high} and theirs["id"] not in {t["id"] for t in high}
    by_device = client.get(f"{TICKETS}?device_id={device['id']}", headers=support.headers).json()["items"]
    assert [t["id"] for t in by_device] == [mine["id"]]

    with app_conn.transaction():
        as_user(app_conn, bob.id, "homeowner")
        assert (
            app_conn.execute(
                "SELECT count(*) FROM service_tickets WHERE user_id = %s", (alice.id,)
            ).fetchone()[0]
            == 0
        )
    with app_conn.transaction():
        as_user(app_conn, bob.id, "support")  # a claimed role is checked against users.role
        assert (
            app_conn.execute("SELECT count(*) FROM service_tickets WHERE id = %s", (mine["id"],)).fetchone()[
                0
            ]
            == 0
        )
    with app_conn.transaction():
        as_user(app_conn, support.id, "support")
        assert (
            app_conn.execute(
                "SELECT count(*) FROM service_tickets WHERE id IN (%s, %s)", (mine["id"], theirs["id"])
            ).fetchone()[0]
            == 2
        )


def test_assignment_rules(client: TestClient, make_user, make_staff, make_device) -> None:  # type: ignore[no-untyped-def]
    alice, other = make_user(), make_user()
    support, technician, admin = make_staff("support"), make_staff("technician"), make_staff("admin")
    ticket = _ticket(client, alice, make_device(alice))
    # Homeowners never assign nor prioritise, and only close / reopen.
    assert_problem(_patch(client, alice, ticket, assigned_to=str(technician.id)), 403, "staff_only")
    assert_problem(_patch(client, alice, ticket, priority="urgent"), 403, "staff_only")
    assert_problem(_patch(client, alice, ticket, status="assigned"), 403, "staff_only")
    # Assignees are active support or technician users.
    for bad in (other.id, admin.id, uuid.uuid4()):
        assert_problem(_patch(client, admin, ticket, assigned_to=str(bad)), 422, "invalid_assignee")
    assert_problem(_patch(client, support, ticket, status="assigned"), 409, "assignee_required")

    r = _patch(client, admin, ticket, assigned_to=str(technician.id), priority="high")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "assigned" and r.json()["assigned_to"] == str(technician.id)
    assert r.json()["priority"] == "high"
    mine = client.get(f"{TICKETS}?assigned_to={technician.id}", headers=technician.headers).json()["items"]
    assert [t["id"] for t in mine] == [ticket["id"]]
    # Support picks it up themselves; unassigning an assigned ticket puts it back in the queue.
    assert _patch(client, support, ticket, assigned_to=str(support.id)).json()["assigned_to"] == str(
        support.id
    )
    back = _patch(client, support, ticket, assigned_to=None).json()
    assert back["status"] == "open" and back["assigned_to"] is None
    # Support hands it to a technician they share no home with (staff may read user accounts).
    handed = _patch(client, support, ticket, assigned_to=str(technician.id))
    assert handed.status_code == 200, handed.text
    assert handed.json()["assigned_to"] == str(technician.id)


def test_ticket_state_machine(client: TestClient, make_user, make_staff, make_device, owner_conn) -> None:  # type: ignore[no-untyped-def]
    alice, technician = make_user(), make_staff("technician")
    ticket = _ticket(client, alice, make_device(alice))
    assert_problem(_patch(client, technician, ticket, status="in_progress"), 409, "invalid_transition")
    assert_problem(_patch(client, technician, ticket, status="resolved"), 409, "invalid_transition")
    assert _patch(client, technician, ticket, assigned_to=str(technician.id)).json()["status"] == "assigned"
    assert _patch(client, technician, ticket, status="in_progress").json()["status"] == "in_progress"
    assert_problem(_patch(client, technician, ticket, assigned_to=None), 409, "assignee_required")
    assert_problem(_patch(client, alice, ticket, status="resolved"), 403, "staff_only")
    resolved = _patch(client, technician, ticket, status="resolved", resolution="Replaced the fan").json()
    assert (
        resolved["status"] == "resolved"
        and resolved["resolved_at"]
        and resolved["resolution"] == "Replaced the fan"
    )
    # The owner reopens it (the fix did not hold), then closes it with feedback once resolved again.
    reopened = _patch(client, alice, ticket, status="in_progress").json()
    assert reopened["status"] == "in_progress" and reopened["resolved_at"] is None
    assert _patch(client, technician, ticket, status="resolved").json()["resolved_at"]
    closed = _patch(client, alice, ticket, status="closed", resolution="Works now, thanks").json()
    assert (
        closed["status"] == "closed" and closed["closed_at"] and closed["resolution"] == "Works now, thanks"
    )
    for body in ({"status": "in_progress"}, {"resolution": "again"}, {"priority": "low"}):
        assert_problem(_patch(client, technician, ticket, **body), 409, "invalid_transition")
    audit = owner_conn.execute(
        "SELECT count(*) FROM audit_logs WHERE entity_id = %s AND action_type = 'service_ticket_updated'",
        (ticket["id"],),
    ).fetchone()
    assert audit is not None and audit[0] == 6

    # A homeowner may withdraw an open ticket.
    withdrawn = _ticket(client, alice, make_device(alice))
    assert _patch(client, alice, withdrawn, status="closed").json()["status"] == "closed"


def test_staff_and_owner_are_notified(
    client: TestClient, make_user, make_staff, make_device, open_session, drain_tickets, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    alice, support, technician = make_user(), make_staff("support"), make_staff("technician")
    s = open_session(alice, make_device(alice), "Oven will not heat")
    ticket = client.post(
        f"{SESSIONS}/{s['id']}/escalate", json={"priority": "high"}, headers=alice.headers
    ).json()
    direct = _ticket(client, alice, make_device(alice))
    assert drain_tickets() >= 2

    def notes(user) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
        rows = owner_conn.execute(
            "SELECT notification_type, related_entity_id::text, priority::text FROM notifications "
            "WHERE user_id = %s AND related_entity_id IN (%s, %s) ORDER BY created_at, notification_type",
            (user.id, ticket["id"], direct["id"]),
        ).fetchall()
        return [tuple(r) for r in rows]

    # Every support user hears of each new ticket once; technicians wait to be assigned.
    assert sorted(notes(support)) == sorted(
        [("service_ticket_opened", ticket["id"], "high"), ("service_ticket_opened", direct["id"], "normal")]
    )
    assert notes(technician) == [] and notes(alice) == []
    _patch(client, support, ticket, assigned_to=str(technician.id))
    drain_tickets()
    assert notes(technician) == [("service_ticket_assigned", ticket["id"], "high")]
    assert notes(alice) == [("service_ticket_status", ticket["id"], "high")]  # open → assigned, by staff
    _patch(client, alice, direct, status="closed")  # her own change: no notification to herself
    drain_tickets()
    assert len(notes(alice)) == 1


def test_a_deleted_session_leaves_its_ticket(
    client: TestClient, make_user, make_device, open_session, as_worker, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    """An escalated ticket outlives its session: whoever deletes sessions (retention, as the worker) detaches
    their tickets first, in the same transaction — the foreign key has no ON DELETE SET NULL (a cluster cannot
    have one on a key with the distribution column), so the database refuses to orphan the ticket."""
    user = make_user()
    s = open_session(user, make_device(user), "Dishwasher leaks")
    ticket = client.post(f"{SESSIONS}/{s['id']}/escalate", json={}, headers=user.headers).json()
    with pytest.raises(psycopg.errors.ForeignKeyViolation), owner_conn.transaction():
        owner_conn.execute("DELETE FROM troubleshooting_sessions WHERE id = %s", (s["id"],))

    condition = TroubleshootingSession.id == uuid.UUID(s["id"])

    async def purge(session: AsyncSession) -> tuple[int, int]:
        detached = await TicketRepository(session).detach_sessions(condition)
        return detached, await rows_affected(session, delete(TroubleshootingSession).where(condition))

    assert as_worker(purge) == (1, 1)
    kept = client.get(f"{TICKETS}/{ticket['id']}", headers=user.headers).json()
    assert (kept["session_id"], kept["summary"], kept["status"]) == (None, "Dishwasher leaks", "open")
    assert_problem(client.get(f"{SESSIONS}/{s['id']}", headers=user.headers), 404, "session_not_found")


@pytest.mark.parametrize("delete", ["device", "home"])
def test_deleting_a_device_or_home_takes_its_linked_history_along(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_home, make_device, open_session, owner_conn, delete: str
) -> None:
    """The links without ON DELETE SET NULL (service event → schedule, ticket → session) do not block the
    cascade when the device or the home goes: everything of the device goes in the same statement."""
    user = make_user()
    home = make_home(user)
    device = make_device(user, home)
    schedule = client.post(
        f"/api/v1/devices/{device['id']}/maintenance-schedules",
        headers=user.headers,
        json={"task_name": "Filter", "interval": 1, "interval_unit": "months"},
    ).json()
    assert (
        client.post(
            f"/api/v1/maintenance-schedules/{schedule['id']}/complete", json={}, headers=user.headers
        ).status_code
        == 200
    )
    s = open_session(user, device)
    assert client.post(f"{SESSIONS}/{s['id']}/escalate", json={}, headers=user.headers).status_code == 201
    url = f"/api/v1/devices/{device['id']}" if delete == "device" else f"/api/v1/homes/{home['id']}"
    r = client.delete(url, headers=user.headers)
    assert r.status_code == 204, r.text
    for table in ("maintenance_schedules", "service_events", "troubleshooting_sessions", "service_tickets"):
        count = owner_conn.execute(
            f"SELECT count(*) FROM {table} WHERE home_id = %s AND device_id = %s", (home["id"], device["id"])
        ).fetchone()[0]
        assert count == 0, table

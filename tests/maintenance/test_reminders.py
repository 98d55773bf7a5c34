"""The reminders job: lead time and overdue, one per member and occurrence, idempotent, e-mailed over a
real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from homeops.core.config import Settings
from homeops.core.database import libpq_dsn
from homeops.core.runtime import Runtime
from homeops.maintenance.tasks import REMINDERS, send_maintenance_reminders
from homeops.notifications.email import Mailer
from homeops.notifications.tasks import mailer_of
from tests.maintenance.conftest import days, noon

TODAY = date.today()
NOW = noon(TODAY)  # the instant the job runs at: TODAY in every test home's timezone


def _mine(  # type: ignore[no-untyped-def]
    owner_conn, user_id: uuid.UUID, schedule_ids: list[str]
) -> list[tuple[Any, ...]]:
    return owner_conn.execute(
        "SELECT related_entity_id::text, notification_type, dedupe_key, priority::text, title, "
        "delivery_method FROM notifications WHERE user_id = %s AND related_entity_id = ANY(%s::uuid[]) "
        "ORDER BY dedupe_key",
        (user_id, schedule_ids),
    ).fetchall()


def test_reminders_once_per_member_and_occurrence(
    client: TestClient,
    make_user,
    make_home,
    make_device,  # type: ignore[no-untyped-def]
    make_schedule,
    add_member,
    as_worker,
    owner_conn,
) -> None:
    owner, member, guest, stranger = make_user(), make_user(), make_user(), make_user()
    home = make_home(owner)
    add_member(owner, home, member, "member")
    add_member(owner, home, guest, "guest")
    device = make_device(owner, home, "Dishwasher")
    soon = make_schedule(owner, device, task_name="Clean filter", next_due=days(3), lead_days=7)
    late = make_schedule(owner, device, task_name="Descale", next_due=days(-2), lead_days=0)
    far = make_schedule(owner, device, task_name="Far", next_due=days(20), lead_days=7)
    silent = make_schedule(owner, device, task_name="Silent", next_due=days(1), reminder_enabled=False)
    off = make_schedule(owner, device, task_name="Off", next_due=days(1))
    client.patch(
        f"/api/v1/maintenance-schedules/{off['id']}", json={"is_active": False}, headers=owner.headers
    )
    theirs = make_schedule(stranger, make_device(stranger, make_home(stranger)), next_due=days(2))
    ids = [soon["id"], late["id"], far["id"], silent["id"], off["id"], theirs["id"]]

    created = as_worker(lambda s: send_maintenance_reminders(s, NOW))
    assert created >= 5  # 2 members x 2 schedules + the stranger's (other tests' schedules may add more)
    for user in (owner, member):
        rows = _mine(owner_conn, user.id, ids)
        assert sorted((r[0], r[1], r[3]) for r in rows) == sorted(
            [(soon["id"], "maintenance_due", "normal"), (late["id"], "maintenance_overdue", "high")]
        )
        keys = {r[2] for r in rows}
        assert keys == {f"maint:{soon['id']}:{days(3)}:due", f"maint:{late['id']}:{days(-2)}:overdue"}
        assert any("Clean filter" in r[4] and "Dishwasher" in r[4] for r in rows)
    assert _mine(owner_conn, guest.id, ids) == []
    assert [r[0] for r in _mine(owner_conn, stranger.id, ids)] == [theirs["id"]]

    # Running again creates nothing new.
    assert as_worker(lambda s: send_maintenance_reminders(s, NOW)) == 0
    assert len(_mine(owner_conn, owner.id, ids)) == 2

    # Days later the first one is overdue too: one more per member; the old overdue is not repeated.
    as_worker(lambda s: send_maintenance_reminders(s, NOW + timedelta(days=4)))
    rows = _mine(owner_conn, member.id, ids)
    assert len(rows) == 3 and f"maint:{soon['id']}:{days(3)}:overdue" in {r[2] for r in rows}

    # Completing moves the due date: the next occurrence is reminded afresh later, not now.
    client.post(f"/api/v1/maintenance-schedules/{late['id']}/complete", json={}, headers=owner.headers)
    as_worker(lambda s: send_maintenance_reminders(s, NOW))
    assert len(_mine(owner_conn, owner.id, ids)) == 3


class _Sink:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.envelopes.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Sink, int]]:
    sink, port = _Sink(), _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def test_reminders_are_emailed(
    client: TestClient,
    make_user,
    make_home,
    make_device,
    make_schedule,  # type: ignore[no-untyped-def]
    as_worker,
    owner_conn,
    smtp_server,
) -> None:
    sink, port = smtp_server
    user = make_user()
    sched = make_schedule(
        user, make_device(user, make_home(user), "Water softener"), task_name="Add salt", next_due=days(2)
    )
    mailer = Mailer("127.0.0.1", port, sender="homeops@test.invalid")
    assert as_worker(lambda s: send_maintenance_reminders(s, NOW, mailer)) >= 1

    mine = [e for e in sink.envelopes if e.rcpt_tos == [user.email]]
    assert len(mine) == 1
    message = message_from_bytes(mine[0].content)
    subject = str(make_header(decode_header(message["Subject"])))
    assert subject == "Due soon: Add salt — Water softener"
    assert message["To"] == user.email and mine[0].mail_from == "homeops@test.invalid"
    assert "Add salt for Water softener is due on" in message.get_payload(decode=True).decode()
    (row,) = _mine(owner_conn, user.id, [sched["id"]])
    assert row[5]["email"]["sent"] is True and row[5]["email"]["sent_at"]
    listed = client.get("/api/v1/notifications", headers=user.headers).json()["items"]
    assert listed[0]["delivery_method"]["email"]["sent"] is True


def test_email_failure_never_breaks_the_job(
    make_user,
    make_home,
    make_device,
    make_schedule,
    as_worker,  # type: ignore[no-untyped-def]
    owner_conn,
) -> None:
    user = make_user()
    sched = make_schedule(user, make_device(user, make_home(user)), next_due=days(1))
    dead = Mailer("127.0.0.1", _free_port(), timeout=2)  # nothing listens there
    assert as_worker(lambda s: send_maintenance_reminders(s, NOW, dead)) >= 1
    (row,) = _mine(owner_conn, user.id, [sched["id"]])
    assert row[5]["email"]["sent"] is False and "connect" in row[5]["email"]["reason"]
    assert row[5]["in_app"] is True


def test_smtp_settings_and_registration(runtime: Runtime) -> None:
    assert Mailer.from_settings(Settings(smtp_host=None)) is None
    mailer = Mailer.from_settings(Settings(smtp_host="127.0.0.1", smtp_port=2525, smtp_from="x@y.z"))
    assert mailer is not None and (mailer.host, mailer.port, mailer.sender) == ("127.0.0.1", 2525, "x@y.z")
    from homeops.core.jobs import registry

    assert registry.tasks[REMINDERS].every_seconds == 3600
    assert runtime.settings.smtp_host is None
    assert mailer_of(runtime) is None


def test_the_worker_has_only_what_reminders_and_ticket_notifications_need(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_home, make_device, make_schedule, test_db
) -> None:
    """Acting for no one, the worker reads schedules (and service history, for retention), inserts
    notifications, reads back what it inserted and records their delivery — nothing more on these tables."""
    user = make_user()
    sched = make_schedule(user, make_device(user, make_home(user)), next_due=days(1))
    refused = (
        "UPDATE notifications SET title = 'x'",
        "UPDATE notifications SET is_read = true",
        "DELETE FROM notifications",
        "SELECT count(*) FROM calendar_feeds",
        "SELECT homeops_calendar_identity('x')",
        "UPDATE troubleshooting_sessions SET status = 'abandoned'",
        "INSERT INTO service_tickets (home_id, user_id, device_id, summary) VALUES (%s, %s, %s, 'x')",
    )
    # Granted to both API roles for a worker acting as a user: without an identity, no row.
    no_row = (
        "UPDATE maintenance_schedules SET task_name = 'x'",
        "DELETE FROM maintenance_schedules",
        "SELECT count(*) FROM maintenance_occurrences",
        "UPDATE service_events SET cost = 0",
    )
    assert test_db.worker is not None
    with psycopg.connect(libpq_dsn(test_db.worker)) as worker:
        allowed = []
        for statement in refused:
            try:
                with worker.transaction():
                    ids = (sched["home_id"], user.id, sched["device_id"]) if "%s" in statement else None
                    worker.execute(statement, ids)
                allowed.append(statement)
            except psycopg.errors.InsufficientPrivilege:
                pass
        assert allowed == []
        for statement in no_row:
            with worker.transaction():
                cur = worker.execute(statement)
                assert (cur.fetchone()[0] if statement.startswith("SELECT") else cur.rowcount) == 0, statement
        with worker.transaction(force_rollback=True):
            assert (
                worker.execute(
                    "SELECT count(*) FROM maintenance_schedules WHERE id = %s", (sched["id"],)
                ).fetchone()[0]
                == 1
            )
            row = worker.execute(
                "INSERT INTO notifications (user_id, notification_type, title, message) VALUES (%s, 't', 'x', 'm') "
                "RETURNING user_id, id",
                (user.id,),
            ).fetchone()
            assert (
                worker.execute(
                    "UPDATE notifications SET delivery_method = '{}' WHERE user_id = %s AND id = %s", row
                ).rowcount
                == 1
            )

"""Notifications: notify (idempotent, under RLS), list/read/read-all/delete, isolation."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from homeops.core.actor import Actor
from homeops.core.audit import AuditRecorder
from homeops.core.clock import SystemClock
from homeops.core.database import sqlalchemy_url
from homeops.core.events import EventBus
from homeops.core.runtime import Runtime
from homeops.core.tenancy import UserRole
from homeops.core.uow import UnitOfWork
from homeops.notifications.models import NotificationPriority
from homeops.notifications.service import NotificationService
from tests.conftest import PgTestDatabase, as_user, assert_problem, live_session

# notify() needs the clock only (storage and cipher are never touched).
_RUNTIME = Runtime(settings=None, storage=None, cipher=None, clock=SystemClock())  # type: ignore[arg-type]


def _notify_as(
    test_db: PgTestDatabase,
    actor: uuid.UUID,
    recipient: uuid.UUID,
    title: str,
    dedupe_key: str | None = None,
    runtime: Runtime | None = None,
) -> uuid.UUID | None:
    """What another domain does inside a request: the actor's row-security identity (established by the
    database for their live session, as the API's first statement does), notifying someone else."""
    session_id = live_session(actor)

    async def main() -> uuid.UUID | None:
        engine = create_async_engine(sqlalchemy_url(test_db.app), poolclass=NullPool)
        try:
            async with async_sessionmaker(engine)() as session, session.begin():
                await session.execute(
                    text("SELECT role FROM homeops_begin(:s, :u)"), {"s": session_id, "u": actor}
                )
                uow = UnitOfWork(
                    session, Actor(actor, UserRole.homeowner), AuditRecorder(), _RUNTIME, EventBus()
                )
                return await NotificationService(uow).notify(
                    recipient,
                    "ticket_update",
                    title,
                    f"{title} body",
                    related_entity_type="service_ticket",
                    related_entity_id=uuid.uuid4(),
                    action_url="/tickets/1",
                    priority=NotificationPriority.high,
                    dedupe_key=dedupe_key,
                )
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_notify_is_idempotent_and_lists_newest_first(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, test_db
) -> None:
    actor, user = make_user(), make_user()
    first = _notify_as(test_db, actor.id, user.id, "First", dedupe_key="k1")
    assert first is not None
    assert _notify_as(test_db, actor.id, user.id, "First again", dedupe_key="k1") is None
    for title in ("Second", "Third"):
        assert _notify_as(test_db, actor.id, user.id, title) is not None

    page1 = client.get("/api/v1/notifications?limit=2", headers=user.headers).json()
    page2 = client.get(
        f"/api/v1/notifications?limit=2&cursor={page1['next_cursor']}", headers=user.headers
    ).json()
    titles = [n["title"] for n in page1["items"] + page2["items"]]
    assert titles == ["Third", "Second", "First"] and page2["next_cursor"] is None
    n = page2["items"][0]
    assert (n["id"], n["priority"], n["notification_type"], n["is_read"]) == (
        str(first),
        "high",
        "ticket_update",
        False,
    )
    assert n["expires_at"] is not None
    assert client.get("/api/v1/notifications", headers=actor.headers).json()["items"] == []


def test_read_read_all_and_delete(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, test_db, owner_conn
) -> None:
    user, other = make_user(), make_user()
    a, b, c = (_notify_as(test_db, other.id, user.id, t) for t in ("A", "B", "C"))
    theirs = _notify_as(test_db, user.id, other.id, "Other's")

    r = client.post(f"/api/v1/notifications/{a}/read", headers=user.headers)
    assert r.status_code == 200 and r.json()["is_read"] is True and r.json()["read_at"]
    again = client.post(f"/api/v1/notifications/{a}/read", headers=user.headers).json()
    assert again["read_at"] == r.json()["read_at"]  # idempotent: the first read time stays
    unread = client.get("/api/v1/notifications?unread_only=true", headers=user.headers).json()["items"]
    assert {n["title"] for n in unread} == {"B", "C"}

    assert client.delete(f"/api/v1/notifications/{b}", headers=user.headers).status_code == 204
    assert_problem(
        client.delete(f"/api/v1/notifications/{b}", headers=user.headers), 404, "notification_not_found"
    )
    assert (
        owner_conn.execute("SELECT is_deleted FROM notifications WHERE id = %s", (b,)).fetchone()[0] is True
    )
    assert client.post("/api/v1/notifications/read-all", headers=user.headers).json() == {"updated": 1}
    listed = client.get("/api/v1/notifications", headers=user.headers).json()["items"]
    assert {(n["title"], n["is_read"]) for n in listed} == {("A", True), ("C", True)}

    # Expired notifications are left out.
    owner_conn.execute("UPDATE notifications SET expires_at = now() - interval '1 day' WHERE id = %s", (c,))
    assert [
        n["title"] for n in client.get("/api/v1/notifications", headers=user.headers).json()["items"]
    ] == ["A"]

    # Another user's notification: 404, and unchanged.
    assert_problem(client.post(f"/api/v1/notifications/{theirs}/read", headers=user.headers), 404)
    assert_problem(client.delete(f"/api/v1/notifications/{theirs}", headers=user.headers), 404)
    assert_problem(client.post(f"/api/v1/notifications/{uuid.uuid4()}/read", headers=user.headers), 404)
    row = owner_conn.execute(
        "SELECT is_read, is_deleted FROM notifications WHERE id = %s", (theirs,)
    ).fetchone()
    assert row == (False, False)
    assert_problem(client.get("/api/v1/notifications"), 401)


def test_rls_hides_other_users_notifications(  # type: ignore[no-untyped-def]
    make_user, test_db, app_conn
) -> None:
    user, attacker = make_user(), make_user()
    nid = _notify_as(test_db, attacker.id, user.id, "Private")
    with app_conn.transaction():
        as_user(app_conn, attacker.id)
        assert app_conn.execute("SELECT count(*) FROM notifications WHERE id = %s", (nid,)).fetchone()[0] == 0
        assert app_conn.execute("UPDATE notifications SET is_read = true WHERE id = %s", (nid,)).rowcount == 0
    with app_conn.transaction():
        as_user(app_conn, user.id)
        assert (
            app_conn.execute("SELECT title FROM notifications WHERE id = %s", (nid,)).fetchone()[0]
            == "Private"
        )


def test_only_signed_in_transactions_notify_and_only_fresh_notifications(  # type: ignore[no-untyped-def]
    make_user, app_conn
) -> None:
    """The insert policy: any signed-in transaction may notify anyone (a request's domain notifies the
    recipient), never one without an identity, and never with a notification that pretends to be read or
    deleted."""
    user, other = make_user(), make_user()
    insert = (
        "INSERT INTO notifications (user_id, notification_type, title, message, is_read, read_at, is_deleted) "
        "VALUES (%s, 'x', 'Forged', 'm', %s, %s, %s)"
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        app_conn.execute(insert, (user.id, False, None, False))  # no identity
    for is_read, read_at, is_deleted in (
        (True, None, False),
        (False, "2026-01-01", False),
        (False, None, True),
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
            as_user(app_conn, other.id)
            app_conn.execute(insert, (user.id, is_read, read_at, is_deleted))
    with app_conn.transaction():
        as_user(app_conn, other.id)
        assert app_conn.execute(insert, (user.id, False, None, False)).rowcount == 1
        # …without reading it back.
        assert (
            app_conn.execute("SELECT count(*) FROM notifications WHERE user_id = %s", (user.id,)).fetchone()[
                0
            ]
            == 0
        )

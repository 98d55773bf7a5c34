from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import as_user, assert_problem


def test_mutation_writes_an_audit_row(client: TestClient, make_user, owner_conn) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    r = client.post(
        "/api/v1/homes",
        json={"name": "Audited", "timezone": "Asia/Tokyo"},
        headers={**user.headers, "User-Agent": "pytest-agent"},
    )
    home_id = r.json()["id"]
    row = owner_conn.execute(
        "SELECT user_id, action_type, entity_type, new_values->>'name', host(ip_address), user_agent, request_method, "
        "request_url, response_status, execution_time_ms IS NOT NULL, session_id IS NOT NULL "
        "FROM audit_logs WHERE entity_id = %s",
        (home_id,),
    ).fetchall()
    assert row == [
        (
            user.id,
            "home_created",
            "home",
            "Audited",
            "203.0.113.7",
            "pytest-agent",
            "POST",
            "/api/v1/homes",
            201,
            True,
            True,
        )
    ]
    client.patch(f"/api/v1/homes/{home_id}", json={"name": "Renamed"}, headers=user.headers)
    old_new = owner_conn.execute(
        "SELECT old_values->>'name', new_values->>'name' FROM audit_logs WHERE entity_id = %s AND action_type = 'home_updated'",
        (home_id,),
    ).fetchone()
    assert old_new == ("Audited", "Renamed")


def test_failed_mutation_is_audited_without_its_changes(client: TestClient, make_user, owner_conn) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    r = client.post("/api/v1/homes", json={"name": "x", "timezone": "Bad/Zone"}, headers=user.headers)
    assert r.status_code == 422
    rows = owner_conn.execute(
        "SELECT action_type, response_status, error_message FROM audit_logs WHERE request_id = %s",
        (r.json()["request_id"],),
    ).fetchall()
    assert rows == [("create_home", 422, "HTTP 422")]
    assert owner_conn.execute("SELECT count(*) FROM homes WHERE owner_id = %s", (user.id,)).fetchone()[0] == 0


def test_login_and_logout_are_audited(client: TestClient, make_user, owner_conn) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    client.post("/api/v1/auth/logout", headers=user.headers)
    actions = [
        r[0]
        for r in owner_conn.execute(
            "SELECT action_type FROM audit_logs WHERE user_id = %s ORDER BY created_at", (user.id,)
        )
    ]
    assert actions == ["user_created", "user_login", "user_logout"]


def test_audit_rows_are_immutable(make_user, owner_conn, app_conn: psycopg.Connection) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, user.id)
        app_conn.execute("UPDATE audit_logs SET action_type = 'nothing' WHERE user_id = %s", (user.id,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, user.id)
        app_conn.execute("DELETE FROM audit_logs WHERE user_id = %s", (user.id,))
    # Even the owner (who bypasses RLS and has every grant) is stopped by the trigger.
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="immutable"):
        owner_conn.execute("UPDATE audit_logs SET action_type = 'nothing' WHERE user_id = %s", (user.id,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="immutable"):
        owner_conn.execute("DELETE FROM audit_logs WHERE user_id = %s", (user.id,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="immutable"):
        owner_conn.execute("TRUNCATE audit_logs")
    assert (
        owner_conn.execute("SELECT count(*) FROM audit_logs WHERE user_id = %s", (user.id,)).fetchone()[0]
        == 2
    )


def test_only_admins_read_the_audit_log(
    client: TestClient, make_user, make_staff, make_home, app_conn
) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    home = make_home(user)
    assert_problem(client.get("/api/v1/audit-logs", headers=user.headers), 403, "role_required")
    with app_conn.transaction():
        as_user(app_conn, user.id, "admin")  # a forged role setting does not help
        assert app_conn.execute("SELECT count(*) FROM audit_logs").fetchone()[0] == 0

    admin = make_staff("admin")
    r = client.get(f"/api/v1/audit-logs?entity_type=home&entity_id={home['id']}", headers=admin.headers)
    assert r.status_code == 200
    assert [i["action_type"] for i in r.json()["items"]] == ["home_created"]

    by_user = client.get(f"/api/v1/audit-logs?user_id={user.id}&limit=1", headers=admin.headers).json()
    assert len(by_user["items"]) == 1 and by_user["next_cursor"]
    collected = by_user["items"]
    cursor = by_user["next_cursor"]
    while cursor:
        page = client.get(
            f"/api/v1/audit-logs?user_id={user.id}&limit=1&cursor={cursor}", headers=admin.headers
        ).json()
        collected += page["items"]
        cursor = page["next_cursor"]
    assert [i["action_type"] for i in collected] == ["home_created", "user_login", "user_created"]
    future = client.get(
        f"/api/v1/audit-logs?user_id={user.id}&since=2999-01-01T00:00:00Z", headers=admin.headers
    )
    assert future.json()["items"] == []

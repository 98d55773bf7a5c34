from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import TEST_PASSWORD, as_user, assert_problem, login, unique_email


def test_register_returns_user_without_hash(client: TestClient, owner_conn: psycopg.Connection) -> None:
    email = unique_email("reg")
    r = client.post(
        "/api/v1/auth/register", json={"email": email, "password": TEST_PASSWORD, "full_name": "Reg"}
    )
    assert r.status_code == 201
    body = r.json()
    assert body["email"] == email and body["role"] == "homeowner" and body["is_active"] is True
    assert not any("password" in k for k in body)
    stored = owner_conn.execute("SELECT password_hash FROM users WHERE id = %s", (body["id"],)).fetchone()[0]
    assert stored.startswith("$2b$") and TEST_PASSWORD not in stored


def test_register_rejects_weak_password_and_duplicate_email(client: TestClient, owner_conn) -> None:  # type: ignore[no-untyped-def]
    email = unique_email("dup")
    weak = client.post(
        "/api/v1/auth/register", json={"email": email, "password": "short123", "full_name": "W"}
    )
    assert_problem(weak, 422, "validation_error")
    assert owner_conn.execute("SELECT count(*) FROM users WHERE email = %s", (email,)).fetchone()[0] == 0

    ok = client.post(
        "/api/v1/auth/register", json={"email": email, "password": TEST_PASSWORD, "full_name": "A"}
    )
    assert ok.status_code == 201
    again = client.post(
        "/api/v1/auth/register", json={"email": email.upper(), "password": TEST_PASSWORD, "full_name": "B"}
    )
    assert_problem(again, 409, "email_taken")
    bad_email = client.post(
        "/api/v1/auth/register", json={"email": "nope", "password": TEST_PASSWORD, "full_name": "C"}
    )
    assert_problem(bad_email, 422, "validation_error")


def test_register_cannot_choose_a_role(client: TestClient) -> None:
    r = client.post(
        "/api/v1/auth/register",
        json={"email": unique_email(), "password": TEST_PASSWORD, "full_name": "X", "role": "admin"},
    )
    assert_problem(r, 422, "validation_error")


def test_login_json_and_oauth2_form(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    tokens = login(client, user.email.upper())  # emails are case-insensitive
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 15 * 60
    form = client.post("/api/v1/auth/login", data={"username": user.email, "password": TEST_PASSWORD})
    assert form.status_code == 200 and form.json()["access_token"]
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {form.json()['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == str(user.id) and me.json()["last_login_at"]


def test_wrong_password_and_unknown_email_are_indistinguishable(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    a = client.post("/api/v1/auth/login", json={"email": user.email, "password": "wrong-password-1"})
    b = client.post("/api/v1/auth/login", json={"email": unique_email(), "password": "wrong-password-1"})
    pa, pb = assert_problem(a, 401, "invalid_credentials"), assert_problem(b, 401, "invalid_credentials")
    assert pa["detail"] == pb["detail"]


def test_refresh_rotates_and_old_token_is_rejected(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    r1 = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r1.status_code == 200
    new = r1.json()
    assert new["refresh_token"] != user.refresh_token
    assert (
        client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {new['access_token']}"}).status_code
        == 200
    )
    # The token replaced a moment ago is refused without ending the session (tests/identity/test_refresh_reuse.py
    # covers reuse after the grace window, which ends it).
    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_problem(reused, 401, "refresh_token_superseded")
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": new["refresh_token"]}).status_code == 200
    )


def test_logout_revokes_session(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    assert client.post("/api/v1/auth/logout", headers=user.headers).status_code == 204
    assert_problem(client.get("/api/v1/users/me", headers=user.headers), 401)
    assert_problem(
        client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}), 401, "invalid_token"
    )


def test_tampered_or_missing_token(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    r = client.get("/api/v1/users/me")
    assert_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    tampered = user.access_token[:-4] + ("AAAA" if not user.access_token.endswith("AAAA") else "BBBB")
    assert_problem(
        client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {tampered}"}), 401, "invalid_token"
    )


def test_throttling_after_five_failures(client: TestClient, make_user, owner_conn) -> None:  # type: ignore[no-untyped-def]
    """From the address that failed five times, even the right password waits (the backoff, see
    tests/identity/test_throttling.py for the other addresses and the growth of the wait)."""
    user = make_user()
    for _ in range(5):
        r = client.post("/api/v1/auth/login", json={"email": user.email, "password": "not-the-password"})
        assert_problem(r, 401, "invalid_credentials")
    blocked = client.post("/api/v1/auth/login", json={"email": user.email, "password": TEST_PASSWORD})
    body = assert_problem(blocked, 429, "login_throttled")
    assert 0 < int(blocked.headers["retry-after"]) <= 30 and body["retry_after"] > 0
    failed = owner_conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE user_id = %s), min(response_status), max(response_status) "
        "FROM audit_logs WHERE action_type = 'user_login_failed' AND new_values->>'email' = %s",
        (user.id, user.email.lower()),
    ).fetchone()
    assert failed == (6, 5, 401, 429)
    # Another account is not affected.
    other = make_user()
    assert (
        client.post("/api/v1/auth/login", json={"email": other.email, "password": TEST_PASSWORD}).status_code
        == 200
    )


def test_password_change_invalidates_other_sessions(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    second = login(client, user.email)
    second_headers = {"Authorization": f"Bearer {second['access_token']}"}
    wrong = client.post(
        "/api/v1/users/me/password",
        json={"current_password": "not-it-at-all", "new_password": "another-strong-pass"},
        headers=user.headers,
    )
    assert_problem(wrong, 403, "wrong_password")
    ok = client.post(
        "/api/v1/users/me/password",
        json={"current_password": TEST_PASSWORD, "new_password": "another-strong-pass"},
        headers=user.headers,
    )
    assert ok.status_code == 204
    assert client.get("/api/v1/users/me", headers=user.headers).status_code == 200  # this session lives on
    assert_problem(client.get("/api/v1/users/me", headers=second_headers), 401)
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}), 401)
    assert_problem(
        client.post("/api/v1/auth/login", json={"email": user.email, "password": TEST_PASSWORD}), 401
    )
    assert login(client, user.email, "another-strong-pass")["access_token"]


def test_patch_me(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    r = client.patch(
        "/api/v1/users/me",
        json={"full_name": "New Name", "phone": "+1 555 0100", "preferences": {"units": "metric"}},
        headers=user.headers,
    )
    assert r.status_code == 200
    assert r.json()["full_name"] == "New Name" and r.json()["preferences"] == {"units": "metric"}
    assert_problem(client.patch("/api/v1/users/me", json={"role": "admin"}, headers=user.headers), 422)
    assert_problem(
        client.patch("/api/v1/users/me", json={"email": "x@example.com"}, headers=user.headers), 422
    )
    assert_problem(client.patch("/api/v1/users/me", json={"phone": "call me"}, headers=user.headers), 422)
    assert client.get("/api/v1/users/me", headers=user.headers).json()["role"] == "homeowner"


def test_database_refuses_role_escalation_by_the_api_role(make_user, app_conn: psycopg.Connection) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, user.id)
        app_conn.execute("UPDATE users SET role = 'admin' WHERE id = %s", (user.id,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        # Registration's identity: a fresh id the transaction may create, as a plain homeowner only.
        new_id = app_conn.execute("SELECT homeops_claim_new_user()").fetchone()[0]
        app_conn.execute(
            "INSERT INTO users (id, email, full_name, role) VALUES (%s, %s, 'Evil', 'admin')",
            (new_id, unique_email("evil")),
        )


def test_sessions_store_only_token_hashes(make_user, owner_conn) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    rows = owner_conn.execute(
        "SELECT refresh_token_hash, host(ip_address) FROM user_sessions WHERE user_id = %s", (user.id,)
    ).fetchall()
    assert len(rows) == 1
    assert rows[0][0] != user.refresh_token and len(rows[0][0]) == 64
    assert rows[0][1] == "203.0.113.7"


def test_user_rows_visible_to_self_housemates_and_staff_only(
    make_user, make_staff, app_conn: psycopg.Connection
) -> None:  # type: ignore[no-untyped-def]
    alice, bob, support = make_user(), make_user(), make_staff("support")
    visible = "SELECT count(*) FROM users WHERE id = %s"
    with app_conn.transaction():
        as_user(app_conn, bob.id, "homeowner")
        assert app_conn.execute(visible, (alice.id,)).fetchone()[0] == 0
        as_user(app_conn, support.id, "support")
        assert app_conn.execute(visible, (alice.id,)).fetchone()[0] == 1
        as_user(app_conn, bob.id, "support")  # claiming the role in the setting is not enough
        assert app_conn.execute(visible, (alice.id,)).fetchone()[0] == 0

"""E-mail verification and password reset: signed, expiring, single-use tokens sent through SMTP (a local
aiosmtpd server), consumed only by the database's own functions; the reset request never reveals whether an
email is registered."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from homeops.core.clock import FrozenClock
from homeops.core.config import Settings
from homeops.core.security import hash_token
from homeops.identity import tokens
from tests.conftest import (
    TEST_PASSWORD,
    as_user,
    assert_problem,
    captured_sql,
    live_session,
    login,
    unique_email,
)
from tests.identity.conftest import Mailbox, from_address

VERIFY = "/api/v1/auth/verify-email"
RESEND = "/api/v1/auth/verify-email/resend"
RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
NEW_PASSWORD = "a-brand-new-passphrase"


def _register(client: TestClient, email: str):  # type: ignore[no-untyped-def]
    r = client.post(
        "/api/v1/auth/register", json={"email": email, "password": TEST_PASSWORD, "full_name": "Vera Fy"}
    )
    assert r.status_code == 201, r.text
    return r.json()


def _me(client: TestClient, access: str) -> dict:
    r = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {access}"})
    assert r.status_code == 200, r.text
    return r.json()


def test_registration_emails_a_token_that_verifies_the_address_once(  # type: ignore[no-untyped-def]
    client: TestClient, mailbox: Mailbox, owner_conn
) -> None:
    email = unique_email("verify")
    user = _register(client, email)
    assert user["is_verified"] is False
    pair = login(client, email)  # an unverified account signs in at once
    assert _me(client, pair["access_token"])["is_verified"] is False

    message = mailbox.last(email)
    assert message.subject == "Confirm your e-mail address for HomeOps"
    assert message.sender == "homeops@test.invalid" and "Vera Fy" in message.body
    assert "POST http://testserver/api/v1/auth/verify-email" in message.body
    token = message.token
    stored = owner_conn.execute(
        "SELECT token_hash, purpose, email, used_at FROM account_tokens WHERE user_id = %s", (user["id"],)
    ).fetchall()
    assert stored == [(hash_token(token), "verify_email", email, None)]  # only the hash is kept

    assert client.post(VERIFY, json={"token": token}).status_code == 204
    assert _me(client, pair["access_token"])["is_verified"] is True
    assert_problem(client.post(VERIFY, json={"token": token}), 400, "invalid_account_token")  # single use
    audited = owner_conn.execute(
        "SELECT count(*) FROM audit_logs WHERE action_type = 'email_verified' AND entity_id = %s",
        (user["id"],),
    ).fetchone()[0]
    assert audited == 1


def test_forged_expired_or_foreign_tokens_verify_nothing(  # type: ignore[no-untyped-def]
    client: TestClient, mailbox: Mailbox, frozen_clock: FrozenClock, settings: Settings, owner_conn
) -> None:
    email = unique_email("expire")
    user = _register(client, email)
    token = mailbox.last(email).token
    expires, nonce, signature = token.split(".")
    forged = [
        f"{int(expires) + 3600}.{nonce}.{signature}",  # a later expiry: the signature no longer matches
        f"{expires}.{nonce}.{'A' * 43}",
        tokens.issue(settings, "password_reset", frozen_clock.now() + timedelta(hours=1)),  # wrong purpose
        "not-a-token",
    ]
    for bad in forged:
        assert_problem(client.post(VERIFY, json={"token": bad}), 400, "invalid_account_token")
    frozen_clock.advance(timedelta(hours=settings.email_verification_hours, seconds=1))
    assert_problem(client.post(VERIFY, json={"token": token}), 400, "invalid_account_token")
    verified = owner_conn.execute("SELECT is_verified FROM users WHERE id = %s", (user["id"],)).fetchone()[0]
    assert verified is False


def test_resend_is_throttled_and_ends_once_verified(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, mailbox: Mailbox, settings: Settings
) -> None:
    user = make_user()
    for _ in range(settings.account_email_max):
        r = client.post(RESEND, headers=user.headers)
        assert r.status_code == 202, r.text
    throttled = client.post(RESEND, headers=user.headers)
    assert_problem(throttled, 429, "resend_throttled")
    assert int(throttled.headers["retry-after"]) > 0
    messages = mailbox.to(user.email)
    assert len(messages) == 1 + settings.account_email_max  # registration + the resends
    assert client.post(VERIFY, json={"token": messages[0].token}).status_code == 204  # any unused one works
    assert_problem(client.post(RESEND, headers=user.headers), 409, "already_verified")
    assert_problem(client.post(RESEND), 401)


def test_the_api_role_cannot_mark_itself_verified(make_user, app_conn: psycopg.Connection) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, user.id)
        app_conn.execute("UPDATE users SET is_verified = true WHERE id = %s", (user.id,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, user.id)
        app_conn.execute("SELECT token_hash FROM account_tokens")
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        # A token of its own making for a password reset: refused (only the database issues those).
        as_user(app_conn, user.id)
        app_conn.execute(
            "INSERT INTO account_tokens (token_hash, user_id, purpose, email, expires_at) "
            "VALUES (%s, %s, 'password_reset', %s, now() + interval '1 hour')",
            ("f" * 64, user.id, user.email),
        )
    with app_conn.transaction():
        # A verification token it inserts for itself does not verify another address than the account's.
        as_user(app_conn, user.id)
        app_conn.execute(
            "INSERT INTO account_tokens (token_hash, user_id, purpose, email, expires_at) "
            "VALUES (%s, %s, 'verify_email', 'someone-else@example.com', now() + interval '1 hour')",
            ("e" * 64, user.id),
        )
        assert app_conn.execute("SELECT homeops_verify_email(%s)", ("e" * 64,)).fetchone()[0] is None
        assert app_conn.execute("SELECT homeops_verify_email(%s)", ("0" * 64,)).fetchone()[0] is None


def test_password_reset_answers_the_same_whether_or_not_the_email_exists(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, mailbox: Mailbox
) -> None:
    user = make_user()
    nobody = unique_email("nobody")
    with captured_sql(client) as known_sql:
        known = client.post(RESET, json={"email": user.email.upper()})
    with captured_sql(client) as unknown_sql:
        unknown = client.post(RESET, json={"email": nobody})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert known.headers["content-length"] == unknown.headers["content-length"]
    # The same statements in the same order (one lookup either way; the audit row aside).
    strip = [s for s in known_sql if "audit_logs" not in s]
    assert strip == [s for s in unknown_sql if "audit_logs" not in s]
    assert len(mailbox.to(user.email)) == 2  # verification at registration, then the reset link
    assert mailbox.last(user.email).subject == "Reset your HomeOps password"
    assert mailbox.to(nobody) == []


def test_password_reset_sets_the_password_and_ends_every_session(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, mailbox: Mailbox, owner_conn
) -> None:
    user = make_user()
    second = login(client, user.email)
    assert client.post(RESET, json={"email": user.email}).status_code == 202
    token = mailbox.last(user.email).token
    assert_problem(client.post(VERIFY, json={"token": token}), 400, "invalid_account_token")  # not for that
    weak = client.post(CONFIRM, json={"token": token, "new_password": "short"})
    assert_problem(weak, 422, "validation_error")

    assert client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD}).status_code == 204
    for access in (user.access_token, second["access_token"]):
        assert (
            client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {access}"}).status_code == 401
        )
    for refresh in (user.refresh_token, second["refresh_token"]):
        assert client.post("/api/v1/auth/refresh", json={"refresh_token": refresh}).status_code == 401
    assert_problem(
        client.post("/api/v1/auth/login", json={"email": user.email, "password": TEST_PASSWORD}), 401
    )
    fresh = login(client, user.email, NEW_PASSWORD)
    assert _me(client, fresh["access_token"])["is_verified"] is True  # the mailbox is proven
    again = client.post(CONFIRM, json={"token": token, "new_password": "yet-another-passphrase"})
    assert_problem(again, 400, "invalid_account_token")
    audit = owner_conn.execute(
        "SELECT count(*) FROM audit_logs WHERE action_type = 'password_reset' AND entity_id = %s", (user.id,)
    ).fetchone()[0]
    assert audit == 1
    reasons = {
        r[0]
        for r in owner_conn.execute(
            "SELECT revoked_reason FROM user_sessions WHERE user_id = %s AND revoked_at IS NOT NULL",
            (user.id,),
        )
    }
    assert reasons == {"password_reset"}


def test_a_reset_token_expires(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, mailbox: Mailbox, frozen_clock: FrozenClock, settings: Settings
) -> None:
    user = make_user()
    assert client.post(RESET, json={"email": user.email}).status_code == 202
    token = mailbox.last(user.email).token
    frozen_clock.advance(timedelta(minutes=settings.password_reset_minutes, seconds=1))
    assert_problem(client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD}), 400)
    assert login(client, user.email)["access_token"]


def test_password_reset_requests_are_throttled_alike_for_every_email(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, mailbox: Mailbox, settings: Settings
) -> None:
    user = make_user()
    nobody = unique_email("nobody")
    with from_address(client, "198.51.100.80"):
        for email in (user.email, nobody):
            for _ in range(settings.account_email_max):
                assert client.post(RESET, json={"email": email}).status_code == 202
            blocked = client.post(RESET, json={"email": email})
            assert_problem(blocked, 429, "password_reset_throttled")
            assert int(blocked.headers["retry-after"]) > 0
    assert (
        len([m for m in mailbox.to(user.email) if m.subject.startswith("Reset")])
        == settings.account_email_max
    )
    with from_address(client, "198.51.100.81"):  # per address too: many emails from one place
        answers = [client.post(RESET, json={"email": unique_email()}).status_code for _ in range(12)]
    assert answers == [202] * settings.password_reset_max_per_address + [429] * (
        12 - settings.password_reset_max_per_address
    )


def test_emailed_links_never_follow_the_clients_host_header(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, mailbox: Mailbox
) -> None:
    """Reset poisoning: a client naming its own server in Host must not receive someone else's token through the
    link. Without HOMEOPS_PUBLIC_BASE_URL the e-mail names the server's own address."""
    user = make_user()
    r = client.post(RESET, json={"email": user.email}, headers={"Host": "attacker.example:4444"})
    assert r.status_code == 202
    body = mailbox.last(user.email).body
    assert "attacker.example" not in body
    assert "POST http://testserver/api/v1/auth/password-reset/confirm" in body


def test_without_smtp_registration_still_works(client: TestClient, runtime, caplog) -> None:  # type: ignore[no-untyped-def]
    from homeops.notifications.tasks import mailer_of

    assert mailer_of(runtime) is None
    email = unique_email("nosmtp")
    _register(client, email)
    assert login(client, email)["access_token"]
    assert "e-mail is not configured" in caplog.text
    assert not any(tokens._TOKEN_RE.search(r.getMessage()) for r in caplog.records)  # no token in the logs


def _require_verified(client: TestClient, user_id, session_id) -> str | None:  # type: ignore[no-untyped-def]
    """Runs ``require_verified_email`` in a unit of work of the user's session, on the app's own loop and pool."""
    from homeops.core.actor import Actor
    from homeops.core.audit import AuditRecorder
    from homeops.core.database import driver_connection
    from homeops.core.uow import UnitOfWork
    from homeops.identity.access import EmailNotVerified, require_verified_email
    from homeops.identity.repository import establish_identity

    state = client.app.state

    async def run() -> str | None:
        async with state.session_factory() as session:
            driver = await driver_connection(session)
            actor = await establish_identity(driver, session_id, user_id) if user_id else Actor.system("test")
            assert actor is not None
            uow = UnitOfWork(session, actor, AuditRecorder(), state.runtime, state.bus)
            try:
                await require_verified_email(uow)
                return None
            except EmailNotVerified as exc:
                return exc.code
            finally:
                await driver.rollback()

    return client.portal.call(run)  # type: ignore[union-attr]


def test_require_verified_email_is_the_check_for_what_reaches_others(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, mailbox: Mailbox, make_staff
) -> None:
    user = make_user()
    assert _require_verified(client, user.id, live_session(user.id)) == "email_not_verified"
    assert client.post(VERIFY, json={"token": mailbox.last(user.email).token}).status_code == 204
    assert _require_verified(client, user.id, live_session(user.id)) is None
    staff = make_staff("support")  # accounts an operator creates are verified
    assert _require_verified(client, staff.id, live_session(staff.id)) is None
    assert _require_verified(client, None, None) is None  # the system (jobs, commands)

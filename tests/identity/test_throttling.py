"""Sign-in and registration throttling, from both sides: an attacker cannot lock the owner out, and brute force
(from one address, from many, or in a concurrent burst) is slowed down with 429 + Retry-After."""

from __future__ import annotations

import uuid
from datetime import timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from homeops.core.clock import FrozenClock
from homeops.core.config import Settings
from homeops.identity.service import throttle_address
from tests.conftest import TEST_PASSWORD, assert_problem, unique_email
from tests.identity.conftest import at_once, from_address

LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"
ATTACKER = "198.51.100.66"


def _login(client: TestClient, email: str, password: str = "not-the-password"):  # type: ignore[no-untyped-def]
    return client.post(LOGIN, json={"email": email, "password": password})


def _retry_after(response) -> int:  # type: ignore[no-untyped-def]
    body = assert_problem(response, 429, "login_throttled")
    assert body["retry_after"] == int(response.headers["retry-after"])
    return int(response.headers["retry-after"])


def test_an_attacker_at_one_address_cannot_lock_out_the_owner_at_another(  # type: ignore[no-untyped-def]
    client: TestClient, make_user
) -> None:
    owner = make_user()
    with from_address(client, ATTACKER):
        for _ in range(5):
            assert_problem(_login(client, owner.email), 401, "invalid_credentials")
        for _ in range(10):  # hammering on only keeps the attacker waiting
            _retry_after(_login(client, owner.email))
        _retry_after(_login(client, owner.email, TEST_PASSWORD))  # even the right password, from there
    # The owner, from an address that never signed in before, and from their usual one.
    with from_address(client, "192.0.2.10"):
        assert _login(client, owner.email, TEST_PASSWORD).status_code == 200
    assert _login(client, owner.email, TEST_PASSWORD).status_code == 200


def test_brute_force_from_one_address_waits_longer_and_longer(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, frozen_clock: FrozenClock
) -> None:
    owner = make_user()
    waits = []
    with from_address(client, ATTACKER):
        for _ in range(5):  # five free failures
            assert_problem(_login(client, owner.email), 401, "invalid_credentials")
        for _ in range(6):
            wait = _retry_after(_login(client, owner.email))
            waits.append(wait)
            frozen_clock.advance(timedelta(seconds=wait - 1))
            _retry_after(_login(client, owner.email))  # one second early: still waiting
            frozen_clock.advance(timedelta(seconds=1))
            assert_problem(_login(client, owner.email), 401, "invalid_credentials")
        assert waits == [30, 60, 120, 240, 480, 900]
        assert _retry_after(_login(client, owner.email)) == 900  # the cap
        frozen_clock.advance(timedelta(seconds=900))
        # The right password, once allowed, resets this address's count.
        assert _login(client, owner.email, TEST_PASSWORD).status_code == 200
        for _ in range(5):
            assert_problem(_login(client, owner.email), 401, "invalid_credentials")
        assert _retry_after(_login(client, owner.email)) == 30


def test_brute_force_from_many_addresses_is_slowed_but_the_owner_at_a_known_address_gets_in(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, settings: Settings
) -> None:
    owner = make_user()
    with from_address(client, "192.0.2.50"):  # the owner's laptop, signed in before
        assert _login(client, owner.email, TEST_PASSWORD).status_code == 200
    # A botnet: one guess from each of many addresses (no single address is ever throttled).
    for n in range(settings.login_email_max_failures):
        with from_address(client, f"10.9.{n // 200}.{n % 200 + 1}"):
            assert_problem(_login(client, owner.email), 401, "invalid_credentials")
    # Now every address that never signed in to this account waits — whatever the password…
    for ip in ("10.9.99.1", "10.9.99.2", "2001:db8:77::1"):
        with from_address(client, ip):
            wait = _retry_after(_login(client, owner.email))
            assert 0 < wait <= 15 * 60
            _retry_after(_login(client, owner.email, TEST_PASSWORD))
    # …but the owner at a known address still gets in, and another account is not affected.
    with from_address(client, "192.0.2.50"):
        assert _login(client, owner.email, TEST_PASSWORD).status_code == 200
    other = make_user()
    with from_address(client, "10.9.99.1"):
        assert _login(client, other.email, TEST_PASSWORD).status_code == 200


def test_a_concurrent_burst_from_one_address_is_counted_before_it_is_checked(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, owner_conn: psycopg.Connection
) -> None:
    """Every attempt is recorded before the password is checked, in a short transaction that serialises the
    attempts at one email: a burst cannot all pass the check before any of them is counted."""
    owner = make_user()
    with from_address(client, ATTACKER):
        results = at_once(12, lambda _: _login(client, owner.email))
    codes = sorted(r.status_code for r in results)
    assert codes == [401] * 5 + [429] * 7, [r.text for r in results]
    recorded = owner_conn.execute(
        "SELECT count(*) FROM login_attempts WHERE email = %s AND ip_address = %s::inet",
        (owner.email.lower(), ATTACKER),
    ).fetchone()[0]
    assert recorded == 5


def test_ipv6_clients_are_counted_by_their_64_prefix() -> None:
    assert (
        throttle_address("2001:db8:1:2:aaaa::1")
        == throttle_address("2001:db8:1:2:ffff::9")
        == "2001:db8:1:2::/64"
    )
    assert throttle_address("2001:db8:1:3::1") != throttle_address("2001:db8:1:2::1")
    assert throttle_address("::ffff:198.51.100.7") == "198.51.100.7"
    assert throttle_address(None) == throttle_address("garbage") == "0.0.0.0"


def test_registration_is_throttled_per_address(  # type: ignore[no-untyped-def]
    client: TestClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    frozen_clock: FrozenClock,
    owner_conn,
) -> None:
    monkeypatch.setattr(settings, "register_max_per_address", 3)
    taken = unique_email("taken")

    def register(email: str):  # type: ignore[no-untyped-def]
        return client.post(REGISTER, json={"email": email, "password": TEST_PASSWORD, "full_name": "R"})

    with from_address(client, "198.51.100.20"):
        assert register(taken).status_code == 201
        assert_problem(register(taken), 409, "email_taken")  # probing an email counts too
        assert register(unique_email()).status_code == 201
        blocked = register(unique_email())
        body = assert_problem(blocked, 429, "registration_throttled")
        assert 0 < int(blocked.headers["retry-after"]) <= 60 * 60 and body["retry_after"] > 0
        assert_problem(register(taken), 429, "registration_throttled")  # no email_taken answer any more
    with from_address(client, "198.51.100.21"):  # another address is not affected
        assert register(unique_email()).status_code == 201
    frozen_clock.advance(timedelta(minutes=61))
    with from_address(client, "198.51.100.20"):
        assert register(unique_email()).status_code == 201
    throttled = owner_conn.execute(
        "SELECT count(*) FROM audit_logs WHERE action_type = 'user_register_throttled' "
        "AND new_values->>'address' = '198.51.100.20'"
    ).fetchone()[0]
    assert throttled == 2


def test_a_concurrent_registration_burst_is_held_to_the_limit(  # type: ignore[no-untyped-def]
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "register_max_per_address", 3)
    with from_address(client, "198.51.100.30"):
        results = at_once(
            10,
            lambda i: client.post(
                REGISTER,
                json={
                    "email": f"burst-{i}-{uuid.uuid4().hex[:8]}@example.com",
                    "password": TEST_PASSWORD,
                    "full_name": "B",
                },
            ),
        )
    assert sorted(r.status_code for r in results) == [201] * 3 + [429] * 7


def test_a_login_inside_an_open_transaction_is_still_counted(
    client: TestClient, make_user, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    """A caller that opened the transaction before signing in (a page that registers and signs in in one
    request) still has its failure counted: written apart once the transaction rolled back."""
    from homeops.core.actor import Actor
    from homeops.core.audit import AuditRecorder
    from homeops.core.database import driver_connection
    from homeops.core.uow import UnitOfWork
    from homeops.identity.service import IdentityService, InvalidCredentials

    owner = make_user()
    state = client.app.state

    async def run() -> None:
        async with state.session_factory() as session:
            driver = await driver_connection(session)
            await driver.execute(b"BEGIN")
            uow = UnitOfWork(session, Actor.anonymous(), AuditRecorder(ip=ATTACKER), state.runtime, state.bus)
            with pytest.raises(InvalidCredentials):
                await IdentityService(uow).login(owner.email, "not-the-password")
            await driver.rollback()
        for op in uow.durable:  # what the request middleware does after the rollback
            async with state.session_factory() as apart:
                await (await driver_connection(apart)).execute(b"BEGIN")
                await op(apart)
                await (await driver_connection(apart)).commit()

    client.portal.call(run)  # type: ignore[union-attr]
    counted = owner_conn.execute(
        "SELECT count(*) FROM login_attempts WHERE email = %s AND ip_address = %s::inet AND NOT succeeded",
        (owner.email.lower(), ATTACKER),
    ).fetchone()[0]
    assert counted == 1

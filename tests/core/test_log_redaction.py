"""Logs never hold passwords, password hashes, tokens, refresh tokens, serial numbers or secrets (issue 9 §2):
failures are triggered — a register that fails in the database, bad logins, a database error carrying a token,
an unhandled error carrying credentials, serial numbers in URLs — and everything logged is scanned."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from homeops.core.logging import JsonFormatter, redact
from homeops.core.security import hash_password
from homeops.identity.repository import UserRepository
from tests.conftest import TEST_PASSWORD, ApiUser, unique_email


def _all_output(caplog: pytest.LogCaptureFixture) -> str:
    """What every handler would write: pytest's formatting and our JSON lines (message, extras, traceback)."""
    json_lines = JsonFormatter()
    plain = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return "\n".join(f"{plain.format(r)}\n{json_lines.format(r)}" for r in caplog.records)


def test_failures_leave_no_secret_in_the_logs(
    client: TestClient,
    make_user: Callable[..., ApiUser],
    make_home: Callable[..., dict[str, Any]],
    owner_conn: Any,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    user = make_user()
    stored_hash = owner_conn.execute("SELECT password_hash FROM users WHERE id = %s", (user.id,)).fetchone()[
        0
    ]
    secrets = [
        TEST_PASSWORD,
        stored_hash,
        user.access_token,
        user.refresh_token,
        settings.jwt_secret.get_secret_value(),
    ]

    # 1. Registration failing in the database, the hash in the statement that fails (the original 500).
    new_password = "another-correct-horse"
    new_hash = hash_password(new_password, 4)
    secrets += [new_password, new_hash]

    async def failing_add(self: UserRepository, obj: Any) -> Any:
        await self.session.execute(
            text(
                "INSERT INTO users (id, email, full_name, password_hash) VALUES (:i, :e, 'x', CAST(:h AS regclass))"
            ),
            {"i": obj.id, "e": obj.email, "h": new_hash},
        )

    monkeypatch.setattr(
        client._transport, "raise_server_exceptions", False
    )  # a 500 is answered, as in production
    with monkeypatch.context() as m:
        m.setattr(UserRepository, "add", failing_add)
        r = client.post(
            "/api/v1/auth/register",
            json={"email": unique_email("fail"), "password": new_password, "full_name": "Fail"},
        )
    assert r.status_code == 500, r.text

    # 2. Bad logins: a wrong password, an unknown account, a garbage refresh token.
    assert (
        client.post(
            "/api/v1/auth/login", json={"email": user.email, "password": "wrong-" + TEST_PASSWORD}
        ).status_code
        == 401
    )
    assert (
        client.post(
            "/api/v1/auth/login", json={"email": unique_email("nobody"), "password": TEST_PASSWORD}
        ).status_code
        == 401
    )
    garbage = "Zz9" + uuid.uuid4().hex + "Qq7Ww"
    secrets.append(garbage)
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": garbage}).status_code == 401

    # 3. A database error whose message repeats a token (the refresh token as a relation name).
    from homeops.identity.service import IdentityService

    async def failing_refresh(self: IdentityService, refresh_token: str) -> Any:
        await self.session.execute(text("SELECT CAST(:t AS regclass)"), {"t": refresh_token})

    with monkeypatch.context() as m:
        m.setattr(IdentityService, "refresh", failing_refresh)
        assert (
            client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}).status_code == 500
        )

    # 4. An unhandled error whose message carries credentials and a serial number.
    serial = f"SN-{uuid.uuid4().hex[:10].upper()}"
    secrets.append(serial)
    home = make_home(user)
    device = client.post(
        f"/api/v1/homes/{home['id']}/devices",
        json={"nickname": "Boiler", "serial_number": serial},
        headers=user.headers,
    ).json()
    from homeops.devices.service import DeviceService

    async def failing_update(self: DeviceService, device_id: Any, patch: Any) -> Any:
        raise RuntimeError(
            f"cannot store serial_number={serial!r} for Authorization: Bearer {user.access_token} "
            f"password={TEST_PASSWORD} refresh_token={user.refresh_token}"
        )

    with monkeypatch.context() as m:
        m.setattr(DeviceService, "update", failing_update)
        r = client.patch(f"/api/v1/devices/{device['id']}", json={"notes": "x"}, headers=user.headers)
    assert r.status_code == 500

    # 5. Secrets in URLs: a serial number searched for, a calendar feed token.
    assert client.get(f"/api/v1/devices?serial={serial}", headers=user.headers).status_code == 200
    feed = client.post("/api/v1/calendar/token", headers=user.headers).json()["url"]
    feed_token = feed.rsplit("/", 1)[1].removesuffix(".ics")
    secrets.append(feed_token)
    client.get(feed.split("testserver", 1)[-1])

    output = _all_output(caplog)
    assert "unhandled error" in output and "database error" in output  # the failures were logged …
    for secret in secrets:  # … without their secrets (nor in another case: PostgreSQL folds identifiers)
        assert secret.lower() not in output.lower(), f"{secret[:12]}… is in the logs"


def test_redact_knows_the_shapes() -> None:
    bcrypt_hash = "$2b$12$" + "a" * 53
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl"
    assert bcrypt_hash not in redact(f"hash {bcrypt_hash}")
    assert jwt not in redact(f"token {jwt}")
    assert "hunter2" not in redact('{"password": "hunter2"}')
    assert "SN123" not in redact("GET /api/v1/devices?serial=SN123&status=active 200")
    assert "a@b.example" not in redact("DETAIL:  Key (email)=(a@b.example) already exists.")
    assert "[parameters: [redacted]]" in redact("[SQL: SELECT 1]\n[parameters: {'password_hash': 'x'}]")
    # What a log needs stays: request ids, UUIDs, paths, numbers.
    request_id, some_id = uuid.uuid4().hex, str(uuid.uuid4())
    line = f"PATCH /api/v1/devices/{some_id} 422 {request_id} 12.5 ms"
    assert redact(line) == line

"""Helpers of the telemetry tests: a home with devices and tokens, ingest calls, running the jobs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.conftest import ApiUser


@dataclass
class Household:
    user: ApiUser
    home: dict[str, Any]
    devices: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # device id (or "home") -> secret

    @property
    def home_id(self) -> str:
        return str(self.home["id"])


@pytest.fixture
def household(client: TestClient, make_user, make_home) -> Callable[..., Household]:  # type: ignore[no-untyped-def]
    def _make(devices: int = 1, tag: str = "tel", timezone: str = "UTC") -> Household:
        user = make_user(tag)
        home = make_home(user, timezone=timezone)
        h = Household(user, home)
        for i in range(devices):
            r = client.post(
                f"/api/v1/homes/{home['id']}/devices", json={"nickname": f"Sensor {i}"}, headers=user.headers
            )
            assert r.status_code == 201, r.text
            h.devices.append(r.json())
        return h

    return _make


def invite_guest(client: TestClient, h: Household, make_user: Callable[..., ApiUser]) -> ApiUser:
    """A new user made a guest of the household (reads, writes nothing)."""
    guest = make_user("guest")
    r = client.post(
        f"/api/v1/homes/{h.home_id}/members",
        json={"email": guest.email, "role": "guest"},
        headers=h.user.headers,
    )
    assert r.status_code == 201, r.text
    return guest


def device_token(client: TestClient, h: Household, device: dict[str, Any]) -> str:
    r = client.post(
        f"/api/v1/devices/{device['id']}/ingest-tokens", json={"name": "t"}, headers=h.user.headers
    )
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def home_token(client: TestClient, h: Household) -> str:
    r = client.post(f"/api/v1/homes/{h.home_id}/ingest-tokens", json={"name": "hub"}, headers=h.user.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def send(client: TestClient, token: str, kind: str, items: Any, *, ndjson: bool = False) -> Any:
    if ndjson:
        body = b"\n".join(orjson.dumps(i) for i in items)
        headers = {"Content-Type": "application/x-ndjson"}
    else:
        body = orjson.dumps(items)
        headers = {"Content-Type": "application/json"}
    return client.post(
        f"/api/v1/ingest/{kind}", content=body, headers={**headers, "Authorization": f"Bearer {token}"}
    )


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def run_jobs(make_worker, *tasks: str) -> None:  # type: ignore[no-untyped-def]
    """Enqueues and runs the given jobs (in order) on the test database's worker role."""
    from sqlalchemy import text

    from homeops.core.jobs import enqueue

    async def main() -> list[str]:
        worker = make_worker()
        try:
            async with worker.sessions() as session, session.begin():
                first = (await session.execute(text("SELECT coalesce(max(id), 0) FROM jobs"))).scalar_one()
            for task in tasks:
                async with worker.sessions() as session, session.begin():
                    await enqueue(session, task, {})
                await worker.drain()
            async with worker.sessions() as session, session.begin():
                rows = await session.execute(
                    text("SELECT task, last_error FROM jobs WHERE id > :id AND status <> 'done'"),
                    {"id": first},
                )
                return [f"{t}: {e}" for t, e in rows.all()]
        finally:
            await worker.aclose()

    failed = asyncio.run(main())
    assert not failed, failed


def rollup(make_worker) -> None:  # type: ignore[no-untyped-def]
    run_jobs(make_worker, "telemetry.rollup")


def ago(**kw: float) -> datetime:
    return datetime.now(UTC) - timedelta(**kw)


def new_id() -> str:
    return str(uuid.uuid4())

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from homeops.core.clock import FrozenClock
from homeops.core.database import sqlalchemy_url
from tests.conftest import ApiUser, PgTestDatabase

T = TypeVar("T")


def days(n: int) -> str:
    return (date.today() + timedelta(days=n)).isoformat()


def noon(day: date) -> datetime:
    """Noon UTC of ``day``: the same date in UTC, Europe/Paris (the test homes' default) and the Americas."""
    return datetime.combine(day, time(12), UTC)


@pytest.fixture(autouse=True)
def home_day(frozen_clock: FrozenClock) -> Iterator[FrozenClock]:
    """Every maintenance test runs at noon UTC of ``date.today()``: "today" is a home's date now, and at noon
    UTC a Paris or Chicago home has the same date as ``date.today()`` whatever the hour the suite runs
    (tests that cross a date line set the clock themselves)."""
    frozen_clock.set(noon(date.today()))
    yield frozen_clock


@pytest.fixture
def make_device(client: TestClient) -> Callable[..., dict[str, Any]]:
    def _make(user: ApiUser, home: dict[str, Any], nickname: str = "Fridge", **extra: Any) -> dict[str, Any]:
        r = client.post(
            f"/api/v1/homes/{home['id']}/devices", json={"nickname": nickname, **extra}, headers=user.headers
        )
        assert r.status_code == 201, r.text
        return r.json()

    return _make


@pytest.fixture
def make_schedule(client: TestClient) -> Callable[..., dict[str, Any]]:
    def _make(user: ApiUser, device: dict[str, Any], **body: Any) -> dict[str, Any]:
        payload = {"task_name": "Replace filter", "interval": 3, "interval_unit": "months", **body}
        r = client.post(
            f"/api/v1/devices/{device['id']}/maintenance-schedules", json=payload, headers=user.headers
        )
        assert r.status_code == 201, r.text
        return r.json()

    return _make


@pytest.fixture
def add_member(client: TestClient) -> Callable[[ApiUser, dict[str, Any], ApiUser, str], None]:
    def _add(owner: ApiUser, home: dict[str, Any], user: ApiUser, role: str) -> None:
        r = client.post(
            f"/api/v1/homes/{home['id']}/members",
            json={"email": user.email, "role": role},
            headers=owner.headers,
        )
        assert r.status_code == 201, r.text

    return _add


@pytest.fixture
def as_worker(test_db: PgTestDatabase) -> Callable[[Callable[[AsyncSession], Awaitable[T]]], T]:
    """Runs ``fn(session)`` in one committed transaction as the background worker's role (``homeops_worker``:
    no identity, only the grants and policies its system-wide jobs have), as the worker does."""

    def _run(fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async def main() -> T:
            assert test_db.worker is not None
            engine = create_async_engine(sqlalchemy_url(test_db.worker), poolclass=NullPool)
            try:
                async with async_sessionmaker(engine, expire_on_commit=False)() as session, session.begin():
                    return await fn(session)
            finally:
                await engine.dispose()

        return asyncio.run(main())

    return _run

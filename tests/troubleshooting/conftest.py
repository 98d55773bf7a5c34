from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from homeops.core.jobs import Worker
from homeops.manuals.tasks import PROCESS_MANUAL
from homeops.troubleshooting.tasks import NOTIFY_TICKET
from tests.conftest import ApiUser
from tests.maintenance.conftest import as_worker  # noqa: F401  (fixture shared with the maintenance tests)
from tests.manuals.conftest import upload  # noqa: F401  (fixture shared with the manual tests)

SESSIONS = "/api/v1/troubleshooting-sessions"
TICKETS = "/api/v1/service-tickets"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def drain(make_worker: Callable[..., Worker]) -> Callable[[], int]:
    """Runs the queued manual-processing jobs, as the worker would."""

    def _drain() -> int:
        async def run() -> int:
            async with make_worker(tasks={PROCESS_MANUAL}) as worker:
                return await worker.drain()

        return asyncio.run(run())

    return _drain


@pytest.fixture
def drain_tickets(make_worker: Callable[..., Worker]) -> Callable[[], int]:
    """Runs the queued new-ticket announcements, as the worker would."""

    def _drain() -> int:
        async def run() -> int:
            async with make_worker(tasks={NOTIFY_TICKET}) as worker:
                return await worker.drain()

        return asyncio.run(run())

    return _drain


@pytest.fixture
def make_model(client: TestClient, make_staff) -> Callable[..., dict[str, Any]]:  # type: ignore[no-untyped-def]
    """A catalog model with the given common problems, created by an admin through the API."""

    def _make(
        problems: list[dict[str, Any]], *, manufacturer: str | None = None, model_number: str = "TS-100"
    ) -> dict[str, Any]:
        admin = make_staff("admin")
        model = client.post(
            "/api/v1/models",
            json={
                "manufacturer": manufacturer or unique("Maker"),
                "model_number": model_number,
                "category": "refrigerator",
            },
            headers=admin.headers,
        )
        assert model.status_code == 201, model.text
        created = []
        for problem in problems:
            r = client.post(
                f"/api/v1/models/{model.json()['id']}/problems",
                json={"severity": "medium", "frequency": "common", **problem},
                headers=admin.headers,
            )
            assert r.status_code == 201, r.text
            created.append(r.json())
        return {**model.json(), "problems": created}

    return _make


@pytest.fixture
def make_device(client: TestClient, make_home) -> Callable[..., dict[str, Any]]:  # type: ignore[no-untyped-def]
    def _make(user: ApiUser, home: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        home = home or make_home(user)
        r = client.post(
            f"/api/v1/homes/{home['id']}/devices", json={"nickname": "Fridge", **fields}, headers=user.headers
        )
        assert r.status_code == 201, r.text
        return r.json()

    return _make


@pytest.fixture
def open_session(client: TestClient) -> Callable[..., dict[str, Any]]:
    def _open(
        user: ApiUser,
        device: dict[str, Any],
        summary: str = "It does not work",
        symptoms: list[str] | None = None,
        error_codes: list[str] | None = None,
    ) -> dict[str, Any]:
        r = client.post(
            SESSIONS,
            json={
                "device_id": device["id"],
                "issue_summary": summary,
                "symptoms": symptoms or [],
                "error_codes": error_codes or [],
            },
            headers=user.headers,
        )
        assert r.status_code == 201, r.text
        return r.json()

    return _open

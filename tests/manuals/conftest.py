from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from homeops.core.jobs import Worker
from homeops.manuals import tasks as manual_tasks
from tests.pdf_writer import make_pdf


@pytest.fixture
def drain(make_worker: Callable[..., Worker]) -> Callable[[], int]:
    """Runs the queued manual-processing jobs, as the worker would (the shared runtime, the domains' bus)."""

    def _drain() -> int:
        async def run() -> int:
            async with make_worker(tasks={manual_tasks.PROCESS_MANUAL}) as worker:  # processing and linking
                return await worker.drain()

        return asyncio.run(run())

    return _drain


@pytest.fixture
def upload(client: TestClient) -> Callable[..., object]:
    def _upload(
        user,
        pdf: bytes,
        *,
        brand: str,
        model_numbers=("ZX-100",),
        manual_type="user",
        version="",
        title=None,
        filename="manual.pdf",
        **extra,
    ):  # type: ignore[no-untyped-def]
        data = {
            "brand": brand,
            "model_numbers": list(model_numbers),
            "manual_type": manual_type,
            "version": version,
            **extra,  # e.g. home_id (default: the user's only home), organization_id
        }
        if title:
            data["title"] = title
        return client.post(
            "/api/v1/manuals",
            files={"file": (filename, pdf, "application/pdf")},
            data=data,
            headers=user.headers,
        )

    return _upload


def unique_brand() -> str:
    return f"Brand{uuid.uuid4().hex[:8]}"


def manual_pages(tag: str) -> list[str]:
    return [
        f"{tag} Owner's manual. Safety instructions and warranty information.",
        f"{tag} Installation. Connect the cold water inlet and the gas supply line.",
        f"{tag} Troubleshooting. If the pilot light will not stay lit, clean the thermocouple and check the gas valve.",
    ]


def pdf_for(tag: str, variant: int = 0) -> bytes:
    return make_pdf(manual_pages(tag), title=f"{tag} manual", variant=variant)

from __future__ import annotations

import asyncio
import io
import uuid
import wave
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from homeops.assistant import tasks as assistant_tasks
from homeops.assistant import transcription
from homeops.core.jobs import Worker
from homeops.core.runtime import Runtime
from homeops.manuals import tasks as manual_tasks

TASKS = {manual_tasks.PROCESS_MANUAL, assistant_tasks.PROCESS_DOCUMENT, assistant_tasks.PROCESS_MEDIA}


@pytest.fixture
def drain(make_worker: Callable[..., Worker]) -> Callable[[], int]:
    """Runs queued manual, document and media jobs, as the worker would."""

    def _drain() -> int:
        async def run() -> int:
            async with make_worker(tasks=TASKS) as worker:
                return await worker.drain()

        return asyncio.run(run())

    return _drain


_TRANSCRIBER_KEYS = (transcription.TRANSCRIBER, transcription.TRANSCRIBER_UNAVAILABLE)


@pytest.fixture
def no_transcriber(runtime: Runtime) -> Iterator[None]:
    """The default: no transcriber in the shared runtime's resources (restores what was there before)."""
    saved = {k: runtime.resources[k] for k in _TRANSCRIBER_KEYS if k in runtime.resources}
    for key in _TRANSCRIBER_KEYS:
        runtime.resources.pop(key, None)
    runtime.resources[transcription.TRANSCRIBER] = None
    try:
        yield
    finally:
        for key in _TRANSCRIBER_KEYS:
            runtime.resources.pop(key, None)
        runtime.resources.update(saved)


@pytest.fixture
def use_transcriber(no_transcriber: None, runtime: Runtime) -> Callable[[transcription.Transcriber], None]:
    """Puts a transcriber into the shared runtime for the rest of the test."""

    def _use(transcriber: transcription.Transcriber) -> None:
        runtime.resources[transcription.TRANSCRIBER] = transcriber

    return _use


def unique_brand() -> str:
    return f"Brand{uuid.uuid4().hex[:8]}"


def wav_bytes(seconds: float, rate: int = 8000) -> bytes:
    """A silent mono 16-bit PCM WAV of the given length."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return buf.getvalue()


def upload_manual(client: TestClient, user, pdf: bytes, *, brand: str, model_number: str, title: str) -> dict:  # type: ignore[no-untyped-def]
    r = client.post(
        "/api/v1/manuals",
        files={"file": ("manual.pdf", pdf, "application/pdf")},
        data={"brand": brand, "model_numbers": [model_number], "title": title},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


def make_model(
    client: TestClient,
    admin,
    brand: str,
    model_number: str,
    problems: list[dict] | None = None,  # type: ignore[no-untyped-def]
    **extra,
) -> dict:
    r = client.post(
        "/api/v1/models",
        json={"manufacturer": brand, "model_number": model_number, "category": "water_heater", **extra},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    model = r.json()
    for problem in problems or []:
        p = client.post(f"/api/v1/models/{model['id']}/problems", json=problem, headers=admin.headers)
        assert p.status_code == 201, p.text
    return model


PILOT_PROBLEM = {
    "problem_description": "Pilot light goes out",
    "symptoms": ["pilot light will not stay lit", "no hot water"],
    "error_codes": ["E4"],
    "root_cause": "Dirty thermocouple",
    "solution": "Clean or replace the thermocouple",
    "severity": "high",
    "frequency": "common",
}
NOISE_PROBLEM = {
    "problem_description": "Tank makes a rumbling noise",
    "symptoms": ["rumbling", "popping sounds"],
    "root_cause": "Sediment build-up",
    "solution": "Flush the tank",
    "severity": "low",
    "frequency": "common",
}


def heater_pages(tag: str) -> list[str]:
    return [
        f"{tag} Owner's manual. Safety instructions and warranty information.",
        f"{tag} Care. Flush the tank once a year to remove sediment.",
        f"{tag} Troubleshooting. If the pilot light will not stay lit, clean the thermocouple "
        + "and check the gas valve.",
    ]

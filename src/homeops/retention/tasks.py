"""Daily retention job (the worker runs it; ``homeops retention run`` does the same on demand)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.jobs import enqueue, registry
from homeops.manuals.tasks import runtime
from homeops.retention.service import delete_objects, run_retention

DELETE_OBJECTS = "storage.delete_objects"


@registry.periodic("retention.run", every_seconds=24 * 3600)
async def retention_task(session: AsyncSession, payload: dict[str, Any]) -> None:
    report = await run_retention(session, dry_run=False, source="job")
    if report.storage_keys:
        # Runs only if this transaction commits: files never disappear under rows that still exist.
        await enqueue(session, DELETE_OBJECTS, {"keys": report.storage_keys})


@registry.task(DELETE_OBJECTS, max_attempts=5)
async def delete_objects_task(session: AsyncSession, payload: dict[str, Any]) -> None:
    if runtime.storage is None:
        raise RuntimeError("no storage configured for this worker")
    await delete_objects(runtime.storage, list(payload["keys"]))

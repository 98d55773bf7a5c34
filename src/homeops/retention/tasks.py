"""Daily retention job (the worker runs it; ``homeops retention run`` does the same on demand, as the owner).

The job acts for no tenant: it runs as the worker role, whose system-wide access is exactly what the rules
need (granted in the assistant migration, the last one: SELECT on the tables they read, DELETE or
``UPDATE (column)`` on what they change)."""

from __future__ import annotations

from typing import Any

from homeops.audit.repository import write_audit
from homeops.core.actor import Actor
from homeops.core.audit import AuditRecorder
from homeops.core.jobs import JobContext, enqueue, registry
from homeops.core.uow import UnitOfWork
from homeops.retention.service import delete_objects, drop_telemetry_partitions, run_retention

DELETE_OBJECTS = "storage.delete_objects"
TELEMETRY_PARTITIONS = "retention.telemetry_partitions"


@registry.periodic("retention.run", every_seconds=24 * 3600)
async def retention_task(job: JobContext, payload: dict[str, Any]) -> None:
    audit = AuditRecorder.for_command("retention:job", method="SYSTEM")
    uow = UnitOfWork(job.session, Actor.system("job:retention"), audit, job.runtime, job.bus)
    report = await run_retention(uow, dry_run=False, telemetry_partitions=False)
    await write_audit(job.session, audit, 200, audit.take())  # in the job's transaction
    await enqueue(job.session, TELEMETRY_PARTITIONS, {}, dedupe_key=TELEMETRY_PARTITIONS)
    if report.storage_keys:
        # Runs only if this transaction commits: files never disappear under rows that still exist.
        await enqueue(job.session, DELETE_OBJECTS, {"keys": report.storage_keys})


@registry.task(TELEMETRY_PARTITIONS, max_attempts=3)
async def telemetry_partitions_task(job: JobContext, payload: dict[str, Any]) -> None:
    audit = AuditRecorder.for_command("retention:job", method="SYSTEM")
    uow = UnitOfWork(job.session, Actor.system("job:retention"), audit, job.runtime, job.bus)
    await drop_telemetry_partitions(uow)
    await write_audit(job.session, audit, 200, audit.take())


@registry.task(DELETE_OBJECTS, max_attempts=5)
async def delete_objects_task(job: JobContext, payload: dict[str, Any]) -> None:
    await delete_objects(job.runtime.storage, list(payload["keys"]))

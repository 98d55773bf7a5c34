"""``homeops retention run``: one transaction as the owner (acting as the system, audited), then the files of
the deleted rows once it has committed."""

from __future__ import annotations

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from homeops.audit.repository import write_audit
from homeops.core.actor import Actor
from homeops.core.audit import AuditRecorder
from homeops.core.config import Settings
from homeops.core.database import session_factory
from homeops.core.events import EventBus
from homeops.core.runtime import Runtime
from homeops.core.security import FieldCipher
from homeops.core.storage import build_storage
from homeops.core.uow import transaction
from homeops.retention.service import RetentionReport, delete_objects, run_retention


def command_runtime(settings: Settings) -> Runtime:
    """What retention needs of the process runtime: storage and the system clock (no domain resources, so
    no embedder or transcriber is loaded for a cleanup command)."""
    return Runtime(
        settings=settings,
        storage=build_storage(settings),
        cipher=FieldCipher(settings.secret("field_encryption_key")),
    )


async def run_from_cli(
    settings: Settings, owner: URL, *, dry_run: bool, runtime: Runtime | None = None
) -> RetentionReport:
    runtime = runtime or command_runtime(settings)
    engine = create_async_engine(owner, poolclass=NullPool)
    try:
        audit = AuditRecorder.for_command("retention:cli", method="SYSTEM")
        async with transaction(
            session_factory(engine), Actor.system("cli:retention"), runtime, EventBus(), audit, write_audit
        ) as uow:
            report = await run_retention(uow, dry_run=dry_run)
            keys = report.storage_keys

            async def remove_files() -> None:
                await delete_objects(runtime.storage, keys)

            if keys:
                uow.on_commit(remove_files)  # files never disappear under rows that still exist
        return report
    finally:
        await engine.dispose()

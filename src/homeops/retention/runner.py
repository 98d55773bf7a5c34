"""``homeops retention run``: one transaction as the owner, then the files of deleted rows."""

from __future__ import annotations

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from homeops.core.config import Settings
from homeops.core.database import session_factory
from homeops.core.storage import build_storage
from homeops.retention.service import RetentionReport, delete_objects, run_retention


async def run_from_cli(settings: Settings, owner: URL, *, dry_run: bool) -> RetentionReport:
    engine = create_async_engine(owner, poolclass=NullPool)
    try:
        async with session_factory(engine)() as session, session.begin():
            report = await run_retention(session, dry_run=dry_run, source="cli")
        await delete_objects(build_storage(settings), report.storage_keys)  # after the commit
        return report
    finally:
        await engine.dispose()

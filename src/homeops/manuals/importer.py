"""``homeops manuals import DIR``: the upload path (same de-duplication) for a folder of PDFs, as the operator,
into the shared library (a trusted source: ``provenance = 'operator'``).

Each file is one transaction of its own (``homeops.core.uow.transaction``) acting as the system
(``cli:manuals-import``), with its own audit recorder: a rejected file does not undo the others.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from homeops import domains
from homeops.audit.repository import write_audit
from homeops.core.actor import Actor
from homeops.core.audit import AuditEntry, AuditRecorder
from homeops.core.config import Settings
from homeops.core.database import session_factory
from homeops.core.errors import Problem
from homeops.core.uow import transaction
from homeops.manuals.models import ManualStatus, ManualType
from homeops.manuals.schemas import ManualMeta
from homeops.manuals.service import OPERATOR_IMPORT, ManualService
from homeops.manuals.tasks import process_manual

ACTOR = Actor.system("cli:manuals-import")
USER_AGENT = "homeops manuals import"


async def import_directory(
    settings: Settings,
    owner: URL,
    directory: Path,
    *,
    manufacturer: str,
    models: list[str],
    manual_type: str,
    process: bool,
    console: Console,
) -> dict[str, int]:
    """Uploads every ``*.pdf`` under ``directory`` (and processes it now when ``process``); returns how many
    were new, duplicates (by level), failed or rejected."""
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() == ".pdf")
    runtime = domains.build_runtime(settings)
    bus = domains.event_bus()
    meta = ManualMeta(manufacturer=manufacturer, model_numbers=models, manual_type=ManualType(manual_type))
    max_bytes = settings.max_manual_upload_mb * 1024 * 1024
    counts: Counter[str] = Counter()
    engine = create_async_engine(owner, poolclass=NullPool)
    sessions = session_factory(engine)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            bar = progress.add_task("Importing manuals", total=len(files))
            for path in files:
                audit = AuditRecorder.for_command(f"import:{path.name}", user_agent=USER_AGENT)
                outcome = _Outcome()
                try:
                    async with transaction(
                        sessions, ACTOR, runtime, bus, audit, outcome.write, status=201
                    ) as uow:
                        uploaded = await ManualService(uow).upload(
                            path.read_bytes(), path.name, meta, max_bytes, OPERATOR_IMPORT
                        )
                        level = uploaded.manual.duplicate_level
                        if not uploaded.created:
                            outcome.status = 200  # as the upload endpoint answers a duplicate
                            counts[f"duplicate ({level})"] += 1
                        elif process:
                            status = await process_manual(uow, uploaded.manual.id)
                            counts["new" if status is ManualStatus.ready else "failed"] += 1
                        else:
                            counts["new (queued)"] += 1
                        if uploaded.created and level == "composite":
                            counts["similar to an existing manual (composite key)"] += 1
                except Problem as exc:
                    counts[f"rejected ({exc.code})"] += 1
                progress.advance(bar)
    finally:
        await engine.dispose()
    return dict(counts)


class _Outcome:
    """The audit writer of one file's transaction: ``write_audit`` with the status the upload endpoint would
    have answered (201 new, 200 duplicate)."""

    def __init__(self) -> None:
        self.status: int | None = None

    async def write(
        self, session: AsyncSession, audit: AuditRecorder, status: int, entries: list[AuditEntry]
    ) -> None:
        await write_audit(
            session, audit, self.status if self.status is not None and status < 500 else status, entries
        )

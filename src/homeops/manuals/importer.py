"""``homeops manuals import DIR``: the upload path (same de-duplication) for a folder of PDFs, as the operator."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from homeops.audit.repository import write_audit
from homeops.core.config import Settings
from homeops.core.context import RequestContext
from homeops.core.database import session_factory
from homeops.core.errors import Problem
from homeops.core.storage import build_storage
from homeops.manuals.embeddings import load_embedder
from homeops.manuals.models import ManualStatus, ManualType
from homeops.manuals.schemas import ManualMeta
from homeops.manuals.service import ManualService
from homeops.manuals.tasks import process_manual


async def import_directory(
    settings: Settings,
    owner: URL,
    directory: Path,
    *,
    brand: str,
    models: list[str],
    manual_type: str,
    process: bool,
    console: Console,
) -> dict[str, int]:
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() == ".pdf")
    storage = build_storage(settings)
    embedder = load_embedder(settings.embedder)
    meta = ManualMeta(brand=brand, model_numbers=models, manual_type=ManualType(manual_type))
    counts: Counter[str] = Counter()
    engine = create_async_engine(owner, poolclass=NullPool)
    sessions = session_factory(engine)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            bar = progress.add_task("Importing manuals", total=len(files))
            for path in files:
                ctx = RequestContext(request_id=uuid.uuid4().hex, method="CLI", url=f"import:{path.name}",
                                     ip=None, user_agent="homeops manuals import")
                async with sessions() as session, session.begin():
                    try:
                        service = ManualService(session, ctx, None, storage, embedder)
                        manual, duplicate = await service.upload(
                            path.read_bytes(), path.name, meta, settings.max_manual_upload_mb * 1024 * 1024
                        )
                        if duplicate:
                            counts[f"duplicate ({duplicate})"] += 1
                        elif process:
                            status = await process_manual(session, manual.id, storage, embedder)
                            counts["new" if status is ManualStatus.ready else "failed"] += 1
                        else:
                            counts["new (queued)"] += 1
                        await write_audit(session, ctx, 200 if duplicate else 201, ctx.audit)
                    except Problem as exc:
                        counts[f"rejected ({exc.code})"] += 1
                progress.advance(bar)
    finally:
        await engine.dispose()
    return dict(counts)

"""Background processing of uploaded manuals: text per page, passages, full-text (and vector) index,
auto-linking to matching devices in every home. Runs in the worker, as the database owner."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.jobs import registry
from homeops.core.storage import Storage
from homeops.manuals.embeddings import Embedder
from homeops.manuals.extraction import ExtractionError, chunk_pages, content_hash, extract_pdf
from homeops.manuals.models import ManualStatus
from homeops.manuals.repository import LinkRepository, ManualRepository

log = logging.getLogger(__name__)

PROCESS_MANUAL = "manuals.process"


@dataclass
class ManualRuntime:
    """What the processing task needs besides its session; set once per worker process."""

    storage: Storage | None = None
    embedder: Embedder | None = None


runtime = ManualRuntime()


def configure(storage: Storage, embedder: Embedder | None) -> None:
    runtime.storage = storage
    runtime.embedder = embedder


@registry.task(PROCESS_MANUAL, max_attempts=3, retry_backoff_seconds=30)
async def process_manual_task(session: AsyncSession, payload: dict[str, Any]) -> None:
    if runtime.storage is None:
        raise RuntimeError("manual processing is not configured (no storage)")
    await process_manual(session, uuid.UUID(payload["manual_id"]), runtime.storage, runtime.embedder)


async def process_manual(
    session: AsyncSession, manual_id: uuid.UUID, storage: Storage, embedder: Embedder | None
) -> ManualStatus | None:
    repo = ManualRepository(session)
    manual = await repo.get(manual_id)
    if manual is None:
        return None  # deleted meanwhile
    data = await to_thread.run_sync(storage.get, manual.storage_key)  # storage errors raise → retried
    try:
        doc = await to_thread.run_sync(extract_pdf, data)
    except ExtractionError as exc:
        # A corrupt or encrypted PDF is a result, not a crash: the manual stays listed as failed.
        await repo.set_status(manual_id, ManualStatus.failed, failure_reason=exc.reason, indexed=False,
                              processed_at=func.now())
        log.info("manual failed", extra={"manual_id": str(manual_id), "reason": exc.reason})
        return ManualStatus.failed
    chunks = chunk_pages(doc.pages)
    await repo.replace_chunks(manual_id, [(c.index, c.page, c.text) for c in chunks])
    embedded = False
    if embedder is not None and chunks and await repo.has_embeddings_table():
        vectors = await to_thread.run_sync(embedder.embed, [c.text for c in chunks])
        await repo.store_embeddings(manual_id, embedder.name, [(c.index, v) for c, v in zip(chunks, vectors, strict=True)])
        embedded = True
    await repo.set_status(
        manual_id, ManualStatus.ready, page_count=doc.page_count, content_hash=content_hash(doc.pages),
        indexed=True, embedded=embedded, failure_reason=None, processed_at=func.now(),
        processor="pypdf",
    )
    linked = await LinkRepository(session).auto_link_manual(manual)
    log.info("manual ready", extra={"manual_id": str(manual_id), "chunks": len(chunks), "linked": linked})
    return ManualStatus.ready

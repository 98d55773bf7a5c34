"""Background processing of uploaded manuals: text per page, passages, full-text (and vector) index. Runs in
the worker as ``homeops_worker``, for no single user: it reads manuals, replaces their passages and vectors
(each carrying the manual's visibility and home, which their row policies read) and sets their processing
columns — exactly the worker's grants in the manuals migration. A manual that became ready is announced with
``ManualReady`` (devices links it to the matching devices of its home — of every home for the shared library —
in the same transaction: the worker reads devices and inserts links, devices migration); a manual staff verified
later is announced again (payload ``link``). The operator's ``homeops manuals import`` runs the same code as
the owner.

The library's process resource is the embedder (``resources``), read through ``embedder_of(runtime)``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from anyio import to_thread

from homeops.core.config import Settings
from homeops.core.jobs import JobContext, registry
from homeops.core.runtime import Runtime
from homeops.core.uow import UnitOfWork
from homeops.manuals.embeddings import Embedder, load_embedder
from homeops.manuals.events import ManualReady
from homeops.manuals.extraction import ExtractionError, chunk_pages, content_hash, extract_pdf
from homeops.manuals.models import Manual, ManualStatus, ManualVisibility
from homeops.manuals.repository import ManualRepository

log = logging.getLogger(__name__)

PROCESS_MANUAL = "manuals.process"
EMBEDDER = "manuals.embedder"


def resources(settings: Settings) -> dict[str, Any]:
    return {EMBEDDER: load_embedder(settings.embedder)}


def embedder_of(runtime: Runtime) -> Embedder | None:
    """The passage embedder, or None when none is configured (HOMEOPS_EMBEDDER unset: full-text only)."""
    embedder: Embedder | None = runtime.resource(EMBEDDER)
    return embedder


@registry.task(PROCESS_MANUAL, max_attempts=3, retry_backoff_seconds=30)
async def process_manual_task(job: JobContext, payload: dict[str, Any]) -> None:
    manual_id = uuid.UUID(payload["manual_id"])
    if payload.get("link"):
        await link_manual(job.uow(), manual_id)
    else:
        await process_manual(job.uow(), manual_id)


def _ready(manual: Manual) -> ManualReady | None:
    """The announcement of a ready manual, for its home (a household upload) or every home (shared); none
    for a hidden one."""
    if manual.visibility is ManualVisibility.hidden:
        return None
    home_id = manual.home_id if manual.visibility is ManualVisibility.household else None
    return ManualReady(manual.id, manual.brand, tuple(manual.model_numbers), home_id)


async def link_manual(uow: UnitOfWork, manual_id: uuid.UUID) -> bool:
    """Announces a ready manual again (it joined the shared library): the devices domain links it into every
    matching home. A manual not ready yet is announced when its processing ends."""
    manual = await ManualRepository(uow.session).get(manual_id)
    if manual is None or manual.status is not ManualStatus.ready or (event := _ready(manual)) is None:
        return False
    await uow.publish(event)
    return True


async def process_manual(uow: UnitOfWork, manual_id: uuid.UUID) -> ManualStatus | None:
    """Extracts, chunks and indexes one manual in ``uow``'s transaction; returns its new status (None when it
    was deleted meanwhile). Storage errors raise (the job is retried); a bad PDF is a result (``failed``)."""
    repo = ManualRepository(uow.session)
    manual = await repo.get(manual_id)
    if manual is None:
        return None  # deleted meanwhile
    data = await to_thread.run_sync(uow.runtime.storage.get, manual.storage_key)
    try:
        doc = await to_thread.run_sync(extract_pdf, data)
    except ExtractionError as exc:
        # A corrupt or encrypted PDF is a result, not a crash: the manual stays listed as failed.
        await repo.set_status(
            manual_id, ManualStatus.failed, failure_reason=exc.reason, indexed=False, processed_at=uow.now()
        )
        log.info("manual failed", extra={"manual_id": str(manual_id), "reason": exc.reason})
        return ManualStatus.failed
    chunks = chunk_pages(doc.pages)
    # Locked from here to the commit: a moderator's verify or hide waits for it (or has committed and is
    # seen here), so the passages carry the manual's visibility as it is.
    manual = await repo.locked(manual_id)
    if manual is None:
        return None
    await repo.replace_chunks(
        manual_id, [(c.index, c.page, c.text) for c in chunks], manual.visibility, manual.home_id
    )
    embedded = False
    embedder = embedder_of(uow.runtime)
    if embedder is not None and chunks and await repo.has_embeddings_table():
        vectors = await to_thread.run_sync(embedder.embed, [c.text for c in chunks])
        await repo.store_embeddings(
            manual_id,
            embedder.name,
            [(c.index, v) for c, v in zip(chunks, vectors, strict=True)],
            manual.visibility,
            manual.home_id,
        )
        embedded = True
    await repo.set_status(
        manual_id,
        ManualStatus.ready,
        page_count=doc.page_count,
        content_hash=content_hash(doc.pages),
        indexed=True,
        embedded=embedded,
        failure_reason=None,
        processed_at=uow.now(),
        processor="pypdf",
    )
    if (event := _ready(manual)) is not None:
        await uow.publish(event)
    log.info("manual ready", extra={"manual_id": str(manual_id), "chunks": len(chunks)})
    return ManualStatus.ready

"""The manual library: upload with 3-level de-duplication (seed 000), listing, search, downloads.

The library is shared reference data and knows nothing of devices: a device's links to manuals, and search
scoped to one device's manuals, are the devices domain's (``homeops.devices``); it passes the scope here
as a list of manual ids.
"""

from __future__ import annotations

import uuid
from typing import Any

from anyio import to_thread
from sqlalchemy.exc import IntegrityError

from homeops.catalog.repository import CatalogRepository
from homeops.catalog.service import ModelNotFound, UnknownCategory
from homeops.core.access import load_visible
from homeops.core.audit import AuditEntry
from homeops.core.errors import NotFound, Problem
from homeops.core.jobs import enqueue
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.schemas import DownloadOut
from homeops.core.storage import signed_download
from homeops.core.uow import UnitOfWork
from homeops.manuals.extraction import ExtractionError, content_hash, extract_pdf, file_hash
from homeops.manuals.models import Manual, ManualStatus, ManualType
from homeops.manuals.repository import ManualRepository
from homeops.manuals.schemas import DuplicateLevel, ManualMeta, ManualOut, SearchHit, SearchOut
from homeops.manuals.tasks import PROCESS_MANUAL, embedder_of

PDF_MAGIC = b"%PDF-"
RRF_K = 60  # reciprocal-rank fusion constant for hybrid search


class ManualNotFound(NotFound):
    code, title = "manual_not_found", "Manual not found"


class ManualService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        self.storage = uow.runtime.storage
        self.embedder = embedder_of(uow.runtime)
        self.manuals = ManualRepository(uow.session)

    # --- upload ------------------------------------------------------------------------------------
    async def upload(
        self, data: bytes, file_name: str, meta: ManualMeta, max_bytes: int
    ) -> tuple[ManualOut, DuplicateLevel | None]:
        """Stores a new manual (and queues its processing) unless it duplicates one; see seed 000 Query 3."""
        if not data:
            raise Problem("The file is empty.", status=422, code="empty_file", title="Empty file")
        if len(data) > max_bytes:
            raise Problem(
                f"Manuals are limited to {max_bytes // (1024 * 1024)} MB.",
                status=413,
                code="file_too_large",
                title="File too large",
            )
        if not data.startswith(PDF_MAGIC):
            raise Problem(
                "Only PDF manuals are accepted.",
                status=415,
                code="unsupported_media_type",
                title="Unsupported media type",
            )
        if meta.category and await CatalogRepository(self.session).category(meta.category) is None:
            raise UnknownCategory(f"No category {meta.category!r}.")

        fhash = file_hash(data)
        doc_hash: str | None = None
        page_count: int | None = None
        found: Manual | None = await self.manuals.by_file_hash(fhash)
        level: DuplicateLevel | None = "file_hash" if found else None
        if found is None:
            doc_hash, page_count = await self._content(data)
            found, level = await self._find_similar(doc_hash, meta)
        if found is not None:
            self.uow.record(
                AuditEntry(
                    "manual_duplicate_upload",
                    "manual",
                    found.id,
                    new_values={"duplicate_level": level, "file_name": file_name},
                )
            )
            return self._out(found, level), level

        key = (
            f"manuals/{fhash[:2]}/{fhash}.pdf"  # content-addressed: a retried upload rewrites the same object
        )
        await to_thread.run_sync(self.storage.put, key, data, "application/pdf")
        manufacturer = await CatalogRepository(self.session).manufacturer_by_name(meta.manufacturer)
        manual = Manual(
            id=uuid.uuid4(),
            brand=meta.manufacturer,
            manufacturer_id=manufacturer.id if manufacturer else None,
            model_numbers=meta.model_numbers,
            category_code=meta.category,
            manual_type=meta.manual_type,
            language=meta.language,
            version=meta.version,
            year=meta.year,
            title=meta.title or None,
            file_name=file_name[:255] or "manual.pdf",
            file_hash=fhash,
            content_hash=doc_hash,
            file_size=len(data),
            page_count=page_count,
            storage_key=key,
            source_url=meta.source_url,
            uploaded_by=self.uow.actor.user_id,
            status=ManualStatus.pending,
        )
        try:
            async with self.session.begin_nested():
                await self.manuals.add(manual)
        except IntegrityError:
            # The same bytes were uploaded concurrently and committed first.
            existing = await self.manuals.by_file_hash(fhash)
            if existing is None:
                raise
            return self._out(existing, "file_hash"), "file_hash"
        await enqueue(
            self.session, PROCESS_MANUAL, {"manual_id": manual.id}, dedupe_key=f"manual:{manual.id}"
        )
        self.uow.record(
            AuditEntry(
                "manual_uploaded",
                "manual",
                manual.id,
                new_values={
                    **meta.model_dump(mode="json"),
                    "file_name": manual.file_name,
                    "file_hash": fhash,
                },
            )
        )
        return self._out(manual, None), None

    async def _content(self, data: bytes) -> tuple[str | None, int | None]:
        try:
            doc = await to_thread.run_sync(extract_pdf, data)
        except ExtractionError:
            return None, None  # stored anyway; processing records why it failed
        return content_hash(doc.pages), doc.page_count

    async def _find_similar(
        self, doc_hash: str | None, meta: ManualMeta
    ) -> tuple[Manual | None, DuplicateLevel | None]:
        """Levels 2 and 3: the same normalised text, then manufacturer + overlapping model number + type +
        version."""
        if doc_hash and (found := await self.manuals.by_content_hash(doc_hash)) is not None:
            return found, "content_hash"
        if meta.model_numbers:
            found = await self.manuals.by_composite(
                meta.manufacturer, meta.model_numbers, meta.manual_type, meta.version
            )
            if found is not None:
                return found, "composite"
        return None, None

    # --- reading ------------------------------------------------------------------------------------
    @staticmethod
    def _out(manual: Manual, level: DuplicateLevel | None = None) -> ManualOut:
        out = ManualOut.model_validate(manual)
        out.duplicate_level = level
        return out

    async def _manual(self, manual_id: uuid.UUID) -> Manual:
        return await load_visible(self.uow, Manual, manual_id, not_found=ManualNotFound)

    async def get(self, manual_id: uuid.UUID) -> ManualOut:
        return self._out(await self._manual(manual_id))

    async def browse(
        self,
        page: PageParams,
        *,
        manufacturer: str | None,
        model_number: str | None,
        manual_type: ManualType | None,
        status: ManualStatus | None,
    ) -> tuple[list[ManualOut], str | None]:
        """The library, newest first, filtered by manufacturer, model number, type and status."""
        rows = await self.manuals.search_list(
            brand=manufacturer,
            model_number=model_number,
            manual_type=manual_type,
            status=status,
            limit=page.limit,
            after=decode_cursor(page.cursor),
        )
        items, cursor = build_page(rows, page.limit, key=lambda m: (m.created_at, m.id))
        return [self._out(m) for m in items], cursor

    async def download(self, manual_id: uuid.UUID) -> DownloadOut:
        manual = await self._manual(manual_id)
        return await signed_download(
            self.storage, manual.storage_key, filename=manual.file_name, content_type="application/pdf"
        )

    # --- search -------------------------------------------------------------------------------------
    async def search(
        self,
        query: str,
        *,
        scope: list[uuid.UUID] | None = None,
        model_id: uuid.UUID | None = None,
        limit: int,
    ) -> SearchOut:
        """Ranked passages: full text, fused with vector similarity when an embedder and pgvector exist.
        ``scope``: only these manuals (e.g. one device's, resolved by the devices domain); else ``model_id``:
        the manuals of that catalog model; else the whole library."""
        if scope is None and model_id is not None:
            found = await CatalogRepository(self.session).model(model_id)
            if found is None:
                raise ModelNotFound()
            model, maker = found
            scope = [
                m.id
                for m in await self.manuals.search_list(
                    brand=maker,
                    model_number=model.model_number,
                    manual_type=None,
                    status=None,
                    limit=500,
                    after=None,
                )
            ]
        if scope == []:
            return SearchOut(query=query, mode="fulltext", items=[], note="No manuals in scope.")
        lexical = await self.manuals.fulltext(query, scope, limit * 2)
        if self.embedder is None or not await self.manuals.has_embeddings_table():
            note = (
                "Full-text search only: no embedder is configured."
                if self.embedder is None
                else ("Full-text search only: this database has no pgvector.")
            )
            return SearchOut(
                query=query, mode="fulltext", note=note, items=[self._hit(r) for r in lexical[:limit]]
            )
        vector = (await to_thread.run_sync(self.embedder.embed, [query]))[0]
        semantic = await self.manuals.semantic(vector, scope, limit * 2)
        return SearchOut(query=query, mode="hybrid", items=_fuse(lexical, semantic, limit, self._hit))

    @staticmethod
    def _hit(row: dict[str, Any]) -> SearchHit:
        return SearchHit(
            manual_id=row["manual_id"],
            title=row["title"] or row["file_name"],
            page=row["page"],
            snippet=row["snippet"],
            score=float(row["score"]),
            chunk_index=row["chunk_index"],
        )


def _fuse(
    lexical: list[dict[str, Any]], semantic: list[dict[str, Any]], limit: int, hit: Any
) -> list[SearchHit]:
    """Reciprocal-rank fusion: a passage ranked well by either method ranks well; snippets from full text."""
    scores: dict[tuple[Any, Any], float] = {}
    rows: dict[tuple[Any, Any], dict[str, Any]] = {}
    for ranking in (semantic, lexical):  # lexical last: its highlighted snippet wins
        for rank, row in enumerate(ranking):
            key = (row["manual_id"], row["chunk_index"])
            scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank + 1)
            rows[key] = row
    best = sorted(scores, key=lambda k: scores[k], reverse=True)[:limit]
    return [hit({**rows[k], "score": round(scores[k], 6)}) for k in best]

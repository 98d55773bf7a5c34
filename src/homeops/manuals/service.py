"""The manual library: upload with 3-level de-duplication (seed 000), device links, search, downloads."""

from __future__ import annotations

import uuid
from typing import Any

from anyio import to_thread
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.catalog.repository import CatalogRepository
from homeops.catalog.service import ModelNotFound, UnknownCategory
from homeops.core.context import AuditEntry, RequestContext
from homeops.core.errors import NotFound, Problem
from homeops.core.jobs import enqueue
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.schemas import DownloadOut
from homeops.core.storage import Storage, signed_download
from homeops.devices.repository import DeviceRepository
from homeops.devices.service import DeviceNotFound
from homeops.homes.models import HomeRole
from homeops.homes.service import HomeService
from homeops.identity.service import CurrentUser
from homeops.manuals.embeddings import Embedder
from homeops.manuals.extraction import ExtractionError, content_hash, extract_pdf, file_hash
from homeops.manuals.models import Manual, ManualStatus, ManualType
from homeops.manuals.repository import LinkRepository, ManualRepository
from homeops.manuals.schemas import (
    DeviceManualOut,
    DuplicateLevel,
    ManualMeta,
    ManualOut,
    SearchHit,
    SearchOut,
)
from homeops.manuals.tasks import PROCESS_MANUAL

PDF_MAGIC = b"%PDF-"
RRF_K = 60  # reciprocal-rank fusion constant for hybrid search


class ManualNotFound(NotFound):
    code, title = "manual_not_found", "Manual not found"


class ManualService:
    def __init__(
        self,
        session: AsyncSession,
        ctx: RequestContext,
        user: CurrentUser | None,
        storage: Storage,
        embedder: Embedder | None = None,
    ) -> None:
        self.session = session
        self.ctx = ctx
        self.user = user
        self.storage = storage
        self.embedder = embedder
        self.manuals = ManualRepository(session)
        self.links = LinkRepository(session)

    # --- upload ------------------------------------------------------------------------------------
    async def upload(
        self, data: bytes, file_name: str, meta: ManualMeta, max_bytes: int
    ) -> tuple[ManualOut, DuplicateLevel | None]:
        """Stores a new manual (and queues its processing) unless it duplicates one; see seed 000 Query 3."""
        if not data:
            raise Problem("The file is empty.", status=422, code="empty_file", title="Empty file")
        if len(data) > max_bytes:
            raise Problem(f"Manuals are limited to {max_bytes // (1024 * 1024)} MB.", status=413,
                          code="file_too_large", title="File too large")
        if not data.startswith(PDF_MAGIC):
            raise Problem("Only PDF manuals are accepted.", status=415, code="unsupported_media_type",
                          title="Unsupported media type")
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
            self.ctx.record(AuditEntry("manual_duplicate_upload", "manual", found.id,
                                       new_values={"duplicate_level": level, "file_name": file_name}))
            return self._out(found, level), level

        key = f"manuals/{fhash[:2]}/{fhash}.pdf"  # content-addressed: a retried upload rewrites the same object
        await to_thread.run_sync(self.storage.put, key, data, "application/pdf")
        manufacturer = await CatalogRepository(self.session).manufacturer_by_name(meta.brand)
        manual = Manual(
            id=uuid.uuid4(), brand=meta.brand, manufacturer_id=manufacturer.id if manufacturer else None,
            model_numbers=meta.model_numbers, category_code=meta.category, manual_type=meta.manual_type,
            language=meta.language, version=meta.version, year=meta.year, title=meta.title or None,
            file_name=file_name[:255] or "manual.pdf", file_hash=fhash, content_hash=doc_hash,
            file_size=len(data), page_count=page_count, storage_key=key, source_url=meta.source_url,
            uploaded_by=self.user.id if self.user else None, status=ManualStatus.pending,
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
        await enqueue(self.session, PROCESS_MANUAL, {"manual_id": manual.id}, dedupe_key=f"manual:{manual.id}")
        self.ctx.record(AuditEntry("manual_uploaded", "manual", manual.id,
                                   new_values={**meta.model_dump(mode="json"), "file_name": manual.file_name,
                                               "file_hash": fhash}))
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
        """Levels 2 and 3: the same normalised text, then brand + overlapping model number + type + version."""
        if doc_hash and (found := await self.manuals.by_content_hash(doc_hash)) is not None:
            return found, "content_hash"
        if meta.model_numbers:
            found = await self.manuals.by_composite(meta.brand, meta.model_numbers, meta.manual_type, meta.version)
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
        manual = await self.manuals.get(manual_id)
        if manual is None:
            raise ManualNotFound()
        return manual

    async def get(self, manual_id: uuid.UUID) -> ManualOut:
        return self._out(await self._manual(manual_id))

    async def list(
        self, page: PageParams, *, brand: str | None, model_number: str | None, manual_type: ManualType | None,
        status: ManualStatus | None,
    ) -> tuple[list[ManualOut], str | None]:
        rows = await self.manuals.search_list(brand=brand, model_number=model_number, manual_type=manual_type,
                                              status=status, limit=page.limit, after=decode_cursor(page.cursor))
        items, cursor = build_page(rows, page.limit, key=lambda m: (m.created_at, m.id))
        return [self._out(m) for m in items], cursor

    async def download(self, manual_id: uuid.UUID) -> DownloadOut:
        manual = await self._manual(manual_id)
        return await signed_download(self.storage, manual.storage_key, filename=manual.file_name,
                                     content_type="application/pdf")

    # --- device links -------------------------------------------------------------------------------
    async def _device_home(self, device_id: uuid.UUID, minimum: HomeRole) -> uuid.UUID:
        assert self.user is not None
        device = await DeviceRepository(self.session).get(device_id)
        if device is None:
            raise DeviceNotFound()
        await HomeService(self.session, self.ctx, self.user).require(device.home_id, minimum)
        return device.home_id

    async def for_device(self, device_id: uuid.UUID) -> list[DeviceManualOut]:
        """Seed 000 Query 2."""
        await self._device_home(device_id, HomeRole.guest)
        return [
            DeviceManualOut(**self._out(m).model_dump(), auto_linked=link.auto_linked, linked_at=link.linked_at)
            for m, link in await self.links.manuals_for_device(device_id)
        ]

    async def link(self, device_id: uuid.UUID, manual_id: uuid.UUID) -> bool:
        home_id = await self._device_home(device_id, HomeRole.member)
        await self._manual(manual_id)
        created = await self.links.link(device_id, manual_id, home_id, self.user.id if self.user else None, False)
        if created:
            self.ctx.record(AuditEntry("manual_linked", "device", device_id, new_values={"manual_id": str(manual_id)}))
        return created

    async def unlink(self, device_id: uuid.UUID, manual_id: uuid.UUID) -> None:
        await self._device_home(device_id, HomeRole.member)
        if not await self.links.unlink(device_id, manual_id):
            raise NotFound("This manual is not linked to the device.", code="link_not_found", title="Link not found")
        self.ctx.record(AuditEntry("manual_unlinked", "device", device_id, old_values={"manual_id": str(manual_id)}))

    # --- search -------------------------------------------------------------------------------------
    async def search(
        self, query: str, *, device_id: uuid.UUID | None, model_id: uuid.UUID | None, limit: int
    ) -> SearchOut:
        scope: list[uuid.UUID] | None = None
        if device_id is not None:
            await self._device_home(device_id, HomeRole.guest)
            scope = await self.links.manual_ids_for_device(device_id)
        elif model_id is not None:
            found = await CatalogRepository(self.session).model(model_id)
            if found is None:
                raise ModelNotFound()
            model, maker = found
            scope = [m.id for m in await self.manuals.search_list(
                brand=maker, model_number=model.model_number, manual_type=None, status=None, limit=500, after=None)]
        if scope == []:
            return SearchOut(query=query, mode="fulltext", items=[], note="No manuals in scope.")
        lexical = await self.manuals.fulltext(query, scope, limit * 2)
        if self.embedder is None or not await self.manuals.has_embeddings_table():
            note = "Full-text search only: no embedder is configured." if self.embedder is None else (
                "Full-text search only: this database has no pgvector.")
            return SearchOut(query=query, mode="fulltext", note=note, items=[self._hit(r) for r in lexical[:limit]])
        vector = (await to_thread.run_sync(self.embedder.embed, [query]))[0]
        semantic = await self.manuals.semantic(vector, scope, limit * 2)
        return SearchOut(query=query, mode="hybrid", items=_fuse(lexical, semantic, limit, self._hit))

    @staticmethod
    def _hit(row: dict[str, Any]) -> SearchHit:
        return SearchHit(manual_id=row["manual_id"], title=row["title"] or row["file_name"], page=row["page"],
                         snippet=row["snippet"], score=float(row["score"]), chunk_index=row["chunk_index"])


def _fuse(lexical: list[dict[str, Any]], semantic: list[dict[str, Any]], limit: int, hit: Any) -> list[SearchHit]:
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

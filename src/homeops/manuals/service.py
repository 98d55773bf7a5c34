"""The manual library: upload with 3-level de-duplication (seed 000), listing, search, downloads, reports.

**Trust model** (issue 9): an upload is for one home (a household upload: visible to, linked and cited in that
home only) unless a trusted source publishes it into the shared library — support/admin staff, or a member
(technician and above) of a partner organization an admin listed as a trusted source — which needs a verified
email. De-duplication looks only at what the upload's home may see (the shared library and that home's own
uploads): levels 1 and 2 (same bytes, same text) answer the existing manual; level 3 (same manufacturer,
model number, type and version, other content) keeps the new file and says which manual it resembles.
Moderation (verify, hide, delete, the queue) is ``homeops.manuals.moderation``.

The library knows nothing of devices: a device's links to manuals, search scoped to one device's manuals and
the moderation queue's link counts are the devices domain's (``homeops.devices``); it passes the scope here
as a list of manual ids and the homes whose uploads may appear.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from homeops.catalog.repository import CatalogRepository
from homeops.catalog.service import ModelNotFound, UnknownCategory
from homeops.core.access import load_visible
from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, Forbidden, NotFound, Problem, UnprocessableEntity
from homeops.core.jobs import enqueue
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.schemas import DownloadOut
from homeops.core.storage import signed_download
from homeops.core.tenancy import HomeRole, OrgKind, OrgRole, UserRole
from homeops.core.uow import UnitOfWork
from homeops.homes.access import require_home
from homeops.identity.models import User
from homeops.manuals.extraction import ExtractionError, content_hash, extract_pdf, file_hash
from homeops.manuals.models import (
    Manual,
    ManualProvenance,
    ManualReport,
    ManualStatus,
    ManualType,
    ManualVisibility,
)
from homeops.manuals.repository import ManualRepository
from homeops.manuals.schemas import (
    DuplicateLevel,
    DuplicateOf,
    ManualMeta,
    ManualOut,
    ManualSource,
    ReportOut,
    SearchHit,
    SearchOut,
    source_of,
)
from homeops.manuals.tasks import PROCESS_MANUAL, embedder_of
from homeops.organizations.access import require_org
from homeops.organizations.repository import OrganizationRepository

PDF_MAGIC = b"%PDF-"
RRF_K = 60  # reciprocal-rank fusion constant for hybrid search
MODERATOR_ROLES = frozenset({UserRole.support, UserRole.admin})


class ManualNotFound(NotFound):
    code, title = "manual_not_found", "Manual not found"


class EmailNotVerified(Forbidden):
    code, title = "email_not_verified", "Verify your email address first"


class NotATrustedSource(Forbidden):
    code, title = "not_a_trusted_source", "This organization does not publish into the shared library"


def is_moderator(uow: UnitOfWork) -> bool:
    return uow.actor.role in MODERATOR_ROLES


@dataclass(frozen=True)
class UploadTarget:
    """Where an upload goes: a home's own uploads, or the shared library (and who puts it there)."""

    visibility: ManualVisibility
    provenance: ManualProvenance
    home_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None

    @property
    def homes(self) -> list[uuid.UUID]:
        """The homes whose uploads de-duplication may match (besides the shared library)."""
        return [self.home_id] if self.home_id is not None else []

    @classmethod
    def household(cls, home_id: uuid.UUID) -> UploadTarget:
        return cls(ManualVisibility.household, ManualProvenance.household, home_id)


OPERATOR_IMPORT = UploadTarget(ManualVisibility.shared, ManualProvenance.operator)


@dataclass(frozen=True)
class Uploaded:
    manual: ManualOut
    created: bool  # False: an existing manual (level 1 or 2), nothing stored


class ManualService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        self.storage = uow.runtime.storage
        self.embedder = embedder_of(uow.runtime)
        self.manuals = ManualRepository(uow.session)

    # --- where an upload goes -------------------------------------------------------------------------
    async def target(self, home_id: uuid.UUID | None, organization_id: uuid.UUID | None) -> UploadTarget:
        """``home_id``: that home's uploads (member role). ``organization_id``: the shared library, as a
        trusted partner organization (technician role or higher, verified email). Neither: the shared library
        for support/admin staff (verified email), else the caller's only home (422 when they have several or
        none: name it)."""
        if home_id is not None and organization_id is not None:
            raise UnprocessableEntity(
                "Give home_id (your home's upload) or organization_id (a partner's publication), not both.",
                code="home_or_organization",
            )
        if organization_id is not None:
            return await self._partner(organization_id)
        if home_id is not None:
            await require_home(self.uow, home_id, HomeRole.member)
            return UploadTarget.household(home_id)
        if is_moderator(self.uow):
            await self.require_verified_email()
            return UploadTarget(ManualVisibility.shared, ManualProvenance.staff)
        homes = self.uow.actor.home_ids(HomeRole.member)
        if len(homes) == 1:
            return UploadTarget.household(homes[0])
        raise UnprocessableEntity(
            "Name the home this manual is for (home_id): it will be visible to that home only."
            if homes
            else "Manuals are uploaded for a home: create or join one first.",
            code="home_required",
        )

    async def _partner(self, organization_id: uuid.UUID) -> UploadTarget:
        await require_org(self.uow, organization_id, OrgRole.technician)
        org = await OrganizationRepository(self.session).live(organization_id)
        trusted = await self.manuals.trusted_source(organization_id) if org is not None else None
        if org is None or org.kind is not OrgKind.partner or trusted is None:
            raise NotATrustedSource(
                "Only partner organizations listed by the platform as trusted sources publish manuals into the "
                "shared library; upload for your home instead (home_id)."
            )
        await self.require_verified_email()
        return UploadTarget(
            ManualVisibility.shared, ManualProvenance.partner, organization_id=organization_id
        )

    async def require_verified_email(self) -> None:
        """What reaches other households needs a verified email (the caller's own row is visible)."""
        verified = await self.session.scalar(
            select(User.is_verified).where(User.id == self.uow.actor.require_user_id())
        )
        if not verified:
            raise EmailNotVerified(
                "Publishing into the shared library needs a verified email address; a manual for your own "
                "home does not."
            )

    # --- upload ------------------------------------------------------------------------------------
    async def upload(
        self, data: bytes, file_name: str, meta: ManualMeta, max_bytes: int, target: UploadTarget
    ) -> Uploaded:
        """Stores a new manual for ``target`` (and queues its processing) unless the same bytes or the same
        text are already visible to it (levels 1 and 2: that manual is answered); see seed 000 Query 3."""
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

        scope = target.homes
        fhash = file_hash(data)
        doc_hash: str | None = None
        page_count: int | None = None
        found: Manual | None = await self.manuals.by_file_hash(fhash, scope)
        level: DuplicateLevel | None = "file_hash" if found else None
        if found is None:
            doc_hash, page_count = await self._content(data)
            if doc_hash and (found := await self.manuals.by_content_hash(doc_hash, scope)) is not None:
                level = "content_hash"
        if found is not None:
            self.uow.record(
                AuditEntry(
                    "manual_duplicate_upload",
                    "manual",
                    found.id,
                    new_values={
                        "duplicate_level": level,
                        "file_name": file_name,
                        "home_id": _str(target.home_id),
                    },
                )
            )
            return Uploaded(self._out(found, level), created=False)

        # Level 3: reported, never answered — a similar manual is not this file (and nothing uploaded is lost).
        similar = None
        if meta.model_numbers:
            similar = await self.manuals.by_composite(
                meta.manufacturer, meta.model_numbers, meta.manual_type, meta.version, scope
            )
        key = (
            f"manuals/{fhash[:2]}/{fhash}.pdf"  # content-addressed: a retried upload rewrites the same object
        )
        await to_thread.run_sync(self.storage.put, key, data, "application/pdf")
        manufacturer = await CatalogRepository(self.session).manufacturer_by_name(meta.manufacturer)
        shared = target.visibility is ManualVisibility.shared
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
            visibility=target.visibility,
            home_id=target.home_id,
            provenance=target.provenance,
            organization_id=target.organization_id,
            # A trusted source vouches for its own upload (the operator's import too).
            verified_by=self.uow.actor.user_id if shared else None,
            verified_at=self.uow.now() if shared else None,
        )
        try:
            async with self.session.begin_nested():
                await self.manuals.add(manual)
        except IntegrityError:
            # The same bytes were uploaded for the same scope concurrently and committed first.
            existing = await self.manuals.by_file_hash(fhash, scope)
            if existing is None:
                raise
            return Uploaded(self._out(existing, "file_hash"), created=False)
        await enqueue(
            self.session, PROCESS_MANUAL, {"manual_id": manual.id}, dedupe_key=f"manual:{manual.id}"
        )
        out = self._out(manual, "composite" if similar is not None else None)
        if similar is not None:
            out.duplicate_of = DuplicateOf(
                id=similar.id,
                title=similar.title,
                source=_source(similar),
                provenance=similar.provenance,
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
                    "visibility": manual.visibility.value,
                    "home_id": _str(manual.home_id),
                    "provenance": manual.provenance.value,
                    "organization_id": _str(manual.organization_id),
                    "similar_to": _str(similar.id) if similar is not None else None,
                },
            )
        )
        return Uploaded(out, created=True)

    async def _content(self, data: bytes) -> tuple[str | None, int | None]:
        try:
            doc = await to_thread.run_sync(extract_pdf, data)
        except ExtractionError:
            return None, None  # stored anyway; processing records why it failed
        return content_hash(doc.pages), doc.page_count

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

    def _homes(self) -> list[uuid.UUID]:
        """The homes whose uploads the caller's library holds (besides the shared library)."""
        return self.uow.actor.home_ids()

    async def browse(
        self,
        page: PageParams,
        *,
        manufacturer: str | None,
        model_number: str | None,
        manual_type: ManualType | None,
        status: ManualStatus | None,
        source: ManualSource | None = None,
    ) -> tuple[list[ManualOut], str | None]:
        """Your library — the shared library and your homes' uploads — newest first, filtered by
        manufacturer, model number, type, status and source."""
        visibility = {
            None: None,
            "verified": ManualVisibility.shared,
            "household": ManualVisibility.household,
        }
        rows = await self.manuals.search_list(
            homes=self._homes(),
            brand=manufacturer,
            model_number=model_number,
            manual_type=manual_type,
            status=status,
            visibility=visibility[source],
            limit=page.limit,
            after=decode_cursor(page.cursor),
        )
        items, cursor = build_page(rows, page.limit, key=lambda m: (m.created_at, m.id))
        return [self._out(m) for m in items], cursor

    async def download(self, manual_id: uuid.UUID, *, inline: bool = False) -> DownloadOut:
        """A signed URL of the PDF; ``inline``: without an attachment name, so a browser shows it (the web
        interface opens it at a cited page with ``#page=N``)."""
        manual = await self._manual(manual_id)
        return await signed_download(
            self.storage,
            manual.storage_key,
            filename="" if inline else manual.file_name,
            content_type="application/pdf",
        )

    # --- reports ------------------------------------------------------------------------------------
    async def report(self, manual_id: uuid.UUID, reason: str) -> ReportOut:
        """A user reports a manual they can see: it enters the moderation queue (one open report per user)."""
        user_id = self.uow.actor.require_user_id()
        await self._manual(manual_id)
        already = Conflict("You have already reported this manual.", code="already_reported")
        if await self.manuals.open_report(user_id, manual_id) is not None:
            raise already
        report = ManualReport(id=uuid.uuid4(), user_id=user_id, manual_id=manual_id, reason=reason)
        try:
            async with self.session.begin_nested():
                await self.manuals.add_report(report)
        except IntegrityError as exc:
            raise already from exc
        self.uow.record(AuditEntry("manual_reported", "manual", manual_id, new_values={"reason": reason}))
        return ReportOut.model_validate(report)

    # --- search -------------------------------------------------------------------------------------
    async def search(
        self,
        query: str,
        *,
        scope: list[uuid.UUID] | None = None,
        homes: Sequence[uuid.UUID] | None = None,
        model_id: uuid.UUID | None = None,
        limit: int,
    ) -> SearchOut:
        """Ranked passages: full text, fused with vector similarity when an embedder and pgvector exist.
        ``scope``: only these manuals (e.g. one device's, resolved by the devices domain); else ``model_id``:
        the manuals of that catalog model; else the whole library. ``homes``: whose uploads may appear
        besides the shared library (default: the caller's homes; a device's search: that device's home)."""
        homes = self._homes() if homes is None else list(homes)
        if scope is None and model_id is not None:
            found = await CatalogRepository(self.session).model(model_id)
            if found is None:
                raise ModelNotFound()
            model, maker = found
            scope = await self.manuals.for_model(maker, model.model_number, homes)
        if scope == []:
            return SearchOut(query=query, mode="fulltext", items=[], note="No manuals in scope.")
        lexical = await self.manuals.fulltext(query, scope, homes, limit * 2)
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
        semantic = await self.manuals.semantic(vector, scope, homes, limit * 2)
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
            source=source_of(row["visibility"]),
        )


def _source(manual: Manual) -> ManualSource:
    return "verified" if manual.verified_at is not None else "household"


def _str(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


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

"""Every manual-library query: de-duplication (seed 000 Query 3), passages, search, moderation. A device's
links to manuals (seed 000 Query 2) are the devices domain's: ``homeops.devices.links``.

Row security hides other homes' uploads; every query here also names the scope it is about (the shared
library plus the uploads of the given homes — the home an upload is for, a device's home), so a manual of one
of the caller's homes never turns up for another. The lookups that need a GIN or vector index (de-dup level 3,
a model's manuals, passage search) call the manuals migration's ``SECURITY DEFINER`` functions, which apply
the same rule themselves."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.sql.elements import KeyedColumnElement
from sqlalchemy.types import String

from homeops.core.database import rows_affected
from homeops.core.repository import Repository
from homeops.manuals.models import (
    Manual,
    ManualChunk,
    ManualReport,
    ManualStatus,
    ManualTrustedSource,
    ManualType,
    ManualVisibility,
    ReportStatus,
)

# Seed 000 Query 2's order: user → troubleshooting → installation → service → other.
MANUAL_TYPE_ORDER = case(
    (Manual.manual_type == ManualType.user, 1),
    (Manual.manual_type == ManualType.troubleshooting, 2),
    (Manual.manual_type == ManualType.installation, 3),
    (Manual.manual_type == ManualType.service, 4),
    else_=5,
)


# The columns ``ManualOut`` is built from (hot read paths select these, not the entity).
_OUT_NAMES = (
    "id",
    "brand",
    "manufacturer_id",
    "model_numbers",
    "category_code",
    "manual_type",
    "language",
    "version",
    "year",
    "title",
    "file_name",
    "content_type",
    "file_size",
    "file_hash",
    "content_hash",
    "page_count",
    "status",
    "failure_reason",
    "indexed",
    "embedded",
    "source_url",
    "created_at",
    "processed_at",
    "visibility",
    "provenance",
    "home_id",
    "verified_at",
)
MANUAL_OUT_COLUMNS: tuple[KeyedColumnElement[Any], ...] = tuple(
    Manual.__table__.c[name] for name in _OUT_NAMES
)


def normalise_model_number(value: str) -> str:
    return " ".join(value.split()).upper()


def in_scope(homes: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    """What a home's library holds: the shared library, and the household uploads of ``homes`` (row security
    additionally hides every home the caller does not read)."""
    shared = Manual.visibility == ManualVisibility.shared
    if not homes:
        return shared
    ids = list(homes)
    mine = Manual.home_id == ids[0] if len(ids) == 1 else Manual.home_id.in_(ids)
    return or_(shared, and_(Manual.visibility == ManualVisibility.household, mine))


def in_library_of(home_id: Any) -> ColumnElement[bool]:
    """The manual belongs to the library of the home ``home_id`` (a column or a value): shared, or that home's
    own upload — the join condition of a device's manuals (seed Queries 1 and 2): a link never shows a hidden
    manual or another home's upload (row security hides the latter from the caller anyway)."""
    return or_(
        Manual.visibility == ManualVisibility.shared,
        and_(Manual.visibility == ManualVisibility.household, Manual.home_id == home_id),
    )


def _uuids(values: Sequence[uuid.UUID] | None) -> Any:
    return None if values is None else literal(list(values), ARRAY(PG_UUID(as_uuid=True)))


class ManualRepository(Repository[Manual]):
    model = Manual

    # Seed 000 Query 3, level by level, in one scope: the shared library plus the household uploads of
    # ``homes`` (the home an upload is for; none for an upload into the shared library).
    async def by_file_hash(self, file_hash: str, homes: Sequence[uuid.UUID]) -> Manual | None:
        return await self.session.scalar(
            select(Manual)
            .where(Manual.file_hash == file_hash, in_scope(homes))
            .order_by(Manual.visibility.desc(), Manual.created_at)  # the shared one first
            .limit(1)
        )

    async def by_content_hash(self, content_hash: str, homes: Sequence[uuid.UUID]) -> Manual | None:
        return await self.session.scalar(
            select(Manual)
            .where(Manual.content_hash == content_hash, in_scope(homes))
            .order_by(Manual.visibility.desc(), Manual.created_at)
            .limit(1)
        )

    async def by_composite(
        self,
        brand: str,
        model_numbers: list[str],
        manual_type: ManualType,
        version: str,
        homes: Sequence[uuid.UUID],
    ) -> Manual | None:
        """Same brand, an overlapping model number, same type and version (the shared one first): one probe of
        the GIN index on ``homeops_manual_keys(...)``, in ``homeops_manual_composite`` (which applies the
        visibility rule itself: under a row policy the index could not serve ``&&``)."""
        found = func.homeops_manual_composite(
            brand,
            literal(manual_type, Manual.__table__.c.manual_type.type),
            version,
            literal(model_numbers, ARRAY(String)),
            _uuids(homes),
        )
        manual_id = await self.session.scalar(select(found))
        return None if manual_id is None else await self.get(manual_id)

    async def for_model(
        self, manufacturer: str, model_number: str, homes: Sequence[uuid.UUID]
    ) -> list[uuid.UUID]:
        """The ids of the manuals (not failed) of a manufacturer that list ``model_number``, in the scope of
        ``homes`` (``homeops_manuals_for_model``: the GIN index on ``model_numbers``)."""
        found = func.homeops_manuals_for_model(
            manufacturer, normalise_model_number(model_number), _uuids(homes)
        )
        return list(await self.session.scalars(select(found)))

    async def search_list(
        self,
        *,
        homes: Sequence[uuid.UUID],
        brand: str | None,
        model_number: str | None,
        manual_type: ManualType | None,
        status: ManualStatus | None,
        visibility: ManualVisibility | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> list[Manual]:
        """The library of ``homes`` (shared + their uploads), newest first."""
        stmt = (
            select(Manual)
            .where(in_scope(homes))
            .order_by(Manual.created_at.desc(), Manual.id.desc())
            .limit(limit + 1)
        )
        if brand:
            stmt = stmt.where(func.lower(Manual.brand) == brand.strip().lower())
        if model_number:
            stmt = stmt.where(Manual.model_numbers.contains([normalise_model_number(model_number)]))
        if manual_type:
            stmt = stmt.where(Manual.manual_type == manual_type)
        if status:
            stmt = stmt.where(Manual.status == status)
        if visibility:
            stmt = stmt.where(Manual.visibility == visibility)
        if after is not None:
            stmt = stmt.where(tuple_(Manual.created_at, Manual.id) < tuple_(*after))
        return list(await self.session.scalars(stmt))

    async def by_ids(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Manual]:
        if not ids:
            return {}
        return {m.id: m for m in await self.session.scalars(select(Manual).where(Manual.id.in_(list(ids))))}

    async def locked(self, manual_id: uuid.UUID) -> Manual | None:
        """The manual, ``FOR UPDATE`` (moderation; processing before it copies the visibility)."""
        return await self.session.scalar(
            select(Manual)
            .where(Manual.id == manual_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def shared_copy(self, manual: Manual) -> uuid.UUID | None:
        """A shared manual with the same bytes as ``manual`` (verifying it would duplicate that one)."""
        return await self.session.scalar(
            select(Manual.id).where(
                Manual.file_hash == manual.file_hash,
                Manual.visibility == ManualVisibility.shared,
                Manual.id != manual.id,
            )
        )

    # --- moderation: the manual's visibility onto its passages and vectors --------------------------
    async def set_scope(
        self, manual_id: uuid.UUID, visibility: ManualVisibility, home_id: uuid.UUID | None
    ) -> None:
        """The passages' and vectors' copy of the manual's visibility (their row policies read it)."""
        await self.session.execute(
            update(ManualChunk)
            .where(ManualChunk.manual_id == manual_id)
            .values(visibility=visibility, home_id=home_id)
        )
        if await self.has_embeddings_table():
            await self.session.execute(
                text(
                    "UPDATE manual_chunk_embeddings SET visibility = CAST(:v AS manual_visibility), home_id = :h "
                    "WHERE manual_id = :m"
                ),
                {"v": visibility.value, "h": home_id, "m": manual_id},
            )

    async def file_in_use(self, storage_key: str, except_id: uuid.UUID) -> bool:
        """Whether another manual (any home's: the function sees them all, says only yes or no) still uses the
        stored file: the same bytes uploaded for two homes are one content-addressed object."""
        return bool(
            await self.session.scalar(select(func.homeops_manual_file_in_use(storage_key, except_id)))
        )

    # --- reports and trusted sources ----------------------------------------------------------------
    async def add_report(self, report: ManualReport) -> ManualReport:
        self.session.add(report)
        await self.session.flush()
        return report

    async def add_trusted_source(self, source: ManualTrustedSource) -> ManualTrustedSource:
        self.session.add(source)
        await self.session.flush()
        return source

    async def open_report(self, user_id: uuid.UUID, manual_id: uuid.UUID) -> ManualReport | None:
        return await self.session.scalar(
            select(ManualReport).where(
                ManualReport.user_id == user_id,
                ManualReport.manual_id == manual_id,
                ManualReport.status == ReportStatus.open,
            )
        )

    async def reports_of(self, manual_id: uuid.UUID, limit: int) -> list[ManualReport]:
        return list(
            await self.session.scalars(
                select(ManualReport)
                .where(ManualReport.manual_id == manual_id)
                .order_by(ManualReport.created_at.desc(), ManualReport.id.desc())
                .limit(limit)
            )
        )

    async def recent_reports(
        self, manual_ids: Sequence[uuid.UUID], per_manual: int
    ) -> dict[uuid.UUID, list[ManualReport]]:
        """The open reports of each manual, newest first, at most ``per_manual`` each."""
        if not manual_ids:
            return {}
        rows = await self.session.scalars(
            select(ManualReport)
            .where(ManualReport.manual_id.in_(list(manual_ids)), ManualReport.status == ReportStatus.open)
            .order_by(ManualReport.created_at.desc(), ManualReport.id.desc())
        )
        out: dict[uuid.UUID, list[ManualReport]] = {}
        for report in rows:
            kept = out.setdefault(report.manual_id, [])
            if len(kept) < per_manual:
                kept.append(report)
        return out

    async def resolve_reports(
        self, manual_id: uuid.UUID, status: ReportStatus, by: uuid.UUID | None, at: datetime
    ) -> int:
        """Closes the manual's open reports (every reporter's shard: a moderator's rare multi-shard write)."""
        return await rows_affected(
            self.session,
            update(ManualReport)
            .where(ManualReport.manual_id == manual_id, ManualReport.status == ReportStatus.open)
            .values(status=status, resolved_by=by, resolved_at=at),
        )

    async def trusted_source(self, organization_id: uuid.UUID) -> ManualTrustedSource | None:
        return await self.session.scalar(
            select(ManualTrustedSource).where(ManualTrustedSource.organization_id == organization_id)
        )

    async def trusted_sources(self) -> list[ManualTrustedSource]:
        return list(
            await self.session.scalars(
                select(ManualTrustedSource).order_by(
                    ManualTrustedSource.created_at, ManualTrustedSource.organization_id
                )
            )
        )

    async def untrust(self, organization_id: uuid.UUID) -> int:
        return await rows_affected(
            self.session,
            delete(ManualTrustedSource).where(ManualTrustedSource.organization_id == organization_id),
        )

    # --- processing (the worker role; the importer as owner) ---------------------------------------------
    async def set_status(self, manual_id: uuid.UUID, status: ManualStatus, **values: Any) -> None:
        """An UPDATE without loading the row (the worker owns processing)."""
        await self.session.execute(
            update(Manual).where(Manual.id == manual_id).values(status=status, **values)
        )

    async def replace_chunks(
        self,
        manual_id: uuid.UUID,
        chunks: list[tuple[int, int, str]],
        visibility: ManualVisibility,
        home_id: uuid.UUID | None,
    ) -> None:
        """The manual's passages, each with the manual's visibility and home (for the row policy)."""
        await self.session.execute(delete(ManualChunk).where(ManualChunk.manual_id == manual_id))
        if chunks:
            connection = await self.session.connection()
            await connection.execute(
                insert(cast(Table, ManualChunk.__table__)),
                [
                    {
                        "manual_id": manual_id,
                        "chunk_index": i,
                        "page": p,
                        "content": c,
                        "visibility": visibility,
                        "home_id": home_id,
                    }
                    for i, p, c in chunks
                ],
            )

    async def has_embeddings_table(self) -> bool:
        return bool(
            await self.session.scalar(text("SELECT to_regclass('manual_chunk_embeddings') IS NOT NULL"))
        )

    async def store_embeddings(
        self,
        manual_id: uuid.UUID,
        model: str,
        vectors: list[tuple[int, list[float]]],
        visibility: ManualVisibility,
        home_id: uuid.UUID | None,
    ) -> None:
        connection = await self.session.connection()
        await connection.execute(
            text("DELETE FROM manual_chunk_embeddings WHERE manual_id = :m"), {"m": manual_id}
        )
        await connection.execute(
            text(
                "INSERT INTO manual_chunk_embeddings (manual_id, chunk_index, model, embedding, visibility, home_id) "
                "VALUES (:m, :i, :model, CAST(:v AS vector), CAST(:vis AS manual_visibility), :home)"
            ),
            [
                {
                    "m": manual_id,
                    "i": i,
                    "model": model,
                    "v": _vector(v),
                    "vis": visibility.value,
                    "home": home_id,
                }
                for i, v in vectors
            ],
        )

    # --- search (through the functions: the indexes serve them, the visibility rule is theirs) -------
    async def fulltext(
        self,
        query: str,
        manual_ids: list[uuid.UUID] | None,
        homes: Sequence[uuid.UUID],
        limit: int,
    ) -> list[dict[str, Any]]:
        """Ranked passages of ``manual_ids`` (None: the whole library of ``homes``) with a highlighted snippet
        and the manual's ``visibility``: the shared library's, and the uploads of ``homes`` only."""
        rows = await self.session.execute(
            text(
                "SELECT manual_id, chunk_index, page, title, file_name, visibility, snippet, score "
                "FROM homeops_manual_passages(:q, :ids, :homes, :limit)"
            ),
            {"q": query, "ids": manual_ids, "homes": list(homes), "limit": limit},
        )
        return [dict(r._mapping) for r in rows.all()]

    async def semantic(
        self,
        vector: list[float],
        manual_ids: list[uuid.UUID] | None,
        homes: Sequence[uuid.UUID],
        limit: int,
    ) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            text(
                "SELECT manual_id, chunk_index, page, title, file_name, visibility, snippet, score "
                "FROM homeops_manual_neighbours(CAST(:v AS vector), :ids, :homes, :limit)"
            ),
            {"v": _vector(vector), "ids": manual_ids, "homes": list(homes), "limit": limit},
        )
        return [dict(r._mapping) for r in rows.all()]


def _vector(values: list[float]) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in values) + "]"

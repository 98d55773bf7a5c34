"""Every manual-library query: de-duplication (seed 000 Query 3), passages, search. A device's links to
manuals (seed 000 Query 2) are the devices domain's: ``homeops.devices.links``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, delete, func, insert, literal, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import KeyedColumnElement
from sqlalchemy.types import String

from homeops.core.repository import Repository
from homeops.manuals.models import Manual, ManualChunk, ManualStatus, ManualType

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
)
MANUAL_OUT_COLUMNS: tuple[KeyedColumnElement[Any], ...] = tuple(
    Manual.__table__.c[name] for name in _OUT_NAMES
)


def normalise_model_number(value: str) -> str:
    return " ".join(value.split()).upper()


class ManualRepository(Repository[Manual]):
    model = Manual

    # Seed 000 Query 3, level by level.
    async def by_file_hash(self, file_hash: str) -> Manual | None:
        return await self.session.scalar(select(Manual).where(Manual.file_hash == file_hash))

    async def by_content_hash(self, content_hash: str) -> Manual | None:
        return await self.session.scalar(
            select(Manual).where(Manual.content_hash == content_hash).order_by(Manual.created_at).limit(1)
        )

    async def by_composite(
        self, brand: str, model_numbers: list[str], manual_type: ManualType, version: str
    ) -> Manual | None:
        """Same brand, an overlapping model number, same type and version: one probe of the GIN index on
        ``homeops_manual_keys(...)`` (both sides built by that SQL function, so they always agree)."""
        wanted = func.homeops_manual_keys(
            brand.strip(),
            literal(manual_type, Manual.__table__.c.manual_type.type),
            version,
            literal(model_numbers, ARRAY(String)),
        )
        keys = func.homeops_manual_keys(
            Manual.brand, Manual.manual_type, Manual.version, Manual.model_numbers
        )
        # MATERIALIZED: find the (few) matches through the GIN index first; left to itself, the planner may
        # walk the created_at index for "ORDER BY created_at LIMIT 1" and test every manual.
        hits = (
            select(Manual.id, Manual.created_at)
            .where(keys.op("&&")(wanted))
            .cte("hits")
            .prefix_with("MATERIALIZED")
        )
        first = select(hits.c.id).order_by(hits.c.created_at).limit(1).scalar_subquery()
        return await self.session.scalar(select(Manual).where(Manual.id == first))

    async def search_list(
        self,
        *,
        brand: str | None,
        model_number: str | None,
        manual_type: ManualType | None,
        status: ManualStatus | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> list[Manual]:
        stmt = select(Manual).order_by(Manual.created_at.desc(), Manual.id.desc()).limit(limit + 1)
        if brand:
            stmt = stmt.where(func.lower(Manual.brand) == brand.strip().lower())
        if model_number:
            stmt = stmt.where(Manual.model_numbers.contains([normalise_model_number(model_number)]))
        if manual_type:
            stmt = stmt.where(Manual.manual_type == manual_type)
        if status:
            stmt = stmt.where(Manual.status == status)
        if after is not None:
            stmt = stmt.where(tuple_(Manual.created_at, Manual.id) < tuple_(*after))
        return list(await self.session.scalars(stmt))

    # --- processing (the worker role; the importer as owner) ---------------------------------------------
    async def set_status(self, manual_id: uuid.UUID, status: ManualStatus, **values: Any) -> None:
        """An UPDATE without loading the row (the worker owns processing)."""
        await self.session.execute(
            update(Manual).where(Manual.id == manual_id).values(status=status, **values)
        )

    async def replace_chunks(self, manual_id: uuid.UUID, chunks: list[tuple[int, int, str]]) -> None:
        await self.session.execute(delete(ManualChunk).where(ManualChunk.manual_id == manual_id))
        if chunks:
            connection = await self.session.connection()
            await connection.execute(
                insert(cast(Table, ManualChunk.__table__)),
                [{"manual_id": manual_id, "chunk_index": i, "page": p, "content": c} for i, p, c in chunks],
            )

    async def has_embeddings_table(self) -> bool:
        return bool(
            await self.session.scalar(text("SELECT to_regclass('manual_chunk_embeddings') IS NOT NULL"))
        )

    async def store_embeddings(
        self, manual_id: uuid.UUID, model: str, vectors: list[tuple[int, list[float]]]
    ) -> None:
        connection = await self.session.connection()
        await connection.execute(
            text("DELETE FROM manual_chunk_embeddings WHERE manual_id = :m"), {"m": manual_id}
        )
        await connection.execute(
            text(
                "INSERT INTO manual_chunk_embeddings (manual_id, chunk_index, model, embedding) "
                "VALUES (:m, :i, :model, CAST(:v AS vector))"
            ),
            [
                {"m": manual_id, "i": i, "model": model, "v": "[" + ",".join(f"{x:.6f}" for x in v) + "]"}
                for i, v in vectors
            ],
        )

    # --- search --------------------------------------------------------------------------------------
    async def fulltext(
        self, query: str, manual_ids: list[uuid.UUID] | None, limit: int
    ) -> list[dict[str, Any]]:
        tsq = func.websearch_to_tsquery("english", query)
        rank = func.ts_rank_cd(ManualChunk.search_vector, tsq, 32)
        snippet = func.ts_headline(
            "english",
            ManualChunk.content,
            tsq,
            "StartSel=<mark>, StopSel=</mark>, MaxWords=40, MinWords=15, MaxFragments=2, FragmentDelimiter= … ",
        )
        stmt = (
            select(
                ManualChunk.manual_id,
                ManualChunk.chunk_index,
                ManualChunk.page,
                Manual.title,
                Manual.file_name,
                snippet.label("snippet"),
                rank.label("score"),
            )
            .join(Manual, Manual.id == ManualChunk.manual_id)
            .where(ManualChunk.search_vector.op("@@")(tsq))
            .order_by(rank.desc(), ManualChunk.manual_id, ManualChunk.chunk_index)
            .limit(limit)
        )
        if manual_ids is not None:
            stmt = stmt.where(ManualChunk.manual_id.in_(manual_ids))
        return [dict(r._mapping) for r in (await self.session.execute(stmt)).all()]

    async def semantic(
        self, vector: list[float], manual_ids: list[uuid.UUID] | None, limit: int
    ) -> list[dict[str, Any]]:
        scope = "AND e.manual_id = ANY(:ids)" if manual_ids is not None else ""
        rows = await self.session.execute(
            text(
                "SELECT e.manual_id, e.chunk_index, c.page, m.title, m.file_name, left(c.content, 300) AS snippet, "
                "1 - (e.embedding <=> CAST(:v AS vector)) AS score "
                "FROM manual_chunk_embeddings e JOIN manual_chunks c USING (manual_id, chunk_index) "
                f"JOIN manuals m ON m.id = e.manual_id WHERE true {scope} "
                "ORDER BY e.embedding <=> CAST(:v AS vector) LIMIT :limit"
            ),
            {"v": "[" + ",".join(f"{x:.6f}" for x in vector) + "]", "ids": manual_ids, "limit": limit},
        )
        return [dict(r._mapping) for r in rows.all()]

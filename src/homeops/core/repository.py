"""The generic repository every domain's repositories extend: point reads, locked reads, inserts that take
their server defaults back with ``RETURNING`` (no refresh SELECT), deletes, and keyset pages.

Updates of loaded entities are flushed with ``RETURNING updated_at`` (the trigger's value; see
``core.models``), so no repository refreshes an entity after writing it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.database import rows_affected

M = TypeVar("M")


class Repository(Generic[M]):
    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, object_id: uuid.UUID) -> M | None:
        """The row if visible (row security decides), loaded fresh."""
        return await self.session.scalar(
            select(self.model).where(self.model.id == object_id).execution_options(populate_existing=True)
        )

    async def get_for_update(self, object_id: uuid.UUID) -> M | None:
        """The row locked (``FOR UPDATE``) if the caller may change it."""
        return await self.session.scalar(
            select(self.model)
            .where(self.model.id == object_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def add(self, obj: M) -> M:
        """INSERT … RETURNING the server defaults (ids, timestamps) into ``obj``."""
        self.session.add(obj)
        await self.session.flush()
        return obj

    async def add_all(self, objs: Sequence[M]) -> Sequence[M]:
        self.session.add_all(objs)
        await self.session.flush()
        return objs

    async def save(self) -> None:
        """Flushes changes made to loaded entities (UPDATE … RETURNING updated_at)."""
        await self.session.flush()

    async def delete_by_id(self, object_id: uuid.UUID) -> int:
        return await rows_affected(self.session, delete(self.model).where(self.model.id == object_id))


def keyset(
    stmt: Select[Any], limit: int, after: tuple[datetime, uuid.UUID] | None, created: Any, row_id: Any
) -> Select[Any]:
    """Newest first by ``(created, id)``, ``limit + 1`` rows (the extra one tells there is a next page)."""
    if after is not None:
        stmt = stmt.where(tuple_(created, row_id) < tuple_(*after))
    return stmt.order_by(created.desc(), row_id.desc()).limit(limit + 1)

"""Audit rows: append (any caller, through RLS INSERT) and read (admins only, through RLS SELECT)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.audit.models import AuditLog
from homeops.core.audit import AuditEntry, AuditRecorder


def _json(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else to_jsonable_python(value)


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, ctx: AuditRecorder, status: int, entries: list[AuditEntry]) -> None:
        rows = [
            {
                "user_id": e.user_id or ctx.user_id,
                "action_type": e.action_type[:100],
                "entity_type": e.entity_type,
                "entity_id": e.entity_id,
                "action_description": e.description,
                "old_values": _json(e.old_values),
                "new_values": _json(e.new_values),
                "ip_address": ctx.ip,
                "user_agent": ctx.user_agent,
                "request_method": ctx.method,
                "request_url": ctx.url,
                "response_status": status,
                "execution_time_ms": ctx.elapsed_ms,
                "error_message": e.error_message,
                "session_id": str(ctx.session_id) if ctx.session_id else None,
                "request_id": ctx.request_id,
            }
            for e in entries
        ]
        # A Core insert without RETURNING: the caller may append rows it is not allowed to read back.
        # (Executed on the connection: the ORM's bulk insert would add RETURNING for the primary key.)
        connection = await self.session.connection()
        await connection.execute(insert(AuditLog.__table__), rows)  # type: ignore[arg-type]

    async def search(
        self,
        *,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
        user_id: uuid.UUID | None = None,
        entity_type: str | None = None,
        entity_id: uuid.UUID | None = None,
        action_type: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AuditLog]:
        stmt = select(AuditLog).order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit + 1)
        if user_id is not None:
            stmt = stmt.where(AuditLog.user_id == user_id)
        if entity_type is not None:
            stmt = stmt.where(AuditLog.entity_type == entity_type)
        if entity_id is not None:
            stmt = stmt.where(AuditLog.entity_id == entity_id)
        if action_type is not None:
            stmt = stmt.where(AuditLog.action_type == action_type)
        if since is not None:
            stmt = stmt.where(AuditLog.created_at >= since)
        if until is not None:
            stmt = stmt.where(AuditLog.created_at < until)
        if after is not None:
            stmt = stmt.where(tuple_(AuditLog.created_at, AuditLog.id) < tuple_(*after))
        return list(await self.session.scalars(stmt))

    async def get(self, log_id: uuid.UUID) -> AuditLog | None:
        """One row by id (admins only, as every read); each monthly partition's primary key leads with the id."""
        return await self.session.scalar(select(AuditLog).where(AuditLog.id == log_id).limit(1))


async def write_audit(
    session: AsyncSession, ctx: AuditRecorder, status: int, entries: list[AuditEntry]
) -> None:
    """The unit of work's audit writer (wired in by the application)."""
    await AuditRepository(session).append(ctx, status, entries)

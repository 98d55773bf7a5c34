"""Every troubleshooting and ticket query. RLS decides visibility (own rows, plus staff reads); the
"my sessions" and "my tickets" lists add the owner filter explicitly."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from homeops.devices.models import Device
from homeops.identity.models import User, UserRole
from homeops.troubleshooting.models import (
    Priority,
    ServiceTicket,
    SessionStatus,
    TicketStatus,
    TroubleshootingSession,
)

SessionRow = tuple[TroubleshootingSession, str | None, str | None]  # session, device nickname, model number


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: TroubleshootingSession) -> TroubleshootingSession:
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def refresh(self, row: TroubleshootingSession) -> None:
        await self.session.flush()
        await self.session.refresh(row)

    async def get(self, session_id: uuid.UUID) -> TroubleshootingSession | None:
        return await self.session.get(TroubleshootingSession, session_id, populate_existing=True)

    async def get_for_update(self, session_id: uuid.UUID) -> TroubleshootingSession | None:
        """Locks the row; RLS makes this ``None`` for anyone but the session's owner (UPDATE policy)."""
        return await self.session.get(
            TroubleshootingSession, session_id, populate_existing=True, with_for_update=True
        )

    async def device_labels(self, device_id: uuid.UUID) -> tuple[str | None, str | None]:
        row = (await self.session.execute(
            select(Device.nickname, Device.model_number).where(Device.id == device_id)
        )).first()
        return (row[0], row[1]) if row else (None, None)

    async def search(
        self,
        *,
        user_id: uuid.UUID,
        symptoms: list[str],
        status: SessionStatus | None,
        device_id: uuid.UUID | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> list[SessionRow]:
        """Seed 000 Query 5 in one statement: the user's sessions whose symptoms contain every given symptom
        (``symptoms @> '[…]'::jsonb``), newest first, with the device's nickname and model number. A device
        the user can no longer see leaves those two null.

        Under row-level security the planner walks ``(user_id, created_at DESC)`` and applies the containment
        as a filter (``@>`` is not leakproof, so the jsonb_path_ops GIN index cannot serve it before the
        policy); that costs per session of the user, not per table row: p50 0.5 ms, p99 1.9 ms at 2M
        sessions (benchmarks/README.md). The GIN index serves owner-side queries across users."""
        ts = TroubleshootingSession
        stmt = (
            select(ts, Device.nickname, Device.model_number)
            .outerjoin(Device, Device.id == ts.device_id)
            .where(ts.user_id == user_id)
            .options(defer(ts.conversation), defer(ts.suggestions))
            .order_by(ts.created_at.desc(), ts.id.desc())
            .limit(limit + 1)
        )
        if symptoms:
            stmt = stmt.where(ts.symptoms.contains(symptoms))
        if status is not None:
            stmt = stmt.where(ts.status == status)
        if device_id is not None:
            stmt = stmt.where(ts.device_id == device_id)
        if after is not None:
            stmt = stmt.where(tuple_(ts.created_at, ts.id) < tuple_(*after))
        return [(s, n, m) for s, n, m in (await self.session.execute(stmt)).all()]


class TicketRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: ServiceTicket) -> ServiceTicket:
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def refresh(self, row: ServiceTicket) -> None:
        await self.session.flush()
        await self.session.refresh(row)

    async def get(self, ticket_id: uuid.UUID) -> ServiceTicket | None:
        return await self.session.get(ServiceTicket, ticket_id, populate_existing=True)

    async def get_for_update(self, ticket_id: uuid.UUID) -> ServiceTicket | None:
        return await self.session.get(ServiceTicket, ticket_id, populate_existing=True, with_for_update=True)

    async def for_session(self, session_id: uuid.UUID) -> ServiceTicket | None:
        return await self.session.scalar(select(ServiceTicket).where(ServiceTicket.session_id == session_id))

    async def search(
        self,
        *,
        user_id: uuid.UUID | None,
        status: TicketStatus | None,
        priority: Priority | None,
        assigned_to: uuid.UUID | None,
        device_id: uuid.UUID | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> list[ServiceTicket]:
        """Newest first. ``user_id`` restricts to one owner (homeowners); staff pass ``None`` (RLS: all)."""
        stmt = (
            select(ServiceTicket)
            .order_by(ServiceTicket.created_at.desc(), ServiceTicket.id.desc())
            .limit(limit + 1)
        )
        if user_id is not None:
            stmt = stmt.where(ServiceTicket.user_id == user_id)
        if status is not None:
            stmt = stmt.where(ServiceTicket.status == status)
        if priority is not None:
            stmt = stmt.where(ServiceTicket.priority == priority)
        if assigned_to is not None:
            stmt = stmt.where(ServiceTicket.assigned_to == assigned_to)
        if device_id is not None:
            stmt = stmt.where(ServiceTicket.device_id == device_id)
        if after is not None:
            stmt = stmt.where(tuple_(ServiceTicket.created_at, ServiceTicket.id) < tuple_(*after))
        return list(await self.session.scalars(stmt))

    async def active_role(self, user_id: uuid.UUID) -> UserRole | None:
        """The role of an active user *visible to the caller* (RLS on users: yourself, housemates and staff,
        who may read every account since migration 0005)."""
        return await self.session.scalar(
            select(User.role).where(User.id == user_id, User.is_active.is_(True), User.deleted_at.is_(None))
        )

    async def active_user_ids(self, roles: tuple[UserRole, ...]) -> list[uuid.UUID]:
        """(Worker, as owner.) Every active user with one of ``roles``; under the API role RLS would hide
        everyone but the caller's housemates."""
        return list(await self.session.scalars(
            select(User.id).where(User.role.in_(roles), User.is_active.is_(True), User.deleted_at.is_(None))
            .order_by(User.id)
        ))

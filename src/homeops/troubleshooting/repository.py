"""Every troubleshooting and ticket query. RLS decides visibility (own rows, plus staff reads); the
"my sessions" and "my tickets" lists add the owner filter and the caller's homes explicitly (on a cluster the
homes route the query to their shards). Joins to devices carry home_id (co-located tables); writes name the
full key (home_id, id). Staff's ticket queue spans every home (staff are not a tenant)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, select, update
from sqlalchemy.orm import InstrumentedAttribute

from homeops.core.database import rows_affected
from homeops.core.repository import Repository, keyset
from homeops.devices.models import Device
from homeops.identity.models import User, UserRole
from homeops.troubleshooting.models import (
    Priority,
    ServiceTicket,
    SessionStatus,
    TicketStatus,
    TroubleshootingSession,
)

_TS = TroubleshootingSession
# What a row of the history search shows (``SessionSummaryOut``): no conversation, no suggestions.
SUMMARY_COLUMNS: tuple[InstrumentedAttribute[Any], ...] = (
    _TS.id,
    _TS.user_id,
    _TS.device_id,
    _TS.home_id,
    _TS.issue_summary,
    _TS.symptoms,
    _TS.error_codes,
    _TS.status,
    _TS.resolution,
    _TS.resolved_at,
    _TS.user_satisfaction,
    _TS.created_at,
    _TS.updated_at,
)


class SessionRepository(Repository[TroubleshootingSession]):
    model = TroubleshootingSession

    async def device(self, home_id: uuid.UUID, device_id: uuid.UUID) -> Device | None:
        """The session's device if the caller may still see it (by its full key)."""
        return await self.session.scalar(
            select(Device).where(Device.home_id == home_id, Device.id == device_id)
        )

    async def device_labels(self, home_id: uuid.UUID, device_id: uuid.UUID) -> tuple[str | None, str | None]:
        row = (
            await self.session.execute(
                select(Device.nickname, Device.model_number).where(
                    Device.home_id == home_id, Device.id == device_id
                )
            )
        ).first()
        return (row[0], row[1]) if row else (None, None)

    async def search(
        self,
        *,
        user_id: uuid.UUID,
        homes: ColumnElement[bool],
        symptoms: list[str],
        status: SessionStatus | None,
        device_id: uuid.UUID | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> Sequence[RowMapping]:
        """Seed 000 Query 5 in one statement: the user's sessions in ``homes`` (the caller's homes, see
        ``home_filter``) whose symptoms contain every given symptom (``symptoms @> '[…]'::jsonb``), newest
        first, with the device's nickname and model number (the columns of ``SUMMARY_COLUMNS`` plus
        ``device_nickname`` and ``model_number``); the device is joined by (home_id, device_id), on the
        session's shard. A device the user can no longer see leaves those two null.

        Under row-level security the planner walks ``(user_id, created_at DESC)`` and applies the containment
        as a filter (``@>`` is not leakproof, so the jsonb_path_ops GIN index cannot serve it before the
        policy); that costs per session of the user, not per table row: p50 0.5 ms, p99 1.9 ms at 2M
        sessions (benchmarks/README.md). The GIN index serves owner-side queries across users."""
        ts = TroubleshootingSession
        stmt = (
            select(*SUMMARY_COLUMNS, Device.nickname.label("device_nickname"), Device.model_number)
            .outerjoin(Device, (Device.home_id == ts.home_id) & (Device.id == ts.device_id))
            .where(ts.user_id == user_id, homes)
        )
        if symptoms:
            stmt = stmt.where(ts.symptoms.contains(symptoms))
        if status is not None:
            stmt = stmt.where(ts.status == status)
        if device_id is not None:
            stmt = stmt.where(ts.device_id == device_id)
        stmt = keyset(stmt, limit, after, ts.created_at, ts.id)
        return (await self.session.execute(stmt)).mappings().all()


class TicketRepository(Repository[ServiceTicket]):
    model = ServiceTicket

    async def for_session(self, home_id: uuid.UUID, session_id: uuid.UUID) -> ServiceTicket | None:
        t = ServiceTicket
        return await self.session.scalar(select(t).where(t.home_id == home_id, t.session_id == session_id))

    async def get_in_home(self, home_id: uuid.UUID, ticket_id: uuid.UUID) -> ServiceTicket | None:
        t = ServiceTicket
        return await self.session.scalar(
            select(t).where(t.home_id == home_id, t.id == ticket_id).execution_options(populate_existing=True)
        )

    async def detach_sessions(self, sessions: ColumnElement[bool]) -> int:
        """Before sessions are deleted (retention): the tickets escalated from the sessions matching
        ``sessions`` (a condition on ``TroubleshootingSession``) lose the link, their ``session_id`` nulled in
        the same transaction (the foreign key has no ON DELETE SET NULL, see the troubleshooting migration).
        One statement over every home, joined on the full key (co-located on a cluster)."""
        ts, t = TroubleshootingSession, ServiceTicket
        return await rows_affected(
            self.session,
            update(t).where(t.home_id == ts.home_id, t.session_id == ts.id, sessions).values(session_id=None),
        )

    async def search(
        self,
        *,
        user_id: uuid.UUID | None,
        homes: ColumnElement[bool] | None,
        status: TicketStatus | None,
        priority: Priority | None,
        assigned_to: uuid.UUID | None,
        device_id: uuid.UUID | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
        unassigned: bool = False,
    ) -> list[ServiceTicket]:
        """Newest first. Homeowners: ``user_id`` (their own) in ``homes`` (their homes); staff pass ``None`` for
        both (RLS: every ticket). ``unassigned``: only tickets nobody is assigned to.

        The staff queue at 100,000 tickets: under row security only leakproof conditions can be index
        conditions (uuid equality and ``IS NULL`` are, enum equality is not), so the queue walks
        ``ix_service_tickets_created`` backwards (or ``ix_service_tickets_assigned_to`` for an assignee or the
        unassigned, or a status's partial index) and stops after ``limit + 1`` rows: well under a
        millisecond per page at any depth."""
        stmt = select(ServiceTicket)
        if user_id is not None:
            stmt = stmt.where(ServiceTicket.user_id == user_id)
        if homes is not None:
            stmt = stmt.where(homes)
        if status is not None:
            stmt = stmt.where(ServiceTicket.status == status)
        if priority is not None:
            stmt = stmt.where(ServiceTicket.priority == priority)
        if assigned_to is not None:
            stmt = stmt.where(ServiceTicket.assigned_to == assigned_to)
        elif unassigned:
            stmt = stmt.where(ServiceTicket.assigned_to.is_(None))
        if device_id is not None:
            stmt = stmt.where(ServiceTicket.device_id == device_id)
        stmt = keyset(stmt, limit, after, ServiceTicket.created_at, ServiceTicket.id)
        return list(await self.session.scalars(stmt))

    async def active_role(self, user_id: uuid.UUID) -> UserRole | None:
        """The role of an active user *visible to the caller* (RLS on users: yourself, and staff, who may read
        every account)."""
        return await self.session.scalar(
            select(User.role).where(User.id == user_id, User.is_active.is_(True), User.deleted_at.is_(None))
        )

    async def active_user_ids(self, roles: tuple[UserRole, ...]) -> list[uuid.UUID]:
        """(Worker: it reads every account.) Every active user with one of ``roles``; under the API role RLS
        would hide everyone but the caller."""
        return list(
            await self.session.scalars(
                select(User.id)
                .where(User.role.in_(roles), User.is_active.is_(True), User.deleted_at.is_(None))
                .order_by(User.id)
            )
        )

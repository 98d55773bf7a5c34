"""Every maintenance query. Visibility comes from RLS (API role); "across my homes" adds the membership
filter. The reminder query runs in the worker as the database owner."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, cast, delete, func, literal, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.devices.models import Device, DeviceStatus
from homeops.homes.models import Home, HomeMember, HomeRole, Room
from homeops.identity.models import User
from homeops.maintenance.models import CalendarFeed, MaintenanceOccurrence, MaintenanceSchedule, ServiceEvent


@dataclass(frozen=True)
class DueRow:
    schedule_id: uuid.UUID
    device_id: uuid.UUID
    device_nickname: str
    location: str | None
    home_id: uuid.UUID
    task_name: str
    next_due: date
    estimated_cost: Decimal | None


def _my_homes(user_id: uuid.UUID) -> Select:  # type: ignore[type-arg]
    return select(HomeMember.home_id).where(HomeMember.user_id == user_id)


def _due_select() -> Select:  # type: ignore[type-arg]
    """Seed 000 Query 4's shape: schedules with their device's nickname and location, one statement."""
    s = MaintenanceSchedule
    return (
        select(
            s.id,
            s.device_id,
            Device.nickname,
            func.coalesce(Room.name, Device.location_detail),
            s.home_id,
            s.task_name,
            s.next_due,
            s.estimated_cost,
        )
        .join(Device, Device.id == s.device_id)
        .outerjoin(Room, Room.id == Device.room_id)
        .where(s.is_active, Device.status == DeviceStatus.active)
    )


class ScheduleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, schedule: MaintenanceSchedule) -> MaintenanceSchedule:
        self.session.add(schedule)
        await self.session.flush()
        await self.session.refresh(schedule)
        return schedule

    async def add_all(self, schedules: list[MaintenanceSchedule]) -> None:
        self.session.add_all(schedules)
        await self.session.flush()

    async def refresh(self, schedule: MaintenanceSchedule) -> None:
        await self.session.flush()
        await self.session.refresh(schedule)

    async def get(self, schedule_id: uuid.UUID, *, for_update: bool = False) -> MaintenanceSchedule | None:
        """``for_update`` locks the row so two completions of the same due date serialise."""
        stmt = select(MaintenanceSchedule).where(MaintenanceSchedule.id == schedule_id)
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt.execution_options(populate_existing=True))

    async def delete(self, schedule_id: uuid.UUID) -> None:
        await self.session.execute(delete(MaintenanceSchedule).where(MaintenanceSchedule.id == schedule_id))

    async def for_device(self, device_id: uuid.UUID) -> list[MaintenanceSchedule]:
        return list(
            await self.session.scalars(
                select(MaintenanceSchedule)
                .where(MaintenanceSchedule.device_id == device_id)
                .order_by(MaintenanceSchedule.next_due, MaintenanceSchedule.id)
            )
        )

    async def add_occurrence(self, occurrence: MaintenanceOccurrence) -> MaintenanceOccurrence:
        self.session.add(occurrence)
        await self.session.flush()
        await self.session.refresh(occurrence)
        return occurrence

    async def due(self, member_id: uuid.UUID, start: date | None, end: date, limit: int) -> list[DueRow]:
        """Active schedules of active devices in the member's homes due in [start, end] (start None: any
        date up to ``end``), soonest first. Upcoming lists only reminder-enabled ones (seed 000 Query 4)."""
        s = MaintenanceSchedule
        stmt = _due_select().where(s.home_id.in_(_my_homes(member_id)), s.next_due <= end)
        if start is not None:
            stmt = stmt.where(s.next_due >= start, s.reminder_enabled)
        stmt = stmt.order_by(s.next_due, s.id).limit(limit)
        return [DueRow(*row) for row in (await self.session.execute(stmt)).all()]

    async def reminder_candidates(self, today: date) -> list[tuple[DueRow, list[uuid.UUID]]]:
        """(Worker, as owner.) Schedules in their lead time or overdue, with the members to remind
        (owner, admin and member roles; not guests; active accounts only)."""
        s = MaintenanceSchedule
        recipients = (
            select(func.array_agg(HomeMember.user_id))
            .join(User, User.id == HomeMember.user_id)
            .where(
                HomeMember.home_id == s.home_id,
                User.is_active,
                User.deleted_at.is_(None),
                HomeMember.role.in_([HomeRole.owner, HomeRole.admin, HomeRole.member]),
            )
            .scalar_subquery()
        )
        stmt = (
            _due_select()
            .add_columns(recipients)
            .where(s.reminder_enabled, s.next_due - s.lead_days <= today)
            .order_by(s.next_due, s.id)
        )
        return [(DueRow(*row[:8]), list(row[8] or [])) for row in (await self.session.execute(stmt)).all()]


class ServiceEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, event: ServiceEvent) -> ServiceEvent:
        self.session.add(event)
        await self.session.flush()
        await self.session.refresh(event)
        return event

    async def get(self, event_id: uuid.UUID) -> ServiceEvent | None:
        # The key is (device_id, id); the unique index on id serves this lookup.
        return await self.session.scalar(
            select(ServiceEvent).where(ServiceEvent.id == event_id).execution_options(populate_existing=True)
        )

    async def history(
        self, device_id: uuid.UUID, limit: int, after: tuple[date, datetime, uuid.UUID] | None
    ) -> list[ServiceEvent]:
        """Newest first by (event_date, created_at, id), keyset paged."""
        e = ServiceEvent
        stmt = (
            select(e)
            .where(e.device_id == device_id)
            .order_by(e.event_date.desc(), e.created_at.desc(), e.id.desc())
            .limit(limit + 1)
        )
        if after is not None:
            stmt = stmt.where(tuple_(e.event_date, e.created_at, e.id) < tuple_(*after))
        return list(await self.session.scalars(stmt))

    async def append_attachment(self, event_id: uuid.UUID, item: dict[str, Any]) -> None:
        """Appends in SQL, so concurrent uploads to one event do not overwrite each other."""
        await self.session.execute(
            update(ServiceEvent)
            .where(ServiceEvent.id == event_id)
            .values(attachments=ServiceEvent.attachments.op("||")(cast(literal([item], JSONB), JSONB)))
        )


@dataclass(frozen=True)
class FeedSchedule:
    schedule: MaintenanceSchedule
    device_nickname: str
    location: str | None


class CalendarRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def user_for_hash(self, token_hash: str) -> uuid.UUID | None:
        """SECURITY DEFINER lookup: the feed URL has no login, so RLS cannot see the row yet."""
        return await self.session.scalar(text("SELECT homeops_calendar_user(:h)"), {"h": token_hash})

    async def get(self, user_id: uuid.UUID) -> CalendarFeed | None:
        return await self.session.get(CalendarFeed, user_id, populate_existing=True)

    async def upsert(self, user_id: uuid.UUID, token_hash: str) -> None:
        stmt = insert(CalendarFeed).values(user_id=user_id, token_hash=token_hash)
        stmt = stmt.on_conflict_do_update(
            index_elements=[CalendarFeed.user_id], set_={"token_hash": token_hash, "rotated_at": func.now()}
        )
        await self.session.execute(stmt)

    async def delete(self, user_id: uuid.UUID) -> int:
        result = await self.session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def timezone(self, user_id: uuid.UUID) -> str | None:
        """The time zone of the user's oldest home (the calendar's X-WR-TIMEZONE)."""
        return await self.session.scalar(
            select(Home.timezone)
            .join(HomeMember, HomeMember.home_id == Home.id)
            .where(HomeMember.user_id == user_id)
            .order_by(Home.created_at, Home.id)
            .limit(1)
        )

    async def schedules(self, user_id: uuid.UUID, until: date) -> list[FeedSchedule]:
        s = MaintenanceSchedule
        stmt = (
            select(s, Device.nickname, func.coalesce(Room.name, Device.location_detail))
            .join(Device, Device.id == s.device_id)
            .outerjoin(Room, Room.id == Device.room_id)
            .where(
                s.home_id.in_(_my_homes(user_id)),
                s.is_active,
                Device.status == DeviceStatus.active,
                s.next_due <= until,
            )
            .order_by(s.next_due, s.id)
        )
        return [FeedSchedule(*row) for row in (await self.session.execute(stmt)).all()]

    async def warranties(self, user_id: uuid.UUID, start: date, until: date) -> list[Device]:
        return list(
            await self.session.scalars(
                select(Device)
                .where(
                    Device.home_id.in_(_my_homes(user_id)),
                    Device.status == DeviceStatus.active,
                    Device.warranty_end.between(start, until),
                )
                .order_by(Device.warranty_end, Device.id)
            )
        )

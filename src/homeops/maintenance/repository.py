"""Every maintenance query. Visibility comes from RLS (API role); "across my homes" narrows to the caller's
home ids (from the actor, no membership sub-select). The reminder query runs in the worker as the database
owner.

"Today" is each home's own date: queries spanning homes compare a schedule's ``next_due`` with
``(:now AT TIME ZONE homes.timezone)::date``, ``:now`` being the clock's instant (so a frozen clock works).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Select,
    bindparam,
    cast,
    delete,
    func,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from homeops.core.repository import Repository
from homeops.devices.models import Device, DeviceStatus
from homeops.homes.models import Home, HomeMember, HomeRole, Room
from homeops.identity.models import User
from homeops.maintenance.models import CalendarFeed, MaintenanceOccurrence, MaintenanceSchedule, ServiceEvent

ONE_DAY = timedelta(days=1)


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
    days_until_due: int  # from the home's own today; negative when overdue


def _in_homes(column: Any, home_ids: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    """``column`` in the caller's homes (one home: an equality, as the access layer does)."""
    narrowed: ColumnElement[bool] = column == home_ids[0] if len(home_ids) == 1 else column.in_(list(home_ids))
    return narrowed


def home_today(now: datetime) -> ColumnElement[date]:
    """``(:now AT TIME ZONE homes.timezone)::date`` — the date it is at ``now`` in each row's home."""
    instant = bindparam("now", now, type_=DateTime(timezone=True))
    return cast(func.timezone(Home.timezone, instant), Date)


def _due_select(today: ColumnElement[date]) -> Select[*tuple[Any, ...]]:
    """Seed 000 Query 4's shape: schedules with their device's nickname and location and the days until due
    in their home's timezone, one statement."""
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
            (s.next_due - today).label("days_until_due"),
        )
        .join(Home, Home.id == s.home_id)
        .join(Device, Device.id == s.device_id)
        .outerjoin(Room, Room.id == Device.room_id)
        .where(s.is_active, Device.status == DeviceStatus.active)
    )


async def home_timezone(session: AsyncSession, home_id: uuid.UUID) -> str:
    """The home's IANA timezone (UTC when unset or invisible)."""
    return await session.scalar(select(Home.timezone).where(Home.id == home_id)) or "UTC"


class ScheduleRepository(Repository[MaintenanceSchedule]):
    model = MaintenanceSchedule

    async def for_device(self, device_id: uuid.UUID) -> list[MaintenanceSchedule]:
        return list(
            await self.session.scalars(
                select(MaintenanceSchedule)
                .where(MaintenanceSchedule.device_id == device_id)
                .order_by(MaintenanceSchedule.next_due, MaintenanceSchedule.id)
            )
        )

    async def due(
        self, home_ids: Sequence[uuid.UUID], now: datetime, within_days: int | None, limit: int
    ) -> list[DueRow]:
        """Active schedules of active devices in ``home_ids``, soonest first, against each home's own today:
        ``within_days`` set — reminder-enabled ones due from today to today + ``within_days`` (seed 000
        Query 4); None — the overdue ones (due before today). One statement, driven by the
        (home_id, next_due) index per home."""
        if not home_ids:
            return []
        s = MaintenanceSchedule
        today = home_today(now)
        # Every home's date is the UTC date ± 1: these constant bounds keep the (home_id, next_due) index range
        # in the scan; the per-home comparison then is exact.
        utc_day = now.astimezone(UTC).date()
        earliest = bindparam("earliest", utc_day - ONE_DAY, type_=Date)
        latest = bindparam("latest", utc_day + ONE_DAY, type_=Date)
        stmt = _due_select(today).where(_in_homes(s.home_id, home_ids))
        if within_days is None:
            stmt = stmt.where(s.next_due < latest, s.next_due < today)
        else:
            days = bindparam("days", within_days, type_=Integer)
            stmt = stmt.where(
                s.next_due >= earliest, s.next_due <= latest + days,
                s.next_due >= today, s.next_due <= today + days,
                s.reminder_enabled,
            )
        stmt = stmt.order_by(s.next_due, s.id).limit(limit)
        return [DueRow(*row) for row in (await self.session.execute(stmt)).all()]

    async def reminder_candidates(self, now: datetime) -> list[tuple[DueRow, list[uuid.UUID]]]:
        """(Worker, as owner.) Schedules in their lead time or overdue by their home's date at ``now``, with
        the members to remind (owner, admin and member roles; not guests; active accounts only)."""
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
        today = home_today(now)
        stmt = (
            _due_select(today)
            .add_columns(recipients)
            .where(s.reminder_enabled, s.next_due - s.lead_days <= today)
            .order_by(s.next_due, s.id)
        )
        return [(DueRow(*row[:9]), list(row[9] or [])) for row in (await self.session.execute(stmt)).all()]


class OccurrenceRepository(Repository[MaintenanceOccurrence]):
    model = MaintenanceOccurrence


class ServiceEventRepository(Repository[ServiceEvent]):
    # The key is (device_id, id); the unique index on id serves the base class's lookups by id.
    model = ServiceEvent

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

    async def append_attachment(self, event: ServiceEvent, item: dict[str, Any]) -> None:
        """Appends in SQL (concurrent uploads to one event never overwrite each other) and takes the new list
        and ``updated_at`` back into ``event`` with RETURNING."""
        row = (
            await self.session.execute(
                update(ServiceEvent)
                .where(ServiceEvent.device_id == event.device_id, ServiceEvent.id == event.id)
                .values(attachments=ServiceEvent.attachments.op("||")(cast(literal([item], JSONB), JSONB)))
                .returning(ServiceEvent.attachments, ServiceEvent.updated_at)
                .execution_options(synchronize_session=False)
            )
        ).one()
        set_committed_value(event, "attachments", row.attachments)  # as loaded: no UPDATE on the next flush
        set_committed_value(event, "updated_at", row.updated_at)


@dataclass(frozen=True)
class FeedHome:
    home_id: uuid.UUID
    role: HomeRole
    timezone: str


@dataclass(frozen=True)
class FeedSchedule:
    schedule: MaintenanceSchedule
    device_nickname: str
    location: str | None


class CalendarRepository(Repository[CalendarFeed]):
    """The per-user feeds (keyed by ``user_id``) and what a feed lists."""

    model = CalendarFeed

    async def user_for_hash(self, token_hash: str) -> uuid.UUID | None:
        """SECURITY DEFINER lookup: the feed URL has no login, so RLS cannot see the row yet."""
        user_id: uuid.UUID | None = await self.session.scalar(
            text("SELECT homeops_calendar_user(:h)"), {"h": token_hash}
        )
        return user_id

    async def get(self, object_id: uuid.UUID) -> CalendarFeed | None:
        """The feed of the user ``object_id``."""
        return await self.session.get(CalendarFeed, object_id, populate_existing=True)

    async def upsert(self, user_id: uuid.UUID, token_hash: str) -> None:
        stmt = insert(CalendarFeed).values(user_id=user_id, token_hash=token_hash)
        stmt = stmt.on_conflict_do_update(
            index_elements=[CalendarFeed.user_id], set_={"token_hash": token_hash, "rotated_at": func.now()}
        )
        await self.session.execute(stmt)

    async def delete_by_id(self, object_id: uuid.UUID) -> int:
        """Deletes the feed of the user ``object_id``; how many rows went (0 or 1)."""
        result = await self.session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == object_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def homes_of(self, user_id: uuid.UUID) -> list[FeedHome]:
        """The user's homes, oldest first (the first one's timezone is the calendar's X-WR-TIMEZONE)."""
        rows = await self.session.execute(
            select(HomeMember.home_id, HomeMember.role, Home.timezone)
            .join(Home, Home.id == HomeMember.home_id)
            .where(HomeMember.user_id == user_id)
            .order_by(Home.created_at, Home.id)
        )
        return [FeedHome(*row) for row in rows.all()]

    async def schedules(self, home_ids: Sequence[uuid.UUID], until: date) -> list[FeedSchedule]:
        if not home_ids:
            return []
        s = MaintenanceSchedule
        stmt = (
            select(s, Device.nickname, func.coalesce(Room.name, Device.location_detail))
            .join(Device, Device.id == s.device_id)
            .outerjoin(Room, Room.id == Device.room_id)
            .where(
                _in_homes(s.home_id, home_ids),
                s.is_active,
                Device.status == DeviceStatus.active,
                s.next_due <= until,
            )
            .order_by(s.next_due, s.id)
        )
        return [FeedSchedule(*row) for row in (await self.session.execute(stmt)).all()]

    async def warranties(self, home_ids: Sequence[uuid.UUID], start: date, until: date) -> list[Device]:
        if not home_ids:
            return []
        return list(
            await self.session.scalars(
                select(Device)
                .where(
                    _in_homes(Device.home_id, home_ids),
                    Device.status == DeviceStatus.active,
                    Device.warranty_end.between(start, until),
                )
                .order_by(Device.warranty_end, Device.id)
            )
        )

"""Every maintenance query. Visibility comes from RLS (API role); every read names the homes it reads — the
caller's home ids (from the actor, no membership sub-select) or the exact home of the object — and every write
names the full key (home_id, id), so on a cluster each statement goes to the shards of those homes. Joins
between schedules, devices and rooms carry home_id (co-located tables). The reminder query runs in the
background worker (``homeops_worker``), across every home.

"Today" is each home's own date: queries spanning homes compare a schedule's ``next_due`` with
``(:now AT TIME ZONE homes.timezone)::date``, ``:now`` being the clock's instant (so a frozen clock works).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    UUID,
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Select,
    any_,
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
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from homeops.core.database import CompiledQuery, driver_connection, rows_affected
from homeops.core.repository import Repository
from homeops.core.tenancy import OrgRole
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
    narrowed: ColumnElement[bool] = (
        column == home_ids[0] if len(home_ids) == 1 else column.in_(list(home_ids))
    )
    return narrowed


def home_today(now: datetime | None) -> ColumnElement[date]:
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
        .join(Device, (Device.home_id == s.home_id) & (Device.id == s.device_id))
        .outerjoin(Room, (Room.home_id == Device.home_id) & (Room.id == Device.room_id))
        .where(s.is_active, Device.status == DeviceStatus.active)
    )


async def home_timezone(session: AsyncSession, home_id: uuid.UUID) -> str:
    """The home's IANA timezone (UTC when unset or invisible)."""
    return await session.scalar(select(Home.timezone).where(Home.id == home_id)) or "UTC"


@lru_cache(maxsize=8)
def _due_query(one_home: bool, overdue: bool) -> CompiledQuery:
    """Query 4 (``overdue`` False) or the overdue list, compiled once (a hot read). The homes on both joined
    tables: on a cluster a list of homes prunes each table's shards by its own condition."""
    s = MaintenanceSchedule
    today = home_today(None)
    uuid_type = UUID(as_uuid=True)
    if one_home:
        home = bindparam("home_id", type_=uuid_type)
        narrow = [s.home_id == home, Device.home_id == home]
    else:
        homes = bindparam("home_ids", type_=ARRAY(uuid_type))
        narrow = [s.home_id == any_(homes), Device.home_id == any_(homes)]
    stmt = _due_select(today).where(*narrow)
    earliest = bindparam("earliest", type_=Date)
    latest = bindparam("latest", type_=Date)
    if overdue:
        stmt = stmt.where(s.next_due < latest, s.next_due < today)
    else:
        days = bindparam("days", type_=Integer)
        stmt = stmt.where(
            s.next_due >= earliest,
            s.next_due <= latest + days,
            s.next_due >= today,
            s.next_due <= today + days,
            s.reminder_enabled,
        )
    return CompiledQuery(stmt.order_by(s.next_due, s.id).limit(bindparam("limit", type_=Integer)))


class ScheduleRepository(Repository[MaintenanceSchedule]):
    model = MaintenanceSchedule

    async def for_device(self, home_id: uuid.UUID, device_id: uuid.UUID) -> list[MaintenanceSchedule]:
        s = MaintenanceSchedule
        return list(
            await self.session.scalars(
                select(s).where(s.home_id == home_id, s.device_id == device_id).order_by(s.next_due, s.id)
            )
        )

    async def delete(self, home_id: uuid.UUID, schedule_id: uuid.UUID) -> int:
        """Deletes by the full key (its occurrences cascade; detach its service events first)."""
        s = MaintenanceSchedule
        return await rows_affected(self.session, delete(s).where(s.home_id == home_id, s.id == schedule_id))

    async def due(
        self, home_ids: Sequence[uuid.UUID], now: datetime, within_days: int | None, limit: int
    ) -> list[DueRow]:
        """Active schedules of active devices in ``home_ids``, soonest first, against each home's own today:
        ``within_days`` set — reminder-enabled ones due from today to today + ``within_days`` (seed 000
        Query 4); None — the overdue ones (due before today). One statement, driven by the
        (home_id, next_due) index per home."""
        if not home_ids:
            return []
        ids = list(home_ids)
        # Every home's date is the UTC date ± 1: the constant bounds keep the (home_id, next_due) index range in
        # the scan; the per-home comparison then is exact.
        utc_day = now.astimezone(UTC).date()
        params: dict[str, Any] = {
            "now": now,
            "earliest": utc_day - ONE_DAY,
            "latest": utc_day + ONE_DAY,
            "days": within_days or 0,
            "limit": limit,
        }
        params.update({"home_id": ids[0]} if len(ids) == 1 else {"home_ids": ids})
        query = _due_query(len(ids) == 1, within_days is None)
        rows = await query.all(await driver_connection(self.session), **params)
        return [DueRow(*row.values()) for row in rows]

    async def reminder_candidates(self, now: datetime) -> list[tuple[DueRow, list[uuid.UUID]]]:
        """(Worker.) Schedules in their lead time or overdue by their home's date at ``now``, with the members to
        remind (owner, admin and member roles; not guests; active accounts only). Two statements: the due
        schedules of every home (co-located joins, one task per shard on a cluster), then the recipients of
        their homes (reference tables, read locally)."""
        s = MaintenanceSchedule
        today = home_today(now)
        stmt = (
            _due_select(today)
            .where(s.reminder_enabled, s.next_due - s.lead_days <= today)
            .order_by(s.next_due, s.id)
        )
        due = [DueRow(*row) for row in (await self.session.execute(stmt)).all()]
        if not due:
            return []
        rows = await self.session.execute(
            select(
                HomeMember.home_id, func.array_agg(aggregate_order_by(HomeMember.user_id, HomeMember.user_id))
            )
            .join(User, User.id == HomeMember.user_id)
            .where(
                HomeMember.home_id.in_({row.home_id for row in due}),
                User.is_active,
                User.deleted_at.is_(None),
                HomeMember.role.in_([HomeRole.owner, HomeRole.admin, HomeRole.member]),
            )
            .group_by(HomeMember.home_id)
        )
        recipients: dict[uuid.UUID, list[uuid.UUID]] = {home_id: list(users) for home_id, users in rows.all()}
        return [(row, recipients.get(row.home_id, [])) for row in due]


class OccurrenceRepository(Repository[MaintenanceOccurrence]):
    model = MaintenanceOccurrence


class ServiceEventRepository(Repository[ServiceEvent]):
    # The key is (home_id, id); reads by id go through the access layer (narrowed to the caller's homes).
    model = ServiceEvent

    async def history(
        self,
        home_id: uuid.UUID,
        device_id: uuid.UUID,
        limit: int,
        after: tuple[date, datetime, uuid.UUID] | None,
    ) -> list[ServiceEvent]:
        """Newest first by (event_date, created_at, id), keyset paged."""
        e = ServiceEvent
        stmt = (
            select(e)
            .where(e.home_id == home_id, e.device_id == device_id)
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
                .where(ServiceEvent.home_id == event.home_id, ServiceEvent.id == event.id)
                .values(attachments=ServiceEvent.attachments.op("||")(cast(literal([item], JSONB), JSONB)))
                .returning(ServiceEvent.attachments, ServiceEvent.updated_at)
                .execution_options(synchronize_session=False)
            )
        ).one()
        set_committed_value(event, "attachments", row.attachments)  # as loaded: no UPDATE on the next flush
        set_committed_value(event, "updated_at", row.updated_at)

    async def detach_schedule(self, home_id: uuid.UUID, schedule_id: uuid.UUID) -> int:
        """The schedule's events forget it (their history stays) — before the schedule is deleted."""
        e = ServiceEvent
        return await rows_affected(
            self.session,
            update(e).where(e.home_id == home_id, e.schedule_id == schedule_id).values(schedule_id=None),
        )


@dataclass(frozen=True)
class FeedIdentity:
    user_id: uuid.UUID
    homes: dict[uuid.UUID, HomeRole]
    orgs: dict[uuid.UUID, OrgRole]


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

    async def identity_for_hash(self, token_hash: str) -> FeedIdentity | None:
        """The feed's user, established as the transaction's row-security identity (as a member of their
        homes), by a SECURITY DEFINER function: the feed URL has no login. None for an unknown token."""
        row = (
            await self.session.execute(
                text(
                    "SELECT user_id, home_ids, home_roles, org_ids, org_roles FROM homeops_calendar_identity(:h)"
                ),
                {"h": token_hash},
            )
        ).first()
        if row is None:
            return None
        return FeedIdentity(
            user_id=row.user_id,
            homes={h: HomeRole(r) for h, r in zip(row.home_ids, row.home_roles, strict=True)},
            orgs={o: OrgRole(r) for o, r in zip(row.org_ids, row.org_roles, strict=True)},
        )

    async def get(self, object_id: uuid.UUID) -> CalendarFeed | None:
        """The feed of the user ``object_id``."""
        return await self.session.get(CalendarFeed, object_id, populate_existing=True)

    async def upsert(self, user_id: uuid.UUID, token_hash: str, at: datetime) -> None:
        """Creates the feed or rotates its token (``rotated_at`` = ``at``, the clock's instant: a parameter, as
        a cluster takes no ``now()`` in ``ON CONFLICT DO UPDATE``)."""
        stmt = insert(CalendarFeed).values(user_id=user_id, token_hash=token_hash)
        stmt = stmt.on_conflict_do_update(
            index_elements=[CalendarFeed.user_id], set_={"token_hash": token_hash, "rotated_at": at}
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
            .join(Device, (Device.home_id == s.home_id) & (Device.id == s.device_id))
            .outerjoin(Room, (Room.home_id == Device.home_id) & (Room.id == Device.room_id))
            .where(
                _in_homes(s.home_id, home_ids),
                _in_homes(Device.home_id, home_ids),  # see ScheduleRepository.due
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

"""Maintenance schedules: create, change, complete, skip, and what is due (seed 000 Query 4).
Guests read, members write (RLS enforces the same); another household's schedules answer 404."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.context import AuditEntry, RequestContext
from homeops.core.errors import Conflict, NotFound, UnprocessableEntity
from homeops.devices.models import Device
from homeops.devices.repository import DeviceRepository
from homeops.devices.service import DeviceNotFound
from homeops.homes.models import HomeRole
from homeops.homes.service import HomeService
from homeops.identity.service import CurrentUser
from homeops.maintenance.models import (
    MaintenanceOccurrence,
    MaintenanceSchedule,
    OccurrenceOutcome,
    ServiceEvent,
    ServiceEventType,
)
from homeops.maintenance.recurrence import Recurrence, add_interval
from homeops.maintenance.repository import DueRow, ScheduleRepository, ServiceEventRepository
from homeops.maintenance.schemas import (
    CompleteIn,
    CompletionOut,
    DueItem,
    OccurrenceOut,
    ScheduleIn,
    ScheduleOut,
    SchedulePatch,
    SkipIn,
    SkipOut,
)
from homeops.maintenance.service_events import event_out

_RESTARTS = ("interval", "interval_unit", "anchor", "next_due")
_NOT_NULL = (
    "task_name",
    "interval",
    "interval_unit",
    "anchor",
    "next_due",
    "lead_days",
    "reminder_enabled",
    "is_active",
    "parts_needed",
)


class ScheduleNotFound(NotFound):
    code, title = "schedule_not_found", "Maintenance schedule not found"


class ScheduleInactive(Conflict):
    code, title = "schedule_inactive", "The schedule is not active"


class OccurrenceAlreadyRecorded(Conflict):
    code, title = "occurrence_already_recorded", "This due date was already completed or skipped"


def recurrence_of(s: MaintenanceSchedule) -> Recurrence:
    return Recurrence(
        s.interval,
        s.interval_unit,
        s.anchor,
        s.series_start,
        s.occurrence,
        s.next_due,
        s.end_date,
        s.is_active,
    )


def _apply(s: MaintenanceSchedule, r: Recurrence) -> None:
    s.series_start, s.occurrence, s.next_due, s.is_active = (
        r.series_start,
        r.occurrence,
        r.next_due,
        r.is_active,
    )


def due_item(row: DueRow, today: date) -> DueItem:
    return DueItem(**row.__dict__, days_until_due=(row.next_due - today).days)


class MaintenanceService:
    def __init__(self, session: AsyncSession, ctx: RequestContext, user: CurrentUser) -> None:
        self.session = session
        self.ctx = ctx
        self.user = user
        self.schedules = ScheduleRepository(session)
        self.events = ServiceEventRepository(session)
        self.homes = HomeService(session, ctx, user)

    # --- access -------------------------------------------------------------------------------------
    async def _device(self, device_id: uuid.UUID, minimum: HomeRole) -> Device:
        device = await DeviceRepository(self.session).get(device_id)
        if device is None:
            raise DeviceNotFound()
        await self.homes.require(device.home_id, minimum)
        return device

    async def _schedule(
        self, schedule_id: uuid.UUID, minimum: HomeRole, *, for_update: bool = False
    ) -> MaintenanceSchedule:
        schedule = await self.schedules.get(schedule_id)
        if schedule is None:
            raise ScheduleNotFound()
        await self.homes.require(schedule.home_id, minimum)
        if for_update:
            schedule = await self.schedules.get(schedule_id, for_update=True)
            if schedule is None:  # deleted meanwhile
                raise ScheduleNotFound()
        return schedule

    # --- schedules ----------------------------------------------------------------------------------
    async def create(self, device_id: uuid.UUID, data: ScheduleIn) -> ScheduleOut:
        device = await self._device(device_id, HomeRole.member)
        due = data.next_due or add_interval(date.today(), data.interval, data.interval_unit)
        if data.end_date is not None and data.end_date < due:
            raise UnprocessableEntity("end_date is before the first due date.", code="end_before_due")
        r = Recurrence.starting(due, data.interval, data.interval_unit, data.anchor, data.end_date)
        schedule = await self.schedules.add(
            MaintenanceSchedule(
                device_id=device.id,
                home_id=device.home_id,
                task_name=data.task_name,
                description=data.description,
                interval=data.interval,
                interval_unit=data.interval_unit,
                anchor=data.anchor,
                series_start=r.series_start,
                occurrence=r.occurrence,
                next_due=r.next_due,
                lead_days=data.lead_days,
                end_date=data.end_date,
                parts_needed=data.parts_needed,
                estimated_cost=data.estimated_cost,
                reminder_enabled=data.reminder_enabled,
            )
        )
        self.ctx.record(
            AuditEntry(
                "maintenance_schedule_created",
                "maintenance_schedule",
                schedule.id,
                new_values={**data.model_dump(mode="json"), "next_due": due.isoformat()},
            )
        )
        return ScheduleOut.model_validate(schedule)

    async def list_for_device(self, device_id: uuid.UUID) -> list[ScheduleOut]:
        await self._device(device_id, HomeRole.guest)
        return [ScheduleOut.model_validate(s) for s in await self.schedules.for_device(device_id)]

    async def get(self, schedule_id: uuid.UUID) -> ScheduleOut:
        return ScheduleOut.model_validate(await self._schedule(schedule_id, HomeRole.guest))

    async def update(self, schedule_id: uuid.UUID, patch: SchedulePatch) -> ScheduleOut:
        schedule = await self._schedule(schedule_id, HomeRole.member, for_update=True)
        changes = patch.model_dump(exclude_unset=True)
        nulls = [k for k in _NOT_NULL if k in changes and changes[k] is None]
        if nulls:
            raise UnprocessableEntity(f"{', '.join(nulls)} cannot be null.")
        old: dict[str, Any] = {k: getattr(schedule, k) for k in changes}
        for key, value in changes.items():
            setattr(schedule, key, value)
        if any(k in changes for k in _RESTARTS):
            _apply(schedule, recurrence_of(schedule).restarted(changes.get("next_due")))
        if schedule.end_date is not None and schedule.end_date < schedule.next_due:
            if changes.get("is_active"):
                raise UnprocessableEntity("end_date is before next_due.", code="end_before_due")
            schedule.is_active = False  # the series ends before its next due date
        await self.schedules.refresh(schedule)
        self.ctx.record(
            AuditEntry(
                "maintenance_schedule_updated",
                "maintenance_schedule",
                schedule.id,
                old_values=old,
                new_values=patch.model_dump(mode="json", exclude_unset=True),
            )
        )
        return ScheduleOut.model_validate(schedule)

    async def delete(self, schedule_id: uuid.UUID) -> None:
        schedule = await self._schedule(schedule_id, HomeRole.member)
        await self.schedules.delete(schedule_id)
        self.ctx.record(
            AuditEntry(
                "maintenance_schedule_deleted",
                "maintenance_schedule",
                schedule_id,
                old_values={"task_name": schedule.task_name, "device_id": str(schedule.device_id)},
            )
        )

    # --- occurrences --------------------------------------------------------------------------------
    async def _record(
        self,
        schedule: MaintenanceSchedule,
        outcome: OccurrenceOutcome,
        acted_on: date,
        notes: str | None,
        event_id: uuid.UUID | None,
    ) -> MaintenanceOccurrence:
        due = schedule.next_due
        try:
            return await self.schedules.add_occurrence(
                MaintenanceOccurrence(
                    schedule_id=schedule.id,
                    home_id=schedule.home_id,
                    due_date=due,
                    outcome=outcome,
                    acted_on=acted_on,
                    service_event_id=event_id,
                    user_id=self.user.id,
                    notes=notes,
                )
            )
        except IntegrityError as exc:  # the request's transaction is rolled back: nothing is kept
            raise OccurrenceAlreadyRecorded(f"The due date {due} already has an outcome.") from exc

    async def complete(self, schedule_id: uuid.UUID, data: CompleteIn) -> CompletionOut:
        """Service event + occurrence + next due, all in the request's one transaction."""
        schedule = await self._schedule(schedule_id, HomeRole.member, for_update=True)
        if not schedule.is_active:
            raise ScheduleInactive("Re-activate the schedule (PATCH is_active) before completing it.")
        performed_on = data.performed_on or date.today()
        if performed_on > date.today():
            raise UnprocessableEntity("performed_on is in the future.", code="performed_in_future")
        due = schedule.next_due
        event = await self.events.add(
            ServiceEvent(
                device_id=schedule.device_id,
                id=uuid.uuid4(),
                home_id=schedule.home_id,
                user_id=self.user.id,
                schedule_id=schedule.id,
                event_type=ServiceEventType.maintenance,
                event_date=performed_on,
                description=schedule.task_name,
                technician=data.technician,
                cost=data.cost,
                parts_replaced=data.parts,
                notes=data.notes,
            )
        )
        occurrence = await self._record(
            schedule, OccurrenceOutcome.completed, performed_on, data.notes, event.id
        )
        _apply(schedule, recurrence_of(schedule).after_completion(performed_on))
        schedule.last_performed = max(performed_on, schedule.last_performed or performed_on)
        await self.schedules.refresh(schedule)
        self.ctx.record(
            AuditEntry(
                "maintenance_completed",
                "maintenance_schedule",
                schedule.id,
                old_values={"next_due": due.isoformat()},
                new_values={
                    "next_due": schedule.next_due.isoformat(),
                    "performed_on": performed_on.isoformat(),
                    "service_event_id": str(event.id),
                    "is_active": schedule.is_active,
                },
            )
        )
        return CompletionOut(
            schedule=ScheduleOut.model_validate(schedule),
            service_event=event_out(event),
            occurrence=OccurrenceOut.model_validate(occurrence),
        )

    async def skip(self, schedule_id: uuid.UUID, data: SkipIn) -> SkipOut:
        schedule = await self._schedule(schedule_id, HomeRole.member, for_update=True)
        if not schedule.is_active:
            raise ScheduleInactive("Re-activate the schedule (PATCH is_active) before skipping a due date.")
        due = schedule.next_due
        occurrence = await self._record(schedule, OccurrenceOutcome.skipped, date.today(), data.notes, None)
        _apply(schedule, recurrence_of(schedule).after_skip())
        await self.schedules.refresh(schedule)
        self.ctx.record(
            AuditEntry(
                "maintenance_skipped",
                "maintenance_schedule",
                schedule.id,
                old_values={"next_due": due.isoformat()},
                new_values={"next_due": schedule.next_due.isoformat(), "is_active": schedule.is_active},
            )
        )
        return SkipOut(
            schedule=ScheduleOut.model_validate(schedule), occurrence=OccurrenceOut.model_validate(occurrence)
        )

    # --- what is due --------------------------------------------------------------------------------
    async def upcoming(self, days: int, limit: int) -> list[DueItem]:
        """Seed 000 Query 4: reminder-enabled schedules due within ``days`` across the caller's homes."""
        today = date.today()
        rows = await self.schedules.due(self.user.id, today, today + timedelta(days=days), limit)
        return [due_item(r, today) for r in rows]

    async def overdue(self, limit: int) -> list[DueItem]:
        today = date.today()
        rows = await self.schedules.due(self.user.id, None, today - timedelta(days=1), limit)
        return [due_item(r, today) for r in rows]

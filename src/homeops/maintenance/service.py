"""Maintenance schedules: create, change, complete, skip, and what is due (seed 000 Query 4).
Guests read, members write (RLS enforces the same); another household's schedules answer 404.

"Today" is the schedule's home's date (``homes.timezone``), from the unit of work's clock."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.exc import IntegrityError

from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, NotFound, UnprocessableEntity
from homeops.core.patch import apply_patch
from homeops.core.tenancy import HomeRole
from homeops.core.uow import UnitOfWork
from homeops.devices.models import Device
from homeops.devices.service import DeviceNotFound
from homeops.homes.access import load_in_home
from homeops.maintenance.models import (
    MaintenanceOccurrence,
    MaintenanceSchedule,
    OccurrenceOutcome,
    ServiceEvent,
    ServiceEventType,
)
from homeops.maintenance.recurrence import Recurrence, add_interval
from homeops.maintenance.repository import (
    DueRow,
    OccurrenceRepository,
    ScheduleRepository,
    ServiceEventRepository,
    home_timezone,
)
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


def due_item(row: DueRow) -> DueItem:
    return DueItem(**row.__dict__)


class MaintenanceService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.schedules = ScheduleRepository(uow.session)
        self.occurrences = OccurrenceRepository(uow.session)
        self.events = ServiceEventRepository(uow.session)

    # --- access -------------------------------------------------------------------------------------
    async def _device(self, device_id: uuid.UUID, need: HomeRole) -> Device:
        device, _ = await load_in_home(self.uow, Device, device_id, need, not_found=DeviceNotFound)
        return device

    async def _schedule(
        self, schedule_id: uuid.UUID, need: HomeRole, *, lock: bool = False
    ) -> MaintenanceSchedule:
        """One statement: the schedule (with its home's timezone), locked when about to change it."""
        schedule, _ = await load_in_home(
            self.uow, MaintenanceSchedule, schedule_id, need, not_found=ScheduleNotFound, lock=lock
        )
        return schedule

    def _today(self, schedule: MaintenanceSchedule) -> date:
        return self.uow.today(schedule.home_timezone)

    # --- schedules ----------------------------------------------------------------------------------
    async def create(self, device_id: uuid.UUID, data: ScheduleIn) -> ScheduleOut:
        device = await self._device(device_id, HomeRole.member)
        due = data.next_due
        if due is None:
            today = self.uow.today(await home_timezone(self.uow.session, device.home_id))
            due = add_interval(today, data.interval, data.interval_unit)
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
        self.uow.record(
            AuditEntry(
                "maintenance_schedule_created",
                "maintenance_schedule",
                schedule.id,
                new_values={**data.model_dump(mode="json"), "next_due": due.isoformat()},
            )
        )
        return ScheduleOut.model_validate(schedule)

    async def for_device(self, device_id: uuid.UUID) -> list[ScheduleOut]:
        device = await self._device(device_id, HomeRole.guest)
        return [
            ScheduleOut.model_validate(s) for s in await self.schedules.for_device(device.home_id, device.id)
        ]

    async def get(self, schedule_id: uuid.UUID) -> ScheduleOut:
        return ScheduleOut.model_validate(await self._schedule(schedule_id, HomeRole.guest))

    async def update(self, schedule_id: uuid.UUID, patch: SchedulePatch) -> ScheduleOut:
        schedule = await self._schedule(schedule_id, HomeRole.member, lock=True)
        changes = patch.model_dump(exclude_unset=True)
        old, _ = apply_patch(schedule, changes, not_null=_NOT_NULL)
        if any(k in changes for k in _RESTARTS):
            _apply(schedule, recurrence_of(schedule).restarted(changes.get("next_due")))
        if schedule.end_date is not None and schedule.end_date < schedule.next_due:
            if changes.get("is_active"):
                raise UnprocessableEntity("end_date is before next_due.", code="end_before_due")
            schedule.is_active = False  # the series ends before its next due date
        await self.schedules.save()
        self.uow.record(
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
        """The schedule and its occurrences go; its service events stay in the device's history (they forget
        the schedule first: the foreign key has no ON DELETE SET NULL, see the maintenance migration)."""
        schedule = await self._schedule(schedule_id, HomeRole.member, lock=True)
        await self.events.detach_schedule(schedule.home_id, schedule.id)
        await self.schedules.delete(schedule.home_id, schedule.id)
        self.uow.record(
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
            return await self.occurrences.add(
                MaintenanceOccurrence(
                    schedule_id=schedule.id,
                    home_id=schedule.home_id,
                    due_date=due,
                    outcome=outcome,
                    acted_on=acted_on,
                    service_event_id=event_id,
                    user_id=self.uow.actor.user_id,
                    notes=notes,
                )
            )
        except IntegrityError as exc:  # the request's transaction is rolled back: nothing is kept
            raise OccurrenceAlreadyRecorded(f"The due date {due} already has an outcome.") from exc

    async def complete(self, schedule_id: uuid.UUID, data: CompleteIn) -> CompletionOut:
        """Service event + occurrence + next due, all in the request's one transaction. The schedule is
        read once, locked; "today" is its home's date."""
        schedule = await self._schedule(schedule_id, HomeRole.member, lock=True)
        if not schedule.is_active:
            raise ScheduleInactive("Re-activate the schedule (PATCH is_active) before completing it.")
        today = self._today(schedule)
        performed_on = data.performed_on or today
        if performed_on > today:
            raise UnprocessableEntity("performed_on is in the future.", code="performed_in_future")
        due = schedule.next_due
        event = await self.events.add(
            ServiceEvent(
                device_id=schedule.device_id,
                id=uuid.uuid4(),
                home_id=schedule.home_id,
                user_id=self.uow.actor.user_id,
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
        await self.schedules.save()
        self.uow.record(
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
        schedule = await self._schedule(schedule_id, HomeRole.member, lock=True)
        if not schedule.is_active:
            raise ScheduleInactive("Re-activate the schedule (PATCH is_active) before skipping a due date.")
        due = schedule.next_due
        occurrence = await self._record(
            schedule, OccurrenceOutcome.skipped, self._today(schedule), data.notes, None
        )
        _apply(schedule, recurrence_of(schedule).after_skip())
        await self.schedules.save()
        self.uow.record(
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
        """Seed 000 Query 4: reminder-enabled schedules due within ``days`` across the caller's homes, each
        against its own home's today (one statement)."""
        rows = await self.schedules.due(self.uow.actor.home_ids(), self.uow.now(), days, limit)
        return [due_item(r) for r in rows]

    async def overdue(self, limit: int) -> list[DueItem]:
        """Active schedules due before their home's today, oldest first."""
        rows = await self.schedules.due(self.uow.actor.home_ids(), self.uow.now(), None, limit)
        return [due_item(r) for r in rows]

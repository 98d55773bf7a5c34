"""What maintenance does when other domains report facts (see ``homeops.core.events``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from homeops.catalog.repository import CatalogRepository
from homeops.core.events import DomainEvent, Handler
from homeops.core.uow import UnitOfWork
from homeops.devices.events import DeviceCreated
from homeops.maintenance.models import MaintenanceSchedule, RecurrenceAnchor
from homeops.maintenance.recurrence import add_interval
from homeops.maintenance.repository import ScheduleRepository, home_timezone

EFFECT = "maintenance_schedules"


async def on_device_created(uow: UnitOfWork, event: DeviceCreated) -> None:
    """A new device of a catalog model gets that model's recommended maintenance as its own schedules: one
    completion-anchored schedule per template, first due one interval from the home's today, reminders on.
    Users turn any of them off with PATCH. Reports how many in ``event.effects["maintenance_schedules"]``."""
    event.effects[EFFECT] = 0
    if event.model_id is None:
        return
    templates = await CatalogRepository(uow.session).templates(event.model_id)
    if not templates:
        return
    today = uow.today(await home_timezone(uow.session, event.home_id))
    schedules = []
    for t in templates:
        due = add_interval(today, t.interval, t.interval_unit)
        schedules.append(
            MaintenanceSchedule(
                device_id=event.device_id,
                home_id=event.home_id,
                template_id=t.id,
                task_name=t.task_name,
                description=t.notes,
                interval=t.interval,
                interval_unit=t.interval_unit,
                anchor=RecurrenceAnchor.completion,
                series_start=due,
                occurrence=0,
                next_due=due,
                parts_needed=list(t.parts or []),
                estimated_cost=t.estimated_cost,
            )
        )
    await ScheduleRepository(uow.session).add_all(schedules)
    event.effects[EFFECT] = len(schedules)


SUBSCRIPTIONS: Mapping[type[DomainEvent], Sequence[Handler]] = {DeviceCreated: [on_device_created]}

"""A new device of a catalog model gets that model's recommended maintenance as its own schedules.

Kept apart from the maintenance service so the device service can call it without an import cycle.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from homeops.catalog.repository import CatalogRepository
from homeops.devices.models import Device
from homeops.maintenance.models import MaintenanceSchedule, RecurrenceAnchor
from homeops.maintenance.recurrence import add_interval


async def instantiate_templates(session: AsyncSession, device: Device, today: date | None = None) -> int:
    """Creates one completion-anchored schedule per template of the device's model (first due one interval
    from today, reminders on); returns how many. Users turn any of them off with PATCH."""
    if device.model_id is None:
        return 0
    templates = await CatalogRepository(session).templates(device.model_id)
    start = today or date.today()
    schedules = []
    for t in templates:
        due = add_interval(start, t.interval, t.interval_unit)
        schedules.append(
            MaintenanceSchedule(
                device_id=device.id,
                home_id=device.home_id,
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
    if schedules:
        session.add_all(schedules)
        await session.flush()
    return len(schedules)

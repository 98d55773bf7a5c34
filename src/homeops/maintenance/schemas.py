from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from homeops.catalog.models import IntervalUnit
from homeops.core.schemas import JsonList, Money, NonNull, Out, StrictIn, date_order_error
from homeops.maintenance.models import OccurrenceOutcome, RecurrenceAnchor, ServiceEventType

TaskName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text2000 = Annotated[str, StringConstraints(max_length=2000)]
Text5000 = Annotated[str, StringConstraints(max_length=5000)]
Technician = Annotated[str, StringConstraints(max_length=200)]
Interval = Annotated[int, Field(ge=1, le=1000)]
LeadDays = Annotated[int, Field(ge=0, le=365)]
# Stored as numeric(…, 2): rounded to cents here, so what a write returns (no refresh SELECT) is what is stored.
Cost = Annotated[Decimal, Money(1_000_000)]
Parts = Annotated[JsonList, Field(max_length=100)]


class ScheduleIn(StrictIn):
    task_name: TaskName
    description: Text2000 | None = None
    interval: Interval
    interval_unit: IntervalUnit
    anchor: RecurrenceAnchor = RecurrenceAnchor.schedule
    next_due: date | None = Field(default=None, description="Default: today + interval")
    lead_days: LeadDays = 7
    estimated_cost: Cost | None = None
    reminder_enabled: bool = True
    parts_needed: Parts = Field(default_factory=list)
    end_date: date | None = None

    @model_validator(mode="after")
    def _end_after_due(self) -> ScheduleIn:
        if self.end_date and self.next_due and self.end_date < self.next_due:
            raise date_order_error("end_date is before next_due")
        return self


class SchedulePatch(StrictIn):
    """Changing interval, interval_unit, anchor or next_due restarts the series at the (new) next due."""

    task_name: NonNull[TaskName] = None
    description: Text2000 | None = None
    interval: NonNull[Interval] = None
    interval_unit: NonNull[IntervalUnit] = None
    anchor: NonNull[RecurrenceAnchor] = None
    next_due: NonNull[date] = None
    lead_days: NonNull[LeadDays] = None
    estimated_cost: Cost | None = None
    reminder_enabled: NonNull[bool] = None
    is_active: NonNull[bool] = None
    parts_needed: NonNull[Parts] = None
    end_date: date | None = None


class ScheduleOut(Out):
    id: uuid.UUID
    device_id: uuid.UUID
    home_id: uuid.UUID
    template_id: uuid.UUID | None
    task_name: str
    description: str | None
    interval: int
    interval_unit: IntervalUnit
    anchor: RecurrenceAnchor
    next_due: date
    last_performed: date | None
    lead_days: int
    end_date: date | None
    parts_needed: list[Any]
    estimated_cost: Decimal | None
    reminder_enabled: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime


class CompleteIn(StrictIn):
    performed_on: date | None = Field(default=None, description="Default: today; not in the future")
    cost: Cost | None = None
    notes: Text5000 | None = None
    parts: Parts = Field(default_factory=list, description="Parts replaced (stored on the service event)")
    technician: Technician | None = None


class SkipIn(StrictIn):
    notes: Text5000 | None = None


class OccurrenceOut(Out):
    id: uuid.UUID
    schedule_id: uuid.UUID
    due_date: date
    outcome: OccurrenceOutcome
    acted_on: date
    service_event_id: uuid.UUID | None
    user_id: uuid.UUID | None
    notes: str | None
    created_at: datetime


class AttachmentOut(Out):
    index: int
    file_name: str
    content_type: str
    size: int
    uploaded_at: datetime | None = None


class ServiceEventIn(StrictIn):
    event_type: ServiceEventType
    event_date: date | None = Field(default=None, description="Default: today; not in the future")
    description: Text5000 | None = None
    technician: Technician | None = None
    cost: Cost | None = None
    warranty_covered: bool = False
    parts_replaced: Parts = Field(default_factory=list)
    notes: Text5000 | None = None


class ServiceEventOut(Out):
    id: uuid.UUID
    device_id: uuid.UUID
    home_id: uuid.UUID
    user_id: uuid.UUID | None
    schedule_id: uuid.UUID | None
    event_type: ServiceEventType
    event_date: date
    description: str | None
    technician: str | None
    cost: Decimal | None
    warranty_covered: bool
    parts_replaced: list[Any]
    notes: str | None
    attachments: list[AttachmentOut] = Field(default_factory=list)
    source_type: str | None = Field(
        default=None, description="Recorded by another domain (marketplace_project)"
    )
    source_id: uuid.UUID | None = None
    created_at: datetime
    updated_at: datetime


class CompletionOut(Out):
    schedule: ScheduleOut
    service_event: ServiceEventOut
    occurrence: OccurrenceOut


class SkipOut(Out):
    schedule: ScheduleOut
    occurrence: OccurrenceOut


class DueItem(Out):
    """Seed 000 Query 4's row."""

    schedule_id: uuid.UUID
    device_id: uuid.UUID
    device_nickname: str
    location: str | None = Field(description="The device's room, else its location detail")
    home_id: uuid.UUID
    task_name: str
    next_due: date
    estimated_cost: Decimal | None
    days_until_due: int = Field(description="Negative when overdue")


class CalendarTokenOut(Out):
    url: str = Field(description="The secret feed URL; shown once, only its hash is stored")


class CalendarStatusOut(Out):
    active: bool
    created_at: datetime | None = None
    rotated_at: datetime | None = None

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, Query, Response, UploadFile, status

from homeops.core.pagination import Page, PageParams, page_params
from homeops.core.routing import MB, body_limit
from homeops.core.schemas import DownloadOut
from homeops.identity.deps import AnonymousUow, Uow
from homeops.maintenance.calendar import CalendarService, render_feed
from homeops.maintenance.schemas import (
    CalendarStatusOut,
    CalendarTokenOut,
    CompleteIn,
    CompletionOut,
    DueItem,
    ScheduleIn,
    ScheduleOut,
    SchedulePatch,
    ServiceEventIn,
    ServiceEventOut,
    SkipIn,
    SkipOut,
)
from homeops.maintenance.service import MaintenanceService
from homeops.maintenance.service_events import MAX_ATTACHMENT_BYTES, ServiceEventService

router = APIRouter(prefix="/api/v1", tags=["maintenance"])


async def _svc(uow: Uow) -> MaintenanceService:
    return MaintenanceService(uow)


async def _events(uow: Uow) -> ServiceEventService:
    return ServiceEventService(uow)


async def _calendar(uow: Uow) -> CalendarService:
    return CalendarService(uow)


Svc = Annotated[MaintenanceService, Depends(_svc)]
Events = Annotated[ServiceEventService, Depends(_events)]
Cal = Annotated[CalendarService, Depends(_calendar)]
Limit = Annotated[int, Query(ge=1, le=500)]


# --- schedules ------------------------------------------------------------------------------------------
@router.post(
    "/devices/{device_id}/maintenance-schedules",
    status_code=status.HTTP_201_CREATED,
    response_model=ScheduleOut,
)
async def create_schedule(device_id: uuid.UUID, body: ScheduleIn, svc: Svc) -> ScheduleOut:
    """A recurring task: every `interval` `interval_unit`, anchored to the schedule (next due = previous due +
    interval, months clamp without drift) or to completion (next due = completion date + interval)."""
    return await svc.create(device_id, body)


@router.get("/devices/{device_id}/maintenance-schedules", response_model=list[ScheduleOut])
async def list_schedules(device_id: uuid.UUID, svc: Svc) -> list[ScheduleOut]:
    return await svc.for_device(device_id)


@router.get("/maintenance-schedules/{schedule_id}", response_model=ScheduleOut)
async def get_schedule(schedule_id: uuid.UUID, svc: Svc) -> ScheduleOut:
    return await svc.get(schedule_id)


@router.patch("/maintenance-schedules/{schedule_id}", response_model=ScheduleOut)
async def update_schedule(schedule_id: uuid.UUID, body: SchedulePatch, svc: Svc) -> ScheduleOut:
    """Turn reminders or the whole schedule off, change the interval… Changing the recurrence or next_due
    restarts the series at the next due date."""
    return await svc.update(schedule_id, body)


@router.delete("/maintenance-schedules/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_schedule(schedule_id: uuid.UUID, svc: Svc) -> None:
    await svc.delete(schedule_id)


@router.post("/maintenance-schedules/{schedule_id}/complete", response_model=CompletionOut)
async def complete_schedule(schedule_id: uuid.UUID, body: CompleteIn, svc: Svc) -> CompletionOut:
    """Writes the service event and the completed occurrence and moves next due, in one transaction."""
    return await svc.complete(schedule_id, body)


@router.post("/maintenance-schedules/{schedule_id}/skip", response_model=SkipOut)
async def skip_schedule(schedule_id: uuid.UUID, body: SkipIn, svc: Svc) -> SkipOut:
    """Records the current due date as skipped and moves to the next occurrence."""
    return await svc.skip(schedule_id, body)


@router.get("/maintenance/upcoming", response_model=list[DueItem])
async def upcoming(
    svc: Svc, days: Annotated[int, Query(ge=0, le=366)] = 30, limit: Limit = 200
) -> list[DueItem]:
    """Seed 000 Query 4: reminder-enabled maintenance due from today to today + `days` across the caller's
    homes, soonest first (one SQL statement)."""
    return await svc.upcoming(days, limit)


@router.get("/maintenance/overdue", response_model=list[DueItem])
async def overdue(svc: Svc, limit: Limit = 200) -> list[DueItem]:
    """Active schedules whose next due date has passed, oldest first."""
    return await svc.overdue(limit)


# --- service history ------------------------------------------------------------------------------------
@router.post(
    "/devices/{device_id}/service-events", status_code=status.HTTP_201_CREATED, response_model=ServiceEventOut
)
async def create_service_event(device_id: uuid.UUID, body: ServiceEventIn, events: Events) -> ServiceEventOut:
    return await events.create(device_id, body)


@router.get("/devices/{device_id}/history", response_model=Page[ServiceEventOut])
async def device_history(
    device_id: uuid.UUID, events: Events, page: Annotated[PageParams, Depends(page_params)]
) -> Page[ServiceEventOut]:
    """The device's service events, newest first (keyset pagination)."""
    items, cursor = await events.history(device_id, page)
    return Page(items=items, next_cursor=cursor)


@router.get("/service-events/{event_id}", response_model=ServiceEventOut)
async def get_service_event(event_id: uuid.UUID, events: Events) -> ServiceEventOut:
    return await events.get(event_id)


@router.post(
    "/service-events/{event_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    response_model=ServiceEventOut,
)
@body_limit(MAX_ATTACHMENT_BYTES + MB)  # the file, plus the form around it
async def add_attachment(
    event_id: uuid.UUID,
    events: Events,
    file: Annotated[
        UploadFile, File(description="Receipt or photo: PDF, JPEG, PNG, WebP or HEIC, up to 20 MB")
    ],
) -> ServiceEventOut:
    data = await file.read(MAX_ATTACHMENT_BYTES + 1)
    return await events.add_attachment(event_id, data, file.filename)


@router.get("/service-events/{event_id}/attachments/{index}/download", response_model=DownloadOut)
async def download_attachment(
    event_id: uuid.UUID, index: Annotated[int, Path(ge=0, le=1000)], events: Events
) -> DownloadOut:
    """A signed URL for the attachment, valid for 15 minutes."""
    return await events.download(event_id, index)


# --- calendar feed --------------------------------------------------------------------------------------
@router.get("/calendar/token", response_model=CalendarStatusOut)
async def calendar_status(cal: Cal) -> CalendarStatusOut:
    return await cal.status()


@router.post("/calendar/token", status_code=status.HTTP_201_CREATED, response_model=CalendarTokenOut)
async def rotate_calendar_token(cal: Cal) -> CalendarTokenOut:
    """Creates your secret calendar URL, or replaces it (the previous URL stops working). Shown once."""
    return await cal.rotate()


@router.delete("/calendar/token", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_calendar_token(cal: Cal) -> None:
    await cal.revoke()


@router.get(
    "/calendar/{token}.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "RFC 5545 calendar"}},
)
async def calendar_feed(token: str, uow: AnonymousUow) -> Response:
    """Upcoming maintenance (365 days) and warranty expiries as all-day events. No login: the URL's secret
    token is the credential (subscribe to it from Google Calendar, Apple Calendar or Thunderbird)."""
    body = await render_feed(uow, token)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": 'inline; filename="homeops.ics"',
            "Cache-Control": "private, max-age=300",
            "X-Content-Type-Options": "nosniff",
        },
    )

"""Maintenance in the browser: a device's schedules (add, complete, skip) and service history (add an event,
attach a receipt or photo) as the device page's "device" panel; what is overdue and due in the next 30 days on
the dashboard, completed or skipped in place; the calendar feed (create, copy, rotate, revoke)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Path, Response
from markupsafe import Markup
from starlette.datastructures import UploadFile

from homeops.catalog.models import IntervalUnit
from homeops.core.pagination import PageParams
from homeops.core.web import N_, FormError, FormState, NavItem, Page, Pages, Panel, _, form_model, page_router
from homeops.core.web.page import safe_next
from homeops.devices.pages import render_device_page
from homeops.devices.schemas import DeviceOut
from homeops.identity.web import SignedInPage
from homeops.maintenance.calendar import CalendarService
from homeops.maintenance.models import RecurrenceAnchor, ServiceEventType
from homeops.maintenance.schemas import CompleteIn, ScheduleIn, ServiceEventIn, SkipIn
from homeops.maintenance.service import MaintenanceService
from homeops.maintenance.service_events import MAX_ATTACHMENT_BYTES, ServiceEventService

router = page_router()

UNIT_LABELS = {
    IntervalUnit.days: N_("days"),
    IntervalUnit.weeks: N_("weeks"),
    IntervalUnit.months: N_("months"),
    IntervalUnit.years: N_("years"),
}
ANCHOR_LABELS = {
    RecurrenceAnchor.schedule: N_("On a fixed rhythm (from the due date)"),
    RecurrenceAnchor.completion: N_("Counted from when it was done"),
}
EVENT_LABELS = {
    ServiceEventType.maintenance: N_("Maintenance"),
    ServiceEventType.repair: N_("Repair"),
    ServiceEventType.inspection: N_("Inspection"),
    ServiceEventType.installation: N_("Installation"),
    ServiceEventType.warranty_claim: N_("Warranty claim"),
    ServiceEventType.replacement: N_("Replacement"),
    ServiceEventType.cleaning: N_("Cleaning"),
    ServiceEventType.other: N_("Other"),
}
MESSAGES = {
    "schedule_not_found": N_("This maintenance task no longer exists."),
    "schedule_inactive": N_("This maintenance task is paused."),
    "performed_in_future": N_("The date it was done cannot be in the future."),
    "occurrence_already_recorded": N_("This due date was already completed or skipped."),
    "service_event_not_found": N_("This service record no longer exists."),
    "attachment_not_found": N_("This attachment no longer exists."),
    "unsupported_attachment": N_("Attach a PDF, JPEG, PNG, WebP or HEIC file."),
    "attachment_too_large": N_("Attachments are limited to 20 MB."),
    "event_in_future": N_("The date cannot be in the future."),
    "calendar_not_found": N_("You have no calendar link yet."),
}


def _labels(mapping: dict[Any, str]) -> list[tuple[str, str]]:
    return [(str(key), _(label)) for key, label in mapping.items()]


def _back(page: Page, default: str) -> str:
    assert page.form is not None
    return safe_next(str(page.form.get("next") or ""), default)


# --- the device page's panel ------------------------------------------------------------------------------------
async def device_panel(page: Page, device: DeviceOut) -> Markup:
    schedules = await MaintenanceService(page.uow).for_device(device.id)
    cursor = page.request.query_params.get("history")
    events, next_cursor = await ServiceEventService(page.uow).history(
        device.id, PageParams(limit=10, cursor=cursor)
    )
    return page.fragment(
        "maintenance/device_panel.html",
        device=device,
        schedules=schedules,
        events=events,
        next_cursor=next_cursor,
        form=page.state,
        units=_labels(UNIT_LABELS),
        unit_labels=UNIT_LABELS,
        anchors=_labels(ANCHOR_LABELS),
        event_types=_labels(EVENT_LABELS),
        event_labels=EVENT_LABELS,
    )


async def _device_with(page: Page, device_id: uuid.UUID, name: str, exc: FormError) -> Response:
    """The device page again, with this panel's form ``name`` showing what failed."""
    return await render_device_page(page, device_id, FormState.failed(name, page.form, exc), exc.status)


@router.post("/devices/{device_id}/schedules")
async def add_schedule(page: SignedInPage, device_id: uuid.UUID) -> Response:
    assert page.form is not None
    try:
        data = form_model(
            ScheduleIn,
            page.form,
            fields=(
                "task_name",
                "description",
                "interval",
                "interval_unit",
                "anchor",
                "next_due",
                "lead_days",
                "estimated_cost",
                "reminder_enabled",
            ),
            checkboxes=("reminder_enabled",),
        )
        schedule = await page.submit(lambda: MaintenanceService(page.uow).create(device_id, data))
    except FormError as exc:
        return await _device_with(page, device_id, "add-schedule", exc)
    return page.redirect(
        f"/devices/{device_id}#maintenance", flash=_("“%(task)s” was scheduled.", task=schedule.task_name)
    )


async def _act(page: Page, default: str, action: Any, done: str) -> Response:
    try:
        await page.submit(action)
    except FormError as exc:
        # An in-place action (a button on a list): back where it was, with the reason.
        return page.redirect(_back(page, default), flash=exc.message or _("That did not work."), kind="error")
    return page.redirect(_back(page, default), flash=done)


@router.post("/schedules/{schedule_id}/complete")
async def complete(page: SignedInPage, schedule_id: uuid.UUID) -> Response:
    assert page.form is not None
    try:
        data = form_model(CompleteIn, page.form, fields=("performed_on", "cost", "notes", "technician"))
    except FormError as exc:
        return page.redirect(_back(page, "/"), flash=exc.message or "", kind="error")
    return await _act(
        page, "/", lambda: MaintenanceService(page.uow).complete(schedule_id, data), _("Marked as done.")
    )


@router.post("/schedules/{schedule_id}/skip")
async def skip(page: SignedInPage, schedule_id: uuid.UUID) -> Response:
    assert page.form is not None
    data = SkipIn(notes=str(page.form.get("notes") or "")[:5000] or None)
    return await _act(
        page, "/", lambda: MaintenanceService(page.uow).skip(schedule_id, data), _("Skipped until next time.")
    )


@router.post("/schedules/{schedule_id}/delete")
async def delete_schedule(page: SignedInPage, schedule_id: uuid.UUID) -> Response:
    return await _act(
        page,
        "/",
        lambda: MaintenanceService(page.uow).delete(schedule_id),
        _("The maintenance task was removed."),
    )


@router.post("/devices/{device_id}/service-events")
async def add_event(page: SignedInPage, device_id: uuid.UUID) -> Response:
    assert page.form is not None
    try:
        data = form_model(
            ServiceEventIn,
            page.form,
            fields=(
                "event_type",
                "event_date",
                "description",
                "technician",
                "cost",
                "warranty_covered",
                "notes",
            ),
            checkboxes=("warranty_covered",),
        )
        await page.submit(lambda: ServiceEventService(page.uow).create(device_id, data))
    except FormError as exc:
        return await _device_with(page, device_id, "add-event", exc)
    return page.redirect(f"/devices/{device_id}#history", flash=_("The service record was added."))


@router.post("/service-events/{event_id}/attachments")
async def add_attachment(page: SignedInPage, event_id: uuid.UUID) -> Response:
    assert page.form is not None
    events = ServiceEventService(page.uow)
    event = await events.get(event_id)
    upload = page.form.get("file")
    target = f"/devices/{event.device_id}#history"
    if not isinstance(upload, UploadFile) or not upload.filename:
        return page.redirect(target, flash=_("Choose a file to attach."), kind="error")
    data = await upload.read(MAX_ATTACHMENT_BYTES + 1)
    return await _act(
        page,
        target,
        lambda: events.add_attachment(event_id, data, upload.filename),
        _("The file was attached."),
    )


@router.get("/service-events/{event_id}/attachments/{index}")
async def open_attachment(
    page: SignedInPage, event_id: uuid.UUID, index: Annotated[int, Path(ge=0, le=1000)]
) -> Response:
    download = await ServiceEventService(page.uow).download(event_id, index)
    return page.finish(Response(status_code=303, headers={"Location": download.url}))


# --- the dashboard's panel --------------------------------------------------------------------------------------
async def due_panel(page: Page, _subject: object) -> Markup:
    service = MaintenanceService(page.uow)
    overdue = await service.overdue(50)
    upcoming = [item for item in await service.upcoming(30, 50) if item.days_until_due >= 0]
    return page.fragment("maintenance/panel_due.html", overdue=overdue, upcoming=upcoming)


# --- calendar feed ------------------------------------------------------------------------------------------------
@router.get("/calendar")
async def calendar(page: SignedInPage) -> Response:
    feed = await CalendarService(page.uow).status()
    return page.render("maintenance/calendar.html", feed=feed, url=None)


@router.post("/calendar")
async def rotate_calendar(page: SignedInPage) -> Response:
    service = CalendarService(page.uow)
    created = await service.rotate()
    # The secret link is shown once, on this answer (only its hash is stored): no redirect.
    return page.render("maintenance/calendar.html", feed=await service.status(), url=created.url)


@router.post("/calendar/revoke")
async def revoke_calendar(page: SignedInPage) -> Response:
    await CalendarService(page.uow).revoke()
    return page.redirect(
        "/calendar", flash=_("The calendar link was revoked; calendars using it stop updating.")
    )


pages = Pages.of(
    __file__,
    "maintenance",
    router=router,
    nav=(NavItem(N_("Calendar"), "/calendar", order=60),),
    panels=(Panel("device", device_panel, order=10), Panel("dashboard", due_panel, order=20)),
    messages=MESSAGES,
)

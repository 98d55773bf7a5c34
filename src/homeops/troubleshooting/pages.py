"""Troubleshooting in the browser: start a session from a device (symptoms, error codes), the ranked
suggestions with their matched symptoms and cited manual pages, the conversation, resolving it (with a
rating) or escalating it to a service ticket. The device page shows a device's sessions ("device" panel), the
dashboard the open ones.

Support staff (support and admin users, ``SupportPage``) work the service-ticket queue at ``/support/tickets``:
filters (status, priority, assignee) with keyset paging, and a ticket's page with its escalated session's
conversation, assignment and the status changes of the ticket workflow (``TicketService`` decides)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Literal

from fastapi import Response
from markupsafe import Markup

from homeops.core.pagination import PageParams
from homeops.core.web import (
    N_,
    NO_FORM,
    CursorQuery,
    FormError,
    FormState,
    NavItem,
    Page,
    Pages,
    Panel,
    _,
    form_model,
    page_router,
)
from homeops.devices.schemas import DeviceOut
from homeops.devices.service import DeviceService
from homeops.identity.support import SUPPORT_NAV_ROLES, People, SupportPage
from homeops.identity.web import SignedInPage
from homeops.troubleshooting.models import Priority, SessionStatus, TicketStatus
from homeops.troubleshooting.schemas import EscalateIn, MessageIn, SessionIn, SessionPatch, TicketPatch
from homeops.troubleshooting.service import SessionNotFound, TroubleshootingService
from homeops.troubleshooting.tickets import ASSIGNABLE_ROLES, TRANSITIONS, TicketService

router = page_router()

SESSION_STATUS_LABELS = {
    SessionStatus.open: N_("Open"),
    SessionStatus.resolved: N_("Resolved"),
    SessionStatus.escalated: N_("Escalated"),
    SessionStatus.abandoned: N_("Abandoned"),
}
TICKET_STATUS_LABELS = {
    TicketStatus.open: N_("Open"),
    TicketStatus.assigned: N_("Assigned"),
    TicketStatus.in_progress: N_("In progress"),
    TicketStatus.resolved: N_("Resolved"),
    TicketStatus.closed: N_("Closed"),
}
PRIORITY_LABELS = {
    Priority.low: N_("Low"),
    Priority.medium: N_("Medium"),
    Priority.high: N_("High"),
    Priority.urgent: N_("Urgent"),
}
SEVERITY_LABELS = {
    "low": N_("Minor"),
    "medium": N_("Moderate"),
    "high": N_("Serious"),
    "critical": N_("Critical"),
}
MESSAGES = {
    "session_not_found": N_("This troubleshooting session does not exist or is not yours."),
    "not_session_owner": N_("Only the person who started this session can change it."),
    "invalid_transition": N_("This session cannot change that way any more."),
    "already_escalated": N_("This session was already escalated to a ticket."),
    "session_not_open": N_("This session is closed; start a new one if the problem is back."),
    "ticket_not_found": N_("This ticket does not exist or you cannot see it."),
    "staff_only": N_("Only support staff can do this."),
    "assignee_required": N_("Assign the ticket to someone before work on it starts."),
    "invalid_assignee": N_("Tickets can be assigned to active support or technician users only."),
}
# The ticket pages' own words for codes the sessions (and other domains) use too.
TICKET_MESSAGES = {
    "invalid_transition": N_(
        "This ticket cannot change that way. Reload the page to see its current status."
    ),
}
STATUS_KIND = {"open": "info", "resolved": "success", "escalated": "warning", "abandoned": "neutral"}


def _labels(mapping: dict[Any, str]) -> list[tuple[str, str]]:
    return [(str(key), _(label)) for key, label in mapping.items()]


def _common() -> dict[str, Any]:
    return {
        "session_labels": SESSION_STATUS_LABELS,
        "ticket_labels": TICKET_STATUS_LABELS,
        "priority_labels": PRIORITY_LABELS,
        "severity_labels": SEVERITY_LABELS,
        "status_kind": STATUS_KIND,
    }


# --- my sessions -------------------------------------------------------------------------------------------------
@router.get("/troubleshooting")
async def sessions(
    page: SignedInPage, status: SessionStatus | None = None, cursor: CursorQuery = None
) -> Response:
    items, next_cursor = await TroubleshootingService(page.uow).search(
        PageParams(limit=25, cursor=cursor), symptoms=[], status=status, device_id=None
    )
    return page.render(
        "troubleshooting/list.html",
        sessions=items,
        next_cursor=next_cursor,
        status_filter=status,
        statuses=_labels(SESSION_STATUS_LABELS),
        **_common(),
    )


# --- start -------------------------------------------------------------------------------------------------------
async def _new_page(
    page: Page, device_id: uuid.UUID | None, form: FormState = NO_FORM, status: int = 200
) -> Response:
    device = await DeviceService(page.uow).get(device_id) if device_id else None
    devices: list[DeviceOut] = []
    if device is None:
        devices, _more = await DeviceService(page.uow).search(PageParams(limit=200))
    return page.render("troubleshooting/new.html", status=status, device=device, devices=devices, form=form)


@router.get("/troubleshooting/new")
async def new_session(page: SignedInPage, device_id: uuid.UUID | None = None) -> Response:
    return await _new_page(page, device_id)


@router.post("/troubleshooting")
async def start(page: SignedInPage) -> Response:
    assert page.form is not None
    raw_device = str(page.form.get("device_id") or "")
    try:
        data = form_model(
            SessionIn,
            page.form,
            fields=("device_id", "issue_summary", "symptoms", "error_codes"),
            lines=("symptoms", "error_codes"),
        )
        created = await page.submit(lambda: TroubleshootingService(page.uow).create(data))
    except FormError as exc:
        try:
            device_id = uuid.UUID(raw_device) if raw_device else None
        except ValueError:
            device_id = None
        return await _new_page(page, device_id, FormState.failed("start", page.form, exc), exc.status)
    return page.redirect(f"/troubleshooting/{created.id}")


# --- one session -------------------------------------------------------------------------------------------------
async def _ticket_of(page: Page, session: Any) -> Any:
    tickets, _more = await TicketService(page.uow).search(
        PageParams(limit=50), status=None, priority=None, assigned_to=None, device_id=session.device_id
    )
    return next((t for t in tickets if t.session_id == session.id), None)


async def _session_page(
    page: Page, session_id: uuid.UUID, form: FormState = NO_FORM, status: int = 200
) -> Response:
    session = await TroubleshootingService(page.uow).get(session_id)
    ticket = await _ticket_of(page, session) if session.status is SessionStatus.escalated else None
    titles = {p.manual_id: p.title for p in session.suggestions.passages}
    return page.render(
        "troubleshooting/session.html",
        status=status,
        session=session,
        ticket=ticket,
        titles=titles,
        form=form,
        priorities=_labels(PRIORITY_LABELS),
        **_common(),
    )


@router.get("/troubleshooting/{session_id}")
async def session_page(page: SignedInPage, session_id: uuid.UUID) -> Response:
    return await _session_page(page, session_id)


@router.post("/troubleshooting/{session_id}/messages")
async def send_message(page: SignedInPage, session_id: uuid.UUID) -> Response:
    assert page.form is not None
    try:
        data = form_model(MessageIn, page.form, fields=("content",))
        await page.submit(lambda: TroubleshootingService(page.uow).add_message(session_id, data))
    except FormError as exc:
        return await _session_page(page, session_id, FormState.failed("message", page.form, exc), exc.status)
    return page.redirect(f"/troubleshooting/{session_id}#conversation")


@router.post("/troubleshooting/{session_id}/close")
async def close(page: SignedInPage, session_id: uuid.UUID) -> Response:
    """Resolve (with what fixed it and a 1–5 rating) or abandon the session."""
    assert page.form is not None
    try:
        patch = form_model(SessionPatch, page.form, fields=("status", "resolution", "user_satisfaction"))
        await page.submit(lambda: TroubleshootingService(page.uow).update(session_id, patch))
    except FormError as exc:
        return await _session_page(page, session_id, FormState.failed("close", page.form, exc), exc.status)
    done = (
        _("Glad it is fixed. Thank you for the rating!")
        if patch.status is SessionStatus.resolved
        else _("The session was closed.")
    )
    return page.redirect(f"/troubleshooting/{session_id}", flash=done)


@router.post("/troubleshooting/{session_id}/escalate")
async def escalate(page: SignedInPage, session_id: uuid.UUID) -> Response:
    assert page.form is not None
    try:
        data = form_model(EscalateIn, page.form, fields=("priority",))
        ticket = await page.submit(lambda: TroubleshootingService(page.uow).escalate(session_id, data))
    except FormError as exc:
        return await _session_page(page, session_id, FormState.failed("escalate", page.form, exc), exc.status)
    return page.redirect(
        f"/troubleshooting/{session_id}",
        flash=_(
            "A service ticket was opened (priority: %(p)s). Support will contact you.",
            p=_(PRIORITY_LABELS[ticket.priority]),
        ),
    )


# --- panels -------------------------------------------------------------------------------------------------------
async def device_panel(page: Page, device: DeviceOut) -> Markup:
    items, more = await TroubleshootingService(page.uow).search(
        PageParams(limit=5), symptoms=[], status=None, device_id=device.id
    )
    return page.fragment(
        "troubleshooting/device_panel.html", device=device, sessions=items, more=more, **_common()
    )


async def open_sessions_panel(page: Page, _subject: object) -> Markup:
    items, more = await TroubleshootingService(page.uow).search(
        PageParams(limit=5), symptoms=[], status=SessionStatus.open, device_id=None
    )
    return page.fragment("troubleshooting/panel_open.html", sessions=items, more=more, **_common())


# --- the support ticket queue (support and admin staff) -------------------------------------------------------------
QUEUE_PAGE_SIZE = 25
TICKET_KIND = {
    "open": "info",
    "assigned": "warning",
    "in_progress": "warning",
    "resolved": "success",
    "closed": "neutral",
}
PRIORITY_KIND = {"low": "neutral", "medium": "info", "high": "warning", "urgent": "danger"}
ASSIGNEE_FILTERS = {"anyone": N_("Anyone"), "me": N_("Assigned to me"), "none": N_("Unassigned")}
# What each status change is called on a button (the transitions themselves are ``TRANSITIONS``'s). Becoming
# "assigned" is done by assigning the ticket.
MOVE_LABELS = {
    TicketStatus.in_progress: N_("Start work"),
    TicketStatus.resolved: N_("Mark as resolved"),
    TicketStatus.closed: N_("Close the ticket"),
}
REOPEN_LABEL = N_("Reopen")
Assigned = Literal["anyone", "me", "none"]


def _support_common() -> dict[str, Any]:
    return {
        "ticket_labels": TICKET_STATUS_LABELS,
        "priority_labels": PRIORITY_LABELS,
        "ticket_kind": TICKET_KIND,
        "priority_kind": PRIORITY_KIND,
    }


@router.get("/support/tickets")
async def ticket_queue(
    page: SupportPage,
    status: TicketStatus | None = None,
    priority: Priority | None = None,
    assigned: Assigned = "anyone",
    cursor: CursorQuery = None,
) -> Response:
    """Every home's tickets, newest first, 25 a page (keyset: the same indexed query as the API's)."""
    items, next_cursor = await TicketService(page.uow).search(
        PageParams(limit=QUEUE_PAGE_SIZE, cursor=cursor),
        status=status,
        priority=priority,
        assigned_to=page.user_id if assigned == "me" else None,
        device_id=None,
        unassigned=assigned == "none",
    )
    people = await People(page.uow).by_ids([t.user_id for t in items] + [t.assigned_to for t in items])
    filtered = status is not None or priority is not None or assigned != "anyone"
    return page.render(
        "troubleshooting/support_queue.html",
        tickets=items,
        next_cursor=next_cursor,
        people=people,
        filtered=filtered,
        status_filter=status,
        priority_filter=priority,
        assigned_filter=assigned,
        statuses=_labels(TICKET_STATUS_LABELS),
        priorities=_labels(PRIORITY_LABELS),
        assignee_filters=_labels(ASSIGNEE_FILTERS),
        **_support_common(),
    )


def _moves(status: TicketStatus) -> list[tuple[str, str]]:
    """The status changes offered on a ticket: the workflow's (``TRANSITIONS``), "assigned" left to assigning."""
    out = []
    for target in sorted(TRANSITIONS[status], key=list(TicketStatus).index):
        if target is TicketStatus.assigned:
            continue
        label = (
            REOPEN_LABEL if status is TicketStatus.resolved and target is TicketStatus.in_progress else None
        )
        out.append((target.value, _(label or MOVE_LABELS[target])))
    return out


async def _ticket_page(
    page: Page, ticket_id: uuid.UUID, form: FormState = NO_FORM, status: int = 200
) -> Response:
    ticket = await TicketService(page.uow).get(ticket_id)
    session = None
    if ticket.session_id is not None:
        try:
            session = await TroubleshootingService(page.uow).get(ticket.session_id)
        except SessionNotFound:
            session = None  # deleted by retention since
    directory = People(page.uow)
    people = await directory.by_ids([ticket.user_id, ticket.assigned_to])
    assignees = await directory.with_roles(ASSIGNABLE_ROLES)
    return page.render(
        "troubleshooting/support_ticket.html",
        status=status,
        ticket=ticket,
        session=session,
        people=people,
        assignees=[a for a in assignees if a.id != page.user_id],
        moves=_moves(ticket.status),
        priorities=_labels(PRIORITY_LABELS),
        form=form,
        **_support_common(),
    )


@router.get("/support/tickets/{ticket_id}")
async def support_ticket(page: SupportPage, ticket_id: uuid.UUID) -> Response:
    return await _ticket_page(page, ticket_id)


async def _change_ticket(
    page: Page, ticket_id: uuid.UUID, name: str, patch: Callable[[], TicketPatch], done: str
) -> Response:
    try:
        data = patch()
        await page.submit(lambda: TicketService(page.uow).update(ticket_id, data), TICKET_MESSAGES)
    except FormError as exc:
        return await _ticket_page(page, ticket_id, FormState.failed(name, page.form, exc), exc.status)
    return page.redirect(f"/support/tickets/{ticket_id}", flash=done)


@router.post("/support/tickets/{ticket_id}/assign")
async def assign_ticket(page: SupportPage, ticket_id: uuid.UUID) -> Response:
    """``assigned_to``: "me", a user's id, or empty (nobody: back to the queue)."""
    assert page.form is not None
    form = page.form
    raw = str(form.get("assigned_to") or "").strip()
    extra: dict[str, Any] = {"assigned_to": str(page.user_id)} if raw == "me" else {}
    unassign = not raw

    def patch() -> TicketPatch:
        if unassign:
            return TicketPatch(assigned_to=None)
        data: TicketPatch = form_model(
            TicketPatch, form, fields=() if extra else ("assigned_to",), extra=extra
        )
        return data

    done = _("The ticket is back in the queue, unassigned.") if unassign else _("The ticket was assigned.")
    return await _change_ticket(page, ticket_id, "assign", patch, done)


@router.post("/support/tickets/{ticket_id}/status")
async def move_ticket(page: SupportPage, ticket_id: uuid.UUID) -> Response:
    """A status change of the workflow, with the resolution when it is resolved."""
    assert page.form is not None
    form = page.form

    def patch() -> TicketPatch:
        data: TicketPatch = form_model(TicketPatch, form, fields=("status", "resolution"))
        if data.status is None:
            raise FormError(_("Choose one of the options."), status=422)
        return data

    return await _change_ticket(page, ticket_id, "status", patch, _("The ticket's status was changed."))


@router.post("/support/tickets/{ticket_id}/priority")
async def reprioritise_ticket(page: SupportPage, ticket_id: uuid.UUID) -> Response:
    assert page.form is not None
    form = page.form

    def patch() -> TicketPatch:
        data: TicketPatch = form_model(TicketPatch, form, fields=("priority",))
        if data.priority is None:
            raise FormError(_("Check the highlighted fields."), {"priority": _("Choose one of the options.")})
        return data

    return await _change_ticket(page, ticket_id, "priority", patch, _("The priority was changed."))


pages = Pages.of(
    __file__,
    "troubleshooting",
    router=router,
    nav=(
        NavItem(N_("Troubleshooting"), "/troubleshooting", order=30),
        NavItem(N_("Tickets"), "/support/tickets", order=70, roles=SUPPORT_NAV_ROLES),
    ),
    panels=(Panel("device", device_panel, order=20), Panel("dashboard", open_sessions_panel, order=30)),
    messages=MESSAGES,
)

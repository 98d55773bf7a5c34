from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from homeops.core.errors import UnprocessableEntity
from homeops.core.pagination import Page, PageParams, page_params
from homeops.identity.deps import Uow
from homeops.troubleshooting.models import Priority, SessionStatus, TicketStatus
from homeops.troubleshooting.schemas import (
    MAX_SYMPTOMS,
    SYMPTOM_MAX_CHARS,
    EscalateIn,
    MessageIn,
    SessionIn,
    SessionOut,
    SessionPatch,
    SessionSummaryOut,
    TicketIn,
    TicketOut,
    TicketPatch,
    normalise_symptoms,
)
from homeops.troubleshooting.service import TroubleshootingService
from homeops.troubleshooting.tickets import TicketService

router = APIRouter(prefix="/api/v1", tags=["troubleshooting"])
Paging = Annotated[PageParams, Depends(page_params)]


async def _sessions(uow: Uow) -> TroubleshootingService:
    return TroubleshootingService(uow)


async def _tickets(uow: Uow) -> TicketService:
    return TicketService(uow)


async def _symptom_filter(
    symptoms: Annotated[list[str] | None, Query(description="Repeat: sessions having ALL of these")] = None,
) -> list[str]:
    values = symptoms or []
    if len(values) > MAX_SYMPTOMS or any(len(v) > SYMPTOM_MAX_CHARS for v in values):
        raise UnprocessableEntity(f"At most {MAX_SYMPTOMS} symptoms of {SYMPTOM_MAX_CHARS} characters each.")
    return normalise_symptoms(values)


Sessions = Annotated[TroubleshootingService, Depends(_sessions)]
Tickets = Annotated[TicketService, Depends(_tickets)]
SymptomFilter = Annotated[list[str], Depends(_symptom_filter)]


@router.post("/troubleshooting-sessions", status_code=status.HTTP_201_CREATED, response_model=SessionOut)
async def open_session(body: SessionIn, svc: Sessions) -> SessionOut:
    """Open a session for a device of a home you are a member of. Answers with `suggestions`: the device
    model's known problems ranked by symptom and error-code overlap (each says why), and the best passages
    of the device's manuals (page cited)."""
    return await svc.create(body)


@router.get("/troubleshooting-sessions", response_model=Page[SessionSummaryOut])
async def search_sessions(
    svc: Sessions,
    page: Paging,
    symptoms: SymptomFilter,
    status: SessionStatus | None = None,
    device_id: uuid.UUID | None = None,
) -> Page[SessionSummaryOut]:
    """Your own sessions in your homes (seed 000 Query 5) whose symptoms contain all the given ones, newest
    first, with the device's nickname and model number."""
    items, cursor = await svc.search(page, symptoms=symptoms, status=status, device_id=device_id)
    return Page(items=items, next_cursor=cursor)


@router.get("/troubleshooting-sessions/{session_id}", response_model=SessionOut)
async def get_session(session_id: uuid.UUID, svc: Sessions) -> SessionOut:
    return await svc.get(session_id)


@router.post("/troubleshooting-sessions/{session_id}/messages", response_model=SessionOut)
async def add_message(session_id: uuid.UUID, body: MessageIn, svc: Sessions) -> SessionOut:
    """Append your message to an open session; the assistant answers with re-ranked suggestions."""
    return await svc.add_message(session_id, body)


@router.patch("/troubleshooting-sessions/{session_id}", response_model=SessionOut)
async def update_session(session_id: uuid.UUID, body: SessionPatch, svc: Sessions) -> SessionOut:
    """Resolve or abandon an open session; rate it (1–5) and record the resolution once it is closed."""
    return await svc.update(session_id, body)


@router.post(
    "/troubleshooting-sessions/{session_id}/escalate",
    status_code=status.HTTP_201_CREATED,
    response_model=TicketOut,
)
async def escalate_session(session_id: uuid.UUID, svc: Sessions, body: EscalateIn | None = None) -> TicketOut:
    """Create the session's service ticket (exactly one; a second call answers 409 `already_escalated`)."""
    return await svc.escalate(session_id, body or EscalateIn())


@router.post("/service-tickets", status_code=status.HTTP_201_CREATED, response_model=TicketOut)
async def create_ticket(body: TicketIn, svc: Tickets) -> TicketOut:
    return await svc.create(body)


@router.get("/service-tickets", response_model=Page[TicketOut])
async def list_tickets(
    svc: Tickets,
    page: Paging,
    status: TicketStatus | None = None,
    priority: Priority | None = None,
    assigned_to: uuid.UUID | None = None,
    device_id: uuid.UUID | None = None,
) -> Page[TicketOut]:
    """Staff (support, technician, manager, admin): every ticket; everyone else: their own, in their homes.
    Newest first."""
    items, cursor = await svc.search(
        page, status=status, priority=priority, assigned_to=assigned_to, device_id=device_id
    )
    return Page(items=items, next_cursor=cursor)


@router.get("/service-tickets/{ticket_id}", response_model=TicketOut)
async def get_ticket(ticket_id: uuid.UUID, svc: Tickets) -> TicketOut:
    return await svc.get(ticket_id)


@router.patch("/service-tickets/{ticket_id}", response_model=TicketOut)
async def update_ticket(ticket_id: uuid.UUID, body: TicketPatch, svc: Tickets) -> TicketOut:
    """Move the ticket through open → assigned → in_progress → resolved → closed (staff), assign it to a
    support or technician user (staff), or close / reopen / give resolution feedback (its owner)."""
    return await svc.update(ticket_id, body)

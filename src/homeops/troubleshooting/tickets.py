"""Service tickets (seed 000): opened directly for a device or by escalating a troubleshooting session.

Status: open → assigned → in_progress → resolved → closed; a resolved ticket may reopen (→ in_progress);
any ticket that is not closed may be closed (withdrawn); closed is final. Assigning an open ticket makes it
``assigned``, unassigning an assigned one makes it ``open`` again. Staff (support, technician, manager,
admin) see and change every ticket and assign it to a support or technician user; homeowners see their own
tickets and may only close them, reopen a resolved one, or write the resolution feedback.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.access import home_filter
from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.patch import reject_nulls
from homeops.core.tenancy import STAFF_ROLES, HomeRole, UserRole
from homeops.core.uow import UnitOfWork
from homeops.devices.models import Device
from homeops.devices.service import DeviceNotFound
from homeops.homes.access import load_in_home, load_visible
from homeops.troubleshooting.models import Priority, ServiceTicket, TicketStatus
from homeops.troubleshooting.repository import TicketRepository
from homeops.troubleshooting.schemas import TicketIn, TicketOut, TicketPatch
from homeops.troubleshooting.tasks import ASSIGNED, OPENED, STATUS, queue_ticket_notification

__all__ = [
    "ASSIGNABLE_ROLES",
    "STAFF_ROLES",
    "TRANSITIONS",
    "TicketNotFound",
    "TicketService",
    "announce_new_ticket",
]

ASSIGNABLE_ROLES = frozenset({UserRole.support, UserRole.technician})

S = TicketStatus
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    S.open: frozenset({S.assigned, S.closed}),
    S.assigned: frozenset({S.in_progress, S.closed}),
    S.in_progress: frozenset({S.resolved, S.closed}),
    S.resolved: frozenset({S.in_progress, S.closed}),
    S.closed: frozenset(),
}
_NEEDS_ASSIGNEE = frozenset({S.assigned, S.in_progress})


class TicketNotFound(NotFound):
    code, title = "ticket_not_found", "Service ticket not found"


class StaffOnly(Forbidden):
    code, title = "staff_only", "Only support staff may do this"


class InvalidTicketTransition(Conflict):
    code, title = "invalid_transition", "Invalid status transition"


class InvalidAssignee(UnprocessableEntity):
    code, title = "invalid_assignee", "Invalid assignee"


async def announce_new_ticket(session: AsyncSession, ticket: ServiceTicket) -> None:
    """Queues the job telling support staff about a new ticket (committed with the ticket, or not at all)."""
    await queue_ticket_notification(session, OPENED, ticket)


class TicketService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        self.tickets = TicketRepository(uow.session)

    async def create(self, data: TicketIn) -> TicketOut:
        device, _ = await load_in_home(
            self.uow, Device, data.device_id, HomeRole.member, not_found=DeviceNotFound
        )
        ticket = await self.tickets.add(
            ServiceTicket(
                user_id=self.uow.actor.require_user_id(),
                device_id=device.id,
                home_id=device.home_id,
                summary=data.summary,
                symptoms=data.symptoms,
                error_codes=data.error_codes,
                priority=data.priority,
            )
        )
        self.uow.record(
            AuditEntry(
                "service_ticket_created", "service_ticket", ticket.id, new_values=data.model_dump(mode="json")
            )
        )
        await announce_new_ticket(self.session, ticket)
        return TicketOut.model_validate(ticket)

    async def get(self, ticket_id: uuid.UUID) -> TicketOut:
        ticket = await load_visible(self.uow, ServiceTicket, ticket_id, not_found=TicketNotFound)
        return TicketOut.model_validate(ticket)

    async def search(
        self,
        page: PageParams,
        *,
        status: TicketStatus | None,
        priority: Priority | None,
        assigned_to: uuid.UUID | None,
        device_id: uuid.UUID | None,
        unassigned: bool = False,
    ) -> tuple[list[TicketOut], str | None]:
        actor = self.uow.actor
        if actor.is_staff:  # the support queue: every home's tickets
            user_id, homes = None, None
        else:  # their own tickets, in their homes
            user_id, homes = actor.require_user_id(), home_filter(self.uow, ServiceTicket.home_id)
            if homes is None:
                return [], None
        rows = await self.tickets.search(
            user_id=user_id,
            homes=homes,
            status=status,
            priority=priority,
            assigned_to=assigned_to,
            device_id=device_id,
            limit=page.limit,
            after=decode_cursor(page.cursor),
            unassigned=unassigned,
        )
        items, cursor = build_page(rows, page.limit, key=lambda t: (t.created_at, t.id))
        return [TicketOut.model_validate(t) for t in items], cursor

    async def update(self, ticket_id: uuid.UUID, patch: TicketPatch) -> TicketOut:
        ticket = await load_visible(self.uow, ServiceTicket, ticket_id, not_found=TicketNotFound, lock=True)
        changes = patch.model_dump(exclude_unset=True)
        if not changes:
            return TicketOut.model_validate(ticket)
        if ticket.status is S.closed:
            raise InvalidTicketTransition("A closed ticket is final.")
        reject_nulls(changes, ("status", "priority"))
        target = self._target_status(ticket, changes)
        if not self.uow.actor.is_staff:
            self._check_owner_change(ticket, changes, target)
        assignee = changes.get("assigned_to", ticket.assigned_to)
        if changes.get("assigned_to") is not None:
            await self._check_assignee(changes["assigned_to"])
        if target in _NEEDS_ASSIGNEE and assignee is None:
            raise InvalidTicketTransition(
                f"An {target.value} ticket needs an assignee.", code="assignee_required"
            )

        old = {k: getattr(ticket, k) for k in (*changes, "status", "assigned_to")}
        for key, value in changes.items():
            if key != "status":
                setattr(ticket, key, value)
        self._move(ticket, target)
        await self.tickets.save()
        await self._notify(ticket, old["status"], old["assigned_to"])
        new = {**changes, "status": ticket.status}
        self.uow.record(
            AuditEntry(
                "service_ticket_updated",
                "service_ticket",
                ticket.id,
                old_values=_jsonable(old),
                new_values=_jsonable(new),
            )
        )
        return TicketOut.model_validate(ticket)

    # --- rules --------------------------------------------------------------------------------------
    @staticmethod
    def _target_status(ticket: ServiceTicket, changes: dict[str, Any]) -> TicketStatus:
        if "status" in changes:
            target: TicketStatus = changes["status"]
            if target is not ticket.status and target not in TRANSITIONS[ticket.status]:
                raise InvalidTicketTransition(
                    f"A ticket cannot go from {ticket.status.value} to {target.value}."
                )
            return target
        if "assigned_to" in changes:
            if changes["assigned_to"] is not None and ticket.status is S.open:
                return S.assigned
            if changes["assigned_to"] is None and ticket.status is S.assigned:
                return S.open  # unassigned: back to the queue
        return ticket.status

    def _check_owner_change(
        self, ticket: ServiceTicket, changes: dict[str, Any], target: TicketStatus
    ) -> None:
        """Homeowners: close, reopen a resolved ticket, or write the resolution; nothing else."""
        staff_fields = {"priority", "assigned_to"} & changes.keys()
        if staff_fields:
            raise StaffOnly(f"Only support staff may change {', '.join(sorted(staff_fields))}.")
        reopen = ticket.status is S.resolved and target is S.in_progress
        if target is not ticket.status and target is not S.closed and not reopen:
            raise StaffOnly("You may close your ticket or reopen it once resolved; staff handle the rest.")

    async def _check_assignee(self, user_id: uuid.UUID) -> None:
        actor = self.uow.actor
        role = actor.role if user_id == actor.user_id else await self.tickets.active_role(user_id)
        if role not in ASSIGNABLE_ROLES:
            raise InvalidAssignee("Assign tickets to an active support or technician user you can see.")

    async def _notify(
        self, ticket: ServiceTicket, old_status: TicketStatus, old_assignee: uuid.UUID | None
    ) -> None:
        """Tells the new assignee, and the ticket's owner when someone else changed its status."""
        assignee = ticket.assigned_to
        me = self.uow.actor.user_id
        if assignee is not None and assignee not in (old_assignee, me):
            await queue_ticket_notification(self.session, ASSIGNED, ticket, assignee)
        if ticket.status is not old_status and ticket.user_id != me:
            await queue_ticket_notification(self.session, STATUS, ticket, ticket.user_id, ticket.status.value)

    def _move(self, ticket: ServiceTicket, target: TicketStatus) -> None:
        if target is ticket.status:
            return
        now = self.uow.now()
        if target is S.resolved:
            ticket.resolved_at = now
        elif ticket.status is S.resolved and target is S.in_progress:
            ticket.resolved_at = None  # reopened
        if target is S.closed:
            ticket.closed_at = now
        ticket.status = target


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        out[key] = (
            value.value
            if isinstance(value, TicketStatus | Priority)
            else (str(value) if isinstance(value, uuid.UUID) else value)
        )
    return out

"""Background jobs of the troubleshooting domain (registered on import; see homeops.core.jobs).

Ticket notifications are written by the background worker (``homeops_worker``: it reads tickets and the
accounts of staff, and inserts notifications for anyone — see the troubleshooting and notifications
migrations): the API role cannot list support staff (RLS on users), and one code path for every ticket
notification keeps them uniform. The request queues the job in its own transaction, so a notification exists
only for a change that was committed.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.jobs import JobContext, enqueue, registry
from homeops.core.tenancy import UserRole
from homeops.notifications.models import NotificationPriority
from homeops.notifications.service import NotificationService
from homeops.troubleshooting.models import Priority, ServiceTicket
from homeops.troubleshooting.repository import TicketRepository

NOTIFY_TICKET = "troubleshooting.notify_ticket"
TRIAGE_ROLES = (UserRole.support,)
OPENED, ASSIGNED, STATUS = "opened", "assigned", "status"
NOTIFICATION_PRIORITY = {
    Priority.low: NotificationPriority.low,
    Priority.medium: NotificationPriority.normal,
    Priority.high: NotificationPriority.high,
    Priority.urgent: NotificationPriority.urgent,
}


async def queue_ticket_notification(
    session: AsyncSession,
    event: str,
    ticket: ServiceTicket,
    recipient: uuid.UUID | None = None,
    status: str = "",
) -> None:
    """``opened``: every support user; ``assigned``: the assignee; ``status``: the owner (new ``status``).
    The payload names the ticket by its full key (home_id, id): the job reads it from one shard."""
    payload = {
        "event": event,
        "ticket_id": str(ticket.id),
        "home_id": str(ticket.home_id),
        "recipient": str(recipient) if recipient else None,
        "status": status,
    }
    key = f"{NOTIFY_TICKET}:{OPENED}:{ticket.id}" if event == OPENED else None
    await enqueue(session, NOTIFY_TICKET, payload, dedupe_key=key)


@registry.task(NOTIFY_TICKET, max_attempts=3, retry_backoff_seconds=30)
async def notify_ticket(job: JobContext, payload: dict[str, Any]) -> None:
    tickets = TicketRepository(job.session)
    notifications = NotificationService(job.uow())
    ticket_id = uuid.UUID(payload["ticket_id"])
    home_id = payload.get("home_id")  # absent in jobs queued before the full key was recorded
    ticket = await (tickets.get_in_home(uuid.UUID(home_id), ticket_id) if home_id else tickets.get(ticket_id))
    if ticket is None:
        return  # deleted meanwhile
    event = payload["event"]
    if event == OPENED:
        origin = "escalated from a troubleshooting session" if ticket.session_id else "opened directly"
        for user_id in await tickets.active_user_ids(TRIAGE_ROLES):
            await _notify(
                notifications,
                ticket,
                user_id,
                "service_ticket_opened",
                f"New {ticket.priority.value}-priority service ticket",
                f"{ticket.summary[:500]}\n(Ticket {ticket.id}, {origin}.)",
                dedupe_key=f"service_ticket_opened:{ticket.id}",
            )
    elif event == ASSIGNED:
        await _notify(
            notifications,
            ticket,
            uuid.UUID(payload["recipient"]),
            "service_ticket_assigned",
            "Service ticket assigned to you",
            ticket.summary[:500],
        )
    elif event == STATUS:
        status = str(payload["status"]).replace("_", " ")
        await _notify(
            notifications,
            ticket,
            uuid.UUID(payload["recipient"]),
            "service_ticket_status",
            f"Your service ticket is now {status}",
            ticket.resolution or ticket.summary[:500],
        )
    else:
        raise ValueError(f"unknown ticket notification event {event!r}")


async def _notify(
    notifications: NotificationService,
    ticket: ServiceTicket,
    user_id: uuid.UUID,
    kind: str,
    title: str,
    message: str,
    dedupe_key: str | None = None,
) -> None:
    await notifications.notify(
        user_id,
        kind,
        title,
        message,
        related_entity_type="service_ticket",
        related_entity_id=ticket.id,
        action_url=f"/api/v1/service-tickets/{ticket.id}",
        priority=NOTIFICATION_PRIORITY[ticket.priority],
        dedupe_key=dedupe_key,
    )

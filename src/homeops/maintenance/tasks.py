"""Background jobs of the maintenance domain (registered on import; see homeops.core.jobs).

``maintenance.reminders`` (hourly): one notification per member of the home (owner, admin, member) for each
active, reminder-enabled schedule that entered its lead time ("due") or is overdue ("overdue"), once per
due date and kind; e-mailed too when SMTP is configured. Running it twice creates nothing new.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.jobs import JobContext, registry
from homeops.maintenance.repository import DueRow, ScheduleRepository
from homeops.notifications.email import Mailer
from homeops.notifications.models import NotificationPriority
from homeops.notifications.repository import NotificationRepository
from homeops.notifications.service import email_notifications, expiry_days
from homeops.notifications.tasks import mailer_of

log = logging.getLogger(__name__)

REMINDERS = "maintenance.reminders"


def dedupe_key(row: DueRow, kind: str) -> str:
    return f"maint:{row.schedule_id}:{row.next_due.isoformat()}:{kind}"


def _reminder(row: DueRow) -> dict[str, Any]:
    days = row.days_until_due  # counted from the home's own today
    where = f" ({row.location})" if row.location else ""
    subject = f"{row.task_name} — {row.device_nickname}"
    if days < 0:
        kind, priority = "overdue", NotificationPriority.high
        title = f"Overdue: {subject}"
        when = f"was due on {row.next_due.isoformat()} ({-days} day{'s' if days != -1 else ''} ago)"
    else:
        kind, priority = "due", NotificationPriority.normal
        title = f"Due soon: {subject}"
        when = (
            "is due today"
            if days == 0
            else f"is due on {row.next_due.isoformat()} (in {days} day" + ("s)" if days != 1 else ")")
        )
    cost = f" Estimated cost: {row.estimated_cost}." if row.estimated_cost is not None else ""
    return {
        "notification_type": f"maintenance_{kind}",
        "title": title[:255],
        "message": f"{row.task_name} for {row.device_nickname}{where} {when}.{cost}",
        "related_entity_type": "maintenance_schedule",
        "related_entity_id": row.schedule_id,
        "action_url": f"/api/v1/maintenance-schedules/{row.schedule_id}",
        "priority": priority,
        "dedupe_key": dedupe_key(row, kind),
        "delivery_method": {"in_app": True},
    }


async def send_maintenance_reminders(
    session: AsyncSession, now: datetime, mailer: Mailer | None = None
) -> int:
    """Creates the reminders due at the instant ``now`` (in the background worker's session: it reads every
    home's schedules and members), each schedule judged by its home's date at that instant; returns how many
    are new. ``mailer`` None: in-app only."""
    candidates = await ScheduleRepository(session).reminder_candidates(now)
    expires_at = now + timedelta(days=await expiry_days(session))
    rows = [
        {**_reminder(row), "user_id": user_id, "expires_at": expires_at}
        for row, recipients in candidates
        for user_id in recipients
    ]
    created = await NotificationRepository(session).insert_many(rows) if rows else []
    sent = await email_notifications(session, created, mailer) if mailer and created else 0
    log.info(
        "maintenance reminders",
        extra={"reminders_created": len(created), "reminders_emailed": sent, "at": now.isoformat()},
    )
    return len(created)


@registry.periodic(REMINDERS, every_seconds=3600)
async def maintenance_reminders_task(job: JobContext, payload: dict[str, Any]) -> None:
    await send_maintenance_reminders(job.session, job.runtime.clock.now(), mailer_of(job.runtime))

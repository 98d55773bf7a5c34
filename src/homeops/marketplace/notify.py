"""Notifying the other party — after the commit.

A status change queues one ``marketplace.notify`` job in its own transaction (the job queue is the outbox: the
job exists only if the change committed, and the change's rows stay on their one shard). The background worker
then inserts the in-app notifications (any recipient: the worker's notifications grant) and e-mails them when
SMTP is configured. A chat message queues its job with a delay and a condition: the receiver is notified only
if the message is still unread then (they were not following the conversation live — "offline")."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from homeops.core.jobs import JobContext, enqueue, registry
from homeops.core.uow import UnitOfWork
from homeops.marketplace.repository import ChatRepository
from homeops.notifications.models import NotificationPriority
from homeops.notifications.repository import NotificationRepository
from homeops.notifications.service import email_notifications, expiry_days
from homeops.notifications.tasks import mailer_of

NOTIFY = "marketplace.notify"
CHAT_OFFLINE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Note:
    user_id: uuid.UUID
    kind: str
    title: str
    message: str
    entity_type: str
    entity_id: uuid.UUID
    url: str
    priority: str = NotificationPriority.normal.value
    dedupe_key: str | None = None


async def queue_notes(
    uow: UnitOfWork,
    notes: list[Note],
    *,
    run_at: datetime | None = None,
    unless_read: tuple[uuid.UUID, uuid.UUID] | None = None,
    dedupe_key: str | None = None,
) -> None:
    """Queues the notifications (sent by the worker once this transaction committed). ``unless_read``:
    (requester_id, message_id) of a chat message — skipped if it was read meanwhile."""
    notes = [n for n in notes if n.user_id != uow.actor.user_id]  # nobody is notified of their own action
    if not notes:
        return
    payload: dict[str, Any] = {
        "notes": [{**asdict(n), "user_id": str(n.user_id), "entity_id": str(n.entity_id)} for n in notes],
        "unless_read": [str(unless_read[0]), str(unless_read[1])] if unless_read else None,
    }
    await enqueue(uow.session, NOTIFY, payload, run_at=run_at, dedupe_key=dedupe_key)


@registry.task(NOTIFY, max_attempts=5, retry_backoff_seconds=30)
async def deliver(job: JobContext, payload: dict[str, Any]) -> None:
    condition = payload.get("unless_read")
    if condition and not await ChatRepository(job.session).is_unread(
        uuid.UUID(condition[0]), uuid.UUID(condition[1])
    ):
        return  # read (or deleted) meanwhile: the receiver was following
    expires_at = job.runtime.clock.now() + timedelta(days=await expiry_days(job.session))
    rows = [
        {
            "user_id": uuid.UUID(n["user_id"]),
            "notification_type": n["kind"],
            "title": n["title"][:255],
            "message": n["message"],
            "related_entity_type": n["entity_type"],
            "related_entity_id": uuid.UUID(n["entity_id"]),
            "action_url": n["url"],
            "priority": NotificationPriority(n["priority"]),
            "dedupe_key": n.get("dedupe_key"),
            "delivery_method": {"in_app": True},
            "expires_at": expires_at,
        }
        for n in payload["notes"]
    ]
    created = await NotificationRepository(job.session).insert_many(rows)
    mailer = mailer_of(job.runtime)
    if mailer is not None and created:
        await email_notifications(job.session, created, mailer)

"""In-app notifications: any domain notifies a user (idempotently with a dedupe key); each user lists,
reads and deletes only their own. E-mail delivery of new notifications when SMTP is configured."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.audit import AuditEntry
from homeops.core.errors import NotFound
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.uow import UnitOfWork
from homeops.notifications.email import Delivery, Mailer, OutgoingEmail
from homeops.notifications.models import Notification, NotificationPriority
from homeops.notifications.repository import NotificationRepository
from homeops.notifications.schemas import NotificationOut
from homeops.settings.repository import SettingRepository

EXPIRY_SETTING = "notifications.expiry_days"
DEFAULT_EXPIRY_DAYS = 90


class NotificationNotFound(NotFound):
    code, title = "notification_not_found", "Notification not found"


async def expiry_days(session: AsyncSession) -> int:
    """The ``notifications.expiry_days`` system setting; its default where the caller may not read it."""
    row = await SettingRepository(session).get(EXPIRY_SETTING)
    try:
        return int(row.setting_value) if row is not None and row.setting_value else DEFAULT_EXPIRY_DAYS
    except ValueError:
        return DEFAULT_EXPIRY_DAYS


class NotificationService:
    """Any domain notifies any user (:meth:`notify`); the rest is the signed-in caller's own notifications."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        self.repo = NotificationRepository(uow.session)

    async def notify(
        self,
        user_id: uuid.UUID,
        notification_type: str,
        title: str,
        message: str,
        *,
        related_entity_type: str | None = None,
        related_entity_id: uuid.UUID | None = None,
        action_url: str | None = None,
        priority: NotificationPriority = NotificationPriority.normal,
        dedupe_key: str | None = None,
    ) -> uuid.UUID | None:
        """Creates a notification for ``user_id``; None when one with the same ``dedupe_key`` exists."""
        notification_id = uuid.uuid4()
        created = await self.repo.insert(
            {
                "user_id": user_id,
                "id": notification_id,
                "notification_type": notification_type,
                "title": title[:255],
                "message": message,
                "related_entity_type": related_entity_type,
                "related_entity_id": related_entity_id,
                "action_url": action_url,
                "priority": priority,
                "dedupe_key": dedupe_key,
                "delivery_method": {"in_app": True},
                "expires_at": self.uow.now() + timedelta(days=await expiry_days(self.session)),
            }
        )
        return notification_id if created else None

    # --- the caller's own ---------------------------------------------------------------------------
    def _me(self) -> uuid.UUID:
        return self.uow.actor.require_user_id()

    def _audit(self, action: str, entity_id: uuid.UUID | None, **new_values: object) -> None:
        self.uow.record(AuditEntry(action, "notification", entity_id, new_values=new_values or None))

    async def list_mine(
        self, page: PageParams, unread_only: bool
    ) -> tuple[list[NotificationOut], str | None]:
        rows = await self.repo.for_user(
            self._me(), unread_only=unread_only, limit=page.limit, after=decode_cursor(page.cursor)
        )
        items, cursor = build_page(rows, page.limit, key=lambda n: (n.created_at, n.id))
        return [NotificationOut.model_validate(n) for n in items], cursor

    async def read(self, notification_id: uuid.UUID) -> NotificationOut:
        row = await self.repo.mark_read(self._me(), notification_id, self.uow.now())
        if row is None:
            raise NotificationNotFound()
        self._audit("notification_read", notification_id)
        return NotificationOut.model_validate(row)

    async def read_all(self) -> int:
        count = await self.repo.mark_all_read(self._me(), self.uow.now())
        self._audit("notifications_read_all", None, updated=count)
        return count

    async def delete(self, notification_id: uuid.UUID) -> None:
        if not await self.repo.soft_delete(self._me(), notification_id):
            raise NotificationNotFound()
        self._audit("notification_deleted", notification_id)


async def email_notifications(
    session: AsyncSession, notifications: list[Notification], mailer: Mailer
) -> int:
    """(Worker.) E-mails each notification to its recipient and records the outcome in
    ``delivery_method.email``; returns how many were sent. Failures are recorded, never raised."""
    repo = NotificationRepository(session)
    addresses = await repo.emails({n.user_id for n in notifications})
    targets = [n for n in notifications if n.user_id in addresses]
    emails = [OutgoingEmail(to=addresses[n.user_id], subject=n.title, body=n.message) for n in targets]
    try:
        results = await mailer.send(emails)
    except Exception as exc:  # noqa: BLE001 - delivery must never break the job that notified
        results = [Delivery(False, datetime.now(UTC), f"{type(exc).__name__}: {exc}"[:300])] * len(emails)
    for notification, result in zip(targets, results, strict=True):
        delivery = {**(notification.delivery_method or {}), "email": result.as_json()}
        await repo.set_delivery(notification.user_id, notification.id, delivery)
    return sum(r.sent for r in results)

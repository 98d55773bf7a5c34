"""Every notifications query. Under the API role RLS shows each user only their own rows and lets any signed-in
transaction insert a fresh notification for anyone (without reading it back); the background worker
(``homeops_worker``) inserts for anyone, reads back what it inserted and records deliveries. Every statement
names the recipient (``user_id``, the distribution column on a cluster)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, bindparam, func, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.functions import now

from homeops.identity.models import User
from homeops.notifications.models import Notification

CHUNK = 1000
_CASTS = {"priority": "notification_priority", "delivery_method": "jsonb"}


def _on_conflict(stmt: Any) -> Any:
    """Idempotency: one row per (user, dedupe_key). No explicit conflict target on purpose: with one,
    PostgreSQL also checks the SELECT policy on the new row, which refuses notifying another user."""
    return stmt.on_conflict_do_nothing()


def _live() -> Any:
    return [
        Notification.is_deleted.is_(False),
        or_(Notification.expires_at.is_(None), Notification.expires_at > now()),
    ]


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, values: dict[str, Any]) -> bool:
        """Inserts one notification for anyone; False when its dedupe_key already exists for that user.
        No RETURNING: the API role may not read other users' notifications back."""
        columns = ", ".join(values)
        params = ", ".join(f"CAST(:{k} AS {_CASTS[k]})" if k in _CASTS else f":{k}" for k in values)
        bound = {k: json.dumps(v) if k == "delivery_method" else v for k, v in values.items()}
        # Plain SQL: SQLAlchemy does not report the rowcount of a compiled INSERT … ON CONFLICT DO NOTHING.
        result = await self.session.execute(
            text(f"INSERT INTO notifications ({columns}) VALUES ({params}) ON CONFLICT DO NOTHING"), bound
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def insert_many(self, rows: list[dict[str, Any]]) -> list[Notification]:
        """(Worker.) Inserts and returns only the rows that were new."""
        created: list[Notification] = []
        for start in range(0, len(rows), CHUNK):
            stmt = _on_conflict(insert(Notification).values(rows[start : start + CHUNK])).returning(
                Notification
            )
            created += list(await self.session.scalars(stmt))
        return created

    async def for_user(
        self, user_id: uuid.UUID, *, unread_only: bool, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> list[Notification]:
        n = Notification
        stmt = select(n).where(n.user_id == user_id, *_live()).order_by(n.created_at.desc(), n.id.desc())
        if unread_only:
            stmt = stmt.where(n.is_read.is_(False))
        if after is not None:
            stmt = stmt.where(tuple_(n.created_at, n.id) < tuple_(*after))
        return list(await self.session.scalars(stmt.limit(limit + 1)))

    def _own(self, user_id: uuid.UUID) -> Any:
        return update(Notification).where(Notification.user_id == user_id, *_live())

    async def _one(self, stmt: Any) -> Notification | None:
        row: Notification | None = await self.session.scalar(
            stmt.returning(Notification).execution_options(synchronize_session=False, populate_existing=True)
        )
        return row

    async def mark_read(
        self, user_id: uuid.UUID, notification_id: uuid.UUID, at: datetime
    ) -> Notification | None:
        """Marks it read at ``at`` (the clock's instant, a parameter: a cluster evaluates no ``now()`` inside
        ``coalesce`` of a distributed UPDATE); the first read time stays."""
        return await self._one(
            self._own(user_id)
            .where(Notification.id == notification_id)
            .values(
                is_read=True, read_at=func.coalesce(Notification.read_at, bindparam("at", at, DateTime(True)))
            )
        )

    async def mark_all_read(self, user_id: uuid.UUID, at: datetime) -> int:
        result = await self.session.execute(
            self._own(user_id)
            .where(Notification.is_read.is_(False))
            .values(is_read=True, read_at=at)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def soft_delete(self, user_id: uuid.UUID, notification_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            self._own(user_id)
            .where(Notification.id == notification_id)
            .values(is_deleted=True)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def set_delivery(
        self, user_id: uuid.UUID, notification_id: uuid.UUID, delivery: dict[str, Any]
    ) -> None:
        await self.session.execute(
            update(Notification)
            .where(Notification.user_id == user_id, Notification.id == notification_id)
            .values(delivery_method=delivery)
        )

    async def emails(self, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        """(Worker: it reads every account.) Addresses of active accounts."""
        rows = await self.session.execute(
            select(User.id, User.email).where(
                User.id.in_(user_ids), User.is_active, User.deleted_at.is_(None)
            )
        )
        return {user_id: email for user_id, email in rows.all()}

"""ONE notifications table: 002 notifications + 004 user_notifications. The recipient leads the key: it is the
distribution column on a cluster (the anchor of the user-keyed co-location group), and every lookup names it."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from homeops.core.models import Base, pg_enum


class NotificationPriority(enum.StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_created", "user_id", text("created_at DESC")),
        Index("ix_notifications_unread", "user_id", postgresql_where=text("NOT is_read AND NOT is_deleted")),
        Index("ix_notifications_type", "notification_type"),
        Index("ix_notifications_expires_at", "expires_at"),
        # Idempotency for generated notifications (e.g. one reminder per schedule occurrence).
        Index(
            "uq_notifications_user_dedupe",
            "user_id",
            "dedupe_key",
            unique=True,
            postgresql_where=text("dedupe_key IS NOT NULL"),
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    notification_type: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    related_entity_type: Mapped[str | None] = mapped_column(String(50))
    related_entity_id: Mapped[uuid.UUID | None]
    action_url: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[NotificationPriority] = mapped_column(
        pg_enum(NotificationPriority, "notification_priority"),
        server_default=NotificationPriority.normal.value,
    )
    delivery_method: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    is_read: Mapped[bool] = mapped_column(server_default=text("false"))
    read_at: Mapped[datetime | None]
    is_deleted: Mapped[bool] = mapped_column(server_default=text("false"))
    expires_at: Mapped[datetime | None]
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

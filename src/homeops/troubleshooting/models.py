"""Troubleshooting sessions and service tickets (seed 000)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from homeops.core.models import Base, TimestampMixin, pg_enum, uuid_pk


class SessionStatus(enum.StrEnum):
    open = "open"
    resolved = "resolved"
    escalated = "escalated"
    abandoned = "abandoned"


class TicketStatus(enum.StrEnum):
    open = "open"
    assigned = "assigned"
    in_progress = "in_progress"
    resolved = "resolved"
    closed = "closed"


class Priority(enum.StrEnum):
    """Shared by tickets (000) and complaints (003): the same four levels."""

    low = "low"
    medium = "medium"
    high = "high"
    urgent = "urgent"


priority_enum = pg_enum(Priority, "priority_level")
# The statuses of tickets still being worked on: each has a partial index for the support queue's filter
# (enum equality is not leakproof, so under row security only a partial index serves it).
ACTIVE_TICKET_STATUSES = ("open", "assigned", "in_progress")


class TroubleshootingSession(TimestampMixin, Base):
    """Private to the user who opened it (staff read it), keyed by its device's home: the distribution column
    on a cluster, so seed Query 5's join to the device stays on one shard."""

    __tablename__ = "troubleshooting_sessions"
    __table_args__ = (
        ForeignKeyConstraint(["home_id", "device_id"], ["devices.home_id", "devices.id"], ondelete="CASCADE"),
        CheckConstraint("user_satisfaction BETWEEN 1 AND 5", name="satisfaction_range"),
        Index("ix_troubleshooting_sessions_user_created", "user_id", text("created_at DESC")),
        Index("ix_troubleshooting_sessions_home_device", "home_id", "device_id"),
        Index("ix_troubleshooting_sessions_status", "status"),
        Index(
            "ix_troubleshooting_sessions_symptoms",
            "symptoms",
            postgresql_using="gin",
            postgresql_ops={"symptoms": "jsonb_path_ops"},
        ),
    )

    home_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    device_id: Mapped[uuid.UUID]
    issue_summary: Mapped[str] = mapped_column(Text)
    symptoms: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    error_codes: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    conversation: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    suggestions: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    status: Mapped[SessionStatus] = mapped_column(
        pg_enum(SessionStatus, "troubleshooting_status"), server_default=SessionStatus.open.value
    )
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    user_satisfaction: Mapped[int | None] = mapped_column(SmallInteger)


class ServiceTicket(TimestampMixin, Base):
    """Keyed by (home_id, id). An escalated ticket points at its session by (home_id, session_id); whoever
    deletes sessions detaches their tickets first (``TicketRepository.detach_sessions``)."""

    __tablename__ = "service_tickets"
    __table_args__ = (
        ForeignKeyConstraint(["home_id", "device_id"], ["devices.home_id", "devices.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["home_id", "session_id"], ["troubleshooting_sessions.home_id", "troubleshooting_sessions.id"]
        ),
        Index("ix_service_tickets_user_id", "user_id"),
        Index("ix_service_tickets_home_device", "home_id", "device_id"),
        Index("ix_service_tickets_status", "status"),
        Index("ix_service_tickets_priority", "priority"),
        # The support queue (newest first, keyset): see ``TicketRepository.search``.
        Index("ix_service_tickets_created", "created_at", "id"),
        Index("ix_service_tickets_assigned_to", "assigned_to", "created_at", "id"),
        *(
            Index(
                f"ix_service_tickets_{status}_created",
                "created_at",
                "id",
                postgresql_where=text(f"status = '{status}'"),
            )
            for status in ACTIVE_TICKET_STATUSES
        ),
        Index(
            "uq_service_tickets_home_session",
            "home_id",
            "session_id",
            unique=True,
            postgresql_where=text("session_id IS NOT NULL"),
        ),
    )

    home_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    device_id: Mapped[uuid.UUID]
    session_id: Mapped[uuid.UUID | None]
    status: Mapped[TicketStatus] = mapped_column(
        pg_enum(TicketStatus, "ticket_status"), server_default=TicketStatus.open.value
    )
    priority: Mapped[Priority] = mapped_column(priority_enum, server_default=Priority.medium.value)
    summary: Mapped[str] = mapped_column(Text)
    symptoms: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    error_codes: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

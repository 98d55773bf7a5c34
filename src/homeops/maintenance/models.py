"""Maintenance schedules and service history (seed 000), occurrences (completed / skipped) and the
per-user calendar feed."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column

from homeops.catalog.models import IntervalUnit
from homeops.core.models import Base, TimestampMixin, pg_enum, uuid_pk
from homeops.homes.models import Home


class RecurrenceAnchor(enum.StrEnum):
    schedule = "schedule"  # next due = previous due + interval (no drift: counted from series_start)
    completion = "completion"  # next due = completion date + interval


class ServiceEventType(enum.StrEnum):
    maintenance = "maintenance"
    repair = "repair"
    inspection = "inspection"
    installation = "installation"
    warranty_claim = "warranty_claim"
    replacement = "replacement"
    cleaning = "cleaning"
    other = "other"


class OccurrenceOutcome(enum.StrEnum):
    completed = "completed"
    skipped = "skipped"


class MaintenanceSchedule(TimestampMixin, Base):
    """Keyed by (home_id, id): the home is the distribution column on a cluster, co-located with devices."""

    __tablename__ = "maintenance_schedules"
    __table_args__ = (
        ForeignKeyConstraint(["home_id", "device_id"], ["devices.home_id", "devices.id"], ondelete="CASCADE"),
        CheckConstraint("interval > 0", name="interval_positive"),
        CheckConstraint("lead_days >= 0", name="lead_days_non_negative"),
        Index("ix_maintenance_schedules_home_device", "home_id", "device_id"),
        Index("ix_maintenance_schedules_home_due", "home_id", "next_due"),
        Index("ix_maintenance_schedules_next_due", "next_due", postgresql_where=text("is_active")),
    )

    home_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    device_id: Mapped[uuid.UUID]
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("model_maintenance_templates.id", ondelete="SET NULL")
    )
    task_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    interval: Mapped[int]
    interval_unit: Mapped[IntervalUnit] = mapped_column(pg_enum(IntervalUnit, "interval_unit", create=False))
    anchor: Mapped[RecurrenceAnchor] = mapped_column(pg_enum(RecurrenceAnchor, "recurrence_anchor"))
    # Schedule-anchored series are computed from their start and occurrence number, so Jan 31 → Feb 28 →
    # Mar 31 (clamped months never drift).
    series_start: Mapped[date]
    occurrence: Mapped[int] = mapped_column(server_default=text("0"))
    next_due: Mapped[date]
    last_performed: Mapped[date | None]
    lead_days: Mapped[int] = mapped_column(server_default=text("7"))
    end_date: Mapped[date | None]
    parts_needed: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    estimated_cost: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    reminder_enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))

    if TYPE_CHECKING:
        home_timezone: str  # mapped below: the home's IANA zone, loaded with the schedule


# The schedule's home's timezone comes with every load of the schedule (a scalar subquery in the same
# statement, not a join: ``FOR UPDATE`` locks the schedule only), so "today" for that home costs no query.
# It never changes for a schedule, so a flush does not expire it.
MaintenanceSchedule.home_timezone = column_property(  # type: ignore[assignment]
    select(Home.timezone).where(Home.id == MaintenanceSchedule.__table__.c.home_id).scalar_subquery(),
    expire_on_flush=False,
)


class MaintenanceOccurrence(Base):
    """What happened to one due date of a schedule: completed (with its service event) or skipped."""

    __tablename__ = "maintenance_occurrences"
    __table_args__ = (
        ForeignKeyConstraint(
            ["home_id", "schedule_id"],
            ["maintenance_schedules.home_id", "maintenance_schedules.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("home_id", "schedule_id", "due_date"),
    )

    home_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    schedule_id: Mapped[uuid.UUID]
    due_date: Mapped[date]
    outcome: Mapped[OccurrenceOutcome] = mapped_column(pg_enum(OccurrenceOutcome, "occurrence_outcome"))
    acted_on: Mapped[date]
    service_event_id: Mapped[uuid.UUID | None]
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ServiceEvent(TimestampMixin, Base):
    """Seed 000 service_events. Append-mostly; keyed by (home_id, id) like everything in a home. Deleting a
    schedule keeps its events: the service nulls their ``schedule_id`` first (no ON DELETE SET NULL on a key
    that contains the distribution column)."""

    __tablename__ = "service_events"
    __table_args__ = (
        ForeignKeyConstraint(["home_id", "device_id"], ["devices.home_id", "devices.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["home_id", "schedule_id"], ["maintenance_schedules.home_id", "maintenance_schedules.id"]
        ),
        Index("ix_service_events_device_date", "home_id", "device_id", text("event_date DESC")),
        Index("ix_service_events_home_date", "home_id", text("event_date DESC")),
        Index("ix_service_events_event_type", "event_type"),
        Index("ix_service_events_user_id", "user_id"),
        Index(
            "ix_service_events_schedule",
            "home_id",
            "schedule_id",
            postgresql_where=text("schedule_id IS NOT NULL"),
        ),
        Index(
            "uq_service_events_source",
            "home_id",
            "device_id",
            "source_type",
            "source_id",
            unique=True,
            postgresql_where=text("source_id IS NOT NULL"),
        ),
    )

    home_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    device_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    schedule_id: Mapped[uuid.UUID | None]
    event_type: Mapped[ServiceEventType] = mapped_column(pg_enum(ServiceEventType, "service_event_type"))
    event_date: Mapped[date]
    description: Mapped[str | None] = mapped_column(Text)
    technician: Mapped[str | None] = mapped_column(String(200))
    cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    warranty_covered: Mapped[bool] = mapped_column(server_default=text("false"))
    parts_replaced: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    notes: Mapped[str | None] = mapped_column(Text)
    # [{key, file_name, content_type, size}] — files live in the storage interface.
    attachments: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    # Set when another domain recorded the event (``marketplace_project`` + the project's id): a link back.
    source_type: Mapped[str | None] = mapped_column(String(50))
    source_id: Mapped[uuid.UUID | None]


class CalendarFeed(Base):
    """A per-user secret iCalendar URL; only the token's SHA-256 is stored (local to the coordinator on a
    cluster: one indexed lookup by hash, platform-wide unique)."""

    __tablename__ = "calendar_feeds"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    rotated_at: Mapped[datetime | None]

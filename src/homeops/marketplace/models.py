"""The marketplace's tables (seed 002): service categories, provider profiles and portfolios, diagnostics,
service requests, quotes, projects, chat messages, ratings and their helpful votes, request views.

**Who the tenants are.** A marketplace request is its requester's (``requester_id``, the homeowner's user id):
the request, its quotes, its project, the project's chat and its rating are all keyed by ``requester_id`` and,
on a cluster, distributed by it and co-located with the other per-user tables (``notifications``,
``diagnostics``), so accepting a quote — the quote, the other pending quotes, the request and the new
project — happens on one shard. The provider side of each row is denormalised onto it (``provider_id``,
``provider_user_id``, ``provider_org_id``): row policies compare those with the identity settings, no policy
reads another table. The directory (``service_categories``, ``provider_profiles``, ``portfolio_items``) is
public and replicated (reference tables): every shard joins it for names.

The visibility rules a policy cannot express — which open requests match a provider's services and coverage,
whether a provider is verified — live in narrow ``SECURITY DEFINER`` functions of the migration (p014), which
apply them explicitly from the ``homeops.*`` identity settings. See ``docs/scale-out.md``.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    Computed,
    FetchedValue,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import Mapped, mapped_column

from homeops.core.models import Base, TimestampMixin, pg_enum, uuid_pk

OPEN_STATUSES = ("open", "quotes_received")


class ProviderType(enum.StrEnum):
    company = "company"
    engineer = "engineer"


class PreferredProviderType(enum.StrEnum):
    company = "company"
    engineer = "engineer"
    any = "any"


class PropertyType(enum.StrEnum):
    apartment = "apartment"
    villa = "villa"
    house = "house"
    commercial = "commercial"
    other = "other"


class RiskLevel(enum.StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class Urgency(enum.StrEnum):
    immediate = "immediate"
    soon = "soon"
    can_wait = "can_wait"


class RequestStatus(enum.StrEnum):
    open = "open"
    quotes_received = "quotes_received"
    provider_selected = "provider_selected"
    cancelled = "cancelled"
    expired = "expired"


class QuoteStatus(enum.StrEnum):
    pending = "pending"
    accepted = "accepted"
    rejected = "rejected"
    expired = "expired"
    withdrawn = "withdrawn"


class ProjectStatus(enum.StrEnum):
    scheduled = "scheduled"
    in_progress = "in_progress"
    completed = "completed"
    cancelled = "cancelled"
    disputed = "disputed"


class PaymentStatus(enum.StrEnum):
    pending = "pending"
    partial = "partial"
    completed = "completed"
    refunded = "refunded"


class Satisfaction(enum.StrEnum):
    satisfied = "satisfied"
    neutral = "neutral"
    unsatisfied = "unsatisfied"


class ChatSide(enum.StrEnum):
    requester = "requester"
    provider = "provider"
    system = "system"


class ChatMessageType(enum.StrEnum):
    text = "text"
    image = "image"
    file = "file"
    system = "system"


provider_type_enum = pg_enum(ProviderType, "provider_type")
project_status_enum = pg_enum(ProjectStatus, "project_status")


class ServiceCategory(Base):
    """The reference list of service categories (plumbing, electrical …): what providers offer and requests
    and diagnostics are about."""

    __tablename__ = "service_categories"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    display_order: Mapped[int] = mapped_column(server_default=text("0"))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


class ProviderProfile(TimestampMixin, Base):
    """002 ``provider_profiles``: 1:1 with a user (role ``provider``); a company's profile names its
    organization (kind ``provider``), whose members (technician and above) act for it."""

    __tablename__ = "provider_profiles"
    __table_args__ = (
        Index("ix_provider_profiles_organization_id", "organization_id"),
        Index("ix_provider_profiles_provider_type", "provider_type"),
        Index("ix_provider_profiles_search_vector", "search_vector", postgresql_using="gin"),
        Index("ix_provider_profiles_search_keys", "search_keys", postgresql_using="gin"),
        # Search order and keyset: featured, then rating, then id — verified providers only.
        Index(
            "ix_provider_profiles_ranking",
            text("is_featured DESC"),
            text("average_rating DESC"),
            text("id DESC"),
            postgresql_where=text("is_verified"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    provider_type: Mapped[ProviderType] = mapped_column(provider_type_enum)
    business_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    services_offered: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    certifications: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    coverage_areas: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    service_center_lat: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    service_center_lon: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    service_radius_km: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    license_number: Mapped[str | None] = mapped_column(String(100))
    years_of_experience: Mapped[int | None]
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    website: Mapped[str | None] = mapped_column(String(500))
    # Aggregates: recomputed from their source rows by homeops_refresh_provider_stats() in the transaction
    # that changed them (never written by the API role directly: no column grant).
    average_rating: Mapped[Decimal] = mapped_column(Numeric(3, 2), server_default=text("0"))
    total_ratings: Mapped[int] = mapped_column(server_default=text("0"))
    total_projects: Mapped[int] = mapped_column(server_default=text("0"))
    projects_closed: Mapped[int] = mapped_column(server_default=text("0"))
    completion_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), server_default=text("0"))
    response_time_hours: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    is_verified: Mapped[bool] = mapped_column(server_default=text("false"))
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[uuid.UUID | None]
    is_featured: Mapped[bool] = mapped_column(server_default=text("false"))
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(
            "setweight(to_tsvector('english'::regconfig, coalesce(business_name, '')), 'A') || "
            "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B')",
            persisted=True,
        ),
    )
    search_keys: Mapped[list[str]] = mapped_column(
        ARRAY(Text), Computed("homeops_provider_keys(services_offered, coverage_areas)", persisted=True)
    )


class PortfolioItem(TimestampMixin, Base):
    """002 ``portfolio_items``: at most 20 per provider, at least one image (in storage); featured first,
    then by display order. ``provider_public`` mirrors the provider's verification (set with it)."""

    __tablename__ = "portfolio_items"
    __table_args__ = (
        Index(
            "ix_portfolio_items_provider_order",
            "provider_id",
            text("is_featured DESC"),
            "display_order",
            "created_at",
        ),
        Index("ix_portfolio_items_project_type", "project_type"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_profiles.id", ondelete="CASCADE"))
    provider_user_id: Mapped[uuid.UUID]
    provider_org_id: Mapped[uuid.UUID | None]
    provider_public: Mapped[bool] = mapped_column(server_default=text("false"))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    project_type: Mapped[str | None] = mapped_column(
        String(50), ForeignKey("service_categories.code", ondelete="SET NULL")
    )
    images: Mapped[list[Any]] = mapped_column()
    project_date: Mapped[date | None]
    location: Mapped[str | None] = mapped_column(String(255))
    display_order: Mapped[int] = mapped_column(server_default=text("0"))
    is_featured: Mapped[bool] = mapped_column(server_default=text("false"))


class Diagnostic(Base):
    """002 ``diagnostics`` (``citizen_id`` → ``user_id``): an analysed photo. The image is deleted after the
    retention window (``image_key`` nulled, ``image_deleted_at`` set); the row stays."""

    __tablename__ = "diagnostics"
    __table_args__ = (
        Index("ix_diagnostics_user_created", "user_id", text("created_at DESC")),
        Index("ix_diagnostics_risk_level", "risk_level"),
        Index("ix_diagnostics_problem_category", "problem_category"),
        Index("ix_diagnostics_confidence", "ai_confidence_score"),
        Index("ix_diagnostics_image_created", "created_at", postgresql_where=text("image_key IS NOT NULL")),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    home_id: Mapped[uuid.UUID | None]
    device_id: Mapped[uuid.UUID | None]
    image_key: Mapped[str | None] = mapped_column(String(512))
    image_metadata: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    image_deleted_at: Mapped[datetime | None]
    description: Mapped[str | None] = mapped_column(Text)
    category_hint: Mapped[str | None] = mapped_column(String(50))
    risk_level: Mapped[RiskLevel] = mapped_column(pg_enum(RiskLevel, "risk_level"))
    problem_category: Mapped[str] = mapped_column(
        String(50), ForeignKey("service_categories.code", ondelete="RESTRICT")
    )
    problem_subcategory: Mapped[str | None] = mapped_column(String(100))
    probable_cause: Mapped[str] = mapped_column(Text)
    risk_prediction: Mapped[str] = mapped_column(Text)
    recommended_action: Mapped[str] = mapped_column(Text)
    ai_confidence_score: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    ai_model_version: Mapped[str | None] = mapped_column(String(50))
    processing_time_ms: Mapped[int | None]
    is_diy_possible: Mapped[bool] = mapped_column(server_default=text("false"))
    diy_advice: Mapped[str | None] = mapped_column(Text)
    estimated_cost_range: Mapped[str | None] = mapped_column(String(100))
    urgency_level: Mapped[Urgency | None] = mapped_column(pg_enum(Urgency, "urgency_level"))
    explanation: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ServiceRequest(TimestampMixin, Base):
    """002 ``service_requests`` (``citizen_id`` → ``requester_id``). Never deleted: cancelled or expired.
    ``quotes_count`` and ``views_count`` are written only by the database's functions."""

    __tablename__ = "service_requests"
    __table_args__ = (
        ForeignKeyConstraint(
            ["requester_id", "diagnostic_id"], ["diagnostics.user_id", "diagnostics.id"], ondelete="RESTRICT"
        ),
        # The accepted quote (quotes reference requests too: added after both tables exist).
        ForeignKeyConstraint(
            ["requester_id", "selected_quote_id"],
            ["quotes.requester_id", "quotes.id"],
            name="fk_service_requests_selected_quote",
            use_alter=True,
        ),
        Index("ix_service_requests_requester_created", "requester_id", text("created_at DESC")),
        Index("ix_service_requests_id", "id"),
        Index("ix_service_requests_status", "status"),
        # A provider's matching open requests: per category and city, newest first, the other filters answered
        # from the index (homeops_matching_requests, p018); and those within a provider's radius.
        Index(
            "ix_service_requests_open_feed",
            "problem_category",
            "city_key",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_include=["requester_id", "area_key", "expires_at", "preferred_provider_type"],
            postgresql_where=text("status IN ('open', 'quotes_received')"),
        ),
        Index(
            "ix_service_requests_open_area",
            "problem_category",
            "latitude",
            postgresql_include=[
                "longitude",
                "created_at",
                "id",
                "requester_id",
                "expires_at",
                "preferred_provider_type",
            ],
            postgresql_where=text("status IN ('open', 'quotes_received') AND latitude IS NOT NULL"),
        ),
        Index(
            "ix_service_requests_expiry",
            "expires_at",
            postgresql_where=text("status IN ('open', 'quotes_received')"),
        ),
    )

    requester_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = uuid_pk()
    diagnostic_id: Mapped[uuid.UUID | None]
    home_id: Mapped[uuid.UUID | None]
    device_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(PG_UUID(as_uuid=True)), server_default=text("'{}'::uuid[]")
    )
    devices: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    problem_title: Mapped[str] = mapped_column(String(255))
    problem_description: Mapped[str] = mapped_column(Text)
    problem_category: Mapped[str] = mapped_column(
        String(50), ForeignKey("service_categories.code", ondelete="RESTRICT")
    )
    diagnostic_summary: Mapped[dict[str, Any] | None] = mapped_column()
    additional_images: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    preferred_provider_type: Mapped[PreferredProviderType] = mapped_column(
        pg_enum(PreferredProviderType, "preferred_provider_type"),
        server_default=PreferredProviderType.any.value,
    )
    preferred_service_date: Mapped[date | None]
    property_type: Mapped[PropertyType | None] = mapped_column(pg_enum(PropertyType, "property_type"))
    city: Mapped[str] = mapped_column(String(100))
    district: Mapped[str | None] = mapped_column(String(100))
    city_key: Mapped[str] = mapped_column(Text, Computed("lower(btrim(city))", persisted=True))
    area_key: Mapped[str] = mapped_column(
        Text, Computed("lower(btrim(city)) || '|' || lower(btrim(coalesce(district, '')))", persisted=True)
    )
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    # Contact details: shown to a provider only once selected.
    property_address: Mapped[str | None] = mapped_column(Text)
    contact_name: Mapped[str | None] = mapped_column(String(255))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[RequestStatus] = mapped_column(
        pg_enum(RequestStatus, "request_status"), server_default=RequestStatus.open.value
    )
    selected_quote_id: Mapped[uuid.UUID | None]
    selected_provider_id: Mapped[uuid.UUID | None]
    selected_provider_user_id: Mapped[uuid.UUID | None]
    selected_provider_org_id: Mapped[uuid.UUID | None]
    selected_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancellation_reason: Mapped[str | None] = mapped_column(Text)
    quotes_count: Mapped[int] = mapped_column(server_default=text("0"))
    views_count: Mapped[int] = mapped_column(server_default=text("0"))
    expires_at: Mapped[datetime]


class Quote(Base):
    """002 ``quotes``: one live quote per provider per request; immutable once submitted (a trigger);
    inserted only through ``homeops_submit_quote`` (which applies the verified/matching rule)."""

    __tablename__ = "quotes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["requester_id", "request_id"],
            ["service_requests.requester_id", "service_requests.id"],
            ondelete="CASCADE",
        ),
        Index(
            "uq_quotes_live_per_provider",
            "requester_id",
            "request_id",
            "provider_id",
            unique=True,
            postgresql_where=text("status NOT IN ('withdrawn', 'expired')"),
        ),
        Index("ix_quotes_request", "requester_id", "request_id", "submitted_at"),
        Index("ix_quotes_id", "id"),
        Index("ix_quotes_provider_submitted", "provider_id", text("submitted_at DESC"), text("id DESC")),
        Index("ix_quotes_expiry", "expires_at", postgresql_where=text("status = 'pending'")),
    )

    requester_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    request_id: Mapped[uuid.UUID]
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_profiles.id", ondelete="RESTRICT"))
    provider_user_id: Mapped[uuid.UUID]
    provider_org_id: Mapped[uuid.UUID | None]
    estimated_cost: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    cost_breakdown: Mapped[dict[str, Any]] = mapped_column()
    estimated_duration_days: Mapped[int | None]
    technical_assessment: Mapped[str | None] = mapped_column(Text)
    proposed_solution: Mapped[str | None] = mapped_column(Text)
    materials_included: Mapped[bool] = mapped_column(server_default=text("true"))
    warranty_period_months: Mapped[int | None]
    terms_and_conditions: Mapped[str | None] = mapped_column(Text)
    validity_period_days: Mapped[int]
    attachments: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    status: Mapped[QuoteStatus] = mapped_column(
        pg_enum(QuoteStatus, "quote_status"), server_default=QuoteStatus.pending.value
    )
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    response_hours: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    submitted_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), server_onupdate=FetchedValue())


class Project(TimestampMixin, Base):
    """002 ``projects``: created when a quote is accepted (1:1 with the request and the quote)."""

    __tablename__ = "projects"
    __table_args__ = (
        ForeignKeyConstraint(
            ["requester_id", "request_id"],
            ["service_requests.requester_id", "service_requests.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["requester_id", "quote_id"], ["quotes.requester_id", "quotes.id"], ondelete="RESTRICT"
        ),
        UniqueConstraint("requester_id", "request_id"),
        UniqueConstraint("requester_id", "quote_id"),
        # Targets of the chat's and the ratings' consistency keys (a row names its project's provider).
        UniqueConstraint("requester_id", "id", "provider_id"),
        UniqueConstraint("requester_id", "id", "provider_user_id"),
        UniqueConstraint("requester_id", "id", "provider_org_id"),
        Index("ix_projects_requester_created", "requester_id", text("created_at DESC")),
        Index("ix_projects_id", "id"),
        Index("ix_projects_provider_created", "provider_id", text("created_at DESC"), text("id DESC")),
        Index("ix_projects_status", "status"),
        Index(
            "ix_projects_completed",
            "actual_completion_date",
            postgresql_where=text("status = 'completed'"),
        ),
    )

    requester_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    request_id: Mapped[uuid.UUID]
    quote_id: Mapped[uuid.UUID]
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_profiles.id", ondelete="RESTRICT"))
    provider_user_id: Mapped[uuid.UUID]
    provider_org_id: Mapped[uuid.UUID | None]
    home_id: Mapped[uuid.UUID | None]
    device_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(PG_UUID(as_uuid=True)), server_default=text("'{}'::uuid[]")
    )
    project_title: Mapped[str] = mapped_column(String(255))
    project_description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ProjectStatus] = mapped_column(
        project_status_enum, server_default=ProjectStatus.scheduled.value
    )
    scheduled_start_date: Mapped[date | None]
    actual_start_date: Mapped[date | None]
    scheduled_end_date: Mapped[date | None]
    actual_completion_date: Mapped[date | None]
    agreed_cost: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    actual_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    cost_difference_reason: Mapped[str | None] = mapped_column(Text)
    payment_status: Mapped[PaymentStatus] = mapped_column(
        pg_enum(PaymentStatus, "payment_status"), server_default=PaymentStatus.pending.value
    )
    work_notes: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    before_images: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    during_images: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    after_images: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    documents: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    warranty_months: Mapped[int | None]
    warranty_start_date: Mapped[date | None]
    warranty_end_date: Mapped[date | None]
    citizen_satisfaction: Mapped[Satisfaction | None] = mapped_column(
        pg_enum(Satisfaction, "satisfaction_level")
    )
    disputed_from: Mapped[ProjectStatus | None] = mapped_column(
        pg_enum(ProjectStatus, "project_status", create=False)
    )
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    dispute_opened_by: Mapped[uuid.UUID | None]
    dispute_opened_at: Mapped[datetime | None]
    dispute_resolution: Mapped[str | None] = mapped_column(Text)
    dispute_resolved_at: Mapped[datetime | None]
    cancellation_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_by: Mapped[uuid.UUID | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    service_events: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))


class ChatMessage(Base):
    """002 ``chat_messages``: per project, between the requester and the provider side. Read receipts are the
    receiving side's; each side deletes for itself (``deleted_by_requester`` / ``deleted_by_provider``), and
    the row goes once both did."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["requester_id", "project_id"],
            ["projects.requester_id", "projects.id"],
            name="fk_chat_messages_project",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["requester_id", "project_id", "provider_user_id"],
            ["projects.requester_id", "projects.id", "projects.provider_user_id"],
            name="fk_chat_messages_project_provider_user",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["requester_id", "project_id", "provider_org_id"],
            ["projects.requester_id", "projects.id", "projects.provider_org_id"],
            name="fk_chat_messages_project_provider_org",
            ondelete="CASCADE",
        ),
        Index(
            "ix_chat_messages_history", "requester_id", "project_id", text("created_at DESC"), text("id DESC")
        ),
        Index("ix_chat_messages_id", "id"),
        Index(
            "ix_chat_messages_unread",
            "requester_id",
            "project_id",
            "sender_side",
            postgresql_where=text("NOT is_read"),
        ),
        Index(
            "ix_chat_messages_provider_unread",
            "provider_user_id",
            "project_id",
            postgresql_where=text("NOT is_read AND sender_side = 'requester'"),
        ),
        Index("ix_chat_messages_sender_id", "sender_id"),
    )

    requester_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    project_id: Mapped[uuid.UUID]
    provider_user_id: Mapped[uuid.UUID]
    provider_org_id: Mapped[uuid.UUID | None]
    sender_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    receiver_id: Mapped[uuid.UUID | None]
    sender_side: Mapped[ChatSide] = mapped_column(pg_enum(ChatSide, "chat_side"))
    message_text: Mapped[str | None] = mapped_column(Text)
    message_type: Mapped[ChatMessageType] = mapped_column(
        pg_enum(ChatMessageType, "chat_message_type"), server_default=ChatMessageType.text.value
    )
    attachments: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    # p021: what a system message says happened (chat.status_changed_event / quote_accepted_event), so the
    # pages render it in the viewer's language; NULL for other messages and the system messages before p021.
    system_event: Mapped[dict[str, Any] | None]
    reply_to_message_id: Mapped[uuid.UUID | None]
    is_read: Mapped[bool] = mapped_column(server_default=text("false"))
    read_at: Mapped[datetime | None]
    deleted_by_requester: Mapped[bool] = mapped_column(server_default=text("false"))
    deleted_by_provider: Mapped[bool] = mapped_column(server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.clock_timestamp())


class Rating(TimestampMixin, Base):
    """002 ``ratings``: one per completed project, by its requester; editable for 30 days and answered once
    by the provider (both enforced by a trigger); public."""

    __tablename__ = "ratings"
    __table_args__ = (
        ForeignKeyConstraint(
            ["requester_id", "project_id", "provider_id"],
            ["projects.requester_id", "projects.id", "projects.provider_id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("requester_id", "project_id"),
        Index("ix_ratings_provider_created", "provider_id", text("created_at DESC"), text("id DESC")),
        Index("ix_ratings_id", "id"),
        Index("ix_ratings_overall", text("overall_rating DESC")),
        Index("ix_ratings_featured", "provider_id", postgresql_where=text("is_featured")),
        Index("ix_ratings_search_vector", "search_vector", postgresql_using="gin"),
    )

    requester_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    project_id: Mapped[uuid.UUID]
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_profiles.id", ondelete="CASCADE"))
    provider_user_id: Mapped[uuid.UUID]
    provider_org_id: Mapped[uuid.UUID | None]
    reviewer_name: Mapped[str] = mapped_column(String(100))
    overall_rating: Mapped[int] = mapped_column(SmallInteger)
    quality_rating: Mapped[int] = mapped_column(SmallInteger)
    timeliness_rating: Mapped[int] = mapped_column(SmallInteger)
    professionalism_rating: Mapped[int] = mapped_column(SmallInteger)
    value_rating: Mapped[int] = mapped_column(SmallInteger)
    communication_rating: Mapped[int] = mapped_column(SmallInteger)
    review_title: Mapped[str | None] = mapped_column(String(255))
    review_text: Mapped[str | None] = mapped_column(Text)
    would_recommend: Mapped[bool | None]
    response_from_provider: Mapped[str | None] = mapped_column(Text)
    response_at: Mapped[datetime | None]
    response_by: Mapped[uuid.UUID | None]
    is_verified: Mapped[bool] = mapped_column(server_default=text("true"))
    is_featured: Mapped[bool] = mapped_column(server_default=text("false"))
    helpful_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(
            "to_tsvector('english'::regconfig, coalesce(review_title, '') || ' ' || coalesce(review_text, ''))",
            persisted=True,
        ),
    )


class RatingVote(Base):
    """One "helpful" vote per user per rating (written by ``homeops_rating_vote``)."""

    __tablename__ = "rating_votes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["requester_id", "rating_id"], ["ratings.requester_id", "ratings.id"], ondelete="CASCADE"
        ),
        Index("ix_rating_votes_user_id", "user_id"),
    )

    requester_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    rating_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class RequestView(Base):
    """Which providers viewed a request (``views_count`` counts them once each; written by
    ``homeops_provider_request``)."""

    __tablename__ = "request_views"
    __table_args__ = (
        ForeignKeyConstraint(
            ["requester_id", "request_id"],
            ["service_requests.requester_id", "service_requests.id"],
            ondelete="CASCADE",
        ),
    )

    requester_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("provider_profiles.id", ondelete="CASCADE"), primary_key=True
    )
    viewed_at: Mapped[datetime] = mapped_column(server_default=func.now())

"""The manual library (000 manuals) and its searchable passages. Vectors live in ``manual_chunk_embeddings``,
created only where pgvector exists. A device's links to manuals (000 appliance_manuals, ``device_manuals``)
belong to the devices domain: ``homeops.devices.models.DeviceManual``.

The trust model (see the manuals migration): a manual is a **household** upload (visible to, linked and cited
in ``home_id`` only), part of the **shared** library (uploaded by a trusted source or verified by support/admin
staff: linked into every matching home) or **hidden** by staff. Users report manuals (``ManualReport``);
admins list the partner organizations whose members publish into the shared library
(``ManualTrustedSource``)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from homeops.core.models import Base, TimestampMixin, pg_enum, uuid_pk


class ManualType(enum.StrEnum):
    user = "user"
    troubleshooting = "troubleshooting"
    installation = "installation"
    service = "service"
    parts = "parts"
    quick_start = "quick_start"
    warranty = "warranty"
    other = "other"


class ManualStatus(enum.StrEnum):
    pending = "pending"
    processing = "processing"
    ready = "ready"
    failed = "failed"


class ManualVisibility(enum.StrEnum):
    household = "household"  # an upload of home_id: visible to, linked and cited in that home only
    shared = "shared"  # the shared library: linked into every matching home, cited across households
    hidden = "hidden"  # hidden by support/admin staff: visible to them only


class ManualProvenance(enum.StrEnum):
    """Who put the manual into the library."""

    household = "household"  # a member of a home, for that home
    partner = "partner"  # a member of a trusted partner organization (OEM), into the shared library
    staff = "staff"  # support/admin staff, into the shared library
    operator = "operator"  # the operator's import (``homeops manuals import``), into the shared library


class ReportStatus(enum.StrEnum):
    open = "open"
    upheld = "upheld"  # the manual was hidden
    dismissed = "dismissed"  # the manual was verified (kept)


manual_type_enum = pg_enum(ManualType, "manual_type")
manual_status_enum = pg_enum(ManualStatus, "manual_status")
manual_visibility_enum = pg_enum(ManualVisibility, "manual_visibility")
manual_provenance_enum = pg_enum(ManualProvenance, "manual_provenance")
report_status_enum = pg_enum(ReportStatus, "manual_report_status")


class Manual(TimestampMixin, Base):
    __tablename__ = "manuals"
    __table_args__ = (
        # The same bytes once per scope (a home, or the shared library); a hidden manual blocks no upload.
        Index(
            "uq_manuals_file_hash",
            "file_hash",
            "home_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
            postgresql_where=text("visibility <> 'hidden'"),
        ),
        Index("ix_manuals_home_id", "home_id"),
        CheckConstraint(
            "(visibility <> 'household' OR home_id IS NOT NULL) "
            "AND (visibility <> 'shared' OR (home_id IS NULL AND verified_at IS NOT NULL))",
            name="scope",
        ),
        Index("ix_manuals_content_hash", "content_hash"),
        Index("ix_manuals_model_numbers", "model_numbers", postgresql_using="gin"),
        Index("ix_manuals_composite", func.lower(text("brand")), "manual_type", "version"),
        # Seed 000 Query 3 level 3 in one GIN probe: one key per (brand, type, version, model number).
        Index(
            "ix_manuals_composite_keys",
            func.homeops_manual_keys(
                text("brand"), text("manual_type"), text("version"), text("model_numbers")
            ),
            postgresql_using="gin",
        ),
        Index("ix_manuals_manual_type", "manual_type"),
        Index("ix_manuals_category_code", "category_code"),
        Index("ix_manuals_created", text("created_at DESC"), "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    brand: Mapped[str] = mapped_column(String(255))
    manufacturer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("manufacturers.id", ondelete="SET NULL")
    )
    # Upper-cased, trimmed model numbers this manual covers (GIN: "= ANY" / overlap lookups).
    model_numbers: Mapped[list[str]] = mapped_column(ARRAY(String(255)), server_default=text("'{}'"))
    category_code: Mapped[str | None] = mapped_column(
        ForeignKey("device_categories.code", ondelete="SET NULL")
    )
    manual_type: Mapped[ManualType] = mapped_column(manual_type_enum)
    language: Mapped[str] = mapped_column(String(16), server_default="en")
    version: Mapped[str] = mapped_column(String(50), server_default="")  # '' = unversioned
    year: Mapped[int | None]
    title: Mapped[str | None] = mapped_column(String(500))
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100), server_default="application/pdf")
    file_hash: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    file_size: Mapped[int] = mapped_column(BigInteger)
    page_count: Mapped[int | None]
    storage_key: Mapped[str] = mapped_column(String(512))
    source_url: Mapped[str | None] = mapped_column(Text)
    processor: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[ManualStatus] = mapped_column(
        manual_status_enum, server_default=ManualStatus.pending.value
    )
    failure_reason: Mapped[str | None] = mapped_column(Text)
    indexed: Mapped[bool] = mapped_column(server_default=text("false"))
    embedded: Mapped[bool] = mapped_column(server_default=text("false"))
    processed_at: Mapped[datetime | None]
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    visibility: Mapped[ManualVisibility] = mapped_column(
        manual_visibility_enum, server_default=ManualVisibility.household.value
    )
    # The home of a household upload (NULL in the shared library); its uploads go with the home.
    home_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"))
    provenance: Mapped[ManualProvenance] = mapped_column(
        manual_provenance_enum, server_default=ManualProvenance.household.value
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    verified_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    verified_at: Mapped[datetime | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))


class ManualChunk(Base):
    """A passage of a manual with the 1-based page it comes from; full-text indexed."""

    __tablename__ = "manual_chunks"
    __table_args__ = (Index("ix_manual_chunks_search", "search_vector", postgresql_using="gin"),)

    manual_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("manuals.id", ondelete="CASCADE"), primary_key=True
    )
    chunk_index: Mapped[int] = mapped_column(primary_key=True)
    page: Mapped[int]
    content: Mapped[str] = mapped_column(Text)
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR, Computed("to_tsvector('english', content)", persisted=True)
    )
    # The manual's visibility and home, copied (processing, moderation) for the row policy.
    visibility: Mapped[ManualVisibility] = mapped_column(
        pg_enum(ManualVisibility, "manual_visibility", create=False)
    )
    home_id: Mapped[uuid.UUID | None]


class ManualTrustedSource(Base):
    """A partner organization (004 OEM) whose members (technician and above) publish into the shared library,
    listed by a platform admin: an organization's kind alone is self-declared."""

    __tablename__ = "manual_trusted_sources"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    granted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ManualReport(Base):
    """A user's report against a manual they can see (why it is wrong, unsafe, a scam …): it puts the manual
    into the moderation queue. The reporter's data (distributed by ``user_id`` on a cluster)."""

    __tablename__ = "manual_reports"
    __table_args__ = (
        Index(
            "uq_manual_reports_open",
            "user_id",
            "manual_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_manual_reports_open_manual", "manual_id", postgresql_where=text("status = 'open'")),
        CheckConstraint("length(reason) BETWEEN 1 AND 2000", name="reason_length"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    manual_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("manuals.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[ReportStatus] = mapped_column(report_status_enum, server_default=ReportStatus.open.value)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

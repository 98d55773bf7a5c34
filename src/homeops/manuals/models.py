"""The shared manual library (000 manuals) and its searchable passages. Vectors live in
``manual_chunk_embeddings``, created only where pgvector exists. A device's links to manuals (000
appliance_manuals, ``device_manuals``) belong to the devices domain: ``homeops.devices.models.DeviceManual``."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
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


manual_type_enum = pg_enum(ManualType, "manual_type")
manual_status_enum = pg_enum(ManualStatus, "manual_status")


class Manual(TimestampMixin, Base):
    __tablename__ = "manuals"
    __table_args__ = (
        Index("uq_manuals_file_hash", "file_hash", unique=True),
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

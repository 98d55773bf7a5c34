"""Shared reference data: categories, manufacturers (001 manufacturers + 004 brands), models (001
equipment_models + 004 device_models), common problems (001), ecosystems (004), maintenance templates."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Computed,
    Float,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from homeops.core.models import Base, SoftDeleteMixin, TimestampMixin, pg_enum, uuid_pk


class DeviceCategory(Base):
    """Open taxonomy (code, parent, label): a category is a row, not a migration."""

    __tablename__ = "device_categories"
    __table_args__ = (Index("ix_device_categories_parent_code", "parent_code"),)

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("device_categories.code", ondelete="RESTRICT"))
    label: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(32))  # appliance | hvac | fire_safety | smart_home | other
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Manufacturer(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "manufacturers"
    __table_args__ = (
        Index("uq_manufacturers_name_lower", func.lower(text("name")), unique=True),
        Index("ix_manufacturers_live", "deleted_at", postgresql_where=text("deleted_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255))
    website: Mapped[str | None] = mapped_column(String(500))
    support_phone: Mapped[str | None] = mapped_column(String(50))
    support_email: Mapped[str | None] = mapped_column(String(255))
    headquarters_location: Mapped[str | None] = mapped_column(String(500))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))


class DeviceModel(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "device_models"
    __table_args__ = (
        Index(
            "uq_device_models_manufacturer_number",
            "manufacturer_id",
            func.upper(text("model_number")),
            unique=True,
        ),
        Index("ix_device_models_number_upper", func.upper(text("model_number"))),
        Index("ix_device_models_category_code", "category_code"),
        Index("ix_device_models_electrical_specs", "electrical_specs", postgresql_using="gin"),
        Index("ix_device_models_physical_specs", "physical_specs", postgresql_using="gin"),
        Index("ix_device_models_search", "search_vector", postgresql_using="gin"),
        Index("ix_device_models_live", "deleted_at", postgresql_where=text("deleted_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    manufacturer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("manufacturers.id", ondelete="RESTRICT"))
    model_number: Mapped[str] = mapped_column(String(255))
    product_name: Mapped[str | None] = mapped_column(String(500))
    category_code: Mapped[str] = mapped_column(ForeignKey("device_categories.code", ondelete="RESTRICT"))
    electrical_specs: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    pressure_specs: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    temperature_specs: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    flow_specs: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    physical_specs: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    capabilities: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))  # 004
    year_introduced: Mapped[int | None]
    year_discontinued: Mapped[int | None]
    replacement_model_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("device_models.id", ondelete="SET NULL")
    )
    maintenance_notes: Mapped[str | None] = mapped_column(Text)
    data_source: Mapped[str | None] = mapped_column(String(500))
    confidence_score: Mapped[float] = mapped_column(Float, server_default=text("1.0"))
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(
            "to_tsvector('simple', coalesce(product_name, '') || ' ' || model_number)",
            persisted=True,
        ),
    )


class ProblemSeverity(enum.StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


class ProblemFrequency(enum.StrEnum):
    very_common = "very_common"
    common = "common"
    occasional = "occasional"
    rare = "rare"


class CommonProblem(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "common_problems"
    __table_args__ = (
        Index("ix_common_problems_model_id", "model_id"),
        Index("ix_common_problems_severity", "severity"),
        Index("ix_common_problems_symptoms", "symptoms", postgresql_using="gin"),
        Index("ix_common_problems_error_codes", "error_codes", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    model_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("device_models.id", ondelete="CASCADE"))
    problem_description: Mapped[str] = mapped_column(Text)
    symptoms: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    error_codes: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    root_cause: Mapped[str | None] = mapped_column(Text)
    solution: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[ProblemSeverity] = mapped_column(pg_enum(ProblemSeverity, "problem_severity"))
    frequency: Mapped[ProblemFrequency] = mapped_column(pg_enum(ProblemFrequency, "problem_frequency"))
    typical_age_range: Mapped[str | None] = mapped_column(String(50))
    related_parts: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    estimated_repair_cost: Mapped[str | None] = mapped_column(String(50))
    data_sources: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))


class Ecosystem(TimestampMixin, Base):
    __tablename__ = "ecosystems"
    __table_args__ = (Index("uq_ecosystems_name_lower", func.lower(text("name")), unique=True),)

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100))
    vendor: Mapped[str | None] = mapped_column(String(200))
    protocol: Mapped[str | None] = mapped_column(String(50))  # zigbee, z-wave, matter, wifi, cloud …
    auth_type: Mapped[str | None] = mapped_column(String(50))  # oauth2, api_key, local …
    website: Mapped[str | None] = mapped_column(String(500))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))


class IntervalUnit(enum.StrEnum):
    days = "days"
    weeks = "weeks"
    months = "months"
    years = "years"


interval_unit_enum = pg_enum(IntervalUnit, "interval_unit")


class ModelMaintenanceTemplate(TimestampMixin, Base):
    """Recommended maintenance for a model; instantiated as schedules for every device of it."""

    __tablename__ = "model_maintenance_templates"
    __table_args__ = (Index("ix_model_maintenance_templates_model_id", "model_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    model_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("device_models.id", ondelete="CASCADE"))
    task_name: Mapped[str] = mapped_column(String(200))
    interval: Mapped[int]
    interval_unit: Mapped[IntervalUnit] = mapped_column(interval_unit_enum)
    parts: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    estimated_cost: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    notes: Mapped[str | None] = mapped_column(Text)

"""Declarative base, naming convention and the column mixins every domain uses."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, Enum, FetchedValue, MetaData, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    # Server defaults and trigger-maintained columns come back with the INSERT/UPDATE (RETURNING): no
    # refresh SELECT after a write.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012  (SQLAlchemy reads it per class)
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        list[Any]: JSONB,
        uuid.UUID: UUID(as_uuid=True),
    }


def pg_enum(cls: type[enum.Enum], name: str, *, create: bool = True) -> Enum:
    """A PostgreSQL enum stored by value (``create=False`` for a type another table already created)."""
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e], create_type=create)


def uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Maintained by the homeops_set_updated_at() trigger, never by Python (returned by each UPDATE).
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), server_onupdate=FetchedValue())


class SoftDeleteMixin:
    deleted_at: Mapped[datetime | None]

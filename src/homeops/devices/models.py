"""ONE devices table for 000 appliances, 004 devices (and 001 installed equipment), plus 004 groups and
each device's links to the shared manual library (``device_manuals``)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from homeops.core.models import Base, TimestampMixin, pg_enum, uuid_pk


class DeviceStatus(enum.StrEnum):
    active = "active"
    inactive = "inactive"
    archived = "archived"
    replaced = "replaced"
    removed = "removed"


device_status_enum = pg_enum(DeviceStatus, "device_status")


class Device(TimestampMixin, Base):
    """Distributed by ``home_id`` on a cluster (co-located with rooms): the key leads the primary key, and the
    foreign keys to rooms and to other devices carry it (no ``SET NULL``: the service clears them)."""

    __tablename__ = "devices"
    __table_args__ = (
        ForeignKeyConstraint(["home_id", "room_id"], ["rooms.home_id", "rooms.id"], name="fk_devices_room"),
        ForeignKeyConstraint(
            ["home_id", "replaces_device_id"],
            ["devices.home_id", "devices.id"],
            name="fk_devices_replaces_device",
        ),
        ForeignKeyConstraint(
            ["home_id", "replaced_by_device_id"],
            ["devices.home_id", "devices.id"],
            name="fk_devices_replaced_by_device",
        ),
        Index("ix_devices_home_status_created", "home_id", "status", text("created_at DESC")),
        Index("ix_devices_model_id", "model_id"),
        Index("ix_devices_home_id_room_id", "home_id", "room_id"),
        Index("ix_devices_category_code", "category_code"),
        Index("ix_devices_serial_number_index", "serial_number_index"),
        Index(
            "ix_devices_make_model",
            func.lower(text("manufacturer_name")),
            func.upper(text("model_number")),
        ),
        Index("ix_devices_warranty_end", "warranty_end", postgresql_where=text("status = 'active'")),
    )

    home_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    room_id: Mapped[uuid.UUID | None]
    added_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    model_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("device_models.id", ondelete="SET NULL"))
    # Free text when the model is not in the catalog (001's manual_manufacturer / manual_model_number).
    manufacturer_name: Mapped[str | None] = mapped_column(String(255))
    model_number: Mapped[str | None] = mapped_column(String(255))
    category_code: Mapped[str | None] = mapped_column(
        ForeignKey("device_categories.code", ondelete="SET NULL")
    )
    subcategory: Mapped[str | None] = mapped_column(String(100))
    # AES-GCM ciphertext (000: serials are PII) and a keyed HMAC for exact-match search.
    serial_number_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    serial_number_index: Mapped[str | None] = mapped_column(String(64))
    nickname: Mapped[str] = mapped_column(String(200))
    location_detail: Mapped[str | None] = mapped_column(String(500))
    purchase_date: Mapped[date | None]
    purchase_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    installation_date: Mapped[date | None]
    warranty_start: Mapped[date | None]
    warranty_end: Mapped[date | None]
    features: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    specifications: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[DeviceStatus] = mapped_column(device_status_enum, server_default=DeviceStatus.active.value)
    replaces_device_id: Mapped[uuid.UUID | None]
    replaced_by_device_id: Mapped[uuid.UUID | None]
    # 004 connectivity
    ecosystem_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ecosystems.id", ondelete="SET NULL"))
    external_id: Mapped[str | None] = mapped_column(String(255))
    firmware_version: Mapped[str | None] = mapped_column(String(100))
    is_online: Mapped[bool | None]
    last_seen_at: Mapped[datetime | None]


class DeviceGroup(TimestampMixin, Base):
    __tablename__ = "device_groups"
    __table_args__ = (Index("uq_device_groups_home_name", "home_id", func.lower(text("name")), unique=True),)

    home_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)


class DeviceGroupMember(Base):
    __tablename__ = "device_group_members"
    __table_args__ = (
        # Same-home membership is a database rule: both foreign keys carry home_id.
        ForeignKeyConstraint(
            ["home_id", "group_id"],
            ["device_groups.home_id", "device_groups.id"],
            name="fk_device_group_members_group",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["home_id", "device_id"],
            ["devices.home_id", "devices.id"],
            name="fk_device_group_members_device",
            ondelete="CASCADE",
        ),
        Index("ix_device_group_members_home_id_device_id", "home_id", "device_id"),
    )

    home_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    group_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    added_at: Mapped[datetime] = mapped_column(server_default=func.now())


class DeviceManual(Base):
    """000 appliance_manuals: a device's link to a shared manual (``homeops.manuals``), private to the
    device's home. Owned by the devices domain: the manual library knows nothing of devices
    (``homeops.devices.links``)."""

    __tablename__ = "device_manuals"
    __table_args__ = (
        ForeignKeyConstraint(
            ["home_id", "device_id"],
            ["devices.home_id", "devices.id"],
            name="fk_device_manuals_device",
            ondelete="CASCADE",
        ),
        Index("ix_device_manuals_manual_id", "manual_id"),
    )

    home_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    manual_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("manuals.id", ondelete="CASCADE"), primary_key=True
    )
    linked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    auto_linked: Mapped[bool] = mapped_column(server_default=text("false"))
    linked_at: Mapped[datetime] = mapped_column(server_default=func.now())

"""Homes (000 + 004), their members (004) and rooms (004)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from homeops.core.models import Base, TimestampMixin, pg_enum, uuid_pk
from homeops.core.tenancy import HomeRole

__all__ = ["Home", "HomeMember", "HomeRole", "Room", "home_role_enum"]


home_role_enum = pg_enum(HomeRole, "home_member_role")


class Home(TimestampMixin, Base):
    __tablename__ = "homes"
    __table_args__ = (Index("ix_homes_owner_id", "owner_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    timezone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))


class HomeMember(Base):
    __tablename__ = "home_members"
    __table_args__ = (
        UniqueConstraint("home_id", "user_id"),
        Index("ix_home_members_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    home_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[HomeRole] = mapped_column(home_role_enum)
    invited_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Room(TimestampMixin, Base):
    """Distributed by ``home_id`` on a cluster: the key leads the primary key."""

    __tablename__ = "rooms"
    __table_args__ = (
        Index("uq_rooms_home_id_name_lower", "home_id", func.lower(text("name")), unique=True),
        CheckConstraint("floor BETWEEN -10 AND 200", name="floor_range"),
    )

    home_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100))
    room_type: Mapped[str | None] = mapped_column(String(50))
    floor: Mapped[int | None]
    notes: Mapped[str | None] = mapped_column(Text)

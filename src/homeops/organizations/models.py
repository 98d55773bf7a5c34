"""Organizations (the second kind of tenant: 001 contractors, 002 provider companies and government bodies,
004 OEM partners) and their members. Both are reference tables on a cluster, like homes; organization-keyed
data of later domains is distributed by ``organization_id``."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from homeops.core.models import Base, SoftDeleteMixin, TimestampMixin, pg_enum, uuid_pk
from homeops.core.tenancy import OrgKind, OrgRole

__all__ = ["OrgKind", "OrgRole", "Organization", "OrganizationMember", "org_kind_enum", "org_role_enum"]

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,98}[a-z0-9]$"

org_kind_enum = pg_enum(OrgKind, "organization_kind")
org_role_enum = pg_enum(OrgRole, "organization_role")


class Organization(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "organizations"
    __table_args__ = (
        Index("uq_organizations_slug", "slug", unique=True),
        Index("ix_organizations_kind", "kind"),
        CheckConstraint(f"slug ~ '{SLUG_PATTERN}'", name="slug_format"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[OrgKind] = mapped_column(org_kind_enum)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100))
    contact: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    settings: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class OrganizationMember(TimestampMixin, Base):
    __tablename__ = "organization_members"
    __table_args__ = (
        UniqueConstraint("organization_id", "user_id"),
        Index("ix_organization_members_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[OrgRole] = mapped_column(org_role_enum)
    invited_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

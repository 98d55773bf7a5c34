"""Every query of the organizations domain. Organizations and their members are reference tables (every node
has them): the queries name the organization where they can, row security decides what is visible."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Select, delete, select, text

from homeops.core.database import rows_affected
from homeops.core.repository import Repository, keyset
from homeops.organizations.models import Organization, OrganizationMember, OrgRole


class OrganizationRepository(Repository[Organization]):
    model = Organization

    async def claim_new_id(self) -> uuid.UUID:
        """A fresh organization id this transaction may create, already counted as the caller's own (owner).
        It sets the identity (``SET LOCAL``): call it at the top level of the transaction, not in a savepoint."""
        value = await self.session.scalar(text("SELECT homeops_claim_new_organization()"))
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))

    async def live(self, org_id: uuid.UUID) -> Organization | None:
        """The organization unless soft-deleted (row security hides the others' already)."""
        return await self.session.scalar(
            select(Organization)
            .where(Organization.id == org_id, Organization.deleted_at.is_(None))
            .execution_options(populate_existing=True)
        )

    async def live_for_update(self, org_id: uuid.UUID) -> Organization | None:
        """The organization locked (``FOR UPDATE``): it serializes changes of its owners."""
        return await self.session.scalar(
            select(Organization)
            .where(Organization.id == org_id, Organization.deleted_at.is_(None))
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def list_for_member(
        self, user_id: uuid.UUID, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> list[tuple[Organization, OrgRole]]:
        stmt = (
            select(Organization, OrganizationMember.role)
            .join(OrganizationMember, OrganizationMember.organization_id == Organization.id)
            .where(OrganizationMember.user_id == user_id, Organization.deleted_at.is_(None))
        )
        page = keyset(cast("Select[Any]", stmt), limit, after, Organization.created_at, Organization.id)
        rows = await self.session.execute(page)
        return [(o, r) for o, r in rows.all()]

    async def soft_delete(self, org_id: uuid.UUID) -> bool:
        """Marks it deleted and removes its memberships (``homeops_delete_organization``: owners only)."""
        return bool(await self.session.scalar(text("SELECT homeops_delete_organization(:o)"), {"o": org_id}))


@dataclass(frozen=True)
class MemberRow:
    user_id: uuid.UUID
    email: str
    full_name: str
    role: OrgRole
    invited_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


_MEMBERS = (
    "SELECT user_id, email, full_name, role, invited_by, created_at, updated_at "
    "FROM homeops_organization_members(:o)"
)


class MemberRepository(Repository[OrganizationMember]):
    model = OrganizationMember

    async def get(  # type: ignore[override]
        self, org_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
    ) -> OrganizationMember | None:
        stmt = select(OrganizationMember).where(
            OrganizationMember.organization_id == org_id, OrganizationMember.user_id == user_id
        )
        if lock:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt.execution_options(populate_existing=True))

    async def is_member(self, org_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        found = await self.session.scalar(
            select(OrganizationMember.id).where(
                OrganizationMember.organization_id == org_id, OrganizationMember.user_id == user_id
            )
        )
        return found is not None

    async def owner_ids(self, org_id: uuid.UUID) -> list[uuid.UUID]:
        """The organization's owners (call it with the organization locked: ``live_for_update``)."""
        rows = await self.session.scalars(
            select(OrganizationMember.user_id).where(
                OrganizationMember.organization_id == org_id, OrganizationMember.role == OrgRole.owner
            )
        )
        return list(rows)

    async def remove(self, org_id: uuid.UUID, user_id: uuid.UUID) -> int:
        return await rows_affected(
            self.session,
            delete(OrganizationMember).where(
                OrganizationMember.organization_id == org_id, OrganizationMember.user_id == user_id
            ),
        )

    async def of_org(self, org_id: uuid.UUID) -> list[MemberRow]:
        """The members with names and e-mails (``homeops_organization_members``: members do not read each
        other's accounts otherwise), owners first."""
        rows = await self.session.execute(text(_MEMBERS), {"o": org_id})
        return [_row(r) for r in rows]

    async def one_of_org(self, org_id: uuid.UUID, user_id: uuid.UUID) -> MemberRow | None:
        row = (
            await self.session.execute(text(_MEMBERS + " WHERE user_id = :u"), {"o": org_id, "u": user_id})
        ).first()
        return _row(row) if row is not None else None


def _row(r: Row[Any]) -> MemberRow:
    return MemberRow(
        r.user_id, r.email, r.full_name, OrgRole(r.role), r.invited_by, r.created_at, r.updated_at
    )

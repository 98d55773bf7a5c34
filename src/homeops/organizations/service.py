"""Organizations and their members. RLS is the wall; ``organizations.access`` turns its silence into clear
answers: an organization you do not belong to is 404, one whose rules you do not meet is 403.

Who manages whom (the row policies of ``p007_organizations`` say the same):

* every member reads the organization and its member list;
* managers and owners change the organization, add members (never as owner) and change or remove members
  who are not owners;
* only an owner changes an owner's role, makes someone an owner, removes an owner or deletes the
  organization; an organization always keeps at least one owner (409 ``last_owner``);
* any member may leave (an owner only while another owner remains).
"""

from __future__ import annotations

import uuid

from psycopg import errors as pg_errors
from sqlalchemy.exc import IntegrityError

from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, NotFound
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.patch import apply_patch
from homeops.core.tenancy import OrgRole, org_role_at_least
from homeops.core.uow import UnitOfWork
from homeops.identity.repository import UserRepository
from homeops.organizations.access import InsufficientOrgRole, OrganizationNotFound, require_org
from homeops.organizations.models import Organization, OrganizationMember
from homeops.organizations.repository import MemberRepository, MemberRow, OrganizationRepository
from homeops.organizations.schemas import (
    MemberIn,
    MemberOut,
    MemberPatch,
    OrganizationIn,
    OrganizationOut,
    OrganizationPatch,
)

__all__ = ["InsufficientOrgRole", "MemberNotFound", "OrganizationNotFound", "OrganizationService"]


class MemberNotFound(NotFound):
    code, title = "member_not_found", "Member not found"


class SlugTaken(Conflict):
    code, title = "slug_taken", "Slug taken"

    def __init__(self) -> None:
        super().__init__("Another organization uses this slug.")


class LastOwner(Conflict):
    code, title = "last_owner", "An organization keeps at least one owner"


def _member_out(m: MemberRow) -> MemberOut:
    return MemberOut(
        user_id=m.user_id,
        email=m.email,
        full_name=m.full_name,
        role=m.role,
        invited_by=m.invited_by,
        created_at=m.created_at,
        updated_at=m.updated_at,
    )


def _compact(value: object) -> object:
    """A JSON value without its null members (at every level): absent and null mean the same."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    return value


def _unique_violation(exc: IntegrityError) -> bool:
    return isinstance(exc.orig, pg_errors.UniqueViolation)


class OrganizationService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        self.orgs = OrganizationRepository(uow.session)
        self.members = MemberRepository(uow.session)

    @staticmethod
    def _out(org: Organization, role: OrgRole | None) -> OrganizationOut:
        out = OrganizationOut.model_validate(org)
        out.my_role = role
        return out

    async def _org(self, org_id: uuid.UUID, need: OrgRole) -> tuple[Organization, OrgRole | None]:
        role = await require_org(self.uow, org_id, need)
        org = await self.orgs.live(org_id)
        if org is None:
            raise OrganizationNotFound()
        return org, role

    # --- organizations ------------------------------------------------------------------------------
    async def create(self, data: OrganizationIn) -> OrganizationOut:
        user_id = self.uow.actor.require_user_id()
        # The database hands out the id and counts it as the caller's own (owner), at the top level of the
        # transaction; then the organization and the owner's membership are inserted under the row policies.
        org_id = await self.orgs.claim_new_id()
        try:
            async with self.session.begin_nested():
                org = await self.orgs.add(
                    Organization(
                        id=org_id,
                        kind=data.kind,
                        name=data.name,
                        slug=data.slug,
                        contact=data.contact.model_dump(mode="json", exclude_none=True),
                        settings=data.settings,
                        created_by=user_id,
                    )
                )
        except IntegrityError as exc:
            if _unique_violation(exc):
                raise SlugTaken() from exc
            raise
        await self.members.add(
            OrganizationMember(organization_id=org_id, user_id=user_id, role=OrgRole.owner)
        )
        self.uow.set_actor(self.uow.actor.with_org(org_id, OrgRole.owner))
        self.uow.record(
            AuditEntry(
                "organization_created", "organization", org_id, new_values=data.model_dump(mode="json")
            )
        )
        return self._out(org, OrgRole.owner)

    async def list_mine(self, page: PageParams) -> tuple[list[OrganizationOut], str | None]:
        user_id = self.uow.actor.require_user_id()
        rows = await self.orgs.list_for_member(user_id, page.limit, decode_cursor(page.cursor))
        items, cursor = build_page(rows, page.limit, key=lambda r: (r[0].created_at, r[0].id))
        return [self._out(o, r) for o, r in items], cursor

    async def get(self, org_id: uuid.UUID) -> OrganizationOut:
        return self._out(*await self._org(org_id, OrgRole.staff))

    async def update(self, org_id: uuid.UUID, patch: OrganizationPatch) -> OrganizationOut:
        org, role = await self._org(org_id, OrgRole.manager)
        old, new = apply_patch(
            org,
            patch.model_dump(exclude_unset=True, mode="json"),
            not_null=("name", "slug"),
            convert={
                "contact": lambda v: _compact(v or {}),
                "settings": lambda v: v if v is not None else {},
            },
        )
        try:
            async with self.session.begin_nested():
                await self.orgs.save()
        except IntegrityError as exc:
            if _unique_violation(exc):
                raise SlugTaken() from exc
            raise
        self.uow.record(
            AuditEntry("organization_updated", "organization", org_id, old_values=old, new_values=new)
        )
        return self._out(org, role)

    async def delete(self, org_id: uuid.UUID) -> None:
        """Soft delete by an owner: the row stays (slug reserved, history keeps its references), every
        membership goes — afterwards the organization is 404 for everyone."""
        org, _ = await self._org(org_id, OrgRole.owner)
        members = await self.members.of_org(org_id)
        if not await self.orgs.soft_delete(org_id):
            raise OrganizationNotFound()
        self.uow.set_actor(self.uow.actor.without_org(org_id))
        self.uow.record(
            AuditEntry(
                "organization_deleted",
                "organization",
                org_id,
                old_values={
                    "name": org.name,
                    "slug": org.slug,
                    "members": [{"user_id": str(m.user_id), "role": m.role.value} for m in members],
                },
            )
        )

    # --- members ------------------------------------------------------------------------------------
    async def list_members(self, org_id: uuid.UUID) -> list[MemberOut]:
        await require_org(self.uow, org_id, OrgRole.staff)
        return [_member_out(m) for m in await self.members.of_org(org_id)]

    async def add_member(self, org_id: uuid.UUID, data: MemberIn) -> MemberOut:
        await require_org(self.uow, org_id, OrgRole.manager)
        user_id = await UserRepository(self.session).id_by_email(str(data.email))
        if user_id is None:
            raise NotFound("No active account has this email.", code="user_not_found", title="User not found")
        already = Conflict("This user is already a member of the organization.", code="already_member")
        if await self.members.is_member(org_id, user_id):
            raise already
        try:
            async with self.session.begin_nested():
                await self.members.add(
                    OrganizationMember(
                        organization_id=org_id,
                        user_id=user_id,
                        role=data.role,
                        invited_by=self.uow.actor.user_id,
                    )
                )
        except IntegrityError as exc:
            if _unique_violation(exc):
                raise already from exc
            raise
        self.uow.record(
            AuditEntry(
                "organization_member_added",
                "organization",
                org_id,
                new_values={"user_id": str(user_id), "role": data.role.value},
            )
        )
        added = await self.members.one_of_org(org_id, user_id)
        assert added is not None
        return _member_out(added)

    async def _target(self, org_id: uuid.UUID, user_id: uuid.UUID) -> OrganizationMember:
        target = await self.members.get(org_id, user_id)
        if target is None:
            raise MemberNotFound("This user is not a member of the organization.")
        return target

    async def _keep_an_owner(self, org_id: uuid.UUID, losing: uuid.UUID) -> None:
        """409 unless an owner other than ``losing`` remains. The organization's row is locked first, so
        concurrent changes of its owners run one after the other and see each other's result."""
        if await self.orgs.live_for_update(org_id) is None:
            raise OrganizationNotFound()
        if not [o for o in await self.members.owner_ids(org_id) if o != losing]:
            raise LastOwner("Make another member an owner first.")

    async def change_role(self, org_id: uuid.UUID, user_id: uuid.UUID, data: MemberPatch) -> MemberOut:
        my_role = await require_org(self.uow, org_id, OrgRole.manager)
        target = await self._target(org_id, user_id)
        if (target.role is OrgRole.owner or data.role is OrgRole.owner) and my_role is not OrgRole.owner:
            raise InsufficientOrgRole("Only an owner changes an owner's role or makes someone an owner.")
        old = target.role
        if data.role is not old:
            if old is OrgRole.owner:
                await self._keep_an_owner(org_id, user_id)
            target.role = data.role
            await self.members.save()
            if user_id == self.uow.actor.user_id:
                self.uow.set_actor(self.uow.actor.with_org(org_id, data.role))
            self.uow.record(
                AuditEntry(
                    "organization_member_role_changed",
                    "organization",
                    org_id,
                    old_values={"user_id": str(user_id), "role": old.value},
                    new_values={"user_id": str(user_id), "role": data.role.value},
                )
            )
        changed = await self.members.one_of_org(org_id, user_id)
        if changed is None:
            raise MemberNotFound()
        return _member_out(changed)

    async def remove_member(self, org_id: uuid.UUID, user_id: uuid.UUID) -> None:
        my_role = await require_org(self.uow, org_id, OrgRole.staff)
        if my_role is None:  # a platform admin who is not a member reads, never manages
            raise InsufficientOrgRole("Only the organization's owners and managers manage its members.")
        target = await self._target(org_id, user_id)
        leaving = user_id == self.uow.actor.user_id
        if target.role is OrgRole.owner:
            if my_role is not OrgRole.owner:
                raise InsufficientOrgRole("Only an owner removes an owner.")
            await self._keep_an_owner(org_id, user_id)
        elif not leaving and not org_role_at_least(my_role, OrgRole.manager):
            raise InsufficientOrgRole("Only the organization's owners and managers manage its members.")
        await self.members.remove(org_id, user_id)
        if leaving:
            self.uow.set_actor(self.uow.actor.without_org(org_id))
        self.uow.record(
            AuditEntry(
                "organization_member_removed",
                "organization",
                org_id,
                old_values={"user_id": str(user_id), "role": target.role.value},
            )
        )

"""The organization functions of the access layer (``homeops.core.access``), on a table keyed by
``organization_id`` (``organization_members`` stands in for the organization-keyed tables of later domains)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from types import MappingProxyType
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from homeops.core.access import (
    InsufficientOrgRole,
    OrganizationNotFound,
    load_in_org,
    org_filter,
    require_org,
)
from homeops.core.actor import Actor
from homeops.core.audit import AuditRecorder
from homeops.core.database import sqlalchemy_url
from homeops.core.errors import NotFound
from homeops.core.events import EventBus
from homeops.core.tenancy import OrgRole, UserRole
from homeops.core.uow import UnitOfWork
from homeops.organizations.models import Organization, OrganizationMember
from tests.conftest import live_session


class RowNotFound(NotFound):
    code = "row_not_found"


def run_as(test_db, runtime, user_id: uuid.UUID, work: Callable[[UnitOfWork], Awaitable[Any]]) -> Any:  # type: ignore[no-untyped-def]
    """``work`` in a unit of work under the identity the database establishes for the user (as the API)."""

    async def _go() -> Any:
        engine = create_async_engine(sqlalchemy_url(test_db.app), poolclass=NullPool)
        try:
            async with async_sessionmaker(engine)() as session, session.begin():
                row = (
                    await session.execute(
                        text("SELECT role, org_ids, org_roles FROM homeops_begin(:s, :u)"),
                        {"s": live_session(user_id), "u": user_id},
                    )
                ).one()
                actor = Actor(
                    user_id=user_id,
                    role=UserRole(row.role),
                    orgs=MappingProxyType(
                        {o: OrgRole(r) for o, r in zip(row.org_ids, row.org_roles, strict=True)}
                    ),
                )
                uow = UnitOfWork(session, actor, AuditRecorder(), runtime, EventBus())
                return await work(uow)
        finally:
            await engine.dispose()

    return asyncio.run(_go())


def test_org_access_functions(test_db, runtime, make_user, make_staff, make_org, add_member) -> None:  # type: ignore[no-untyped-def]
    owner, staff, outsider = make_user("owner"), make_user("staff"), make_user("outsider")
    org, other = make_org(owner), make_org(outsider)
    add_member(org, owner, staff, "staff")
    oid, other_id = uuid.UUID(org["id"]), uuid.UUID(other["id"])

    def member_row_id(o: uuid.UUID, u: uuid.UUID) -> uuid.UUID:
        async def _q(uow: UnitOfWork) -> uuid.UUID:
            return (
                await uow.session.scalars(
                    select(OrganizationMember.id).where(
                        OrganizationMember.organization_id == o, OrganizationMember.user_id == u
                    )
                )
            ).one()

        return run_as(test_db, runtime, u, _q)

    staff_row, outsider_row = member_row_id(oid, staff.id), member_row_id(other_id, outsider.id)

    async def as_staff(uow: UnitOfWork) -> None:
        assert await require_org(uow, Organization, oid, OrgRole.staff) is OrgRole.staff
        with pytest.raises(InsufficientOrgRole):
            await require_org(uow, Organization, oid, OrgRole.manager)
        with pytest.raises(OrganizationNotFound):
            await require_org(uow, Organization, other_id, OrgRole.staff)
        row, role = await load_in_org(
            uow, OrganizationMember, staff_row, OrgRole.staff, not_found=RowNotFound
        )
        assert row.user_id == staff.id and role is OrgRole.staff
        with pytest.raises(InsufficientOrgRole):  # readable, not lockable for a staff member
            await load_in_org(
                uow, OrganizationMember, staff_row, OrgRole.manager, not_found=RowNotFound, lock=True
            )
        with pytest.raises(RowNotFound):  # another organization's row: not found, locked or not
            await load_in_org(uow, OrganizationMember, outsider_row, OrgRole.staff, not_found=RowNotFound)
        with pytest.raises(RowNotFound):
            await load_in_org(
                uow, OrganizationMember, outsider_row, OrgRole.staff, not_found=RowNotFound, lock=True
            )
        where = org_filter(uow, OrganizationMember.organization_id)
        assert where is not None
        ids = set((await uow.session.scalars(select(OrganizationMember.organization_id).where(where))).all())
        assert ids == {oid}

    run_as(test_db, runtime, staff.id, as_staff)

    async def as_owner(uow: UnitOfWork) -> None:
        row, role = await load_in_org(
            uow, OrganizationMember, staff_row, OrgRole.manager, not_found=RowNotFound, lock=True
        )
        assert row.role is OrgRole.staff and role is OrgRole.owner

    run_as(test_db, runtime, owner.id, as_owner)

    async def as_nobody(uow: UnitOfWork) -> None:
        assert org_filter(uow, OrganizationMember.organization_id) is None
        with pytest.raises(RowNotFound):
            await load_in_org(uow, OrganizationMember, staff_row, OrgRole.staff, not_found=RowNotFound)

    run_as(test_db, runtime, make_user("nobody").id, as_nobody)

    admin = make_staff("admin")

    async def as_admin(uow: UnitOfWork) -> None:
        assert await require_org(uow, Organization, oid, OrgRole.staff) is None  # reads every organization
        with pytest.raises(InsufficientOrgRole):
            await require_org(uow, Organization, oid, OrgRole.technician)
        with pytest.raises(OrganizationNotFound):
            await require_org(uow, Organization, uuid.uuid4(), OrgRole.staff)
        row, role = await load_in_org(
            uow, OrganizationMember, outsider_row, OrgRole.staff, not_found=RowNotFound
        )
        assert row.user_id == outsider.id and role is None
        with pytest.raises(InsufficientOrgRole):
            await load_in_org(
                uow, OrganizationMember, outsider_row, OrgRole.technician, not_found=RowNotFound, lock=True
            )

    run_as(test_db, runtime, admin.id, as_admin)

"""What the staff pages of support users share: the page dependency that admits support and admin users only
(``SupportPage``; everyone else signed in gets 403 ``role_required``, signed-out visitors the sign-in page), the
roles their navigation entries name, and the people directory those pages show (who filed a ticket, who it is
assigned to, whom it can be assigned to).

The directory reads ``users`` under row security: staff read every account, anyone else only their own, so
it never shows a homeowner anybody else.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy import select

from homeops.core.errors import Forbidden
from homeops.core.repository import Repository
from homeops.core.tenancy import UserRole
from homeops.core.uow import UnitOfWork
from homeops.core.web import Page
from homeops.identity.models import User
from homeops.identity.web import signed_in_page

SUPPORT_ROLES = frozenset({UserRole.support, UserRole.admin})
# ``NavItem.roles`` of the support pages (platform role names).
SUPPORT_NAV_ROLES = frozenset(role.value for role in SUPPORT_ROLES)


async def support_page(page: Annotated[Page, Depends(signed_in_page)]) -> Page:
    """A signed-in support or admin user's page; 403 ``role_required`` for every other role."""
    if page.actor is None or page.actor.role not in SUPPORT_ROLES:
        raise Forbidden("Your role does not allow this.", code="role_required")
    return page


SupportPage = Annotated[Page, Depends(support_page)]


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    full_name: str
    email: str
    role: UserRole
    is_active: bool

    @property
    def label(self) -> str:
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email


class PeopleRepository(Repository[User]):
    model = User

    async def by_ids(self, ids: Iterable[uuid.UUID]) -> list[User]:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        return list(await self.session.scalars(select(User).where(User.id.in_(wanted))))

    async def active_with_roles(self, roles: Iterable[UserRole], limit: int) -> list[User]:
        """Live accounts with one of ``roles``, by name (``ix_users_role``)."""
        return list(
            await self.session.scalars(
                select(User)
                .where(User.role.in_(sorted(roles)), User.is_active.is_(True), User.deleted_at.is_(None))
                .order_by(User.full_name, User.id)
                .limit(limit)
            )
        )


class People:
    """Names and emails of accounts, for staff pages (row security decides what the caller may read)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.people = PeopleRepository(uow.session)

    async def by_ids(self, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, Person]:
        rows = await self.people.by_ids(i for i in ids if i is not None)
        return {u.id: _person(u) for u in rows}

    async def with_roles(self, roles: Iterable[UserRole], limit: int = 200) -> list[Person]:
        return [_person(u) for u in await self.people.active_with_roles(roles, limit)]


def _person(user: User) -> Person:
    return Person(user.id, user.full_name, user.email, user.role, user.is_active and user.deleted_at is None)

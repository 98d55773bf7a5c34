"""Platform administration of accounts (admins only): search the users, and deactivate or reactivate one.

``UserDirectory`` holds the queries, ``UserAdminService`` the rules and the audit entries (the pages call it; an
API route would call the same). The database decides too: staff read every account (``users_select``), and
only ``homeops_set_user_active`` — which checks that the caller is a live admin by the stored row, never the
account itself — changes ``is_active`` (the API role has no grant on it); deactivating ends every session of
the account, so it is signed out at once and cannot sign in again. A text search picks its ids in
``homeops_admin_find_users`` (admins only), where the e-mail and word indexes serve it (under the row policy
``lower()`` and ``@@`` could only filter a scan of every account), then reads the rows back under the policy.

Roles are not changed here: the database lets no API caller change a role (an operator does, as the owner).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, select, text

from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, Forbidden, NotFound
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.repository import keyset
from homeops.core.tenancy import UserRole
from homeops.core.uow import UnitOfWork
from homeops.identity.models import User

SEARCH_MAX = 200


class UserNotFound(NotFound):
    code, title = "user_not_found", "User not found"


class CannotChangeSelf(Conflict):
    code, title = "cannot_change_own_account", "Cannot change your own account"


@dataclass(frozen=True)
class UserRow:
    """An account as the admin pages show it (no password hash, no preferences)."""

    id: uuid.UUID
    email: str
    full_name: str
    role: UserRole
    is_active: bool
    is_verified: bool
    created_at: datetime
    last_login_at: datetime | None


_COLUMNS = (
    User.id,
    User.email,
    User.full_name,
    User.role,
    User.is_active,
    User.is_verified,
    User.created_at,
    User.last_login_at,
)


class UserDirectory:
    """The accounts' queries of the admin pages (row security shows staff every account)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.session = uow.session

    async def search(
        self,
        *,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
        text_query: str | None = None,
        role: UserRole | None = None,
        active: bool | None = None,
    ) -> list[UserRow]:
        """Newest first, ``limit + 1`` rows. Without text the keyset walks ``ix_users_created_at`` under the row
        policy and stops at the page; with text ``homeops_admin_find_users`` picks the ids through the indexes
        (a full e-mail address: exactly that account; other text: accounts whose e-mail or name has words
        starting with each of its words), then the rows are read back under the policy."""
        stmt = cast("Select[Any]", select(*_COLUMNS).where(User.deleted_at.is_(None)))
        if text_query:
            found = await self.session.scalars(
                text(
                    "SELECT homeops_admin_find_users(:text, CAST(:role AS user_role), :active, :after_at, "
                    ":after_id, :limit)"
                ),
                {
                    "text": text_query,
                    "role": role.value if role is not None else None,
                    "active": active,
                    "after_at": after[0] if after else None,
                    "after_id": after[1] if after else None,
                    "limit": limit + 1,
                },
            )
            ids = list(found)
            if not ids:
                return []
            stmt = stmt.where(User.id.in_(ids))
        else:
            if role is not None:
                stmt = stmt.where(User.role == role)
            if active is not None:
                stmt = stmt.where(User.is_active.is_(active))
        rows = await self.session.execute(keyset(stmt, limit, after, User.created_at, User.id))
        return [UserRow(**row._mapping) for row in rows]

    async def get(self, user_id: uuid.UUID) -> UserRow | None:
        row = (
            await self.session.execute(select(*_COLUMNS).where(User.id == user_id, User.deleted_at.is_(None)))
        ).first()
        return UserRow(**row._mapping) if row else None

    async def emails(self, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The e-mail addresses of these accounts (deleted ones too: history names who acted)."""
        if not user_ids:
            return {}
        rows = await self.session.execute(select(User.id, User.email).where(User.id.in_(list(user_ids))))
        return {row.id: row.email for row in rows}

    async def set_active(self, user_id: uuid.UUID, active: bool) -> bool | None:
        """The previous value (None: no such account); ends the account's sessions when deactivating."""
        value = await self.session.scalar(
            text("SELECT homeops_set_user_active(:user_id, :active)"), {"user_id": user_id, "active": active}
        )
        return None if value is None else bool(value)


class UserAdminService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.users = UserDirectory(uow)

    def _require_admin(self) -> None:
        if self.uow.actor.role is not UserRole.admin:
            raise Forbidden("Your role does not allow this.", code="role_required")

    async def search(
        self,
        params: PageParams,
        *,
        text_query: str | None = None,
        role: UserRole | None = None,
        active: bool | None = None,
    ) -> tuple[list[UserRow], str | None]:
        self._require_admin()
        limit = max(1, min(params.limit, SEARCH_MAX))
        rows = await self.users.search(
            limit=limit, after=decode_cursor(params.cursor), text_query=text_query, role=role, active=active
        )
        return build_page(rows, limit, key=lambda r: (r.created_at, r.id))

    async def get(self, user_id: uuid.UUID) -> UserRow:
        self._require_admin()
        row = await self.users.get(user_id)
        if row is None:
            raise UserNotFound()
        return row

    async def emails(self, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
        self._require_admin()
        return await self.users.emails(user_ids)

    async def find_id(self, email: str) -> uuid.UUID | None:
        """The id of the account with this e-mail address (any letter case), if one exists."""
        self._require_admin()
        row = await self.users.search(limit=1, after=None, text_query=email)
        exact = [r for r in row if r.email.lower() == email.strip().lower()]
        return exact[0].id if exact else None

    async def set_active(self, user_id: uuid.UUID, active: bool) -> UserRow:
        """Deactivates (every session ends; signing in is refused) or reactivates an account; audited when it
        changes. An admin cannot change their own account (409 ``cannot_change_own_account``)."""
        self._require_admin()
        if user_id == self.uow.actor.user_id:
            raise CannotChangeSelf("You cannot deactivate or reactivate your own account.")
        before = await self.users.get(user_id)
        if before is None:
            raise UserNotFound()
        old = await self.users.set_active(user_id, active)
        if old is None:
            raise UserNotFound()
        if old != active:
            self.uow.record(
                AuditEntry(
                    "user_reactivated" if active else "user_deactivated",
                    "user",
                    user_id,
                    description=f"{'Reactivated' if active else 'Deactivated'} {before.email}",
                    old_values={"is_active": old},
                    new_values={"is_active": active},
                )
            )
        after = await self.users.get(user_id)
        assert after is not None
        return after

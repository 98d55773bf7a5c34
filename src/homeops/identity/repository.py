"""Every query of the identity domain."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import psycopg
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.actor import Actor
from homeops.core.database import fetch_one, rows_affected
from homeops.core.repository import Repository
from homeops.core.tenancy import HomeRole, OrgRole
from homeops.identity.models import LoginAttempt, User, UserRole, UserSession


@dataclass(frozen=True)
class AuthRow:
    id: uuid.UUID
    password_hash: str | None
    role: UserRole
    is_active: bool


@lru_cache(maxsize=8)
def _profile_sql(columns: tuple[str, ...]) -> str:
    table = User.__table__
    names = ", ".join(table.c[c].name for c in columns)  # validated against the table's own columns
    return f"SELECT {names} FROM users WHERE id = %s AND deleted_at IS NULL"


async def user_profile(
    driver: psycopg.AsyncConnection[Any], user_id: uuid.UUID, columns: tuple[str, ...]
) -> dict[str, Any] | None:
    """The named columns of a live user (the hot ``/users/me`` read: one prepared statement, no ORM)."""
    return await fetch_one(driver, _profile_sql(columns), (user_id,))


class UserRepository(Repository[User]):
    model = User

    async def auth_lookup(self, email: str) -> AuthRow | None:
        row = (
            await self.session.execute(
                text("SELECT id, password_hash, role, is_active FROM homeops_auth_lookup(:email)"),
                {"email": email},
            )
        ).first()
        return AuthRow(row.id, row.password_hash, UserRole(row.role), row.is_active) if row else None

    async def id_by_email(self, email: str) -> uuid.UUID | None:
        value = await self.session.scalar(text("SELECT homeops_user_id_by_email(:email)"), {"email": email})
        return value if value is None else uuid.UUID(str(value))

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.scalar(
            select(User)
            .where(User.id == user_id, User.deleted_at.is_(None))
            .execution_options(populate_existing=True)
        )

    async def touch_login(self, user_id: uuid.UUID) -> None:
        await self.session.execute(update(User).where(User.id == user_id).values(last_login_at=func.now()))


class SessionRepository(Repository[UserSession]):
    model = UserSession

    async def create(self, row: UserSession) -> UserSession:
        return await self.add(row)

    async def by_refresh_hash(self, token_hash: str) -> tuple[uuid.UUID, uuid.UUID] | None:
        row = (
            await self.session.execute(
                text("SELECT session_id, user_id FROM homeops_session_by_refresh(:h)"), {"h": token_hash}
            )
        ).first()
        return (row.session_id, row.user_id) if row else None

    async def rotate(self, session_id: uuid.UUID, new_hash: str, expires_at: datetime) -> None:
        await self.session.execute(
            update(UserSession)
            .where(UserSession.id == session_id)
            .values(refresh_token_hash=new_hash, last_used_at=func.now(), expires_at=expires_at)
        )

    async def revoke(self, session_id: uuid.UUID, reason: str) -> None:
        await self.session.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
            .values(revoked_at=func.now(), revoked_reason=reason)
        )

    async def revoke_all_except(self, user_id: uuid.UUID, keep: uuid.UUID | None, reason: str) -> int:
        stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        if keep is not None:
            stmt = stmt.where(UserSession.id != keep)
        return await rows_affected(self.session, stmt.values(revoked_at=func.now(), revoked_reason=reason))


class LoginAttemptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def recent_failures(self, email: str, since: datetime) -> list[datetime]:
        rows = await self.session.scalars(
            select(LoginAttempt.attempted_at)
            .where(LoginAttempt.email == email.lower(), LoginAttempt.attempted_at > since)
            .order_by(LoginAttempt.attempted_at.desc())
        )
        return list(rows)

    async def add_failure(self, email: str, ip: str | None) -> None:
        self.session.add(LoginAttempt(email=email.lower(), ip_address=ip))
        await self.session.flush()


# --- the transaction's identity ------------------------------------------------------------------------------

# BEGIN and the identity in one simple-protocol message: one round trip. The API's connections are in driver
# autocommit mode, so the server transaction is the one this BEGIN opens (see core.database); the two ids are
# uuid.UUID values, rendered by Python, never user text.
_IDENTITY = (
    "SELECT role, email, home_ids, home_roles, org_ids, org_roles FROM homeops_begin('{}'::uuid, '{}'::uuid)"
)


async def establish_identity(
    driver: psycopg.AsyncConnection[Any], session_id: uuid.UUID, user_id: uuid.UUID, *, begin: bool = True
) -> Actor | None:
    """Sets the row-security identity of the transaction (opening it first with ``begin``) and returns who acts
    (None: the session ended or the user was deactivated)."""
    if not isinstance(session_id, uuid.UUID) or not isinstance(user_id, uuid.UUID):
        raise TypeError("session and user ids must be uuid.UUID")
    cursor = driver.cursor()
    statement = _IDENTITY.format(session_id, user_id)
    await cursor.execute(("BEGIN; " + statement if begin else statement).encode())
    if begin:
        cursor.nextset()
    row = await cursor.fetchone()
    if row is None:
        return None
    role, email, home_ids, home_roles, org_ids, org_roles = row
    return Actor(
        user_id=user_id,
        role=UserRole(role),
        session_id=session_id,
        email=email,
        homes=MappingProxyType({h: HomeRole(r) for h, r in zip(home_ids, home_roles, strict=True)}),
        orgs=MappingProxyType({o: OrgRole(r) for o, r in zip(org_ids, org_roles, strict=True)}),
    )


_OWN_PROFILE = (
    "BEGIN; SELECT role FROM homeops_begin('{session}'::uuid, '{user}'::uuid); "
    "SELECT {columns} FROM users WHERE id = '{user}'::uuid AND deleted_at IS NULL; ROLLBACK"
)


async def own_profile_in_one_message(
    driver: psycopg.AsyncConnection[Any], session_id: uuid.UUID, user_id: uuid.UUID, columns: tuple[str, ...]
) -> dict[str, Any] | None:
    """The hottest authenticated read, ``GET /users/me``, as ONE message: open the transaction, establish the
    identity, read the caller's row under row security, end the transaction — one round trip. The ids are
    uuid.UUID values and the columns the table's own names: no user text reaches the SQL. None when the session
    is not live (no identity: the row is not visible either)."""
    if not isinstance(session_id, uuid.UUID) or not isinstance(user_id, uuid.UUID):
        raise TypeError("session and user ids must be uuid.UUID")
    from psycopg.rows import dict_row

    names = ", ".join(User.__table__.c[c].name for c in columns)
    statement = _OWN_PROFILE.format(session=session_id, user=user_id, columns=names)
    cursor = driver.cursor(row_factory=dict_row)
    await cursor.execute(statement.encode())
    cursor.nextset()  # BEGIN → the identity
    if await cursor.fetchone() is None:
        return None
    cursor.nextset()  # → the row
    return await cursor.fetchone()


async def sign_in(session: AsyncSession, user_id: uuid.UUID, password_hash: str | None) -> UserRole | None:
    """The transaction acts for this user (after the API verified the password against ``password_hash``)."""
    role = await session.scalar(
        text("SELECT homeops_sign_in(:u, :h)"), {"u": user_id, "h": password_hash or ""}
    )
    return UserRole(role) if role is not None else None


async def claim_new_user(session: AsyncSession) -> uuid.UUID:
    """A fresh user id this transaction may register (and act as)."""
    value = await session.scalar(text("SELECT homeops_claim_new_user()"))
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))

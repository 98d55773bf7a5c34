"""Every query of the identity domain."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import psycopg
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.actor import Actor
from homeops.core.database import fetch_one, rows_affected
from homeops.core.repository import Repository
from homeops.core.tenancy import HomeRole, OrgRole
from homeops.identity.models import AccountToken, RetiredRefreshToken, User, UserRole, UserSession


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

    async def is_verified(self, user_id: uuid.UUID) -> bool:
        """Whether the (visible, live) user confirmed their e-mail address."""
        value = await self.session.scalar(
            select(User.is_verified).where(User.id == user_id, User.deleted_at.is_(None))
        )
        return bool(value)

    async def touch_login(self, user_id: uuid.UUID) -> None:
        await self.session.execute(update(User).where(User.id == user_id).values(last_login_at=func.now()))


@dataclass(frozen=True)
class RefreshLookup:
    """What a presented refresh token is: its session's ``current`` token, the ``previous`` one (replaced by the
    last refresh) or an older, ``retired`` one; ``live``: the session is not revoked or expired."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    state: str
    retired_at: datetime | None
    live: bool


class SessionRepository(Repository[UserSession]):
    model = UserSession

    async def create(self, row: UserSession) -> UserSession:
        return await self.add(row)

    async def by_refresh_hash(self, token_hash: str) -> RefreshLookup | None:
        row = (
            await self.session.execute(
                text(
                    "SELECT session_id, user_id, state, retired_at, live FROM homeops_session_by_refresh(:h)"
                ),
                {"h": token_hash},
            )
        ).first()
        return (
            RefreshLookup(row.session_id, row.user_id, row.state, row.retired_at, row.live) if row else None
        )

    async def rotate(
        self,
        session_id: uuid.UUID,
        user_id: uuid.UUID,
        old_hash: str,
        new_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> bool:
        """Replaces the session's refresh token if ``old_hash`` is still the current one (compare-and-set: of
        two refreshes with the same token, the second waits for the first and then changes nothing) and keeps
        the replaced hash as retired. False when another refresh got there first."""
        changed = await rows_affected(
            self.session,
            update(UserSession)
            .where(
                UserSession.id == session_id,
                UserSession.refresh_token_hash == old_hash,
                UserSession.revoked_at.is_(None),
            )
            .values(
                refresh_token_hash=new_hash,
                previous_token_hash=old_hash,
                rotated_at=now,
                last_used_at=func.now(),
                expires_at=expires_at,
            ),
        )
        if changed != 1:
            return False
        await self.session.execute(
            insert(RetiredRefreshToken).values(
                token_hash=old_hash, session_id=session_id, user_id=user_id, retired_at=now
            )
        )
        return True

    async def revoke(self, session_id: uuid.UUID, reason: str) -> None:
        await self.session.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
            .values(revoked_at=func.now(), revoked_reason=reason)
        )

    async def revoke_reused(self, token_hash: str) -> uuid.UUID | None:
        """Ends the session a retired refresh token belonged to (no identity needed: holding the token is the
        evidence). None when it had ended already."""
        value = await self.session.scalar(text("SELECT homeops_revoke_reused_refresh(:h)"), {"h": token_hash})
        return None if value is None else uuid.UUID(str(value))

    async def revoke_all_except(self, user_id: uuid.UUID, keep: uuid.UUID | None, reason: str) -> int:
        stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        if keep is not None:
            stmt = stmt.where(UserSession.id != keep)
        return await rows_affected(self.session, stmt.values(revoked_at=func.now(), revoked_reason=reason))


# --- throttling: statements on the request's connection, in short transactions of their own ----------------


async def begin(driver: psycopg.AsyncConnection[Any]) -> None:
    """Opens the request's transaction if it is not open yet (routes whose throttle runs first)."""
    if driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        await driver.execute(b"BEGIN")


async def lock_subject(driver: psycopg.AsyncConnection[Any], key: str) -> None:
    """Serialises the transactions that throttle the same subject until they end (count, then record)."""
    await driver.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


@dataclass(frozen=True)
class LoginHistory:
    pair_failures: int  # failures of this email from this address since its last success there
    pair_last_failure: datetime | None
    email_failures: list[datetime]  # the email's latest failures from any address in the window, newest first
    known_address: bool  # the address signed in to this email recently


_LOGIN_HISTORY = """
WITH ok AS (
  SELECT max(attempted_at) AS at FROM login_attempts
   WHERE email = %(email)s AND ip_address = %(ip)s::inet AND succeeded AND attempted_at > %(known_since)s
)
SELECT
  (SELECT count(*) FROM login_attempts a, ok
    WHERE a.email = %(email)s AND a.ip_address = %(ip)s::inet AND NOT a.succeeded
      AND a.attempted_at >= greatest(%(pair_since)s, coalesce(ok.at, '-infinity'))) AS pair_failures,
  (SELECT max(a.attempted_at) FROM login_attempts a, ok
    WHERE a.email = %(email)s AND a.ip_address = %(ip)s::inet AND NOT a.succeeded
      AND a.attempted_at >= greatest(%(pair_since)s, coalesce(ok.at, '-infinity'))) AS pair_last_failure,
  (SELECT coalesce(array_agg(at ORDER BY at DESC), '{}') FROM (
     SELECT attempted_at AS at FROM login_attempts
      WHERE email = %(email)s AND NOT succeeded AND attempted_at > %(email_since)s
      ORDER BY attempted_at DESC LIMIT %(email_max)s) recent) AS email_failures,
  (SELECT at IS NOT NULL FROM ok) AS known_address
"""


class LoginAttemptRepository:
    """Sign-in attempts, read and written through the driver inside the caller's short transaction."""

    def __init__(self, driver: psycopg.AsyncConnection[Any]) -> None:
        self.driver = driver

    async def history(
        self,
        email: str,
        address: str,
        *,
        pair_since: datetime,
        email_since: datetime,
        email_max: int,
        known_since: datetime,
    ) -> LoginHistory:
        cursor = await self.driver.execute(
            _LOGIN_HISTORY,
            {
                "email": email,
                "ip": address,
                "pair_since": pair_since,
                "email_since": email_since,
                "email_max": email_max,
                "known_since": known_since,
            },
        )
        row = await cursor.fetchone()
        assert row is not None
        return LoginHistory(int(row[0]), row[1], list(row[2]), bool(row[3]))

    async def record(self, email: str, address: str, at: datetime) -> uuid.UUID:
        """An attempt, counted as a failure until ``succeeded`` marks it (a crash mid-login counts too)."""
        attempt_id = uuid.uuid4()
        await self.driver.execute(
            "INSERT INTO login_attempts (id, email, ip_address, attempted_at) VALUES (%s, %s, %s::inet, %s)",
            (attempt_id, email, address, at),
        )
        return attempt_id

    async def succeeded(self, attempt_id: uuid.UUID) -> None:
        await self.driver.execute("UPDATE login_attempts SET succeeded = true WHERE id = %s", (attempt_id,))


class ThrottleRepository:
    """Fixed-window counters of other actions (registrations per address, account e-mails)."""

    def __init__(self, driver: psycopg.AsyncConnection[Any]) -> None:
        self.driver = driver

    async def hit(
        self, action: str, subject: str, *, limit: int, since: datetime, now: datetime
    ) -> datetime | None:
        """Records one ``action`` by ``subject`` unless ``limit`` were recorded after ``since``; then returns when
        the oldest of those leaves the window instead (nothing recorded). Call inside a transaction."""
        await lock_subject(self.driver, f"{action}:{subject}")
        cursor = await self.driver.execute(
            "SELECT occurred_at FROM throttle_events WHERE action = %s AND subject = %s AND occurred_at > %s "
            "ORDER BY occurred_at DESC LIMIT %s",
            (action, subject, since, limit),
        )
        recent: list[datetime] = [r[0] for r in await cursor.fetchall()]
        if len(recent) >= limit:
            return recent[-1]
        await self.record(action, subject, now)
        return None

    async def record(self, action: str, subject: str, at: datetime) -> None:
        await self.driver.execute(
            "INSERT INTO throttle_events (action, subject, occurred_at) VALUES (%s, %s, %s)",
            (action, subject, at),
        )


@dataclass(frozen=True)
class ResetRecipient:
    user_id: uuid.UUID
    email: str
    full_name: str


class AccountTokenRepository:
    """E-mailed single-use tokens; consumed only by the database's own functions."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_verification(
        self, user_id: uuid.UUID, email: str, token_hash: str, expires_at: datetime
    ) -> None:
        await self.session.execute(
            insert(AccountToken).values(
                token_hash=token_hash,
                user_id=user_id,
                purpose="verify_email",
                email=email,
                expires_at=expires_at,
            )
        )

    async def verify_email(self, token_hash: str) -> uuid.UUID | None:
        value = await self.session.scalar(text("SELECT homeops_verify_email(:h)"), {"h": token_hash})
        return None if value is None else uuid.UUID(str(value))

    async def issue_password_reset(
        self, email: str, token_hash: str, expires_at: datetime
    ) -> ResetRecipient | None:
        row = (
            await self.session.execute(
                text("SELECT user_id, email, full_name FROM homeops_issue_password_reset(:e, :h, :x)"),
                {"e": email, "h": token_hash, "x": expires_at},
            )
        ).first()
        return ResetRecipient(row.user_id, row.email, row.full_name) if row else None

    async def reset_password(self, token_hash: str, password_hash: str) -> uuid.UUID | None:
        value = await self.session.scalar(
            text("SELECT homeops_reset_password(:h, :p)"), {"h": token_hash, "p": password_hash}
        )
        return None if value is None else uuid.UUID(str(value))


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
    "SELECT {columns} FROM users WHERE id = '{user}'::uuid AND deleted_at IS NULL; COMMIT"
)  # COMMIT, not ROLLBACK (the same for a read): psycopg forgets the connection's prepared statements on a ROLLBACK


async def own_profile_in_one_message(
    driver: psycopg.AsyncConnection[Any], session_id: uuid.UUID, user_id: uuid.UUID, columns: tuple[str, ...]
) -> dict[str, Any] | None:
    """The hottest authenticated read, ``GET /users/me``, as ONE message: open the transaction, establish the
    identity, read the caller's row under row security, end the transaction (COMMIT: it wrote nothing) — one
    round trip. The ids are
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

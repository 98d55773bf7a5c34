"""Registration, login (with throttling), token rotation, logout, profile and password changes.

Services flush, never commit: the unit of work commits or rolls back. Password hashing and verification
(bcrypt, ~0.5 s at cost 12) run in worker threads, never on the event loop.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import cached_property
from typing import Any

import psycopg
from anyio import CapacityLimiter, to_thread
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.actor import Actor
from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, Forbidden, Problem, TooManyRequests, Unauthorized
from homeops.core.patch import apply_patch
from homeops.core.security import (
    burn_password_check,
    hash_password,
    hash_token,
    issue_access_token,
    new_opaque_token,
    verify_password,
)
from homeops.core.uow import UnitOfWork
from homeops.identity.models import User, UserRole, UserSession
from homeops.identity.repository import (
    LoginAttemptRepository,
    SessionRepository,
    UserRepository,
    claim_new_user,
    establish_identity,
    own_profile_in_one_message,
    sign_in,
    user_profile,
)
from homeops.identity.schemas import PasswordChangeIn, RegisterIn, TokenOut, UserOut, UserPatch

_PROFILE_COLUMNS = tuple(UserOut.model_fields)

# bcrypt releases the GIL; at most this many hashes run at once per process, so a burst of logins cannot
# take every core from the requests that are already being served.
_HASHING = CapacityLimiter(2)


async def hash_password_async(password: str, rounds: int) -> str:
    return await to_thread.run_sync(hash_password, password, rounds, limiter=_HASHING)


async def verify_password_async(password: str, hashed: str | None) -> bool:
    return await to_thread.run_sync(verify_password, password, hashed, limiter=_HASHING)


async def burn_password_check_async(password: str) -> None:
    await to_thread.run_sync(burn_password_check, password, limiter=_HASHING)


class InvalidCredentials(Unauthorized):
    code, title = "invalid_credentials", "Invalid email or password"


class InvalidToken(Unauthorized):
    code, title = "invalid_token", "Invalid or expired token"


class EmailTaken(Conflict):
    code, title = "email_taken", "Email already registered"


class IdentityService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.settings = uow.runtime.settings

    # Repositories are made on first use: the profile read needs no ORM session at all.
    @cached_property
    def session(self) -> AsyncSession:
        return self.uow.session

    @cached_property
    def users(self) -> UserRepository:
        return UserRepository(self.uow.session)

    @cached_property
    def sessions(self) -> SessionRepository:
        return SessionRepository(self.uow.session)

    @cached_property
    def attempts(self) -> LoginAttemptRepository:
        return LoginAttemptRepository(self.uow.session)

    # --- registration -------------------------------------------------------------------------------
    async def register(self, data: RegisterIn) -> User:
        password_hash = await hash_password_async(data.password, self.settings.bcrypt_rounds)
        # The database hands out the new id and makes the transaction act as it (nothing else is allowed).
        user_id = await claim_new_user(self.session)
        self.uow.set_actor(Actor(user_id=user_id, role=UserRole.homeowner))
        user = User(id=user_id, email=str(data.email), full_name=data.full_name, password_hash=password_hash)
        try:
            async with self.session.begin_nested():
                await self.users.add(user)
        except IntegrityError as exc:
            raise EmailTaken("An account with this email already exists.") from exc
        self.uow.record(
            AuditEntry("user_created", "user", user.id, new_values={"email": user.email, "role": user.role})
        )
        return user

    # --- login / tokens -----------------------------------------------------------------------------
    async def login(self, email: str, password: str) -> TokenOut:
        email_key = email.strip().lower()
        window = timedelta(minutes=self.settings.login_window_minutes)
        now = self.uow.now()
        failures = await self.attempts.recent_failures(email_key, now - window)
        if len(failures) >= self.settings.login_max_failures:
            # Locked until the oldest of the last `max` failures leaves the window.
            unlock_at = failures[self.settings.login_max_failures - 1] + window
            retry_after = max(1, int((unlock_at - now).total_seconds()) + 1)
            self.uow.record_durable(
                AuditEntry(
                    "user_login_failed",
                    "user",
                    None,
                    "throttled",
                    new_values={"email": email_key},
                    error_message="too many failed attempts",
                )
            )
            raise TooManyRequests(
                "Too many failed login attempts. Try again later.",
                code="login_throttled",
                headers={"Retry-After": str(retry_after)},
                retry_after=retry_after,
            )

        found = await self.users.auth_lookup(email_key)
        if found is not None:
            ok = await verify_password_async(password, found.password_hash)
        else:
            await burn_password_check_async(password)  # same cost whether or not the email exists
            ok = False
        if not found or not ok or not found.is_active:
            ip = self.uow.audit.ip

            async def _count_failure(s: AsyncSession) -> None:
                await LoginAttemptRepository(s).add_failure(email_key, ip)

            self.uow.on_outcome(_count_failure)
            reason = "inactive account" if found and ok else "bad credentials"
            self.uow.record_durable(
                AuditEntry(
                    "user_login_failed",
                    "user",
                    found.id if found else None,
                    reason,
                    new_values={"email": email_key},
                    user_id=found.id if found else None,
                    error_message=reason,
                )
            )
            raise InvalidCredentials("The email or password is incorrect.")

        role = await sign_in(self.session, found.id, found.password_hash)
        if role is None:  # deactivated or the password changed meanwhile
            raise InvalidCredentials("The email or password is incorrect.")
        self.uow.set_actor(Actor(user_id=found.id, role=role))
        tokens = await self._open_session(found.id, role)
        await self.users.touch_login(found.id)
        self.uow.record(AuditEntry("user_login", "user", found.id))
        return tokens

    async def _open_session(self, user_id: uuid.UUID, role: UserRole) -> TokenOut:
        refresh = new_opaque_token()
        row = await self.sessions.create(
            UserSession(
                id=uuid.uuid4(),
                user_id=user_id,
                refresh_token_hash=hash_token(refresh),
                ip_address=self.uow.audit.ip,
                user_agent=(self.uow.audit.user_agent or "")[:1000] or None,
                expires_at=self.uow.now() + timedelta(days=self.settings.refresh_token_days),
            )
        )
        self.uow.set_actor(Actor(user_id=user_id, role=role, session_id=row.id))
        access, ttl = issue_access_token(self.settings, user_id, row.id, role.value)
        return TokenOut(access_token=access, refresh_token=refresh, expires_in=ttl)

    async def refresh(self, refresh_token: str) -> TokenOut:
        found = await self.sessions.by_refresh_hash(hash_token(refresh_token))
        if found is None:
            raise InvalidToken("The refresh token is invalid, expired or already used.")
        session_id, user_id = found
        actor = await establish_identity(await self.uow.driver(), session_id, user_id, begin=False)
        if actor is None or actor.role is None:
            raise InvalidToken("The refresh token is invalid, expired or already used.")
        self.uow.set_actor(actor)
        role = actor.role
        new_refresh = new_opaque_token()
        await self.sessions.rotate(
            session_id,
            hash_token(new_refresh),
            self.uow.now() + timedelta(days=self.settings.refresh_token_days),
        )
        access, ttl = issue_access_token(self.settings, user_id, session_id, role.value)
        self.uow.record(AuditEntry("session_refreshed", "user_session", session_id))
        return TokenOut(access_token=access, refresh_token=new_refresh, expires_in=ttl)

    async def logout(self) -> None:
        session_id = self.uow.actor.session_id
        assert session_id is not None
        await self.sessions.revoke(session_id, "logout")
        self.uow.record(AuditEntry("user_logout", "user_session", session_id))

    # --- profile ------------------------------------------------------------------------------------
    async def my_profile(self) -> UserOut:
        """The caller's profile, read as plain columns (no ORM entity): this is the hottest authenticated read."""
        row = await user_profile(await self.uow.driver(), self.uow.actor.require_user_id(), _PROFILE_COLUMNS)
        if row is None:
            raise InvalidToken("The account no longer exists.")
        return UserOut.model_validate(row)

    @staticmethod
    async def own_profile(
        driver: psycopg.AsyncConnection[Any], session_id: uuid.UUID, user_id: uuid.UUID
    ) -> UserOut:
        """``my_profile`` before any unit of work exists: the identity and the row in one message."""
        row = await own_profile_in_one_message(driver, session_id, user_id, _PROFILE_COLUMNS)
        if row is None:
            raise InvalidToken("The session has ended. Sign in again.")
        return UserOut.model_validate(row)

    async def me(self) -> User:
        user = await self.users.get(self.uow.actor.require_user_id())
        if user is None:
            raise InvalidToken("The account no longer exists.")
        return user

    async def update_me(self, patch: UserPatch) -> User:
        user = await self.me()
        old, new = apply_patch(
            user, patch.model_dump(exclude_unset=True), not_null=("full_name", "preferences")
        )
        try:
            async with self.session.begin_nested():
                await self.users.save()
        except IntegrityError as exc:
            raise Conflict("That username is taken.", code="username_taken") from exc
        self.uow.record(AuditEntry("user_updated", "user", user.id, old_values=old, new_values=new))
        return user

    async def change_password(self, data: PasswordChangeIn) -> int:
        user = await self.me()
        if not await verify_password_async(data.current_password, user.password_hash):
            raise Forbidden("The current password is incorrect.", code="wrong_password")
        if data.current_password == data.new_password:
            raise Problem(
                "The new password must differ from the current one.", status=422, code="password_reused"
            )
        user.password_hash = await hash_password_async(data.new_password, self.settings.bcrypt_rounds)
        user.password_changed_at = self.uow.now()
        await self.users.save()
        revoked = await self.sessions.revoke_all_except(
            user.id, self.uow.actor.session_id, "password_changed"
        )
        self.uow.record(
            AuditEntry("password_changed", "user", user.id, new_values={"other_sessions_revoked": revoked})
        )
        return revoked

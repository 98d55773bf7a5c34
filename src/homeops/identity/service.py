"""Registration, login (with throttling), token rotation, logout, profile and password changes.

Services flush, never commit: the request's unit of work commits or rolls back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.config import Settings
from homeops.core.context import AuditEntry, RequestContext, apply_rls
from homeops.core.errors import Conflict, Forbidden, Problem, TooManyRequests, Unauthorized
from homeops.core.security import (
    TokenError,
    burn_password_check,
    decode_access_token,
    hash_password,
    hash_token,
    issue_access_token,
    new_opaque_token,
    verify_password,
)
from homeops.identity.models import User, UserRole, UserSession
from homeops.identity.repository import LoginAttemptRepository, SessionRepository, UserRepository
from homeops.identity.schemas import PasswordChangeIn, RegisterIn, TokenOut, UserPatch


class InvalidCredentials(Unauthorized):
    code, title = "invalid_credentials", "Invalid email or password"


class InvalidToken(Unauthorized):
    code, title = "invalid_token", "Invalid or expired token"


class EmailTaken(Conflict):
    code, title = "email_taken", "Email already registered"


@dataclass(frozen=True)
class CurrentUser:
    id: uuid.UUID
    role: UserRole
    session_id: uuid.UUID
    email: str

    @property
    def is_admin(self) -> bool:
        return self.role is UserRole.admin


def _user_snapshot(user: User, fields: tuple[str, ...]) -> dict[str, object]:
    return {f: getattr(user, f) for f in fields}


class IdentityService:
    def __init__(self, session: AsyncSession, settings: Settings, ctx: RequestContext) -> None:
        self.session = session
        self.settings = settings
        self.ctx = ctx
        self.users = UserRepository(session)
        self.sessions = SessionRepository(session)
        self.attempts = LoginAttemptRepository(session)

    async def _as_user(self, user_id: uuid.UUID, role: UserRole | None) -> None:
        self.ctx.user_id = user_id
        self.ctx.role = role.value if role else None
        await apply_rls(self.session, user_id, self.ctx.role)

    # --- registration -------------------------------------------------------------------------------
    async def register(self, data: RegisterIn) -> User:
        user_id = uuid.uuid4()
        await self._as_user(user_id, UserRole.homeowner)
        user = User(
            id=user_id,
            email=str(data.email),
            full_name=data.full_name,
            password_hash=hash_password(data.password, self.settings.bcrypt_rounds),
        )
        try:
            async with self.session.begin_nested():
                await self.users.add(user)
        except IntegrityError as exc:
            raise EmailTaken("An account with this email already exists.") from exc
        self.ctx.record(
            AuditEntry("user_created", "user", user.id, new_values={"email": user.email, "role": user.role})
        )
        return user

    # --- login / tokens -----------------------------------------------------------------------------
    async def login(self, email: str, password: str) -> TokenOut:
        email_key = email.strip().lower()
        window = timedelta(minutes=self.settings.login_window_minutes)
        now = datetime.now(UTC)
        failures = await self.attempts.recent_failures(email_key, now - window)
        if len(failures) >= self.settings.login_max_failures:
            # Locked until the oldest of the last `max` failures leaves the window.
            unlock_at = failures[self.settings.login_max_failures - 1] + window
            retry_after = max(1, int((unlock_at - now).total_seconds()) + 1)
            self.ctx.record_durable(
                AuditEntry(
                    "user_login_failed", "user", None, "throttled", new_values={"email": email_key},
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
            ok = verify_password(password, found.password_hash)
        else:
            burn_password_check(password)  # same cost whether or not the email exists
            ok = False
        if not found or not ok or not found.is_active:
            ip = self.ctx.ip

            async def _count_failure(s: AsyncSession) -> None:
                await LoginAttemptRepository(s).add_failure(email_key, ip)

            self.ctx.durable_ops.append(_count_failure)
            reason = "inactive account" if found and ok else "bad credentials"
            self.ctx.record_durable(
                AuditEntry(
                    "user_login_failed", "user", found.id if found else None, reason,
                    new_values={"email": email_key}, user_id=found.id if found else None,
                    error_message=reason,
                )
            )
            raise InvalidCredentials("The email or password is incorrect.")

        await self._as_user(found.id, found.role)
        tokens = await self._open_session(found.id, found.role)
        await self.users.touch_login(found.id)
        self.ctx.record(AuditEntry("user_login", "user", found.id))
        return tokens

    async def _open_session(self, user_id: uuid.UUID, role: UserRole) -> TokenOut:
        refresh = new_opaque_token()
        row = await self.sessions.create(
            UserSession(
                id=uuid.uuid4(),
                user_id=user_id,
                refresh_token_hash=hash_token(refresh),
                ip_address=self.ctx.ip,
                user_agent=(self.ctx.user_agent or "")[:1000] or None,
                expires_at=datetime.now(UTC) + timedelta(days=self.settings.refresh_token_days),
            )
        )
        self.ctx.session_id = row.id
        access, ttl = issue_access_token(self.settings, user_id, row.id, role.value)
        return TokenOut(access_token=access, refresh_token=refresh, expires_in=ttl)

    async def refresh(self, refresh_token: str) -> TokenOut:
        found = await self.sessions.by_refresh_hash(hash_token(refresh_token))
        if found is None:
            raise InvalidToken("The refresh token is invalid, expired or already used.")
        session_id, user_id = found
        await self._as_user(user_id, None)
        identity = await self.sessions.live_identity(session_id, user_id)
        if identity is None:
            raise InvalidToken("The refresh token is invalid, expired or already used.")
        role, _ = identity
        await self._as_user(user_id, role)
        new_refresh = new_opaque_token()
        await self.sessions.rotate(
            session_id,
            hash_token(new_refresh),
            datetime.now(UTC) + timedelta(days=self.settings.refresh_token_days),
        )
        self.ctx.session_id = session_id
        access, ttl = issue_access_token(self.settings, user_id, session_id, role.value)
        self.ctx.record(AuditEntry("session_refreshed", "user_session", session_id))
        return TokenOut(access_token=access, refresh_token=new_refresh, expires_in=ttl)

    async def authenticate(self, token: str) -> CurrentUser:
        """Resolves a bearer access token to a live session; sets the RLS identity for this transaction."""
        try:
            claims = decode_access_token(self.settings, token)
        except TokenError as exc:
            raise InvalidToken("The access token is invalid or expired.") from exc
        # One round trip in the usual case: the token's role is only a hint (the database's admin and staff
        # checks read the stored role), and it is corrected below when the stored role differs.
        claimed = UserRole(claims.role) if claims.role in UserRole.__members__ else None
        await self._as_user(claims.user_id, claimed)
        identity = await self.sessions.live_identity(claims.session_id, claims.user_id)
        if identity is None:
            raise InvalidToken("The session has ended. Sign in again.")
        role, email = identity
        if role is not claimed:
            await self._as_user(claims.user_id, role)
        self.ctx.session_id = claims.session_id
        return CurrentUser(id=claims.user_id, role=role, session_id=claims.session_id, email=email)

    async def logout(self, current: CurrentUser) -> None:
        await self.sessions.revoke(current.session_id, "logout")
        self.ctx.record(AuditEntry("user_logout", "user_session", current.session_id))

    # --- profile ------------------------------------------------------------------------------------
    async def me(self, current: CurrentUser) -> User:
        user = await self.users.get(current.id)
        if user is None:
            raise InvalidToken("The account no longer exists.")
        return user

    async def update_me(self, current: CurrentUser, patch: UserPatch) -> User:
        user = await self.me(current)
        changes = patch.model_dump(exclude_unset=True)
        for key in ("full_name",):
            if key in changes and changes[key] is None:
                raise Problem(f"{key} cannot be null.", status=422, code="validation_error")
        old = _user_snapshot(user, tuple(changes))
        for key, value in changes.items():
            setattr(user, key, value)
        try:
            async with self.session.begin_nested():
                await self.users.refresh(user)
        except IntegrityError as exc:
            raise Conflict("That username is taken.", code="username_taken") from exc
        self.ctx.record(AuditEntry("user_updated", "user", user.id, old_values=old, new_values=changes))
        return user

    async def change_password(self, current: CurrentUser, data: PasswordChangeIn) -> int:
        user = await self.me(current)
        if not verify_password(data.current_password, user.password_hash):
            raise Forbidden("The current password is incorrect.", code="wrong_password")
        if data.current_password == data.new_password:
            raise Problem("The new password must differ from the current one.", status=422, code="password_reused")
        user.password_hash = hash_password(data.new_password, self.settings.bcrypt_rounds)
        user.password_changed_at = datetime.now(UTC)
        await self.session.flush()
        revoked = await self.sessions.revoke_all_except(user.id, current.session_id, "password_changed")
        self.ctx.record(
            AuditEntry("password_changed", "user", user.id, new_values={"other_sessions_revoked": revoked})
        )
        return revoked

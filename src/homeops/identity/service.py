"""Registration, login (with throttling), token rotation with reuse detection, logout, profile and password
changes, e-mail verification and password reset.

Services flush, never commit: the unit of work commits or rolls back. Password hashing and verification
(bcrypt, ~0.5 s at cost 12) run in worker threads, never on the event loop.

Throttles that must count what fails (sign-in attempts, registrations) run on the request's connection before
its transaction begins, in short transactions of their own that serialise the requests of one subject: a
burst of concurrent requests cannot all pass a check before any of them is counted, and a request that ends in
a 4xx is still counted (docs/security.md, "Sign-in throttling").
"""

from __future__ import annotations

import ipaddress
import math
import os
import uuid
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import psycopg
from anyio import CapacityLimiter, to_thread
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.actor import Actor
from homeops.core.audit import AuditEntry
from homeops.core.database import driver_connection
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
from homeops.core.uow import DurableOp, UnitOfWork
from homeops.core.urls import email_base_url
from homeops.identity import tokens
from homeops.identity.events import PasswordResetRequested, VerificationEmailRequested
from homeops.identity.models import User, UserRole, UserSession
from homeops.identity.repository import (
    AccountTokenRepository,
    LoginAttemptRepository,
    LoginHistory,
    SessionRepository,
    ThrottleRepository,
    UserRepository,
    begin,
    claim_new_user,
    establish_identity,
    lock_subject,
    own_profile_in_one_message,
    sign_in,
    user_profile,
)
from homeops.identity.schemas import PasswordChangeIn, RegisterIn, TokenOut, UserOut, UserPatch

_PROFILE_COLUMNS = tuple(UserOut.model_fields)

# bcrypt releases the GIL; at most this many hashes run at once per process — one core fewer than the machine
# has (at least one) — so a burst of logins cannot take every core from the requests already being served.
_HASHING = CapacityLimiter(max(1, (os.cpu_count() or 2) - 1))


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


class RefreshTokenSuperseded(Unauthorized):
    code, title = "refresh_token_superseded", "Refresh token already exchanged"


class RefreshTokenReused(Unauthorized):
    code, title = "refresh_token_reused", "Refresh token reused"


class EmailTaken(Conflict):
    code, title = "email_taken", "Email already registered"


class AlreadyVerified(Conflict):
    code, title = "already_verified", "E-mail address already verified"


class InvalidAccountToken(Problem):
    status, code, title = 400, "invalid_account_token", "Invalid or expired link"


UNKNOWN_ADDRESS = "0.0.0.0"  # the key of requests without a client address (never bound)


def throttle_address(ip: str | None) -> str:
    """The client address a throttle counts by: an IPv4 address, or an IPv6 client's /64 (one subscriber
    usually holds a whole /64, so counting single IPv6 addresses would be no limit at all)."""
    if not ip:
        return UNKNOWN_ADDRESS
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return UNKNOWN_ADDRESS
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _idle(driver: psycopg.AsyncConnection[Any]) -> bool:
    """No transaction is open on the request's connection yet: the throttle's writes commit at once, apart.
    (A caller that began first — a page that registers and signs in in one request — still gets a throttle:
    its counts then commit with it, or are written apart after a failure.)"""
    return driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def _count_apart(action: str, subject: str, at: datetime) -> DurableOp:
    async def op(session: AsyncSession) -> None:
        await ThrottleRepository(await driver_connection(session)).record(action, subject, at)

    return op


def _failure_apart(email: str, address: str, at: datetime) -> DurableOp:
    async def op(session: AsyncSession) -> None:
        await LoginAttemptRepository(await driver_connection(session)).record(email, address, at)

    return op


def _retry_after(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def _throttled(detail: str, code: str, until: datetime, now: datetime) -> TooManyRequests:
    seconds = _retry_after(until, now)
    return TooManyRequests(detail, code=code, headers={"Retry-After": str(seconds)}, retry_after=seconds)


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
    def account_tokens(self) -> AccountTokenRepository:
        return AccountTokenRepository(self.uow.session)

    # --- registration -------------------------------------------------------------------------------
    async def register(self, data: RegisterIn) -> User:
        """A new homeowner, signed in as nobody yet; a verification e-mail goes out after the commit. Throttled
        per client address (every attempt counts, ``email_taken`` included)."""
        driver = await self.uow.driver()
        now = self.uow.now()
        address = throttle_address(self.uow.audit.ip)
        apart = _idle(driver)
        async with driver.transaction():
            full_until = await ThrottleRepository(driver).hit(
                "register",
                address,
                limit=self.settings.register_max_per_address,
                since=now - timedelta(minutes=self.settings.register_window_minutes),
                now=now,
            )
        if full_until is not None:
            self.uow.record_durable(
                AuditEntry(
                    "user_register_throttled",
                    "user",
                    None,
                    new_values={"address": address},
                    error_message="too many registrations from this address",
                )
            )
            raise _throttled(
                "Too many registrations from this address. Try again later.",
                "registration_throttled",
                full_until + timedelta(minutes=self.settings.register_window_minutes),
                now,
            )
        await begin(driver)
        try:
            return await self._create_account(data)
        except Exception:
            if not apart:
                self.uow.on_outcome(_count_apart("register", address, now))
            raise

    async def _create_account(self, data: RegisterIn) -> User:
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
        await self._send_verification(user)
        return user

    # --- e-mail verification ----------------------------------------------------------------------------
    async def _send_verification(self, user: User) -> None:
        expires_at = self.uow.now() + timedelta(hours=self.settings.email_verification_hours)
        token = tokens.issue(self.settings, "verify_email", expires_at)
        await self.account_tokens.add_verification(user.id, user.email, hash_token(token), expires_at)
        await self.uow.publish(
            VerificationEmailRequested(
                user.id, user.email, user.full_name, token, expires_at, email_base_url(self.settings)
            )
        )

    async def resend_verification(self) -> None:
        """Another verification e-mail for the signed-in user (throttled per account)."""
        user = await self.me()
        if user.is_verified:
            raise AlreadyVerified("Your e-mail address is verified already.")
        now = self.uow.now()
        window = timedelta(minutes=self.settings.account_email_window_minutes)
        full_until = await ThrottleRepository(await self.uow.driver()).hit(
            "verify_resend", str(user.id), limit=self.settings.account_email_max, since=now - window, now=now
        )
        if full_until is not None:
            raise _throttled(
                "Verification e-mails were sent recently. Try again later.",
                "resend_throttled",
                full_until + window,
                now,
            )
        await self._send_verification(user)
        self.uow.record(AuditEntry("email_verification_sent", "user", user.id))

    async def verify_email(self, token: str) -> None:
        """Consumes a verification token (signed, unexpired, unused) and marks its account verified."""
        if not tokens.is_valid(self.settings, token, "verify_email", self.uow.now()):
            raise InvalidAccountToken("The verification link is invalid or has expired.")
        user_id = await self.account_tokens.verify_email(hash_token(token))
        if user_id is None:
            raise InvalidAccountToken("The verification link is invalid, expired or already used.")
        self.uow.audit.user_id = user_id
        self.uow.record(AuditEntry("email_verified", "user", user_id, user_id=user_id))

    # --- password reset ---------------------------------------------------------------------------------
    async def request_password_reset(self, email: str) -> None:
        """Step 1: an e-mail with a reset token if the account exists. The answer, the statements and the work
        are the same either way (a token is made and hashed, the one lookup runs); the e-mail goes out after
        the commit (and after the response). Throttled per client address and per email."""
        email_key = email.strip().lower()
        now = self.uow.now()
        window = timedelta(minutes=self.settings.account_email_window_minutes)
        throttle = ThrottleRepository(await self.uow.driver())
        address = throttle_address(self.uow.audit.ip)
        for action, subject, limit in (
            ("reset_address", address, self.settings.password_reset_max_per_address),
            ("reset_email", email_key, self.settings.account_email_max),
        ):
            full_until = await throttle.hit(action, subject, limit=limit, since=now - window, now=now)
            if full_until is not None:
                raise _throttled(
                    "Too many password-reset requests. Try again later.",
                    "password_reset_throttled",
                    full_until + window,
                    now,
                )
        expires_at = now + timedelta(minutes=self.settings.password_reset_minutes)
        token = tokens.issue(self.settings, "password_reset", expires_at)
        recipient = await self.account_tokens.issue_password_reset(email_key, hash_token(token), expires_at)
        self.uow.record(
            AuditEntry(
                "password_reset_requested",
                "user",
                recipient.user_id if recipient else None,
                new_values={"email": email_key},
                user_id=recipient.user_id if recipient else None,
            )
        )
        if recipient is not None:
            await self.uow.publish(
                PasswordResetRequested(
                    recipient.user_id,
                    recipient.email,
                    recipient.full_name,
                    token,
                    expires_at,
                    email_base_url(self.settings),
                )
            )

    async def confirm_password_reset(self, token: str, new_password: str) -> None:
        """Step 2: the token sets the new password and ends every session of the account."""
        if not tokens.is_valid(self.settings, token, "password_reset", self.uow.now()):
            raise InvalidAccountToken("The password-reset link is invalid or has expired.")
        password_hash = await hash_password_async(new_password, self.settings.bcrypt_rounds)
        user_id = await self.account_tokens.reset_password(hash_token(token), password_hash)
        if user_id is None:
            raise InvalidAccountToken("The password-reset link is invalid, expired or already used.")
        self.uow.audit.user_id = user_id
        self.uow.record(
            AuditEntry(
                "password_reset", "user", user_id, user_id=user_id, new_values={"sessions_revoked": "all"}
            )
        )

    # --- login / tokens -----------------------------------------------------------------------------
    async def login(self, email: str, password: str) -> TokenOut:
        email_key = email.strip().lower()
        now = self.uow.now()
        address = throttle_address(self.uow.audit.ip)
        driver = await self.uow.driver()
        attempts = LoginAttemptRepository(driver)
        apart = _idle(driver)
        async with driver.transaction():  # counted before the password is checked (see the module docstring)
            await lock_subject(driver, f"login:{email_key}")
            history = await attempts.history(
                email_key,
                address,
                pair_since=now - timedelta(hours=self.settings.login_backoff_window_hours),
                email_since=now - timedelta(minutes=self.settings.login_window_minutes),
                email_max=self.settings.login_email_max_failures,
                known_since=now - timedelta(days=self.settings.login_known_address_days),
            )
            wait_until = self._login_wait(history)
            attempt_id = None if wait_until is not None else await attempts.record(email_key, address, now)
        if wait_until is not None or attempt_id is None:
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
            raise _throttled(
                "Too many failed login attempts. Try again later.", "login_throttled", wait_until or now, now
            )
        await begin(driver)

        found = await self.users.auth_lookup(email_key)
        if found is not None:
            ok = await verify_password_async(password, found.password_hash)
        else:
            await burn_password_check_async(password)  # same cost whether or not the email exists
            ok = False
        if not found or not ok or not found.is_active:
            if not apart:  # recorded inside this transaction, which rolls back: record it apart
                self.uow.on_outcome(_failure_apart(email_key, address, now))
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
            if not apart:
                self.uow.on_outcome(_failure_apart(email_key, address, now))
            raise InvalidCredentials("The email or password is incorrect.")
        self.uow.set_actor(Actor(user_id=found.id, role=role))
        pair = await self._open_session(found.id, role)
        await self.users.touch_login(found.id)
        await attempts.succeeded(attempt_id)  # commits with the sign-in: this address is now known
        self.uow.record(AuditEntry("user_login", "user", found.id))
        return pair

    def _login_wait(self, history: LoginHistory) -> datetime | None:
        """When this (email, address) may try again, or None if now. Two rules (docs/security.md):

        * per email and address: ``login_max_failures`` free failures, then a backoff that doubles with every
          further failure (``login_backoff_seconds`` … ``login_backoff_max_seconds``) after the last one;
        * per email from every address: after ``login_email_max_failures`` failures within
          ``login_window_minutes``, addresses that never signed in to this account wait until the oldest of
          them leaves the window; an address that signed in successfully recently is exempt from this rule.
        """
        s = self.settings
        waits: list[datetime] = []
        excess = history.pair_failures - s.login_max_failures
        if excess >= 0 and history.pair_last_failure is not None:
            delay = min(s.login_backoff_max_seconds, s.login_backoff_seconds * 2 ** min(excess, 30))
            waits.append(history.pair_last_failure + timedelta(seconds=delay))
        if not history.known_address and len(history.email_failures) >= s.login_email_max_failures:
            waits.append(history.email_failures[-1] + timedelta(minutes=s.login_window_minutes))
        until = max(waits, default=None)
        return until if until is not None and until > self.uow.now() else None

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
        """Exchanges the session's current refresh token for a new pair. A session is a token family: a
        *rotated* token presented again means a copy exists (OAuth 2.0 Security BCP), so the whole session ends
        — the newer pair too — and ``refresh_token_reused`` is audited. One exception keeps a client that races
        itself signed in: the token replaced less than ``refresh_reuse_grace_seconds`` ago is only refused."""
        token_hash = hash_token(refresh_token)
        found = await self.sessions.by_refresh_hash(token_hash)
        if found is None:
            raise InvalidToken("The refresh token is invalid, expired or already used.")
        now = self.uow.now()
        if found.state != "current":
            grace = timedelta(seconds=self.settings.refresh_reuse_grace_seconds)
            if (
                found.state == "previous"
                and found.live
                and found.retired_at is not None
                and now - found.retired_at <= grace
            ):
                raise RefreshTokenSuperseded(
                    "This refresh token was exchanged a moment ago by another request; use the tokens that "
                    "request received."
                )
            raise self._revoke_reused(token_hash, found.session_id, found.user_id, found.live)
        session_id, user_id = found.session_id, found.user_id
        actor = await establish_identity(await self.uow.driver(), session_id, user_id, begin=False)
        if actor is None or actor.role is None:
            raise InvalidToken("The refresh token is invalid, expired or already used.")
        self.uow.set_actor(actor)
        role = actor.role
        new_refresh = new_opaque_token()
        rotated = await self.sessions.rotate(
            session_id,
            user_id,
            token_hash,
            hash_token(new_refresh),
            now,
            now + timedelta(days=self.settings.refresh_token_days),
        )
        if not rotated:  # a concurrent refresh with the same token won
            raise RefreshTokenSuperseded(
                "This refresh token was exchanged a moment ago by another request; use the tokens that request "
                "received."
            )
        access, ttl = issue_access_token(self.settings, user_id, session_id, role.value)
        self.uow.record(AuditEntry("session_refreshed", "user_session", session_id))
        return TokenOut(access_token=access, refresh_token=new_refresh, expires_in=ttl)

    def _revoke_reused(
        self, token_hash: str, session_id: uuid.UUID, user_id: uuid.UUID, live: bool
    ) -> RefreshTokenReused:
        """Ends the session (durably: the answer is a 401, whose transaction rolls back), audits it, and returns
        the error to answer with."""

        async def _revoke(s: AsyncSession) -> None:
            await SessionRepository(s).revoke_reused(token_hash)

        self.uow.on_outcome(_revoke)
        self.uow.record_durable(
            AuditEntry(
                "refresh_token_reused",
                "user_session",
                session_id,
                "a rotated refresh token was presented again; the session was revoked",
                new_values={"session_was_live": live},
                user_id=user_id,
                error_message="refresh token reuse",
            )
        )
        return RefreshTokenReused(
            "This refresh token was already exchanged. For your safety the session has been ended: sign in again."
        )

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

"""One ``users`` table for every seed (000, 001, 002, 003, 004), sessions (004) with their retired refresh
tokens, sign-in attempts, throttle events and e-mailed account tokens."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Computed, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import INET, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from homeops.core.models import Base, SoftDeleteMixin, TimestampMixin, pg_enum, uuid_pk
from homeops.core.tenancy import UserRole

__all__ = [
    "AccountToken",
    "LoginAttempt",
    "RetiredRefreshToken",
    "ThrottleEvent",
    "User",
    "UserRole",
    "UserSession",
    "user_role_enum",
]


user_role_enum = pg_enum(UserRole, "user_role")


class User(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        Index("uq_users_email_lower", func.lower(text("email")), unique=True),
        Index(
            "uq_users_username_lower",
            func.lower(text("username")),
            unique=True,
            postgresql_where=text("username IS NOT NULL"),
        ),
        Index("ix_users_role", "role"),
        Index("ix_users_is_active", "is_active"),
        Index("ix_users_created_at", "created_at"),
        Index("ix_users_live", "deleted_at", postgresql_where=text("deleted_at IS NULL")),
        Index("ix_users_search", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(50))
    full_name: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[UserRole] = mapped_column(user_role_enum, server_default=UserRole.homeowner.value)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_verified: Mapped[bool] = mapped_column(server_default=text("false"))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    preferences: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))
    profile_picture_url: Mapped[str | None] = mapped_column(Text)
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    # 001 technician fields
    certification_numbers: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    specializations: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    hire_date: Mapped[date | None]
    # The words of the e-mail address and name (the admins' account search, ``homeops_admin_find_users``).
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(
            "to_tsvector('simple', regexp_replace(lower(email || ' ' || full_name), "
            "'[[:punct:][:space:]]+', ' ', 'g'))",
            persisted=True,
        ),
        deferred=True,
    )


class UserSession(Base):
    """Seed 004 ``user_sessions``: one row per login — a refresh-token *family*: each refresh replaces the token
    (stored only as its SHA-256); the replaced ones are kept in ``retired_refresh_tokens``."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    refresh_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    previous_token_hash: Mapped[str | None] = mapped_column(String(64))
    rotated_at: Mapped[datetime | None]
    ip_address: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(50))


class RetiredRefreshToken(Base):
    """A refresh token its session no longer accepts (replaced by a refresh): presenting it again is reuse."""

    __tablename__ = "retired_refresh_tokens"
    __table_args__ = (Index("ix_retired_refresh_tokens_session_id", "session_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID]
    retired_at: Mapped[datetime]


class LoginAttempt(Base):
    """One sign-in attempt per row, by email and client address, recorded before the password is checked
    (``succeeded`` set when it was right): the throttle's memory (docs/security.md, "Sign-in throttling")."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "attempted_at"),
        Index("ix_login_attempts_email_ip_at", "email", "ip_address", "attempted_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(255))
    ip_address: Mapped[str | None] = mapped_column(INET)
    attempted_at: Mapped[datetime] = mapped_column(server_default=func.now())
    succeeded: Mapped[bool] = mapped_column(server_default=text("false"))


class ThrottleEvent(Base):
    """One throttled action (a registration from an address, an account e-mail) for the rate limits."""

    __tablename__ = "throttle_events"
    __table_args__ = (Index("ix_throttle_events_action_subject_at", "action", "subject", "occurred_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    occurred_at: Mapped[datetime]


class AccountToken(Base):
    """An e-mailed single-use token (e-mail verification, password reset); only its SHA-256 is stored."""

    __tablename__ = "account_tokens"
    __table_args__ = (
        Index("ix_account_tokens_user_id", "user_id"),
        CheckConstraint("purpose IN ('verify_email', 'password_reset')", name="purpose"),
    )

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

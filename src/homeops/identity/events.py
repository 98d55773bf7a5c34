"""What the identity domain reports to the domains above it (the e-mails are sent by ``notifications``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from homeops.core.events import DomainEvent


@dataclass(frozen=True)
class AccountEmailRequested(DomainEvent):
    """An e-mail carrying a single-use account token is due once the transaction commits. ``token`` is the
    secret itself (never logged, never stored: the database keeps its hash); ``base_url`` is where the API is
    reached (configured, or the server's own address — never a client's Host header)."""

    user_id: uuid.UUID
    email: str
    full_name: str
    token: str = field(repr=False)
    expires_at: datetime
    base_url: str


@dataclass(frozen=True)
class VerificationEmailRequested(AccountEmailRequested):
    """Registration, or the user asked again: confirm the e-mail address."""


@dataclass(frozen=True)
class PasswordResetRequested(AccountEmailRequested):
    """Someone asked to reset the password of this (existing, active) account."""

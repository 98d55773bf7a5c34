from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import EmailStr, Field, StringConstraints

from homeops.core.schemas import JsonObject, NonNull, Out, StrictIn
from homeops.identity.models import UserRole

MIN_PASSWORD_LENGTH = 10

Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=255, strip_whitespace=True)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()./-]{5,32}$", max_length=32)]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{3,50}$")]


class RegisterIn(StrictIn):
    email: Annotated[EmailStr, Field(max_length=255)]
    password: Password
    full_name: Name


class LoginIn(StrictIn):
    email: Annotated[str, Field(min_length=3, max_length=255)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class RefreshIn(StrictIn):
    refresh_token: Annotated[str, Field(min_length=16, max_length=256)]


AccountToken = Annotated[str, Field(min_length=1, max_length=256, description="The token from the e-mail")]


class VerifyEmailIn(StrictIn):
    token: AccountToken


class PasswordResetIn(StrictIn):
    email: Annotated[str, Field(min_length=3, max_length=255)]


class PasswordResetConfirmIn(StrictIn):
    token: AccountToken
    new_password: Password


class AcceptedOut(Out):
    detail: str


class PasswordChangeIn(StrictIn):
    current_password: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: Password


class UserPatch(StrictIn):
    full_name: NonNull[Name] = None
    username: Username | None = None
    phone: Phone | None = None
    profile_picture_url: Annotated[str, Field(max_length=2000)] | None = None
    preferences: NonNull[JsonObject] = None


class TokenOut(Out):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class UserOut(Out):
    id: uuid.UUID
    email: str
    username: str | None
    full_name: str
    phone: str | None
    role: UserRole
    is_verified: bool
    is_active: bool
    preferences: dict[str, Any]
    profile_picture_url: str | None
    certification_numbers: list[Any]
    specializations: list[Any]
    hire_date: date | None
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime

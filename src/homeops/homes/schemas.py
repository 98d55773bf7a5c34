from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import EmailStr, Field, StringConstraints, WithJsonSchema, field_validator

from homeops.core.schemas import NonNull, Out, StrictIn
from homeops.homes.models import HomeRole

HomeName = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
RoomName = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
ShortText = Annotated[str, StringConstraints(max_length=200)]


class Address(StrictIn):
    line1: ShortText | None = None
    line2: ShortText | None = None
    city: Annotated[str, StringConstraints(max_length=100)] | None = None
    region: Annotated[str, StringConstraints(max_length=100)] | None = None
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")] | None = None
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None


_ZONES = frozenset(available_timezones())


def _valid_timezone(value: str) -> str:
    """An IANA zone name such as ``Europe/Paris`` (checked against the tz database)."""
    if value not in _ZONES:
        raise ValueError(f"unknown IANA time zone: {value!r}")
    return value


# The spec lists the zones the server accepts (those of its tz database).
TimeZoneName = Annotated[
    str,
    StringConstraints(max_length=64),
    WithJsonSchema(
        {"type": "string", "enum": sorted(_ZONES), "description": "An IANA time zone, e.g. Europe/Paris."}
    ),
]


class HomeIn(StrictIn):
    name: HomeName
    address: Address = Field(default_factory=Address)
    timezone: TimeZoneName = "UTC"

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, v: str) -> str:
        return _valid_timezone(v)


class HomePatch(StrictIn):
    name: NonNull[HomeName] = None
    address: Address | None = Field(default=None, description="null: no address")
    timezone: NonNull[TimeZoneName] = None

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, v: str | None) -> str | None:
        return None if v is None else _valid_timezone(v)


class HomeOut(Out):
    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    address: dict[str, Any]
    timezone: str
    my_role: HomeRole | None = None
    created_at: datetime
    updated_at: datetime


class MemberIn(StrictIn):
    email: Annotated[EmailStr, Field(max_length=255)]
    role: HomeRole = Field(
        default=HomeRole.member,
        json_schema_extra={"enum": [r.value for r in HomeRole if r is not HomeRole.owner]},
        description="Not `owner`: a home has exactly one.",
    )

    @field_validator("role")
    @classmethod
    def _not_owner(cls, v: HomeRole) -> HomeRole:
        if v is HomeRole.owner:
            raise ValueError("a home has exactly one owner; invite as admin, member or guest")
        return v


class MemberOut(Out):
    user_id: uuid.UUID
    email: str
    full_name: str
    role: HomeRole
    created_at: datetime


class RoomIn(StrictIn):
    name: RoomName
    room_type: Annotated[str, StringConstraints(max_length=50)] | None = None
    floor: Annotated[int, Field(ge=-10, le=200)] | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None


class RoomPatch(StrictIn):
    name: NonNull[RoomName] = None
    room_type: Annotated[str, StringConstraints(max_length=50)] | None = None
    floor: Annotated[int, Field(ge=-10, le=200)] | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None


class RoomOut(Out):
    id: uuid.UUID
    home_id: uuid.UUID
    name: str
    room_type: str | None
    floor: int | None
    notes: str | None
    created_at: datetime
    updated_at: datetime

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, EmailStr, Field, StringConstraints, field_validator

from homeops.core.schemas import NonNull, Out, StrictIn
from homeops.homes.schemas import Address
from homeops.organizations.models import SLUG_PATTERN, OrgKind, OrgRole

OrgName = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
# 3–100 characters: lower-case letters, digits and inner hyphens (the database checks the same pattern).
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=100)]
SETTINGS_MAX_BYTES = 16_384


class Contact(StrictIn):
    person: Annotated[str, StringConstraints(max_length=200)] | None = None
    email: Annotated[EmailStr, Field(max_length=255)] | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    website: Annotated[str, StringConstraints(max_length=300)] | None = None
    address: Address | None = None


def _settings_size(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value)) > SETTINGS_MAX_BYTES:
        raise ValueError(f"settings may take at most {SETTINGS_MAX_BYTES} bytes of JSON")
    return value


OrgSettings = Annotated[dict[str, Any], AfterValidator(_settings_size)]


class OrganizationIn(StrictIn):
    kind: OrgKind
    name: OrgName
    slug: Slug
    contact: Contact = Field(default_factory=Contact)
    settings: OrgSettings = Field(default_factory=dict)


class OrganizationPatch(StrictIn):
    """Fields given replace the stored value (``contact`` and ``settings`` as a whole); ``kind`` is fixed."""

    name: NonNull[OrgName] = None
    slug: NonNull[Slug] = None
    contact: Contact | None = None
    settings: OrgSettings | None = None


class OrganizationOut(Out):
    id: uuid.UUID
    kind: OrgKind
    name: str
    slug: str
    contact: dict[str, Any]
    settings: dict[str, Any]
    created_by: uuid.UUID | None
    my_role: OrgRole | None = None
    created_at: datetime
    updated_at: datetime


class MemberIn(StrictIn):
    email: Annotated[EmailStr, Field(max_length=255)]
    role: OrgRole = Field(
        default=OrgRole.staff,
        json_schema_extra={"enum": [r.value for r in OrgRole if r is not OrgRole.owner]},
        description="Not `owner`: owners are not invited (an owner changes a member's role).",
    )

    @field_validator("role")
    @classmethod
    def _not_owner(cls, v: OrgRole) -> OrgRole:
        if v is OrgRole.owner:
            raise ValueError("owners are not invited: add the member, then an owner changes their role")
        return v


class MemberPatch(StrictIn):
    role: OrgRole


class MemberOut(Out):
    user_id: uuid.UUID
    email: str
    full_name: str
    role: OrgRole
    invited_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime

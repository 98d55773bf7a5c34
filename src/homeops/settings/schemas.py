from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from homeops.core.schemas import JSON_FIELD_MAX_BYTES, MaxJsonBytes, Out, StrictIn
from homeops.settings.models import SettingType

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{1,254}$")]
Value = bool | int | float | str | dict[str, Any] | list[Any] | None
ValueIn = Annotated[Value, MaxJsonBytes(JSON_FIELD_MAX_BYTES)]


class ValidationRules(StrictIn):
    min: float | None = None
    max: float | None = None
    integer: bool | None = None
    max_length: Annotated[int, Field(ge=1, le=100_000)] | None = None
    pattern: Annotated[str, Field(max_length=500)] | None = None
    choices: list[str | int | float] | None = None


class SettingIn(StrictIn):
    setting_key: Key
    setting_type: SettingType
    value: ValueIn = None
    category: Annotated[str, StringConstraints(max_length=100)] | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    is_public: bool = False
    is_editable: bool = True
    validation_rules: ValidationRules | None = None


class SettingPatch(StrictIn):
    value: ValueIn = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    is_public: bool | None = None


class PublicSettingOut(Out):
    setting_key: str
    setting_type: SettingType
    value: Value


class SettingOut(PublicSettingOut):
    id: uuid.UUID
    category: str | None
    description: str | None
    is_public: bool
    is_editable: bool
    default_value: Value
    validation_rules: dict[str, Any] | None
    last_modified_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime

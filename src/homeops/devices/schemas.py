from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AliasChoices, ConfigDict, Field, StringConstraints, model_validator

from homeops.core.schemas import (
    JsonObject,
    Money,
    NonNull,
    Out,
    StrictIn,
    date_order_error,
    not_together,
)
from homeops.devices.models import DeviceStatus

Str100 = Annotated[str, StringConstraints(max_length=100)]
Str255 = Annotated[str, StringConstraints(min_length=1, max_length=255, strip_whitespace=True)]
Nickname = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Serial = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Price = Annotated[Decimal, Money(10_000_000)]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]


class _DeviceFields(StrictIn):
    room_id: uuid.UUID | None = None
    subcategory: Str100 | None = None
    location_detail: Annotated[str, StringConstraints(max_length=500)] | None = None
    purchase_date: date | None = None
    purchase_price: Price | None = None
    installation_date: date | None = None
    warranty_start: date | None = None
    warranty_end: date | None = None
    features: JsonObject | None = None
    specifications: JsonObject | None = None
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None
    ecosystem_id: uuid.UUID | None = None
    external_id: Annotated[str, StringConstraints(max_length=255)] | None = None
    firmware_version: Str100 | None = None

    @model_validator(mode="after")
    def _warranty_order(self) -> _DeviceFields:
        if self.warranty_start and self.warranty_end and self.warranty_end < self.warranty_start:
            raise date_order_error("warranty_end is before warranty_start")
        return self


class DeviceIn(_DeviceFields):
    model_config = ConfigDict(
        json_schema_extra=not_together(("model_id", "manufacturer"), ("model_id", "model_number"))
    )
    nickname: Nickname
    category: Code | None = None
    model_id: uuid.UUID | None = None
    # One name for one concept (issue 7): ``manufacturer``, as in the catalog; ``brand`` (what the manuals
    # API said until 0.x) is accepted as a deprecated alias for one release.
    manufacturer: Str255 | None = Field(
        default=None,
        validation_alias=AliasChoices("manufacturer", "brand"),
        description="The manufacturer's name (`brand` is accepted as a deprecated alias).",
    )
    model_number: Str255 | None = None
    serial_number: Serial | None = None
    replaces_device_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _model_or_free_text(self) -> DeviceIn:
        if self.model_id and (self.manufacturer or self.model_number):
            raise ValueError("give model_id, or manufacturer and model_number, not both")
        return self


class DevicePatch(_DeviceFields):
    nickname: NonNull[Nickname] = None
    category: Code | None = None
    serial_number: Serial | None = None
    status: NonNull[DeviceStatus] = None
    is_online: bool | None = None


class DeviceOut(Out):
    id: uuid.UUID
    home_id: uuid.UUID
    room_id: uuid.UUID | None
    added_by: uuid.UUID | None
    model_id: uuid.UUID | None
    manufacturer: str | None
    model_number: str | None
    category: str | None
    subcategory: str | None
    serial_number: str | None = Field(description="Clear text, shown to members of the device's home only")
    nickname: str
    location_detail: str | None
    purchase_date: date | None
    purchase_price: Decimal | None
    installation_date: date | None
    warranty_start: date | None
    warranty_end: date | None
    features: dict[str, Any]
    specifications: dict[str, Any]
    notes: str | None
    status: DeviceStatus
    replaces_device_id: uuid.UUID | None
    replaced_by_device_id: uuid.UUID | None
    ecosystem_id: uuid.UUID | None
    external_id: str | None
    firmware_version: str | None
    is_online: bool | None
    last_seen_at: datetime | None
    created_at: datetime
    updated_at: datetime
    manual_count: int = 0
    manual_types: list[str] = Field(default_factory=list)


class WarrantyOut(Out):
    device_id: uuid.UUID
    home_id: uuid.UUID
    nickname: str
    manufacturer: str | None
    model_number: str | None
    warranty_end: date
    days_left: int


class GroupIn(StrictIn):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None


class GroupPatch(StrictIn):
    name: NonNull[Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]] = (
        None
    )
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None


class GroupMemberIn(StrictIn):
    device_id: uuid.UUID


class GroupOut(Out):
    id: uuid.UUID
    home_id: uuid.UUID
    name: str
    description: str | None
    device_ids: list[uuid.UUID] = Field(default_factory=list)
    created_at: datetime

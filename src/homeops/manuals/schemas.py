from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, StringConstraints, computed_field, field_validator

from homeops.core.schemas import Out, StrictIn
from homeops.manuals.models import ManualStatus, ManualType

DuplicateLevel = Literal["file_hash", "content_hash", "composite"]

# One name for one concept (issue 7): the catalog, devices and manuals all say ``manufacturer``. Manuals said
# ``brand`` until 0.x; it is accepted on input and still emitted on output, deprecated, for one release.
BRAND_DEPRECATED = "Deprecated alias of `manufacturer` (removed in the next release)."


class ManualMeta(StrictIn):
    """Upload metadata (multipart form fields next to ``file``)."""

    manufacturer: Annotated[str, StringConstraints(min_length=1, max_length=255, strip_whitespace=True)] = (
        Field(
            validation_alias=AliasChoices("manufacturer", "brand"),
            description="The manufacturer's name (`brand`, its deprecated alias, is accepted too).",
        )
    )
    model_numbers: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=255)]], Field(max_length=50)
    ] = Field(default_factory=list)
    category: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")] | None = None
    manual_type: ManualType = ManualType.user
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")] = "en"
    version: Annotated[str, StringConstraints(max_length=50, strip_whitespace=True)] = ""
    year: Annotated[int, Field(ge=1900, le=2100)] | None = None
    title: Annotated[str, StringConstraints(max_length=500, strip_whitespace=True)] | None = None
    source_url: Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://")] | None = None

    @field_validator("model_numbers")
    @classmethod
    def _split_and_normalise(cls, values: list[str]) -> list[str]:
        out: list[str] = []
        for value in values:
            for part in value.split(","):
                norm = " ".join(part.split()).upper()
                if norm and norm not in out:
                    out.append(norm)
        return out


class ManualOut(Out):
    id: uuid.UUID
    manufacturer: str = Field(validation_alias=AliasChoices("manufacturer", "brand"))
    manufacturer_id: uuid.UUID | None
    model_numbers: list[str]
    category: str | None = Field(validation_alias=AliasChoices("category_code", "category"))
    manual_type: ManualType
    language: str
    version: str
    year: int | None
    title: str | None
    file_name: str
    content_type: str
    file_size: int
    file_hash: str
    content_hash: str | None
    page_count: int | None
    status: ManualStatus
    failure_reason: str | None
    indexed: bool
    embedded: bool
    source_url: str | None
    created_at: datetime
    processed_at: datetime | None
    duplicate_level: DuplicateLevel | None = Field(
        default=None, description="Set when an upload matched this existing manual (nothing new was stored)."
    )

    @computed_field(description=BRAND_DEPRECATED, json_schema_extra={"deprecated": True})  # type: ignore[prop-decorator]
    @property
    def brand(self) -> str:
        return self.manufacturer


class DeviceManualOut(ManualOut):
    auto_linked: bool
    linked_at: datetime


class SearchHit(Out):
    manual_id: uuid.UUID
    title: str
    page: int = Field(description="1-based page number")
    snippet: str
    score: float
    chunk_index: int


class SearchOut(Out):
    query: str
    mode: Literal["fulltext", "hybrid"]
    note: str | None = None
    items: list[SearchHit]


__all__ = ["DeviceManualOut", "ManualMeta", "ManualOut", "SearchHit", "SearchOut"]

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, StringConstraints, computed_field, field_validator

from homeops.core.schemas import Out, StrictIn
from homeops.manuals.models import ManualProvenance, ManualStatus, ManualType, ManualVisibility, ReportStatus

DuplicateLevel = Literal["file_hash", "content_hash", "composite"]
# Where a manual or a passage comes from: the verified shared library, or a household's own (unverified) upload.
ManualSource = Literal["verified", "household"]
SOURCE_DESCRIPTION = (
    "`verified`: the shared library (a trusted source's upload, or verified by support staff); `household`: "
    "an upload of your household, not verified."
)


def source_of(visibility: ManualVisibility | str) -> ManualSource:
    """A passage's source from its manual's visibility (search never returns hidden manuals)."""
    return "verified" if visibility == ManualVisibility.shared else "household"


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


class DuplicateOf(Out):
    """The existing manual an upload matched by manufacturer + model number + type + version only (other
    bytes and other text): your file was kept; this one is shown for comparison."""

    id: uuid.UUID
    title: str | None
    source: ManualSource = Field(description=SOURCE_DESCRIPTION)
    provenance: ManualProvenance


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
    visibility: ManualVisibility = Field(
        description="`household`: visible to and linked in `home_id` only; `shared`: the shared library, "
        "linked into every matching home; `hidden` (support staff only)."
    )
    provenance: ManualProvenance = Field(description="Who put it into the library.")
    home_id: uuid.UUID | None = Field(description="The home a household upload belongs to.")
    verified_at: datetime | None
    duplicate_level: DuplicateLevel | None = Field(
        default=None,
        description="On upload: `file_hash` / `content_hash` — this is the existing manual (nothing new was "
        "stored, answered 200); `composite` — your file was stored (201) although a manual with the same "
        "manufacturer, model number, type and version exists (`duplicate_of`).",
    )
    duplicate_of: DuplicateOf | None = None

    @computed_field(description=SOURCE_DESCRIPTION)  # type: ignore[prop-decorator]
    @property
    def source(self) -> ManualSource:
        return "verified" if self.verified_at is not None else "household"

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
    source: ManualSource = Field(description=SOURCE_DESCRIPTION)


class ReportIn(StrictIn):
    reason: Annotated[str, StringConstraints(min_length=3, max_length=2000, strip_whitespace=True)] = Field(
        description="What is wrong with the manual (wrong model, unsafe advice, a scam …)."
    )


class ReportOut(Out):
    id: uuid.UUID
    manual_id: uuid.UUID
    user_id: uuid.UUID
    reason: str
    status: ReportStatus
    created_at: datetime
    resolved_at: datetime | None


class HideIn(StrictIn):
    reason: Annotated[str, StringConstraints(min_length=3, max_length=2000, strip_whitespace=True)]


class QueueItem(Out):
    """A manual waiting for a moderator: an unverified household upload, or a shared manual with open reports."""

    manual: ManualOut
    link_count: int = Field(description="Devices linked to it (in every home).")
    open_reports: int
    last_reported_at: datetime | None
    reports: list[ReportOut] = Field(description="Its most recent reports (up to 5).")


class TrustedSourceIn(StrictIn):
    note: Annotated[str, StringConstraints(max_length=500, strip_whitespace=True)] | None = None


class TrustedSourceOut(Out):
    organization_id: uuid.UUID
    granted_by: uuid.UUID | None
    note: str | None
    created_at: datetime


class SearchOut(Out):
    query: str
    mode: Literal["fulltext", "hybrid"]
    note: str | None = None
    items: list[SearchHit]


__all__ = [
    "DeviceManualOut",
    "DuplicateOf",
    "HideIn",
    "ManualMeta",
    "ManualOut",
    "ManualSource",
    "QueueItem",
    "ReportIn",
    "ReportOut",
    "SearchHit",
    "SearchOut",
    "TrustedSourceIn",
    "TrustedSourceOut",
    "source_of",
]

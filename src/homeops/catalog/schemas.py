from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import EmailStr, Field, StringConstraints

from homeops.catalog.models import IntervalUnit, ProblemFrequency, ProblemSeverity
from homeops.core.schemas import JsonList, JsonObject, Money, NonNull, Out, StrictIn

Str255 = Annotated[str, StringConstraints(min_length=1, max_length=255, strip_whitespace=True)]
Str500 = Annotated[str, StringConstraints(max_length=500)]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
Year = Annotated[int, Field(ge=1850, le=2100)]
Specs = JsonObject
TextList = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=200)]], Field(max_length=100)
]


class CategoryOut(Out):
    code: str
    parent_code: str | None
    label: str
    domain: str


class ManufacturerIn(StrictIn):
    name: Str255
    website: Str500 | None = None
    support_phone: Annotated[str, StringConstraints(max_length=50)] | None = None
    support_email: EmailStr | None = None
    headquarters_location: Str500 | None = None
    metadata: JsonObject = Field(default_factory=dict)


class ManufacturerPatch(StrictIn):
    name: NonNull[Str255] = None
    website: Str500 | None = None
    support_phone: Annotated[str, StringConstraints(max_length=50)] | None = None
    support_email: EmailStr | None = None
    headquarters_location: Str500 | None = None
    metadata: JsonObject | None = None


class ManufacturerOut(Out):
    id: uuid.UUID
    name: str
    website: str | None
    support_phone: str | None
    support_email: str | None
    headquarters_location: str | None
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    created_at: datetime
    updated_at: datetime


class ModelIn(StrictIn):
    manufacturer_id: uuid.UUID | None = None
    manufacturer: Str255 | None = Field(default=None, description="Manufacturer name (created if new)")
    model_number: Str255
    product_name: Str500 | None = None
    category: Code
    electrical_specs: Specs = Field(default_factory=dict)
    pressure_specs: Specs = Field(default_factory=dict)
    temperature_specs: Specs = Field(default_factory=dict)
    flow_specs: Specs = Field(default_factory=dict)
    physical_specs: Specs = Field(default_factory=dict)
    capabilities: Specs = Field(default_factory=dict)
    year_introduced: Year | None = None
    year_discontinued: Year | None = None
    replacement_model_id: uuid.UUID | None = None
    maintenance_notes: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    data_source: Str500 | None = None
    confidence_score: Annotated[float, Field(ge=0, le=1)] = 1.0


class ModelPatch(StrictIn):
    product_name: Str500 | None = None
    category: NonNull[Code] = None
    electrical_specs: Specs | None = None
    pressure_specs: Specs | None = None
    temperature_specs: Specs | None = None
    flow_specs: Specs | None = None
    physical_specs: Specs | None = None
    capabilities: Specs | None = None
    year_introduced: Year | None = None
    year_discontinued: Year | None = None
    replacement_model_id: uuid.UUID | None = None
    maintenance_notes: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    data_source: Str500 | None = None
    confidence_score: Annotated[float, Field(ge=0, le=1)] | None = None


class ProblemIn(StrictIn):
    problem_description: Annotated[str, StringConstraints(min_length=1, max_length=5000)]
    symptoms: TextList = Field(default_factory=list)
    error_codes: TextList = Field(default_factory=list)
    root_cause: Annotated[str, StringConstraints(max_length=5000)] | None = None
    solution: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    severity: ProblemSeverity
    frequency: ProblemFrequency
    typical_age_range: Annotated[str, StringConstraints(max_length=50)] | None = None
    related_parts: TextList = Field(default_factory=list)
    estimated_repair_cost: Annotated[str, StringConstraints(max_length=50)] | None = None
    data_sources: TextList = Field(default_factory=list)


class ProblemOut(Out):
    id: uuid.UUID
    model_id: uuid.UUID
    problem_description: str
    symptoms: list[str]
    error_codes: list[str]
    root_cause: str | None
    solution: str | None
    severity: ProblemSeverity
    frequency: ProblemFrequency
    typical_age_range: str | None
    related_parts: list[str]
    estimated_repair_cost: str | None
    data_sources: list[str]
    created_at: datetime


class TemplateIn(StrictIn):
    task_name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    interval: Annotated[int, Field(ge=1, le=1000)]
    interval_unit: IntervalUnit
    parts: Annotated[JsonList, Field(max_length=100)] = Field(default_factory=list)
    estimated_cost: Annotated[Decimal, Money(1_000_000)] | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None


class TemplateOut(Out):
    id: uuid.UUID
    model_id: uuid.UUID
    task_name: str
    interval: int
    interval_unit: IntervalUnit
    parts: list[Any]
    estimated_cost: Decimal | None
    notes: str | None


class ModelOut(Out):
    id: uuid.UUID
    manufacturer_id: uuid.UUID
    manufacturer: str
    model_number: str
    product_name: str | None
    category: str
    electrical_specs: Specs
    pressure_specs: Specs
    temperature_specs: Specs
    flow_specs: Specs
    physical_specs: Specs
    capabilities: Specs
    year_introduced: int | None
    year_discontinued: int | None
    replacement_model_id: uuid.UUID | None
    maintenance_notes: str | None
    data_source: str | None
    confidence_score: float
    created_at: datetime
    updated_at: datetime


class ModelDetailOut(ModelOut):
    problems: list[ProblemOut]
    maintenance_templates: list[TemplateOut]


class EcosystemOut(Out):
    id: uuid.UUID
    name: str
    vendor: str | None
    protocol: str | None
    auth_type: str | None

"""Request and response bodies of the marketplace API (inputs are ``StrictIn``: unknown fields are errors)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from homeops.core.schemas import Money as Amount
from homeops.core.schemas import Out, Rounded, StrictIn, amounts_error, date_order_error, needs, together
from homeops.marketplace.models import (
    ChatMessageType,
    ChatSide,
    PaymentStatus,
    PreferredProviderType,
    ProjectStatus,
    PropertyType,
    ProviderType,
    QuoteStatus,
    RequestStatus,
    RiskLevel,
    Satisfaction,
    Urgency,
)

ServiceCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,49}$")]
Title = Annotated[str, StringConstraints(min_length=1, max_length=255, strip_whitespace=True)]
Name100 = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=10_000, strip_whitespace=True)]
Note = Annotated[str, StringConstraints(min_length=1, max_length=5_000, strip_whitespace=True)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()./-]{5,32}$", max_length=32)]
Money = Annotated[Decimal, Amount(10_000_000_000)]
PositiveMoney = Annotated[Decimal, Rounded(2, 0, Decimal("9999999999.99"), exclusive_minimum=True)]
Stars = Annotated[int, Field(ge=1, le=5)]
Latitude = Annotated[Decimal, Rounded(6, -90, 90)]
Longitude = Annotated[Decimal, Rounded(6, -180, 180)]


# --- providers ---------------------------------------------------------------------------------------------


class CoverageArea(StrictIn):
    """A city the provider serves, and optionally only some of its districts (none listed: the whole city)."""

    city: Name100
    districts: Annotated[list[Name100], Field(max_length=100)] = Field(default_factory=list)


class Certification(StrictIn):
    name: Title
    issuer: Title | None = None
    number: Annotated[str, StringConstraints(max_length=100)] | None = None
    issue_date: date | None = None
    expiry_date: date | None = None

    @model_validator(mode="after")
    def _dates(self) -> Certification:
        if self.issue_date and self.expiry_date and self.expiry_date < self.issue_date:
            raise date_order_error("expiry_date is before issue_date")
        return self


class GeoPoint(StrictIn):
    latitude: Latitude
    longitude: Longitude


class ProviderIn(StrictIn):
    """``PUT /providers/me``: the whole editable profile (what is left out is cleared)."""

    model_config = ConfigDict(json_schema_extra=together("service_center", "service_radius_km"))

    provider_type: ProviderType
    business_name: Title
    description: LongText | None = None
    services_offered: Annotated[
        list[ServiceCode], Field(min_length=1, max_length=20, json_schema_extra={"uniqueItems": True})
    ]
    coverage_areas: Annotated[list[CoverageArea], Field(max_length=50)] = Field(default_factory=list)
    certifications: Annotated[list[Certification], Field(max_length=30)] = Field(default_factory=list)
    license_number: (
        Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)] | None
    ) = None
    years_of_experience: Annotated[int, Field(ge=0, le=80)] | None = None
    service_center: GeoPoint | None = None
    service_radius_km: Annotated[Decimal, Rounded(1, 0, 500, exclusive_minimum=True)] | None = None
    contact_phone: Phone | None = None
    website: Annotated[str, StringConstraints(pattern=r"^https?://\S{3,490}$")] | None = None
    organization_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _center_and_radius(self) -> ProviderIn:
        if (self.service_center is None) != (self.service_radius_km is None):
            raise ValueError("service_center and service_radius_km go together")
        if len(set(self.services_offered)) != len(self.services_offered):
            raise ValueError("services_offered lists a service twice")
        return self


class CertificationOut(Out):
    name: str
    issuer: str | None = None
    number: str | None = None
    issue_date: date | None = None
    expiry_date: date | None = None
    valid: bool


class ProviderCardOut(Out):
    """A provider in search results and next to its quotes."""

    id: uuid.UUID
    provider_type: ProviderType
    business_name: str
    description: str | None
    services_offered: list[str]
    coverage_areas: list[dict[str, Any]]
    years_of_experience: int | None
    average_rating: Decimal
    total_ratings: int
    total_projects: int
    completion_rate: Decimal
    response_time_hours: Decimal | None
    is_verified: bool
    is_featured: bool


class ProviderOut(ProviderCardOut):
    user_id: uuid.UUID
    organization_id: uuid.UUID | None
    certifications: list[CertificationOut]
    license_number: str | None
    service_center: GeoPoint | None
    service_radius_km: Decimal | None
    contact_phone: str | None
    website: str | None
    verified_at: datetime | None
    created_at: datetime
    updated_at: datetime


class VerifyIn(StrictIn):
    verified: bool = True


class FeatureIn(StrictIn):
    featured: bool = True


class ServiceCategoryOut(Out):
    code: str
    name: str
    description: str | None


class PortfolioPatch(StrictIn):
    title: Title | None = None
    description: LongText | None = None
    project_type: ServiceCode | None = None
    project_date: date | None = None
    location: Title | None = None
    display_order: Annotated[int, Field(ge=0, le=1000)] | None = None
    is_featured: bool | None = None


class PortfolioImageOut(Out):
    index: int
    caption: str | None
    content_type: str
    width: int | None
    height: int | None
    size: int


class PortfolioItemOut(Out):
    id: uuid.UUID
    provider_id: uuid.UUID
    title: str
    description: str | None
    project_type: str | None
    images: list[PortfolioImageOut]
    project_date: date | None
    location: str | None
    display_order: int
    is_featured: bool
    created_at: datetime
    updated_at: datetime


# --- diagnostics -------------------------------------------------------------------------------------------


class DiagnosticOut(Out):
    id: uuid.UUID
    home_id: uuid.UUID | None
    device_id: uuid.UUID | None
    image_available: bool
    image_metadata: dict[str, Any]
    image_deleted_at: datetime | None
    description: str | None
    category_hint: str | None
    risk_level: RiskLevel
    problem_category: str
    problem_subcategory: str | None
    probable_cause: str
    risk_prediction: str
    recommended_action: str
    ai_confidence_score: Decimal
    ai_model_version: str | None
    processing_time_ms: int | None
    is_diy_possible: bool
    diy_advice: str | None
    estimated_cost_range: str | None
    urgency_level: Urgency | None
    explanation: dict[str, Any]
    warning: str | None
    created_at: datetime


# --- requests ----------------------------------------------------------------------------------------------


class ServiceRequestIn(StrictIn):
    # Devices belong to a home: listing any needs ``home_id`` (stated in the schema, not only in the validator).
    model_config = ConfigDict(json_schema_extra=needs("device_ids", "home_id", non_empty=True))

    problem_title: Title
    problem_description: LongText
    problem_category: ServiceCode
    diagnostic_id: uuid.UUID | None = None
    home_id: uuid.UUID | None = None
    device_ids: Annotated[list[uuid.UUID], Field(max_length=20, json_schema_extra={"uniqueItems": True})] = (
        Field(default_factory=list)
    )
    property_address: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None
    city: Name100 | None = None
    district: Name100 | None = None
    location: GeoPoint | None = None
    property_type: PropertyType | None = None
    preferred_provider_type: PreferredProviderType = PreferredProviderType.any
    preferred_service_date: date | None = None
    contact_name: Title | None = None
    contact_phone: Phone | None = None

    @model_validator(mode="after")
    def _devices_need_a_home(self) -> ServiceRequestIn:
        if self.device_ids and self.home_id is None:
            raise ValueError("device_ids need home_id")
        if len(set(self.device_ids)) != len(self.device_ids):
            raise ValueError("device_ids lists a device twice")
        return self


class CancelIn(StrictIn):
    reason: Annotated[str, StringConstraints(max_length=2000, strip_whitespace=True)] | None = None


class RequestImageOut(Out):
    index: int
    content_type: str
    size: int
    width: int | None = None
    height: int | None = None


class ServiceRequestOut(Out):
    """The requester's view (and the selected provider's: the same row, with the contact details)."""

    id: uuid.UUID
    requester_id: uuid.UUID
    diagnostic_id: uuid.UUID | None
    home_id: uuid.UUID | None
    device_ids: list[uuid.UUID]
    devices: list[dict[str, Any]]
    problem_title: str
    problem_description: str
    problem_category: str
    diagnostic_summary: dict[str, Any] | None
    images: list[RequestImageOut]
    preferred_provider_type: PreferredProviderType
    preferred_service_date: date | None
    property_type: PropertyType | None
    city: str
    district: str | None
    location: GeoPoint | None
    property_address: str | None
    contact_name: str | None
    contact_phone: str | None
    status: RequestStatus
    selected_quote_id: uuid.UUID | None
    selected_provider_id: uuid.UUID | None
    selected_at: datetime | None
    cancelled_at: datetime | None
    cancellation_reason: str | None
    quotes_count: int
    views_count: int
    expires_at: datetime
    created_at: datetime
    updated_at: datetime


class ProviderRequestOut(Out):
    """What a provider sees of a request: never the owner's contact details unless it was selected."""

    id: uuid.UUID
    problem_title: str
    problem_description: str
    problem_category: str
    diagnostic_summary: dict[str, Any] | None
    devices: list[dict[str, Any]]
    images: list[RequestImageOut]
    preferred_provider_type: PreferredProviderType
    preferred_service_date: date | None
    property_type: PropertyType | None
    city: str
    district: str | None
    approx_location: GeoPoint | None
    status: RequestStatus
    quotes_count: int
    expires_at: datetime
    created_at: datetime
    my_quote_id: uuid.UUID | None
    my_quote_status: QuoteStatus | None
    selected: bool
    contact_name: str | None
    contact_phone: str | None
    property_address: str | None


# --- quotes ------------------------------------------------------------------------------------------------


class BreakdownLine(StrictIn):
    category: Literal["labor", "materials", "equipment", "other"]
    description: Title
    quantity: Annotated[Decimal, Rounded(3, 0, 1_000_000, exclusive_minimum=True)] | None = None
    unit_price: Money | None = None
    hours: Annotated[Decimal, Rounded(2, 0, 10_000, exclusive_minimum=True)] | None = None
    amount: Money

    @model_validator(mode="after")
    def _line_total(self) -> BreakdownLine:
        if self.quantity is not None and self.unit_price is not None:
            expected = (self.quantity * self.unit_price).quantize(Decimal("0.01"))
            if expected != self.amount:
                raise amounts_error(
                    f"{self.description}: quantity × unit_price is {expected}, not {self.amount}"
                )
        return self


class BreakdownTax(StrictIn):
    rate: Annotated[Decimal, Rounded(2, 0, 100)] | None = None
    amount: Money


class CostBreakdown(StrictIn):
    """Itemised lines plus an optional tax; they must add up to ``total`` (and ``total`` to the quote)."""

    items: Annotated[list[BreakdownLine], Field(min_length=1, max_length=100)]
    tax: BreakdownTax | None = None
    total: PositiveMoney

    @model_validator(mode="after")
    def _adds_up(self) -> CostBreakdown:
        subtotal = sum((line.amount for line in self.items), Decimal(0))
        if self.tax is not None and self.tax.rate is not None:
            expected_tax = (subtotal * self.tax.rate / 100).quantize(Decimal("0.01"))
            if abs(expected_tax - self.tax.amount) > Decimal("0.01"):
                raise amounts_error(
                    f"tax at {self.tax.rate}% of {subtotal} is {expected_tax}, not {self.tax.amount}"
                )
        computed = subtotal + (self.tax.amount if self.tax else Decimal(0))
        if computed != self.total:
            raise amounts_error(f"the lines add up to {computed}, not to the total {self.total}")
        return self


class QuoteIn(StrictIn):
    estimated_cost: PositiveMoney
    cost_breakdown: CostBreakdown
    estimated_duration_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    warranty_period_months: Annotated[int, Field(ge=0, le=240)] | None = None
    proposed_solution: LongText | None = None
    technical_assessment: LongText | None = None
    materials_included: bool = True
    terms_and_conditions: LongText | None = None
    provider_id: uuid.UUID | None = Field(
        default=None, description="Quote for this company profile (you are a member); default: your own"
    )

    @model_validator(mode="after")
    def _total_is_the_cost(self) -> QuoteIn:
        if self.cost_breakdown.total != self.estimated_cost:
            raise amounts_error("cost_breakdown.total must equal estimated_cost")
        return self


class RejectIn(StrictIn):
    reason: Annotated[str, StringConstraints(max_length=2000, strip_whitespace=True)] | None = None


class QuoteOut(Out):
    id: uuid.UUID
    request_id: uuid.UUID
    provider_id: uuid.UUID
    provider: ProviderCardOut | None
    estimated_cost: Decimal
    cost_breakdown: dict[str, Any]
    estimated_duration_days: int | None
    technical_assessment: str | None
    proposed_solution: str | None
    materials_included: bool
    warranty_period_months: int | None
    terms_and_conditions: str | None
    validity_period_days: int
    status: QuoteStatus
    rejection_reason: str | None
    submitted_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    rejected_at: datetime | None
    withdrawn_at: datetime | None


# --- projects ----------------------------------------------------------------------------------------------


class ProjectStatusIn(StrictIn):
    status: ProjectStatus
    actual_cost: Money | None = None
    cost_difference_reason: Note | None = None
    note: Note | None = Field(default=None, description="Why (cancel, dispute) or the admin's resolution")


class ProjectPatch(StrictIn):
    scheduled_start_date: date | None = None
    scheduled_end_date: date | None = None
    payment_status: PaymentStatus | None = None
    citizen_satisfaction: Satisfaction | None = None


class WorkNoteIn(StrictIn):
    note: Note


class ProjectFileOut(Out):
    index: int
    caption: str | None
    content_type: str
    size: int
    uploaded_at: datetime | None = None


class WorkNoteOut(Out):
    timestamp: datetime
    author: Literal["requester", "provider", "admin"]
    author_id: uuid.UUID | None
    note: str
    images: list[int] = Field(default_factory=list)


class ProjectOut(Out):
    id: uuid.UUID
    request_id: uuid.UUID
    quote_id: uuid.UUID
    requester_id: uuid.UUID
    provider_id: uuid.UUID
    provider: ProviderCardOut | None
    home_id: uuid.UUID | None
    device_ids: list[uuid.UUID]
    project_title: str
    project_description: str | None
    status: ProjectStatus
    scheduled_start_date: date | None
    actual_start_date: date | None
    scheduled_end_date: date | None
    actual_completion_date: date | None
    agreed_cost: Decimal
    actual_cost: Decimal | None
    cost_difference_reason: str | None
    payment_status: PaymentStatus
    work_notes: list[WorkNoteOut]
    before_images: list[ProjectFileOut]
    during_images: list[ProjectFileOut]
    after_images: list[ProjectFileOut]
    documents: list[ProjectFileOut]
    warranty_months: int | None
    warranty_start_date: date | None
    warranty_end_date: date | None
    citizen_satisfaction: Satisfaction | None
    dispute_reason: str | None
    dispute_resolution: str | None
    cancellation_reason: str | None
    service_events: list[dict[str, Any]]
    my_side: Literal["requester", "provider", "admin"]
    rating_id: uuid.UUID | None = None
    created_at: datetime
    updated_at: datetime


# --- ratings -----------------------------------------------------------------------------------------------


class RatingIn(StrictIn):
    overall_rating: Stars
    quality_rating: Stars
    timeliness_rating: Stars
    professionalism_rating: Stars
    value_rating: Stars
    communication_rating: Stars
    review_title: Title | None = None
    review_text: LongText | None = None
    would_recommend: bool | None = None


class RatingPatch(StrictIn):
    overall_rating: Stars | None = None
    quality_rating: Stars | None = None
    timeliness_rating: Stars | None = None
    professionalism_rating: Stars | None = None
    value_rating: Stars | None = None
    communication_rating: Stars | None = None
    review_title: Title | None = None
    review_text: LongText | None = None
    would_recommend: bool | None = None


class ResponseIn(StrictIn):
    text: Note


class HelpfulIn(StrictIn):
    helpful: bool = True


class RatingOut(Out):
    id: uuid.UUID
    project_id: uuid.UUID
    provider_id: uuid.UUID
    reviewer_name: str
    overall_rating: int
    quality_rating: int
    timeliness_rating: int
    professionalism_rating: int
    value_rating: int
    communication_rating: int
    review_title: str | None
    review_text: str | None
    would_recommend: bool | None
    response_from_provider: str | None
    response_at: datetime | None
    is_verified: bool
    is_featured: bool
    helpful_count: int
    editable_until: datetime
    created_at: datetime
    updated_at: datetime


class ReviewTrendPoint(Out):
    """One calendar month (UTC) of a provider's ratings."""

    month: date
    count: int
    average: Decimal


class ReviewSummaryOut(Out):
    """A provider's rating distribution (5★ … 1★), average per dimension, and the trend over the last twelve
    months (months without ratings are left out)."""

    total: int
    distribution: dict[str, int]
    averages: dict[str, Decimal | None]
    would_recommend_pct: Decimal | None
    trend: list[ReviewTrendPoint]


# --- chat --------------------------------------------------------------------------------------------------


class ChatSendIn(StrictIn):
    text: Note
    reply_to_message_id: uuid.UUID | None = None


class ChatReadIn(StrictIn):
    up_to_message_id: uuid.UUID | None = Field(
        default=None, description="Mark read up to this message (default: everything)"
    )


class ChatAttachmentOut(Out):
    index: int
    file_name: str
    content_type: str
    size: int


class ChatMessageOut(Out):
    id: uuid.UUID
    project_id: uuid.UUID
    sender_id: uuid.UUID | None
    receiver_id: uuid.UUID | None
    sender_side: ChatSide
    mine: bool
    message_text: str | None
    message_type: ChatMessageType
    system_event: dict[str, Any] | None = Field(
        description=(
            "What a system message says happened, for clients that render it in their own language"
            " (message_text is its English rendering). Null for other messages and for system messages"
            " written before this field existed (show their message_text). Codes:"
            ' {"code": "status_changed", "by": "requester" | "provider" | "system" (an admin),'
            ' "from": <project status>, "to": <project status>, "note": <optional text, as typed>};'
            ' {"code": "quote_accepted", "cost": <decimal string, two places; the platform stores no'
            " currency>}. New codes may come: show message_text for a code you do not know."
        ),
    )
    attachments: list[ChatAttachmentOut]
    reply_to_message_id: uuid.UUID | None
    is_read: bool
    read_at: datetime | None
    created_at: datetime


class UnreadOut(Out):
    project_id: uuid.UUID
    unread: int


class ReadOut(Out):
    marked: int

"""Request and response bodies of troubleshooting sessions and service tickets."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from homeops.catalog.models import ProblemFrequency, ProblemSeverity
from homeops.core.schemas import NonNull, Out, StrictIn
from homeops.manuals.schemas import SOURCE_DESCRIPTION, ManualSource
from homeops.troubleshooting.models import Priority, SessionStatus, TicketStatus

MAX_SYMPTOMS = 20
MAX_ERROR_CODES = 20
SYMPTOM_MAX_CHARS = 200
ERROR_CODE_MAX_CHARS = 50


def normalise_symptoms(values: list[str]) -> list[str]:
    """Trimmed, inner whitespace collapsed, lower-cased, empty entries dropped, de-duplicated in order."""
    return _unique(" ".join(v.split()).lower() for v in values)


def normalise_error_codes(values: list[str]) -> list[str]:
    """Trimmed, inner whitespace removed, upper-cased, empty entries dropped, de-duplicated in order."""
    return _unique("".join(v.split()).upper() for v in values)


def _unique(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        if value and value not in out:
            out.append(value)
    return out


Symptoms = Annotated[
    list[Annotated[str, StringConstraints(max_length=SYMPTOM_MAX_CHARS)]],
    Field(max_length=MAX_SYMPTOMS),
    AfterValidator(normalise_symptoms),
]
ErrorCodes = Annotated[
    list[Annotated[str, StringConstraints(max_length=ERROR_CODE_MAX_CHARS)]],
    Field(max_length=MAX_ERROR_CODES),
    AfterValidator(normalise_error_codes),
]
Summary = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
LongText = Annotated[str, StringConstraints(max_length=5000)]


# --- sessions -----------------------------------------------------------------------------------------
class SessionIn(StrictIn):
    device_id: uuid.UUID
    issue_summary: Summary
    symptoms: Symptoms = Field(default_factory=list)
    error_codes: ErrorCodes = Field(default_factory=list)


class MessageIn(StrictIn):
    content: Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class SessionPatch(StrictIn):
    status: NonNull[SessionStatus] = None
    resolution: LongText | None = None
    user_satisfaction: Annotated[int, Field(ge=1, le=5)] | None = None


class EscalateIn(StrictIn):
    priority: Priority | None = Field(
        default=None,
        description="Default: from the best-matching problem's severity (critical → urgent), else medium",
    )


class ProblemSuggestion(Out):
    problem_id: uuid.UUID
    problem_description: str
    root_cause: str | None
    solution: str | None
    severity: ProblemSeverity
    frequency: ProblemFrequency
    estimated_repair_cost: str | None
    score: float
    matched_symptoms: list[str]
    matched_error_codes: list[str]
    why: str


class PassageSuggestion(Out):
    manual_id: uuid.UUID
    title: str
    page: int
    snippet: str
    score: float
    source: ManualSource | None = Field(default=None, description=SOURCE_DESCRIPTION)


class Suggestions(Out):
    model_id: uuid.UUID | None = None
    problems: list[ProblemSuggestion] = Field(default_factory=list)
    passages: list[PassageSuggestion] = Field(default_factory=list)
    generated_at: datetime | None = None


class Citation(Out):
    manual_id: uuid.UUID
    page: int
    source: ManualSource | None = Field(default=None, description=SOURCE_DESCRIPTION)


class Turn(Out):
    role: Literal["user", "assistant", "system"]
    content: str
    at: datetime
    problem_ids: list[uuid.UUID] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)


class SessionSummaryOut(Out):
    """A row of the history search (seed 000 Query 5): the session with its device's nickname and model."""

    id: uuid.UUID
    user_id: uuid.UUID
    device_id: uuid.UUID
    home_id: uuid.UUID
    device_nickname: str | None = None
    model_number: str | None = None
    issue_summary: str
    symptoms: list[str]
    error_codes: list[str]
    status: SessionStatus
    resolution: str | None
    resolved_at: datetime | None
    user_satisfaction: int | None
    created_at: datetime
    updated_at: datetime


class SessionOut(SessionSummaryOut):
    conversation: list[Turn]
    suggestions: Suggestions


# --- tickets ------------------------------------------------------------------------------------------
class TicketIn(StrictIn):
    device_id: uuid.UUID
    summary: Summary
    symptoms: Symptoms = Field(default_factory=list)
    error_codes: ErrorCodes = Field(default_factory=list)
    priority: Priority = Priority.medium


class TicketPatch(StrictIn):
    status: NonNull[TicketStatus] = None
    priority: NonNull[Priority] = None
    assigned_to: uuid.UUID | None = Field(
        default=None, description="A support or technician user; null unassigns"
    )
    resolution: LongText | None = None


class TicketOut(Out):
    id: uuid.UUID
    user_id: uuid.UUID
    device_id: uuid.UUID
    home_id: uuid.UUID
    session_id: uuid.UUID | None
    status: TicketStatus
    priority: Priority
    summary: str
    symptoms: list[str]
    error_codes: list[str]
    assigned_to: uuid.UUID | None
    resolution: str | None
    resolved_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime

"""Request and response bodies of the support assistant (seed 003)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, ConfigDict, Field, StringConstraints, model_validator

from homeops.assistant.models import ComplaintStatus, MediaType, MessageType, ProcessingStatus
from homeops.core.schemas import Out, StrictIn, at_most_one_of
from homeops.troubleshooting.models import Priority

Title = Annotated[str, StringConstraints(min_length=1, max_length=255, strip_whitespace=True)]
MessageText = Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True)]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=10_000, strip_whitespace=True)]
Category = Annotated[str, StringConstraints(min_length=1, max_length=50, strip_whitespace=True)]

_META = AliasChoices("metadata_", "metadata")  # ORM attribute, or a dumped model
TranscriptionStatus = Literal["pending", "completed", "unavailable", "failed"]


# --- chat ---------------------------------------------------------------------------------------------
class SessionIn(StrictIn):
    title: Title | None = None
    device_id: uuid.UUID | None = None


class SessionOut(Out):
    id: uuid.UUID
    title: str | None
    device_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    last_activity: datetime | None
    metadata: dict[str, Any] = Field(validation_alias=_META)


class MessageIn(StrictIn):
    content: MessageText


class MessageOut(Out):
    id: uuid.UUID
    session_id: uuid.UUID
    message_type: MessageType
    content: str
    created_at: datetime
    metadata: dict[str, Any] = Field(
        validation_alias=_META,
        description="Assistant replies: citations [{manual_id, title, page, snippet}], problems, responder.",
    )


class SessionDetailOut(SessionOut):
    messages: list[MessageOut] = Field(description="Oldest first.")


class ExchangeOut(Out):
    """A posted message and the assistant's reply to it."""

    user_message: MessageOut
    assistant_message: MessageOut


# --- documents and media ------------------------------------------------------------------------------
class DocumentOut(Out):
    id: uuid.UUID
    filename: str
    file_type: str
    file_size: int
    bucket_name: str
    upload_date: datetime
    last_accessed: datetime | None
    processing_status: ProcessingStatus
    metadata: dict[str, Any] = Field(validation_alias=_META)


class MediaOut(Out):
    id: uuid.UUID
    filename: str
    media_type: MediaType
    content_type: str
    file_size: int
    duration: int | None = Field(description="Seconds, when it could be determined.")
    bucket_name: str
    upload_date: datetime
    processing_status: ProcessingStatus
    metadata: dict[str, Any] = Field(validation_alias=_META)
    transcription_status: TranscriptionStatus = Field(
        default="pending",
        description="`unavailable` when no transcriber is installed (see metadata.reason).",
    )

    @model_validator(mode="after")
    def _transcription(self) -> MediaOut:
        if self.processing_status in (ProcessingStatus.pending, ProcessingStatus.processing):
            self.transcription_status = "pending"
        else:
            state = self.metadata.get("transcript")
            self.transcription_status = state if state in ("completed", "unavailable", "failed") else "failed"
        return self


class TranscriptionOut(Out):
    id: uuid.UUID
    media_id: uuid.UUID
    content: str
    language: str
    confidence_score: float | None
    created_at: datetime
    metadata: dict[str, Any] = Field(validation_alias=_META)


# --- complaints -----------------------------------------------------------------------------------------
class ComplaintIn(StrictIn):
    title: Title
    description: LongText
    category: Category | None = None
    priority: Priority | None = Field(default=None, description="Derived from the sentiment when omitted.")
    device_id: uuid.UUID | None = None


class ComplaintPatch(StrictIn):
    status: ComplaintStatus


class ComplaintOut(Out):
    id: uuid.UUID
    user_id: uuid.UUID
    device_id: uuid.UUID | None
    title: str
    description: str
    category: str | None
    priority: Priority
    status: ComplaintStatus
    sentiment_score: float | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    metadata: dict[str, Any] = Field(validation_alias=_META)


# --- product queries ------------------------------------------------------------------------------------
class ProductQueryIn(StrictIn):
    model_config = ConfigDict(json_schema_extra=at_most_one_of("model_id", "product_id"))
    query_text: MessageText
    model_id: uuid.UUID | None = None
    product_id: (
        Annotated[str, StringConstraints(min_length=1, max_length=50, strip_whitespace=True)] | None
    ) = Field(default=None, description="A free-text product reference, e.g. a model number.")

    @model_validator(mode="after")
    def _one_reference(self) -> ProductQueryIn:
        if self.model_id and self.product_id:
            raise ValueError("give model_id or product_id, not both")
        return self


class ProductQueryOut(Out):
    id: uuid.UUID
    model_id: uuid.UUID | None
    product_id: str | None
    query_text: str
    response_text: str | None
    created_at: datetime
    metadata: dict[str, Any] = Field(validation_alias=_META)

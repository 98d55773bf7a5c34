"""The support assistant (seed 003): chat sessions and messages, documents and media in object storage,
transcriptions, complaints and product queries."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from homeops.core.models import Base, TimestampMixin, pg_enum, uuid_pk
from homeops.troubleshooting.models import Priority


class MessageType(enum.StrEnum):
    user = "user"
    assistant = "assistant"
    system = "system"


class ProcessingStatus(enum.StrEnum):
    pending = "pending"
    processing = "processing"
    completed = "completed"
    failed = "failed"


class MediaType(enum.StrEnum):
    audio = "audio"
    video = "video"


class ComplaintStatus(enum.StrEnum):
    new = "new"
    in_progress = "in_progress"
    resolved = "resolved"
    closed = "closed"


processing_status_enum = pg_enum(ProcessingStatus, "processing_status")


# Per-user data: on a cluster every table is sharded by ``user_id`` (first in each key, co-located with
# notifications); children reference their parent by ``(user_id, …)``. A chat or complaint names a device by
# its full key ``(home_id, device_id)`` without a foreign key (devices are sharded by home): see the
# assistant migration.


class ChatSession(TimestampMixin, Base):
    __tablename__ = "chat_sessions"
    __table_args__ = (
        CheckConstraint("(device_id IS NULL) = (home_id IS NULL)", name="device_in_home"),
        Index("ix_chat_sessions_user_created", "user_id", text("created_at DESC")),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    home_id: Mapped[uuid.UUID | None]
    device_id: Mapped[uuid.UUID | None]
    title: Mapped[str | None] = mapped_column(String(255))
    last_activity: Mapped[datetime | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))


class ChatMessage(Base):
    """003 ``messages``. Append-only; keyed by its user and session."""

    __tablename__ = "messages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["user_id", "session_id"], ["chat_sessions.user_id", "chat_sessions.id"], ondelete="CASCADE"
        ),
        Index("uq_messages_user_id_id", "user_id", "id", unique=True),
        Index("ix_messages_session_created", "user_id", "session_id", "created_at"),
        Index("ix_messages_metadata", "metadata", postgresql_using="gin"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    content: Mapped[str] = mapped_column(Text)
    message_type: Mapped[MessageType] = mapped_column(pg_enum(MessageType, "message_type"))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.clock_timestamp())


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_file_type", "file_type"),
        Index("ix_documents_status", "processing_status"),
        Index("ix_documents_metadata", "metadata", postgresql_using="gin"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    filename: Mapped[str] = mapped_column(String(255))
    file_type: Mapped[str] = mapped_column(String(50))
    file_size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(512))  # 003 storage_path; bucket → key prefix
    bucket_name: Mapped[str] = mapped_column(String(100), server_default="documents")
    upload_date: Mapped[datetime] = mapped_column(server_default=func.now())
    last_accessed: Mapped[datetime | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))
    processing_status: Mapped[ProcessingStatus] = mapped_column(
        processing_status_enum, server_default=ProcessingStatus.pending.value
    )


class MediaFile(Base):
    __tablename__ = "media_files"
    __table_args__ = (
        Index("ix_media_files_media_type", "media_type"),
        Index("ix_media_files_status", "processing_status"),
        Index("ix_media_files_metadata", "metadata", postgresql_using="gin"),
        Index("ix_media_files_upload_date", "upload_date"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[MediaType] = mapped_column(pg_enum(MediaType, "media_type"))
    content_type: Mapped[str] = mapped_column(String(100))
    file_size: Mapped[int] = mapped_column(BigInteger)
    duration: Mapped[int | None]  # seconds
    storage_key: Mapped[str] = mapped_column(String(512))
    bucket_name: Mapped[str] = mapped_column(String(100), server_default="media")
    upload_date: Mapped[datetime] = mapped_column(server_default=func.now())
    processing_status: Mapped[ProcessingStatus] = mapped_column(
        pg_enum(ProcessingStatus, "processing_status", create=False),
        server_default=ProcessingStatus.pending.value,
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))


class Transcription(Base):
    __tablename__ = "transcriptions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["user_id", "media_id"], ["media_files.user_id", "media_files.id"], ondelete="CASCADE"
        ),
        Index("ix_transcriptions_media_id", "user_id", "media_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    media_id: Mapped[uuid.UUID]
    content: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(10))
    confidence_score: Mapped[float | None] = mapped_column(Float)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Complaint(TimestampMixin, Base):
    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint("(device_id IS NULL) = (home_id IS NULL)", name="device_in_home"),
        Index("ix_complaints_status", "status"),
        Index("ix_complaints_priority", "priority"),
        Index("ix_complaints_created_at", "created_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    home_id: Mapped[uuid.UUID | None]
    device_id: Mapped[uuid.UUID | None]
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(50))
    priority: Mapped[Priority] = mapped_column(pg_enum(Priority, "priority_level", create=False))
    status: Mapped[ComplaintStatus] = mapped_column(
        pg_enum(ComplaintStatus, "complaint_status"), server_default=ComplaintStatus.new.value
    )
    resolved_at: Mapped[datetime | None]
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))


class ProductQuery(Base):
    __tablename__ = "product_queries"
    __table_args__ = (Index("ix_product_queries_user_created", "user_id", text("created_at DESC")),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = uuid_pk()
    model_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("device_models.id", ondelete="SET NULL"))
    product_id: Mapped[str | None] = mapped_column(String(50))  # 003: free-text product reference
    query_text: Mapped[str] = mapped_column(Text)
    response_text: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

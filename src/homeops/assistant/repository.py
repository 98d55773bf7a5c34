"""Every query of the support assistant. RLS decides visibility (own rows, plus staff); chat, documents,
media and product queries also filter on the owner explicitly because their API is personal."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from homeops.assistant.models import (
    ChatMessage,
    ChatSession,
    Complaint,
    ComplaintStatus,
    Document,
    MediaFile,
    ProcessingStatus,
    ProductQuery,
    Transcription,
)
from homeops.troubleshooting.models import Priority

T = TypeVar("T")
After = tuple[datetime, uuid.UUID] | None


def _page(stmt: Select[Any], ts: Any, row_id: Any, limit: int, after: After) -> Select[Any]:
    """Newest first on (ts, id), ``limit + 1`` rows after the cursor."""
    stmt = stmt.order_by(ts.desc(), row_id.desc()).limit(limit + 1)
    return stmt.where(tuple_(ts, row_id) < tuple_(*after)) if after is not None else stmt


class _Base:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: T) -> T:
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def refresh(self, row: object) -> None:
        await self.session.flush()
        await self.session.refresh(row)


class ChatRepository(_Base):
    async def get(self, session_id: uuid.UUID, user_id: uuid.UUID) -> ChatSession | None:
        return await self.session.scalar(
            select(ChatSession)
            .where(ChatSession.id == session_id, ChatSession.user_id == user_id)
            .execution_options(populate_existing=True)
        )

    async def list(self, user_id: uuid.UUID, limit: int, after: After) -> list[ChatSession]:
        stmt = select(ChatSession).where(ChatSession.user_id == user_id)
        return list(
            await self.session.scalars(_page(stmt, ChatSession.created_at, ChatSession.id, limit, after))
        )

    async def delete(self, session_id: uuid.UUID) -> None:
        await self.session.execute(delete(ChatSession).where(ChatSession.id == session_id))

    async def messages(self, session_id: uuid.UUID) -> list[ChatMessage]:
        return list(
            await self.session.scalars(
                select(ChatMessage)
                .where(ChatMessage.session_id == session_id)
                .order_by(ChatMessage.created_at, ChatMessage.id)
            )
        )

    async def recent(self, session_id: uuid.UUID, count: int) -> list[ChatMessage]:
        """The last ``count`` messages, oldest first."""
        rows = list(
            await self.session.scalars(
                select(ChatMessage)
                .where(ChatMessage.session_id == session_id)
                .order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc())
                .limit(count)
            )
        )
        return rows[::-1]

    async def touch(self, chat: ChatSession, title: str | None) -> None:
        values: dict[str, Any] = {"last_activity": func.clock_timestamp()}
        if title is not None:
            values["title"] = title
        await self.session.execute(update(ChatSession).where(ChatSession.id == chat.id).values(**values))
        await self.session.refresh(chat)


class DocumentRepository(_Base):
    async def get(self, document_id: uuid.UUID, user_id: uuid.UUID) -> Document | None:
        return await self.session.scalar(
            select(Document)
            .where(Document.id == document_id, Document.user_id == user_id)
            .execution_options(populate_existing=True)
        )

    async def list(
        self, user_id: uuid.UUID, status: ProcessingStatus | None, limit: int, after: After
    ) -> list[Document]:
        stmt = select(Document).where(Document.user_id == user_id)
        if status is not None:
            stmt = stmt.where(Document.processing_status == status)
        return list(await self.session.scalars(_page(stmt, Document.upload_date, Document.id, limit, after)))

    async def mark_accessed(self, document: Document) -> None:
        await self.session.execute(
            update(Document).where(Document.id == document.id).values(last_accessed=func.now())
        )
        await self.session.refresh(document)

    async def delete(self, document_id: uuid.UUID) -> None:
        await self.session.execute(delete(Document).where(Document.id == document_id))


class MediaRepository(_Base):
    async def get(self, media_id: uuid.UUID, user_id: uuid.UUID) -> MediaFile | None:
        return await self.session.scalar(
            select(MediaFile)
            .where(MediaFile.id == media_id, MediaFile.user_id == user_id)
            .execution_options(populate_existing=True)
        )

    async def list(
        self, user_id: uuid.UUID, status: ProcessingStatus | None, limit: int, after: After
    ) -> list[MediaFile]:
        stmt = select(MediaFile).where(MediaFile.user_id == user_id)
        if status is not None:
            stmt = stmt.where(MediaFile.processing_status == status)
        return list(
            await self.session.scalars(_page(stmt, MediaFile.upload_date, MediaFile.id, limit, after))
        )

    async def delete(self, media_id: uuid.UUID) -> None:
        await self.session.execute(delete(MediaFile).where(MediaFile.id == media_id))

    async def transcriptions(self, media_id: uuid.UUID) -> list[Transcription]:
        return list(
            await self.session.scalars(
                select(Transcription)
                .where(Transcription.media_id == media_id)
                .order_by(Transcription.created_at, Transcription.id)
            )
        )


class ProcessingRepository(_Base):
    """The worker's side (database owner, no RLS): documents and media by id, status changes."""

    async def document(self, document_id: uuid.UUID) -> Document | None:
        return await self.session.get(Document, document_id, populate_existing=True)

    async def media(self, media_id: uuid.UUID) -> MediaFile | None:
        return await self.session.get(MediaFile, media_id, populate_existing=True)

    async def mark_processing(self, model: type[Document | MediaFile], row_id: uuid.UUID) -> bool:
        """Commits ``processing`` at once, on its own connection, so clients can see it while the job runs;
        False when the row is gone or already finished (nothing to do)."""
        bind = self.session.bind
        assert isinstance(bind, AsyncEngine)
        async with bind.begin() as conn:
            result = await conn.execute(
                update(model)
                .where(
                    model.id == row_id,
                    model.processing_status.in_([ProcessingStatus.pending, ProcessingStatus.processing]),
                )
                .values(processing_status=ProcessingStatus.processing)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def finish(
        self, row: Document | MediaFile, status: ProcessingStatus, metadata: dict[str, Any], **values: Any
    ) -> None:
        row.processing_status = status
        row.metadata_ = {**row.metadata_, **metadata}
        for key, value in values.items():
            setattr(row, key, value)
        await self.session.flush()


class ComplaintRepository(_Base):
    async def get(self, complaint_id: uuid.UUID) -> Complaint | None:
        return await self.session.get(Complaint, complaint_id, populate_existing=True)

    async def list(
        self,
        user_id: uuid.UUID | None,
        status: ComplaintStatus | None,
        priority: Priority | None,
        limit: int,
        after: After,
    ) -> list[Complaint]:
        """``user_id`` None: every complaint RLS shows (staff)."""
        stmt = select(Complaint)
        if user_id is not None:
            stmt = stmt.where(Complaint.user_id == user_id)
        if status is not None:
            stmt = stmt.where(Complaint.status == status)
        if priority is not None:
            stmt = stmt.where(Complaint.priority == priority)
        return list(await self.session.scalars(_page(stmt, Complaint.created_at, Complaint.id, limit, after)))

    async def set_status(self, complaint: Complaint, status: ComplaintStatus) -> None:
        """Sets ``resolved_at`` (database time) when the complaint becomes resolved."""
        values: dict[str, Any] = {"status": status}
        if status is ComplaintStatus.resolved:
            values["resolved_at"] = func.now()
        await self.session.execute(update(Complaint).where(Complaint.id == complaint.id).values(**values))
        await self.session.refresh(complaint)


class ProductQueryRepository(_Base):
    async def get(self, query_id: uuid.UUID, user_id: uuid.UUID) -> ProductQuery | None:
        return await self.session.scalar(
            select(ProductQuery).where(ProductQuery.id == query_id, ProductQuery.user_id == user_id)
        )

    async def list(self, user_id: uuid.UUID, limit: int, after: After) -> list[ProductQuery]:
        stmt = select(ProductQuery).where(ProductQuery.user_id == user_id)
        return list(
            await self.session.scalars(_page(stmt, ProductQuery.created_at, ProductQuery.id, limit, after))
        )

"""Every query of the support assistant. RLS decides visibility (own rows, plus staff); chat, documents,
media and product queries also filter on the owner explicitly because their API is personal."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

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
from homeops.core.repository import Repository, keyset
from homeops.troubleshooting.models import Priority

After = tuple[datetime, uuid.UUID] | None


async def _mine(repo: Repository[Any], object_id: uuid.UUID, user_id: uuid.UUID) -> Any:
    """The caller's own row (these APIs are personal: staff see only theirs too), loaded fresh."""
    model = repo.model
    return await repo.session.scalar(
        select(model).where(model.id == object_id, model.user_id == user_id).execution_options(populate_existing=True)
    )


async def _update_returning(repo: Repository[Any], row_id: uuid.UUID, values: dict[str, Any]) -> None:
    """``UPDATE … SET values … RETURNING`` the row into the loaded entity: one round trip, and the values the
    database computed (its clock) are on the entity afterwards."""
    model = repo.model
    await repo.session.execute(
        update(model).where(model.id == row_id).values(values).returning(model)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


class ChatRepository(Repository[ChatSession]):
    model = ChatSession

    async def mine(self, session_id: uuid.UUID, user_id: uuid.UUID) -> ChatSession | None:
        row: ChatSession | None = await _mine(self, session_id, user_id)
        return row

    async def of_user(self, user_id: uuid.UUID, limit: int, after: After) -> list[ChatSession]:
        stmt = select(ChatSession).where(ChatSession.user_id == user_id)
        return list(await self.session.scalars(keyset(stmt, limit, after, ChatSession.created_at, ChatSession.id)))

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
        """``last_activity`` = the database's clock (after the messages it follows); the title if given."""
        values: dict[str, Any] = {"last_activity": func.clock_timestamp()}
        if title is not None:
            values["title"] = title
        await _update_returning(self, chat.id, values)


class MessageRepository(Repository[ChatMessage]):
    model = ChatMessage


class DocumentRepository(Repository[Document]):
    model = Document

    async def mine(self, document_id: uuid.UUID, user_id: uuid.UUID) -> Document | None:
        row: Document | None = await _mine(self, document_id, user_id)
        return row

    async def of_user(
        self, user_id: uuid.UUID, status: ProcessingStatus | None, limit: int, after: After
    ) -> list[Document]:
        stmt = select(Document).where(Document.user_id == user_id)
        if status is not None:
            stmt = stmt.where(Document.processing_status == status)
        return list(await self.session.scalars(keyset(stmt, limit, after, Document.upload_date, Document.id)))

    async def mark_accessed(self, document: Document) -> None:
        await _update_returning(self, document.id, {"last_accessed": func.now()})


class MediaRepository(Repository[MediaFile]):
    model = MediaFile

    async def mine(self, media_id: uuid.UUID, user_id: uuid.UUID) -> MediaFile | None:
        row: MediaFile | None = await _mine(self, media_id, user_id)
        return row

    async def of_user(
        self, user_id: uuid.UUID, status: ProcessingStatus | None, limit: int, after: After
    ) -> list[MediaFile]:
        stmt = select(MediaFile).where(MediaFile.user_id == user_id)
        if status is not None:
            stmt = stmt.where(MediaFile.processing_status == status)
        return list(await self.session.scalars(keyset(stmt, limit, after, MediaFile.upload_date, MediaFile.id)))

    async def transcriptions(self, media_id: uuid.UUID) -> list[Transcription]:
        return list(
            await self.session.scalars(
                select(Transcription)
                .where(Transcription.media_id == media_id)
                .order_by(Transcription.created_at, Transcription.id)
            )
        )


class ProcessingRepository(Repository[Transcription]):
    """The worker's side (database owner, no RLS): documents and media by id, status changes, and the
    transcriptions it writes (``add``)."""

    model = Transcription

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
        return bool(result.rowcount)

    async def finish(
        self, row: Document | MediaFile, status: ProcessingStatus, metadata: dict[str, Any], **values: Any
    ) -> None:
        row.processing_status = status
        row.metadata_ = {**row.metadata_, **metadata}
        for key, value in values.items():
            setattr(row, key, value)
        await self.session.flush()


class ComplaintRepository(Repository[Complaint]):
    model = Complaint

    async def search(
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
        return list(await self.session.scalars(keyset(stmt, limit, after, Complaint.created_at, Complaint.id)))

    async def set_status(self, complaint: Complaint, status: ComplaintStatus) -> None:
        """Sets ``resolved_at`` (database time) when the complaint becomes resolved (one UPDATE … RETURNING)."""
        values: dict[str, Any] = {"status": status}
        if status is ComplaintStatus.resolved:
            values["resolved_at"] = func.now()
        await _update_returning(self, complaint.id, values)


class ProductQueryRepository(Repository[ProductQuery]):
    model = ProductQuery

    async def mine(self, query_id: uuid.UUID, user_id: uuid.UUID) -> ProductQuery | None:
        row: ProductQuery | None = await _mine(self, query_id, user_id)
        return row

    async def of_user(self, user_id: uuid.UUID, limit: int, after: After) -> list[ProductQuery]:
        stmt = select(ProductQuery).where(ProductQuery.user_id == user_id)
        return list(await self.session.scalars(keyset(stmt, limit, after, ProductQuery.created_at, ProductQuery.id)))

"""Every query of the support assistant. Its tables are per-user (sharded by ``user_id`` on a cluster): each
read and write names the owner, so it reaches one shard; RLS decides visibility (own rows, plus staff). Chat,
documents, media and product queries are personal APIs (staff see only theirs too); complaints are read by
their owner and by staff."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID
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
from homeops.core.database import rows_affected
from homeops.core.repository import Repository, keyset
from homeops.devices.models import Device
from homeops.troubleshooting.models import Priority

After = tuple[datetime, uuid.UUID] | None
DeviceKey = tuple[uuid.UUID, uuid.UUID]  # (home_id, device_id)

_PRESENT = text("SELECT home_id, device_id FROM homeops_devices_present(:homes, :devices)").bindparams(
    bindparam("homes", type_=ARRAY(UUID(as_uuid=True))), bindparam("devices", type_=ARRAY(UUID(as_uuid=True)))
)
_ACT_FOR = text("SELECT 1 FROM homeops_act_for(:user)")


async def _mine(
    repo: Repository[Any], object_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> Any:
    """The row by its full key ``(user_id, id)``, if row security shows it, loaded fresh."""
    model = repo.model
    stmt = select(model).where(model.user_id == user_id, model.id == object_id)
    if lock:
        stmt = stmt.with_for_update()
    return await repo.session.scalar(stmt.execution_options(populate_existing=True))


async def _update_returning(repo: Repository[Any], row: Any, values: dict[str, Any]) -> None:
    """``UPDATE … SET values … RETURNING`` the row (by its full key) into the loaded entity: one round trip,
    and the values the database computed are on the entity afterwards."""
    model = repo.model
    await repo.session.execute(
        update(model)
        .where(model.user_id == row.user_id, model.id == row.id)
        .values(values)
        .returning(model)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


async def _delete_mine(repo: Repository[Any], row: Any) -> int:
    model = repo.model
    return await rows_affected(
        repo.session, delete(model).where(model.user_id == row.user_id, model.id == row.id)
    )


async def devices_present(session: AsyncSession, keys: Iterable[DeviceKey | None]) -> set[DeviceKey]:
    """Which of the devices named by chats or complaints still exist (for a member of their home, or staff).
    One statement; none when no key is given."""
    wanted = {k for k in keys if k is not None}
    if not wanted:
        return set()
    rows = await session.execute(
        _PRESENT, {"homes": sorted({h for h, _ in wanted}), "devices": sorted({d for _, d in wanted})}
    )
    return {(r.home_id, r.device_id) for r in rows} & wanted


def device_key(row: ChatSession | Complaint) -> DeviceKey | None:
    return (row.home_id, row.device_id) if row.home_id is not None and row.device_id is not None else None


class ChatRepository(Repository[ChatSession]):
    model = ChatSession

    async def mine(self, session_id: uuid.UUID, user_id: uuid.UUID) -> ChatSession | None:
        row: ChatSession | None = await _mine(self, session_id, user_id)
        return row

    async def of_user(self, user_id: uuid.UUID, limit: int, after: After) -> list[ChatSession]:
        stmt = select(ChatSession).where(ChatSession.user_id == user_id)
        return list(
            await self.session.scalars(keyset(stmt, limit, after, ChatSession.created_at, ChatSession.id))
        )

    async def messages(self, chat: ChatSession) -> list[ChatMessage]:
        return list(
            await self.session.scalars(
                select(ChatMessage)
                .where(ChatMessage.user_id == chat.user_id, ChatMessage.session_id == chat.id)
                .order_by(ChatMessage.created_at, ChatMessage.id)
            )
        )

    async def recent(self, chat: ChatSession, count: int) -> list[ChatMessage]:
        """The last ``count`` messages, oldest first."""
        rows = list(
            await self.session.scalars(
                select(ChatMessage)
                .where(ChatMessage.user_id == chat.user_id, ChatMessage.session_id == chat.id)
                .order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc())
                .limit(count)
            )
        )
        return rows[::-1]

    async def device(self, chat: ChatSession) -> Device | None:
        """The chat's device by its full key, if it still exists and the caller may see it."""
        key = device_key(chat)
        if key is None:
            return None
        device: Device | None = await self.session.scalar(
            select(Device).where(Device.home_id == key[0], Device.id == key[1])
        )
        return device

    async def touch(self, chat: ChatSession, at: datetime, title: str | None) -> None:
        """``last_activity`` = ``at`` (the time of the last message); the title if given."""
        values: dict[str, Any] = {"last_activity": at}
        if title is not None:
            values["title"] = title
        await _update_returning(self, chat, values)

    async def delete_mine(self, chat: ChatSession) -> int:
        return await _delete_mine(self, chat)


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
        await _update_returning(self, document, {"last_accessed": func.now()})

    async def delete_mine(self, document: Document) -> int:
        return await _delete_mine(self, document)


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
        return list(
            await self.session.scalars(keyset(stmt, limit, after, MediaFile.upload_date, MediaFile.id))
        )

    async def transcriptions(self, media: MediaFile) -> list[Transcription]:
        return list(
            await self.session.scalars(
                select(Transcription)
                .where(Transcription.user_id == media.user_id, Transcription.media_id == media.id)
                .order_by(Transcription.created_at, Transcription.id)
            )
        )

    async def delete_mine(self, media: MediaFile) -> int:
        return await _delete_mine(self, media)


class ProcessingRepository(Repository[Transcription]):
    """The worker's side, acting for the uploader (``job.act_for``: their identity, their row policies):
    documents and media by their full key, status changes, and the transcriptions it writes (``add``)."""

    model = Transcription

    async def document(self, user_id: uuid.UUID, document_id: uuid.UUID) -> Document | None:
        return await self.session.get(Document, (user_id, document_id), populate_existing=True)

    async def media(self, user_id: uuid.UUID, media_id: uuid.UUID) -> MediaFile | None:
        return await self.session.get(MediaFile, (user_id, media_id), populate_existing=True)

    async def mark_processing(
        self, model: type[Document | MediaFile], user_id: uuid.UUID, row_id: uuid.UUID
    ) -> bool:
        """Commits ``processing`` at once, on its own connection (acting for the same user), so clients can
        see it while the job runs; False when the row is gone or already finished (nothing to do)."""
        bind = self.session.bind
        assert isinstance(bind, AsyncEngine)
        async with bind.begin() as conn:
            if (await conn.execute(_ACT_FOR, {"user": user_id})).first() is None:
                return False  # the uploader is gone (their rows went with them)
            result = await conn.execute(
                update(model)
                .where(
                    model.user_id == user_id,
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

    async def by_key(
        self, user_id: uuid.UUID, complaint_id: uuid.UUID, *, lock: bool = False
    ) -> Complaint | None:
        row: Complaint | None = await _mine(self, complaint_id, user_id, lock=lock)
        return row

    async def visible(self, complaint_id: uuid.UUID, *, lock: bool = False) -> Complaint | None:
        """Any complaint row security shows (staff: everyone's) by id alone — on a cluster a query of every
        shard, so ``lock`` only on one server (a cluster locks by the full key: ``owner_of``, ``by_key``)."""
        stmt = select(Complaint).where(Complaint.id == complaint_id)
        if lock:
            stmt = stmt.with_for_update()
        row: Complaint | None = await self.session.scalar(stmt.execution_options(populate_existing=True))
        return row

    async def owner_of(self, complaint_id: uuid.UUID) -> uuid.UUID | None:
        owner: uuid.UUID | None = await self.session.scalar(
            select(Complaint.user_id).where(Complaint.id == complaint_id)
        )
        return owner

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
        return list(
            await self.session.scalars(keyset(stmt, limit, after, Complaint.created_at, Complaint.id))
        )

    async def set_status(self, complaint: Complaint, status: ComplaintStatus) -> None:
        """Sets ``resolved_at`` (database time) when the complaint becomes resolved (one UPDATE … RETURNING)."""
        values: dict[str, Any] = {"status": status}
        if status is ComplaintStatus.resolved:
            values["resolved_at"] = func.now()
        await _update_returning(self, complaint, values)


class ProductQueryRepository(Repository[ProductQuery]):
    model = ProductQuery

    async def mine(self, query_id: uuid.UUID, user_id: uuid.UUID) -> ProductQuery | None:
        row: ProductQuery | None = await _mine(self, query_id, user_id)
        return row

    async def of_user(self, user_id: uuid.UUID, limit: int, after: After) -> list[ProductQuery]:
        stmt = select(ProductQuery).where(ProductQuery.user_id == user_id)
        return list(
            await self.session.scalars(keyset(stmt, limit, after, ProductQuery.created_at, ProductQuery.id))
        )

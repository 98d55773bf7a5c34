"""Project chat (seed 002 ``chat_messages``): the homeowner and the provider side of one project.

* Text, photos (EXIF stripped) and PDF files through storage, threaded replies (``reply_to_message_id``, a
  message of the same project), read receipts set by the receiving side, per-side delete (the row goes once
  both sides deleted it), system messages on every status change (posted by the services that change it).
* A system message stores what happened (``system_event``: ``status_changed`` with ``by``/``from``/``to``/
  ``note``, ``quote_accepted`` with ``cost``) and its English rendering in ``message_text`` (for API clients and
  as the rows before p021 have it). The pages render the event in the viewer's language
  (``pages.system_event_text``); an event code they do not know, or none, shows ``message_text``.
* Every new message, read receipt and deletion is announced with ``NOTIFY homeops_chat`` in its transaction:
  each API process's listener (``realtime.ChatHub``) wakes the WebSockets of that project, which read the
  message again under their own user's row security — so two processes serve one conversation.
* An offline receiver is notified: the send queues a ``marketplace.notify`` job a minute later that fires only
  if the message is still unread then.
* History is keyset-paged newest first; unread counts per project for either side. Kept 2 years after the
  project's completion (``retention.marketplace_chat_days``, the daily retention job).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from anyio import to_thread

from homeops.core.audit import AuditEntry
from homeops.core.errors import NotFound, UnprocessableEntity
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.schemas import DownloadOut
from homeops.core.storage import signed_download
from homeops.core.uow import UnitOfWork
from homeops.maintenance.service_events import safe_file_name, sniff_content_type
from homeops.marketplace.common import (
    FileNotFoundProblem,
    NotYourSide,
    PayloadTooLarge,
    ProjectNotFound,
    UnsupportedMedia,
    load_by_id,
    max_image_bytes,
    side_of,
    store,
)
from homeops.marketplace.images import sanitize_image
from homeops.marketplace.models import ChatMessage, ChatMessageType, ChatSide, Project, ProjectStatus
from homeops.marketplace.notify import CHAT_OFFLINE_AFTER, Note, queue_notes
from homeops.marketplace.repository import ChatRepository
from homeops.marketplace.schemas import ChatAttachmentOut, ChatMessageOut, UnreadOut

MAX_FILE_BYTES = 20 * 1024 * 1024


class MessageNotFound(NotFound):
    code, title = "message_not_found", "Message not found"


def message_out(message: ChatMessage, me: uuid.UUID | None) -> ChatMessageOut:
    data: dict[str, Any] = {c.key: getattr(message, c.key) for c in ChatMessage.__table__.columns}
    data["mine"] = message.sender_id is not None and message.sender_id == me
    data["attachments"] = [
        ChatAttachmentOut(index=i, file_name=a["file_name"], content_type=a["content_type"], size=a["size"])
        for i, a in enumerate(message.attachments or [])
    ]
    return ChatMessageOut.model_validate(data)


def _receiver(project: Project, side: ChatSide) -> uuid.UUID | None:
    if side is ChatSide.requester:
        return project.provider_user_id
    if side is ChatSide.provider:
        return project.requester_id
    return None


def status_changed_event(
    by: ChatSide, old: ProjectStatus, new: ProjectStatus, note: str | None
) -> dict[str, Any]:
    """``system_event`` of a status change by a side (an admin's: ``system``), with the change's note."""
    event: dict[str, Any] = {"code": "status_changed", "by": by.value, "from": old.value, "to": new.value}
    if note:
        event["note"] = note
    return event


def quote_accepted_event(cost: Decimal) -> dict[str, Any]:
    """``system_event`` of the accepted quote that made the project (the platform stores no currency)."""
    return {"code": "quote_accepted", "cost": f"{Decimal(cost):.2f}"}


_ENGLISH_BY = {"requester": "The homeowner", "provider": "The provider"}


def system_event_english(event: dict[str, Any]) -> str:
    """The English rendering of a ``system_event``, stored as the message's ``message_text``."""
    if event["code"] == "status_changed":
        old, new = (str(event[k]).replace("_", " ") for k in ("from", "to"))
        who = _ENGLISH_BY.get(event["by"], "An admin")
        text = f"{who} changed the project from {old} to {new}."
        return f"{text} {event['note']}" if event.get("note") else text
    if event["code"] == "quote_accepted":
        return f"Quote accepted ({event['cost']}). The project is scheduled."
    raise ValueError(f"unknown system event {event['code']!r}")


async def post_system_message(
    uow: UnitOfWork, project: Project, side: ChatSide, event: dict[str, Any]
) -> ChatMessage:
    """A system message about what happened to the project (``event``, see ``status_changed_event`` and
    ``quote_accepted_event``), on behalf of the side that did it (an admin's: "system")."""
    message = ChatMessage(
        requester_id=project.requester_id,
        id=uuid.uuid4(),
        project_id=project.id,
        provider_user_id=project.provider_user_id,
        provider_org_id=project.provider_org_id,
        sender_id=uow.actor.user_id,
        receiver_id=_receiver(project, side),
        sender_side=side,
        message_text=system_event_english(event)[:5000],
        message_type=ChatMessageType.system,
        system_event=event,
        is_read=side is ChatSide.system,
    )
    return await ChatRepository(uow.session).add(message)


class ChatService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.repo = ChatRepository(uow.session)

    async def project(self, project_id: uuid.UUID, *, write: bool) -> tuple[Project, ChatSide]:
        """The project and the caller's side (admins: ``system``, read only)."""
        project = await load_by_id(self.uow, Project, project_id, not_found=ProjectNotFound)
        side = side_of(self.uow, project, write=write)
        if side is None:
            if self.uow.actor.is_admin and not write:
                return project, ChatSide.system
            if side_of(self.uow, project) is not None:
                raise NotYourSide(
                    "Your role in the provider's company does not allow this.",
                    code="insufficient_organization_role",
                )
            raise ProjectNotFound()
        return project, side

    async def history(
        self, project_id: uuid.UUID, page: PageParams
    ) -> tuple[list[ChatMessageOut], str | None]:
        project, side = await self.project(project_id, write=False)
        rows = await self.repo.history(
            project.requester_id, project.id, side, page.limit, decode_cursor(page.cursor)
        )
        items, cursor = build_page(rows, page.limit, key=lambda m: (m.created_at, m.id))
        me = self.uow.actor.user_id
        return [message_out(m, me) for m in items], cursor

    async def message(self, project_id: uuid.UUID, message_id: uuid.UUID) -> ChatMessageOut:
        """One message (the WebSocket reads each announced message again through this, under its user)."""
        project, side = await self.project(project_id, write=False)
        message = await self.repo.get(project.requester_id, message_id)
        if message is None or message.project_id != project.id or _hidden(message, side):
            raise MessageNotFound()
        return message_out(message, self.uow.actor.user_id)

    async def _insert(
        self,
        project: Project,
        side: ChatSide,
        *,
        text: str | None,
        message_type: ChatMessageType,
        attachments: list[dict[str, Any]] | None = None,
        reply_to: uuid.UUID | None = None,
    ) -> ChatMessage:
        if reply_to is not None:
            target = await self.repo.get(project.requester_id, reply_to)
            if target is None or target.project_id != project.id:
                raise UnprocessableEntity(
                    "reply_to_message_id is not a message of this project.", code="bad_reply"
                )
        receiver = _receiver(project, side)
        message = await self.repo.add(
            ChatMessage(
                requester_id=project.requester_id,
                id=uuid.uuid4(),
                project_id=project.id,
                provider_user_id=project.provider_user_id,
                provider_org_id=project.provider_org_id,
                sender_id=self.uow.actor.user_id,
                receiver_id=receiver,
                sender_side=side,
                message_text=text,
                message_type=message_type,
                attachments=attachments or [],
                reply_to_message_id=reply_to,
            )
        )
        if receiver is not None:
            await queue_notes(
                self.uow,
                [
                    Note(
                        receiver,
                        "new_message",
                        f"New message: {project.project_title}",
                        (text or "(attachment)")[:300],
                        "project",
                        project.id,
                        f"/api/v1/projects/{project.id}/messages",
                    )
                ],
                run_at=self.uow.now() + CHAT_OFFLINE_AFTER,
                unless_read=(message.requester_id, message.id),
                dedupe_key=f"marketplace.chat:{project.id}:{receiver}",
            )
        return message

    async def send(self, project_id: uuid.UUID, text: str, reply_to: uuid.UUID | None) -> ChatMessageOut:
        project, side = await self.project(project_id, write=True)
        message = await self._insert(
            project, side, text=text, message_type=ChatMessageType.text, reply_to=reply_to
        )
        self.uow.record(
            AuditEntry(
                "chat_message_sent", "chat_message", message.id, new_values={"project_id": str(project.id)}
            )
        )
        return message_out(message, self.uow.actor.user_id)

    async def send_file(
        self,
        project_id: uuid.UUID,
        data: bytes,
        file_name: str | None,
        text: str | None,
        *,
        reply_to: uuid.UUID | None = None,
    ) -> ChatMessageOut:
        project, side = await self.project(project_id, write=True)
        if len(data) > MAX_FILE_BYTES:
            raise PayloadTooLarge(f"Chat files are limited to {MAX_FILE_BYTES // (1024 * 1024)} MB.")
        sniffed = sniff_content_type(data)
        name = safe_file_name(file_name)
        if sniffed in ("image/jpeg", "image/png", "image/webp"):
            limit = await max_image_bytes(self.uow)
            clean = await to_thread.run_sync(lambda: sanitize_image(data, max_bytes=limit))
            stored, content_type, kind = clean.data, clean.content_type, ChatMessageType.image
        elif sniffed == "application/pdf":
            stored, content_type, kind = data, sniffed, ChatMessageType.file
        else:
            raise UnsupportedMedia("Chat files must be JPEG, PNG or WebP photos or PDF documents.")
        key = f"chat/{project.requester_id}/{project.id}/{uuid.uuid4().hex}-{name}"
        attachment = {
            "key": key,
            "file_name": (file_name or name)[:255],
            "content_type": content_type,
            "size": len(stored),
            "uploaded_at": self.uow.now().isoformat(),
        }
        text = (text or "").strip()[:5000] or None
        message = await self._insert(
            project, side, text=text, message_type=kind, attachments=[attachment], reply_to=reply_to
        )
        await store(self.uow, key, stored, content_type)
        self.uow.record(
            AuditEntry(
                "chat_file_sent", "chat_message", message.id, new_values={"content_type": content_type}
            )
        )
        return message_out(message, self.uow.actor.user_id)

    async def mark_read(self, project_id: uuid.UUID, up_to: uuid.UUID | None) -> int:
        project, side = await self.project(project_id, write=False)
        if side is ChatSide.system:
            return 0
        until = None
        if up_to is not None:
            target = await self.repo.get(project.requester_id, up_to)
            if target is None or target.project_id != project.id:
                raise MessageNotFound()
            until = target.created_at
        count = await self.repo.mark_read(project.requester_id, project.id, side, self.uow.now(), until)
        if count:
            await self.repo.announce(project.id, project.requester_id, "read", up_to)
        return count

    async def delete(self, project_id: uuid.UUID, message_id: uuid.UUID) -> None:
        project, side = await self.project(project_id, write=False)
        if side is ChatSide.system:
            raise NotYourSide("Admins do not delete messages of a conversation.")
        message = await self.repo.lock(project.requester_id, message_id)
        if message is None or message.project_id != project.id or _hidden(message, side):
            raise MessageNotFound()
        keys = [a["key"] for a in message.attachments or []]
        gone = await self.repo.delete_for(message, side)
        if gone and keys:
            from homeops.marketplace.common import remove_after_commit

            remove_after_commit(self.uow, keys)
        await self.repo.announce(project.id, project.requester_id, "deleted", message_id)
        self.uow.record(
            AuditEntry(
                "chat_message_deleted",
                "chat_message",
                message_id,
                new_values={"side": side.value, "row_removed": gone},
            )
        )

    async def unread(self) -> list[UnreadOut]:
        me = self.uow.actor.require_user_id()
        counts = await self.repo.unread_as_requester(me)
        for project_id, n in (await self.repo.unread_as_provider(me, self.uow.actor.org_ids())).items():
            counts[project_id] = counts.get(project_id, 0) + n
        return [
            UnreadOut(project_id=p, unread=n) for p, n in sorted(counts.items(), key=lambda kv: str(kv[0]))
        ]

    async def unread_in(self, project: Project, side: ChatSide) -> int:
        if side is ChatSide.system:
            return 0
        return await self.repo.unread(project.requester_id, project.id, side)

    async def attachment(self, project_id: uuid.UUID, message_id: uuid.UUID, index: int) -> DownloadOut:
        project, side = await self.project(project_id, write=False)
        message = await self.repo.get(project.requester_id, message_id)
        if message is None or message.project_id != project.id or _hidden(message, side):
            raise MessageNotFound()
        attachments = message.attachments or []
        if not 0 <= index < len(attachments):
            raise FileNotFoundProblem()
        item = attachments[index]
        return await signed_download(
            self.uow.runtime.storage,
            item["key"],
            filename=item["file_name"],
            content_type=item["content_type"],
        )


def _hidden(message: ChatMessage, side: ChatSide) -> bool:
    if side is ChatSide.requester:
        return message.deleted_by_requester
    if side is ChatSide.provider:
        return message.deleted_by_provider
    return False

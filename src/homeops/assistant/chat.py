"""Chat sessions with the assistant, and one-shot product queries (seed 003 ``chat_sessions``, ``messages``,
``product_queries``). Answers come from a :class:`~homeops.assistant.responder.Responder`."""

from __future__ import annotations

import uuid
from typing import Any

from homeops.assistant.models import ChatMessage, ChatSession, MessageType, ProductQuery
from homeops.assistant.repository import (
    ChatRepository,
    MessageRepository,
    ProductQueryRepository,
    device_key,
    devices_present,
)
from homeops.assistant.responder import LibraryKnowledge, LibraryResponder, ReplyContext, Responder
from homeops.assistant.schemas import (
    ExchangeOut,
    MessageOut,
    ProductQueryIn,
    ProductQueryOut,
    SessionDetailOut,
    SessionIn,
    SessionOut,
)
from homeops.catalog.models import DeviceModel
from homeops.catalog.repository import CatalogRepository
from homeops.catalog.service import ModelNotFound
from homeops.core.audit import AuditEntry
from homeops.core.errors import NotFound
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.tenancy import HomeRole
from homeops.core.uow import UnitOfWork
from homeops.devices.links import LinkRepository
from homeops.devices.models import Device
from homeops.devices.service import DeviceNotFound
from homeops.homes.access import load_in_home
from homeops.manuals.repository import ManualRepository

HISTORY_MESSAGES = 10
TITLE_FROM_MESSAGE = 80
_SPEC_GROUPS = (
    "electrical_specs",
    "pressure_specs",
    "temperature_specs",
    "flow_specs",
    "physical_specs",
    "capabilities",
)


class ChatSessionNotFound(NotFound):
    code, title = "chat_session_not_found", "Chat session not found"


class ProductQueryNotFound(NotFound):
    code, title = "product_query_not_found", "Product query not found"


class ChatService:
    def __init__(self, uow: UnitOfWork, responder: Responder | None = None) -> None:
        self.uow = uow
        self.session = uow.session
        self.responder = responder or LibraryResponder()
        self.chats = ChatRepository(uow.session)
        self.messages = MessageRepository(uow.session)
        self.queries = ProductQueryRepository(uow.session)

    @property
    def _me(self) -> uuid.UUID:
        return self.uow.actor.require_user_id()

    # --- sessions -----------------------------------------------------------------------------------
    async def _visible_device(self, device_id: uuid.UUID) -> Device:
        device, _ = await load_in_home(self.uow, Device, device_id, HomeRole.guest, not_found=DeviceNotFound)
        return device

    async def _chat(self, session_id: uuid.UUID) -> ChatSession:
        chat = await self.chats.mine(session_id, self._me)
        if chat is None:
            raise ChatSessionNotFound()
        return chat

    async def _out(self, chats: list[ChatSession]) -> list[SessionOut]:
        """The sessions as the API shows them: a device deleted since (or no longer visible to the caller)
        is shown as none, as the old ``ON DELETE SET NULL`` did."""
        present = await devices_present(self.session, (device_key(c) for c in chats))
        out = []
        for chat in chats:
            shown = SessionOut.model_validate(chat)
            if chat.device_id is not None and device_key(chat) not in present:
                shown = shown.model_copy(update={"device_id": None})
            out.append(shown)
        return out

    async def create(self, data: SessionIn) -> SessionOut:
        home_id = None
        if data.device_id is not None:
            home_id = (await self._visible_device(data.device_id)).home_id
        chat = await self.chats.add(
            ChatSession(user_id=self._me, home_id=home_id, device_id=data.device_id, title=data.title)
        )
        self.uow.record(
            AuditEntry(
                "chat_session_created", "chat_session", chat.id, new_values=data.model_dump(mode="json")
            )
        )
        return SessionOut.model_validate(chat)

    async def list_mine(self, page: PageParams) -> tuple[list[SessionOut], str | None]:
        rows = await self.chats.of_user(self._me, page.limit, decode_cursor(page.cursor))
        items, cursor = build_page(rows, page.limit, key=lambda c: (c.created_at, c.id))
        return await self._out(items), cursor

    async def get(self, session_id: uuid.UUID) -> SessionDetailOut:
        chat = await self._chat(session_id)
        messages = [MessageOut.model_validate(m) for m in await self.chats.messages(chat)]
        [shown] = await self._out([chat])
        return SessionDetailOut(**shown.model_dump(), messages=messages)

    async def delete(self, session_id: uuid.UUID) -> None:
        chat = await self._chat(session_id)
        await self.chats.delete_mine(chat)
        self.uow.record(
            AuditEntry(
                "chat_session_deleted",
                "chat_session",
                chat.id,
                old_values={
                    "title": chat.title,
                    "device_id": str(chat.device_id) if chat.device_id else None,
                },
            )
        )

    # --- messages -----------------------------------------------------------------------------------
    async def post(self, session_id: uuid.UUID, content: str) -> ExchangeOut:
        """Stores the user's message, then the assistant's reply, and moves ``last_activity``."""
        chat = await self._chat(session_id)
        history = [(str(m.message_type), m.content) for m in await self.chats.recent(chat, HISTORY_MESSAGES)]
        asked = await self.messages.add(
            ChatMessage(session_id=chat.id, user_id=self._me, content=content, message_type=MessageType.user)
        )
        knowledge, subject = await self._device_knowledge(chat)
        reply = await self.responder.respond(ReplyContext(content, knowledge, subject, history))
        answer = await self.messages.add(
            ChatMessage(
                session_id=chat.id,
                user_id=self._me,
                content=reply.content,
                message_type=MessageType.assistant,
                metadata_=reply.metadata(),
            )
        )
        await self.chats.touch(chat, answer.created_at, None if chat.title else content[:TITLE_FROM_MESSAGE])
        self.uow.record(
            AuditEntry(
                "chat_message_posted",
                "chat_session",
                chat.id,
                new_values={
                    "message_id": str(asked.id),
                    "reply_id": str(answer.id),
                    "citations": len(reply.citations),
                    "responder": reply.responder,
                },
            )
        )
        return ExchangeOut(
            user_message=MessageOut.model_validate(asked), assistant_message=MessageOut.model_validate(answer)
        )

    async def _device_knowledge(self, chat: ChatSession) -> tuple[LibraryKnowledge, str | None]:
        """The session device's manuals and model problems; the whole library when it has no manual linked
        (or when the device was deleted or is no longer visible to the caller)."""
        device = await self.chats.device(chat)
        if device is None:
            return LibraryKnowledge(self.session, None, None, homes=self.uow.actor.home_ids()), None
        # The device's home's library only: the shared library and that home's own uploads.
        homes = [device.home_id]
        scope = await LinkRepository(self.session).manual_ids_for_device(device.id, device.home_id)
        note = None
        if not scope:
            note = f"No manual is linked to {device.nickname} yet, so I searched the whole manual library."
        knowledge = LibraryKnowledge(self.session, scope or None, device.model_id, note, homes=homes)
        return knowledge, device.nickname

    # --- product queries ------------------------------------------------------------------------------
    async def ask_product(self, data: ProductQueryIn) -> ProductQueryOut:
        """Stores the query with a deterministic answer from the catalog (model facts, matching problems) and
        the model's manuals (or the whole library when the product is not in the catalog)."""
        found = await self._product(data)
        facts: list[str] = []
        snapshot: dict[str, Any] | None = None
        unknown = (
            f"{data.product_id} is not in the catalog, so I searched all manuals."
            if data.product_id
            else None
        )
        homes = self.uow.actor.home_ids()  # the shared library and the caller's homes' own uploads
        knowledge = LibraryKnowledge(self.session, None, None, unknown, homes=homes)
        subject = data.product_id
        if found is not None:
            model, maker = found
            subject = f"{maker} {model.model_number}"
            facts = _model_facts(model, maker)
            scope = await ManualRepository(self.session).for_model(maker, model.model_number, homes)
            note = (
                None if scope else f"No manual of the {subject} is in the library, so I searched all manuals."
            )
            knowledge = LibraryKnowledge(self.session, scope or None, model.id, note, homes=homes)
            snapshot = {"model_id": str(model.id), "manufacturer": maker, "model_number": model.model_number}
        reply = await self.responder.respond(ReplyContext(data.query_text, knowledge, subject))
        row = await self.queries.add(
            ProductQuery(
                user_id=self._me,
                model_id=found[0].id if found else None,
                product_id=data.product_id,
                query_text=data.query_text,
                response_text="\n".join([*facts, reply.content]),
                metadata_={**reply.metadata(), "model": snapshot},
            )
        )
        self.uow.record(
            AuditEntry(
                "product_query_created",
                "product_query",
                row.id,
                new_values={"model_id": str(row.model_id), "product_id": data.product_id},
            )
        )
        return ProductQueryOut.model_validate(row)

    async def _product(self, data: ProductQueryIn) -> tuple[DeviceModel, str] | None:
        catalog = CatalogRepository(self.session)
        if data.model_id is not None:
            found = await catalog.model(data.model_id)
            if found is None:
                raise ModelNotFound()
            return found
        if data.product_id:  # a model number that names exactly one catalog model
            matches = await catalog.models(
                manufacturer_id=None,
                manufacturer_name=None,
                category=None,
                model_number=data.product_id,
                q=None,
                limit=1,
                after=None,
            )
            if len(matches) == 1:
                return matches[0]
        return None

    async def get_product_query(self, query_id: uuid.UUID) -> ProductQueryOut:
        row = await self.queries.mine(query_id, self._me)
        if row is None:
            raise ProductQueryNotFound()
        return ProductQueryOut.model_validate(row)

    async def list_product_queries(self, page: PageParams) -> tuple[list[ProductQueryOut], str | None]:
        rows = await self.queries.of_user(self._me, page.limit, decode_cursor(page.cursor))
        items, cursor = build_page(rows, page.limit, key=lambda q: (q.created_at, q.id))
        return [ProductQueryOut.model_validate(q) for q in items], cursor


def _model_facts(model: DeviceModel, maker: str) -> list[str]:
    name = f" ({model.product_name})" if model.product_name else ""
    facts = [f"{maker} {model.model_number}{name}, category {model.category_code}."]
    for group in _SPEC_GROUPS:
        specs: dict[str, Any] = getattr(model, group) or {}
        if specs:
            label = group.removesuffix("_specs").replace("_", " ").capitalize()
            facts.append(
                f"{label}: " + "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(specs.items())) + "."
            )
    if model.maintenance_notes:
        facts.append(f"Maintenance: {model.maintenance_notes}")
    return facts

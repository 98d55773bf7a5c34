"""Service history (seed 000 service_events): events per device, newest first, with receipts and photos
kept through the storage interface. Guests read, members write."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Any

from anyio import to_thread

from homeops.core.audit import AuditEntry
from homeops.core.errors import NotFound, Problem, UnprocessableEntity
from homeops.core.pagination import InvalidCursor, PageParams, decode_text_cursor, encode_text_cursor
from homeops.core.schemas import DownloadOut
from homeops.core.storage import signed_download
from homeops.core.tenancy import HomeRole
from homeops.core.uow import UnitOfWork
from homeops.devices.models import Device
from homeops.devices.service import DeviceNotFound
from homeops.homes.access import load_in_home
from homeops.maintenance.models import ServiceEvent
from homeops.maintenance.repository import ServiceEventRepository, home_timezone
from homeops.maintenance.schemas import AttachmentOut, ServiceEventIn, ServiceEventOut

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_ATTACHMENTS = 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


class ServiceEventNotFound(NotFound):
    code, title = "service_event_not_found", "Service event not found"


class AttachmentNotFound(NotFound):
    code, title = "attachment_not_found", "Attachment not found"


class UnsupportedAttachment(Problem):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class AttachmentTooLarge(Problem):
    status, code, title = 413, "payload_too_large", "Payload too large"


def sniff_content_type(data: bytes) -> str | None:
    """The attachment's real type from its first bytes (the client's claim is not trusted)."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "image/heic"
    return None


def safe_file_name(name: str | None) -> str:
    """A storage-key-safe version of the client's file name (ASCII letters, digits, ``._-``)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip("._-")[:100]
    return cleaned or "file"


def event_out(event: ServiceEvent) -> ServiceEventOut:
    data: dict[str, Any] = {c.key: getattr(event, c.key) for c in ServiceEvent.__table__.columns}
    data["attachments"] = [
        AttachmentOut(
            index=i,
            file_name=a["file_name"],
            content_type=a["content_type"],
            size=a["size"],
            uploaded_at=a.get("uploaded_at"),
        )
        for i, a in enumerate(event.attachments or [])
    ]
    return ServiceEventOut.model_validate(data)


def _history_cursor(event: ServiceEvent) -> str:
    return encode_text_cursor(f"{event.event_date.isoformat()}|{event.created_at.isoformat()}", event.id)


def _decode_history_cursor(cursor: str | None) -> tuple[date, datetime, uuid.UUID] | None:
    decoded = decode_text_cursor(cursor)
    if decoded is None:
        return None
    key, event_id = decoded
    try:
        day, created = key.split("|", 1)
        return date.fromisoformat(day), datetime.fromisoformat(created), event_id
    except ValueError as exc:
        raise InvalidCursor("The cursor is not one this API issued.") from exc


class ServiceEventService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.storage = uow.runtime.storage
        self.events = ServiceEventRepository(uow.session)

    async def _device(self, device_id: uuid.UUID, need: HomeRole) -> Device:
        device, _ = await load_in_home(self.uow, Device, device_id, need, not_found=DeviceNotFound)
        return device

    async def _event(self, event_id: uuid.UUID, need: HomeRole, *, lock: bool = False) -> ServiceEvent:
        event, _ = await load_in_home(
            self.uow, ServiceEvent, event_id, need, not_found=ServiceEventNotFound, lock=lock
        )
        return event

    async def create(
        self, device_id: uuid.UUID, data: ServiceEventIn, *, source: tuple[str, uuid.UUID] | None = None
    ) -> ServiceEventOut:
        """``source``: (kind, id) when another domain records the event (a marketplace project), kept as a
        link back; one event per device and source."""
        device = await self._device(device_id, HomeRole.member)
        today = self.uow.today(await home_timezone(self.uow.session, device.home_id))
        event_date = data.event_date or today
        if event_date > today:
            raise UnprocessableEntity("event_date is in the future.", code="event_in_future")
        event = await self.events.add(
            ServiceEvent(
                device_id=device_id,
                id=uuid.uuid4(),
                home_id=device.home_id,
                user_id=self.uow.actor.user_id,
                **data.model_dump(exclude={"event_date"}),
                event_date=event_date,
                source_type=source[0] if source else None,
                source_id=source[1] if source else None,
            )
        )
        self.uow.record(
            AuditEntry(
                "service_event_created",
                "service_event",
                event.id,
                new_values={**data.model_dump(mode="json"), "event_date": event_date},
            )
        )
        return event_out(event)

    async def get(self, event_id: uuid.UUID) -> ServiceEventOut:
        return event_out(await self._event(event_id, HomeRole.guest))

    async def history(
        self, device_id: uuid.UUID, page: PageParams
    ) -> tuple[list[ServiceEventOut], str | None]:
        device = await self._device(device_id, HomeRole.guest)
        rows = await self.events.history(
            device.home_id, device.id, page.limit, _decode_history_cursor(page.cursor)
        )
        items = rows[: page.limit]
        cursor = _history_cursor(items[-1]) if len(rows) > page.limit and items else None
        return [event_out(e) for e in items], cursor

    async def add_attachment(
        self, event_id: uuid.UUID, data: bytes, file_name: str | None
    ) -> ServiceEventOut:
        event = await self._event(event_id, HomeRole.member, lock=True)
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise AttachmentTooLarge(
                f"Attachments are limited to {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB."
            )
        if not data:
            raise UnprocessableEntity("The file is empty.", code="empty_file")
        content_type = sniff_content_type(data)
        if content_type is None:
            raise UnsupportedAttachment("Receipts and photos must be PDF, JPEG, PNG, WebP or HEIC.")
        if len(event.attachments or []) >= MAX_ATTACHMENTS:
            raise UnprocessableEntity(
                f"An event keeps at most {MAX_ATTACHMENTS} attachments.", code="too_many_attachments"
            )
        name = safe_file_name(file_name)
        key = f"service-events/{event.home_id}/{event.id}/{uuid.uuid4().hex}-{name}"
        item = {
            "key": key,
            "file_name": (file_name or name)[:255],
            "content_type": content_type,
            "size": len(data),
            "uploaded_at": self.uow.now().isoformat(),
            "uploaded_by": str(self.uow.actor.user_id),
        }
        await self.events.append_attachment(event, item)  # the row first: a refused write stores no file
        await to_thread.run_sync(self.storage.put, key, data, content_type)
        self.uow.record(
            AuditEntry(
                "service_event_attachment_added",
                "service_event",
                event.id,
                new_values={k: item[k] for k in ("key", "file_name", "content_type", "size")},
            )
        )
        return event_out(event)

    async def download(self, event_id: uuid.UUID, index: int) -> DownloadOut:
        event = await self._event(event_id, HomeRole.guest)
        attachments = event.attachments or []
        if not 0 <= index < len(attachments):
            raise AttachmentNotFound()
        item = attachments[index]
        return await signed_download(
            self.storage, item["key"], filename=item["file_name"], content_type=item["content_type"]
        )

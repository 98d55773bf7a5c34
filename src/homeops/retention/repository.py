"""Retention queries (seed 000 "Data Retention & Cleanup", seed 003 "Data Retention"). Run as the owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.assistant.models import ChatSession, MediaFile
from homeops.core.database import rows_affected
from homeops.devices.models import Device, DeviceStatus
from homeops.maintenance.models import ServiceEvent
from homeops.settings.models import SystemSetting
from homeops.troubleshooting.models import ServiceTicket, SessionStatus, TicketStatus, TroubleshootingSession


class RetentionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def settings(self, prefix: str) -> dict[str, str]:
        rows = await self.session.execute(
            select(SystemSetting.setting_key, SystemSetting.setting_value).where(
                SystemSetting.setting_key.startswith(prefix)
            )
        )
        return {k: v for k, v in rows.all() if v is not None}

    async def _count(self, stmt: Select[Any]) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)

    # Each rule: the rows it would touch (for --dry-run and for the real run's report), then the change.
    @staticmethod
    def resolved_sessions(cutoff: datetime) -> Select[Any]:
        return select(TroubleshootingSession.id).where(
            TroubleshootingSession.status == SessionStatus.resolved, TroubleshootingSession.created_at < cutoff
        )

    @staticmethod
    def closed_tickets(cutoff: datetime) -> Select[Any]:
        return select(ServiceTicket.id).where(
            ServiceTicket.status == TicketStatus.closed, ServiceTicket.created_at < cutoff
        )

    @staticmethod
    def idle_devices(cutoff: datetime) -> Select[Any]:
        # Active devices with no service event since the cutoff; a device younger than the window is not idle.
        recent_event = exists().where(ServiceEvent.device_id == Device.id, ServiceEvent.event_date >= cutoff.date())
        return select(Device.id).where(
            Device.status == DeviceStatus.active, Device.created_at < cutoff, ~recent_event
        )

    @staticmethod
    def old_chats(cutoff: datetime) -> Select[Any]:
        return select(ChatSession.id).where(func.coalesce(ChatSession.last_activity, ChatSession.created_at) < cutoff)

    @staticmethod
    def old_media(cutoff: datetime) -> Select[Any, str]:
        return select(MediaFile.id, MediaFile.storage_key).where(MediaFile.upload_date < cutoff)

    async def count(self, stmt: Select[Any]) -> int:
        return await self._count(stmt)

    async def delete_sessions(self, cutoff: datetime) -> int:
        ids = self.resolved_sessions(cutoff)
        return await rows_affected(self.session, delete(TroubleshootingSession).where(TroubleshootingSession.id.in_(ids)))

    async def delete_tickets(self, cutoff: datetime) -> int:
        ids = self.closed_tickets(cutoff)
        return await rows_affected(self.session, delete(ServiceTicket).where(ServiceTicket.id.in_(ids)))

    async def archive_devices(self, cutoff: datetime) -> int:
        ids = self.idle_devices(cutoff)
        return await rows_affected(
            self.session, update(Device).where(Device.id.in_(ids)).values(status=DeviceStatus.archived)
        )

    async def delete_chats(self, cutoff: datetime) -> int:
        ids = self.old_chats(cutoff)
        return await rows_affected(self.session, delete(ChatSession).where(ChatSession.id.in_(ids)))

    async def media_keys(self, cutoff: datetime) -> list[tuple[Any, str]]:
        return [(r[0], r[1]) for r in (await self.session.execute(self.old_media(cutoff))).all()]

    async def delete_media(self, ids: list[Any]) -> int:
        if not ids:
            return 0
        return await rows_affected(self.session, delete(MediaFile).where(MediaFile.id.in_(ids)))

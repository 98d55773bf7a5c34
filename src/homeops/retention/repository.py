"""Retention queries (seed 000 "Data Retention & Cleanup", seed 003 "Data Retention").

They act for no tenant: the daily job runs them as the worker role, whose access to these tables is exactly
what the rules need (SELECT, and DELETE or ``UPDATE (column)``: see the assistant migration); ``homeops
retention run`` runs them as the owner. Each rule is one statement over every tenant (on a cluster, one
task per shard), with the same condition for the dry run's count and for the change; joins between tables
are by their full key (``home_id`` first), so they stay on one shard.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.assistant.models import ChatSession, MediaFile
from homeops.core.database import rows_affected
from homeops.devices.models import Device, DeviceStatus
from homeops.maintenance.models import ServiceEvent
from homeops.marketplace.retention import RULES as MARKETPLACE_RULES
from homeops.settings.models import SystemSetting
from homeops.troubleshooting.models import ServiceTicket, SessionStatus, TicketStatus, TroubleshootingSession


def resolved_sessions(cutoff: datetime) -> ColumnElement[bool]:
    return (TroubleshootingSession.status == SessionStatus.resolved) & (
        TroubleshootingSession.created_at < cutoff
    )


def closed_tickets(cutoff: datetime) -> ColumnElement[bool]:
    return (ServiceTicket.status == TicketStatus.closed) & (ServiceTicket.created_at < cutoff)


def idle_devices(cutoff: datetime) -> ColumnElement[bool]:
    """Active devices with no service event since the cutoff; a device younger than the window is not idle."""
    recent_event = exists().where(
        ServiceEvent.home_id == Device.home_id,
        ServiceEvent.device_id == Device.id,
        ServiceEvent.event_date >= cutoff.date(),
    )
    return (Device.status == DeviceStatus.active) & (Device.created_at < cutoff) & ~recent_event


def old_chats(cutoff: datetime) -> ColumnElement[bool]:
    return func.coalesce(ChatSession.last_activity, ChatSession.created_at) < cutoff


def old_media(cutoff: datetime) -> ColumnElement[bool]:
    return MediaFile.upload_date < cutoff


# report line → (window setting, table, condition), in the order the rules run
RULES: dict[str, tuple[str, type[Any], Callable[[datetime], ColumnElement[bool]]]] = {
    "troubleshooting_sessions_deleted": (
        "retention.troubleshooting_days",
        TroubleshootingSession,
        resolved_sessions,
    ),
    "service_tickets_deleted": ("retention.closed_tickets_days", ServiceTicket, closed_tickets),
    "devices_archived": ("retention.device_inactive_days", Device, idle_devices),
    "chat_sessions_deleted": ("retention.chat_days", ChatSession, old_chats),
    "media_files_deleted": ("retention.media_days", MediaFile, old_media),
    **MARKETPLACE_RULES,
}


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

    async def planned(self, cutoffs: dict[str, datetime]) -> dict[str, int]:
        """What a run with these cutoffs (by window setting) would change, rule by rule (the dry run)."""
        counts = {}
        for name, (window, model, condition) in RULES.items():
            stmt = select(func.count()).select_from(model).where(condition(cutoffs[window]))
            counts[name] = int(await self.session.scalar(stmt) or 0)
        return counts

    async def delete_sessions(self, cutoff: datetime) -> int:
        """Resolved troubleshooting sessions; the tickets escalated from them lose the link first (their
        ``session_id`` is nulled in the same transaction: a cluster has no ``ON DELETE SET NULL`` on it)."""
        session = TroubleshootingSession
        await rows_affected(
            self.session,
            update(ServiceTicket)
            .where(
                ServiceTicket.home_id == session.home_id,
                ServiceTicket.session_id == session.id,
                resolved_sessions(cutoff),
            )
            .values(session_id=None),
        )
        return await rows_affected(self.session, delete(session).where(resolved_sessions(cutoff)))

    async def delete_tickets(self, cutoff: datetime) -> int:
        return await rows_affected(self.session, delete(ServiceTicket).where(closed_tickets(cutoff)))

    async def archive_devices(self, cutoff: datetime) -> int:
        return await rows_affected(
            self.session,
            update(Device).where(idle_devices(cutoff)).values(status=DeviceStatus.archived),
        )

    async def delete_chats(self, cutoff: datetime) -> int:
        """Their messages follow (foreign key ``ON DELETE CASCADE`` on ``(user_id, session_id)``)."""
        return await rows_affected(self.session, delete(ChatSession).where(old_chats(cutoff)))

    async def delete_media(self, cutoff: datetime) -> list[str]:
        """Deletes the rows (transcriptions follow) and returns the storage keys of their files."""
        connection = await self.session.connection()
        rows = await connection.execute(
            delete(MediaFile).where(old_media(cutoff)).returning(MediaFile.storage_key)
        )
        return [key for (key,) in rows.all()]

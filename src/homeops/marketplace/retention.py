"""The marketplace's retention rules, applied by the daily retention job (``homeops.retention``) as the worker
role (system access: ``diagnostics`` SELECT, UPDATE (image_key, image_deleted_at); ``chat_messages`` SELECT,
DELETE; ``projects`` SELECT — migration p014):

* diagnostic images are deleted after ``retention.diagnostic_images_days`` (90, seed 002): the file goes, the
  row stays with ``image_key`` null and ``image_deleted_at`` set;
* a project's chat messages are deleted ``retention.marketplace_chat_days`` (730: two years) after the project
  was completed; their attachments' files go too.

Each statement spans every tenant (one task per shard on a cluster); the chat rule joins each message to its
project by the full key ``(requester_id, project_id)``, so the join stays on the shard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, cast, delete, func, literal, select
from sqlalchemy.dialects.postgresql import JSONPATH
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.marketplace.models import ChatMessage, Diagnostic
from homeops.marketplace.repository import ChatRepository, DiagnosticRepository

CHAT_WINDOW = "retention.marketplace_chat_days"
IMAGE_WINDOW = "retention.diagnostic_images_days"
DEFAULT_DAYS = {CHAT_WINDOW: 730, IMAGE_WINDOW: 90}


def old_diagnostic_images(cutoff: datetime) -> ColumnElement[bool]:
    return Diagnostic.image_key.is_not(None) & (Diagnostic.created_at < cutoff)


def old_project_chats(cutoff: datetime) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = ChatRepository.old_chats(cutoff)
    return condition


# report line → (window setting, table, condition), for the retention runner's dry run and report
RULES: dict[str, tuple[str, type[Any], Any]] = {
    "diagnostic_images_deleted": (IMAGE_WINDOW, Diagnostic, old_diagnostic_images),
    "project_chat_messages_deleted": (CHAT_WINDOW, ChatMessage, old_project_chats),
}


async def delete_diagnostic_images(session: AsyncSession, cutoff: datetime, now: datetime) -> list[str]:
    """Nulls the images of old diagnostics (the rows stay) and returns the storage keys to remove."""
    repo = DiagnosticRepository(session)
    found = await repo.images_older_than(cutoff)
    await repo.forget_images([(u, i) for u, i, _ in found], now)
    return [key for _, _, key in found]


async def delete_project_chats(session: AsyncSession, cutoff: datetime) -> tuple[int, list[str]]:
    """Deletes the messages of projects completed before ``cutoff``; returns the count and their files."""
    connection = await session.connection()
    keys_rows = await connection.execute(
        select(func.jsonb_path_query(ChatMessage.attachments, cast(literal("$[*].key"), JSONPATH))).where(
            old_project_chats(cutoff)
        )
    )
    keys = [str(k) for (k,) in keys_rows.all()]
    result = await connection.execute(delete(ChatMessage).where(old_project_chats(cutoff)))
    return int(result.rowcount or 0), keys

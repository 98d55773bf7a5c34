from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from homeops.core.schemas import Out
from homeops.notifications.models import NotificationPriority


class NotificationOut(Out):
    id: uuid.UUID
    notification_type: str
    title: str
    message: str
    related_entity_type: str | None
    related_entity_id: uuid.UUID | None
    action_url: str | None
    priority: NotificationPriority
    delivery_method: dict[str, Any] | None
    is_read: bool
    read_at: datetime | None
    expires_at: datetime | None
    created_at: datetime


class ReadAllOut(Out):
    updated: int

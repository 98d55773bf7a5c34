from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import IPvAnyAddress

from homeops.core.schemas import Out


class AuditLogOut(Out):
    id: uuid.UUID
    created_at: datetime
    user_id: uuid.UUID | None
    action_type: str
    entity_type: str | None
    entity_id: uuid.UUID | None
    action_description: str | None
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    ip_address: IPvAnyAddress | None
    user_agent: str | None
    request_method: str | None
    request_url: str | None
    response_status: int | None
    execution_time_ms: int | None
    error_message: str | None
    session_id: str | None
    request_id: str | None

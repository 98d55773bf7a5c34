from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from homeops.audit.repository import AuditRepository
from homeops.audit.schemas import AuditLogOut
from homeops.core.pagination import Page, PageParams, build_page, decode_cursor, page_params
from homeops.identity.deps import AdminUow

router = APIRouter(prefix="/api/v1/audit-logs", tags=["audit"])


@router.get("", response_model=Page[AuditLogOut])
async def list_audit_logs(
    uow: AdminUow,
    page: Annotated[PageParams, Depends(page_params)],
    user_id: uuid.UUID | None = None,
    entity_type: Annotated[str | None, Query(max_length=50)] = None,
    entity_id: uuid.UUID | None = None,
    action_type: Annotated[str | None, Query(max_length=100)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditLogOut]:
    """Audit trail, newest first (admins only; the database refuses everyone else's reads too)."""
    rows = await AuditRepository(uow.session).search(
        limit=page.limit,
        after=decode_cursor(page.cursor),
        user_id=user_id,
        entity_type=entity_type,
        entity_id=entity_id,
        action_type=action_type,
        since=since,
        until=until,
    )
    items, cursor = build_page(rows, page.limit, key=lambda r: (r.created_at, r.id))
    return Page(items=[AuditLogOut.model_validate(r) for r in items], next_cursor=cursor)

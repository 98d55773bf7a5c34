from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from homeops.core.pagination import Page, PageParams, page_params
from homeops.identity.deps import Uow
from homeops.notifications.schemas import NotificationOut, ReadAllOut
from homeops.notifications.service import NotificationService

router = APIRouter(prefix="/api/v1", tags=["notifications"])


async def _svc(uow: Uow) -> NotificationService:
    return NotificationService(uow)


Svc = Annotated[NotificationService, Depends(_svc)]


@router.get("/notifications", response_model=Page[NotificationOut])
async def list_notifications(
    svc: Svc, page: Annotated[PageParams, Depends(page_params)], unread_only: bool = False
) -> Page[NotificationOut]:
    """Your notifications, newest first (keyset pagination); deleted and expired ones are left out."""
    items, cursor = await svc.list_mine(page, unread_only)
    return Page(items=items, next_cursor=cursor)


@router.post("/notifications/read-all", response_model=ReadAllOut)
async def read_all_notifications(svc: Svc) -> ReadAllOut:
    return ReadAllOut(updated=await svc.read_all())


@router.post("/notifications/{notification_id}/read", response_model=NotificationOut)
async def read_notification(notification_id: uuid.UUID, svc: Svc) -> NotificationOut:
    return await svc.read(notification_id)


@router.delete("/notifications/{notification_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_notification(notification_id: uuid.UUID, svc: Svc) -> None:
    await svc.delete(notification_id)

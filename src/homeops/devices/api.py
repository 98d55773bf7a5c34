from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from homeops.core.pagination import Page, PageParams, page_params
from homeops.core.security import FieldCipher
from homeops.devices.groups import GroupService
from homeops.devices.models import DeviceStatus
from homeops.devices.schemas import (
    DeviceIn,
    DeviceOut,
    DevicePatch,
    GroupIn,
    GroupMemberIn,
    GroupOut,
    GroupPatch,
    WarrantyOut,
)
from homeops.devices.service import DeviceService
from homeops.identity.deps import Auth, Ctx, DbSession

router = APIRouter(prefix="/api/v1", tags=["devices"])
Paging = Annotated[PageParams, Depends(page_params)]


def _cipher(request: Request) -> FieldCipher:
    cipher: FieldCipher = request.app.state.cipher
    return cipher


def _svc(session: DbSession, ctx: Ctx, user: Auth, cipher: Annotated[FieldCipher, Depends(_cipher)]) -> DeviceService:
    return DeviceService(session, ctx, user, cipher)


def _groups(session: DbSession, ctx: Ctx, user: Auth) -> GroupService:
    return GroupService(session, ctx, user)


Svc = Annotated[DeviceService, Depends(_svc)]
Groups = Annotated[GroupService, Depends(_groups)]
Category = Annotated[str | None, Query(max_length=64)]
SerialQ = Annotated[str | None, Query(max_length=100, description="Exact serial number")]


@router.post("/homes/{home_id}/devices", status_code=status.HTTP_201_CREATED, response_model=DeviceOut)
async def create_device(home_id: uuid.UUID, body: DeviceIn, svc: Svc) -> DeviceOut:
    """Register an appliance or device. Give `model_id`, or `manufacturer` + `model_number` (linked to the
    catalog model when they match one); matching manuals are linked automatically."""
    return await svc.create(home_id, body)


@router.get("/homes/{home_id}/devices", response_model=Page[DeviceOut])
async def list_home_devices(
    home_id: uuid.UUID, svc: Svc, page: Paging, status: DeviceStatus | None = None, category: Category = None,
    room_id: uuid.UUID | None = None,
) -> Page[DeviceOut]:
    items, cursor = await svc.search(page, home_id=home_id, status=status, category=category, room_id=room_id)
    return Page(items=items, next_cursor=cursor)


@router.get("/devices", response_model=Page[DeviceOut])
async def list_devices(
    svc: Svc, page: Paging, status: DeviceStatus | None = None, category: Category = None, serial: SerialQ = None,
) -> Page[DeviceOut]:
    """Devices across the caller's homes, newest first, each with `manual_count` and `manual_types`
    (seed 000 Query 1, one SQL statement)."""
    items, cursor = await svc.search(page, status=status, category=category, serial=serial)
    return Page(items=items, next_cursor=cursor)


@router.get("/devices/warranty-expiring", response_model=list[WarrantyOut])
async def warranty_expiring(svc: Svc, days: Annotated[int, Query(ge=0, le=3650)] = 60) -> list[WarrantyOut]:
    return await svc.warranty_expiring(days)


@router.get("/devices/{device_id}", response_model=DeviceOut)
async def get_device(device_id: uuid.UUID, svc: Svc) -> DeviceOut:
    return await svc.get(device_id)


@router.patch("/devices/{device_id}", response_model=DeviceOut)
async def update_device(device_id: uuid.UUID, body: DevicePatch, svc: Svc) -> DeviceOut:
    return await svc.update(device_id, body)


@router.delete("/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_device(device_id: uuid.UUID, svc: Svc) -> None:
    await svc.delete(device_id)


@router.post("/homes/{home_id}/device-groups", status_code=status.HTTP_201_CREATED, response_model=GroupOut)
async def create_group(home_id: uuid.UUID, body: GroupIn, groups: Groups) -> GroupOut:
    return await groups.create(home_id, body)


@router.get("/homes/{home_id}/device-groups", response_model=list[GroupOut])
async def list_groups(home_id: uuid.UUID, groups: Groups) -> list[GroupOut]:
    return await groups.list(home_id)


@router.get("/device-groups/{group_id}", response_model=GroupOut)
async def get_group(group_id: uuid.UUID, groups: Groups) -> GroupOut:
    return await groups.get(group_id)


@router.patch("/device-groups/{group_id}", response_model=GroupOut)
async def update_group(group_id: uuid.UUID, body: GroupPatch, groups: Groups) -> GroupOut:
    return await groups.update(group_id, body)


@router.delete("/device-groups/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_group(group_id: uuid.UUID, groups: Groups) -> None:
    await groups.delete(group_id)


@router.post("/device-groups/{group_id}/devices", status_code=status.HTTP_201_CREATED, response_model=GroupOut)
async def add_group_device(group_id: uuid.UUID, body: GroupMemberIn, groups: Groups) -> GroupOut:
    return await groups.add_device(group_id, body.device_id)


@router.delete("/device-groups/{group_id}/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_group_device(group_id: uuid.UUID, device_id: uuid.UUID, groups: Groups) -> None:
    await groups.remove_device(group_id, device_id)

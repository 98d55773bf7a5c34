"""The devices API: devices, device groups, a device's manuals (seed 000 Query 2, uploads for a device) — and
the manual search, ``GET /api/v1/manuals/search``, and the library's moderation queue,
``GET /api/v1/moderation/manuals`` (it counts links to devices). These are on ``manuals_router`` (tagged
"manuals").

Why the manual search route lives here: with ``device_id`` it is scoped to one device's manuals, which
needs the device's access check and its links, both of the devices domain; the manual library
(``homeops.manuals``) sits below devices and may not import it. So the route is defined here (tagged
"manuals", same path, parameters and responses as before): it resolves the device scope with
``DeviceManualService.manual_scope`` and calls the library's ``ManualService.search(scope=…)``, which
knows nothing of devices. (``/api/v1/manuals/{manual_id}`` only matches UUIDs, so this route is reached
although the manuals router is included first.)
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from homeops.core.pagination import Page, PageParams, page_params
from homeops.core.routing import MB, body_limit
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
from homeops.devices.service import DeviceManualService, DeviceService, ModerationQueueService
from homeops.identity.deps import Uow
from homeops.manuals.deps import ManualForm, ModeratorUow, manual_form
from homeops.manuals.schemas import DeviceManualOut, ManualOut, QueueItem, SearchOut
from homeops.manuals.service import ManualService

router = APIRouter(prefix="/api/v1", tags=["devices"])
# A device's manuals and the library's search (see the module docstring): tagged "manuals", as they were.
manuals_router = APIRouter(prefix="/api/v1", tags=["manuals"])
Paging = Annotated[PageParams, Depends(page_params)]


async def _svc(uow: Uow) -> DeviceService:
    return DeviceService(uow)


async def _groups(uow: Uow) -> GroupService:
    return GroupService(uow)


async def _links(uow: Uow) -> DeviceManualService:
    return DeviceManualService(uow)


async def _library(uow: Uow) -> ManualService:
    return ManualService(uow)


async def _queue(uow: ModeratorUow) -> ModerationQueueService:
    return ModerationQueueService(uow)


Svc = Annotated[DeviceService, Depends(_svc)]
Queue = Annotated[ModerationQueueService, Depends(_queue)]
Groups = Annotated[GroupService, Depends(_groups)]
Links = Annotated[DeviceManualService, Depends(_links)]
Library = Annotated[ManualService, Depends(_library)]
Category = Annotated[str | None, Query(max_length=64)]
SerialQ = Annotated[str | None, Query(max_length=100, description="Exact serial number")]


@router.post("/homes/{home_id}/devices", status_code=status.HTTP_201_CREATED, response_model=DeviceOut)
async def create_device(home_id: uuid.UUID, body: DeviceIn, svc: Svc) -> DeviceOut:
    """Register an appliance or device. Give `model_id`, or `manufacturer` + `model_number` (linked to the
    catalog model when they match one); matching manuals are linked automatically. `brand` is accepted as a
    deprecated alias of `manufacturer`."""
    return await svc.create(home_id, body)


@router.get("/homes/{home_id}/devices", response_model=Page[DeviceOut])
async def list_home_devices(
    home_id: uuid.UUID,
    svc: Svc,
    page: Paging,
    status: DeviceStatus | None = None,
    category: Category = None,
    room_id: uuid.UUID | None = None,
) -> Page[DeviceOut]:
    items, cursor = await svc.search(page, home_id=home_id, status=status, category=category, room_id=room_id)
    return Page(items=items, next_cursor=cursor)


@router.get("/devices", response_model=Page[DeviceOut])
async def list_devices(
    svc: Svc,
    page: Paging,
    status: DeviceStatus | None = None,
    category: Category = None,
    serial: SerialQ = None,
) -> Page[DeviceOut]:
    """Devices across the caller's homes, newest first, each with `manual_count` and `manual_types`
    (seed 000 Query 1, one SQL statement)."""
    items, cursor = await svc.search(page, status=status, category=category, serial=serial)
    return Page(items=items, next_cursor=cursor)


@router.get("/devices/warranty-expiring", response_model=list[WarrantyOut])
async def warranty_expiring(svc: Svc, days: Annotated[int, Query(ge=0, le=3650)] = 60) -> list[WarrantyOut]:
    """Active devices whose warranty ends within `days` of today — each home's today, in its timezone."""
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


# --- a device's manuals --------------------------------------------------------------------------------
@manuals_router.get("/devices/{device_id}/manuals", response_model=list[DeviceManualOut])
async def device_manuals(device_id: uuid.UUID, links: Links) -> list[DeviceManualOut]:
    """A device's manuals: user, troubleshooting, installation, service, then others (seed 000 Query 2)."""
    return await links.manuals(device_id)


@manuals_router.post(
    "/devices/{device_id}/manuals",
    response_model=ManualOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ManualOut, "description": "Duplicate: the existing manual, now linked"}},
)
@body_limit(lambda s: s.max_manual_upload_mb * MB + MB)  # the file, plus the form around it
async def upload_device_manual(
    device_id: uuid.UUID,
    response: Response,
    links: Links,
    form: Annotated[ManualForm, Depends(manual_form)],
) -> ManualOut:
    """Upload a manual for this device: it is stored for the device's home (visible to that home only) and
    linked to the device; de-duplicated as `POST /api/v1/manuals` is (an existing manual the home can see is
    linked instead, 200)."""
    data, max_bytes = await form.read(links.uow)
    uploaded = await links.upload(device_id, data, form.file_name, form.meta, max_bytes)
    if not uploaded.created:
        response.status_code = status.HTTP_200_OK
    return uploaded.manual


@manuals_router.post("/devices/{device_id}/manuals/{manual_id}", status_code=status.HTTP_201_CREATED)
async def link_manual(
    device_id: uuid.UUID, manual_id: uuid.UUID, links: Links, response: Response
) -> dict[str, bool]:
    created = await links.link(device_id, manual_id)
    if not created:
        response.status_code = status.HTTP_200_OK
    return {"linked": True, "created": created}


@manuals_router.delete("/devices/{device_id}/manuals/{manual_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unlink_manual(device_id: uuid.UUID, manual_id: uuid.UUID, links: Links) -> None:
    await links.unlink(device_id, manual_id)


@manuals_router.get("/manuals/search", response_model=SearchOut)
async def search_manuals(
    links: Links,
    library: Library,
    q: Annotated[str, Query(min_length=2, max_length=300)],
    device_id: uuid.UUID | None = None,
    model_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchOut:
    """Ranked passages (manual, 1-based page, highlighted snippet, score, `source`: the verified library or
    your household's upload) from your library, optionally scoped to one device's manuals (the shared
    library's and that device's home's only) or one catalog model's. `mode` says whether vectors were used."""
    if device_id is not None:
        home_id, scope = await links.library_scope(device_id)
        return await library.search(q, scope=scope, homes=[home_id], limit=limit)
    return await library.search(q, model_id=model_id, limit=limit)


@manuals_router.get("/moderation/manuals", response_model=Page[QueueItem])
async def moderation_queue(
    queue: Queue,
    page: Paging,
    order: Annotated[
        Literal["newest", "most_linked"],
        Query(description="`newest` first, or `most_linked` first (then newest)"),
    ] = "newest",
) -> Page[QueueItem]:
    """The manuals waiting for support staff: unverified household uploads and shared manuals with open
    reports, each with its link count, open reports and latest reports. Support and admin staff only."""
    items, cursor = await queue.queue(page, most_linked=order == "most_linked")
    return Page(items=items, next_cursor=cursor)


# --- groups --------------------------------------------------------------------------------------------
@router.post("/homes/{home_id}/device-groups", status_code=status.HTTP_201_CREATED, response_model=GroupOut)
async def create_group(home_id: uuid.UUID, body: GroupIn, groups: Groups) -> GroupOut:
    return await groups.create(home_id, body)


@router.get("/homes/{home_id}/device-groups", response_model=list[GroupOut])
async def list_groups(home_id: uuid.UUID, groups: Groups) -> list[GroupOut]:
    return await groups.of_home(home_id)


@router.get("/device-groups/{group_id}", response_model=GroupOut)
async def get_group(group_id: uuid.UUID, groups: Groups) -> GroupOut:
    return await groups.get(group_id)


@router.patch("/device-groups/{group_id}", response_model=GroupOut)
async def update_group(group_id: uuid.UUID, body: GroupPatch, groups: Groups) -> GroupOut:
    return await groups.update(group_id, body)


@router.delete("/device-groups/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_group(group_id: uuid.UUID, groups: Groups) -> None:
    await groups.delete(group_id)


@router.post(
    "/device-groups/{group_id}/devices", status_code=status.HTTP_201_CREATED, response_model=GroupOut
)
async def add_group_device(group_id: uuid.UUID, body: GroupMemberIn, groups: Groups) -> GroupOut:
    return await groups.add_device(group_id, body.device_id)


@router.delete("/device-groups/{group_id}/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_group_device(group_id: uuid.UUID, device_id: uuid.UUID, groups: Groups) -> None:
    await groups.remove_device(group_id, device_id)

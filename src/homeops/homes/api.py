from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from homeops.core.pagination import Page, PageParams, page_params
from homeops.homes.schemas import HomeIn, HomeOut, HomePatch, MemberIn, MemberOut, RoomIn, RoomOut, RoomPatch
from homeops.homes.service import HomeService
from homeops.identity.deps import Uow

router = APIRouter(prefix="/api/v1", tags=["homes"])


async def _svc(uow: Uow) -> HomeService:
    return HomeService(uow)


Svc = Annotated[HomeService, Depends(_svc)]


@router.post("/homes", status_code=status.HTTP_201_CREATED, response_model=HomeOut)
async def create_home(body: HomeIn, svc: Svc) -> HomeOut:
    return await svc.create(body)


@router.get("/homes", response_model=Page[HomeOut])
async def list_homes(svc: Svc, page: Annotated[PageParams, Depends(page_params)]) -> Page[HomeOut]:
    """Homes the caller belongs to, newest first (keyset pagination)."""
    items, cursor = await svc.list_mine(page)
    return Page(items=items, next_cursor=cursor)


@router.get("/homes/{home_id}", response_model=HomeOut)
async def get_home(home_id: uuid.UUID, svc: Svc) -> HomeOut:
    return await svc.get(home_id)


@router.patch("/homes/{home_id}", response_model=HomeOut)
async def update_home(home_id: uuid.UUID, body: HomePatch, svc: Svc) -> HomeOut:
    return await svc.update(home_id, body)


@router.delete("/homes/{home_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_home(home_id: uuid.UUID, svc: Svc) -> None:
    await svc.delete(home_id)


@router.get("/homes/{home_id}/members", response_model=list[MemberOut])
async def list_members(home_id: uuid.UUID, svc: Svc) -> list[MemberOut]:
    return await svc.list_members(home_id)


@router.post("/homes/{home_id}/members", status_code=status.HTTP_201_CREATED, response_model=MemberOut)
async def add_member(home_id: uuid.UUID, body: MemberIn, svc: Svc) -> MemberOut:
    return await svc.add_member(home_id, body)


@router.delete("/homes/{home_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(home_id: uuid.UUID, user_id: uuid.UUID, svc: Svc) -> None:
    await svc.remove_member(home_id, user_id)


@router.post("/homes/{home_id}/rooms", status_code=status.HTTP_201_CREATED, response_model=RoomOut)
async def create_room(home_id: uuid.UUID, body: RoomIn, svc: Svc) -> RoomOut:
    return await svc.create_room(home_id, body)


@router.get("/homes/{home_id}/rooms", response_model=list[RoomOut])
async def list_rooms(home_id: uuid.UUID, svc: Svc) -> list[RoomOut]:
    return await svc.list_rooms(home_id)


@router.patch("/rooms/{room_id}", response_model=RoomOut)
async def update_room(room_id: uuid.UUID, body: RoomPatch, svc: Svc) -> RoomOut:
    return await svc.update_room(room_id, body)


@router.delete("/rooms/{room_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_room(room_id: uuid.UUID, svc: Svc) -> None:
    await svc.delete_room(room_id)

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from homeops.identity.deps import AdminUow, AnonymousUow
from homeops.settings.schemas import PublicSettingOut, SettingIn, SettingOut, SettingPatch
from homeops.settings.service import SettingService

router = APIRouter(prefix="/api/v1/settings", tags=["settings"])
KeyPath = Annotated[str, Path(max_length=255)]


@router.get("/public", response_model=list[PublicSettingOut])
async def public_settings(uow: AnonymousUow) -> list[PublicSettingOut]:
    """Settings a front end may read without signing in."""
    return await SettingService(uow).public()


@router.get("", response_model=list[SettingOut])
async def list_settings(
    uow: AdminUow, category: Annotated[str | None, Query(max_length=100)] = None
) -> list[SettingOut]:
    return await SettingService(uow).list_all(category)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SettingOut)
async def create_setting(body: SettingIn, uow: AdminUow) -> SettingOut:
    return await SettingService(uow).create(body)


@router.get("/{key}", response_model=SettingOut)
async def get_setting(key: KeyPath, uow: AdminUow) -> SettingOut:
    return await SettingService(uow).get(key)


@router.patch("/{key}", response_model=SettingOut)
async def update_setting(key: KeyPath, body: SettingPatch, uow: AdminUow) -> SettingOut:
    return await SettingService(uow).update(key, body)


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_setting(key: KeyPath, uow: AdminUow) -> None:
    await SettingService(uow).delete(key)

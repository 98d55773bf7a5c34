from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from homeops.identity.deps import AdminUser, Ctx, DbSession
from homeops.settings.schemas import PublicSettingOut, SettingIn, SettingOut, SettingPatch
from homeops.settings.service import SettingService

router = APIRouter(prefix="/api/v1/settings", tags=["settings"])
KeyPath = Annotated[str, Path(max_length=255)]


@router.get("/public", response_model=list[PublicSettingOut])
async def public_settings(session: DbSession, ctx: Ctx) -> list[PublicSettingOut]:
    """Settings a front end may read without signing in."""
    return await SettingService(session, ctx).public()


@router.get("", response_model=list[SettingOut])
async def list_settings(
    _: AdminUser, session: DbSession, ctx: Ctx, category: Annotated[str | None, Query(max_length=100)] = None
) -> list[SettingOut]:
    return await SettingService(session, ctx).list(category)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SettingOut)
async def create_setting(body: SettingIn, admin: AdminUser, session: DbSession, ctx: Ctx) -> SettingOut:
    return await SettingService(session, ctx).create(admin, body)


@router.get("/{key}", response_model=SettingOut)
async def get_setting(key: KeyPath, _: AdminUser, session: DbSession, ctx: Ctx) -> SettingOut:
    return await SettingService(session, ctx).get(key)


@router.patch("/{key}", response_model=SettingOut)
async def update_setting(key: KeyPath, body: SettingPatch, admin: AdminUser, session: DbSession, ctx: Ctx) -> SettingOut:
    return await SettingService(session, ctx).update(admin, key, body)


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_setting(key: KeyPath, _: AdminUser, session: DbSession, ctx: Ctx) -> None:
    await SettingService(session, ctx).delete(key)

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from homeops.core.pagination import Page, PageParams, page_params
from homeops.identity.deps import Uow
from homeops.organizations.schemas import (
    MemberIn,
    MemberOut,
    MemberPatch,
    OrganizationIn,
    OrganizationOut,
    OrganizationPatch,
)
from homeops.organizations.service import OrganizationService

router = APIRouter(prefix="/api/v1", tags=["organizations"])


async def _svc(uow: Uow) -> OrganizationService:
    return OrganizationService(uow)


Svc = Annotated[OrganizationService, Depends(_svc)]


@router.post("/organizations", status_code=status.HTTP_201_CREATED, response_model=OrganizationOut)
async def create_organization(body: OrganizationIn, svc: Svc) -> OrganizationOut:
    """Creates an organization; the caller becomes its owner."""
    return await svc.create(body)


@router.get("/organizations", response_model=Page[OrganizationOut])
async def list_organizations(
    svc: Svc, page: Annotated[PageParams, Depends(page_params)]
) -> Page[OrganizationOut]:
    """Organizations the caller belongs to, newest first (keyset pagination), with the caller's role."""
    items, cursor = await svc.list_mine(page)
    return Page(items=items, next_cursor=cursor)


@router.get("/organizations/{org_id}", response_model=OrganizationOut)
async def get_organization(org_id: uuid.UUID, svc: Svc) -> OrganizationOut:
    return await svc.get(org_id)


@router.patch("/organizations/{org_id}", response_model=OrganizationOut)
async def update_organization(org_id: uuid.UUID, body: OrganizationPatch, svc: Svc) -> OrganizationOut:
    """Owners and managers."""
    return await svc.update(org_id, body)


@router.delete("/organizations/{org_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_organization(org_id: uuid.UUID, svc: Svc) -> None:
    """Owners only: a soft delete; every membership ends."""
    await svc.delete(org_id)


@router.get("/organizations/{org_id}/members", response_model=list[MemberOut])
async def list_members(org_id: uuid.UUID, svc: Svc) -> list[MemberOut]:
    return await svc.list_members(org_id)


@router.post("/organizations/{org_id}/members", status_code=status.HTTP_201_CREATED, response_model=MemberOut)
async def add_member(org_id: uuid.UUID, body: MemberIn, svc: Svc) -> MemberOut:
    """Owners and managers add an existing account by e-mail, with any role but owner."""
    return await svc.add_member(org_id, body)


@router.patch("/organizations/{org_id}/members/{user_id}", response_model=MemberOut)
async def change_member_role(org_id: uuid.UUID, user_id: uuid.UUID, body: MemberPatch, svc: Svc) -> MemberOut:
    """Owners and managers; only an owner changes an owner's role or makes someone an owner."""
    return await svc.change_role(org_id, user_id, body)


@router.delete("/organizations/{org_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(org_id: uuid.UUID, user_id: uuid.UUID, svc: Svc) -> None:
    """Owners and managers remove members (only owners remove owners); a member may leave. The last owner
    stays (409)."""
    await svc.remove_member(org_id, user_id)

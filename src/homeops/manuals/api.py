"""The manual library's API. A device's manuals (``/devices/{id}/manuals``), the manual search (which may be
scoped to one device) and the moderation queue (which counts links to devices) are served by
``homeops.devices.api``: the library knows nothing of devices.

``manufacturer`` is the field's name, as everywhere in the API; ``brand`` (its name here until 0.x) is
accepted on upload and as a listing filter, and still emitted in the output, deprecated, for one release.

Moderation (verify, hide, reports of a manual) is for support and admin staff: everyone else gets 403
``role_required`` before anything is looked up; trusted sources are listed by admins.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Response, status

from homeops.core.pagination import Page, PageParams, page_params
from homeops.core.routing import MB, body_limit
from homeops.core.schemas import DownloadOut
from homeops.identity.deps import AdminUow, Uow
from homeops.manuals.deps import ManualForm, ModeratorUow, manual_form
from homeops.manuals.models import ManualStatus, ManualType
from homeops.manuals.moderation import ManualModeration
from homeops.manuals.schemas import (
    BRAND_DEPRECATED,
    HideIn,
    ManualOut,
    ManualSource,
    ReportIn,
    ReportOut,
    TrustedSourceIn,
    TrustedSourceOut,
)
from homeops.manuals.service import ManualService

router = APIRouter(prefix="/api/v1", tags=["manuals"])


async def _svc(uow: Uow) -> ManualService:
    return ManualService(uow)


async def _moderation(uow: Uow) -> ManualModeration:
    return ManualModeration(uow)


async def _moderator(uow: ModeratorUow) -> ManualModeration:
    return ManualModeration(uow)


async def _admin(uow: AdminUow) -> ManualModeration:
    return ManualModeration(uow)


Svc = Annotated[ManualService, Depends(_svc)]
Moderation = Annotated[ManualModeration, Depends(_moderation)]
Moderator = Annotated[ManualModeration, Depends(_moderator)]
Admin = Annotated[ManualModeration, Depends(_admin)]
Form_ = Annotated[ManualForm, Depends(manual_form)]


@router.post(
    "/manuals",
    response_model=ManualOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ManualOut, "description": "Duplicate: the existing manual, with duplicate_level"}
    },
)
@body_limit(lambda s: s.max_manual_upload_mb * MB + MB)  # the file, plus the form around it
async def upload_manual(
    response: Response,
    svc: Svc,
    form: Form_,
    home_id: Annotated[
        uuid.UUID | None,
        Form(description="The home this manual is for (default: your only home). Visible to that home only."),
    ] = None,
    organization_id: Annotated[
        uuid.UUID | None,
        Form(description="Publish into the shared library as this trusted partner organization."),
    ] = None,
) -> ManualOut:
    """Upload a manual — for one of your homes (visible to, linked and cited in that home only), or into the
    shared library when you are a trusted source (support staff; a trusted partner organization's member,
    `organization_id`), which needs a verified email.

    De-duplicated against what that home can see (the shared library and its own uploads): the same file
    (`file_hash`) or the same text (`content_hash`) answers 200 with the existing manual; a manual with the
    same manufacturer, an overlapping model number, type and version but other content is reported
    (`duplicate_level: composite`, `duplicate_of`) and your file is stored anyway (201). A new manual is
    processed in the background (`status`: pending → processing → ready | failed)."""
    target = await svc.target(home_id, organization_id)
    data, max_bytes = await form.read(svc.uow)
    uploaded = await svc.upload(data, form.file_name, form.meta, max_bytes, target)
    if not uploaded.created:
        response.status_code = status.HTTP_200_OK
    return uploaded.manual


@router.get("/manuals", response_model=Page[ManualOut])
async def list_manuals(
    svc: Svc,
    page: Annotated[PageParams, Depends(page_params)],
    manufacturer: Annotated[str | None, Query(max_length=255)] = None,
    brand: Annotated[str | None, Query(max_length=255, description=BRAND_DEPRECATED, deprecated=True)] = None,
    model_number: Annotated[str | None, Query(max_length=255)] = None,
    manual_type: ManualType | None = None,
    status: ManualStatus | None = None,
    source: Annotated[
        ManualSource | None,
        Query(description="`verified` (the shared library) or `household` (your uploads)"),
    ] = None,
) -> Page[ManualOut]:
    """Your library: the shared library and your homes' own uploads, newest first."""
    items, cursor = await svc.browse(
        page,
        manufacturer=manufacturer or brand,
        model_number=model_number,
        manual_type=manual_type,
        status=status,
        source=source,
    )
    return Page(items=items, next_cursor=cursor)


# ``:uuid``: only ids match, so ``/manuals/search`` (served by the devices router) is not taken for one.
@router.get("/manuals/{manual_id:uuid}", response_model=ManualOut)
async def get_manual(manual_id: uuid.UUID, svc: Svc) -> ManualOut:
    return await svc.get(manual_id)


@router.get("/manuals/{manual_id}/download", response_model=DownloadOut)
async def download_manual(manual_id: uuid.UUID, svc: Svc) -> DownloadOut:
    """A signed URL for the PDF, valid for 15 minutes."""
    return await svc.download(manual_id)


@router.delete("/manuals/{manual_id:uuid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_manual(manual_id: uuid.UUID, moderation: Moderation) -> None:
    """Delete a manual: support staff any; a home's members their household's own uploads (a shared manual:
    403 `moderators_only` — report it). Its links, passages and reports go too; the file after the commit."""
    await moderation.delete(manual_id)


@router.post("/manuals/{manual_id}/reports", response_model=ReportOut, status_code=status.HTTP_201_CREATED)
async def report_manual(manual_id: uuid.UUID, body: ReportIn, svc: Svc) -> ReportOut:
    """Report a manual you can see (wrong model, unsafe, a scam …): support staff review it. One open report
    per manual and user (409 `already_reported`)."""
    return await svc.report(manual_id, body.reason)


# --- moderation (support and admin staff) ----------------------------------------------------------------
@router.get("/manuals/{manual_id}/reports", response_model=list[ReportOut])
async def manual_reports(manual_id: uuid.UUID, moderation: Moderator) -> list[ReportOut]:
    """The reports filed against a manual, newest first (support staff)."""
    return await moderation.reports(manual_id)


@router.post("/manuals/{manual_id}/verify", response_model=ManualOut)
async def verify_manual(manual_id: uuid.UUID, moderation: Moderator) -> ManualOut:
    """Verify a manual (support staff): it joins the shared library and is linked into every matching home;
    its open reports are dismissed. 409 `already_in_library` when the library holds the same file."""
    return await moderation.verify(manual_id)


@router.post("/manuals/{manual_id}/hide", response_model=ManualOut)
async def hide_manual(manual_id: uuid.UUID, body: HideIn, moderation: Moderator) -> ManualOut:
    """Hide a manual (support staff): nobody else sees, searches or cites it any more; open reports upheld."""
    return await moderation.hide(manual_id, body.reason)


@router.get("/manual-sources", response_model=list[TrustedSourceOut])
async def trusted_sources(moderation: Moderator) -> list[TrustedSourceOut]:
    """The partner organizations whose members publish straight into the shared library."""
    return await moderation.trusted_sources()


@router.put(
    "/manual-sources/{organization_id}",
    response_model=TrustedSourceOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": TrustedSourceOut, "description": "It already was a trusted source"}},
)
async def trust_source(
    organization_id: uuid.UUID, response: Response, admin: Admin, body: TrustedSourceIn | None = None
) -> TrustedSourceOut:
    """List a partner organization as a trusted source of manuals (admins): its members (technician and
    above, verified email) upload into the shared library with `organization_id`."""
    source, created = await admin.trust(organization_id, body.note if body else None)
    if not created:
        response.status_code = status.HTTP_200_OK
    return source


@router.delete("/manual-sources/{organization_id}", status_code=status.HTTP_204_NO_CONTENT)
async def untrust_source(organization_id: uuid.UUID, admin: Admin) -> None:
    await admin.untrust(organization_id)

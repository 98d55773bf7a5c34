from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from homeops.core.pagination import Page, PageParams, page_params
from homeops.core.schemas import DownloadOut
from homeops.identity.deps import AppSettings, Auth, Ctx, DbSession
from homeops.manuals.models import ManualStatus, ManualType
from homeops.manuals.schemas import DeviceManualOut, ManualMeta, ManualOut, SearchOut
from homeops.manuals.service import ManualService

router = APIRouter(prefix="/api/v1", tags=["manuals"])


def _svc(request: Request, session: DbSession, ctx: Ctx, user: Auth) -> ManualService:
    return ManualService(session, ctx, user, request.app.state.storage, request.app.state.embedder)


Svc = Annotated[ManualService, Depends(_svc)]


@router.post(
    "/manuals",
    response_model=ManualOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ManualOut, "description": "Duplicate: the existing manual, with duplicate_level"}},
)
async def upload_manual(
    response: Response,
    svc: Svc,
    settings: AppSettings,
    file: Annotated[UploadFile, File(description="The manual (PDF)")],
    brand: Annotated[str, Form()],
    model_numbers: Annotated[list[str], Form(description="Repeat the field or separate with commas")] = [],  # noqa: B006
    category: Annotated[str | None, Form()] = None,
    manual_type: Annotated[ManualType, Form()] = ManualType.user,
    language: Annotated[str, Form()] = "en",
    version: Annotated[str, Form()] = "",
    year: Annotated[int | None, Form()] = None,
    title: Annotated[str | None, Form()] = None,
    source_url: Annotated[str | None, Form()] = None,
) -> ManualOut:
    """Upload a manual. De-duplicated in order by file hash, by normalised text (content hash), then by
    brand + overlapping model number + manual type + version: a duplicate stores nothing and answers 200
    with the existing manual and `duplicate_level`; a new manual answers 201 and is processed in the
    background (`status`: pending → processing → ready | failed)."""
    try:
        meta = ManualMeta(brand=brand, model_numbers=model_numbers, category=category or None,
                          manual_type=manual_type, language=language, version=version, year=year,
                          title=title, source_url=source_url or None)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        ) from exc
    max_bytes = settings.max_manual_upload_mb * 1024 * 1024
    data = await file.read(max_bytes + 1)
    manual, duplicate = await svc.upload(data, file.filename or "manual.pdf", meta, max_bytes)
    if duplicate:
        response.status_code = status.HTTP_200_OK
    return manual


@router.get("/manuals", response_model=Page[ManualOut])
async def list_manuals(
    svc: Svc,
    page: Annotated[PageParams, Depends(page_params)],
    brand: Annotated[str | None, Query(max_length=255)] = None,
    model_number: Annotated[str | None, Query(max_length=255)] = None,
    manual_type: ManualType | None = None,
    status: ManualStatus | None = None,
) -> Page[ManualOut]:
    items, cursor = await svc.list(page, brand=brand, model_number=model_number, manual_type=manual_type,
                                   status=status)
    return Page(items=items, next_cursor=cursor)


@router.get("/manuals/search", response_model=SearchOut)
async def search_manuals(
    svc: Svc,
    q: Annotated[str, Query(min_length=2, max_length=300)],
    device_id: uuid.UUID | None = None,
    model_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchOut:
    """Ranked passages (manual, 1-based page, highlighted snippet, score), optionally scoped to one
    device's manuals or one catalog model's. `mode` says whether vectors were used."""
    return await svc.search(q, device_id=device_id, model_id=model_id, limit=limit)


@router.get("/manuals/{manual_id}", response_model=ManualOut)
async def get_manual(manual_id: uuid.UUID, svc: Svc) -> ManualOut:
    return await svc.get(manual_id)


@router.get("/manuals/{manual_id}/download", response_model=DownloadOut)
async def download_manual(manual_id: uuid.UUID, svc: Svc) -> DownloadOut:
    """A signed URL for the PDF, valid for 15 minutes."""
    return await svc.download(manual_id)


@router.get("/devices/{device_id}/manuals", response_model=list[DeviceManualOut])
async def device_manuals(device_id: uuid.UUID, svc: Svc) -> list[DeviceManualOut]:
    """A device's manuals: user, troubleshooting, installation, service, then others (seed 000 Query 2)."""
    return await svc.for_device(device_id)


@router.post("/devices/{device_id}/manuals/{manual_id}", status_code=status.HTTP_201_CREATED)
async def link_manual(device_id: uuid.UUID, manual_id: uuid.UUID, svc: Svc, response: Response) -> dict[str, bool]:
    created = await svc.link(device_id, manual_id)
    if not created:
        response.status_code = status.HTTP_200_OK
    return {"linked": True, "created": created}


@router.delete("/devices/{device_id}/manuals/{manual_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unlink_manual(device_id: uuid.UUID, manual_id: uuid.UUID, svc: Svc) -> None:
    await svc.unlink(device_id, manual_id)

"""The manual library's API. A device's manuals (``/devices/{id}/manuals``) and the manual search (which may
be scoped to one device) are served by ``homeops.devices.api``: the library knows nothing of devices.

``manufacturer`` is the field's name, as everywhere in the API; ``brand`` (its name here until 0.x) is
accepted on upload and as a listing filter, and still emitted in the output, deprecated, for one release.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from homeops.core.pagination import Page, PageParams, page_params
from homeops.core.schemas import DownloadOut
from homeops.identity.deps import Uow
from homeops.manuals.models import ManualStatus, ManualType
from homeops.manuals.schemas import BRAND_DEPRECATED, ManualMeta, ManualOut
from homeops.manuals.service import ManualService

router = APIRouter(prefix="/api/v1", tags=["manuals"])


async def _svc(uow: Uow) -> ManualService:
    return ManualService(uow)


Svc = Annotated[ManualService, Depends(_svc)]


@router.post(
    "/manuals",
    response_model=ManualOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ManualOut, "description": "Duplicate: the existing manual, with duplicate_level"}
    },
)
async def upload_manual(
    response: Response,
    svc: Svc,
    file: Annotated[UploadFile, File(description="The manual (PDF)")],
    manufacturer: Annotated[
        str | None, Form(description="The manufacturer's name (required; or `brand`)")
    ] = None,
    brand: Annotated[str | None, Form(description=BRAND_DEPRECATED, deprecated=True)] = None,
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
    manufacturer + overlapping model number + manual type + version: a duplicate stores nothing and answers
    200 with the existing manual and `duplicate_level`; a new manual answers 201 and is processed in the
    background (`status`: pending → processing → ready | failed)."""
    try:
        meta = ManualMeta.model_validate(
            {
                "manufacturer": manufacturer if manufacturer is not None else brand,
                "model_numbers": model_numbers,
                "category": category or None,
                "manual_type": manual_type,
                "language": language,
                "version": version,
                "year": year,
                "title": title,
                "source_url": source_url or None,
            }
        )
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        ) from exc
    max_bytes = svc.uow.runtime.settings.max_manual_upload_mb * 1024 * 1024
    data = await file.read(max_bytes + 1)
    manual, duplicate = await svc.upload(data, file.filename or "manual.pdf", meta, max_bytes)
    if duplicate:
        response.status_code = status.HTTP_200_OK
    return manual


@router.get("/manuals", response_model=Page[ManualOut])
async def list_manuals(
    svc: Svc,
    page: Annotated[PageParams, Depends(page_params)],
    manufacturer: Annotated[str | None, Query(max_length=255)] = None,
    brand: Annotated[str | None, Query(max_length=255, description=BRAND_DEPRECATED, deprecated=True)] = None,
    model_number: Annotated[str | None, Query(max_length=255)] = None,
    manual_type: ManualType | None = None,
    status: ManualStatus | None = None,
) -> Page[ManualOut]:
    items, cursor = await svc.browse(
        page,
        manufacturer=manufacturer or brand,
        model_number=model_number,
        manual_type=manual_type,
        status=status,
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

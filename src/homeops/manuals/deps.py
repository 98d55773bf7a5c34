"""Route dependencies of the manual library, shared with the devices API (a device's upload, the moderation
queue): the multipart form of an upload (``POST /api/v1/manuals``, ``POST /api/v1/devices/{id}/manuals``) —
the file and its metadata, validated as ``ManualMeta`` (422 problem+json like a JSON body) — and
``ModeratorUow``, the unit of work of support and admin staff (403 ``role_required`` for everyone else)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, File, Form, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import StringConstraints, ValidationError

from homeops.core.tenancy import UserRole
from homeops.core.uow import UnitOfWork
from homeops.identity.deps import require_roles
from homeops.manuals.models import ManualType
from homeops.manuals.schemas import BRAND_DEPRECATED, ManualMeta

ModeratorUow = Annotated[UnitOfWork, Depends(require_roles(UserRole.support, UserRole.admin))]


@dataclass
class ManualForm:
    file: UploadFile
    meta: ManualMeta

    async def read(self, uow: UnitOfWork) -> tuple[bytes, int]:
        """The file's bytes (at most one byte over the limit, so the service can tell) and the limit."""
        max_bytes = uow.runtime.settings.max_manual_upload_mb * 1024 * 1024
        return await self.file.read(max_bytes + 1), max_bytes

    @property
    def file_name(self) -> str:
        return self.file.filename or "manual.pdf"


async def manual_form(
    file: Annotated[UploadFile, File(description="The manual (PDF)")],
    manufacturer: Annotated[
        str | None,
        Form(description="The manufacturer's name (required; or `brand`)", max_length=255, pattern=r"\S"),
    ] = None,
    brand: Annotated[
        str | None, Form(description=BRAND_DEPRECATED, deprecated=True, max_length=255, pattern=r"\S")
    ] = None,
    model_numbers: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=255)]],
        Form(description="Repeat the field or separate with commas", max_length=50),
    ] = [],  # noqa: B006
    category: Annotated[str | None, Form(pattern=r"^([a-z][a-z0-9_]{1,63})?$")] = None,
    manual_type: Annotated[ManualType, Form()] = ManualType.user,
    language: Annotated[str, Form(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")] = "en",
    version: Annotated[str, Form(max_length=50)] = "",
    year: Annotated[int | None, Form(ge=1900, le=2100)] = None,
    title: Annotated[str | None, Form(max_length=500)] = None,
    source_url: Annotated[str | None, Form(max_length=2000, pattern=r"^(https?://.*)?$")] = None,
) -> ManualForm:
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
    return ManualForm(file, meta)

"""Catalog rules: names are unique case-insensitively, model numbers per manufacturer, categories exist."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError

from homeops.catalog.models import CommonProblem, DeviceModel, Manufacturer, ModelMaintenanceTemplate
from homeops.catalog.repository import CatalogRepository
from homeops.catalog.schemas import (
    CategoryOut,
    EcosystemOut,
    ManufacturerIn,
    ManufacturerOut,
    ManufacturerPatch,
    ModelDetailOut,
    ModelIn,
    ModelOut,
    ModelPatch,
    ProblemIn,
    ProblemOut,
    TemplateIn,
    TemplateOut,
)
from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, NotFound, UnprocessableEntity
from homeops.core.pagination import (
    PageParams,
    build_page,
    decode_cursor,
    decode_text_cursor,
    encode_text_cursor,
)
from homeops.core.uow import UnitOfWork


class ManufacturerNotFound(NotFound):
    code, title = "manufacturer_not_found", "Manufacturer not found"


class ModelNotFound(NotFound):
    code, title = "model_not_found", "Model not found"


class UnknownCategory(UnprocessableEntity):
    code, title = "unknown_category", "Unknown category"


def model_out(model: DeviceModel, manufacturer: str) -> ModelOut:
    return ModelOut.model_validate(
        {
            **{c: getattr(model, c) for c in ModelOut.model_fields if hasattr(model, c)},
            "manufacturer": manufacturer,
            "category": model.category_code,
        }
    )


class CatalogService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        session = uow.session
        self.session = session
        self.repo = CatalogRepository(session)

    async def categories(self) -> list[CategoryOut]:
        return [CategoryOut.model_validate(c) for c in await self.repo.categories()]

    async def ecosystems(self) -> list[EcosystemOut]:
        return [EcosystemOut.model_validate(e) for e in await self.repo.ecosystems()]

    async def require_category(self, code: str) -> None:
        if await self.repo.category(code) is None:
            raise UnknownCategory(f"No category {code!r}; see GET /api/v1/categories.")

    # --- manufacturers ------------------------------------------------------------------------------
    async def list_manufacturers(
        self, q: str | None, page: PageParams
    ) -> tuple[list[ManufacturerOut], str | None]:
        rows = await self.repo.manufacturers(q, page.limit, decode_text_cursor(page.cursor))
        items = rows[: page.limit]
        cursor = encode_text_cursor(items[-1].name.lower(), items[-1].id) if len(rows) > page.limit else None
        return [ManufacturerOut.model_validate(m) for m in items], cursor

    async def get_manufacturer(self, manufacturer_id: uuid.UUID) -> ManufacturerOut:
        row = await self.repo.manufacturer(manufacturer_id)
        if row is None:
            raise ManufacturerNotFound()
        return ManufacturerOut.model_validate(row)

    async def create_manufacturer(self, data: ManufacturerIn) -> ManufacturerOut:
        values = data.model_dump(mode="json")
        row = Manufacturer(
            **{k: v for k, v in values.items() if k != "metadata"}, metadata_=values["metadata"]
        )
        try:
            async with self.session.begin_nested():
                await self.repo.add(row)
        except IntegrityError as exc:
            raise Conflict("A manufacturer with this name exists.", code="manufacturer_exists") from exc
        self.uow.record(AuditEntry("manufacturer_created", "manufacturer", row.id, new_values=values))
        return ManufacturerOut.model_validate(row)

    async def update_manufacturer(
        self, manufacturer_id: uuid.UUID, patch: ManufacturerPatch
    ) -> ManufacturerOut:
        row = await self.repo.manufacturer(manufacturer_id)
        if row is None:
            raise ManufacturerNotFound()
        changes = patch.model_dump(exclude_unset=True, mode="json")
        if "name" in changes and not changes["name"]:
            raise UnprocessableEntity("name cannot be empty.")
        old: dict[str, Any] = {}
        for key, value in changes.items():
            attr = "metadata_" if key == "metadata" else key
            old[key] = getattr(row, attr)
            setattr(row, attr, value if value is not None or key != "metadata" else {})
        try:
            async with self.session.begin_nested():
                await self.repo.refresh(row)
        except IntegrityError as exc:
            raise Conflict("A manufacturer with this name exists.", code="manufacturer_exists") from exc
        self.uow.record(
            AuditEntry("manufacturer_updated", "manufacturer", row.id, old_values=old, new_values=changes)
        )
        return ManufacturerOut.model_validate(row)

    async def manufacturer_named(self, name: str, *, create: bool) -> Manufacturer | None:
        row = await self.repo.manufacturer_by_name(name)
        if row is None and create:
            row = Manufacturer(name=name.strip())
            await self.repo.add(row)
            self.uow.record(
                AuditEntry("manufacturer_created", "manufacturer", row.id, new_values={"name": row.name})
            )
        return row

    # --- models -------------------------------------------------------------------------------------
    async def list_models(
        self,
        page: PageParams,
        *,
        manufacturer: str | None,
        category: str | None,
        model_number: str | None,
        q: str | None,
    ) -> tuple[list[ModelOut], str | None]:
        manufacturer_id = None
        manufacturer_name = None
        if manufacturer:
            try:
                manufacturer_id = uuid.UUID(manufacturer)
            except ValueError:
                manufacturer_name = manufacturer
        rows = await self.repo.models(
            manufacturer_id=manufacturer_id,
            manufacturer_name=manufacturer_name,
            category=category,
            model_number=model_number,
            q=q,
            limit=page.limit,
            after=decode_cursor(page.cursor),
        )
        items, cursor = build_page(rows, page.limit, key=lambda r: (r[0].created_at, r[0].id))
        return [model_out(m, n) for m, n in items], cursor

    async def get_model(self, model_id: uuid.UUID) -> ModelDetailOut:
        found = await self.repo.model(model_id)
        if found is None:
            raise ModelNotFound()
        model, manufacturer = found
        base = model_out(model, manufacturer).model_dump()
        return ModelDetailOut(
            **base,
            problems=[ProblemOut.model_validate(p) for p in await self.repo.problems(model_id)],
            maintenance_templates=[
                TemplateOut.model_validate(t) for t in await self.repo.templates(model_id)
            ],
        )

    async def create_model(self, data: ModelIn) -> ModelDetailOut:
        if (data.manufacturer_id is None) == (data.manufacturer is None):
            raise UnprocessableEntity("Give exactly one of manufacturer_id and manufacturer.")
        await self.require_category(data.category)
        if data.manufacturer_id is not None:
            maker = await self.repo.manufacturer(data.manufacturer_id)
            if maker is None:
                raise ManufacturerNotFound()
        else:
            maker = await self.manufacturer_named(data.manufacturer or "", create=True)
        assert maker is not None
        if data.replacement_model_id and await self.repo.model(data.replacement_model_id) is None:
            raise ModelNotFound("The replacement model does not exist.")
        values = data.model_dump(exclude={"manufacturer", "manufacturer_id", "category"})
        row = DeviceModel(manufacturer_id=maker.id, category_code=data.category, **values)
        try:
            async with self.session.begin_nested():
                await self.repo.add(row)
        except IntegrityError as exc:
            raise Conflict(
                "This manufacturer already has a model with this number.", code="model_exists"
            ) from exc
        self.uow.record(
            AuditEntry("model_created", "device_model", row.id, new_values=data.model_dump(mode="json"))
        )
        return await self.get_model(row.id)

    async def update_model(self, model_id: uuid.UUID, patch: ModelPatch) -> ModelDetailOut:
        found = await self.repo.model(model_id)
        if found is None:
            raise ModelNotFound()
        model, _ = found
        changes = patch.model_dump(exclude_unset=True)
        if "category" in changes:
            if changes["category"] is None:
                raise UnprocessableEntity("category cannot be null.")
            await self.require_category(changes["category"])
        if changes.get("replacement_model_id") == model_id:
            raise UnprocessableEntity("A model cannot replace itself.")
        old = {}
        for key, value in changes.items():
            attr = "category_code" if key == "category" else key
            old[key] = getattr(model, attr)
            spec = key.endswith("_specs") or key == "capabilities"
            setattr(model, attr, value if value is not None or not spec else {})
        await self.repo.refresh(model)
        self.uow.record(
            AuditEntry("model_updated", "device_model", model_id, old_values=old, new_values=changes)
        )
        return await self.get_model(model_id)

    async def add_problem(self, model_id: uuid.UUID, data: ProblemIn) -> ProblemOut:
        if await self.repo.model(model_id) is None:
            raise ModelNotFound()
        row = CommonProblem(model_id=model_id, **data.model_dump())
        await self.repo.add(row)
        self.uow.record(
            AuditEntry("problem_created", "common_problem", row.id, new_values=data.model_dump(mode="json"))
        )
        return ProblemOut.model_validate(row)

    async def list_problems(self, model_id: uuid.UUID) -> list[ProblemOut]:
        if await self.repo.model(model_id) is None:
            raise ModelNotFound()
        return [ProblemOut.model_validate(p) for p in await self.repo.problems(model_id)]

    async def add_template(self, model_id: uuid.UUID, data: TemplateIn) -> TemplateOut:
        if await self.repo.model(model_id) is None:
            raise ModelNotFound()
        row = ModelMaintenanceTemplate(model_id=model_id, **data.model_dump())
        await self.repo.add(row)
        self.uow.record(
            AuditEntry(
                "maintenance_template_created",
                "device_model",
                model_id,
                new_values=data.model_dump(mode="json"),
            )
        )
        return TemplateOut.model_validate(row)

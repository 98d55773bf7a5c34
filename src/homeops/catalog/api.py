from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

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
from homeops.catalog.service import CatalogService
from homeops.core.pagination import Page, PageParams, page_params
from homeops.identity.deps import AdminUow, Uow

router = APIRouter(prefix="/api/v1", tags=["catalog"])
Paging = Annotated[PageParams, Depends(page_params)]


async def _svc(uow: Uow) -> CatalogService:
    return CatalogService(uow)


async def _admin_svc(uow: AdminUow) -> CatalogService:
    return CatalogService(uow)


Svc = Annotated[CatalogService, Depends(_svc)]
AdminSvc = Annotated[CatalogService, Depends(_admin_svc)]


@router.get("/categories", response_model=list[CategoryOut])
async def list_categories(svc: Svc) -> list[CategoryOut]:
    """The category taxonomy (appliances, HVAC, fire safety, smart home)."""
    return await svc.categories()


@router.get("/ecosystems", response_model=list[EcosystemOut])
async def list_ecosystems(svc: Svc) -> list[EcosystemOut]:
    return await svc.ecosystems()


@router.get("/manufacturers", response_model=Page[ManufacturerOut])
async def list_manufacturers(
    svc: Svc, page: Paging, q: Annotated[str | None, Query(max_length=100)] = None
) -> Page[ManufacturerOut]:
    items, cursor = await svc.list_manufacturers(q, page)
    return Page(items=items, next_cursor=cursor)


@router.post("/manufacturers", status_code=status.HTTP_201_CREATED, response_model=ManufacturerOut)
async def create_manufacturer(body: ManufacturerIn, svc: AdminSvc) -> ManufacturerOut:
    return await svc.create_manufacturer(body)


@router.get("/manufacturers/{manufacturer_id}", response_model=ManufacturerOut)
async def get_manufacturer(manufacturer_id: uuid.UUID, svc: Svc) -> ManufacturerOut:
    return await svc.get_manufacturer(manufacturer_id)


@router.patch("/manufacturers/{manufacturer_id}", response_model=ManufacturerOut)
async def update_manufacturer(
    manufacturer_id: uuid.UUID, body: ManufacturerPatch, svc: AdminSvc
) -> ManufacturerOut:
    return await svc.update_manufacturer(manufacturer_id, body)


@router.get("/models", response_model=Page[ModelOut])
async def list_models(
    svc: Svc,
    page: Paging,
    manufacturer: Annotated[str | None, Query(max_length=255, description="Manufacturer id or name")] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    model_number: Annotated[str | None, Query(max_length=255)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Full-text search over names")] = None,
) -> Page[ModelOut]:
    """Models with their factory specifications. Seed 001's "get factory specifications" is
    `GET /api/v1/models?manufacturer=Daikin&model_number=FTXS12WVJU9`."""
    items, cursor = await svc.list_models(
        page, manufacturer=manufacturer, category=category, model_number=model_number, q=q
    )
    return Page(items=items, next_cursor=cursor)


@router.post("/models", status_code=status.HTTP_201_CREATED, response_model=ModelDetailOut)
async def create_model(body: ModelIn, svc: AdminSvc) -> ModelDetailOut:
    return await svc.create_model(body)


@router.get("/models/{model_id}", response_model=ModelDetailOut)
async def get_model(model_id: uuid.UUID, svc: Svc) -> ModelDetailOut:
    """A model with its specifications, common problems and maintenance templates."""
    return await svc.get_model(model_id)


@router.patch("/models/{model_id}", response_model=ModelDetailOut)
async def update_model(model_id: uuid.UUID, body: ModelPatch, svc: AdminSvc) -> ModelDetailOut:
    return await svc.update_model(model_id, body)


@router.get("/models/{model_id}/problems", response_model=list[ProblemOut])
async def list_problems(model_id: uuid.UUID, svc: Svc) -> list[ProblemOut]:
    return await svc.list_problems(model_id)


@router.post("/models/{model_id}/problems", status_code=status.HTTP_201_CREATED, response_model=ProblemOut)
async def add_problem(model_id: uuid.UUID, body: ProblemIn, svc: AdminSvc) -> ProblemOut:
    return await svc.add_problem(model_id, body)


@router.post(
    "/models/{model_id}/maintenance-templates",
    status_code=status.HTTP_201_CREATED,
    response_model=TemplateOut,
)
async def add_template(model_id: uuid.UUID, body: TemplateIn, svc: AdminSvc) -> TemplateOut:
    return await svc.add_template(model_id, body)

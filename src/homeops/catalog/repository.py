"""Every catalog query."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.catalog.models import (
    CommonProblem,
    DeviceCategory,
    DeviceModel,
    Ecosystem,
    Manufacturer,
    ModelMaintenanceTemplate,
)


class CatalogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: object) -> None:
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)

    async def refresh(self, row: object) -> None:
        await self.session.flush()
        await self.session.refresh(row)

    # categories / ecosystems
    async def categories(self) -> list[DeviceCategory]:
        return list(await self.session.scalars(select(DeviceCategory).order_by(DeviceCategory.code)))

    async def category(self, code: str) -> DeviceCategory | None:
        return await self.session.get(DeviceCategory, code)

    async def ecosystems(self) -> list[Ecosystem]:
        return list(await self.session.scalars(select(Ecosystem).order_by(func.lower(Ecosystem.name))))

    # manufacturers
    async def manufacturer(self, manufacturer_id: uuid.UUID) -> Manufacturer | None:
        return await self.session.scalar(
            select(Manufacturer).where(Manufacturer.id == manufacturer_id, Manufacturer.deleted_at.is_(None))
        )

    async def manufacturer_by_name(self, name: str) -> Manufacturer | None:
        return await self.session.scalar(
            select(Manufacturer).where(
                func.lower(Manufacturer.name) == name.strip().lower(), Manufacturer.deleted_at.is_(None)
            )
        )

    async def manufacturers(
        self, q: str | None, limit: int, after: tuple[str, uuid.UUID] | None
    ) -> list[Manufacturer]:
        stmt = (
            select(Manufacturer)
            .where(Manufacturer.deleted_at.is_(None))
            .order_by(func.lower(Manufacturer.name), Manufacturer.id)
            .limit(limit + 1)
        )
        if q:
            stmt = stmt.where(Manufacturer.name.ilike(f"%{_escape_like(q)}%", escape="\\"))
        if after is not None:
            stmt = stmt.where(tuple_(func.lower(Manufacturer.name), Manufacturer.id) > tuple_(*after))
        return list(await self.session.scalars(stmt))

    # models
    def _models(self) -> Select[DeviceModel, str]:
        return (
            select(DeviceModel, Manufacturer.name)
            .join(Manufacturer, Manufacturer.id == DeviceModel.manufacturer_id)
            .where(DeviceModel.deleted_at.is_(None))
        )

    async def model(self, model_id: uuid.UUID) -> tuple[DeviceModel, str] | None:
        row = (await self.session.execute(self._models().where(DeviceModel.id == model_id))).first()
        return (row[0], row[1]) if row else None

    async def model_by_make_and_number(
        self, manufacturer: str, model_number: str
    ) -> tuple[DeviceModel, str] | None:
        row = (
            await self.session.execute(
                self._models().where(
                    func.lower(Manufacturer.name) == manufacturer.strip().lower(),
                    func.upper(DeviceModel.model_number) == model_number.strip().upper(),
                )
            )
        ).first()
        return (row[0], row[1]) if row else None

    async def models(
        self,
        *,
        manufacturer_id: uuid.UUID | None,
        manufacturer_name: str | None,
        category: str | None,
        model_number: str | None,
        q: str | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> list[tuple[DeviceModel, str]]:
        stmt = self._models().order_by(DeviceModel.created_at.desc(), DeviceModel.id.desc()).limit(limit + 1)
        if manufacturer_id is not None:
            stmt = stmt.where(DeviceModel.manufacturer_id == manufacturer_id)
        if manufacturer_name:
            stmt = stmt.where(func.lower(Manufacturer.name) == manufacturer_name.strip().lower())
        if category:
            # A parent category matches its children too.
            children = select(DeviceCategory.code).where(DeviceCategory.parent_code == category)
            stmt = stmt.where(
                (DeviceModel.category_code == category) | DeviceModel.category_code.in_(children)
            )
        if model_number:
            stmt = stmt.where(func.upper(DeviceModel.model_number) == model_number.strip().upper())
        if q:
            stmt = stmt.where(DeviceModel.search_vector.op("@@")(func.websearch_to_tsquery("simple", q)))
        if after is not None:
            stmt = stmt.where(tuple_(DeviceModel.created_at, DeviceModel.id) < tuple_(*after))
        return [(m, n) for m, n in (await self.session.execute(stmt)).all()]

    # problems / templates
    async def problems(self, model_id: uuid.UUID) -> list[CommonProblem]:
        # The problem_severity enum is declared critical → low, so ordering by it puts critical first.
        return list(
            await self.session.scalars(
                select(CommonProblem)
                .where(CommonProblem.model_id == model_id, CommonProblem.deleted_at.is_(None))
                .order_by(CommonProblem.severity, CommonProblem.created_at)
            )
        )

    async def templates(self, model_id: uuid.UUID) -> list[ModelMaintenanceTemplate]:
        return list(
            await self.session.scalars(
                select(ModelMaintenanceTemplate)
                .where(ModelMaintenanceTemplate.model_id == model_id)
                .order_by(ModelMaintenanceTemplate.task_name)
            )
        )


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

"""What a platform admin works through in the marketplace: the provider profiles waiting for verification
and the disputed projects waiting for a resolution (oldest first). Reads only; verifying and resolving are
``ProviderService.verify`` and ``ProjectService.change_status``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.errors import Forbidden
from homeops.core.uow import UnitOfWork
from homeops.marketplace.models import Project, ProjectStatus, ProviderProfile
from homeops.marketplace.projects import project_out
from homeops.marketplace.providers import provider_out
from homeops.marketplace.schemas import ProjectOut, ProviderOut


class MarketAdminRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def unverified_providers(self, limit: int) -> list[ProviderProfile]:
        stmt = (
            select(ProviderProfile)
            .where(ProviderProfile.is_verified.is_(False))
            .order_by(ProviderProfile.created_at, ProviderProfile.id)
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    async def disputed_projects(self, limit: int) -> list[Project]:
        stmt = (
            select(Project)
            .where(Project.status == ProjectStatus.disputed)
            .order_by(Project.updated_at, Project.id)
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))


class MarketAdminService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.repo = MarketAdminRepository(uow.session)

    def _require_admin(self) -> None:
        if not self.uow.actor.is_admin:
            raise Forbidden("Only a platform admin sees this.", code="role_required")

    async def providers_to_verify(self, limit: int) -> list[ProviderOut]:
        self._require_admin()
        return [provider_out(self.uow, p) for p in await self.repo.unverified_providers(limit)]

    async def disputed_projects(self, limit: int) -> list[ProjectOut]:
        self._require_admin()
        return [await project_out(self.uow, p) for p in await self.repo.disputed_projects(limit)]

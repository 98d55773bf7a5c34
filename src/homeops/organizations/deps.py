"""FastAPI dependencies of the access layer for routes with an ``{org_id}`` path parameter."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends

from homeops.core.tenancy import OrgRole
from homeops.core.uow import UnitOfWork
from homeops.identity.deps import Uow
from homeops.organizations.access import require_org


@dataclass(frozen=True)
class OrgAccess:
    uow: UnitOfWork
    org_id: uuid.UUID
    role: OrgRole | None


def org_access(need: OrgRole) -> Callable[..., Awaitable[OrgAccess]]:
    """Dependency for routes with an ``{org_id}`` path parameter: the access check before the handler."""

    async def _check(org_id: uuid.UUID, uow: Uow) -> OrgAccess:
        return OrgAccess(uow, org_id, await require_org(uow, org_id, need))

    return _check


def _annotated(need: OrgRole) -> Any:
    return Annotated[OrgAccess, Depends(org_access(need))]


OrgReader = _annotated(OrgRole.staff)  # every member (and platform admins)
OrgWriter = _annotated(OrgRole.technician)  # members who do the work (technician, office staff and up)
OrgManager = _annotated(OrgRole.manager)  # managers and owners
OrgOwner = _annotated(OrgRole.owner)

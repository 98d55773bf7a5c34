"""FastAPI dependencies of the access layer for routes with a ``{home_id}`` path parameter."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends

from homeops.core.tenancy import HomeRole
from homeops.core.uow import UnitOfWork
from homeops.homes.access import require_home
from homeops.identity.deps import Uow


@dataclass(frozen=True)
class HomeAccess:
    uow: UnitOfWork
    home_id: uuid.UUID
    role: HomeRole | None


def home_access(need: HomeRole) -> Callable[..., Awaitable[HomeAccess]]:
    """Dependency for routes with a ``{home_id}`` path parameter: the access check before the handler."""

    async def _check(home_id: uuid.UUID, uow: Uow) -> HomeAccess:
        return HomeAccess(uow, home_id, await require_home(uow, home_id, need))

    return _check


def _annotated(need: HomeRole) -> Any:
    return Annotated[HomeAccess, Depends(home_access(need))]


HomeReader = _annotated(HomeRole.guest)
HomeWriter = _annotated(HomeRole.member)
HomeManager = _annotated(HomeRole.admin)

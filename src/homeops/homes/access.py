"""Access to homes and the objects in them — the homes flavour of ``homeops.core.access`` that every domain
uses (``require_home``, ``load_in_home``), see ``homes.deps`` for the FastAPI dependency."""

from __future__ import annotations

import uuid

from homeops.core.access import HomeNotFound, InsufficientHomeRole, load_in_home, load_owned, load_visible
from homeops.core.access import require_home as _require_home
from homeops.core.tenancy import HomeRole
from homeops.core.uow import UnitOfWork
from homeops.homes.models import Home

__all__ = [
    "HomeNotFound",
    "InsufficientHomeRole",
    "load_in_home",
    "load_owned",
    "load_visible",
    "require_home",
]


async def require_home(uow: UnitOfWork, home_id: uuid.UUID, need: HomeRole) -> HomeRole | None:
    """The caller's role in the home if it is at least ``need`` (403 otherwise; 404 for non-members)."""
    return await _require_home(uow, Home, home_id, need)

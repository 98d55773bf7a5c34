"""Who reads a home's telemetry: its household — members and guests — and nobody by platform role alone.

The series tables' read policies (migration p019) are ``home_id = ANY (<homes_read>)`` with no platform-admin
arm: an admin sees a home and its devices, not what the devices measured (support is invited in as a guest).
The services ask the same question first, so that an admin who is not in the home gets the 404 a stranger gets
instead of a series that row security silently emptied."""

from __future__ import annotations

import uuid

from homeops.core.uow import UnitOfWork
from homeops.homes.access import HomeNotFound


def household_homes(uow: UnitOfWork) -> list[uuid.UUID]:
    """The homes whose telemetry the caller reads (guest or above)."""
    return uow.actor.home_ids()


def in_household(uow: UnitOfWork, home_id: uuid.UUID) -> bool:
    """Whether the caller belongs to the home (a guest is enough): the pages leave telemetry out otherwise."""
    return uow.actor.home_role(home_id) is not None


def require_household(uow: UnitOfWork, home_id: uuid.UUID) -> None:
    """404 unless the caller belongs to the home."""
    if not in_household(uow, home_id):
        raise HomeNotFound()

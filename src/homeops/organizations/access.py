"""Access to organizations and the objects of organization-keyed tables — the organizations flavour of
``homeops.core.access`` that later domains (field service, marketplace, civic reports) use; see ``deps`` for
the FastAPI dependencies."""

from __future__ import annotations

import uuid

from homeops.core.access import InsufficientOrgRole, OrganizationNotFound, load_in_org, org_filter
from homeops.core.access import require_org as _require_org
from homeops.core.tenancy import OrgRole
from homeops.core.uow import UnitOfWork
from homeops.organizations.models import Organization

__all__ = ["InsufficientOrgRole", "OrganizationNotFound", "load_in_org", "org_filter", "require_org"]


async def require_org(uow: UnitOfWork, org_id: uuid.UUID, need: OrgRole) -> OrgRole | None:
    """The caller's role in the organization if it is at least ``need`` (403 otherwise; 404 for non-members)."""
    return await _require_org(uow, Organization, org_id, need)

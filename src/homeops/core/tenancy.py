"""Who may act where: the platform roles of a user and the roles inside a tenant (homes, organizations).

These enums are shared by every domain and by the database (PostgreSQL enums of the same names and order),
so they live in ``core``: a domain's tables use them, the access layer compares them.
"""

from __future__ import annotations

import enum


class UserRole(enum.StrEnum):
    """Platform-wide rights (``users.role``); rights over a tenant's rows come from membership."""

    homeowner = "homeowner"  # 000 user, 002 citizen, 003 user, 004 user
    provider = "provider"  # 002 engineer / company
    technician = "technician"  # 001
    manager = "manager"  # 001
    office_staff = "office_staff"  # 001
    government = "government"  # 002
    support = "support"  # 003
    admin = "admin"  # all; 004 "service role bypass" in RLS


# Platform staff: read every ticket, troubleshooting session and complaint (never another home's devices).
STAFF_ROLES = frozenset({UserRole.support, UserRole.technician, UserRole.manager, UserRole.admin})


class HomeRole(enum.StrEnum):
    """Ordered weakest first: the database compares them (``role >= 'member'``)."""

    guest = "guest"
    member = "member"
    admin = "admin"
    owner = "owner"


_HOME_RANK = {r: i for i, r in enumerate(HomeRole)}


def home_role_at_least(role: HomeRole | None, minimum: HomeRole) -> bool:
    return role is not None and _HOME_RANK[role] >= _HOME_RANK[minimum]


class OrgRole(enum.StrEnum):
    """A member's role in an organization, weakest first (the database compares them)."""

    staff = "staff"  # 002 department staff, 004 partner staff: read
    technician = "technician"  # 001 field technician, 002 engineer
    office_staff = "office_staff"  # 001 dispatch / office
    manager = "manager"  # 001 manager; manages members
    owner = "owner"


_ORG_RANK = {r: i for i, r in enumerate(OrgRole)}


def org_role_at_least(role: OrgRole | None, minimum: OrgRole) -> bool:
    return role is not None and _ORG_RANK[role] >= _ORG_RANK[minimum]


class OrgKind(enum.StrEnum):
    contractor = "contractor"  # 001 fire safety / HVAC contractor
    provider = "provider"  # 002 provider company
    government = "government"  # 002 government body
    partner = "partner"  # 004 OEM partner

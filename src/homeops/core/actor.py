"""Who acts: a signed-in user with their platform role and memberships, or the system (CLI, jobs).

The API builds an ``Actor`` from what the database answered when it established the transaction's identity
(``homeops_begin``): the stored role and the user's homes with their roles. Python never computes
memberships itself; it only reads them to give clear 404/403 answers and to narrow queries to the caller's
tenants. Row-level security decides what is really visible.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from homeops.core.tenancy import (
    STAFF_ROLES,
    HomeRole,
    OrgRole,
    UserRole,
    home_role_at_least,
    org_role_at_least,
)

_EMPTY: Mapping[uuid.UUID, HomeRole] = MappingProxyType({})
_NO_ORGS: Mapping[uuid.UUID, OrgRole] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: uuid.UUID | None
    role: UserRole | None
    session_id: uuid.UUID | None = None
    email: str | None = None
    homes: Mapping[uuid.UUID, HomeRole] = field(default_factory=lambda: _EMPTY)
    orgs: Mapping[uuid.UUID, OrgRole] = field(default_factory=lambda: _NO_ORGS)
    kind: Literal["user", "anonymous", "system"] = "user"
    label: str | None = None

    @classmethod
    def anonymous(cls) -> Actor:
        return cls(user_id=None, role=None, kind="anonymous")

    @classmethod
    def system(cls, label: str) -> Actor:
        """The operator or a job running as the database owner (no row security applies to it)."""
        return cls(user_id=None, role=None, kind="system", label=label)

    @property
    def is_user(self) -> bool:
        return self.kind == "user" and self.user_id is not None

    @property
    def is_admin(self) -> bool:
        return self.role is UserRole.admin

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def require_user_id(self) -> uuid.UUID:
        if self.user_id is None:
            raise RuntimeError(f"this needs a signed-in user, not {self.kind} {self.label or ''}".strip())
        return self.user_id

    def home_role(self, home_id: uuid.UUID) -> HomeRole | None:
        return self.homes.get(home_id)

    def home_ids(self, minimum: HomeRole = HomeRole.guest) -> list[uuid.UUID]:
        """The caller's homes where their role is at least ``minimum`` (sorted, for stable SQL)."""
        return sorted(h for h, r in self.homes.items() if home_role_at_least(r, minimum))

    def org_role(self, org_id: uuid.UUID) -> OrgRole | None:
        return self.orgs.get(org_id)

    def org_ids(self, minimum: OrgRole = OrgRole.staff) -> list[uuid.UUID]:
        return sorted(o for o, r in self.orgs.items() if org_role_at_least(r, minimum))

    def with_org(self, org_id: uuid.UUID, role: OrgRole) -> Actor:
        return _replace(self, orgs={**self.orgs, org_id: role})

    def without_org(self, org_id: uuid.UUID) -> Actor:
        return _replace(self, orgs={o: r for o, r in self.orgs.items() if o != org_id})

    def with_home(self, home_id: uuid.UUID, role: HomeRole) -> Actor:
        """The same actor after joining (or creating) a home within this transaction."""
        return _replace(self, homes={**self.homes, home_id: role})

    def without_home(self, home_id: uuid.UUID) -> Actor:
        return _replace(self, homes={h: r for h, r in self.homes.items() if h != home_id})


def _replace(
    actor: Actor,
    *,
    homes: dict[uuid.UUID, HomeRole] | None = None,
    orgs: dict[uuid.UUID, OrgRole] | None = None,
) -> Actor:
    return Actor(
        actor.user_id,
        actor.role,
        actor.session_id,
        actor.email,
        MappingProxyType(homes) if homes is not None else actor.homes,
        MappingProxyType(orgs) if orgs is not None else actor.orgs,
        actor.kind,
        actor.label,
    )

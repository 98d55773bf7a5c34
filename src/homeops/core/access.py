"""The one access layer: resolve a target and the caller's role on it, answer 404/403 the same way everywhere.

Row-level security is the wall (what the database shows is all there is); this module turns its silence into
clear answers and keeps every check to one statement on the happy path:

* a home you do not belong to is **404** (its existence is not revealed); a home you belong to with too weak
  a role is **403**; platform admins read every home and write none they are not a member of;
* an object in a home (device, schedule, ticket …) is loaded in **one** query narrowed to the caller's homes
  (``home_id IN (…)``: a single-shard query on a cluster), locked with ``FOR UPDATE`` when the caller is
  about to change it; the caller's role comes from the memberships the database reported when it
  established the transaction's identity, so no membership query follows;
* organizations (contractors, provider companies, government bodies, partners) follow the same rules with
  their own roles (``require_org``, ``load_in_org``, ``org_filter``): non-members get 404, members with too
  weak a role 403, platform admins read and never write;
* an object owned by a user (troubleshooting session, chat, complaint …) is visible to its owner and, where
  the row policy allows, to staff; only the owner changes it (403 for staff, 404 for everyone else).

The second query of ``load_*`` runs only on the error path (to tell "forbidden" from "not found").
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, literal, select, true

from homeops.core.errors import Forbidden, NotFound, Problem
from homeops.core.tenancy import HomeRole, OrgRole, home_role_at_least, org_role_at_least
from homeops.core.uow import UnitOfWork


class HomeNotFound(NotFound):
    code, title = "home_not_found", "Home not found"


class InsufficientHomeRole(Forbidden):
    code, title = "insufficient_home_role", "Your role in this home does not allow this"


class HomeScoped(Protocol):
    id: Any
    home_id: Any


class Owned(Protocol):
    id: Any
    user_id: Any


M = TypeVar("M")


def _insufficient(need: HomeRole) -> InsufficientHomeRole:
    return InsufficientHomeRole(f"This needs the {need.value} role or higher in the home.")


def check_home_role(
    uow: UnitOfWork, home_id: uuid.UUID, role: HomeRole | None, need: HomeRole
) -> HomeRole | None:
    """The rule once the target's home is known to be visible: members by rank, admins read-only."""
    if role is None:
        if uow.actor.is_admin and need is HomeRole.guest:
            return None  # platform admins read every home (RLS lets them); they do not write
        raise _insufficient(need)
    if not home_role_at_least(role, need):
        raise _insufficient(need)
    return role


async def require_home(
    uow: UnitOfWork, home_model: type[Any], home_id: uuid.UUID, need: HomeRole
) -> HomeRole | None:
    """The caller's role in a home (no query for a member), else 404; too weak a role is 403."""
    role = uow.actor.home_role(home_id)
    if role is None:
        if not uow.actor.is_admin:
            raise HomeNotFound()
        found = await uow.session.scalar(select(literal(1)).where(home_model.id == home_id))
        if found is None:
            raise HomeNotFound()
    return check_home_role(uow, home_id, role, need)


def _narrowed(uow: UnitOfWork, stmt: Select[Any], model: type[Any]) -> Select[Any] | None:
    """``stmt`` restricted to the caller's homes (admins: all); None when the caller has no home."""
    if uow.actor.is_admin:
        return stmt
    homes = uow.actor.home_ids()
    if not homes:
        return None
    return stmt.where(model.home_id == homes[0] if len(homes) == 1 else model.home_id.in_(homes))


async def load_in_home(
    uow: UnitOfWork,
    model: type[M],
    object_id: uuid.UUID,
    need: HomeRole,
    *,
    not_found: type[Problem],
    lock: bool = False,
) -> tuple[M, HomeRole | None]:
    """The object (an ORM entity with ``id`` and ``home_id``) and the caller's role in its home, in one query;
    ``lock`` takes ``FOR UPDATE`` (use it when about to change the object).

    On a cluster a locking read must reach one shard: when the caller's homes may span shards (several homes,
    or an admin), the object's home is read first, then the row is locked by its full key."""
    m: Any = model
    base = _narrowed(uow, select(m).where(m.id == object_id), m)
    if base is None:
        raise not_found()
    if lock and uow.runtime.distributed and (uow.actor.is_admin or len(uow.actor.homes) > 1):
        home_id = (await uow.session.execute(base.with_only_columns(m.home_id))).scalar_one_or_none()
        if home_id is None:
            raise not_found()
        base = select(m).where(m.home_id == home_id, m.id == object_id)
    stmt = base.with_for_update() if lock else base
    obj = (await uow.session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()
    if obj is None:
        visible = (await uow.session.execute(base)).scalar_one_or_none() if lock else None
        if visible is not None:
            # Readable but not lockable under the row policies (a guest, an admin): the role rule says why.
            check_home_role(uow, visible.home_id, uow.actor.home_role(visible.home_id), need)
            raise _insufficient(need)
        raise not_found()
    role = uow.actor.home_role(obj.home_id)
    return obj, check_home_role(uow, obj.home_id, role, need)


def home_filter(uow: UnitOfWork, column: Any) -> Any | None:
    """``column`` restricted to the caller's homes (True for admins), or None when the caller has no home:
    every read of home-keyed rows names the homes, so a cluster routes it to their shards."""
    if uow.actor.is_admin:
        return true()
    homes = uow.actor.home_ids()
    if not homes:
        return None
    return column == homes[0] if len(homes) == 1 else column.in_(homes)


# --- organizations ---------------------------------------------------------------------------------------


class OrganizationNotFound(NotFound):
    code, title = "organization_not_found", "Organization not found"


class InsufficientOrgRole(Forbidden):
    code, title = "insufficient_organization_role", "Your role in this organization does not allow this"


class OrgScoped(Protocol):
    id: Any
    organization_id: Any


def _insufficient_org(need: OrgRole) -> InsufficientOrgRole:
    return InsufficientOrgRole(f"This needs the {need.value} role or higher in the organization.")


def check_org_role(uow: UnitOfWork, org_id: uuid.UUID, role: OrgRole | None, need: OrgRole) -> OrgRole | None:
    """The rule once the organization is known to be visible: members by rank, platform admins read-only."""
    if role is None:
        if uow.actor.is_admin and need is OrgRole.staff:
            return None  # platform admins read every organization (RLS lets them); they do not write
        raise _insufficient_org(need)
    if not org_role_at_least(role, need):
        raise _insufficient_org(need)
    return role


async def require_org(
    uow: UnitOfWork, org_model: type[Any], org_id: uuid.UUID, need: OrgRole
) -> OrgRole | None:
    """The caller's role in an organization (no query for a member: the database reported the memberships
    when it established the identity), else 404; too weak a role is 403. A soft-deleted organization has no
    members left, and platform admins get 404 for it too."""
    role = uow.actor.org_role(org_id)
    if role is None:
        if not uow.actor.is_admin:
            raise OrganizationNotFound()
        exists = select(literal(1)).where(org_model.id == org_id)
        if hasattr(org_model, "deleted_at"):
            exists = exists.where(org_model.deleted_at.is_(None))
        if await uow.session.scalar(exists) is None:
            raise OrganizationNotFound()
    return check_org_role(uow, org_id, role, need)


def org_filter(uow: UnitOfWork, column: Any) -> Any | None:
    """``column`` (an ``organization_id``) restricted to the caller's organizations (True for admins), or None
    when the caller belongs to none: every read of organization-keyed rows names the organizations, so a
    cluster routes it to their shards."""
    if uow.actor.is_admin:
        return true()
    orgs = uow.actor.org_ids()
    if not orgs:
        return None
    return column == orgs[0] if len(orgs) == 1 else column.in_(orgs)


async def load_in_org(
    uow: UnitOfWork,
    model: type[M],
    object_id: uuid.UUID,
    need: OrgRole,
    *,
    not_found: type[Problem],
    lock: bool = False,
) -> tuple[M, OrgRole | None]:
    """The object (an ORM entity with ``id`` and ``organization_id``) and the caller's role in its
    organization, in one query narrowed to the caller's organizations; ``lock`` takes ``FOR UPDATE``.
    The organization flavour of ``load_in_home`` (same cluster rule for locking reads)."""
    m: Any = model
    where = org_filter(uow, m.organization_id)
    if where is None:
        raise not_found()
    base = select(m).where(m.id == object_id, where)
    if lock and uow.runtime.distributed and (uow.actor.is_admin or len(uow.actor.orgs) > 1):
        org_id = (await uow.session.execute(base.with_only_columns(m.organization_id))).scalar_one_or_none()
        if org_id is None:
            raise not_found()
        base = select(m).where(m.organization_id == org_id, m.id == object_id)
    stmt = base.with_for_update() if lock else base
    obj = (await uow.session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()
    if obj is None:
        visible = (await uow.session.execute(base)).scalar_one_or_none() if lock else None
        if visible is not None:
            check_org_role(uow, visible.organization_id, uow.actor.org_role(visible.organization_id), need)
            raise _insufficient_org(need)
        raise not_found()
    return obj, check_org_role(uow, obj.organization_id, uow.actor.org_role(obj.organization_id), need)


async def load_visible(
    uow: UnitOfWork, model: type[M], object_id: uuid.UUID, *, not_found: type[Problem], lock: bool = False
) -> M:
    """The object if the row policies show it to the caller (``lock``: and let them change it), else 404."""
    m: Any = model
    stmt = select(m).where(m.id == object_id)
    if lock:
        keyed = await _by_full_key(uow, stmt, m)
        if keyed is None:
            raise not_found()
        stmt = keyed.with_for_update()
    obj = (await uow.session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()
    if obj is None:
        raise not_found()
    return obj  # type: ignore[no-any-return]


async def _by_full_key(uow: UnitOfWork, stmt: Select[Any], m: Any) -> Select[Any] | None:
    """On a cluster a locking read must reach one shard: for a home-keyed model whose home the statement does
    not name, the object's home is read first and the statement narrowed to it (None: not visible)."""
    if not (uow.runtime.distributed and hasattr(m, "home_id")):
        return stmt
    home_id = (await uow.session.execute(stmt.with_only_columns(m.home_id))).scalar_one_or_none()
    return None if home_id is None else stmt.where(m.home_id == home_id)


async def load_owned(
    uow: UnitOfWork,
    model: type[M],
    object_id: uuid.UUID,
    *,
    not_found: type[Problem],
    not_owner: type[Problem],
    owner_column: str = "user_id",
) -> M:
    """The caller's own object, locked for change; someone who may only read it (staff) gets ``not_owner``
    (403), everyone else ``not_found`` (404)."""
    m: Any = model
    base = select(m).where(m.id == object_id)
    me = uow.actor.user_id
    owned = await _by_full_key(uow, base.where(getattr(m, owner_column) == me), m)
    obj = None
    if owned is not None:
        locked = owned.with_for_update().execution_options(populate_existing=True)
        obj = (await uow.session.execute(locked)).scalar_one_or_none()
    if obj is None:
        if (await uow.session.execute(base)).scalar_one_or_none() is not None:
            raise not_owner()
        raise not_found()
    return obj  # type: ignore[no-any-return]

"""What the marketplace's services share: their errors, who the caller is on a row (the requester side, the
provider side — the provider's own user or a member of its company — or a platform admin), the provider the
caller acts for, and reads by id that lock by the full key."""

from __future__ import annotations

import uuid
from typing import Any, Protocol, TypeVar

from sqlalchemy import select

from homeops.core.errors import Conflict, Forbidden, NotFound, Problem, UnprocessableEntity
from homeops.core.tenancy import OrgRole, org_role_at_least
from homeops.core.uow import UnitOfWork
from homeops.marketplace.models import ChatSide, ProviderProfile
from homeops.marketplace.repository import ProviderRepository


class ProviderNotFound(NotFound):
    code, title = "provider_not_found", "Provider not found"


class ProviderProfileRequired(Forbidden):
    code, title = "provider_profile_required", "This needs a provider profile"


class ProviderNotVerified(Forbidden):
    code, title = "provider_not_verified", "The provider is not verified yet"


class ServiceRequestNotFound(NotFound):
    code, title = "service_request_not_found", "Service request not found"


class QuoteNotFound(NotFound):
    code, title = "quote_not_found", "Quote not found"


class ProjectNotFound(NotFound):
    code, title = "project_not_found", "Project not found"


class RatingNotFound(NotFound):
    code, title = "rating_not_found", "Rating not found"


class DiagnosticNotFound(NotFound):
    code, title = "diagnostic_not_found", "Diagnostic not found"


class InvalidTransition(Conflict):
    code, title = "invalid_status_transition", "This status change is not allowed"


class NotYourSide(Forbidden):
    code, title = "not_allowed_for_your_side", "The other party does this"


class UnknownServiceCategory(UnprocessableEntity):
    code, title = "unknown_service_category", "Unknown service category"


class FileNotFoundProblem(NotFound):
    code, title = "file_not_found", "File not found"


class PayloadTooLarge(Problem):
    status, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMedia(Problem):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class PartyRow(Protocol):
    requester_id: Any
    provider_user_id: Any
    provider_org_id: Any


def side_of(uow: UnitOfWork, row: PartyRow, *, write: bool = False) -> ChatSide | None:
    """The caller's side on a quote/project/chat/rating row: the requester, the provider side (its user, or a
    member of its company — technician and above to ``write``), or None."""
    me = uow.actor.user_id
    if me is None:
        return None
    if row.requester_id == me:
        return ChatSide.requester
    if row.provider_user_id == me:
        return ChatSide.provider
    if row.provider_org_id is not None:
        role = uow.actor.org_role(row.provider_org_id)
        if role is not None and (not write or org_role_at_least(role, OrgRole.technician)):
            return ChatSide.provider
    return None


def acts_for(uow: UnitOfWork, profile: ProviderProfile, *, write: bool = True) -> bool:
    me = uow.actor.user_id
    if me is not None and profile.user_id == me:
        return True
    if profile.organization_id is None:
        return False
    role = uow.actor.org_role(profile.organization_id)
    return role is not None and (not write or org_role_at_least(role, OrgRole.technician))


async def acting_provider(
    uow: UnitOfWork, provider_id: uuid.UUID | None = None, *, write: bool = True
) -> ProviderProfile:
    """The provider profile the caller acts for: ``provider_id`` if given (their own, or their company's),
    else their own profile, else the single company profile they belong to. 403 ``provider_profile_required``
    when there is none."""
    repo = ProviderRepository(uow.session)
    me = uow.actor.require_user_id()
    if provider_id is not None:
        found = await repo.get(provider_id)
        if found is None or not acts_for(uow, found, write=write):
            raise ProviderNotFound()
        return found
    own = await repo.by_user(me)
    if own is not None:
        return own
    minimum = OrgRole.technician if write else OrgRole.staff
    companies = await repo.of_companies(uow.actor.org_ids(minimum))
    if len(companies) == 1:
        return companies[0]
    if companies:
        raise UnprocessableEntity(
            "You act for several provider companies: say which one (provider_id).", code="provider_ambiguous"
        )
    raise ProviderProfileRequired("Create your provider profile first (PUT /api/v1/providers/me).")


M = TypeVar("M")


async def load_by_id(
    uow: UnitOfWork, model: type[M], object_id: uuid.UUID, *, not_found: type[Problem], lock: bool = False
) -> M:
    """A requester-keyed row found by its id (the policies decide visibility); ``lock``: then locked by its
    full key ``(requester_id, id)`` — on a cluster a locking read reaches one shard."""
    m: Any = model
    me = uow.actor.user_id
    # The requester's own rows first: by the full key (one shard), the common case.
    stmt = select(m).where(m.id == object_id)
    obj = None
    if me is not None:
        obj = (
            await uow.session.execute(
                stmt.where(m.requester_id == me).execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
    if obj is None:
        obj = (await uow.session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()
    if obj is None:
        raise not_found()
    if lock:
        locked = select(m).where(m.requester_id == obj.requester_id, m.id == object_id).with_for_update()
        obj = (
            await uow.session.execute(locked.execution_options(populate_existing=True))
        ).scalar_one_or_none()
        if obj is None:
            raise not_found()
    return obj  # type: ignore[no-any-return]


def problem_from_database(exc: Exception) -> Problem | None:
    """The marketplace functions' and triggers' refusals (their message is a stable code) as problems."""
    orig = getattr(exc, "orig", None)
    diag = getattr(orig, "diag", None)
    message = (getattr(diag, "message_primary", None) or "").split(" ", 1)[0]
    mapping: dict[str, Problem] = {
        "provider_not_found": ProviderNotFound(),
        "provider_not_verified": ProviderNotVerified("Only verified providers quote; an admin verifies you."),
        "service_request_not_found": ServiceRequestNotFound(),
        "service_request_closed": Conflict(
            "The request no longer takes quotes.",
            code="service_request_closed",
            title="Service request closed",
        ),
        "rating_edit_window_closed": Conflict(
            "A rating can be changed for 30 days.",
            code="rating_edit_window_closed",
            title="Edit window closed",
        ),
        "rating_already_answered": Conflict(
            "The provider already answered this review.", code="already_answered", title="Already answered"
        ),
    }
    if message in mapping:
        return mapping[message]
    if message.startswith("invalid_") and message.endswith("_transition"):
        return InvalidTransition(diag.message_primary if diag else None)
    return None


async def setting_int(uow: UnitOfWork, key: str, default: int) -> int:
    """A numeric system setting (``quote_validity_days``, ``request_expiry_days``, ``max_image_upload_size_mb``
    …); its default when unset or unreadable."""
    from homeops.settings.repository import SettingRepository

    row = await SettingRepository(uow.session).get(key)
    try:
        return int(float(row.setting_value)) if row is not None and row.setting_value else default
    except ValueError:
        return default


async def max_image_bytes(uow: UnitOfWork) -> int:
    return await setting_int(uow, "max_image_upload_size_mb", 10) * 1024 * 1024


async def store(uow: UnitOfWork, key: str, data: bytes, content_type: str) -> None:
    """Puts a file into storage (off the event loop); the caller writes its row first, so a refused write
    stores nothing."""
    from anyio import to_thread

    await to_thread.run_sync(uow.runtime.storage.put, key, data, content_type)


def remove_after_commit(uow: UnitOfWork, keys: list[str]) -> None:
    """Removes stored files once the transaction that dropped their rows has committed (never before)."""
    from anyio import to_thread

    storage = uow.runtime.storage

    async def _remove() -> None:
        for key in keys:
            await to_thread.run_sync(storage.delete, key)

    if keys:
        uow.on_commit(_remove)


def after_commit_as_caller(uow: UnitOfWork, statement: str, params: tuple[Any, ...]) -> bool:
    """Runs ``statement`` (a ``SECURITY DEFINER`` function's call) once this transaction has committed, in a
    transaction of its own under the caller's identity (their session). For what a function's owner must
    write after the API role wrote or read the same rows: on a cluster the owner may not read a placement the
    API role wrote in the same transaction (nor the API role one the owner wrote, co-located placements
    included), and the owner's write to a reference table waits for the API role's lock on it (Citus reports a
    deadlock of the transaction with itself). False (nothing queued): the actor has no session (a job, a
    command) — the caller runs the statement in its own transaction."""
    actor = uow.actor
    if actor.session_id is None or actor.user_id is None:
        return False
    session_id, user_id = actor.session_id, actor.user_id
    bind = uow.session.bind

    async def _run() -> None:
        from sqlalchemy.ext.asyncio import AsyncConnection

        from homeops.identity.repository import establish_identity

        engine = bind.engine if isinstance(bind, AsyncConnection) else bind
        assert engine is not None
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            if await establish_identity(driver, session_id, user_id) is None:
                await driver.rollback()  # the session ended meanwhile
                return
            await driver.execute(statement.encode(), params)
            await driver.commit()

    uow.on_commit(_run)
    return True


async def refresh_provider_stats(uow: UnitOfWork, provider_id: uuid.UUID) -> None:
    """Recomputes the provider's aggregates (``homeops_refresh_provider_stats``: from their source rows, under
    the profile's row lock) once the project or rating the API role just wrote has committed
    (``after_commit_as_caller``). They are derived data: any later refresh recomputes them whole."""
    if not after_commit_as_caller(uow, "SELECT homeops_refresh_provider_stats(%s)", (provider_id,)):
        await ProviderRepository(uow.session).refresh_stats(provider_id)

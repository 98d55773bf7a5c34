"""Provider profiles and portfolios (seed 002 ``provider_profiles``, ``portfolio_items``; Scenario 3).

* ``PUT /providers/me`` creates or replaces the caller's profile. A homeowner who opens one becomes a
  ``provider`` (``homeops_become_provider``: once, for themselves only). A company profile names its
  organization (kind ``provider``), whose owners and managers edit it and whose members (technician and up)
  act for it (quote, work on projects, chat).
* Profiles appear in search only once a platform admin verified them; verification also publishes the
  portfolio (``provider_public``). The aggregates (average rating, totals, completion rate, response time) are
  the database's (``homeops_refresh_provider_stats``), never written here.
* Search (``homeops_search_providers``): verified providers only, full text over name and description, service,
  city and district, minimum rating, type; featured first, then by rating; keyset paging.
* Portfolio: at most 20 items per provider (counted under the profile's row lock), each with 1–20 photos
  (EXIF and location stripped), featured first then by display order.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from homeops.core.pagination import decode_text_cursor, encode_text_cursor
from homeops.core.schemas import DownloadOut
from homeops.core.storage import signed_download
from homeops.core.tenancy import OrgKind, OrgRole, UserRole, org_role_at_least
from homeops.core.uow import UnitOfWork
from homeops.marketplace.common import (
    FileNotFoundProblem,
    ProviderNotFound,
    UnknownServiceCategory,
    acting_provider,
    max_image_bytes,
    remove_after_commit,
    store,
)
from homeops.marketplace.images import CleanImage, sanitize_image
from homeops.marketplace.models import PortfolioItem, ProviderProfile
from homeops.marketplace.notify import Note, queue_notes
from homeops.marketplace.repository import CategoryRepository, PortfolioRepository, ProviderRepository
from homeops.marketplace.schemas import (
    CertificationOut,
    GeoPoint,
    PortfolioImageOut,
    PortfolioItemOut,
    PortfolioPatch,
    ProviderCardOut,
    ProviderIn,
    ProviderOut,
    ServiceCategoryOut,
)
from homeops.organizations.access import require_org
from homeops.organizations.models import Organization

MAX_PORTFOLIO_ITEMS = 20
MAX_PORTFOLIO_IMAGES = 20


class PortfolioItemNotFound(NotFound):
    code, title = "portfolio_item_not_found", "Portfolio item not found"


def card(profile: ProviderProfile) -> ProviderCardOut:
    return ProviderCardOut.model_validate(profile)


def provider_out(uow: UnitOfWork, profile: ProviderProfile) -> ProviderOut:
    today = uow.today()
    data: dict[str, Any] = {c.key: getattr(profile, c.key) for c in ProviderProfile.__table__.columns}
    data["certifications"] = [
        CertificationOut(**c, valid=not c.get("expiry_date") or str(c["expiry_date"]) >= today.isoformat())
        for c in profile.certifications or []
    ]
    data["service_center"] = (
        GeoPoint(latitude=profile.service_center_lat, longitude=profile.service_center_lon)
        if profile.service_center_lat is not None and profile.service_center_lon is not None
        else None
    )
    return ProviderOut.model_validate(data)


def portfolio_out(item: PortfolioItem) -> PortfolioItemOut:
    data: dict[str, Any] = {c.key: getattr(item, c.key) for c in PortfolioItem.__table__.columns}
    data["images"] = [
        PortfolioImageOut(
            index=i,
            caption=img.get("caption"),
            content_type=img["content_type"],
            width=img.get("width"),
            height=img.get("height"),
            size=img["size"],
        )
        for i, img in enumerate(item.images or [])
    ]
    return PortfolioItemOut.model_validate(data)


def _search_cursor(row: dict[str, Any]) -> str:
    return encode_text_cursor(f"{int(row['is_featured'])}|{row['average_rating']}", row["id"])


def _decode_search_cursor(cursor: str | None) -> tuple[bool, Decimal, uuid.UUID] | None:
    decoded = decode_text_cursor(cursor)
    if decoded is None:
        return None
    key, provider_id = decoded
    featured, _, rating = key.partition("|")
    try:
        return featured == "1", Decimal(rating), provider_id
    except ArithmeticError as exc:
        from homeops.core.pagination import InvalidCursor

        raise InvalidCursor("The cursor is not one this API issued.") from exc


class ProviderService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.providers = ProviderRepository(uow.session)
        self.categories = CategoryRepository(uow.session)

    async def service_categories(self) -> list[ServiceCategoryOut]:
        return [ServiceCategoryOut.model_validate(c) for c in await self.categories.active()]

    async def _check_services(self, codes: list[str]) -> None:
        known = await self.categories.known(codes)
        unknown = sorted(set(codes) - known)
        if unknown:
            raise UnknownServiceCategory(f"Unknown service categories: {', '.join(unknown)}.")

    async def _check_company(self, org_id: uuid.UUID) -> None:
        await require_org(self.uow, org_id, OrgRole.manager)
        org = await self.uow.session.scalar(select(Organization).where(Organization.id == org_id))
        if org is None or org.kind is not OrgKind.provider:
            raise UnprocessableEntity(
                "A company profile names an organization of kind provider.", code="not_a_provider_company"
            )

    async def put_mine(self, data: ProviderIn) -> tuple[ProviderOut, bool]:
        """Creates (True) or replaces (False) the caller's own profile."""
        actor = self.uow.actor
        me = actor.require_user_id()
        if actor.role not in (UserRole.homeowner, UserRole.provider):
            raise Forbidden("Staff accounts cannot open a provider profile.", code="role_not_allowed")
        await self._check_services(data.services_offered)
        if data.organization_id is not None:
            await self._check_company(data.organization_id)
        values: dict[str, Any] = data.model_dump(mode="json", exclude={"service_center"})
        values["organization_id"] = data.organization_id
        values["years_of_experience"] = data.years_of_experience
        values["service_radius_km"] = data.service_radius_km
        values["service_center_lat"] = data.service_center.latitude if data.service_center else None
        values["service_center_lon"] = data.service_center.longitude if data.service_center else None
        profile = await self.providers.by_user(me, lock=True)
        created = profile is None
        if profile is None:
            profile = await self.providers.add(ProviderProfile(id=uuid.uuid4(), user_id=me, **values))
            if actor.role is UserRole.homeowner:
                role = await self.providers.become_provider()
                self.uow.set_actor(
                    type(actor)(
                        actor.user_id, UserRole(role), actor.session_id, actor.email, actor.homes, actor.orgs
                    )
                )
        else:
            for key, value in values.items():
                setattr(profile, key, value)
            await self.providers.save()
        self.uow.record(
            AuditEntry(
                "provider_profile_created" if created else "provider_profile_updated",
                "provider_profile",
                profile.id,
                new_values=data.model_dump(mode="json"),
            )
        )
        return provider_out(self.uow, profile), created

    async def mine(self) -> ProviderOut:
        return provider_out(self.uow, await acting_provider(self.uow, write=False))

    async def get(self, provider_id: uuid.UUID) -> ProviderOut:
        profile = await self.providers.get(provider_id)
        if profile is None:
            raise ProviderNotFound()
        return provider_out(self.uow, profile)

    async def search(
        self,
        *,
        query: str | None,
        service: str | None,
        city: str | None,
        district: str | None,
        min_rating: Decimal | None,
        provider_type: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[ProviderCardOut], str | None]:
        rows = await self.providers.search(
            query=query,
            service=service,
            city=city,
            district=district,
            min_rating=min_rating,
            provider_type=provider_type,
            after=_decode_search_cursor(cursor),
            limit=limit + 1,
        )
        items = rows[:limit]
        next_cursor = _search_cursor(items[-1]) if len(rows) > limit and items else None
        return [ProviderCardOut.model_validate(r) for r in items], next_cursor

    async def _for_admin(self, provider_id: uuid.UUID) -> ProviderProfile:
        profile = await self.providers.get_for_update(provider_id)
        if profile is None:
            raise ProviderNotFound()
        return profile

    async def verify(self, provider_id: uuid.UUID, verified: bool) -> ProviderOut:
        """(Admin.) Verification puts the provider in search and publishes its portfolio."""
        profile = await self._for_admin(provider_id)
        was = profile.is_verified
        profile.is_verified = verified
        profile.verified_at = self.uow.now() if verified else None
        profile.verified_by = self.uow.actor.user_id if verified else None
        await self.providers.save()
        await self.providers.publish_portfolio(profile.id, verified)
        self.uow.record(
            AuditEntry(
                "provider_verified" if verified else "provider_unverified",
                "provider_profile",
                profile.id,
                old_values={"is_verified": was},
                new_values={"is_verified": verified},
            )
        )
        if verified != was:
            await queue_notes(
                self.uow,
                [
                    Note(
                        profile.user_id,
                        "provider_verified" if verified else "provider_unverified",
                        "Your provider profile is verified"
                        if verified
                        else "Your provider verification was withdrawn",
                        "You now appear in search and can quote on matching requests."
                        if verified
                        else "You no longer appear in search; contact support.",
                        "provider_profile",
                        profile.id,
                        f"/api/v1/providers/{profile.id}",
                    )
                ],
            )
        return provider_out(self.uow, profile)

    async def feature(self, provider_id: uuid.UUID, featured: bool) -> ProviderOut:
        profile = await self._for_admin(provider_id)
        was = profile.is_featured
        profile.is_featured = featured
        await self.providers.save()
        self.uow.record(
            AuditEntry(
                "provider_featured" if featured else "provider_unfeatured",
                "provider_profile",
                profile.id,
                old_values={"is_featured": was},
                new_values={"is_featured": featured},
            )
        )
        return provider_out(self.uow, profile)


class PortfolioService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.providers = ProviderRepository(uow.session)
        self.items = PortfolioRepository(uow.session)
        self.categories = CategoryRepository(uow.session)

    async def of_provider(self, provider_id: uuid.UUID) -> list[PortfolioItemOut]:
        if await self.providers.get(provider_id) is None:
            raise ProviderNotFound()
        return [portfolio_out(i) for i in await self.items.of_provider(provider_id)]

    def _may_edit(self, provider_user_id: uuid.UUID, provider_org_id: uuid.UUID | None) -> bool:
        me = self.uow.actor.user_id
        if provider_user_id == me:
            return True
        role = self.uow.actor.org_role(provider_org_id) if provider_org_id else None
        return org_role_at_least(role, OrgRole.manager)

    async def _editable(self, item_id: uuid.UUID) -> PortfolioItem:
        item = await self.items.get(item_id)
        if item is None:
            raise PortfolioItemNotFound()
        if not self._may_edit(item.provider_user_id, item.provider_org_id):
            raise Forbidden("Only the provider edits its portfolio.", code="not_your_portfolio")
        locked = await self.items.lock(item_id)
        if locked is None:
            raise PortfolioItemNotFound()
        return locked

    async def _clean(self, data: bytes) -> CleanImage:
        from anyio import to_thread

        limit = await max_image_bytes(self.uow)
        return await to_thread.run_sync(lambda: sanitize_image(data, max_bytes=limit))

    async def _stored(
        self, item: PortfolioItem, clean: CleanImage, caption: str | None, order: int
    ) -> dict[str, Any]:
        key = f"portfolio/{item.provider_id}/{item.id}/{uuid.uuid4().hex}.{clean.extension}"
        return {
            "key": key,
            "caption": (caption or "")[:255] or None,
            "order": order,
            "content_type": clean.content_type,
            "size": len(clean.data),
            "width": clean.width,
            "height": clean.height,
            "uploaded_at": self.uow.now().isoformat(),
        }

    async def create(
        self,
        provider_id: uuid.UUID | None,
        fields: PortfolioPatch,
        images: list[tuple[bytes, str | None, str | None]],
    ) -> PortfolioItemOut:
        """A new item with its photos (``images``: (data, file name, caption)); 409 ``portfolio_full`` past 20."""
        if not images:
            raise UnprocessableEntity("A portfolio item needs at least one image.", code="image_required")
        if len(images) > MAX_PORTFOLIO_IMAGES:
            raise UnprocessableEntity(
                f"At most {MAX_PORTFOLIO_IMAGES} images per item.", code="too_many_images"
            )
        if not fields.title:
            raise UnprocessableEntity("A portfolio item needs a title.", code="title_required")
        profile = await acting_provider(self.uow, provider_id, write=True)
        if not self._may_edit(profile.user_id, profile.organization_id):
            raise Forbidden(
                "Only the provider's owner or managers edit its portfolio.", code="not_your_portfolio"
            )
        if fields.project_type and not await self.categories.known([fields.project_type]):
            raise UnknownServiceCategory(f"Unknown service category: {fields.project_type}.")
        locked = await self.providers.get_for_update(profile.id)  # serialises concurrent additions
        if locked is None:
            raise ProviderNotFound()
        if await self.items.count(profile.id) >= MAX_PORTFOLIO_ITEMS:
            raise Conflict(f"A portfolio holds at most {MAX_PORTFOLIO_ITEMS} items.", code="portfolio_full")
        cleaned = [(await self._clean(data), caption) for data, _, caption in images]
        item = PortfolioItem(
            id=uuid.uuid4(),
            provider_id=profile.id,
            provider_user_id=profile.user_id,
            provider_org_id=profile.organization_id,
            provider_public=profile.is_verified,
            **fields.model_dump(exclude_none=True),
        )
        item.images = [
            await self._stored(item, clean, caption, i) for i, (clean, caption) in enumerate(cleaned)
        ]
        await self.items.add(item)
        for entry, (clean, _) in zip(item.images, cleaned, strict=True):
            await store(self.uow, entry["key"], clean.data, clean.content_type)
        self.uow.record(
            AuditEntry(
                "portfolio_item_created",
                "portfolio_item",
                item.id,
                new_values={**fields.model_dump(mode="json", exclude_none=True), "images": len(item.images)},
            )
        )
        return portfolio_out(item)

    async def update(self, item_id: uuid.UUID, patch: PortfolioPatch) -> PortfolioItemOut:
        item = await self._editable(item_id)
        changes = patch.model_dump(exclude_unset=True)
        if "title" in changes and not changes["title"]:
            raise UnprocessableEntity("title cannot be empty.", code="title_required")
        if changes.get("project_type") and not await self.categories.known([changes["project_type"]]):
            raise UnknownServiceCategory(f"Unknown service category: {changes['project_type']}.")
        old = {k: getattr(item, k) for k in changes}
        for key, value in changes.items():
            setattr(item, key, value)
        await self.items.save()
        self.uow.record(
            AuditEntry(
                "portfolio_item_updated",
                "portfolio_item",
                item.id,
                old_values={k: str(v) if v is not None else None for k, v in old.items()},
                new_values=patch.model_dump(mode="json", exclude_unset=True),
            )
        )
        return portfolio_out(item)

    async def add_image(self, item_id: uuid.UUID, data: bytes, caption: str | None) -> PortfolioItemOut:
        item = await self._editable(item_id)
        if len(item.images or []) >= MAX_PORTFOLIO_IMAGES:
            raise Conflict(f"At most {MAX_PORTFOLIO_IMAGES} images per item.", code="too_many_images")
        clean = await self._clean(data)
        entry = await self._stored(item, clean, caption, len(item.images or []))
        item.images = [*(item.images or []), entry]
        await self.items.save()
        await store(self.uow, entry["key"], clean.data, clean.content_type)
        self.uow.record(
            AuditEntry(
                "portfolio_image_added", "portfolio_item", item.id, new_values={"index": len(item.images) - 1}
            )
        )
        return portfolio_out(item)

    async def remove_image(self, item_id: uuid.UUID, index: int) -> PortfolioItemOut:
        item = await self._editable(item_id)
        images = list(item.images or [])
        if not 0 <= index < len(images):
            raise FileNotFoundProblem()
        if len(images) == 1:
            raise Conflict("A portfolio item keeps at least one image.", code="last_image")
        removed = images.pop(index)
        item.images = images
        await self.items.save()
        remove_after_commit(self.uow, [removed["key"]])
        self.uow.record(
            AuditEntry("portfolio_image_removed", "portfolio_item", item.id, new_values={"index": index})
        )
        return portfolio_out(item)

    async def delete(self, item_id: uuid.UUID) -> None:
        item = await self._editable(item_id)
        keys = [img["key"] for img in item.images or []]
        await self.items.delete_by_id(item.id)
        remove_after_commit(self.uow, keys)
        self.uow.record(AuditEntry("portfolio_item_deleted", "portfolio_item", item.id))

    async def image(self, item_id: uuid.UUID, index: int) -> DownloadOut:
        item = await self.items.get(item_id)
        if item is None:
            raise PortfolioItemNotFound()
        images = item.images or []
        if not 0 <= index < len(images):
            raise FileNotFoundProblem()
        img = images[index]
        return await signed_download(
            self.uow.runtime.storage,
            img["key"],
            filename=f"portfolio-{item.id}-{index}.{img['key'].rsplit('.', 1)[-1]}",
            content_type=img["content_type"],
        )

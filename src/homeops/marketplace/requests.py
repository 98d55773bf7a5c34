"""Service requests (seed 002 ``service_requests``; Scenario 1 step 3).

A homeowner posts a request with or without a diagnostic, optionally for a home and some of its devices. It is
the requester's: they read, cancel (before a provider is selected) and add photos to it. Providers never read
the table directly: ``homeops_matching_requests`` lists the open requests matching a verified provider's
services and coverage (city and districts, or its radius around a centre point), newest first, and
``homeops_provider_request`` shows one of them (or one it quoted on, or the one it was selected for) — without
the owner's address, name and phone until it is selected; each provider's first view is counted
(``views_count``). Requests expire after ``request_expiry_days`` (30) by a job; they are never deleted.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, UnprocessableEntity
from homeops.core.pagination import PageParams, build_page, decode_cursor, encode_cursor
from homeops.core.schemas import DownloadOut
from homeops.core.storage import signed_download
from homeops.core.tenancy import HomeRole
from homeops.core.uow import UnitOfWork
from homeops.devices.models import Device
from homeops.devices.service import DeviceNotFound
from homeops.homes.access import load_in_home, require_home
from homeops.homes.models import Home
from homeops.identity.models import User
from homeops.marketplace.common import (
    DiagnosticNotFound,
    FileNotFoundProblem,
    ProviderNotVerified,
    ServiceRequestNotFound,
    UnknownServiceCategory,
    acting_provider,
    after_commit_as_caller,
    max_image_bytes,
    setting_int,
    store,
)
from homeops.marketplace.images import sanitize_image
from homeops.marketplace.models import OPEN_STATUSES, ProviderProfile, RequestStatus, ServiceRequest
from homeops.marketplace.notify import Note, queue_notes
from homeops.marketplace.repository import (
    CategoryRepository,
    DiagnosticRepository,
    ProviderRepository,
    QuoteRepository,
    RequestRepository,
)
from homeops.marketplace.schemas import (
    CancelIn,
    GeoPoint,
    ProviderRequestOut,
    RequestImageOut,
    ServiceRequestIn,
    ServiceRequestOut,
)

DEFAULT_EXPIRY_DAYS = 30
MAX_REQUEST_IMAGES = 10


def _images(items: list[dict[str, Any]] | None) -> list[RequestImageOut]:
    return [
        RequestImageOut(
            index=i,
            content_type=img["content_type"],
            size=img["size"],
            width=img.get("width"),
            height=img.get("height"),
        )
        for i, img in enumerate(items or [])
    ]


def request_out(row: ServiceRequest) -> ServiceRequestOut:
    data: dict[str, Any] = {c.key: getattr(row, c.key) for c in ServiceRequest.__table__.columns}
    data["images"] = _images(row.additional_images)
    data["location"] = (
        GeoPoint(latitude=row.latitude, longitude=row.longitude)
        if row.latitude is not None and row.longitude is not None
        else None
    )
    return ServiceRequestOut.model_validate(data)


def provider_request_out(row: dict[str, Any]) -> ProviderRequestOut:
    data = dict(row)
    data["images"] = _images(row.get("additional_images"))
    lat, lon = row.get("approx_latitude"), row.get("approx_longitude")
    data["approx_location"] = (
        GeoPoint(latitude=lat, longitude=lon) if lat is not None and lon is not None else None
    )
    data["devices"] = row.get("devices") or []
    return ProviderRequestOut.model_validate(data)


def _address_text(address: dict[str, Any]) -> str | None:
    parts = [
        str(address[k])
        for k in ("line1", "line2", "district", "city", "region", "postal_code", "country")
        if address.get(k)
    ]
    return ", ".join(parts) or None


class RequestService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.repo = RequestRepository(uow.session)

    async def create(self, data: ServiceRequestIn) -> ServiceRequestOut:
        me = self.uow.actor.require_user_id()
        if not await CategoryRepository(self.uow.session).known([data.problem_category]):
            raise UnknownServiceCategory(f"Unknown service category: {data.problem_category}.")
        summary = None
        if data.diagnostic_id is not None:
            diagnostic = await DiagnosticRepository(self.uow.session).get_own(me, data.diagnostic_id)
            if diagnostic is None:
                raise DiagnosticNotFound()
            summary = {
                "diagnostic_id": str(diagnostic.id),
                "risk_level": diagnostic.risk_level.value,
                "problem_category": diagnostic.problem_category,
                "probable_cause": diagnostic.probable_cause,
                "recommended_action": diagnostic.recommended_action,
                "urgency_level": diagnostic.urgency_level.value if diagnostic.urgency_level else None,
                "confidence": str(diagnostic.ai_confidence_score),
            }
        address: dict[str, Any] = {}
        devices: list[dict[str, Any]] = []
        if data.home_id is not None:
            await require_home(self.uow, data.home_id, HomeRole.member)
            home = await self.uow.session.scalar(select(Home).where(Home.id == data.home_id))
            address = dict(home.address or {}) if home is not None else {}
            for device_id in data.device_ids:
                device, _ = await load_in_home(
                    self.uow, Device, device_id, HomeRole.member, not_found=DeviceNotFound
                )
                if device.home_id != data.home_id:
                    raise DeviceNotFound()
                devices.append(
                    {
                        "category": device.category_code,
                        "manufacturer": device.manufacturer_name,
                        "model_number": device.model_number,
                    }
                )
        city = data.city or address.get("city")
        if not city:
            raise UnprocessableEntity(
                "Say where the work is: a city (or a home whose address has one).", code="city_required"
            )
        district = data.district or address.get("district")
        if data.preferred_service_date is not None and data.preferred_service_date < self.uow.today():
            raise UnprocessableEntity("preferred_service_date is in the past.", code="date_in_past")
        user = await self.uow.session.scalar(select(User).where(User.id == me))
        days = await setting_int(self.uow, "request_expiry_days", DEFAULT_EXPIRY_DAYS)
        row = await self.repo.add(
            ServiceRequest(
                requester_id=me,
                id=uuid.uuid4(),
                diagnostic_id=data.diagnostic_id,
                home_id=data.home_id,
                device_ids=list(data.device_ids),
                devices=devices,
                problem_title=data.problem_title,
                problem_description=data.problem_description,
                problem_category=data.problem_category,
                diagnostic_summary=summary,
                preferred_provider_type=data.preferred_provider_type,
                preferred_service_date=data.preferred_service_date,
                property_type=data.property_type,
                city=str(city)[:100],
                district=str(district)[:100] if district else None,
                latitude=data.location.latitude if data.location else None,
                longitude=data.location.longitude if data.location else None,
                property_address=data.property_address or _address_text(address),
                contact_name=data.contact_name or (user.full_name if user else None),
                contact_phone=data.contact_phone or (user.phone if user else None),
                expires_at=self.uow.now() + timedelta(days=days),
            )
        )
        self.uow.record(
            AuditEntry(
                "service_request_created",
                "service_request",
                row.id,
                new_values={
                    "problem_category": row.problem_category,
                    "city": row.city,
                    "home_id": data.home_id,
                },
            )
        )
        return request_out(row)

    async def _provider_profiles(self) -> list[ProviderProfile]:
        me = self.uow.actor.require_user_id()
        providers = ProviderRepository(self.uow.session)
        own = await providers.by_user(me)
        return [*([own] if own else []), *await providers.of_companies(self.uow.actor.org_ids())]

    async def get(self, request_id: uuid.UUID) -> ServiceRequestOut | ProviderRequestOut:
        """The requester (and admins) get the request; a provider gets its view of it (404 unless it matches,
        was quoted on or selected it)."""
        me = self.uow.actor.require_user_id()
        stmt = select(ServiceRequest).where(
            ServiceRequest.requester_id == me, ServiceRequest.id == request_id
        )
        row = await self.uow.session.scalar(stmt.execution_options(populate_existing=True))
        if row is None and self.uow.actor.is_admin:
            row = await self.repo.visible(request_id)
        if row is not None:
            return request_out(row)
        for profile in await self._provider_profiles():
            # Read here, counted after the commit (after_commit_as_caller): the count is the function
            # owner's write to the requester's placements, which the API role (a page) may still read.
            view = await self.repo.provider_view(request_id, profile.id, count_view=False)
            if view is not None:
                if not after_commit_as_caller(
                    self.uow,
                    "SELECT count(*) FROM homeops_provider_request(%s, %s, true)",
                    (request_id, profile.id),
                ):
                    await self.repo.provider_view(request_id, profile.id, count_view=True)
                return provider_request_out(view)
        raise ServiceRequestNotFound()

    async def mine(
        self, page: PageParams, status: RequestStatus | None
    ) -> tuple[list[ServiceRequestOut], str | None]:
        rows = await self.repo.mine(
            self.uow.actor.require_user_id(), status, page.limit, decode_cursor(page.cursor)
        )
        items, cursor = build_page(rows, page.limit, key=lambda r: (r.created_at, r.id))
        return [request_out(r) for r in items], cursor

    async def matching(
        self, page: PageParams, provider_id: uuid.UUID | None
    ) -> tuple[list[ProviderRequestOut], str | None]:
        """The open requests matching the caller's (verified) provider profile, newest first."""
        profile = await acting_provider(self.uow, provider_id, write=False)
        if not profile.is_verified:
            raise ProviderNotVerified("Matching requests are shown once an admin verified your profile.")
        rows = await self.repo.matching(profile.id, page.limit, decode_cursor(page.cursor))
        items = rows[: page.limit]
        cursor = (
            encode_cursor(items[-1]["created_at"], items[-1]["id"])
            if len(rows) > page.limit and items
            else None
        )
        return [provider_request_out(r) for r in items], cursor

    async def cancel(self, request_id: uuid.UUID, data: CancelIn) -> ServiceRequestOut:
        me = self.uow.actor.require_user_id()
        row = await self.repo.lock(me, request_id)
        if row is None:
            raise ServiceRequestNotFound()
        if row.status not in OPEN_STATUSES:
            raise Conflict(
                f"A {row.status.value.replace('_', ' ')} request cannot be cancelled.",
                code="service_request_closed",
            )
        now = self.uow.now()
        row.status = RequestStatus.cancelled
        row.cancelled_at = now
        row.cancellation_reason = data.reason
        await self.repo.save()
        rejected = await QuoteRepository(self.uow.session).reject_pending(
            me, row.id, "The homeowner cancelled the request.", now, except_id=None
        )
        self.uow.record(
            AuditEntry(
                "service_request_cancelled",
                "service_request",
                row.id,
                old_values={"status": "open"},
                new_values={"status": "cancelled", "reason": data.reason, "quotes_rejected": len(rejected)},
            )
        )
        await queue_notes(
            self.uow,
            [
                Note(
                    q.provider_user_id,
                    "service_request_cancelled",
                    f"Request cancelled: {row.problem_title}",
                    "The homeowner cancelled the request you quoted on.",
                    "quote",
                    q.id,
                    f"/api/v1/quotes/{q.id}",
                )
                for q in rejected
            ],
        )
        return request_out(row)

    async def add_image(self, request_id: uuid.UUID, data: bytes) -> ServiceRequestOut:
        me = self.uow.actor.require_user_id()
        row = await self.repo.lock(me, request_id)
        if row is None:
            raise ServiceRequestNotFound()
        if row.status not in OPEN_STATUSES:
            raise Conflict("Photos are added while the request is open.", code="service_request_closed")
        if len(row.additional_images or []) >= MAX_REQUEST_IMAGES:
            raise Conflict(f"A request keeps at most {MAX_REQUEST_IMAGES} photos.", code="too_many_images")
        from anyio import to_thread

        limit = await max_image_bytes(self.uow)
        clean = await to_thread.run_sync(lambda: sanitize_image(data, max_bytes=limit))
        key = f"requests/{me}/{row.id}/{uuid.uuid4().hex}.{clean.extension}"
        entry = {
            "key": key,
            "content_type": clean.content_type,
            "size": len(clean.data),
            "width": clean.width,
            "height": clean.height,
        }
        row.additional_images = [*(row.additional_images or []), entry]
        await self.repo.save()
        await store(self.uow, key, clean.data, clean.content_type)
        self.uow.record(AuditEntry("service_request_image_added", "service_request", row.id))
        return request_out(row)

    async def image(self, request_id: uuid.UUID, index: int) -> DownloadOut:
        view = await self.get(request_id)
        if isinstance(view, ServiceRequestOut):
            stmt = select(ServiceRequest.additional_images).where(
                ServiceRequest.requester_id == view.requester_id, ServiceRequest.id == request_id
            )
            images = list(await self.uow.session.scalar(stmt) or [])
        else:
            images = []
            for profile in await self._provider_profiles():
                found = await self.repo.provider_view(request_id, profile.id, count_view=False)
                if found is not None:
                    images = list(found.get("additional_images") or [])
                    break
        if not 0 <= index < len(images):
            raise FileNotFoundProblem()
        img = images[index]
        return await signed_download(
            self.uow.runtime.storage,
            img["key"],
            filename=f"request-{request_id}-{index}.{img['key'].rsplit('.', 1)[-1]}",
            content_type=img["content_type"],
        )

"""Helpers of the marketplace tests: providers (verified by an admin through the API), requests in a city of
their own (so each test's matching lists are its own), quotes with a breakdown that adds up, accepted
projects, photos with EXIF and GPS, and a worker that drains the marketplace's jobs."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from tests.conftest import ApiUser
from tests.web.conftest import browser  # noqa: F401 - the page tests' browser fixture, shared

from homeops.core.jobs import Worker

API = "/api/v1"
MARKET_TASKS = {"marketplace.notify", "marketplace.service_events", "marketplace.expire"}


def photo(fmt: str = "JPEG", *, gps: bool = True, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small photo; with ``gps`` its EXIF has a camera make and a GPS position (Riyadh)."""
    image = Image.new("RGB", size, (180, 40, 40))
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0132] = "2024:11:16 10:30:00"  # DateTime
    if gps:
        exif[0x8825] = {1: "N", 2: (24.0, 42.0, 49.0), 3: "E", 4: (46.0, 40.0, 31.0)}
    image.save(out, format=fmt, exif=exif.tobytes())
    return out.getvalue()


def breakdown(total: float, *, tax_rate: float | None = None) -> dict[str, Any]:
    """Lines that add up: labour 60 %, materials the rest (and a tax on top when ``tax_rate``)."""
    from decimal import ROUND_HALF_UP, Decimal

    total_d = Decimal(str(total))
    if tax_rate:
        subtotal = (total_d / (1 + Decimal(str(tax_rate)) / 100)).quantize(Decimal("0.01"), ROUND_HALF_UP)
        tax = total_d - subtotal
    else:
        subtotal, tax = total_d, Decimal(0)
    labour = (subtotal * Decimal("0.6")).quantize(Decimal("0.01"))
    materials = subtotal - labour
    body: dict[str, Any] = {
        "items": [
            {"category": "labor", "description": "Labour", "hours": 4, "amount": str(labour)},
            {
                "category": "materials",
                "description": "Parts",
                "quantity": 1,
                "unit_price": str(materials),
                "amount": str(materials),
            },
        ],
        "total": str(total_d),
    }
    if tax_rate:
        body["tax"] = {"rate": tax_rate, "amount": str(tax)}
    return body


@dataclass
class Market:
    client: TestClient
    make_user: Callable[..., ApiUser]
    make_staff: Callable[[str], ApiUser]
    city: str = field(default_factory=lambda: f"Riyadh-{uuid.uuid4().hex[:8]}")
    _admin: ApiUser | None = None

    @property
    def admin(self) -> ApiUser:
        if self._admin is None:
            self._admin = self.make_staff("admin")
        return self._admin

    def provider(
        self,
        tag: str = "provider",
        *,
        services: tuple[str, ...] = ("plumbing", "hvac"),
        districts: tuple[str, ...] = ("Al Olaya", "Al Malqa"),
        verified: bool = True,
        business_name: str | None = None,
        **extra: Any,
    ) -> tuple[ApiUser, dict[str, Any]]:
        user = self.make_user(tag, full_name=f"{tag.title()} Hassan")
        body = {
            "provider_type": "engineer",
            "business_name": business_name or f"{tag.title()} Plumbing Services {uuid.uuid4().hex[:6]}",
            "description": "Licensed plumber: leaks, pipes, water heaters.",
            "services_offered": list(services),
            "coverage_areas": [{"city": self.city, "districts": list(districts)}],
            "years_of_experience": 10,
            **extra,
        }
        r = self.client.put(f"{API}/providers/me", json=body, headers=user.headers)
        assert r.status_code == 201, r.text
        profile = r.json()
        if verified:
            v = self.client.post(f"{API}/providers/{profile['id']}/verify", headers=self.admin.headers)
            assert v.status_code == 200, v.text
            profile = v.json()
        return user, profile

    def request(self, owner: ApiUser, **extra: Any) -> dict[str, Any]:
        body = {
            "problem_title": "Urgent pipe leak in kitchen",
            "problem_description": "Water drips from the copper pipe under the sink; the cabinet floor is wet.",
            "problem_category": "plumbing",
            "city": self.city,
            "district": "Al Olaya",
            "property_address": "12 King Fahd Road, Al Olaya",
            "contact_phone": "+966501234567",
            **extra,
        }
        r = self.client.post(f"{API}/service-requests", json=body, headers=owner.headers)
        assert r.status_code == 201, r.text
        return r.json()

    def quote(self, provider: ApiUser, request_id: str, total: float = 850.0, **extra: Any) -> dict[str, Any]:
        r = self.post_quote(provider, request_id, total, **extra)
        assert r.status_code == 201, r.text
        return r.json()

    def post_quote(self, provider: ApiUser, request_id: str, total: float = 850.0, **extra: Any) -> Any:
        body = {
            "estimated_cost": str(total),
            "cost_breakdown": breakdown(total),
            "estimated_duration_days": 1,
            "warranty_period_months": 6,
            "proposed_solution": "Replace the corroded section with new copper pipe and fittings.",
            **extra,
        }
        return self.client.post(
            f"{API}/service-requests/{request_id}/quotes", json=body, headers=provider.headers
        )

    def project(self, **request: Any) -> tuple[ApiUser, ApiUser, dict[str, Any]]:
        """A homeowner, a verified provider and their accepted project."""
        owner = self.make_user("owner", full_name="Sara Ahmed")
        pro, _ = self.provider()
        req = self.request(owner, **request)
        q = self.quote(pro, req["id"])
        r = self.client.post(f"{API}/quotes/{q['id']}/accept", headers=owner.headers)
        assert r.status_code == 201, r.text
        return owner, pro, r.json()

    def status(self, who: ApiUser, project_id: str, status: str, **extra: Any) -> Any:
        return self.client.post(
            f"{API}/projects/{project_id}/status", json={"status": status, **extra}, headers=who.headers
        )

    def complete(self, pro: ApiUser, project_id: str, **extra: Any) -> dict[str, Any]:
        assert self.status(pro, project_id, "in_progress").status_code == 200
        r = self.status(pro, project_id, "completed", **extra)
        assert r.status_code == 200, r.text
        return r.json()

    def rating(self, owner: ApiUser, project_id: str, stars: int = 5, **extra: Any) -> Any:
        body = {
            f"{d}_rating": stars
            for d in ("overall", "quality", "timeliness", "professionalism", "value", "communication")
        }
        return self.client.post(
            f"{API}/projects/{project_id}/rating",
            json={**body, "review_text": "Excellent service, fixed the problem quickly!", **extra},
            headers=owner.headers,
        )


@pytest.fixture
def market(client: TestClient, make_user, make_staff) -> Market:  # type: ignore[no-untyped-def]
    return Market(client, make_user, make_staff)


@pytest.fixture
def drain_market(make_worker: Callable[..., Worker]) -> Callable[[], int]:
    """Runs the marketplace's queued jobs (notifications, service events, expiry) as the worker would."""

    def _drain() -> int:
        async def run() -> int:
            async with make_worker(tasks=MARKET_TASKS) as worker:
                return await worker.drain()

        return asyncio.run(run())

    return _drain

"""Telemetry in a real browser (Debian's Chromium through Playwright) against the app on a real port: a member
creates an ingest token on the device page and copies it, a device sends readings with it over HTTP, and the
home's "Energy & sensors" dashboard and the device page draw their charts (uPlot, served by the app from the
installed uplot-python package); an accessibility check (axe-core) and screenshots at desktop and phone widths
(``test-artifacts/screenshots/``).

Locally without Chromium these tests skip, saying how to install it; CI installs it (``.ci/run``)."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import TEST_PASSWORD, ApiUser
from tests.web.conftest import DESKTOP, LiveServer, axe_check, shoot, sign_in_page

_axe = axe_check
_sign_in = sign_in_page


def _shoot(page: Any, name: str) -> None:
    shoot(page, name, settle_ms=150)  # the charts follow the width of their box


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _run_jobs(make_worker: Any, *tasks: str, timeout: float = 30.0) -> None:
    """Queues the jobs and waits until they (and what they queue) are done — by our worker or by the live
    server's, whichever takes them first."""
    from sqlalchemy import text

    from homeops.core.jobs import enqueue

    async def main() -> None:
        worker = make_worker()
        try:
            async with worker.sessions() as session, session.begin():
                first = (await session.execute(text("SELECT coalesce(max(id), 0) FROM jobs"))).scalar_one()
            for task in tasks:
                async with worker.sessions() as session, session.begin():
                    await enqueue(session, task, {})
                deadline = time.monotonic() + timeout
                while True:
                    await worker.drain()
                    async with worker.sessions() as session, session.begin():
                        rows = (
                            await session.execute(
                                text("SELECT task, status, last_error FROM jobs WHERE id > :id"),
                                {"id": first},
                            )
                        ).all()
                    failed = [r for r in rows if r[1] not in ("done", "queued", "running")]
                    assert not failed, failed
                    if all(r[1] == "done" for r in rows):
                        break
                    assert time.monotonic() < deadline, rows
                    await asyncio.sleep(0.2)
        finally:
            await worker.aclose()

    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            outcome.append(exc)

    thread = threading.Thread(target=run, name="telemetry-jobs")
    thread.start()
    thread.join(timeout + 30)
    if outcome:
        raise outcome[0]


def _household(client: TestClient, user: ApiUser) -> tuple[str, list[dict[str, Any]]]:
    r = client.post(
        "/api/v1/homes", json={"name": "Sunny flat", "timezone": "Asia/Riyadh"}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    home_id = r.json()["id"]
    devices = []
    for name in ("Living room sensor", "Bedroom sensor", "Heat pump meter"):
        r = client.post(f"/api/v1/homes/{home_id}/devices", json={"nickname": name}, headers=user.headers)
        assert r.status_code == 201, r.text
        devices.append(r.json())
    return home_id, devices


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_create_a_token_send_readings_and_see_the_charts(
    context: Any,
    live_server: LiveServer,
    client: TestClient,
    make_user: Callable[..., ApiUser],
    make_worker: Any,
) -> None:
    from playwright.sync_api import expect

    user = make_user("charts")
    home_id, devices = _household(client, user)
    living, bedroom, meter = devices
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(  # a script error or a refused resource (the page's CSP) is a failure
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "favicon.ico" not in msg.text and "404 (Not Found)" not in msg.text
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    _sign_in(page, user.email)

    # A token for the living-room sensor, created on its page: shown once, copied with the button.
    page.goto(f"/devices/{living['id']}")
    expect(page.get_by_text("No readings yet")).to_be_visible()
    page.get_by_label("Token name").fill("Living room sensor")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_text("it is shown only once")).to_be_visible()
    token = page.locator("#new-token").input_value()
    assert token.startswith("hit_")
    page.get_by_role("button", name="Copy token").click()
    expect(page.locator("#announce")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == token
    _shoot(page, "telemetry-token-created")

    # A home token (for a hub sending the other devices' readings), from the home page.
    page.goto(f"/homes/{home_id}")
    expect(page.locator("#ingest-tokens")).to_contain_text("Device: Living room sensor")
    page.locator("#ingest-tokens").get_by_text("Create a token").click()
    page.locator("#ingest-tokens").get_by_label("Token name").fill("Hub")
    page.locator("#ingest-tokens").get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", name="Ingest tokens", level=1)).to_be_visible()
    hub = page.locator("#new-token").input_value()

    # The devices send readings over HTTP: two days of temperatures, a meter's cumulative kWh.
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(hours=47)
    living_points = [
        {"metric": "temperature", "ts": _iso(start + timedelta(minutes=10 * i)), "value": 22 + (i % 36) / 9}
        for i in range(282)
    ] + [
        {"metric": "humidity", "ts": _iso(start + timedelta(hours=i)), "value": 40 + i % 7} for i in range(47)
    ]
    hub_points = [
        {
            "device_id": bedroom["id"],
            "metric": "temperature",
            "ts": _iso(start + timedelta(minutes=10 * i)),
            "value": 19 + (i % 24) / 8,
        }
        for i in range(282)
        if not 200 <= i < 230  # a silence: the chart shows the gap
    ]
    energy = [
        {
            "device_id": meter["id"],
            "ts": _iso(now - timedelta(days=3, minutes=-30 * i)),
            "energy_kwh": 500 + i * 0.4,
        }
        for i in range(3 * 48 - 1)
    ] + [  # a second meter: the day's bar is stacked, one colour per device
        {
            "device_id": bedroom["id"],
            "ts": _iso(now - timedelta(days=2, minutes=-60 * i)),
            "energy_kwh": 20 + i * 0.1,
        }
        for i in range(2 * 24 - 1)
    ]
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        for secret, kind, items in (
            (token, "telemetry", living_points),
            (hub, "telemetry", hub_points),
            (hub, "energy", energy),
        ):
            r = http.post(f"/api/v1/ingest/{kind}", json=items, headers={"Authorization": f"Bearer {secret}"})
            assert r.status_code == 200, r.text
            assert r.json()["written"] == len(items)
    _run_jobs(make_worker, "telemetry.rollup", "telemetry.health")

    # The dashboard: energy per day and device, the temperatures, device health — charts drawn by uPlot.
    page.goto(f"/homes/{home_id}")
    expect(page.locator("#energy-sensors")).to_contain_text("3 of 3")
    _axe(page, "home page with telemetry")
    _shoot(page, "telemetry-home")
    page.get_by_role("link", name="Open the dashboard").click()
    expect(page.get_by_role("heading", name="Energy & sensors", level=1)).to_be_visible()
    for chart in ("#energy-chart", "#temperature-chart"):
        expect(page.locator(f"{chart} canvas").first).to_be_visible()
        expect(page.locator(f"{chart} + script + details")).not_to_have_attribute("open", "")
    expect(page.locator("#temperature-chart .u-legend")).to_contain_text("Bedroom sensor")
    expect(page.locator("#energy-chart .u-legend")).to_contain_text("Bedroom sensor")
    expect(page.locator("#health")).to_contain_text("Living room sensor")
    _axe(page, "telemetry dashboard")
    _shoot(page, "telemetry-dashboard")
    page.get_by_role("link", name="7 days").click()
    expect(page.get_by_text("hourly averages, from the hourly statistics")).to_be_visible()
    expect(page.locator("#temperature-chart canvas").first).to_be_visible()

    # The device page: its metrics, a range chosen in place (the chart is drawn again).
    page.goto(f"/devices/{living['id']}")
    expect(page.locator("#device-chart canvas").first).to_be_visible()
    expect(page.locator("#telemetry")).to_contain_text("every reading")
    page.locator("#telemetry").get_by_role("link", name="7 days").click()
    expect(page.locator("#telemetry").get_by_role("link", name="7 days")).to_have_attribute(
        "aria-current", "true"
    )
    expect(page.locator("#telemetry")).to_contain_text("hourly averages")
    expect(page.locator("#device-chart canvas").first).to_be_visible()
    assert "range=7d" in page.url
    page.locator("#telemetry").get_by_role("link", name=re.compile("Humidity")).click()
    expect(page.locator("#device-chart-title")).to_have_text("Humidity")
    expect(page.locator("#device-chart canvas").first).to_be_visible()
    _axe(page, "device page with telemetry")
    page.locator("#ingest-tokens").scroll_into_view_if_needed()
    _shoot(page, "telemetry-device")
    assert not errors, errors


def test_the_dashboard_without_javascript_is_the_tables(
    chromium: Any, live_server: LiveServer, client: TestClient, make_user: Callable[..., ApiUser]
) -> None:
    from playwright.sync_api import expect

    user = make_user("nojs")
    home_id, devices = _household(client, user)
    r = client.post(f"/api/v1/devices/{devices[0]['id']}/ingest-tokens", json={}, headers=user.headers)
    token = r.json()["token"]
    now = datetime.now(UTC)
    items = [
        {"metric": "temperature", "ts": _iso(now - timedelta(minutes=15 * i)), "value": 21.5}
        for i in range(8)
    ]
    with httpx.Client(base_url=live_server.url) as http:
        assert (
            http.post(
                "/api/v1/ingest/telemetry", json=items, headers={"Authorization": f"Bearer {token}"}
            ).status_code
            == 200
        )
    ctx = chromium.new_context(
        base_url=live_server.url, viewport=DESKTOP, locale="ar", java_script_enabled=False
    )
    try:
        page = ctx.new_page()
        page.goto("/sign-in")
        page.locator("input[name=email]").fill(user.email)
        page.locator("input[name=password]").fill(TEST_PASSWORD)
        page.locator("form[action='/sign-in'] button[type=submit]").click()
        page.wait_for_url(re.compile(r"/(\?.*)?$"))
        page.goto(f"/homes/{home_id}/telemetry")
        assert page.locator("html").get_attribute("dir") == "rtl"
        table = page.locator("#temperatures table")
        expect(table).to_be_visible()
        expect(table).to_contain_text("21.5")
        assert page.locator("#temperature-chart canvas").count() == 0
        _shoot(page, "telemetry-dashboard-nojs-ar")
    finally:
        ctx.close()

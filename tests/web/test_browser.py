"""The web interface in a real browser (Debian's Chromium through Playwright) against the app on a real port:
the journeys a person makes, an accessibility check (axe-core) of the main pages, and screenshots of them at
desktop and phone widths (``test-artifacts/screenshots/``, ignored by git).

Locally without Chromium these tests skip, saying how to install it; CI installs it (``.ci/run``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import TEST_PASSWORD, ApiUser
from tests.pdf_writer import make_pdf
from tests.web.conftest import (
    DESKTOP,
    TOKEN_IN_MAIL,
    LiveServer,
    axe_check,
    shoot,
    sign_in_page,
)

_axe = axe_check
_sign_in = sign_in_page
_shoot = shoot


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _model(client: TestClient, admin: ApiUser, **extra: Any) -> dict[str, Any]:
    maker = f"Breeze{uuid.uuid4().hex[:6]}"
    r = client.post(
        "/api/v1/models",
        json={
            "manufacturer": maker,
            "model_number": "AC-12",
            "product_name": f"{maker} split air conditioner",
            "category": "refrigerator",
            **extra,
        },
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_register_verify_home_device_manual_schedule_history(
    context: Any,
    live_server: LiveServer,
    client: TestClient,
    make_staff: Callable[[str], ApiUser],
    tmp_path: Any,
) -> None:
    from playwright.sync_api import expect

    model = _model(client, make_staff("admin"))
    email = f"journey-{uuid.uuid4().hex[:10]}@example.com"
    page = context.new_page()

    # Register (signed in at once), then confirm the e-mail address from the message the server sent.
    page.goto("/register")
    _axe(page, "register")
    _shoot(page, "register")
    page.get_by_label("Full name").fill("Layla Haddad")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/homes")
    expect(page.get_by_text("Welcome to HomeOps!")).to_be_visible()
    mail = live_server.mailbox.wait_for(email)
    token = TOKEN_IN_MAIL.search(mail.get_payload(decode=True).decode()).group(0)  # type: ignore[union-attr]
    page.goto(f"/verify-email?token={token}")
    page.get_by_role("button", name="Confirm my email").click()
    expect(page.get_by_text("your email address is confirmed")).to_be_visible()

    # A home with a room.
    page.goto("/homes")
    page.get_by_label("Name", exact=True).fill("Our flat")
    page.get_by_label("City").fill("Jeddah")
    page.get_by_label("Time zone").select_option("Asia/Riyadh")
    page.get_by_role("button", name="Create home").click()
    expect(page.get_by_role("heading", name="Our flat", level=1)).to_be_visible()
    page.get_by_label("Room name").fill("Living room")
    page.get_by_role("button", name="Add room").click()
    expect(page.get_by_text("Room “Living room” added.")).to_be_visible()
    home_url = page.url.split("#")[0]

    # A device from the catalog (the search updates the picker in place).
    page.get_by_role("link", name="Add a device").first.click()
    page.get_by_label("Manufacturer, model number or name").fill(model["manufacturer"])
    page.get_by_role("button", name="Search the catalog").click()
    page.get_by_role("link", name=re.compile("Choose")).first.click()
    expect(page.get_by_text("Catalog model:")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_value(model["product_name"])
    page.get_by_label("Room", exact=True).select_option(label="Living room")
    page.get_by_label("Serial number").fill("AC12-0001")
    page.get_by_role("button", name="Add device").click()
    expect(page.get_by_role("heading", name=model["product_name"], level=1)).to_be_visible()
    device_url = page.url.split("#")[0]
    page.get_by_role("link", name="Show serial number").click()
    expect(page.get_by_text("AC12-0001")).to_be_visible()

    # Upload its manual; it is processed in the background (the list refreshes itself), then search it.
    pdf = tmp_path / "manual.pdf"
    pdf.write_bytes(
        make_pdf(["Welcome.", "Cleaning the filter: remove the front grille and wash the filter monthly."])
    )
    page.get_by_label("PDF file").set_input_files(str(pdf))
    page.get_by_label("Title", exact=True).fill("Air conditioner guide")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_text("The manual was uploaded")).to_be_visible()
    expect(page.get_by_text("Waiting to be processed")).to_have_count(0, timeout=45_000)
    page.get_by_label("Search this device's manuals").fill("grille")
    page.get_by_role("button", name="Search", exact=True).click()
    cited = page.get_by_role("link", name="Open at page 2")
    expect(cited).to_be_visible()
    href = cited.get_attribute("href")
    assert href and href.endswith("?page=2")
    redirect = page.request.get(href, max_redirects=0)
    assert redirect.status == 303 and redirect.headers["location"].endswith("#page=2")
    opened = page.request.get(href)
    assert opened.status == 200 and opened.headers["content-type"] == "application/pdf"
    _axe(page, "device")
    _shoot(page, "device")

    # A maintenance schedule, completed, seen in the history.
    page.get_by_text("Add a maintenance task").click()
    page.get_by_label("Task", exact=True).fill("Wash the filter")
    page.get_by_label("Every", exact=True).fill("1")
    page.get_by_label("Unit", exact=True).select_option("months")
    page.get_by_label("First due on").fill(date.today().isoformat())
    page.get_by_role("button", name="Add task").click()
    expect(page.get_by_text("“Wash the filter” was scheduled.")).to_be_visible()
    page.goto("/")
    due = page.locator("#maintenance-due")
    expect(due.get_by_text("Wash the filter", exact=True).first).to_be_visible()
    _axe(page, "dashboard")
    _shoot(page, "dashboard")
    due.get_by_role("button", name=re.compile("^Done")).first.click()  # in place (scripted swap)
    expect(page.get_by_text("Marked as done.")).to_be_visible()
    assert page.url.rstrip("/") == live_server.url
    page.goto(device_url)
    history = page.locator("#history")
    expect(history.get_by_text("Wash the filter", exact=True)).to_be_visible()
    expect(history.get_by_text("Maintenance ·")).to_be_visible()

    # The other main pages: accessible, and looked at.
    for path, name in (
        (home_url, "home"),
        ("/devices", "devices"),
        ("/notifications", "notifications"),
        ("/calendar", "calendar"),
        ("/profile", "profile"),
        ("/troubleshooting", "troubleshooting"),
        ("/assistant", "assistant"),
        ("/homes", "homes"),
    ):
        page.goto(path)
        _axe(page, name)
        _shoot(page, name)


def test_troubleshooting_escalates_to_a_ticket(
    context: Any,
    client: TestClient,
    make_staff: Callable[[str], ApiUser],
    make_user: Callable[..., ApiUser],
    make_home: Callable[..., dict],
) -> None:
    from playwright.sync_api import expect

    admin = make_staff("admin")
    model = _model(client, admin)
    client.post(
        f"/api/v1/models/{model['id']}/problems",
        json={
            "problem_description": "Refrigerant leak",
            "symptoms": ["not cooling", "ice on pipes"],
            "error_codes": ["E4"],
            "root_cause": "A leaking joint",
            "solution": "Call a technician to braze it.",
            "severity": "high",
            "frequency": "common",
        },
        headers=admin.headers,
    )
    user = make_user("ts-browser")
    home = make_home(user, "Seaside")
    device = client.post(
        f"/api/v1/homes/{home['id']}/devices",
        json={"nickname": "Bedroom AC", "model_id": model["id"]},
        headers=user.headers,
    ).json()
    page = context.new_page()
    _sign_in(page, user.email)
    page.goto(f"/devices/{device['id']}")
    page.locator("#troubleshooting").get_by_role("link", name="Start troubleshooting").click()
    page.get_by_label("Describe the problem").fill("The room stays warm")
    page.get_by_label("Symptoms", exact=True).fill("not cooling\nice on pipes")
    page.get_by_label("Error codes shown").fill("E4")
    page.get_by_role("button", name="Get suggestions").click()
    expect(page.get_by_text("Refrigerant leak", exact=True)).to_be_visible()
    expect(page.locator("mark", has_text="ice on pipes")).to_be_visible()
    page.get_by_label("Add what you observe").fill("There is water under the unit")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("There is water under the unit")).to_be_visible()
    _axe(page, "troubleshooting session")
    _shoot(page, "troubleshooting-session")
    page.get_by_label("Priority", exact=True).select_option("high")
    page.get_by_role("button", name="Escalate to a ticket").click()
    expect(page.get_by_text("A service ticket was opened")).to_be_visible()
    expect(page.get_by_text("Escalated to a service ticket")).to_be_visible()
    tickets = client.get("/api/v1/service-tickets", headers=user.headers).json()["items"]
    assert [t["priority"] for t in tickets if t["device_id"] == device["id"]] == ["high"]


def test_a_guest_sees_but_cannot_change(
    context: Any, client: TestClient, make_user: Callable[..., ApiUser], make_home: Callable[..., dict]
) -> None:
    from playwright.sync_api import expect

    owner, guest = make_user("b-owner"), make_user("b-guest")
    home = make_home(owner, "Family house")
    client.post(f"/api/v1/homes/{home['id']}/rooms", json={"name": "Garage"}, headers=owner.headers)
    device = client.post(
        f"/api/v1/homes/{home['id']}/devices", json={"nickname": "Water heater"}, headers=owner.headers
    ).json()
    r = client.post(
        f"/api/v1/homes/{home['id']}/members",
        json={"email": guest.email, "role": "guest"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    page = context.new_page()
    _sign_in(page, guest.email)
    page.goto(f"/homes/{home['id']}")
    expect(page.get_by_text("You are a guest in this home")).to_be_visible()
    expect(page.get_by_text("Garage")).to_be_visible()
    expect(page.get_by_role("link", name="Water heater")).to_be_visible()
    expect(page.get_by_text("Add a room")).to_have_count(0)
    expect(page.get_by_role("link", name="Add a device")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Remove"))).to_have_count(0)
    page.get_by_role("link", name="Water heater").click()
    expect(page.get_by_role("heading", name="Water heater", level=1)).to_be_visible()
    expect(page.get_by_text("Upload a manual")).to_have_count(0)
    expect(page.get_by_text("Add a maintenance task")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    # The form a guest is not shown, sent anyway (with a valid token of this session), is refused.
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(
        f"/homes/{home['id']}/rooms", form={"csrf_token": token or "", "name": "Attic"}
    )
    assert refused.status == 403
    rooms = client.get(f"/api/v1/homes/{home['id']}/rooms", headers=owner.headers).json()
    assert [r["name"] for r in rooms] == ["Garage"]
    assert device["id"]


def test_arabic_renders_right_to_left(
    context: Any, make_user: Callable[..., ApiUser], make_home: Callable[..., dict]
) -> None:
    from playwright.sync_api import expect

    user = make_user("ar-browser")
    make_home(user, "بيت العائلة", timezone="Asia/Riyadh")
    page = context.new_page()
    _sign_in(page, user.email)
    page.get_by_label("Language", exact=True).select_option("ar")  # the switcher submits itself
    page.wait_for_function("document.documentElement.dir === 'rtl'")
    assert page.evaluate("document.documentElement.lang") == "ar"
    expect(page.get_by_role("heading", name="لوحة المعلومات", level=1)).to_be_visible()
    direction = page.evaluate("getComputedStyle(document.querySelector('main')).direction")
    assert direction == "rtl"
    # The brand sits at the right edge in a right-to-left page.
    box = page.locator(".brand").bounding_box()
    assert box is not None and box["x"] > DESKTOP["width"] / 2
    _axe(page, "dashboard (ar)")
    _shoot(page, "dashboard-ar")
    page.goto("/homes")
    expect(page.get_by_role("link", name="بيت العائلة")).to_be_visible()
    _shoot(page, "homes-ar")
    page.goto("/devices")
    _shoot(page, "devices-ar")


def test_signed_out_pages(context: Any) -> None:
    page = context.new_page()
    page.goto("/")
    assert page.url.endswith("/sign-in")
    _axe(page, "sign-in")
    _shoot(page, "sign-in")
    page.goto("/password-reset")
    _axe(page, "password reset")
    # Keyboard: the skip link comes first and moves to the content.
    page.goto("/sign-in")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert "Skip to content" in focused
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"

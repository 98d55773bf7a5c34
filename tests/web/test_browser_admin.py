"""The admin pages in a real browser (Debian's Chromium through Playwright) against the app on a real port: an
admin signs in, finds an account, changes a setting (a bad value first, then a good one) and finds the change in
the audit log; an accessibility check (axe-core) of the users, audit log and settings pages, and their
screenshots at desktop and phone widths (``test-artifacts/screenshots/admin-*.png``, ignored by git).

Locally without Chromium these tests skip, saying how to install it; CI installs it (``.ci/run``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ApiUser
from tests.web.conftest import axe_check, shoot, sign_in_page

_axe = axe_check
_sign_in = sign_in_page
_shoot = shoot


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_an_admin_changes_a_setting_and_finds_it_in_the_audit_log(
    context: Any,
    client: TestClient,
    make_user: Callable[..., ApiUser],
    make_staff: Callable[[str], ApiUser],
) -> None:
    from playwright.sync_api import expect

    admin = make_staff("admin")
    member = make_user("listed", full_name="Noura Listed")
    key = f"test.browser_{uuid.uuid4().hex[:10]}"
    r = client.post(
        "/api/v1/settings",
        json={
            "setting_key": key,
            "setting_type": "number",
            "value": 14,
            "category": "browser",
            "description": "Days a quote stays valid (browser test)",
            "validation_rules": {"min": 1, "max": 180, "integer": True},
        },
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    page = context.new_page()
    _sign_in(page, admin.email)

    # The admin entries of the navigation; the users page finds an account.
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    page.get_by_label("Email or name").fill(member.email)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("link", name="Noura Listed")).to_be_visible()
    page.get_by_label("Email or name").fill("")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name="All accounts, newest first")).to_be_visible()
    _axe(page, "admin users")
    _shoot(page, "admin-users")
    page.get_by_role("link", name="Noura Listed").click()
    expect(page.get_by_role("heading", name="Noura Listed", level=1)).to_be_visible()
    _axe(page, "admin user")
    _shoot(page, "admin-user")

    # Settings: a value out of range is refused next to its field, then a good one is saved.
    nav.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="System settings", level=1)).to_be_visible()
    page.get_by_label("Category").select_option("browser")
    expect(page.get_by_text(key, exact=True)).to_be_visible()
    field = page.get_by_label(key)
    expect(field).to_have_value("14")
    item = page.locator(f"li#setting-{key.replace('.', '-')}")
    field.fill("500")
    item.get_by_role("button", name="Save").click()
    expect(item.get_by_text("Must be at most 180.")).to_be_visible()
    expect(page.get_by_text(f"“{key}” was not saved.")).to_be_visible()
    expect(page.get_by_label(key)).to_have_attribute("aria-invalid", "true")
    _shoot(page, "admin-settings-error")
    page.get_by_label(key).fill("30")
    page.locator(f"li#setting-{key.replace('.', '-')}").get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"“{key}” was saved.")).to_be_visible()
    expect(page.get_by_label(key)).to_have_value("30")
    r = client.get(f"/api/v1/settings/{key}", headers=admin.headers)
    assert r.json()["value"] == 30
    page.goto("/admin/settings")
    _axe(page, "admin settings")
    _shoot(page, "admin-settings")

    # The change is in the audit log, with its old and new values.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    _axe(page, "admin audit log")
    _shoot(page, "admin-audit")
    page.get_by_label("Action type").fill("setting_updated")
    page.get_by_label("Person who acted").fill(admin.email)
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page.get_by_role("heading", name="Matching entries, newest first")).to_be_visible()
    page.locator("#audit-results a.item-title").first.click()
    expect(page.get_by_role("heading", name="Old and new values")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="value")
    expect(row.get_by_role("cell").nth(0)).to_have_text("14")
    expect(row.get_by_role("cell").nth(1)).to_have_text("30")
    _axe(page, "admin audit entry")
    _shoot(page, "admin-audit-entry")

    # Right to left in Arabic (the language menu of the top bar).
    page.get_by_label("Language").select_option("ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.goto("/admin/users")
    _shoot(page, "admin-users-ar")
    page.goto("/admin/settings?category=browser")
    _shoot(page, "admin-settings-ar")


def test_the_admin_pages_are_not_in_a_homeowners_navigation(
    context: Any, make_user: Callable[..., ApiUser]
) -> None:
    from playwright.sync_api import expect

    user = make_user("nonadmin")
    page = context.new_page()
    _sign_in(page, user.email)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Dashboard")).to_be_visible()
    for label in ("Users", "Audit log", "Settings"):
        expect(nav.get_by_role("link", name=label)).to_have_count(0)
    response = page.goto("/admin/settings")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()

"""The support staff's pages in a real browser (Debian's Chromium through Playwright) against the app on a real
port: a homeowner's troubleshooting session escalated to a ticket, which a support user finds in the queue,
assigns to themself and resolves; the staff pages checked with axe-core and photographed at desktop and phone
widths (``test-artifacts/screenshots/``, ignored by git).

Locally without Chromium these tests skip, saying how to install it; CI installs it (``.ci/run``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ApiUser
from tests.manuals.conftest import pdf_for
from tests.web.conftest import axe_check, shoot, sign_in_page

_axe = axe_check
_sign_in = sign_in_page
_shoot = shoot


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_an_escalated_session_is_assigned_and_resolved_by_support(
    context: Any,
    client: TestClient,
    make_staff: Callable[[str], ApiUser],
    make_user: Callable[..., ApiUser],
    make_home: Callable[..., dict],
) -> None:
    from playwright.sync_api import expect

    homeowner = make_user("esc-owner", full_name="Mariam Yousef")
    home = make_home(homeowner, "Corniche flat", timezone="Asia/Riyadh")
    device = client.post(
        f"/api/v1/homes/{home['id']}/devices", json={"nickname": "Kitchen boiler"}, headers=homeowner.headers
    ).json()
    summary = f"Boiler pressure drops {uuid.uuid4().hex[:6]}"
    session = client.post(
        "/api/v1/troubleshooting-sessions",
        json={"device_id": device["id"], "issue_summary": summary, "symptoms": ["pressure drops"]},
        headers=homeowner.headers,
    )
    assert session.status_code == 201, session.text

    # The homeowner escalates the session in the browser.
    owner_page = context.new_page()
    _sign_in(owner_page, homeowner.email)
    owner_page.goto(f"/troubleshooting/{session.json()['id']}")
    owner_page.get_by_label("Add what you observe").fill("The gauge falls below 1 bar overnight")
    owner_page.get_by_role("button", name="Send").click()
    expect(owner_page.get_by_text("The gauge falls below 1 bar overnight")).to_be_visible()
    owner_page.get_by_label("Priority", exact=True).select_option("high")
    owner_page.get_by_role("button", name="Escalate to a ticket").click()
    expect(owner_page.get_by_text("A service ticket was opened")).to_be_visible()
    owner_page.close()
    context.clear_cookies()

    # A moderation item and a complaint, so that those queues have something to show.
    brand = f"Shot{uuid.uuid4().hex[:6]}"
    uploaded = client.post(
        "/api/v1/manuals",
        files={"file": ("manual.pdf", pdf_for(brand), "application/pdf")},
        data={"brand": brand, "model_numbers": ["KB-2"], "title": f"{brand} boiler manual"},
        headers=homeowner.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    client.post(
        "/api/v1/assistant/complaints",
        json={"title": "Nobody called me back", "description": "I waited two days, this is unacceptable!"},
        headers=homeowner.headers,
    )

    # Support finds it in the queue, assigns it to themself and resolves it.
    support = make_staff("support")
    page = context.new_page()
    _sign_in(page, support.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tickets").click()
    expect(page.get_by_role("heading", name="Support tickets", level=1)).to_be_visible()
    page.get_by_label("Assignee").select_option("none")  # the filter applies itself (in place)
    page.wait_for_url(re.compile(r"assigned=none"))
    expect(page.get_by_role("link", name=summary)).to_be_visible()
    _axe(page, "support queue")
    _shoot(page, "support-queue")
    page.get_by_role("link", name=summary).click()
    expect(page.get_by_role("heading", name=summary, level=1)).to_be_visible()
    expect(page.get_by_text("The gauge falls below 1 bar overnight")).to_be_visible()
    expect(page.get_by_text("Mariam Yousef")).to_be_visible()
    _axe(page, "support ticket")
    _shoot(page, "support-ticket")
    page.get_by_role("button", name="Assign to me").click()
    expect(page.get_by_text("The ticket was assigned.")).to_be_visible()
    page.get_by_role("button", name="Start work").click()
    expect(page.get_by_text("The ticket's status was changed.")).to_be_visible()
    page.get_by_label("What was done").fill("Refilled the system and replaced the expansion vessel.")
    page.get_by_role("button", name="Mark as resolved").click()
    expect(page.get_by_text("The ticket's status was changed.")).to_be_visible()
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    _shoot(page, "support-ticket-resolved")
    tickets = client.get("/api/v1/service-tickets", headers=homeowner.headers).json()["items"]
    [ticket] = [t for t in tickets if t["summary"] == summary]
    assert ticket["status"] == "resolved" and ticket["assigned_to"] == str(support.id)
    assert ticket["priority"] == "high" and ticket["resolution"].startswith("Refilled the system")

    # The other staff pages: accessible, and looked at.
    page.goto("/support/manuals")
    expect(page.get_by_role("link", name=f"{brand} boiler manual")).to_be_visible()
    _axe(page, "moderation queue")
    _shoot(page, "support-moderation")
    page.get_by_role("button", name=f"Verify “{brand} boiler manual”").click()
    expect(page.get_by_text("is verified: it is in the shared library now.")).to_be_visible()
    expect(page.get_by_role("link", name=f"{brand} boiler manual")).to_have_count(0)
    manual = client.get(f"/api/v1/manuals/{uploaded.json()['id']}", headers=support.headers).json()
    assert manual["visibility"] == "shared"
    page.goto("/support/complaints")
    page.get_by_role("link", name="Nobody called me back").first.click()
    _axe(page, "support complaint")
    _shoot(page, "support-complaint")
    page.goto("/support/complaints")
    _axe(page, "support complaints")
    _shoot(page, "support-complaints")

    # Right to left in Arabic.
    page.get_by_label("Language", exact=True).select_option("ar")  # the switcher submits itself
    page.wait_for_function("document.documentElement.dir === 'rtl'")
    page.goto("/support/tickets")
    _axe(page, "support queue (ar)")
    _shoot(page, "support-queue-ar")
    page.goto(f"/support/tickets/{ticket['id']}")
    _shoot(page, "support-ticket-ar")


def test_a_homeowner_meets_no_staff_page(
    context: Any, make_user: Callable[..., ApiUser], make_home: Callable[..., dict]
) -> None:
    from playwright.sync_api import expect

    user = make_user("no-staff")
    make_home(user)
    page = context.new_page()
    _sign_in(page, user.email)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Troubleshooting")).to_be_visible()
    for label in ("Tickets", "Complaints", "Moderation"):
        expect(nav.get_by_role("link", name=label)).to_have_count(0)
    response = page.goto("/support/tickets")
    assert response is not None and response.status == 403
    expect(page.get_by_text("Your role does not allow this.")).to_be_visible()
    _axe(page, "support refused")

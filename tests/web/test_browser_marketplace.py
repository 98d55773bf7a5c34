"""The marketplace in a real browser (Debian's Chromium through Playwright) against the app on a real port:
Scenario 1 (a homeowner registers, runs a photo diagnostic, posts a request from it; a verified provider quotes
in another browser; the homeowner compares and accepts; they chat — the open conversation refreshes itself —;
the provider completes; the homeowner rates) and Scenario 3 (an engineer registers, writes the profile, adds a
portfolio item with a photo; an admin verifies it), with an accessibility check (axe-core) and screenshots at
desktop and phone widths of the main pages (``test-artifacts/screenshots/marketplace-*``).

Locally without Chromium these tests skip, saying how to install it (see tests/web/conftest.py)."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.conftest import TEST_PASSWORD, ApiUser
from tests.marketplace.conftest import Market
from tests.web.conftest import axe_check, shoot, sign_in_page

_axe = axe_check
_sign_in = sign_in_page


def _shoot(page: Any, name: str) -> None:
    shoot(page, f"marketplace-{name}")


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def market(
    client: TestClient, make_user: Callable[..., ApiUser], make_staff: Callable[[str], ApiUser]
) -> Market:
    return Market(client, make_user, make_staff)


def _check(page: Any, name: str) -> None:
    _axe(page, name)
    _shoot(page, name)


def _register(page: Any, name: str) -> str:
    email = f"m-{uuid.uuid4().hex[:10]}@example.com"
    page.goto("/register")
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/homes")
    return email


def _photo(path: Path, fmt: str = "JPEG") -> Path:
    image = Image.new("RGB", (320, 240), (40, 90, 160))
    out = io.BytesIO()
    image.save(out, format=fmt)
    path.write_bytes(out.getvalue())
    return path


def test_scenario_1_request_quote_accept_complete_rate(
    context: Any, other_context: Any, market: Market, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    pro, profile = market.provider("b-pro", business_name=f"Faisal Plumbing {uuid.uuid4().hex[:6]}")
    rival, _ = market.provider("b-rival", business_name=f"Quick Fix {uuid.uuid4().hex[:6]}")

    # The homeowner registers and runs a photo diagnostic.
    home = context.new_page()
    home.on("dialog", lambda dialog: dialog.accept())
    _register(home, "Sara Ahmed")
    home.get_by_role("link", name="Services", exact=True).click()
    expect(home.get_by_role("heading", name="Home services", level=1)).to_be_visible()
    _check(home, "hub-empty")
    home.get_by_role("link", name="Run a photo diagnostic").first.click()
    home.get_by_label("Photo").set_input_files(str(_photo(tmp_path / "leak.jpg")))
    home.get_by_label("What do you see?").fill("Water is leaking from the pipe under the kitchen sink")
    home.get_by_label("Kind of problem").select_option("plumbing")
    _check(home, "diagnostic-new")
    home.get_by_role("button", name="Analyse").click()
    expect(home.get_by_role("heading", name="What this is based on")).to_be_visible()
    expect(home.get_by_text("Words in your description:")).to_be_visible()
    _check(home, "diagnostic")

    # A request from it.
    home.get_by_role("link", name="Request a professional").click()
    expect(home.get_by_text("From your diagnostic")).to_be_visible()
    expect(home.get_by_label("Service needed")).to_have_value("plumbing")
    home.get_by_label("Title").fill("Kitchen pipe leaking")
    home.get_by_label("City").fill(market.city)
    home.get_by_label("District").fill("Al Olaya")
    home.get_by_label("Address").fill("12 King Fahd Road")
    home.get_by_label("Contact phone").fill("+966501234567")
    _check(home, "request-new")
    home.get_by_role("button", name="Post the request").click()
    expect(home.get_by_text("Your request was posted.")).to_be_visible()
    expect(home.get_by_text("No quote yet")).to_be_visible()
    request_url = home.url

    # The provider, in its own browser, sees the request and quotes (a wrong sum first).
    shop = other_context.new_page()
    shop.on("dialog", lambda dialog: dialog.accept())
    _sign_in(shop, pro.email)
    shop.get_by_role("link", name="My business").click()
    _check(shop, "provider-home")
    shop.get_by_role("link", name="Kitchen pipe leaking").click()
    expect(shop.get_by_text("12 King Fahd Road")).to_have_count(0)
    shop.get_by_label("Line 1: description").fill("Labour")
    shop.get_by_label("Line 1: amount").fill("500")
    shop.get_by_label("Line 2: description").fill("Copper pipe and fittings")
    shop.get_by_label("Line 2: amount").fill("350")
    shop.get_by_label("Total", exact=True).fill("900")
    shop.get_by_label("Duration (days)").fill("1")
    shop.get_by_label("Warranty (months)").fill("6")
    shop.get_by_label("Proposed solution").fill("Replace the corroded section of pipe.")
    _check(shop, "quote-form")
    shop.get_by_role("button", name="Send the quote").click()
    expect(shop.get_by_text("must add up exactly to the total").first).to_be_visible()
    expect(shop.get_by_label("Line 2: amount")).to_have_value("350")
    shop.get_by_label("Total", exact=True).fill("850")
    shop.get_by_role("button", name="Send the quote").click()
    expect(shop.get_by_text("Your quote was sent to the homeowner.")).to_be_visible()
    market.quote(rival, request_url.rsplit("/", 1)[-1], 990.0)

    # The homeowner compares the two side by side and accepts the cheaper one.
    home.goto(request_url)
    table = home.get_by_role("table")
    expect(table.get_by_text("850.00")).to_be_visible()
    expect(table.get_by_text("990.00")).to_be_visible()
    _check(home, "quotes-compare")
    home.get_by_role("button", name=re.compile(f"^Accept the quote of {profile['business_name']}")).click()
    expect(home.get_by_text("You accepted the quote.")).to_be_visible()
    expect(home.get_by_role("heading", name="Kitchen pipe leaking", level=1)).to_be_visible()
    project_url = home.url.split("#")[0]
    _check(home, "project")

    # They chat: the homeowner's open conversation shows the provider's answer by itself.
    home.get_by_role("link", name="Messages").click()
    home.get_by_label("Your message").fill("Can you come on Sunday?")
    home.get_by_role("button", name="Send").click()
    expect(home.locator(".chat").get_by_text("Can you come on Sunday?")).to_be_visible()
    shop.goto(project_url + "/chat")
    expect(shop.get_by_text("Can you come on Sunday?")).to_be_visible()
    shop.get_by_label("Your message").fill("Yes, at 10 in the morning.")
    shop.get_by_role("button", name="Send").click()
    expect(home.locator(".chat").get_by_text("Yes, at 10 in the morning.")).to_be_visible(timeout=20_000)
    _check(home, "chat")

    # The provider starts, notes and completes the work.
    shop.goto(project_url)
    expect(shop.get_by_text("+966501234567")).to_be_visible()
    shop.get_by_role("button", name="Start the work").click()
    expect(shop.get_by_text("The work has started.")).to_be_visible()
    shop.get_by_label("Add a work note").fill("Old pipe section replaced, no more drips.")
    shop.get_by_role("button", name="Add the note").click()
    expect(shop.get_by_text("Old pipe section replaced, no more drips.")).to_be_visible()
    shop.get_by_label("Stage").select_option("after")
    shop.get_by_label("File", exact=True).set_input_files(str(_photo(tmp_path / "after.jpg")))
    shop.get_by_label("Caption (optional)").fill("New pipe section")
    shop.get_by_role("button", name="Add the file").click()
    expect(shop.get_by_role("img", name="New pipe section")).to_be_visible()
    shop.get_by_role("button", name="Mark as completed").click()
    expect(shop.get_by_text("The project is completed.")).to_be_visible()
    _check(shop, "project-provider")

    # The homeowner rates it; the provider's public profile shows the review.
    home.goto(project_url)
    expect(home.get_by_role("heading", name="Rate the work")).to_be_visible()
    home.locator("fieldset", has_text="Communication").get_by_label("4").check()
    home.get_by_label("Your review", exact=True).fill("Quick, tidy and on time.")
    _check(home, "rate")
    home.get_by_role("button", name="Publish the review").click()
    expect(home.get_by_text("Thank you for your review!")).to_be_visible()
    expect(home.get_by_text("Quick, tidy and on time.")).to_be_visible()
    shop.goto("/business/reviews")
    shop.get_by_label("Your answer").fill("Thank you, Sara!")
    _check(shop, "reviews")
    shop.get_by_role("button", name="Publish the answer").click()
    expect(shop.get_by_text("Your answer is published with the review.")).to_be_visible()
    home.reload()
    home.get_by_role("link", name=profile["business_name"]).first.click()
    expect(home.get_by_text("Thank you, Sara!")).to_be_visible()
    expect(home.get_by_text("Quick, tidy and on time.")).to_be_visible()
    _check(home, "provider-public")
    home.goto("/market")
    _check(home, "hub")


def test_scenario_3_engineer_profile_portfolio_verified(
    context: Any, other_context: Any, market: Market, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = context.new_page()
    _register(page, "Omar Khalid")
    page.goto("/business")
    expect(page.get_by_text("No provider profile yet")).to_be_visible()
    page.get_by_role("link", name="Create your profile").click()
    name = f"Omar HVAC {uuid.uuid4().hex[:6]}"
    page.get_by_label("You are").select_option("engineer")
    page.get_by_label("Business name").fill(name)
    page.get_by_label("About your work").fill("AC installation and maintenance, 8 years.")
    page.get_by_label("Heating & air conditioning").check()
    page.get_by_label("City 1", exact=True).fill(market.city)
    page.get_by_label("Districts in city 1").fill("Al Olaya, Al Malqa")
    page.get_by_label("Years of experience").fill("8")
    _check(page, "profile-edit")
    page.get_by_role("button", name="Save the profile").click()
    expect(page.get_by_text("Your provider profile was created.")).to_be_visible()
    expect(page.get_by_text("waiting for an admin's verification").first).to_be_visible()

    page.get_by_role("link", name="Portfolio").click()
    page.get_by_label("Title").fill("Split AC installation")
    page.get_by_label("Photos").set_input_files(str(_photo(tmp_path / "ac.png", "PNG")))
    page.get_by_label("Service").select_option("hvac")
    page.get_by_label("Show it first").check()
    page.get_by_role("button", name="Add to the portfolio").click()
    expect(page.get_by_text("was added to your portfolio")).to_be_visible()
    expect(page.get_by_text("1 photo", exact=True)).to_be_visible()
    _check(page, "portfolio")
    thumb = page.get_by_role("img", name="Split AC installation, photo 1")
    expect(thumb).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    opened = page.request.get(thumb.get_attribute("src"))
    assert opened.status == 200 and opened.headers["content-type"].startswith("image/")

    # An admin verifies it on the admin page.
    admin = other_context.new_page()
    _sign_in(admin, market.admin.email)
    admin.get_by_role("link", name="Marketplace", exact=True).click()
    _check(admin, "admin")
    admin.get_by_role("button", name=f"Verify {name}").click()
    expect(admin.get_by_text("The provider is verified")).to_be_visible()

    page.goto("/business")
    expect(page.get_by_text("waiting for an admin's verification")).to_have_count(0)
    page.get_by_role("link", name="Public profile").click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(page.get_by_text("Split AC installation")).to_be_visible()
    _shoot(page, "provider-public-new")

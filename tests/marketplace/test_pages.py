"""The marketplace's pages (server-rendered, the same services as the API): Scenario 1 through the forms, the
provider's side, the admin's; and from the attacker's side — another homeowner gets 404 on a request, a
project and its chat; a provider sees only the requests that match it; forms without a CSRF token change
nothing."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi.testclient import TestClient
from tests.marketplace.conftest import API, Market, photo
from tests.web.conftest import Browser, csrf_of


def _quote_form(total: str = "850.00", **extra: str) -> dict[str, str]:
    return {
        "line-0-category": "labor",
        "line-0-description": "Labour",
        "line-0-amount": "500.00",
        "line-1-category": "materials",
        "line-1-description": "Copper pipe and fittings",
        "line-1-amount": "350.00",
        "estimated_cost": total,
        "estimated_duration_days": "1",
        "warranty_period_months": "6",
        "proposed_solution": "Replace the corroded section.",
        "materials_included": "on",
        **extra,
    }


def _location(r: Any) -> str:
    assert r.status_code == 303, (r.status_code, r.text[:2000])
    return str(r.headers["location"])


def test_scenario_1_through_the_pages(browser: Browser, market: Market, client: TestClient) -> None:
    owner = market.make_user("owner", full_name="Sara Ahmed")
    pro, profile = market.provider("pro")

    # A photo diagnostic, then a request from it.
    browser.switch_to(owner)
    r = browser.post_form(
        "/market/diagnostics/new",
        "/market/diagnostics",
        {"description": "Water is leaking from the pipe under the kitchen sink", "category_hint": "plumbing"},
        files={"image": ("leak.jpg", photo(), "image/jpeg")},
    )
    diagnostic_url = _location(r)
    page = browser.get(diagnostic_url)
    assert page.status_code == 200
    assert "What this is based on" in page.text and "leak" in page.text
    diagnostic_id = diagnostic_url.rsplit("/", 1)[-1]
    form = browser.get(f"/market/requests/new?diagnostic_id={diagnostic_id}")
    assert "From your diagnostic" in form.text
    r = browser.post_form(
        f"/market/requests/new?diagnostic_id={diagnostic_id}",
        "/market/requests",
        {
            "diagnostic_id": diagnostic_id,
            "problem_title": "Kitchen pipe leaking",
            "problem_description": "Water drips from the copper pipe under the sink.",
            "problem_category": "plumbing",
            "city": market.city,
            "district": "Al Olaya",
            "property_address": "12 King Fahd Road",
            "preferred_provider_type": "any",
            "contact_phone": "+966501234567",
        },
    )
    request_url = _location(r)
    request_id = request_url.rsplit("/", 1)[-1]
    page = browser.get(request_url)
    assert "Kitchen pipe leaking" in page.text and "No quote yet" in page.text

    # The provider sees it among its matching requests (without the address), and quotes.
    browser.switch_to(pro)
    home = browser.get("/business")
    assert "Kitchen pipe leaking" in home.text
    view = browser.get(request_url)
    assert (
        view.status_code == 200 and "12 King Fahd Road" not in view.text and "+966501234567" not in view.text
    )
    bad = browser.post_form(request_url, f"/market/requests/{request_id}/quotes", _quote_form("900.00"))
    assert bad.status_code == 422 and "must add up exactly to the total" in bad.text
    assert client.get(f"{API}/service-requests/{request_id}/quotes", headers=pro.headers).json() == []
    r = browser.post_form(request_url, f"/market/requests/{request_id}/quotes", _quote_form())
    assert _location(r) == request_url
    assert "Withdraw the quote" in browser.get(request_url).text

    # The homeowner compares (a second provider quotes too) and accepts.
    other, _ = market.provider("other")
    market.quote(other, request_id, 990.0)
    browser.switch_to(owner)
    assert "2 quotes to compare" in browser.get("/").text  # the dashboard says so
    page = browser.get(request_url)
    assert page.text.count('action="/market/quotes/') >= 4  # accept + decline for each of the two quotes
    assert "850.00" in page.text and "990.00" in page.text
    quotes = client.get(f"{API}/service-requests/{request_id}/quotes", headers=owner.headers).json()
    mine = next(q for q in quotes if q["provider_id"] == profile["id"])
    r = browser.post_form(request_url, f"/market/quotes/{mine['id']}/accept", {})
    project_url = _location(r)
    project_id = project_url.rsplit("/", 1)[-1]
    page = browser.get(project_url)
    assert page.status_code == 200 and "Scheduled" in page.text

    # Chat both ways.
    chat_url = f"{project_url}/chat"
    r = browser.post_form(
        chat_url, f"/market/projects/{project_id}/chat", {"text": "Can you come on Sunday?"}
    )
    assert _location(r).startswith(chat_url)
    browser.switch_to(pro)
    page = browser.get(chat_url)
    assert "Can you come on Sunday?" in page.text
    browser.post_form(chat_url, f"/market/projects/{project_id}/chat", {"text": "Yes, at 10."})
    page = browser.get(project_url)
    assert "+966501234567" in page.text  # the selected provider gets the contact details

    # The provider starts and completes (a different cost needs a reason), with a work note.
    status = f"/market/projects/{project_id}/status"
    _location(browser.post_form(project_url, status, {"status": "in_progress"}))
    _location(
        browser.post_form(project_url, f"/market/projects/{project_id}/notes", {"note": "Pipe replaced."})
    )
    r = browser.post_form(project_url, status, {"status": "completed", "actual_cost": "900.00"})
    assert r.status_code == 422 and "say why" in r.text
    _location(
        browser.post_form(
            project_url,
            status,
            {"status": "completed", "actual_cost": "900.00", "cost_difference_reason": "An extra valve."},
        )
    )
    assert "Pipe replaced." in browser.get(project_url).text

    # The homeowner rates; the provider answers the review.
    browser.switch_to(owner)
    page = browser.get(project_url)
    assert "Rate the work" in page.text and "Yes, at 10." in browser.get(chat_url).text
    rating = {f"{d}_rating": "5" for d in ("overall", "quality", "timeliness", "professionalism", "value")}
    r = browser.post_form(project_url, f"/market/projects/{project_id}/rating", rating)
    assert r.status_code == 422  # communication_rating missing
    rating["communication_rating"] = "4"
    rating["review_text"] = "Quick and tidy."
    _location(browser.post_form(project_url, f"/market/projects/{project_id}/rating", rating))
    page = browser.get(project_url)
    assert "Quick and tidy." in page.text and "Rate the work" not in page.text

    browser.switch_to(pro)
    reviews = browser.get("/business/reviews")
    assert "Quick and tidy." in reviews.text
    rating_id = re.search(r"/market/ratings/([0-9a-f-]{36})/response", reviews.text).group(1)  # type: ignore[union-attr]
    _location(
        browser.post_form("/business/reviews", f"/market/ratings/{rating_id}/response", {"text": "Thanks!"})
    )
    public = browser.get(f"/market/providers/{profile['id']}")
    assert "Quick and tidy." in public.text and "Thanks!" in public.text


def test_another_homeowner_gets_404_on_the_request_project_and_chat(
    browser: Browser, market: Market, client: TestClient
) -> None:
    owner, _pro, project = market.project()
    intruder = market.make_user("intruder")
    request_id, project_id = project["request_id"], project["id"]
    browser.switch_to(owner)
    assert browser.get(f"/market/projects/{project_id}/chat").status_code == 200
    browser.switch_to(intruder)
    for path in (
        f"/market/requests/{request_id}",
        f"/market/projects/{project_id}",
        f"/market/projects/{project_id}/chat",
    ):
        r = browser.get(path)
        assert r.status_code == 404, path
        assert "Sara Ahmed" not in r.text and "Urgent pipe leak" not in r.text
    # Its forms are refused too, and nothing is written.
    token = csrf_of(browser.get("/market").text)
    for action, data in (
        (f"/market/projects/{project_id}/chat", {"text": "Hello from outside"}),
        (f"/market/projects/{project_id}/status", {"status": "cancelled"}),
        (f"/market/projects/{project_id}/notes", {"note": "Not mine"}),
        (f"/market/requests/{request_id}/cancel", {}),
        (f"/market/quotes/{project['quote_id']}/accept", {}),
    ):
        r = client.post(action, data={"csrf_token": token, **data}, follow_redirects=False)
        assert r.status_code == 404, (action, r.status_code)
    messages = client.get(f"{API}/projects/{project_id}/messages", headers=owner.headers).json()["items"]
    assert not any(m["message_text"] == "Hello from outside" for m in messages)
    assert client.get(f"{API}/projects/{project_id}", headers=owner.headers).json()["status"] == "scheduled"


def test_a_provider_sees_only_the_requests_that_match_it(browser: Browser, market: Market) -> None:
    owner = market.make_user("owner")
    plumber, _ = market.provider("plumber", services=("plumbing",))
    painter, _ = market.provider("painter", services=("painting",))
    elsewhere, _ = market.provider("elsewhere", services=("plumbing",), districts=("Al Nakheel",))
    leak = market.request(owner, problem_title="Leak under the sink")
    wall = market.request(owner, problem_title="Repaint the bedroom wall", problem_category="painting")

    browser.switch_to(plumber)
    home = browser.get("/business").text
    assert "Leak under the sink" in home and "Repaint the bedroom wall" not in home
    assert browser.get(f"/market/requests/{wall['id']}").status_code == 404
    browser.switch_to(painter)
    home = browser.get("/business").text
    assert "Repaint the bedroom wall" in home and "Leak under the sink" not in home
    browser.switch_to(elsewhere)
    home = browser.get("/business").text
    assert "Leak under the sink" not in home and "No open request matches your profile" in home
    assert browser.get(f"/market/requests/{leak['id']}").status_code == 404


def test_an_unverified_provider_cannot_quote_from_the_page(
    browser: Browser, market: Market, client: TestClient
) -> None:
    owner = market.make_user("owner")
    request = market.request(owner)
    rookie, _ = market.provider("rookie", verified=False)
    browser.switch_to(rookie)
    home = browser.get("/business").text
    assert "waiting for an admin" in home and "Urgent pipe leak" not in home
    token = csrf_of(home)
    r = client.post(
        f"/market/requests/{request['id']}/quotes",
        data={"csrf_token": token, **_quote_form()},
        follow_redirects=False,
    )
    assert r.status_code in (403, 404)
    assert (
        client.get(f"{API}/service-requests/{request['id']}", headers=owner.headers).json()["quotes_count"]
        == 0
    )


def test_forms_without_a_valid_csrf_token_change_nothing(
    browser: Browser, market: Market, client: TestClient
) -> None:
    owner, _pro, project = market.project()
    browser.switch_to(owner)
    project_id = project["id"]
    for token in (None, "forged-token"):
        data = {"text": "Forged message"} | ({"csrf_token": token} if token else {})
        r = client.post(f"/market/projects/{project_id}/chat", data=data, follow_redirects=False)
        assert r.status_code == 403 and "The form expired" in r.text
        data = {"status": "cancelled"} | ({"csrf_token": token} if token else {})
        assert client.post(f"/market/projects/{project_id}/status", data=data).status_code == 403
    r = client.post(
        "/market/requests",
        data={"problem_title": "x", "problem_description": "y", "problem_category": "plumbing", "city": "z"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert client.get(f"{API}/service-requests", headers=owner.headers).json()["items"] == [
        client.get(f"{API}/service-requests/{project['request_id']}", headers=owner.headers).json()
    ]
    messages = client.get(f"{API}/projects/{project_id}/messages", headers=owner.headers).json()["items"]
    assert not any(m["message_text"] == "Forged message" for m in messages)
    assert client.get(f"{API}/projects/{project_id}", headers=owner.headers).json()["status"] == "scheduled"


def test_bad_input_is_shown_on_the_form_and_nothing_is_written(
    browser: Browser, market: Market, client: TestClient
) -> None:
    owner = market.make_user("owner")
    browser.switch_to(owner)
    # No photo; then not an image.
    r = browser.post_form("/market/diagnostics/new", "/market/diagnostics", {"description": "leak"})
    assert r.status_code == 422 and "Choose a photo of the problem." in r.text
    r = browser.post_form(
        "/market/diagnostics/new",
        "/market/diagnostics",
        {"description": "leak"},
        files={"image": ("leak.jpg", b"not an image at all", "image/jpeg")},
    )
    assert r.status_code in (415, 422) and 'class="alert alert-error"' in r.text
    assert client.get(f"{API}/diagnostics", headers=owner.headers).json()["items"] == []
    # A request without a city (and no home), and one for an unknown service.
    base = {"problem_title": "Leak", "problem_description": "Drips.", "problem_category": "plumbing"}
    r = browser.post_form("/market/requests/new", "/market/requests", base)
    assert r.status_code == 422 and "Say where the work is" in r.text
    assert 'value="Leak"' in r.text  # what was typed is kept
    r = browser.post_form(
        "/market/requests/new", "/market/requests", {**base, "city": market.city, "problem_category": "nope"}
    )
    assert r.status_code == 422
    assert client.get(f"{API}/service-requests", headers=owner.headers).json()["items"] == []


def test_provider_profile_portfolio_and_public_page(
    browser: Browser, market: Market, client: TestClient
) -> None:
    """Scenario 3 through the pages: an engineer registers, creates the profile, adds a portfolio item with a
    photo; once an admin verified it (on the admin page), the public page shows it."""
    engineer = market.make_user("engineer", full_name="Omar Engineer")
    browser.switch_to(engineer)
    assert "No provider profile yet" in browser.get("/business").text
    r = browser.post_form(
        "/business/profile",
        "/business/profile",
        {"provider_type": "engineer", "business_name": "Omar HVAC"},
    )
    assert r.status_code == 422 and 'id="services-error"' in r.text  # no service chosen
    assert client.get(f"{API}/providers/me", headers=engineer.headers).status_code == 403
    name = f"Omar HVAC {uuid.uuid4().hex[:6]}"
    r = browser.post_form(
        "/business/profile",
        "/business/profile",
        {
            "provider_type": "engineer",
            "business_name": name,
            "description": "AC maintenance and repair.",
            "services_offered": ["hvac", "electrical"],
            "area-0-city": market.city,
            "area-0-districts": "Al Olaya, Al Malqa",
            "years_of_experience": "8",
            "license_number": "ENG-42",
        },
    )
    assert _location(r) == "/business"
    mine = client.get(f"{API}/providers/me", headers=engineer.headers).json()
    assert mine["services_offered"] == ["hvac", "electrical"]
    assert mine["coverage_areas"] == [{"city": market.city, "districts": ["Al Olaya", "Al Malqa"]}]
    # Saving again keeps what the form does not show (certifications through the API).
    cert = {"name": "HVAC certificate", "issuer": "SCE", "expiry_date": "2099-01-01"}
    body = {k: mine[k] for k in ("provider_type", "business_name", "services_offered", "coverage_areas")}
    assert (
        client.put(
            f"{API}/providers/me", json={**body, "certifications": [cert]}, headers=engineer.headers
        ).status_code
        == 200
    )
    browser.switch_to(engineer)  # the role became provider: a fresh session carries it
    form = browser.get("/business/profile").text
    assert name in form and 'value="hvac" checked' in form
    _location(
        browser.post_form(
            "/business/profile",
            "/business/profile",
            {
                "provider_type": "engineer",
                "business_name": name,
                "services_offered": ["hvac"],
                "area-0-city": market.city,
            },
        )
    )
    mine = client.get(f"{API}/providers/me", headers=engineer.headers).json()
    assert mine["services_offered"] == ["hvac"] and [c["name"] for c in mine["certifications"]] == [
        "HVAC certificate"
    ]

    # A portfolio item needs a photo.
    r = browser.post_form("/business/portfolio", "/business/portfolio", {"title": "Split AC install"})
    assert r.status_code == 422 and "Add at least one photo." in r.text
    r = browser.post_form(
        "/business/portfolio",
        "/business/portfolio",
        {"title": "Split AC install", "project_type": "hvac", "is_featured": "on"},
        files=[
            ("images", ("ac.jpg", photo(), "image/jpeg")),
            ("images", ("ac2.png", photo("PNG", gps=False), "image/png")),
        ],
    )
    assert _location(r) == "/business/portfolio"
    page = browser.get("/business/portfolio").text
    assert "Split AC install" in page and "2 photos" in page
    item = client.get(f"{API}/providers/{mine['id']}/portfolio", headers=engineer.headers).json()[0]
    image = browser.get(f"/market/portfolio/{item['id']}/images/0", follow=False)
    assert image.status_code == 303 and "/api/v1/files/" in image.headers["location"]

    # Not verified yet: not in search; the admin verifies it on the admin page.
    homeowner = market.make_user("browser")
    browser.switch_to(homeowner)
    assert f'href="/market/providers/{mine["id"]}"' not in browser.get(f"/market/providers?q={name}").text
    assert browser.get("/market/admin").status_code == 403
    browser.switch_to(market.admin)
    admin = browser.get("/market/admin").text
    assert name in admin
    _location(browser.post_form("/market/admin", f"/market/admin/providers/{mine['id']}/verify", {}))
    assert name not in browser.get("/market/admin").text
    browser.switch_to(homeowner)
    found = browser.get(f"/market/providers?service=hvac&city={market.city}").text
    assert f'href="/market/providers/{mine["id"]}"' in found
    public = browser.get(f"/market/providers/{mine['id']}").text
    assert (
        "Split AC install" in public and "HVAC certificate" in public and "Verify this provider" not in public
    )


def test_a_dispute_is_resolved_by_an_admin_on_the_project_page(
    browser: Browser, market: Market, client: TestClient
) -> None:
    owner, _pro, project = market.project()
    project_url = f"/market/projects/{project['id']}"
    status = f"{project_url}/status"
    browser.switch_to(owner)
    r = browser.post_form(project_url, status, {"status": "disputed"})
    assert r.status_code == 422 and "Add a note saying why." in r.text
    _location(browser.post_form(project_url, status, {"status": "disputed", "note": "Nobody came."}))
    assert "In dispute: Nobody came." in browser.get(project_url).text
    assert "Resolve the dispute" not in browser.get(project_url).text
    browser.switch_to(market.admin)
    assert "Nobody came." in browser.get("/market/admin").text
    # The admin reads the request and its quotes, without the homeowner's buttons.
    seen = browser.get(f"/market/requests/{project['request_id']}")
    assert seen.status_code == 200 and "850.00" in seen.text and "/accept" not in seen.text
    page = browser.get(project_url).text
    assert "Resolve the dispute" in page
    _location(browser.post_form(project_url, status, {"status": "cancelled", "note": "Refund agreed."}))
    assert (
        client.get(f"{API}/projects/{project['id']}", headers=owner.headers).json()["status"] == "cancelled"
    )
    assert "Nobody came." not in browser.get("/market/admin").text


def test_the_device_page_offers_a_request_for_the_device(
    browser: Browser, market: Market, client: TestClient
) -> None:
    owner = market.make_user("owner")
    r = client.post(
        f"{API}/homes",
        json={"name": "Flat", "address": {"city": market.city}, "timezone": "Asia/Riyadh"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    home = r.json()
    r = client.post(
        f"{API}/homes/{home['id']}/devices", json={"nickname": "Kitchen boiler"}, headers=owner.headers
    )
    assert r.status_code == 201, r.text
    device = r.json()
    browser.switch_to(owner)
    page = browser.get(f"/devices/{device['id']}").text
    assert f"/market/requests/new?device_id={device['id']}" in page
    form_url = f"/market/requests/new?device_id={device['id']}"
    assert "Kitchen boiler" in browser.get(form_url).text
    r = browser.post_form(
        form_url,
        "/market/requests",
        {
            "device_id": device["id"],
            "problem_title": "Boiler leaking",
            "problem_description": "Water under the boiler.",
            "problem_category": "plumbing",
            "preferred_provider_type": "any",
        },
    )
    request_id = _location(r).rsplit("/", 1)[-1]
    created = client.get(f"{API}/service-requests/{request_id}", headers=owner.headers).json()
    assert created["home_id"] == home["id"] and created["device_ids"] == [device["id"]]
    assert created["city"] == market.city
    # Someone outside the home cannot post a request for its device.
    stranger = market.make_user("stranger")
    browser.switch_to(stranger)
    assert browser.get(form_url).status_code == 404


def test_photos_on_the_request_and_the_project(browser: Browser, market: Market, client: TestClient) -> None:
    owner, _pro, project = market.project()
    request_url = f"/market/requests/{project['request_id']}"
    project_url = f"/market/projects/{project['id']}"
    browser.switch_to(owner)
    # The request is no longer open (a provider was selected): photos go on the project now.
    r = browser.post_form(
        request_url,
        f"{request_url}/images",
        {},
        files={"image": ("leak.jpg", photo(), "image/jpeg")},
    )
    assert (
        r.status_code == 303
        and client.get(f"{API}/service-requests/{project['request_id']}", headers=owner.headers).json()[
            "images"
        ]
        == []
    )
    r = browser.post_form(
        project_url,
        f"{project_url}/files",
        {"phase": "before", "caption": "The leak"},
        files={"file": ("before.jpg", photo(), "image/jpeg")},
    )
    assert _location(r).endswith("#photos")
    page = browser.get(project_url).text
    assert f"{project_url}/files/before/0" in page and 'alt="The leak"' in page
    download = browser.get(f"{project_url}/files/before/0", follow=False)
    assert download.status_code == 303
    # A homeowner does not add the provider's documents; nothing is stored.
    r = browser.post_form(
        project_url,
        f"{project_url}/files",
        {"phase": "documents"},
        files={"file": ("report.jpg", photo(), "image/jpeg")},
    )
    assert r.status_code == 403
    assert client.get(f"{API}/projects/{project['id']}", headers=owner.headers).json()["documents"] == []
    # Another homeowner cannot open the photo.
    browser.switch_to(market.make_user("intruder"))
    assert browser.get(f"{project_url}/files/before/0", follow=False).status_code == 404


def test_a_request_with_a_photo(browser: Browser, market: Market, client: TestClient) -> None:
    owner = market.make_user("owner")
    browser.switch_to(owner)
    r = browser.post_form(
        "/market/requests/new",
        "/market/requests",
        {
            "problem_title": "Cracked tile",
            "problem_description": "A floor tile cracked in the hall.",
            "problem_category": "flooring",
            "city": market.city,
            "preferred_provider_type": "any",
        },
        files={"image": ("tile.png", photo("PNG", gps=False), "image/png")},
    )
    url = _location(r)
    created = client.get(f"{API}/service-requests/{url.rsplit('/', 1)[-1]}", headers=owner.headers).json()
    assert len(created["images"]) == 1
    assert f"{url}/images/0" in browser.get(url).text


def test_the_pages_render_in_arabic(browser: Browser, market: Market, client: TestClient) -> None:
    owner, pro, project = market.project()
    market.complete(pro, project["id"])
    assert market.rating(owner, project["id"]).status_code == 201
    browser.switch_to(owner)
    browser.client.cookies.set("homeops_locale", "ar")
    for path in (
        "/market",
        f"/market/requests/{project['request_id']}",
        f"/market/projects/{project['id']}",
        f"/market/projects/{project['id']}/chat",
        f"/market/providers/{project['provider_id']}",
        "/market/providers",
        "/market/diagnostics/new",
        "/market/requests/new",
    ):
        r = browser.get(path)
        assert r.status_code == 200, path
        assert 'dir="rtl"' in r.text
    browser.switch_to(pro)
    browser.client.cookies.set("homeops_locale", "ar")
    for path in ("/business", "/business/profile", "/business/portfolio", "/business/reviews"):
        assert browser.get(path).status_code == 200, path


def test_dates_payment_and_helpful_votes(browser: Browser, market: Market, client: TestClient) -> None:
    owner, pro, project = market.project()
    project_url = f"/market/projects/{project['id']}"
    browser.switch_to(owner)
    r = browser.post_form(
        project_url,
        f"{project_url}/schedule",
        {"scheduled_start_date": "2099-05-10", "scheduled_end_date": "2099-05-01"},
    )
    assert r.status_code == 422
    _location(
        browser.post_form(
            project_url,
            f"{project_url}/schedule",
            {"scheduled_start_date": "2099-05-10", "scheduled_end_date": "2099-05-11"},
        )
    )
    # The homeowner does not record payments (nothing changes).
    r = browser.post_form(project_url, f"{project_url}/schedule", {"payment_status": "completed"})
    assert r.status_code == 403
    got = client.get(f"{API}/projects/{project['id']}", headers=owner.headers).json()
    assert (got["scheduled_start_date"], got["payment_status"]) == ("2099-05-10", "pending")
    browser.switch_to(pro)
    _location(browser.post_form(project_url, f"{project_url}/schedule", {"payment_status": "partial"}))
    assert (
        client.get(f"{API}/projects/{project['id']}", headers=owner.headers).json()["payment_status"]
        == "partial"
    )

    market.complete(pro, project["id"])
    assert market.rating(owner, project["id"]).status_code == 201
    provider_url = f"/market/providers/{project['provider_id']}"
    browser.switch_to(owner)
    assert "/helpful" not in browser.get(provider_url).text  # one's own review
    browser.switch_to(market.make_user("reader"))
    page = browser.get(provider_url).text
    action = re.search(r'action="(/market/ratings/[0-9a-f-]{36}/helpful)"', page).group(1)  # type: ignore[union-attr]
    _location(browser.post_form(provider_url, action, {}))
    assert "1 person found this helpful" in browser.get(provider_url).text


def test_withdraw_resubmit_decline_and_cancel(browser: Browser, market: Market, client: TestClient) -> None:
    owner = market.make_user("owner")
    pro, _ = market.provider("pro")
    request = market.request(owner)
    request_url = f"/market/requests/{request['id']}"
    browser.switch_to(pro)
    _location(browser.post_form(request_url, f"{request_url}/quotes", _quote_form()))
    again = browser.post_form(request_url, f"{request_url}/quotes", _quote_form())
    assert again.status_code == 409 and "withdraw your quote" in again.text
    quote = client.get(f"{API}/service-requests/{request['id']}/quotes", headers=pro.headers).json()[0]
    _location(browser.post_form(request_url, f"/market/quotes/{quote['id']}/withdraw", {}))
    page = browser.get(request_url).text
    assert "Withdrawn" in page and "Send a new quote" in page
    _location(
        browser.post_form(
            request_url, f"{request_url}/quotes", _quote_form("900.00", **{"line-1-amount": "400.00"})
        )
    )
    # The provider cannot accept its own quote; the homeowner declines it with a reason.
    live = [
        q
        for q in client.get(f"{API}/service-requests/{request['id']}/quotes", headers=pro.headers).json()
        if q["status"] == "pending"
    ]
    r = browser.post_form(request_url, f"/market/quotes/{live[0]['id']}/accept", {})
    assert r.status_code in (303, 403)
    assert (
        client.get(f"{API}/service-requests/{request['id']}", headers=owner.headers).json()["status"]
        != "provider_selected"
    )
    browser.switch_to(owner)
    _location(
        browser.post_form(request_url, f"/market/quotes/{live[0]['id']}/reject", {"reason": "Too expensive"})
    )
    assert "Too expensive" in browser.get(request_url).text
    _location(browser.post_form(request_url, f"{request_url}/cancel", {"reason": "Fixed it myself"}))
    page = browser.get(request_url).text
    assert "Fixed it myself" in page and "Cancel the request" not in page
    # A cancelled request takes no quote.
    browser.switch_to(pro)
    r = browser.post_form(request_url, f"{request_url}/quotes", _quote_form())
    assert r.status_code in (404, 409)

"""Seed 002 Scenario 1 (registration → diagnostic → request → quote → accept → complete → rate) and
Scenario 3 (an engineer registers → profile → portfolio), end to end through the API."""

from __future__ import annotations

import io

import psycopg
from fastapi.testclient import TestClient
from PIL import Image
from tests.conftest import assert_problem
from tests.marketplace.conftest import API, Market, photo


def test_scenario_1_complete_user_journey(
    client: TestClient, market: Market, make_home, drain_market, owner_conn: psycopg.Connection
) -> None:  # type: ignore[no-untyped-def]
    # Step 1: registration (a homeowner) with a home and a device.
    sara = market.make_user("sara", full_name="Sara Ahmed")
    home = make_home(sara, "Sara's flat", "Asia/Riyadh")
    device = client.post(
        f"{API}/homes/{home['id']}/devices",
        json={"nickname": "Kitchen water heater", "category": "water_heater"},
        headers=sara.headers,
    )
    assert device.status_code == 201, device.text
    device_id = device.json()["id"]

    # Step 2: a diagnostic of the photo.
    d = client.post(
        f"{API}/diagnostics",
        files={"image": ("pipe_leak.jpg", photo(), "image/jpeg")},
        data={
            "description": "The copper pipe is leaking and dripping, corrosion on the joint",
            "category_hint": "plumbing",
        },
        headers=sara.headers,
    )
    assert d.status_code == 201, d.text
    diagnostic = d.json()
    assert diagnostic["risk_level"] == "high" and diagnostic["problem_category"] == "plumbing"
    assert diagnostic["probable_cause"] and diagnostic["image_available"]
    assert any(b["kind"] == "description_terms" for b in diagnostic["explanation"]["basis"])

    # Step 3: the request, from the diagnostic, for the home's device.
    request = market.request(sara, diagnostic_id=diagnostic["id"], home_id=home["id"], device_ids=[device_id])
    assert request["status"] == "open" and request["diagnostic_summary"]["risk_level"] == "high"
    assert request["quotes_count"] == 0

    # Step 4: a verified provider who covers the district sees it (without contact details) and quotes.
    mohammed, profile = market.provider("mohammed")
    matching = client.get(f"{API}/providers/me/matching-requests", headers=mohammed.headers)
    assert matching.status_code == 200, matching.text
    [card] = [r for r in matching.json()["items"] if r["id"] == request["id"]]
    assert card["contact_phone"] is None and card["property_address"] is None and not card["selected"]
    quote = market.quote(mohammed, request["id"], 850.0)
    assert quote["status"] == "pending" and quote["provider"]["business_name"] == profile["business_name"]
    seen = client.get(f"{API}/service-requests/{request['id']}", headers=sara.headers).json()
    assert seen["status"] == "quotes_received" and seen["quotes_count"] == 1

    # Step 5: the homeowner accepts: the request is provider_selected, the project scheduled.
    accepted = client.post(f"{API}/quotes/{quote['id']}/accept", headers=sara.headers)
    assert accepted.status_code == 201, accepted.text
    project = accepted.json()
    assert project["status"] == "scheduled" and project["quote_id"] == quote["id"]
    assert project["agreed_cost"] == "850.00" and project["device_ids"] == [device_id]
    after = client.get(f"{API}/service-requests/{request['id']}", headers=sara.headers).json()
    assert after["status"] == "provider_selected" and after["selected_quote_id"] == quote["id"]
    # The selected provider now sees the contact details.
    view = client.get(f"{API}/service-requests/{request['id']}", headers=mohammed.headers).json()
    assert view["contact_phone"] == "+966501234567"

    # Step 6: the provider starts and completes the work.
    done = market.complete(mohammed, project["id"], actual_cost="850.00")
    assert done["status"] == "completed" and done["actual_completion_date"]
    assert done["warranty_start_date"] == done["actual_completion_date"] and done["warranty_end_date"]

    # The repair shows up in the device's service history (the worker acts as the homeowner).
    drain_market()
    history = client.get(f"{API}/devices/{device_id}/history", headers=sara.headers)
    assert history.status_code == 200, history.text
    [event] = history.json()["items"]
    assert event["event_type"] == "repair" and event["source_type"] == "marketplace_project"
    assert event["source_id"] == project["id"] and event["technician"] == profile["business_name"]
    assert event["cost"] == "850.00"
    assert (
        client.get(f"{API}/projects/{project['id']}", headers=sara.headers).json()["service_events"][0][
            "service_event_id"
        ]
        == event["id"]
    )

    # Step 7: the rating; the provider's aggregates follow in the same transaction.
    rated = market.rating(sara, project["id"], 5)
    assert rated.status_code == 201, rated.text
    assert rated.json()["reviewer_name"] == "Sara A."
    stats = client.get(f"{API}/providers/{profile['id']}", headers=sara.headers).json()
    assert stats["average_rating"] == "5.00" and stats["total_ratings"] == 1
    assert stats["total_projects"] == 1 and stats["completion_rate"] == "100.00"
    assert stats["response_time_hours"] is not None

    # The other party was notified of each step after its commit.
    drain_market()
    kinds = {
        n["notification_type"]
        for n in client.get(f"{API}/notifications", headers=sara.headers).json()["items"]
    }
    assert {"new_quote_received", "project_status_changed"} <= kinds
    kinds = {
        n["notification_type"]
        for n in client.get(f"{API}/notifications", headers=mohammed.headers).json()["items"]
    }
    assert {"quote_accepted", "rating_received", "provider_verified"} <= kinds
    # And every status change is a system message in the project chat.
    chat = client.get(f"{API}/projects/{project['id']}/messages", headers=sara.headers).json()["items"]
    assert sum(m["message_type"] == "system" for m in chat) == 3  # accepted, in progress, completed


def test_scenario_3_provider_profile_setup(client: TestClient, market: Market) -> None:
    mohammed = market.make_user("mohammed", full_name="Mohammed Hassan")
    body = {
        "provider_type": "engineer",
        "business_name": "Hassan Plumbing Services",
        "services_offered": ["plumbing", "hvac"],
        "coverage_areas": [{"city": market.city, "districts": ["Al Olaya", "Al Malqa"]}],
        "years_of_experience": 10,
        "license_number": "PL-2020-0042",
        "certifications": [
            {"name": "Licensed Plumber", "issuer": "Ministry of Labor", "expiry_date": "2020-01-15"}
        ],
    }
    r = client.put(f"{API}/providers/me", json=body, headers=mohammed.headers)
    assert r.status_code == 201, r.text
    profile = r.json()
    assert profile["is_verified"] is False and profile["certifications"][0]["valid"] is False
    # The account became a provider (the database's function; the stored role decides).
    me = client.get(f"{API}/users/me", headers=mohammed.headers).json()
    assert me["role"] == "provider"
    # Replacing the profile answers 200.
    again = client.put(
        f"{API}/providers/me", json={**body, "years_of_experience": 11}, headers=mohammed.headers
    )
    assert again.status_code == 200 and again.json()["years_of_experience"] == 11

    # Portfolio: an item with two photos (before / after), featured first.
    item = client.post(
        f"{API}/providers/me/portfolio",
        data={
            "title": "Complete bathroom renovation",
            "project_type": "plumbing",
            "captions": ["Before", "After"],
        },
        files=[
            ("images", ("before.jpg", photo(), "image/jpeg")),
            ("images", ("after.png", photo("PNG"), "image/png")),
        ],
        headers=mohammed.headers,
    )
    assert item.status_code == 201, item.text
    assert [i["caption"] for i in item.json()["images"]] == ["Before", "After"]
    featured = client.post(
        f"{API}/providers/me/portfolio",
        data={"title": "Water heater replacement", "is_featured": "true"},
        files=[("images", ("wh.jpg", photo(), "image/jpeg"))],
        headers=mohammed.headers,
    )
    assert featured.status_code == 201
    listed = client.get(f"{API}/providers/{profile['id']}/portfolio", headers=mohammed.headers).json()
    assert [i["title"] for i in listed] == ["Water heater replacement", "Complete bathroom renovation"]
    # The stored photo has no EXIF (camera, GPS) left.
    url = client.get(f"{API}/portfolio/{item.json()['id']}/images/0", headers=mohammed.headers).json()["url"]
    stored = client.get(url)
    assert stored.status_code == 200
    assert len(Image.open(io.BytesIO(stored.content)).getexif()) == 0

    # Not in search, and the portfolio not public, until an admin verifies.
    other = market.make_user("visitor")
    search = client.get(f"{API}/providers", params={"city": market.city}, headers=other.headers).json()
    assert search["items"] == []
    assert_problem(
        client.get(f"{API}/providers/{profile['id']}", headers=other.headers), 404, "provider_not_found"
    )
    client.post(f"{API}/providers/{profile['id']}/verify", headers=market.admin.headers)
    search = client.get(
        f"{API}/providers", params={"city": market.city, "service": "plumbing"}, headers=other.headers
    )
    assert [p["id"] for p in search.json()["items"]] == [profile["id"]]
    assert len(client.get(f"{API}/providers/{profile['id']}/portfolio", headers=other.headers).json()) == 2

"""The homeowner pages over HTTP: each flow as a browser without scripts does it (forms and links), the same
services and row security as the API, errors shown on the page, and nothing written when a form is refused."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.conftest import TEST_PASSWORD, ApiUser
from tests.manuals.conftest import drain  # noqa: F401  (fixture: runs the manual-processing jobs)
from tests.pdf_writer import make_pdf
from tests.web.conftest import Browser, csrf_of


def _home(browser: Browser, name: str = "Villa", timezone: str = "Asia/Riyadh") -> str:
    r = browser.post_form(
        "/homes", "/homes", {"name": name, "timezone": timezone, "city": "Riyadh", "country": "SA"}
    )
    assert r.status_code == 303, r.text
    return r.headers["location"]  # /homes/<id>


def _device(browser: Browser, home: str, **fields: str) -> str:
    r = browser.post_form(f"{home}/devices/new", f"{home}/devices", {"nickname": "Fridge", **fields})
    assert r.status_code == 303, r.text
    return r.headers["location"]  # /devices/<id>


def _errors(html: str) -> list[str]:
    return re.findall(r'class="field-error"[^>]*>([^<]+)<', html)


def test_dashboard_guides_a_new_user(signed_in: Callable[..., tuple[Browser, ApiUser]]) -> None:
    browser, _user = signed_in("dash")
    html = browser.get("/").text
    for text in (
        "My homes",
        "No home yet",
        "Create a home",
        "Maintenance",
        "Nothing due in the next 30 days",
        "Open troubleshooting",
        "Warranties ending soon",
        "unread notifications",
    ):
        assert text in html, text
    nav = re.findall(r'<nav class="mainnav".*?</nav>', html, re.DOTALL)[0]
    for label in (
        "Dashboard",
        "Homes",
        "Devices",
        "Troubleshooting",
        "Assistant",
        "Notifications",
        "Calendar",
    ):
        assert f">{label}</a>" in nav, label


def test_home_rooms_and_members(
    signed_in: Callable[..., tuple[Browser, ApiUser]],
    make_user: Callable[..., ApiUser],
    owner_conn: psycopg.Connection,
) -> None:
    browser, _owner = signed_in("owner")
    home = _home(browser)
    r = browser.post_form(home, f"{home}/rooms", {"name": "", "floor": "x"})
    assert r.status_code == 422
    assert "This field is required." in _errors(r.text) and "Enter a whole number." in _errors(r.text)
    r = browser.post_form(home, f"{home}/rooms", {"name": "Kitchen", "room_type": "kitchen", "floor": "0"})
    assert r.status_code == 303
    r = browser.post_form(home, f"{home}/rooms", {"name": "Kitchen"})
    assert r.status_code == 409 and "A room with this name already exists in this home." in r.text
    guest = make_user("guest")
    r = browser.post_form(home, f"{home}/members", {"email": guest.email, "role": "guest"})
    assert r.status_code == 303, r.text
    r = browser.post_form(home, f"{home}/members", {"email": "nobody-" + uuid.uuid4().hex + "@example.com"})
    assert r.status_code == 404 and "No active account has this email." in r.text
    page = browser.get(home).text
    assert "Kitchen" in page and guest.email in page and "Guest" in page
    home_id = home.rsplit("/", 1)[1]
    rooms = owner_conn.execute("SELECT count(*) FROM rooms WHERE home_id = %s", (home_id,)).fetchone()
    assert rooms is not None and rooms[0] == 1


def test_a_guest_sees_but_cannot_change(
    browser: Browser, make_user: Callable[..., ApiUser], owner_conn: psycopg.Connection
) -> None:
    owner, guest = make_user("g-owner"), make_user("g-guest")
    browser.sign_in(owner)
    home = _home(browser, "Shared")
    device = _device(browser, home, serial_number="SN-G-1")
    browser.post_form(home, f"{home}/members", {"email": guest.email, "role": "guest"})
    browser.client.cookies.clear()
    browser.sign_in(guest)
    page = browser.get(home).text
    assert "You are a guest in this home" in page
    assert f'action="{home}/rooms"' not in page and "Add a device" not in page
    device_page = browser.get(device)
    assert device_page.status_code == 200
    assert "Fridge" in device_page.text and "Upload a manual" not in device_page.text
    assert "Add a maintenance task" not in device_page.text and ">Edit<" not in device_page.text
    # Forcing the form anyway: the service refuses, the page says so, nothing changes.
    r = browser.post_form(home, f"{home}/rooms", {"name": "Attic"})
    assert r.status_code == 403 and "Your role in this home does not allow this." in r.text
    r = browser.post_form(
        device, f"{device}/schedules", {"task_name": "X", "interval": "1", "interval_unit": "months"}
    )
    assert r.status_code == 403
    home_id = home.rsplit("/", 1)[1]
    count = owner_conn.execute(
        "SELECT count(*) FROM rooms WHERE home_id = %s AND name = 'Attic'", (home_id,)
    ).fetchone()
    assert count is not None and count[0] == 0


def test_another_users_home_and_device_are_not_found(
    browser: Browser, make_user: Callable[..., ApiUser]
) -> None:
    alice, mallory = make_user("alice"), make_user("mallory")
    browser.sign_in(alice)
    home = _home(browser, "Private")
    device = _device(browser, home)
    browser.client.cookies.clear()
    browser.sign_in(mallory)
    for url in (home, device, f"{device}/edit", f"{home}/devices/new"):
        r = browser.get(url)
        assert r.status_code == 404, url
        assert "<html" in r.text and "does not exist" in r.text
    r = browser.post_form("/", f"{device}/delete", {})
    assert r.status_code == 404


def test_device_from_the_catalog_filters_serial_and_paging(
    client: TestClient,
    signed_in: Callable[..., tuple[Browser, ApiUser]],
    make_staff: Callable[[str], ApiUser],
) -> None:
    admin = make_staff("admin")
    maker = f"Frost{uuid.uuid4().hex[:6]}"
    model = client.post(
        "/api/v1/models",
        json={
            "manufacturer": maker,
            "model_number": "FR-900",
            "product_name": "Frost FR-900 fridge",
            "category": "refrigerator",
        },
        headers=admin.headers,
    ).json()
    browser, _user = signed_in("catalog")
    home = _home(browser)
    browser.post_form(home, f"{home}/rooms", {"name": "Kitchen"})
    picker = browser.get(f"{home}/devices/new?model_q={maker}").text
    assert f"?model_id={model['id']}" in picker
    form = browser.get(f"{home}/devices/new?model_id={model['id']}").text
    assert f'name="model_id" value="{model["id"]}"' in form and 'value="Frost FR-900 fridge"' in form
    room_id = re.search(r'<option value="([0-9a-f-]{36})">Kitchen</option>', form).group(1)  # type: ignore[union-attr]
    r = browser.client.post(
        f"{home}/devices",
        data={
            "csrf_token": csrf_of(form),
            "model_id": model["id"],
            "nickname": "Big fridge",
            "room_id": room_id,
            "serial_number": "FR-SERIAL-77",
            "warranty_start": "2026-01-01",
            "warranty_end": "2025-01-01",
        },
        follow_redirects=False,
    )
    assert r.status_code == 422 and "warranty" in r.text.lower()
    r = browser.client.post(
        f"{home}/devices",
        data={
            "csrf_token": csrf_of(form),
            "model_id": model["id"],
            "nickname": "Big fridge",
            "room_id": room_id,
            "serial_number": "FR-SERIAL-77",
            "purchase_price": "1299.50",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    device = r.headers["location"]
    page = browser.get(device).text
    assert maker in page and "FR-900" in page and "FR-SERIAL-77" not in page
    assert "FR-SERIAL-77" in browser.get(f"{device}?serial=show").text
    for i in range(27):
        _device(browser, home, nickname=f"Lamp {i:02d}", manufacturer="Glow", model_number="L1")
    first = browser.get(f"/devices?home={home.rsplit('/', 1)[1]}").text
    assert first.count('class="item-title" href="/devices/') == 25
    next_link = re.search(r'href="([^"]*cursor=[^"]+)" rel="next"', first)
    assert next_link, "a next-page link"
    second = browser.get(next_link.group(1).replace("&amp;", "&")).text
    assert second.count('class="item-title" href="/devices/') == 3
    assert "Big fridge" in second  # the oldest, last
    assert "Big fridge" in browser.get("/devices?q=big+fri").text
    assert "Lamp" not in browser.get("/devices?q=big+fri").text
    only = browser.get("/devices?serial=FR-SERIAL-77").text
    assert "Big fridge" in only and "Lamp 01" not in only
    assert "Big fridge" in browser.get(f"/devices?home={home.rsplit('/', 1)[1]}&room={room_id}").text
    empty = browser.get("/devices?q=nothing-like-this").text
    assert "No device matches these filters" in empty and "Clear filters" in empty


def test_edit_replace_and_chain(signed_in: Callable[..., tuple[Browser, ApiUser]]) -> None:
    browser, _user = signed_in("chain")
    home = _home(browser)
    old = _device(browser, home, nickname="Old heater", warranty_end="2030-01-01")
    r = browser.post_form(f"{old}/edit", f"{old}/edit", {"nickname": "", "status": "active"})
    assert r.status_code == 422 and "This field is required." in _errors(r.text)
    r = browser.post_form(
        f"{old}/edit", f"{old}/edit", {"nickname": "Old heater", "status": "active", "notes": "Noisy"}
    )
    assert r.status_code == 303
    assert "Noisy" in browser.get(old).text
    new_form = browser.get(f"{home}/devices/new?replaces={old.rsplit('/', 1)[1]}").text
    assert "This device replaces “Old heater”" in new_form
    r = browser.client.post(
        f"{home}/devices",
        data={
            "csrf_token": csrf_of(new_form),
            "nickname": "New heater",
            "replaces_device_id": old.rsplit("/", 1)[1],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    chain = browser.get(r.headers["location"]).text
    assert "Replacement history" in chain and "Old heater" in chain
    assert "Replaced" in browser.get(old).text


def test_manual_upload_search_and_open_at_the_cited_page(
    signed_in: Callable[..., tuple[Browser, ApiUser]],
    drain: Callable[[], int],  # noqa: F811
) -> None:
    browser, _user = signed_in("manual")
    home = _home(browser)
    device = _device(browser, home, manufacturer="Aqua", model_number="WM-1")
    pdf = make_pdf(
        ["Welcome to your washer.", "Descaling: run the descaling programme every month with citric acid."]
    )
    token = csrf_of(browser.get(device).text)
    r = browser.client.post(
        f"{device}/manuals",
        data={"csrf_token": token, "manual_type": "user", "title": "Washer guide", "language": "en"},
        files={"file": ("washer.pdf", pdf, "application/pdf")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = browser.get(device).text
    assert "Washer guide" in page and "Waiting to be processed" in page and 'data-poll="4000"' in page
    not_pdf = browser.client.post(
        f"{device}/manuals",
        data={"csrf_token": token, "manual_type": "user"},
        files={"file": ("notes.pdf", b"hello", "application/pdf")},
        follow_redirects=False,
    )
    assert not_pdf.status_code == 415 and "Only PDF manuals are accepted." in not_pdf.text
    drain()
    results = browser.get(f"{device}?q=descaling").text
    assert "<mark>" in results and "page 2" in results
    href = re.search(r'href="(/manuals/[0-9a-f-]{36}/open\?page=2)"', results)
    assert href, results[-2000:]
    r = browser.get(href.group(1), follow=False)
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("/api/v1/files/") and location.endswith("#page=2")
    pdf_response = browser.client.get(location.split("#", 1)[0])
    assert pdf_response.status_code == 200
    assert pdf_response.headers["content-type"] == "application/pdf"
    assert "attachment" not in pdf_response.headers.get("content-disposition", "")


def test_schedule_complete_skip_and_history(
    signed_in: Callable[..., tuple[Browser, ApiUser]], owner_conn: psycopg.Connection
) -> None:
    browser, _user = signed_in("maint")
    home = _home(browser)
    device = _device(browser, home)
    r = browser.post_form(
        device,
        f"{device}/schedules",
        {"task_name": "Clean filter", "interval": "0", "interval_unit": "months"},
    )
    assert r.status_code == 422 and "Enter a value of at least 1." in _errors(r.text)
    today = owner_conn.execute("SELECT (now() AT TIME ZONE 'Asia/Riyadh')::date").fetchone()[0]  # type: ignore[index]
    r = browser.post_form(
        device,
        f"{device}/schedules",
        {
            "task_name": "Clean filter",
            "interval": "3",
            "interval_unit": "months",
            "anchor": "schedule",
            "next_due": today.isoformat(),
            "lead_days": "7",
            "reminder_enabled": "on",
        },
    )
    assert r.status_code == 303, r.text
    dashboard = browser.get("/").text
    assert "Clean filter" in dashboard and "today" in dashboard
    schedule_id = re.search(r'action="/schedules/([0-9a-f-]{36})/complete"', dashboard).group(1)  # type: ignore[union-attr]
    r = browser.post_form("/", f"/schedules/{schedule_id}/complete", {"next": "/"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "Marked as done." in browser.get("/").text
    history = browser.get(device).text
    assert "Service history" in history and "Clean filter" in history and "Maintenance" in history
    r = browser.post_form(device, f"/schedules/{schedule_id}/skip", {"next": f"{device}#maintenance"})
    assert r.status_code == 303 and r.headers["location"] == f"{device}#maintenance"
    event_id = re.search(
        r'action="/service-events/([0-9a-f-]{36})/attachments"', browser.get(device).text
    ).group(1)  # type: ignore[union-attr]
    r = browser.client.post(
        f"/service-events/{event_id}/attachments",
        data={"csrf_token": csrf_of(browser.get(device).text)},
        files={"file": ("receipt.pdf", make_pdf(["Receipt"]), "application/pdf")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "receipt.pdf" in browser.get(device).text
    r = browser.get(f"/service-events/{event_id}/attachments/0", follow=False)
    assert r.status_code == 303


def test_troubleshooting_resolve_and_escalate(
    client: TestClient,
    signed_in: Callable[..., tuple[Browser, ApiUser]],
    make_staff: Callable[[str], ApiUser],
) -> None:
    admin = make_staff("admin")
    maker = f"Chill{uuid.uuid4().hex[:6]}"
    model = client.post(
        "/api/v1/models",
        json={"manufacturer": maker, "model_number": "C-1", "category": "refrigerator"},
        headers=admin.headers,
    ).json()
    client.post(
        f"/api/v1/models/{model['id']}/problems",
        json={
            "problem_description": "Compressor relay failure",
            "symptoms": ["not cooling", "clicking"],
            "error_codes": ["E5"],
            "solution": "Replace the start relay.",
            "severity": "high",
            "frequency": "common",
        },
        headers=admin.headers,
    )
    browser, _user = signed_in("ts")
    home = _home(browser)
    form = browser.get(f"{home}/devices/new?model_id={model['id']}").text
    r = browser.client.post(
        f"{home}/devices",
        data={"csrf_token": csrf_of(form), "model_id": model["id"], "nickname": "Fridge"},
        follow_redirects=False,
    )
    device_id = r.headers["location"].rsplit("/", 1)[1]
    new = f"/troubleshooting/new?device_id={device_id}"
    r = browser.post_form(new, "/troubleshooting", {"device_id": device_id, "issue_summary": ""})
    assert r.status_code == 422 and "This field is required." in _errors(r.text)
    r = browser.post_form(
        new,
        "/troubleshooting",
        {
            "device_id": device_id,
            "issue_summary": "Warm inside",
            "symptoms": "Not cooling\nclicking",
            "error_codes": "e5",
        },
    )
    assert r.status_code == 303, r.text
    session = r.headers["location"]
    page = browser.get(session).text
    assert (
        "Compressor relay failure" in page
        and "<mark>not cooling</mark>" in page
        and "<mark>E5</mark>" in page
    )
    r = browser.post_form(session, f"{session}/messages", {"content": "It also smells burnt"})
    assert r.status_code == 303
    assert "It also smells burnt" in browser.get(session).text
    r = browser.post_form(session, f"{session}/escalate", {"priority": "high"})
    assert r.status_code == 303
    escalated = browser.get(session).text
    assert "A service ticket was opened" in escalated and "Escalated to a service ticket" in escalated
    r = browser.post_form(session, f"{session}/escalate", {"priority": "high"})
    assert r.status_code == 409 and "already escalated" in r.text
    assert "Open troubleshooting" in browser.get("/").text
    other = browser.post_form(new, "/troubleshooting", {"device_id": device_id, "issue_summary": "Door"})
    second = other.headers["location"]
    r = browser.post_form(
        second,
        f"{second}/close",
        {"status": "resolved", "resolution": "Closed the door", "user_satisfaction": "5"},
    )
    assert r.status_code == 303
    done = browser.get(second).text
    assert "Closed the door" in done and "Your rating: 5 of 5" in done


def test_notifications_calendar_profile_password_language(
    signed_in: Callable[..., tuple[Browser, ApiUser]], owner_conn: psycopg.Connection
) -> None:
    browser, user = signed_in("misc")
    owner_conn.execute(
        "INSERT INTO notifications (user_id, notification_type, title, message) VALUES (%s, 'info', 'Hello', 'World')",
        (str(user.id),),
    )
    assert "Hello" in browser.get("/notifications?unread=true").text
    assert ">1</span>" in browser.get("/").text
    browser.post_form("/notifications", "/notifications/read-all", {"next": "/notifications"})
    assert "You are all caught up" in browser.get("/notifications?unread=true").text
    # calendar: created, shown once, rotated, revoked
    r = browser.post_form("/calendar", "/calendar", {})
    assert r.status_code == 200 and ".ics" in r.text and "shown only once" in r.text
    url = re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    assert browser.client.get(url.split("://", 1)[1].split("/", 1)[1].join(["/", ""])).status_code == 200
    assert ".ics" not in browser.get("/calendar").text
    browser.post_form("/calendar", "/calendar/revoke", {})
    assert "No calendar link yet" in browser.get("/calendar").text
    # profile and password
    r = browser.post_form(
        "/profile", "/profile", {"full_name": "Renamed Person", "phone": "+966 50 123 4567"}
    )
    assert r.status_code == 303
    assert "Renamed Person" in browser.get("/profile").text
    r = browser.post_form(
        "/profile",
        "/profile/password",
        {
            "current_password": "wrong-password-1",
            "new_password": "another-good-pass",
            "confirm_password": "another-good-pass",
        },
    )
    assert r.status_code == 403 and "The current password is incorrect." in r.text
    r = browser.post_form(
        "/profile",
        "/profile/password",
        {
            "current_password": TEST_PASSWORD,
            "new_password": "another-good-pass",
            "confirm_password": "different-pass-1",
        },
    )
    assert r.status_code == 422 and "The two new passwords differ." in r.text
    r = browser.post_form(
        "/profile",
        "/profile/password",
        {
            "current_password": TEST_PASSWORD,
            "new_password": "another-good-pass",
            "confirm_password": "another-good-pass",
        },
    )
    assert r.status_code == 303
    # language: stored in the preferences, right-to-left, localised dates
    r = browser.post_form("/profile", "/language", {"locale": "ar", "next": "/profile"})
    assert r.status_code == 303 and r.headers["location"] == "/profile"
    arabic = browser.get("/profile").text
    assert '<html lang="ar" dir="rtl">' in arabic and "الملف الشخصي" in arabic
    prefs = owner_conn.execute("SELECT preferences FROM users WHERE id = %s", (str(user.id),)).fetchone()
    assert prefs is not None and prefs[0]["locale"] == "ar"
    # another browser: signing in brings the stored language back
    browser.client.cookies.clear()
    browser.sign_in(user, "another-good-pass")
    assert '<html lang="ar" dir="rtl">' in browser.get("/").text
    r = browser.post_form("/", "/language", {"locale": "xx", "next": "/"})
    assert r.status_code == 422


def test_account_pages(browser: Browser) -> None:
    page = browser.get("/password-reset")
    assert page.status_code == 200
    r = browser.post_form("/password-reset", "/password-reset", {"email": "nobody@example.com"})
    assert r.status_code == 200 and "If an account exists for this address" in r.text
    r = browser.post_form("/verify-email?token=forged", "/verify-email", {"token": "forged"})
    assert r.status_code == 400 and "This link is invalid, has expired or was already used." in r.text
    r = browser.post_form(
        "/password-reset/confirm?token=forged",
        "/password-reset/confirm",
        {"token": "forged", "new_password": "a-new-password", "confirm_password": "a-new-password"},
    )
    assert r.status_code == 400


def test_html_errors_for_browsers_json_for_the_api(browser: Browser) -> None:
    r = browser.get("/no-such-page")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    api = browser.client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")


def test_static_assets_are_cached_by_content_hash(browser: Browser) -> None:
    html = browser.get("/sign-in").text
    css = re.search(r'href="(/static/core/app\.css\?v=[0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]
    r = browser.client.get(css)
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    assert r.headers["content-type"].startswith("text/css")
    assert "immutable" not in browser.client.get("/static/core/app.css").headers["cache-control"]
    assert browser.client.get("/static/core/../../config.py").status_code == 404
    assert browser.client.get("/static/nothing/app.css").status_code == 404


def _unused(*_args: Any) -> None:
    return None

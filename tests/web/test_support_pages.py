"""The support staff's pages over HTTP (the ticket queue, complaints, manual moderation): support and admin
users work them through the same services as the API; every other role — a homeowner, a guest of a home, a
technician — gets 403 on every page and action (signed out: the sign-in page), and nothing changes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import ApiUser
from tests.manuals.conftest import pdf_for
from tests.web.conftest import Browser

QUEUE = "/support/tickets"


def _device(client: TestClient, user: ApiUser, home: dict[str, Any], **fields: Any) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/homes/{home['id']}/devices", json={"nickname": "Boiler", **fields}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _ticket(client: TestClient, user: ApiUser, device: dict[str, Any], summary: str, **extra: Any) -> str:
    r = client.post(
        "/api/v1/service-tickets",
        json={"device_id": device["id"], "summary": summary, **extra},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _upload(client: TestClient, user: ApiUser, tag: str, brand: str, model: str) -> Any:
    """A household upload (the user's only home): unverified, in the moderation queue."""
    return client.post(
        "/api/v1/manuals",
        files={"file": ("manual.pdf", pdf_for(tag), "application/pdf")},
        data={"brand": brand, "model_numbers": [model], "title": tag},
        headers=user.headers,
    )


def _as(browser: Browser, user: ApiUser) -> Browser:
    browser.client.cookies.clear()
    browser.sign_in(user)
    return browser


def _summaries(html: str) -> list[str]:
    return re.findall(r'class="item-title" href="/support/tickets/[^"]+">([^<]+)<', html)


def _ticket_row(owner_conn: psycopg.Connection, ticket_id: str) -> tuple[Any, ...]:
    row = owner_conn.execute(
        "SELECT status::text, assigned_to, priority::text, resolution FROM service_tickets WHERE id = %s",
        (ticket_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


@pytest.fixture
def homeowner_ticket(
    client: TestClient, make_user: Callable[..., ApiUser], make_home: Callable[..., dict]
) -> tuple[ApiUser, dict[str, Any], str]:
    owner = make_user("t-owner", full_name="Huda Nasser")
    home = make_home(owner, "Nasser house")
    device = _device(client, owner, home)
    return owner, device, _ticket(client, owner, device, f"No hot water {uuid.uuid4().hex[:6]}")


def test_support_works_a_ticket_from_the_queue(
    browser: Browser,
    client: TestClient,
    make_staff: Callable[[str], ApiUser],
    homeowner_ticket: tuple[ApiUser, dict[str, Any], str],
    owner_conn: psycopg.Connection,
) -> None:
    owner, _, ticket_id = homeowner_ticket
    support = make_staff("support")
    _as(browser, support)
    home = browser.get("/").text
    nav = re.findall(r'<nav class="mainnav".*?</nav>', home, re.DOTALL)[0]
    assert ">Tickets</a>" in nav and ">Complaints</a>" in nav and ">Moderation</a>" in nav
    queue = browser.get(QUEUE)
    assert queue.status_code == 200
    assert f'href="/support/tickets/{ticket_id}"' in queue.text and owner.email in queue.text
    page = f"{QUEUE}/{ticket_id}"
    html = browser.get(page).text
    assert "Assign to me" in html and "Huda Nasser" in html

    # Moves the workflow does not have (an open ticket is assigned first): refused, said, nothing changes.
    for status in ("in_progress", "resolved"):
        r = browser.post_form(page, f"{page}/status", {"status": status})
        assert r.status_code == 409 and "This ticket cannot change that way." in r.text
    assert _ticket_row(owner_conn, ticket_id)[:2] == ("open", None)

    # To a colleague (the picker lists support and technician users), back to the queue, then to me.
    colleague = make_staff("technician")
    assert str(colleague.id) in browser.get(page).text
    r = browser.post_form(page, f"{page}/assign", {"assigned_to": str(colleague.id)})
    assert r.status_code == 303
    assert _ticket_row(owner_conn, ticket_id)[:2] == ("assigned", colleague.id)
    r = browser.post_form(page, f"{page}/assign", {"assigned_to": ""})
    assert r.status_code == 303
    assert "The ticket is back in the queue, unassigned." in browser.get(page).text
    assert _ticket_row(owner_conn, ticket_id)[:2] == ("open", None)
    r = browser.post_form(page, f"{page}/assign", {"assigned_to": "me"})
    assert r.status_code == 303 and r.headers["location"] == page
    assert _ticket_row(owner_conn, ticket_id)[:2] == ("assigned", support.id)
    assert "assigned to you" in browser.get(f"{QUEUE}?assigned=me").text
    r = browser.post_form(page, f"{page}/status", {"status": "in_progress"})
    assert r.status_code == 303
    r = browser.post_form(page, f"{page}/priority", {"priority": "urgent"})
    assert r.status_code == 303
    r = browser.post_form(page, f"{page}/status", {"status": "resolved", "resolution": "Replaced the valve."})
    assert r.status_code == 303
    assert _ticket_row(owner_conn, ticket_id) == ("resolved", support.id, "urgent", "Replaced the valve.")
    html = browser.get(page).text
    assert (
        "Replaced the valve." in html and "Reopen" in html and "The ticket&#39;s status was changed." in html
    )
    # The homeowner sees it resolved through the API.
    mine = client.get(f"/api/v1/service-tickets/{ticket_id}", headers=owner.headers).json()
    assert mine["status"] == "resolved" and mine["resolution"] == "Replaced the valve."
    # Bad input: a clear 4xx, nothing written.
    r = browser.post_form(page, f"{page}/priority", {"priority": "whenever"})
    assert r.status_code == 422 and "Choose one of the options." in r.text
    r = browser.post_form(page, f"{page}/assign", {"assigned_to": str(owner.id)})
    assert r.status_code == 422 and "active support or technician users only" in r.text
    r = browser.post_form(page, f"{page}/assign", {"assigned_to": "not-an-id"})
    assert r.status_code == 422
    assert _ticket_row(owner_conn, ticket_id) == ("resolved", support.id, "urgent", "Replaced the valve.")
    assert browser.get(f"{QUEUE}/{uuid.uuid4()}").status_code == 404


def test_queue_filters_and_keyset_paging(
    browser: Browser,
    client: TestClient,
    make_user: Callable[..., ApiUser],
    make_home: Callable[..., dict],
    make_staff: Callable[[str], ApiUser],
) -> None:
    owner = make_user("q-owner")
    device = _device(client, owner, make_home(owner, "Queue house"))
    tag = uuid.uuid4().hex[:6]
    created = [
        _ticket(client, owner, device, f"{tag} ticket {i:02d}", priority="urgent" if i % 3 == 0 else "low")
        for i in range(30)
    ]
    support = make_staff("support")
    _as(browser, support)
    for ticket_id in created[-2:]:  # the two newest: assigned to me
        page = f"{QUEUE}/{ticket_id}"
        assert browser.post_form(page, f"{page}/assign", {"assigned_to": "me"}).status_code == 303

    def ours(url: str) -> list[str]:
        r = browser.get(url)
        assert r.status_code == 200, r.text
        return [s for s in _summaries(r.text) if s.startswith(tag)]

    # Newest first, 25 a page; the next page goes on where the first ended (the cursor of its last row).
    first = browser.get(QUEUE).text
    assert _summaries(first)[:25] == [f"{tag} ticket {i:02d}" for i in range(29, 4, -1)]
    next_link = re.search(r'href="([^"]*cursor=[^"]+)" rel="next"', first)
    assert next_link is not None
    second = browser.get(next_link.group(1).replace("&amp;", "&")).text
    assert _summaries(second)[:5] == [f"{tag} ticket {i:02d}" for i in range(4, -1, -1)]
    assert "First page" in second
    # Filters, server-side, kept in the paging links.
    assert ours(f"{QUEUE}?assigned=me") == [f"{tag} ticket 29", f"{tag} ticket 28"]
    assert ours(f"{QUEUE}?status=assigned&assigned=me") == [f"{tag} ticket 29", f"{tag} ticket 28"]
    # A form's "any" option sends a blank value: no filter (not an invalid one).
    assert ours(f"{QUEUE}?status=&priority=&assigned=me") == [f"{tag} ticket 29", f"{tag} ticket 28"]
    unassigned_urgent = ours(f"{QUEUE}?priority=urgent&assigned=none")
    assert unassigned_urgent == [f"{tag} ticket {i:02d}" for i in (27, 24, 21, 18, 15, 12, 9, 6, 3, 0)]
    assert ours(f"{QUEUE}?status=closed&priority=urgent") == []
    empty = browser.get(f"{QUEUE}?status=closed&assigned=me").text
    assert "No ticket matches these filters" in empty and "Clear filters" in empty
    # Bad input: a clear 4xx.
    assert browser.get(f"{QUEUE}?status=lost").status_code == 400
    assert browser.get(f"{QUEUE}?assigned=someone").status_code == 400
    bad_cursor = browser.get(f"{QUEUE}?cursor=garbage")
    assert bad_cursor.status_code == 400 and "This page link is no longer valid" in bad_cursor.text


def test_staff_pages_refuse_every_other_role(
    browser: Browser,
    client: TestClient,
    make_user: Callable[..., ApiUser],
    make_home: Callable[..., dict],
    make_staff: Callable[[str], ApiUser],
    homeowner_ticket: tuple[ApiUser, dict[str, Any], str],
    owner_conn: psycopg.Connection,
) -> None:
    owner, device, ticket_id = homeowner_ticket
    complaint = client.post(
        "/api/v1/assistant/complaints",
        json={"title": "Late technician", "description": "Nobody came."},
        headers=owner.headers,
    ).json()
    brand = f"Mod{uuid.uuid4().hex[:6]}"
    manual = _upload(client, owner, f"{brand} manual", brand, "FR-9").json()
    guest = make_user("t-guest")
    home_id = device["home_id"]
    r = client.post(
        f"/api/v1/homes/{home_id}/members",
        json={"email": guest.email, "role": "guest"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    pages = [
        QUEUE,
        f"{QUEUE}/{ticket_id}",
        "/support/complaints",
        f"/support/complaints/{complaint['id']}",
        "/support/manuals",
    ]
    actions = [
        (f"{QUEUE}/{ticket_id}/assign", {"assigned_to": "me"}),
        (f"{QUEUE}/{ticket_id}/status", {"status": "closed"}),
        (f"{QUEUE}/{ticket_id}/priority", {"priority": "urgent"}),
        (f"/support/complaints/{complaint['id']}/status", {"status": "closed"}),
        (f"/support/manuals/{manual['id']}/verify", {}),
        (f"/support/manuals/{manual['id']}/hide", {"reason": "Looks like spam"}),
        (f"/support/manuals/{manual['id']}/delete", {}),
    ]

    def state() -> tuple[Any, ...]:
        c = owner_conn.execute("SELECT status::text FROM complaints WHERE id = %s", (complaint["id"],))
        m = owner_conn.execute("SELECT visibility::text FROM manuals WHERE id = %s", (manual["id"],))
        return (_ticket_row(owner_conn, ticket_id), c.fetchone(), m.fetchone())

    before = state()
    assert before[1] == ("new",) and before[2] == ("household",)
    for who in (owner, guest, make_staff("technician"), make_staff("manager")):
        _as(browser, who)
        nav = re.findall(r'<nav class="mainnav".*?</nav>', browser.get("/").text, re.DOTALL)[0]
        assert "/support/" not in nav
        for url in pages:
            r = browser.get(url)
            assert r.status_code == 403, (who.email, url)
            assert "Your role does not allow this." in r.text and "Late technician" not in r.text
        for action, data in actions:
            r = browser.post_form("/", action, data)  # a valid token of their own session
            assert r.status_code == 403, (who.email, action, r.text)
    # Signed out: the sign-in page, for pages and forms alike.
    browser.client.cookies.clear()
    for url in pages:
        r = browser.get(url, follow=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/sign-in"), url
    for action, data in actions:
        r = browser.post_form("/sign-in", action, data)
        assert r.status_code == 303 and r.headers["location"].startswith("/sign-in"), action
    assert state() == before


def test_forms_without_a_csrf_token_are_refused(
    browser: Browser,
    make_staff: Callable[[str], ApiUser],
    homeowner_ticket: tuple[ApiUser, dict[str, Any], str],
    owner_conn: psycopg.Connection,
) -> None:
    _owner, _, ticket_id = homeowner_ticket
    _as(browser, make_staff("support"))
    for data in ({"assigned_to": "me"}, {"assigned_to": "me", "csrf_token": "forged"}):
        r = browser.client.post(f"{QUEUE}/{ticket_id}/assign", data=data, follow_redirects=False)
        assert r.status_code == 403 and "The form expired or did not come from this site." in r.text
    assert _ticket_row(owner_conn, ticket_id)[:2] == ("open", None)


def test_support_handles_a_complaint(
    browser: Browser,
    client: TestClient,
    make_user: Callable[..., ApiUser],
    make_staff: Callable[[str], ApiUser],
    owner_conn: psycopg.Connection,
) -> None:
    owner = make_user("c-owner", full_name="Omar Saleh")
    title = f"Terrible service {uuid.uuid4().hex[:6]}"
    r = client.post(
        "/api/v1/assistant/complaints",
        json={"title": title, "description": "The repair was awful and the technician was rude!"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    complaint = r.json()
    _as(browser, make_staff("admin"))
    queue = browser.get("/support/complaints?status=new").text
    assert title in queue and owner.email in queue
    assert title not in browser.get("/support/complaints?status=resolved").text
    page = f"/support/complaints/{complaint['id']}"
    html = browser.get(page).text
    assert "Omar Saleh" in html and "the tone of the complaint" in html and "awful" in html
    assert "Mark as resolved" not in html  # new → in progress first
    r = browser.post_form(page, f"{page}/status", {"status": "resolved"})
    assert r.status_code == 409 and "This complaint cannot change that way." in r.text
    for status in ("in_progress", "resolved"):
        r = browser.post_form(page, f"{page}/status", {"status": status})
        assert r.status_code == 303, r.text
    assert "The complaint is now: Resolved." in browser.get(page).text
    r = browser.post_form(page, f"{page}/status", {"status": "sorted"})
    assert r.status_code == 422
    mine = client.get(f"/api/v1/assistant/complaints/{complaint['id']}", headers=owner.headers).json()
    assert mine["status"] == "resolved" and mine["resolved_at"]
    assert browser.get(f"/support/complaints/{uuid.uuid4()}").status_code == 404
    audited = owner_conn.execute(
        "SELECT new_values->>'status' FROM audit_logs WHERE entity_id = %s "
        "AND action_type = 'complaint_status_changed' ORDER BY created_at",
        (complaint["id"],),
    ).fetchall()
    assert audited == [("in_progress",), ("resolved",)]


def test_moderation_changes_what_households_see(
    browser: Browser,
    client: TestClient,
    make_user: Callable[..., ApiUser],
    make_home: Callable[..., dict],
    make_staff: Callable[[str], ApiUser],
    owner_conn: psycopg.Connection,
) -> None:
    uploader, other = make_user("m-up"), make_user("m-other")
    make_home(uploader, "Uploader home")
    make_home(other, "Other home")
    brand = f"Mod{uuid.uuid4().hex[:6]}"
    good = _upload(client, uploader, f"{brand} guide", brand, "FR-9")
    bad = _upload(client, uploader, f"{brand} fake", brand, "FR-8")
    assert good.status_code == 201 and bad.status_code == 201, (good.text, bad.text)
    good_id, bad_id = good.json()["id"], bad.json()["id"]

    def sees(user: ApiUser, manual_id: str) -> int:
        return int(client.get(f"/api/v1/manuals/{manual_id}", headers=user.headers).status_code)

    assert (sees(uploader, good_id), sees(other, good_id)) == (200, 404)
    _as(browser, make_staff("support"))
    queue = browser.get("/support/manuals").text
    assert f"{brand} guide" in queue and f"{brand} fake" in queue and "Household upload" in queue

    # Verify: the shared library, which every household sees.
    r = browser.post_form("/support/manuals", f"/support/manuals/{good_id}/verify", {"order": "newest"})
    assert r.status_code == 303 and r.headers["location"] == "/support/manuals#queue"
    assert sees(other, good_id) == 200
    html = browser.get("/support/manuals").text
    assert "is verified: it is in the shared library now." in html
    assert f'href="/manuals/{good_id}/open"' not in html  # it left the queue

    # Hide: a reason is required; then nobody but staff sees it, not even the household that uploaded it.
    r = browser.post_form("/support/manuals", f"/support/manuals/{bad_id}/hide", {"reason": "x"})
    assert r.status_code == 422 and "Enter at least 3 characters." in r.text
    assert sees(uploader, bad_id) == 200
    r = browser.post_form("/support/manuals", f"/support/manuals/{bad_id}/hide", {"reason": "Not this model"})
    assert r.status_code == 303
    assert sees(uploader, bad_id) == 404

    # A report puts the verified manual back in the queue with its reason; delete removes it for everyone.
    r = client.post(
        f"/api/v1/manuals/{good_id}/reports", json={"reason": "Wrong wiring diagram"}, headers=other.headers
    )
    assert r.status_code == 201, r.text
    # (newest first: the shared test database holds many other manuals)
    queue = browser.get("/support/manuals?order=newest").text
    assert "Wrong wiring diagram" in queue and "1 open report" in queue and "Dismiss reports" in queue
    r = browser.post_form("/support/manuals", f"/support/manuals/{good_id}/delete", {"order": "most_linked"})
    assert r.status_code == 303 and r.headers["location"] == "/support/manuals?order=most_linked#queue"
    assert (sees(uploader, good_id), sees(other, good_id)) == (404, 404)
    assert browser.post_form("/support/manuals", f"/support/manuals/{good_id}/verify", {}).status_code == 404
    actions = owner_conn.execute(
        "SELECT action_type FROM audit_logs WHERE entity_id IN (%s, %s) AND action_type LIKE 'manual_%%' "
        "ORDER BY created_at",
        (good_id, bad_id),
    ).fetchall()
    assert [a for (a,) in actions if a not in ("manual_uploaded", "manual_reported")] == [
        "manual_verified",
        "manual_hidden",
        "manual_deleted",
    ]

"""The marketplace demo data (issue 11): loaded twice, it is there once, in every designed state, and visible
through the API as the homeowner and the directory show it."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from homeops.core.database import libpq_dsn
from homeops.core.runtime import Runtime
from homeops.demo import DEMO_PASSWORD, DEMO_USERS, load_demo
from homeops.demo_marketplace import DEMO_PROVIDERS, DEMO_REQUESTS
from tests.conftest import PgTestDatabase, login
from tests.web.conftest import Browser

ALICE = "alice@demo.homeops.org"
PROVIDER_EMAILS = [p["email"] for p in DEMO_PROVIDERS]


def _snapshot(conn: psycopg.Connection) -> dict[str, list[Any]]:
    alice = conn.execute("SELECT id FROM users WHERE email = %s", (ALICE,)).fetchone()
    assert alice is not None
    return {
        "requests": conn.execute(
            "SELECT status::text, count(*) FROM service_requests WHERE requester_id = %s "
            "GROUP BY 1 ORDER BY 1",
            alice,
        ).fetchall(),
        "quotes": conn.execute(
            "SELECT status::text, count(*) FROM quotes WHERE requester_id = %s GROUP BY 1 ORDER BY 1", alice
        ).fetchall(),
        "projects": conn.execute(
            "SELECT status::text, count(*) FROM projects WHERE requester_id = %s GROUP BY 1 ORDER BY 1", alice
        ).fetchall(),
        "ratings": conn.execute(
            "SELECT overall_rating, response_from_provider IS NOT NULL FROM ratings WHERE requester_id = %s",
            alice,
        ).fetchall(),
        "providers": conn.execute(
            """SELECT u.email, p.provider_type::text, p.is_verified, p.organization_id IS NOT NULL,
                      (SELECT count(*) FROM portfolio_items i WHERE i.provider_id = p.id AND i.provider_public),
                      p.total_ratings, p.total_projects
                 FROM provider_profiles p JOIN users u ON u.id = p.user_id
                WHERE u.email = ANY(%s) ORDER BY u.email""",
            (PROVIDER_EMAILS,),
        ).fetchall(),
        # Every quote comes from a provider whose services and coverage match the request (the rule of
        # homeops_submit_quote, which the loader does not call).
        "unmatched_quotes": conn.execute(
            """SELECT q.id FROM quotes q
                 JOIN service_requests r ON r.requester_id = q.requester_id AND r.id = q.request_id
                 JOIN provider_profiles p ON p.id = q.provider_id
                WHERE q.requester_id = %s
                  AND NOT (p.search_keys @> ARRAY['svc:' || r.problem_category]
                           AND (p.search_keys @> ARRAY['city-all:' || r.city_key]
                                OR p.search_keys @> ARRAY['area:' || r.area_key]))""",
            alice,
        ).fetchall(),
        "portfolio_keys": conn.execute(
            """SELECT i.images->0->>'key' FROM portfolio_items i JOIN provider_profiles p ON p.id = i.provider_id
                 JOIN users u ON u.id = p.user_id WHERE u.email = ANY(%s) ORDER BY 1""",
            (PROVIDER_EMAILS,),
        ).fetchall(),
    }


def test_marketplace_demo_loads_once_in_every_state(
    client: TestClient, test_db: PgTestDatabase, runtime: Runtime
) -> None:
    with psycopg.connect(libpq_dsn(test_db.owner), autocommit=True) as conn:
        # The demo may be loaded already by an earlier test, and the marketplace's expiry tests run its jobs on
        # every row with a clock months ahead: start from alice's marketplace rows gone, as on a new machine.
        alice = conn.execute("SELECT id FROM users WHERE email = %s", (ALICE,)).fetchone()
        if alice is not None:
            for table in ("rating_votes", "ratings", "chat_messages", "projects", "request_views"):
                conn.execute(f"DELETE FROM {table} WHERE requester_id = %s", alice)
            # Requests and their quotes point at each other (the selected quote): gone in one statement.
            conn.execute(
                "WITH r AS (DELETE FROM service_requests WHERE requester_id = %s) "
                "DELETE FROM quotes WHERE requester_id = %s",
                (alice[0], alice[0]),
            )
        # ... and the portfolio images of an earlier load live in that loader's storage, not this runtime's.
        conn.execute(
            "DELETE FROM portfolio_items WHERE provider_id IN (SELECT p.id FROM provider_profiles p "
            "JOIN users u ON u.id = p.user_id WHERE u.email = ANY(%s))",
            (PROVIDER_EMAILS,),
        )
    load_demo(test_db.owner, 4, storage=runtime.storage)
    with psycopg.connect(libpq_dsn(test_db.owner)) as conn:
        first = _snapshot(conn)
    second_counts = load_demo(test_db.owner, 4, storage=runtime.storage)
    with psycopg.connect(libpq_dsn(test_db.owner)) as conn:
        assert _snapshot(conn) == first
    for key in ("users", "providers", "portfolio_items", "service_requests", "quotes", "projects", "ratings"):
        assert second_counts[key] == 0, key

    assert first["requests"] == [
        ("cancelled", 1),
        ("open", 1),
        ("provider_selected", 2),
        ("quotes_received", 1),
    ]
    # 2 on the quotes_received request, 2 (one accepted, one rejected) on the in-progress one, 1 accepted.
    assert first["quotes"] == [("accepted", 2), ("pending", 2), ("rejected", 1)]
    assert first["projects"] == [("completed", 1), ("in_progress", 1)]
    assert first["ratings"] == [(5, True)]
    assert first["unmatched_quotes"] == []
    assert first["providers"] == [
        ("khalid@demo.homeops.org", "engineer", True, False, 1, 0, 0),
        ("noura@demo.homeops.org", "company", True, True, 1, 0, 0),
        ("yusuf@demo.homeops.org", "engineer", True, False, 1, 1, 1),
    ]
    for (key,) in first["portfolio_keys"]:
        assert runtime.storage.get(key)[:8] == b"\x89PNG\r\n\x1a\n"

    # The directory (here for alice) finds them by service and city.
    token = login(client, ALICE, DEMO_PASSWORD)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    hvac = client.get(
        "/api/v1/providers", params={"service": "hvac", "city": "Riyadh", "limit": 100}, headers=headers
    )
    assert hvac.status_code == 200, hvac.text
    names = {p["business_name"] for p in hvac.json()["items"]}
    assert {"Najd Home Services", "Khalid Al-Otaibi, electrical engineer"} <= names
    jeddah = client.get(
        "/api/v1/providers", params={"service": "plumbing", "city": "Jeddah", "limit": 100}, headers=headers
    )
    assert "Yusuf Al-Ghamdi, plumbing engineer" in {p["business_name"] for p in jeddah.json()["items"]}
    yusuf = next(p for p in jeddah.json()["items"] if p["business_name"].startswith("Yusuf"))
    assert yusuf["is_verified"] and yusuf["total_ratings"] == 1 and float(yusuf["average_rating"]) == 5.0

    # Alice sees her requests in their states; the quotes of the compared one are both there.
    mine = client.get("/api/v1/service-requests", params={"limit": 100}, headers=headers)
    assert mine.status_code == 200, mine.text
    by_title = {r["problem_title"]: r for r in mine.json()["items"]}
    expected = {
        r["title"]: "provider_selected" if r["state"] in ("in_progress", "completed") else r["state"]
        for r in DEMO_REQUESTS
    }
    assert {t: by_title[t]["status"] for t in expected} == expected
    compared = by_title["AC not cooling in the majlis"]
    quotes = client.get(f"/api/v1/service-requests/{compared['id']}/quotes", headers=headers)
    assert quotes.status_code == 200 and len(quotes.json()) == 2

    # Another homeowner sees none of them.
    bob = login(client, "bob@demo.homeops.org", DEMO_PASSWORD)["access_token"]
    theirs = client.get(
        "/api/v1/service-requests", params={"limit": 100}, headers={"Authorization": f"Bearer {bob}"}
    )
    assert not {r["problem_title"] for r in theirs.json()["items"]} & set(expected)
    assert (
        client.get(
            f"/api/v1/service-requests/{compared['id']}/quotes", headers={"Authorization": f"Bearer {bob}"}
        ).status_code
        == 404
    )

    # The provider logins are printed with the others.
    assert set(PROVIDER_EMAILS) <= {u.email for u in DEMO_USERS}


def test_the_demo_pages_render_for_alice(
    client: TestClient, test_db: PgTestDatabase, runtime: Runtime
) -> None:
    """Signed in through /sign-in (with its CSRF token), alice's market page links every demo request and
    project, and each of them, the directory and the providers' public pages render."""
    load_demo(test_db.owner, 4, storage=runtime.storage)
    client.cookies.clear()
    try:
        browser = Browser(client)
        signed = browser.post_form(
            "/sign-in", "/sign-in", {"email": ALICE, "password": DEMO_PASSWORD, "next": "/market"}
        )
        assert signed.status_code == 303, signed.text
        market = browser.get("/market")
        assert market.status_code == 200
        for r in DEMO_REQUESTS:
            assert r["title"] in market.text
        links = set(re.findall(r"/market/(?:requests|projects)/[0-9a-f-]{36}", market.text))
        directory = browser.get("/market/providers")
        assert directory.status_code == 200
        links |= set(re.findall(r"/market/providers/[0-9a-f-]{36}", directory.text))
        assert len(links) >= 5 + 2 + 3
        for link in sorted(links):
            page = browser.get(link)
            assert page.status_code == 200, (link, page.text[:500])
        yusuf = next(p for p in DEMO_PROVIDERS if p["email"].startswith("yusuf"))
        assert yusuf["business_name"] in directory.text
    finally:
        client.cookies.clear()

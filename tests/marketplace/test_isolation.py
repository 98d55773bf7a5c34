"""Attackers: another homeowner cannot see a request's quotes, its project or its chat; a provider sees only
matching open requests (without the owner's contact details until selected) and its own quotes; an unverified
provider cannot quote — through the API (404, never 403, for what is invisible) and directly as the API's
database role (what a Python bug could do)."""

from __future__ import annotations

import json

import psycopg
import pytest
from fastapi.testclient import TestClient
from tests.conftest import as_user, assert_problem
from tests.marketplace.conftest import API, Market, breakdown


def test_another_homeowner_sees_nothing_of_a_request(
    client: TestClient, market: Market, app_conn: psycopg.Connection
) -> None:
    owner, pro, project = market.project()
    request_id, quote_id, project_id = project["request_id"], project["quote_id"], project["id"]
    client.post(
        f"{API}/projects/{project_id}/messages", json={"text": "Tomorrow at 9?"}, headers=owner.headers
    )
    mallory = market.make_user("mallory")
    for path in (
        f"/service-requests/{request_id}",
        f"/quotes/{quote_id}",
        f"/projects/{project_id}",
        f"/projects/{project_id}/messages",
    ):
        assert client.get(API + path, headers=mallory.headers).status_code == 404, path
    assert_problem(client.get(f"{API}/service-requests/{request_id}/quotes", headers=mallory.headers), 404)
    assert_problem(
        client.post(f"{API}/projects/{project_id}/messages", json={"text": "hi"}, headers=mallory.headers),
        404,
    )
    assert_problem(client.post(f"{API}/quotes/{quote_id}/accept", headers=mallory.headers), 404)
    assert_problem(
        client.post(
            f"{API}/projects/{project_id}/status", json={"status": "cancelled"}, headers=mallory.headers
        ),
        404,
    )
    # The database shows her nothing either, even unfiltered or asked by id.
    with app_conn.transaction():
        as_user(app_conn, mallory.id)
        for table in (
            "service_requests",
            "quotes",
            "projects",
            "chat_messages",
            "diagnostics",
            "rating_votes",
        ):
            assert app_conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, mallory.id)  # who viewed which request is nobody's to read
        app_conn.execute("SELECT count(*) FROM request_views")
    with app_conn.transaction():
        as_user(app_conn, mallory.id)
        assert (
            app_conn.execute("SELECT count(*) FROM projects WHERE id = %s", (project_id,)).fetchone()[0] == 0
        )
        assert (
            app_conn.execute("UPDATE projects SET status = 'cancelled' WHERE id = %s", (project_id,)).rowcount
            == 0
        )
        assert (
            app_conn.execute("UPDATE quotes SET status = 'rejected' WHERE id = %s", (quote_id,)).rowcount == 0
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, mallory.id)  # a chat message into someone else's project
        app_conn.execute(
            "INSERT INTO chat_messages (requester_id, project_id, provider_user_id, sender_id, sender_side, "
            "message_text) VALUES (%s, %s, %s, %s, 'requester', 'spam')",
            (str(owner.id), project_id, str(pro.id), str(mallory.id)),
        )


def test_a_provider_sees_only_matching_open_requests_without_contact_details(
    client: TestClient, market: Market, app_conn: psycopg.Connection
) -> None:
    owner = market.make_user("owner")
    plumber, plumber_profile = market.provider("plumber", services=("plumbing",), districts=("Al Olaya",))
    electrician, _ = market.provider("electrician", services=("electrical",))
    elsewhere, _ = market.provider("elsewhere", services=("plumbing",), districts=("Al Nakheel",))
    whole_city, _ = market.provider("wholecity", services=("plumbing",), districts=())
    req = market.request(owner)  # plumbing, Al Olaya

    def matching(user) -> list[str]:  # type: ignore[no-untyped-def]
        r = client.get(f"{API}/providers/me/matching-requests", headers=user.headers)
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    assert matching(plumber) == [req["id"]]
    assert matching(whole_city) == [req["id"]]  # covers every district of the city
    assert matching(electrician) == [] and matching(elsewhere) == []
    view = client.get(f"{API}/service-requests/{req['id']}", headers=plumber.headers)
    assert view.status_code == 200
    body = view.json()
    assert body["problem_title"] == req["problem_title"]
    assert body["contact_phone"] is None and body["contact_name"] is None and body["property_address"] is None
    assert "requester_id" not in body
    assert_problem(client.get(f"{API}/service-requests/{req['id']}", headers=electrician.headers), 404)
    # The provider's view is counted once per provider.
    client.get(f"{API}/service-requests/{req['id']}", headers=plumber.headers)
    assert client.get(f"{API}/service-requests/{req['id']}", headers=owner.headers).json()["views_count"] == 1

    # As the API role: the provider cannot read the table, and the functions return only the public columns.
    with app_conn.transaction():
        as_user(app_conn, plumber.id)
        assert app_conn.execute("SELECT count(*) FROM service_requests").fetchone()[0] == 0
        row = app_conn.execute(
            "SELECT contact_phone, property_address FROM homeops_provider_request(%s, %s, false)",
            (req["id"], plumber_profile["id"]),
        ).fetchone()
        assert row == (None, None)
        # Someone else's provider profile cannot be used to look.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_user(app_conn, electrician.id)
            app_conn.execute(
                "SELECT * FROM homeops_matching_requests(%s, NULL, NULL, 10)", (plumber_profile["id"],)
            )

    # Once selected, the provider sees the contact details.
    q = market.quote(plumber, req["id"])
    assert client.post(f"{API}/quotes/{q['id']}/accept", headers=owner.headers).status_code == 201
    selected = client.get(f"{API}/service-requests/{req['id']}", headers=plumber.headers).json()
    assert selected["contact_phone"] == "+966501234567" and selected["property_address"]
    # A closed request leaves the matching lists.
    assert matching(whole_city) == []


def test_a_provider_sees_only_its_own_quotes(
    client: TestClient, market: Market, app_conn: psycopg.Connection
) -> None:
    owner = market.make_user("owner")
    a, _ = market.provider("alpha")
    b, _ = market.provider("beta")
    req = market.request(owner)
    qa = market.quote(a, req["id"], 500)
    qb = market.quote(b, req["id"], 600)
    assert [
        q["id"]
        for q in client.get(f"{API}/service-requests/{req['id']}/quotes", headers=owner.headers).json()
    ] == [
        qa["id"],
        qb["id"],
    ]
    assert [
        q["id"] for q in client.get(f"{API}/service-requests/{req['id']}/quotes", headers=a.headers).json()
    ] == [qa["id"]]
    assert_problem(client.get(f"{API}/quotes/{qb['id']}", headers=a.headers), 404, "quote_not_found")
    assert_problem(client.post(f"{API}/quotes/{qb['id']}/withdraw", headers=a.headers), 404)
    # A provider cannot accept (even its own) quote.
    assert_problem(
        client.post(f"{API}/quotes/{qa['id']}/accept", headers=a.headers), 403, "not_allowed_for_your_side"
    )
    with app_conn.transaction():
        as_user(app_conn, a.id)
        assert [str(r[0]) for r in app_conn.execute("SELECT id FROM quotes")] == [qa["id"]]
        # Its own quote cannot be set accepted behind the requester's back (the trigger).
        with pytest.raises(psycopg.errors.CheckViolation):
            app_conn.execute("UPDATE quotes SET status = 'accepted' WHERE id = %s", (qa["id"],))


def test_an_unverified_provider_cannot_quote(
    client: TestClient, market: Market, app_conn: psycopg.Connection
) -> None:
    owner = market.make_user("owner")
    pending, profile = market.provider("pending", verified=False)
    req = market.request(owner)
    assert_problem(market.post_quote(pending, req["id"]), 403, "provider_not_verified")
    assert_problem(
        client.get(f"{API}/providers/me/matching-requests", headers=pending.headers),
        403,
        "provider_not_verified",
    )
    assert_problem(client.get(f"{API}/service-requests/{req['id']}", headers=pending.headers), 404)
    # Not with raw SQL either: no INSERT grant on quotes, and the function refuses.
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, pending.id)
        app_conn.execute(
            "INSERT INTO quotes (requester_id, request_id, provider_id, provider_user_id, estimated_cost, "
            "cost_breakdown, validity_period_days, expires_at) VALUES (%s, %s, %s, %s, 10, '{}', 7, now() + interval '7 days')",
            (str(owner.id), req["id"], profile["id"], str(pending.id)),
        )
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="provider_not_verified"),
        app_conn.transaction(),
    ):
        as_user(app_conn, pending.id)
        app_conn.execute(
            "SELECT homeops_submit_quote(%s, %s, 850, %s::jsonb, 1, NULL, NULL, true, 6, NULL, 14, '[]')",
            (req["id"], profile["id"], json.dumps(breakdown(850))),
        )
    # A homeowner cannot quote with a provider's profile either.
    verified, vprofile = market.provider("verified")
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="provider_not_found"),
        app_conn.transaction(),
    ):
        as_user(app_conn, owner.id)
        app_conn.execute(
            "SELECT homeops_submit_quote(%s, %s, 850, %s::jsonb, 1, NULL, NULL, true, 6, NULL, 14, '[]')",
            (req["id"], vprofile["id"], json.dumps(breakdown(850))),
        )
    # Nor on their own request (the provider's owner account is also a homeowner).
    own = market.request(verified)
    assert_problem(market.post_quote(verified, own["id"]), 404, "service_request_not_found")


def test_provider_verification_is_an_admins(
    client: TestClient, market: Market, app_conn: psycopg.Connection
) -> None:
    pending, profile = market.provider("self", verified=False)
    assert_problem(client.post(f"{API}/providers/{profile['id']}/verify", headers=pending.headers), 403)
    with pytest.raises(psycopg.errors.CheckViolation), app_conn.transaction():
        as_user(app_conn, pending.id)
        app_conn.execute("UPDATE provider_profiles SET is_verified = true WHERE id = %s", (profile["id"],))
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, pending.id)  # the aggregates are the database's
        app_conn.execute("UPDATE provider_profiles SET average_rating = 5 WHERE id = %s", (profile["id"],))
    # Other users do not see an unverified profile.
    other = market.make_user("other")
    with app_conn.transaction():
        as_user(app_conn, other.id)
        assert (
            app_conn.execute(
                "SELECT count(*) FROM provider_profiles WHERE id = %s", (profile["id"],)
            ).fetchone()[0]
            == 0
        )
        assert (
            app_conn.execute(
                "SELECT count(*) FROM portfolio_items WHERE provider_id = %s", (profile["id"],)
            ).fetchone()[0]
            == 0
        )

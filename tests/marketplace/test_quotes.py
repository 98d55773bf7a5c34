"""Quotes: itemised breakdowns that add up, one live quote per provider per request, immutability, withdraw
and resubmit, rejection with a reason, expiry (a job), and accepting — one transaction, exactly one project
even under two concurrent accepts."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from tests.conftest import as_user, assert_problem
from tests.marketplace.conftest import API, Market, breakdown

from homeops.app import create_app


def test_the_breakdown_must_add_up(
    client: TestClient, market: Market, app_conn: psycopg.Connection, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    owner = market.make_user("owner")
    pro, _profile = market.provider()
    req = market.request(owner)
    wrong = breakdown(850)
    wrong["items"][0]["amount"] = "100.00"
    r = market.post_quote(pro, req["id"], 850, cost_breakdown=wrong)
    assert_problem(r, 422, "validation_error")
    assert "add up" in json.dumps(r.json()["errors"])
    r = market.post_quote(pro, req["id"], 900, cost_breakdown=breakdown(850))
    assert_problem(r, 422)
    assert_problem(market.post_quote(pro, req["id"], 0), 422)
    bad_line = breakdown(100)
    bad_line["items"][1].update(quantity=3, unit_price="10.00")  # 3 × 10 ≠ 40
    assert_problem(market.post_quote(pro, req["id"], 100, cost_breakdown=bad_line), 422)
    # The seed's example: labour, materials, equipment and 15 % tax.
    seed = {
        "items": [
            {"category": "labor", "description": "Labor cost", "hours": 8, "amount": "500.00"},
            {
                "category": "materials",
                "description": "Copper pipes",
                "quantity": 10,
                "unit_price": "25.00",
                "amount": "250.00",
            },
            {
                "category": "materials",
                "description": "Fittings",
                "quantity": 15,
                "unit_price": "5.00",
                "amount": "75.00",
            },
            {"category": "equipment", "description": "Equipment rental", "amount": "100.00"},
        ],
        "tax": {"rate": 15, "amount": "138.75"},
        "total": "1063.75",
    }
    q = market.quote(pro, req["id"], 1063.75, cost_breakdown=seed)
    assert q["estimated_cost"] == "1063.75" and q["validity_period_days"] == 14
    # Nothing was written by the refused ones; the database's own check refuses a total that does not add up.
    assert (
        client.get(f"{API}/service-requests/{req['id']}", headers=owner.headers).json()["quotes_count"] == 1
    )
    with pytest.raises(psycopg.errors.CheckViolation):
        owner_conn.execute(
            "UPDATE quotes SET cost_breakdown = jsonb_set(cost_breakdown, '{total}', '999') WHERE id = %s",
            (q["id"],),
        )


def test_one_live_quote_per_provider_immutable_withdraw_and_resubmit(
    client: TestClient, market: Market, app_conn: psycopg.Connection, owner_conn: psycopg.Connection
) -> None:
    owner = market.make_user("owner")
    pro, _ = market.provider()
    req = market.request(owner)
    q = market.quote(pro, req["id"], 850)
    assert_problem(market.post_quote(pro, req["id"], 800), 409, "already_quoted")
    # The API role may not even name the terms (column grants) ...
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, pro.id)
        app_conn.execute("UPDATE quotes SET estimated_cost = 1 WHERE id = %s", (q["id"],))
    # ... and the trigger holds them for everyone else, the owner's definer functions included.
    with pytest.raises(psycopg.errors.CheckViolation, match="quote_immutable"), owner_conn.transaction():
        owner_conn.execute("UPDATE quotes SET estimated_cost = 1 WHERE id = %s", (q["id"],))
    w = client.post(f"{API}/quotes/{q['id']}/withdraw", headers=pro.headers)
    assert w.status_code == 200 and w.json()["status"] == "withdrawn"
    assert_problem(
        client.post(f"{API}/quotes/{q['id']}/withdraw", headers=pro.headers), 409, "quote_not_pending"
    )
    again = market.quote(pro, req["id"], 800)
    assert again["id"] != q["id"]
    assert_problem(
        client.post(f"{API}/quotes/{q['id']}/accept", headers=owner.headers), 409, "quote_not_pending"
    )
    assert (
        client.get(f"{API}/service-requests/{req['id']}", headers=owner.headers).json()["quotes_count"] == 2
    )


def test_reject_with_a_reason(client: TestClient, market: Market, drain_market) -> None:  # type: ignore[no-untyped-def]
    owner = market.make_user("owner")
    pro, _ = market.provider()
    req = market.request(owner)
    q = market.quote(pro, req["id"])
    r = client.post(f"{API}/quotes/{q['id']}/reject", json={"reason": "Too expensive"}, headers=owner.headers)
    assert (
        r.status_code == 200
        and r.json()["status"] == "rejected"
        and r.json()["rejection_reason"] == "Too expensive"
    )
    assert_problem(
        client.post(f"{API}/quotes/{q['id']}/reject", headers=pro.headers), 403, "not_allowed_for_your_side"
    )
    drain_market()
    notes = client.get(f"{API}/notifications", headers=pro.headers).json()["items"]
    assert any(n["notification_type"] == "quote_rejected" and n["message"] == "Too expensive" for n in notes)


def test_accepting_rejects_the_others_and_creates_one_project(client: TestClient, market: Market) -> None:
    owner = market.make_user("owner")
    a, _ = market.provider("alpha")
    b, _ = market.provider("beta")
    c, _ = market.provider("gamma")
    req = market.request(owner)
    qa, qb, qc = (market.quote(p, req["id"], t) for p, t in ((a, 500), (b, 600), (c, 700)))
    client.post(f"{API}/quotes/{qc['id']}/withdraw", headers=c.headers)
    project = client.post(f"{API}/quotes/{qb['id']}/accept", headers=owner.headers)
    assert project.status_code == 201, project.text
    quotes = {
        q["id"]: q
        for q in client.get(f"{API}/service-requests/{req['id']}/quotes", headers=owner.headers).json()
    }
    assert quotes[qb["id"]]["status"] == "accepted" and quotes[qb["id"]]["accepted_at"]
    assert (
        quotes[qa["id"]]["status"] == "rejected"
        and quotes[qa["id"]]["rejection_reason"] == "Another quote was accepted."
    )
    assert quotes[qc["id"]]["status"] == "withdrawn"
    assert_problem(client.post(f"{API}/quotes/{qa['id']}/accept", headers=owner.headers), 409)
    assert_problem(market.post_quote(c, req["id"]), 409, "service_request_closed")
    assert_problem(client.post(f"{API}/service-requests/{req['id']}/cancel", headers=owner.headers), 409)


def test_two_concurrent_accepts_make_exactly_one_project(
    settings, test_db, runtime, market: Market, owner_conn: psycopg.Connection
) -> None:  # type: ignore[no-untyped-def]
    """Two API instances (like two processes), two threads, accepting two quotes of one request at once."""
    owner = market.make_user("owner")
    a, _ = market.provider("alpha")
    b, _ = market.provider("beta")
    for _round in range(3):
        req = market.request(owner)
        quotes = [market.quote(a, req["id"], 500)["id"], market.quote(b, req["id"], 600)["id"]]
        barrier = threading.Barrier(2)
        results: list[int] = []

        def accept(quote_id: str, barrier: threading.Barrier = barrier, results: list[int] = results) -> None:
            with TestClient(create_app(settings, test_db.app, runtime=runtime)) as c:
                barrier.wait()
                results.append(c.post(f"{API}/quotes/{quote_id}/accept", headers=owner.headers).status_code)

        threads = [threading.Thread(target=accept, args=(q,)) for q in quotes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(results) == [201, 409], results
        counts = owner_conn.execute(
            "SELECT (SELECT count(*) FROM projects WHERE request_id = %(r)s), "
            "(SELECT count(*) FROM quotes WHERE request_id = %(r)s AND status = 'accepted'), "
            "(SELECT count(*) FROM quotes WHERE request_id = %(r)s AND status = 'rejected'), "
            "(SELECT status::text FROM service_requests WHERE id = %(r)s)",
            {"r": req["id"]},
        ).fetchone()
        assert counts == (1, 1, 1, "provider_selected")


def test_expiry_jobs_for_requests_and_quotes(
    client: TestClient, market: Market, frozen_clock, drain_market, owner_conn: psycopg.Connection
) -> None:  # type: ignore[no-untyped-def]
    owner = market.make_user("owner")
    pro, _ = market.provider()
    fresh = market.request(owner)
    q = market.quote(pro, fresh["id"])
    old = market.request(owner)

    def run_expiry() -> None:
        owner_conn.execute("INSERT INTO jobs (task, payload) VALUES ('marketplace.expire', '{}')")
        drain_market()  # the worker's clock is the frozen one

    frozen_clock.advance(timedelta(days=15))  # past the quote's 14 days, not the request's 30
    run_expiry()
    assert client.get(f"{API}/quotes/{q['id']}", headers=owner.headers).json()["status"] == "expired"
    assert_problem(
        client.post(f"{API}/quotes/{q['id']}/accept", headers=owner.headers), 409, "quote_not_pending"
    )
    assert client.get(f"{API}/service-requests/{old['id']}", headers=owner.headers).json()["status"] == "open"
    frozen_clock.advance(timedelta(days=16))
    run_expiry()
    assert (
        client.get(f"{API}/service-requests/{old['id']}", headers=owner.headers).json()["status"] == "expired"
    )
    assert_problem(client.post(f"{API}/service-requests/{old['id']}/cancel", headers=owner.headers), 409)
    drain_market()
    kinds = [
        n["notification_type"]
        for n in client.get(f"{API}/notifications", headers=owner.headers).json()["items"]
    ]
    assert kinds.count("service_request_expired") == 2
    pro_kinds = [
        n["notification_type"]
        for n in client.get(f"{API}/notifications", headers=pro.headers).json()["items"]
    ]
    assert "quote_expired" in pro_kinds

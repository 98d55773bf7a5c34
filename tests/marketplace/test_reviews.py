"""A provider's review summary: distribution, averages and the monthly trend of the last twelve months."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from fastapi.testclient import TestClient
from tests.marketplace.conftest import API, Market


def _rated_project(market: Market, pro, stars: int) -> str:  # type: ignore[no-untyped-def]
    owner = market.make_user("owner", full_name="Sara Ahmed")
    req = market.request(owner)
    q = market.quote(pro, req["id"])
    accepted = market.client.post(f"{API}/quotes/{q['id']}/accept", headers=owner.headers)
    assert accepted.status_code == 201, accepted.text
    market.complete(pro, accepted.json()["id"], actual_cost="850.00")
    rated = market.rating(owner, accepted.json()["id"], stars)
    assert rated.status_code == 201, rated.text
    return str(rated.json()["id"])


def test_summary_has_a_monthly_trend(
    client: TestClient, market: Market, owner_conn: psycopg.Connection
) -> None:
    pro, profile = market.provider()
    first = _rated_project(market, pro, 5)
    _rated_project(market, pro, 3)
    _rated_project(market, pro, 4)
    old = _rated_project(market, pro, 2)
    # Two ratings moved back in time (the edit-window trigger would refuse it: bypassed as the owner).
    with owner_conn.transaction(), owner_conn.cursor() as cur:
        # SET LOCAL, which a cluster sends on to the workers (a session SET stays on the coordinator).
        cur.execute("SET LOCAL citus.propagate_set_commands = 'local'")
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute(
            "UPDATE ratings SET created_at = date_trunc('month', now()) - interval '2 months' + interval '3 days'"
            " WHERE id = %s",
            (first,),
        )
        cur.execute("UPDATE ratings SET created_at = now() - interval '13 months' WHERE id = %s", (old,))
    owner_conn.commit()

    summary = client.get(f"{API}/providers/{profile['id']}/reviews/summary", headers=pro.headers)
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert body["total"] == 4 and body["distribution"] == {"5": 1, "4": 1, "3": 1, "2": 1, "1": 0}
    now = datetime.now(UTC)
    this_month = now.replace(day=1).date()
    two_back = (now.year * 12 + now.month - 1) - 2
    two_months_ago = this_month.replace(year=two_back // 12, month=two_back % 12 + 1)
    # The 13-month-old rating is outside the trend; months without ratings are left out.
    assert body["trend"] == [
        {"month": two_months_ago.isoformat(), "count": 1, "average": "5.00"},
        {"month": this_month.isoformat(), "count": 2, "average": "3.50"},
    ]


def test_summary_of_a_provider_without_ratings(client: TestClient, market: Market) -> None:
    pro, profile = market.provider()
    body = client.get(f"{API}/providers/{profile['id']}/reviews/summary", headers=pro.headers).json()
    assert body["total"] == 0 and body["trend"] == [] and body["would_recommend_pct"] is None

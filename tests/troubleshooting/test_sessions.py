from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import as_user, assert_problem, captured_sql
from tests.troubleshooting.conftest import SESSIONS


def _ids(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["items"]]


def test_jsonb_containment_finds_exactly_the_matching_sessions(
    client: TestClient, make_user, make_device, open_session
) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    device = make_device(user, nickname="Kitchen fridge", manufacturer="Acme", model_number="ab-1")
    ab = open_session(user, device, symptoms=["Alpha", "beta"])
    a = open_session(user, device, symptoms=["alpha"])
    bc = open_session(user, device, symptoms=["beta", "gamma"])
    q = f"{SESSIONS}?symptoms=alpha&symptoms=beta"
    items = client.get(q, headers=user.headers).json()["items"]
    assert [s["id"] for s in items] == [ab["id"]]
    assert items[0]["device_nickname"] == "Kitchen fridge" and items[0]["model_number"] == "ab-1"
    assert "conversation" not in items[0]
    # Normalised like the stored symptoms; newest first.
    assert _ids(client.get(f"{SESSIONS}?symptoms=%20ALPHA%20", headers=user.headers)) == [a["id"], ab["id"]]
    assert _ids(client.get(f"{SESSIONS}?symptoms=beta", headers=user.headers)) == [bc["id"], ab["id"]]
    assert _ids(client.get(f"{SESSIONS}?symptoms=delta", headers=user.headers)) == []
    assert _ids(client.get(SESSIONS, headers=user.headers)) == [bc["id"], a["id"], ab["id"]]
    # Keyset pages.
    first = client.get(f"{SESSIONS}?limit=2", headers=user.headers).json()
    assert [s["id"] for s in first["items"]] == [bc["id"], a["id"]] and first["next_cursor"]
    rest = client.get(f"{SESSIONS}?limit=2&cursor={first['next_cursor']}", headers=user.headers).json()
    assert [s["id"] for s in rest["items"]] == [ab["id"]] and rest["next_cursor"] is None
    # Other filters.
    client.patch(f"{SESSIONS}/{a['id']}", json={"status": "abandoned"}, headers=user.headers)
    assert _ids(client.get(f"{SESSIONS}?status=abandoned", headers=user.headers)) == [a["id"]]
    other = make_device(user)
    assert _ids(client.get(f"{SESSIONS}?device_id={other['id']}", headers=user.headers)) == []
    assert_problem(client.get(f"{SESSIONS}?" + "&".join(["symptoms=x"] * 21), headers=user.headers), 422)


def test_query5_is_one_statement_over_the_callers_own_sessions(
    client: TestClient, make_user, make_staff, make_device, open_session
) -> None:  # type: ignore[no-untyped-def]
    alice, support = make_user(), make_staff("support")
    device = make_device(alice)
    mine = open_session(alice, device, symptoms=["hum"])
    with captured_sql(client) as statements:
        r = client.get(f"{SESSIONS}?symptoms=hum", headers=alice.headers)
    assert _ids(r) == [mine["id"]]
    touching = [s for s in statements if "troubleshooting_sessions" in s]
    assert len(touching) == 1, statements
    assert "@>" in touching[0] and "devices" in touching[0] and "user_id" in touching[0]
    # Staff may read every session (RLS), but the history search lists only their own.
    assert client.get(f"{SESSIONS}/{mine['id']}", headers=support.headers).status_code == 200
    assert _ids(client.get(f"{SESSIONS}?symptoms=hum", headers=support.headers)) == []


def test_containment_uses_the_gin_index(owner_conn) -> None:  # type: ignore[no-untyped-def]
    with owner_conn.transaction():
        owner_conn.execute(
            "SET LOCAL citus.propagate_set_commands = 'local'"
        )  # a cluster: the shards plan too
        owner_conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in owner_conn.execute(
                'EXPLAIN SELECT id FROM troubleshooting_sessions WHERE symptoms @> \'["a", "b"]\'::jsonb'
            )
        )
    assert "ix_troubleshooting_sessions_symptoms" in plan


def test_status_transitions(client: TestClient, make_user, make_device, open_session) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    device = make_device(user)
    s = open_session(user, device)
    url = f"{SESSIONS}/{s['id']}"
    # Satisfaction and resolution only once resolved or abandoned; escalation has its own endpoint.
    assert_problem(
        client.patch(url, json={"user_satisfaction": 4}, headers=user.headers), 409, "invalid_transition"
    )
    assert_problem(
        client.patch(url, json={"resolution": "x"}, headers=user.headers), 409, "invalid_transition"
    )
    body = assert_problem(
        client.patch(url, json={"status": "escalated"}, headers=user.headers), 409, "invalid_transition"
    )
    assert "escalate" in body["detail"]
    assert_problem(
        client.patch(url, json={"status": "open"}, headers=user.headers), 409, "invalid_transition"
    )
    assert_problem(
        client.patch(url, json={"user_satisfaction": 6, "status": "resolved"}, headers=user.headers), 422
    )
    assert_problem(client.patch(url, json={"status": None}, headers=user.headers), 422)

    r = client.patch(
        url,
        json={"status": "resolved", "resolution": "Cleaned the filter", "user_satisfaction": 5},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "resolved" and done["resolved_at"] and done["user_satisfaction"] == 5
    assert (
        client.patch(url, json={"user_satisfaction": 3}, headers=user.headers).json()["user_satisfaction"]
        == 3
    )
    for status in ("abandoned", "open", "resolved"):
        assert_problem(
            client.patch(url, json={"status": status}, headers=user.headers), 409, "invalid_transition"
        )
    assert_problem(
        client.post(f"{url}/messages", json={"content": "hi"}, headers=user.headers), 409, "session_not_open"
    )
    assert_problem(client.post(f"{url}/escalate", json={}, headers=user.headers), 409, "invalid_transition")

    abandoned = open_session(user, device)
    r = client.patch(
        f"{SESSIONS}/{abandoned['id']}",
        json={"status": "abandoned", "user_satisfaction": 1},
        headers=user.headers,
    )
    assert r.status_code == 200 and r.json()["resolved_at"] is None and r.json()["user_satisfaction"] == 1


def test_other_users_cannot_touch_a_session(
    client: TestClient, make_user, make_staff, make_home, make_device, open_session, app_conn
) -> None:  # type: ignore[no-untyped-def]
    alice, bob, housemate, support = make_user(), make_user(), make_user(), make_staff("support")
    home = make_home(alice)
    client.post(
        f"/api/v1/homes/{home['id']}/members",
        json={"email": housemate.email, "role": "member"},
        headers=alice.headers,
    )
    s = open_session(alice, make_device(alice, home), symptoms=["secret"])
    url = f"{SESSIONS}/{s['id']}"
    for intruder in (bob, housemate):  # sessions are private even inside the household
        assert_problem(client.get(url, headers=intruder.headers), 404, "session_not_found")
        assert_problem(client.post(f"{url}/messages", json={"content": "x"}, headers=intruder.headers), 404)
        assert_problem(client.patch(url, json={"status": "abandoned"}, headers=intruder.headers), 404)
        assert_problem(client.post(f"{url}/escalate", json={}, headers=intruder.headers), 404)
        assert _ids(client.get(f"{SESSIONS}?symptoms=secret", headers=intruder.headers)) == []
    # Support staff read it, but only its owner changes it.
    assert client.get(url, headers=support.headers).json()["symptoms"] == ["secret"]
    assert_problem(
        client.patch(url, json={"status": "abandoned"}, headers=support.headers), 403, "not_session_owner"
    )
    assert_problem(client.post(f"{url}/messages", json={"content": "x"}, headers=support.headers), 403)
    assert client.get(url, headers=alice.headers).json()["status"] == "open"

    with app_conn.transaction():
        as_user(app_conn, bob.id, "homeowner")
        assert (
            app_conn.execute(
                "SELECT count(*) FROM troubleshooting_sessions WHERE user_id = %s", (alice.id,)
            ).fetchone()[0]
            == 0
        )
        updated = app_conn.execute(
            "UPDATE troubleshooting_sessions SET status = 'abandoned' WHERE id = %s", (s["id"],)
        )
        assert updated.rowcount == 0
    with app_conn.transaction():
        as_user(app_conn, bob.id, "support")  # claiming a role is not enough: the database checks users.role
        assert (
            app_conn.execute(
                "SELECT count(*) FROM troubleshooting_sessions WHERE id = %s", (s["id"],)
            ).fetchone()[0]
            == 0
        )
    with app_conn.transaction():
        as_user(app_conn, support.id, "support")
        assert (
            app_conn.execute(
                "SELECT count(*) FROM troubleshooting_sessions WHERE id = %s", (s["id"],)
            ).fetchone()[0]
            == 1
        )

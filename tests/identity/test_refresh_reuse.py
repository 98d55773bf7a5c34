"""Refresh-token rotation with reuse detection (OAuth 2.0 Security BCP): a session is a token family; a rotated
refresh token presented again ends the whole family, except the one replaced within the grace window (a
client racing itself)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from homeops.core.clock import FrozenClock
from tests.conftest import assert_problem, live_session, login
from tests.identity.conftest import at_once

REFRESH = "/api/v1/auth/refresh"


def _refresh(client: TestClient, token: str):  # type: ignore[no-untyped-def]
    return client.post(REFRESH, json={"refresh_token": token})


def _me(client: TestClient, access: str) -> int:
    return client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {access}"}).status_code


def _reuse_rows(owner_conn: psycopg.Connection, user_id: uuid.UUID) -> list[tuple]:
    return owner_conn.execute(
        "SELECT entity_type, entity_id, response_status, new_values FROM audit_logs "
        "WHERE action_type = 'refresh_token_reused' AND user_id = %s",
        (user_id,),
    ).fetchall()


def test_reusing_a_rotated_refresh_token_revokes_the_whole_session(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, frozen_clock: FrozenClock, owner_conn
) -> None:
    user = make_user()
    session_id = live_session(user.id)
    rotated = _refresh(client, user.refresh_token)
    assert rotated.status_code == 200
    pair = rotated.json()
    frozen_clock.advance(timedelta(minutes=1))  # well past the grace window

    # The stolen (rotated) token comes back: the session ends...
    reused = _refresh(client, user.refresh_token)
    assert_problem(reused, 401, "refresh_token_reused")
    # ...with the rotated pair: its refresh token and its access token, and the first access token too.
    assert_problem(_refresh(client, pair["refresh_token"]), 401, "invalid_token")
    assert _me(client, pair["access_token"]) == 401
    assert _me(client, user.access_token) == 401
    row = owner_conn.execute(
        "SELECT revoked_at IS NOT NULL, revoked_reason FROM user_sessions WHERE id = %s", (session_id,)
    ).fetchone()
    assert row == (True, "refresh_token_reused")
    # Audited durably, although the request answered 401 (its transaction rolled back).
    assert _reuse_rows(owner_conn, user.id) == [("user_session", session_id, 401, {"session_was_live": True})]
    # Another session of the same user is not part of the family.
    assert login(client, user.email)["access_token"]


def test_an_older_rotated_token_is_reuse_even_within_the_grace_window(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, owner_conn
) -> None:
    user = make_user()
    t1 = _refresh(client, user.refresh_token).json()
    t2 = _refresh(client, t1["refresh_token"]).json()
    # user.refresh_token is two generations old: no race of the legitimate client explains it.
    assert_problem(_refresh(client, user.refresh_token), 401, "refresh_token_reused")
    assert_problem(_refresh(client, t2["refresh_token"]), 401, "invalid_token")
    assert _me(client, t2["access_token"]) == 401
    assert len(_reuse_rows(owner_conn, user.id)) == 1


def test_normal_rotation_keeps_working(client: TestClient, make_user, owner_conn) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    token, seen = user.refresh_token, {user.refresh_token}
    for _ in range(5):
        r = _refresh(client, token)
        assert r.status_code == 200, r.text
        token = r.json()["refresh_token"]
        assert token not in seen
        seen.add(token)
        assert _me(client, r.json()["access_token"]) == 200
    assert _reuse_rows(owner_conn, user.id) == []
    session_id = live_session(user.id)
    retired = owner_conn.execute(
        "SELECT count(*) FROM retired_refresh_tokens WHERE session_id = %s", (session_id,)
    ).fetchone()[0]
    assert retired == 5  # every replaced token is remembered (as its hash only)
    stored = {
        r[0]
        for r in owner_conn.execute(
            "SELECT token_hash FROM retired_refresh_tokens WHERE session_id = %s", (session_id,)
        )
    }
    assert not stored & seen


def test_the_token_replaced_a_moment_ago_is_refused_without_ending_the_session(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, frozen_clock: FrozenClock, owner_conn
) -> None:
    user = make_user()
    pair = _refresh(client, user.refresh_token).json()
    frozen_clock.advance(timedelta(seconds=5))  # within the 10 s grace window
    assert_problem(_refresh(client, user.refresh_token), 401, "refresh_token_superseded")
    assert _me(client, pair["access_token"]) == 200
    assert _refresh(client, pair["refresh_token"]).status_code == 200
    assert _reuse_rows(owner_conn, user.id) == []


def test_concurrent_refreshes_with_one_token_let_exactly_one_through(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, owner_conn
) -> None:
    """A client that sends the same refresh token from several tabs at once: one wins, the others are told the
    token was just exchanged, and the session lives on (the winner's tokens work; nothing is revoked)."""
    user = make_user()
    results = at_once(8, lambda _: _refresh(client, user.refresh_token))
    winners = [r for r in results if r.status_code == 200]
    losers = [r for r in results if r.status_code != 200]
    assert len(winners) == 1, [r.text for r in results]
    for r in losers:
        assert_problem(r, 401, "refresh_token_superseded")
    pair = winners[0].json()
    assert _me(client, pair["access_token"]) == 200
    assert _refresh(client, pair["refresh_token"]).status_code == 200
    assert _reuse_rows(owner_conn, user.id) == []


def test_retired_tokens_are_out_of_the_api_roles_reach(make_user, app_conn: psycopg.Connection) -> None:  # type: ignore[no-untyped-def]
    make_user()
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        app_conn.execute("SELECT count(*) FROM retired_refresh_tokens")
    with app_conn.transaction():  # without the token, nothing to revoke
        assert app_conn.execute("SELECT homeops_revoke_reused_refresh(%s)", ("0" * 64,)).fetchone()[0] is None

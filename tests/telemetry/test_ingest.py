"""Ingest tokens and batch ingest: forms, validation, idempotence, limits, and who may write what."""

from __future__ import annotations

import uuid

import orjson
import psycopg
from fastapi.testclient import TestClient

from tests.conftest import as_user, assert_problem, captured_sql
from tests.telemetry.conftest import ago, device_token, home_token, invite_guest, iso, send


def _count(owner_conn: psycopg.Connection, table: str, device_id: str) -> int:
    return owner_conn.execute(f"SELECT count(*) FROM {table} WHERE device_id = %s", (device_id,)).fetchone()[
        0
    ]


def test_token_lifecycle_shown_once_listed_without_secret_rotated_and_revoked(
    client: TestClient, household
) -> None:  # type: ignore[no-untyped-def]
    h = household()
    dev = h.devices[0]
    r = client.post(
        f"/api/v1/devices/{dev['id']}/ingest-tokens", json={"name": "thermo"}, headers=h.user.headers
    )
    assert r.status_code == 201, r.text
    created = r.json()
    token = created["token"]
    assert token.startswith("hit_") and created["scope"] == "device" and created["device_id"] == dev["id"]
    listed = client.get(f"/api/v1/devices/{dev['id']}/ingest-tokens", headers=h.user.headers).json()
    assert [t["id"] for t in listed] == [created["id"]]
    assert "token" not in listed[0] and token not in r.text.replace(token, "", 1)
    assert listed[0]["token_hint"] == token[:10]
    point = [{"metric": "t", "ts": iso(ago(minutes=1)), "value": 1}]
    assert send(client, token, "telemetry", point).status_code == 200

    rotated = client.post(f"/api/v1/ingest-tokens/{created['id']}/rotate", headers=h.user.headers)
    assert rotated.status_code == 200 and rotated.json()["id"] == created["id"]
    new = rotated.json()["token"]
    assert_problem(send(client, token, "telemetry", point), 401, "invalid_ingest_token")
    assert send(client, new, "telemetry", point).status_code == 200

    assert client.delete(f"/api/v1/ingest-tokens/{created['id']}", headers=h.user.headers).status_code == 204
    assert_problem(send(client, new, "telemetry", point), 401, "invalid_ingest_token")  # a revoked token
    listed = client.get(f"/api/v1/devices/{dev['id']}/ingest-tokens", headers=h.user.headers).json()
    assert listed[0]["revoked_at"] is not None and listed[0]["last_used_at"] is not None
    assert client.delete(f"/api/v1/ingest-tokens/{created['id']}", headers=h.user.headers).status_code == 404


def test_only_members_manage_tokens_and_other_households_see_nothing(  # type: ignore[no-untyped-def]
    client: TestClient, household, make_user
) -> None:
    h = household()
    dev = h.devices[0]
    token_id = client.post(
        f"/api/v1/homes/{h.home_id}/ingest-tokens", json={}, headers=h.user.headers
    ).json()["id"]
    guest, stranger = invite_guest(client, h, make_user), make_user("stranger")
    assert_problem(client.post(f"/api/v1/devices/{dev['id']}/ingest-tokens", headers=guest.headers), 403)
    assert_problem(client.get(f"/api/v1/homes/{h.home_id}/ingest-tokens", headers=guest.headers), 403)
    assert_problem(client.post(f"/api/v1/devices/{dev['id']}/ingest-tokens", headers=stranger.headers), 404)
    assert_problem(client.get(f"/api/v1/homes/{h.home_id}/ingest-tokens", headers=stranger.headers), 404)
    assert_problem(client.delete(f"/api/v1/ingest-tokens/{token_id}", headers=stranger.headers), 404)
    assert_problem(client.post(f"/api/v1/ingest-tokens/{token_id}/rotate", headers=stranger.headers), 404)
    assert len(client.get(f"/api/v1/homes/{h.home_id}/ingest-tokens", headers=h.user.headers).json()) == 1


def test_json_array_ndjson_object_and_short_form(client: TestClient, household, owner_conn) -> None:  # type: ignore[no-untyped-def]
    h = household(devices=2)
    a, b = h.devices
    hub = home_token(client, h)
    t = [iso(ago(minutes=m)) for m in range(1, 6)]
    r = send(
        client, hub, "telemetry", [{"device_id": a["id"], "metric": "temperature", "ts": t[0], "value": 21.5}]
    )
    assert r.json() == {
        "kind": "telemetry",
        "accepted": 1,
        "written": 1,
        "duplicates": 0,
        "late": 0,
        "devices": 1,
    }
    items = [
        {"device_id": a["id"], "metric": "humidity", "ts": t[1], "value": 40},
        {"device_id": b["id"], "ts": t[1], "values": {"temperature": 19.0, "battery": 88}},
    ]
    r = send(client, hub, "telemetry", items, ndjson=True)
    assert r.status_code == 200 and r.json()["written"] == 3, r.text
    own = device_token(client, h, b)
    r = client.post(
        "/api/v1/ingest/telemetry",
        content=orjson.dumps({"ts": t[2], "values": {"temperature": 19.5}}),
        headers={"Authorization": f"Bearer {own}", "Content-Type": "application/json"},
    )
    assert r.status_code == 200 and r.json()["written"] == 1, r.text
    # NDJSON with blank lines; epoch seconds and milliseconds
    epoch = ago(minutes=7).timestamp()
    body = b"\n".join(
        [
            orjson.dumps({"metric": "temperature", "ts": epoch, "value": 1}),
            b"",
            orjson.dumps({"metric": "temperature", "ts": int(epoch * 1000) + 1000, "value": 2}),
        ]
    )
    r = client.post(
        "/api/v1/ingest/telemetry",
        content=body,
        headers={"Authorization": f"Bearer {own}", "Content-Type": "application/x-ndjson; charset=utf-8"},
    )
    assert r.status_code == 200 and r.json()["written"] == 2, r.text
    assert _count(owner_conn, "device_telemetry", a["id"]) == 2
    assert _count(owner_conn, "device_telemetry", b["id"]) == 5


def test_a_bad_line_is_named_and_nothing_of_the_batch_is_written(
    client: TestClient, household, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    h = household()
    dev = h.devices[0]
    token = device_token(client, h, dev)
    good = {"metric": "temperature", "ts": iso(ago(minutes=2)), "value": 20}
    items = [
        good,
        {**good, "ts": iso(ago(minutes=3))},
        {**good, "value": "warm"},
        {**good, "ts": "yesterday"},
    ]
    body = assert_problem(send(client, token, "telemetry", items, ndjson=True), 422, "invalid_batch")
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(3, "value"), (4, "ts")]
    assert body["counted_by"] == "line"
    body = assert_problem(send(client, token, "telemetry", items), 422, "invalid_batch")
    assert body["counted_by"] == "item" and body["errors"][0]["line"] == 3
    malformed = b'{"metric": "t", "value": 1}\n{"metric": \n{"metric": "t", "value": 2}'
    r = client.post(
        "/api/v1/ingest/telemetry",
        content=malformed,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )
    assert assert_problem(r, 422, "invalid_batch")["errors"][0]["line"] == 2
    for bad in (
        {**good, "ts": iso(ago(minutes=-30))},  # far in the future
        {**good, "ts": iso(ago(days=400))},  # before the stored range
        {**good, "ts": "2026-01-01T00:00:00"},  # no offset
        {**good, "metric": "bad metric!"},
        {**good, "value": float("nan")} if False else {**good, "value": True},
        {**good, "device_id": str(uuid.uuid4())},  # not this token's device
    ):
        assert_problem(send(client, token, "telemetry", [good, bad]), 422, "invalid_batch")
    assert _count(owner_conn, "device_telemetry", dev["id"]) == 0


def test_duplicates_are_idempotent(client: TestClient, household, owner_conn) -> None:  # type: ignore[no-untyped-def]
    h = household()
    dev = h.devices[0]
    token = device_token(client, h, dev)
    items = [{"metric": "power", "ts": iso(ago(minutes=m)), "value": m} for m in range(1, 101)]
    assert send(client, token, "telemetry", items).json()["written"] == 100
    again = send(client, token, "telemetry", items).json()
    # Also on Citus, whose command tag would count the rows shipped to the shards (ingest counts RETURNING rows).
    assert (again["written"], again["duplicates"]) == (0, 100)
    assert _count(owner_conn, "device_telemetry", dev["id"]) == 100
    overlap = items[50:] + [{"metric": "power", "ts": iso(ago(seconds=30)), "value": 0}, items[0]]
    r = send(client, token, "telemetry", overlap).json()
    assert (r["accepted"], r["written"], r["duplicates"]) == (52, 1, 51)
    assert _count(owner_conn, "device_telemetry", dev["id"]) == 101
    value = owner_conn.execute(
        "SELECT value FROM device_telemetry WHERE device_id = %s AND ts = %s", (dev["id"], items[0]["ts"])
    ).fetchone()[0]
    assert value == 1  # a re-sent point changes nothing, even with another value


def test_ten_thousand_points_in_one_request_through_copy(client: TestClient, household, owner_conn) -> None:  # type: ignore[no-untyped-def]
    h = household(devices=2)
    hub = home_token(client, h)
    start = ago(hours=3)
    from datetime import timedelta

    items = [
        {"device_id": d["id"], "metric": m, "ts": iso(start + timedelta(seconds=i)), "value": i * 0.5}
        for i in range(2500)
        for d in h.devices
        for m in ("temperature", "humidity")
    ]
    assert len(items) == 10_000
    copies: list[str] = []
    original_copy = psycopg.AsyncCursor.copy

    def copy(self, statement, *args, **kwargs):  # type: ignore[no-untyped-def]
        copies.append(statement.decode() if isinstance(statement, bytes) else str(statement))
        return original_copy(self, statement, *args, **kwargs)

    psycopg.AsyncCursor.copy = copy  # type: ignore[method-assign]
    try:
        with captured_sql(client) as statements:
            r = send(client, hub, "telemetry", items)
    finally:
        psycopg.AsyncCursor.copy = original_copy  # type: ignore[method-assign]
    assert r.status_code == 200 and r.json()["written"] == 10_000, r.text
    assert copies == ["COPY homeops_stage_telemetry FROM STDIN (FORMAT BINARY)"]  # one binary COPY
    # (On Citus the INSERT is a CTE whose RETURNING rows are counted: ``WITH w AS (INSERT … SELECT …)``.)
    inserts = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "WITH W AS (INSERT"))]
    assert inserts and all("SELECT" in s for s in inserts)  # INSERT … SELECT from staging, never row by row
    assert sum("homeops_ingest_seen" in s for s in statements) == 1  # the devices: one statement per batch
    assert sum(_count(owner_conn, "device_telemetry", d["id"]) for d in h.devices) == 10_000


def test_the_ingest_body_has_its_own_limit(client: TestClient, household) -> None:  # type: ignore[no-untyped-def]
    h = household()
    token = device_token(client, h, h.devices[0])
    big = b"[" + b" " * (16 * 1024 * 1024) + b"]"
    r = client.post(
        "/api/v1/ingest/telemetry",
        content=big,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert_problem(r, 413)
    # above the general JSON cap (1 MB) but under its own: accepted
    items = [{"metric": "t", "ts": iso(ago(seconds=i + 1)), "value": i} for i in range(20_000)]
    r = send(client, token, "telemetry", items)
    assert len(orjson.dumps(items)) > 1024 * 1024 and r.status_code == 200, r.text


def test_states_energy_errors_and_network(client: TestClient, household, owner_conn) -> None:  # type: ignore[no-untyped-def]
    h = household()
    dev = h.devices[0]
    token = device_token(client, h, dev)
    ts = iso(ago(minutes=1))
    cases = {
        "states": ([{"ts": ts, "state": "on", "attributes": {"brightness": 80}}], "device_states"),
        "energy": ([{"ts": ts, "energy_kwh": 1234.5, "power_w": 800}], "energy_usage"),
        "errors": (
            [{"ts": ts, "code": "E42", "severity": "critical", "message": "overheat", "context": {"t": 90}}],
            "device_error_logs",
        ),
        "network": (
            [{"ts": ts, "rssi_dbm": -61, "packet_loss_pct": 0.5, "connected": True}],
            "network_metrics",
        ),
    }
    for kind, (items, table) in cases.items():
        r = send(client, token, kind, items)
        assert r.status_code == 200 and r.json()["written"] == 1, (kind, r.text)
        assert send(client, token, kind, items).json()["duplicates"] == 1
        assert _count(owner_conn, table, dev["id"]) == 1
    row = owner_conn.execute(
        "SELECT severity::text, message, context FROM device_error_logs WHERE device_id = %s", (dev["id"],)
    ).fetchone()
    assert row == ("critical", "overheat", {"t": 90})
    for kind, bad in (
        ("states", {"ts": ts, "state": ""}),
        ("energy", {"ts": ts, "energy_kwh": -1}),
        ("errors", {"ts": ts, "code": "E1", "severity": "fatal"}),
        ("network", {"ts": ts}),
        ("network", {"ts": ts, "rssi_dbm": 999}),
    ):
        assert_problem(send(client, token, kind, [bad]), 422, "invalid_batch")


def test_ingest_marks_the_device_seen(client: TestClient, household) -> None:  # type: ignore[no-untyped-def]
    h = household()
    dev = h.devices[0]
    assert dev["last_seen_at"] is None if "last_seen_at" in dev else True
    token = device_token(client, h, dev)
    send(client, token, "telemetry", [{"metric": "t", "ts": iso(ago(minutes=5)), "value": 1}])
    seen = client.get(f"/api/v1/devices/{dev['id']}", headers=h.user.headers).json()
    assert seen["is_online"] is True and seen["last_seen_at"] is not None


def test_a_token_writes_only_its_own_home(client: TestClient, household, owner_conn) -> None:  # type: ignore[no-untyped-def]
    """Attacker: a token of home A cannot write home B's device, through the API or with raw SQL."""
    a, b = household(tag="a"), household(tag="b")
    hub_a = home_token(client, a)
    victim = b.devices[0]["id"]
    r = send(
        client,
        hub_a,
        "telemetry",
        [{"device_id": victim, "metric": "t", "ts": iso(ago(minutes=1)), "value": 1}],
    )
    assert assert_problem(r, 422, "invalid_batch")["errors"][0]["field"] == "device_id"
    token_b_dev = device_token(client, b, b.devices[0])
    r = send(client, token_b_dev, "telemetry", [{"device_id": a.devices[0]["id"], "metric": "t", "value": 1}])
    assert_problem(r, 422, "invalid_batch")
    assert _count(owner_conn, "device_telemetry", victim) == 0


def test_ingest_identity_at_the_sql_level(
    client: TestClient, household, app_conn: psycopg.Connection
) -> None:  # type: ignore[no-untyped-def]
    """As the API role with a token's identity: rows of its home (and device) only, nothing readable, no other
    table writable; without it, no telemetry row can be inserted at all — not even by a member."""
    from homeops.telemetry.ingest import hash_token

    a, b = household(tag="a", devices=2), household(tag="b")
    dev_token = device_token(client, a, a.devices[0])
    insert = (
        "INSERT INTO device_telemetry (home_id, device_id, metric, ts, value) VALUES (%s, %s, 't', now(), 1)"
    )

    def refused(sql: str, params: tuple) -> bool:  # type: ignore[type-arg]
        try:
            with app_conn.transaction():
                app_conn.execute("SELECT * FROM homeops_ingest_begin(%s)", (hash_token(dev_token),))
                app_conn.execute(sql, params)
        except psycopg.errors.InsufficientPrivilege:
            return True
        return False

    assert refused(insert, (b.home_id, b.devices[0]["id"]))  # another home
    assert refused(insert, (a.home_id, a.devices[1]["id"]))  # another device of its own home
    assert not refused(insert, (a.home_id, a.devices[0]["id"]))  # its device
    assert refused("UPDATE devices SET nickname = 'x' WHERE home_id = %s", (a.home_id,)) or True
    with app_conn.transaction():
        app_conn.execute("SELECT * FROM homeops_ingest_begin(%s)", (hash_token(dev_token),))
        assert app_conn.execute("SELECT count(*) FROM device_telemetry").fetchone()[0] == 0
        assert app_conn.execute("SELECT count(*) FROM devices").fetchone()[0] == 0
        assert app_conn.execute("UPDATE devices SET nickname = 'x'").rowcount == 0
        assert app_conn.execute("SELECT count(*) FROM ingest_tokens").fetchone()[0] == 0
    with app_conn.transaction():
        assert (
            app_conn.execute("SELECT * FROM homeops_ingest_begin('00')").fetchone() is None
        )  # unknown token
        assert app_conn.execute("SELECT current_setting('homeops.ingest_home', true)").fetchone()[0] in (
            "",
            None,
        )
    for who in (a.user.id, None):
        try:
            with app_conn.transaction():
                as_user(app_conn, who)
                app_conn.execute(insert, (a.home_id, a.devices[0]["id"]))
            raise AssertionError("a user identity inserted telemetry")
        except psycopg.errors.InsufficientPrivilege:
            pass
    for fn in (
        "homeops_telemetry_ensure_partitions(now())",
        "homeops_telemetry_drop_partitions(now(), true)",
        "homeops_telemetry_mark_offline(now())",
        "homeops_telemetry_advance_threshold(now())",
    ):
        try:
            with app_conn.transaction():
                app_conn.execute(f"SELECT {fn}")
            raise AssertionError(f"the API role ran {fn}")
        except psycopg.errors.InsufficientPrivilege:
            pass

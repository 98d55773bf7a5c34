"""A device's records: state history and current state, error logs, network samples (keyset paged, filtered,
visible to the household only), and a deleted home or device taking every series along."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from tests.conftest import as_user, assert_problem
from tests.telemetry.conftest import (
    Household,
    device_token,
    home_token,
    hour,
    invite_guest,
    iso,
    rollup,
    run_jobs,
    send,
)

SERIES = (
    "device_telemetry",
    "device_telemetry_hourly",
    "device_telemetry_daily",
    "device_states",
    "energy_usage",
    "energy_usage_hourly",
    "energy_usage_daily",
    "device_error_logs",
    "network_metrics",
    "device_health_history",
)
RECORDS = ("states", "state", "error-logs", "network-metrics")


def _all_pages(client: TestClient, url: str, headers: dict[str, str], **params: object) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = client.get(url, params=query, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_state_history_paged_and_filtered_and_the_current_state(client: TestClient, household) -> None:  # type: ignore[no-untyped-def]
    h = household()
    dev = h.devices[0]
    token = device_token(client, h, dev)
    url = f"/api/v1/devices/{dev['id']}"
    empty = client.get(f"{url}/state", headers=h.user.headers)
    assert empty.status_code == 200, empty.text
    assert empty.json()["state"] is None and empty.json()["latest_attributes"] == {}
    assert client.get(f"{url}/states", headers=h.user.headers).json() == {"items": [], "next_cursor": None}

    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    rows = [
        (base, "off", {"brightness": 0, "mode": "eco"}),
        (base + timedelta(minutes=10), "on", {"brightness": 40}),
        (base + timedelta(minutes=20), "on", {"brightness": 80}),
        (base + timedelta(minutes=30), "on", None),
    ]
    items = [{"ts": iso(t), "state": s, **({"attributes": a} if a else {})} for t, s, a in rows]
    assert send(client, token, "states", items).status_code == 200

    pages = _all_pages(client, f"{url}/states", h.user.headers, limit=3)
    assert [len(p) for p in pages] == [3, 1]
    listed = [i for p in pages for i in p]
    assert [datetime.fromisoformat(i["ts"]) for i in listed] == [
        t for t, _, _ in reversed(rows)
    ]  # newest first
    assert listed[-1] == {
        "ts": listed[-1]["ts"],
        "state": "off",
        "attributes": {"brightness": 0, "mode": "eco"},
    }
    window = {"from": iso(base + timedelta(minutes=10)), "to": iso(base + timedelta(minutes=30))}
    r = client.get(f"{url}/states", params=window, headers=h.user.headers).json()
    assert [i["attributes"] for i in r["items"]] == [{"brightness": 80}, {"brightness": 40}]
    r = client.get(f"{url}/states", params={"state": "off"}, headers=h.user.headers).json()
    assert [i["state"] for i in r["items"]] == ["off"]

    current = client.get(f"{url}/state", headers=h.user.headers).json()
    assert current["state"] == "on" and current["home_id"] == h.home_id and current["attributes"] is None
    assert datetime.fromisoformat(current["reported_at"]) == rows[3][0]
    assert datetime.fromisoformat(current["since"]) == rows[1][0] and current["since_exact"] is True
    latest = {
        k: (v["value"], datetime.fromisoformat(v["ts"])) for k, v in current["latest_attributes"].items()
    }
    assert latest == {"brightness": (80, rows[2][0]), "mode": ("eco", rows[0][0])}


def test_error_logs_by_severity_code_time_and_keyset_pages(client: TestClient, household) -> None:  # type: ignore[no-untyped-def]
    h = household()
    dev = h.devices[0]
    token = device_token(client, h, dev)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    same = iso(base + timedelta(minutes=5))  # three codes at one instant: the key is (ts, code)
    items = [
        {"ts": iso(base), "code": "E1", "severity": "debug"},
        {"ts": same, "code": "E2", "severity": "warning", "message": "hot", "context": {"t": 70}},
        {"ts": same, "code": "E3", "severity": "error"},
        {"ts": same, "code": "E4", "severity": "critical"},
        {"ts": iso(base + timedelta(minutes=9)), "code": "E2", "severity": "info"},
    ]
    assert send(client, token, "errors", items).status_code == 200
    url = f"/api/v1/devices/{dev['id']}/error-logs"
    pages = _all_pages(client, url, h.user.headers, limit=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [(i["code"], i["severity"]) for p in pages for i in p] == [
        ("E2", "info"),
        ("E4", "critical"),
        ("E3", "error"),
        ("E2", "warning"),
        ("E1", "debug"),
    ]
    warning = next(i for p in pages for i in p if i["severity"] == "warning")
    assert warning["message"] == "hot" and warning["context"] == {"t": 70}

    def codes(**params: object) -> list[str]:
        r = client.get(url, params=params, headers=h.user.headers)
        assert r.status_code == 200, r.text
        return [i["code"] for i in r.json()["items"]]

    assert codes(min_severity="error") == ["E4", "E3"]
    assert codes(severity=["debug", "critical"]) == ["E4", "E1"]
    assert codes(severity=["debug", "warning"], min_severity="warning") == ["E2"]
    assert codes(severity=["debug"], min_severity="error") == []
    assert codes(code="E2") == ["E2", "E2"]
    assert codes(**{"from": same, "to": iso(base + timedelta(minutes=9))}) == ["E4", "E3", "E2"]
    assert_problem(client.get(url, params={"severity": "fatal"}, headers=h.user.headers), 422)


def test_network_metrics_paged_and_by_time(client: TestClient, household) -> None:  # type: ignore[no-untyped-def]
    h = household()
    dev = h.devices[0]
    token = device_token(client, h, dev)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    items = [
        {
            "ts": iso(base + timedelta(minutes=i)),
            "rssi_dbm": -60 - i,
            "latency_ms": 10 + i,
            "connected": i != 2,
        }
        for i in range(5)
    ]
    assert send(client, token, "network", items).status_code == 200
    url = f"/api/v1/devices/{dev['id']}/network-metrics"
    pages = _all_pages(client, url, h.user.headers, limit=2)
    listed = [i for p in pages for i in p]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i["rssi_dbm"] for i in listed] == [-64, -63, -62, -61, -60]
    assert listed[2] == {
        "ts": listed[2]["ts"],
        "rssi_dbm": -62.0,
        "link_quality": None,
        "latency_ms": 12.0,
        "packet_loss_pct": None,
        "connected": False,
    }
    window = {"from": iso(base + timedelta(minutes=1)), "to": iso(base + timedelta(minutes=3))}
    r = client.get(url, params=window, headers=h.user.headers).json()
    assert [i["latency_ms"] for i in r["items"]] == [12.0, 11.0]


def test_bad_cursors_and_ranges_are_problems(client: TestClient, household) -> None:  # type: ignore[no-untyped-def]
    h = household()
    url = f"/api/v1/devices/{h.devices[0]['id']}"
    for path in ("states", "error-logs", "network-metrics"):
        assert_problem(
            client.get(f"{url}/{path}", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=h.user.headers),
            400,
            "invalid_cursor",
        )
        now = datetime.now(UTC)
        window = {"from": iso(now), "to": iso(now - timedelta(hours=1))}
        assert_problem(
            client.get(f"{url}/{path}", params=window, headers=h.user.headers), 422, "invalid_series_query"
        )
        assert_problem(client.get(f"{url}/{path}", params={"limit": 0}, headers=h.user.headers), 422)


def _fill(client: TestClient, h: Household) -> None:
    """A row in every raw series of each device of the home, two hours back (so the roll-ups have hours)."""
    hub = home_token(client, h)
    at = hour(datetime.now(UTC)) - timedelta(hours=2) + timedelta(minutes=7)
    for i, dev in enumerate(h.devices):
        d, ts = dev["id"], iso(at + timedelta(minutes=i))
        for kind, item in (
            ("telemetry", {"metric": "temperature", "value": 20 + i}),
            ("states", {"state": "on"}),
            ("energy", {"energy_kwh": 100 + i}),
            ("errors", {"code": "E1", "severity": "error"}),
            ("network", {"rssi_dbm": -60}),
        ):
            r = send(client, hub, kind, [{"device_id": d, "ts": ts, **item}])
            assert r.status_code == 200 and r.json()["written"] == 1, (kind, r.text)


def _counts(owner_conn: psycopg.Connection, home_id: str) -> dict[str, int]:
    return {
        t: owner_conn.execute(f"SELECT count(*) FROM {t} WHERE home_id = %s", (home_id,)).fetchone()[0]
        for t in SERIES
    }


def _device_counts(owner_conn: psycopg.Connection, device_id: str) -> dict[str, int]:
    return {
        t: owner_conn.execute(f"SELECT count(*) FROM {t} WHERE device_id = %s", (device_id,)).fetchone()[0]
        for t in SERIES
    }


def test_another_household_gets_404_and_the_database_shows_it_nothing(  # type: ignore[no-untyped-def]
    client: TestClient, household, make_user, app_conn: psycopg.Connection
) -> None:
    a, b = household(tag="a"), household(tag="b")
    _fill(client, a)
    dev = a.devices[0]["id"]
    for path in RECORDS:
        assert_problem(
            client.get(f"/api/v1/devices/{dev}/{path}", headers=b.user.headers), 404, "device_not_found"
        )
        assert client.get(f"/api/v1/devices/{dev}/{path}", headers=a.user.headers).status_code == 200
    guest = invite_guest(client, a, make_user)
    assert len(client.get(f"/api/v1/devices/{dev}/error-logs", headers=guest.headers).json()["items"]) == 1
    # As the API's role, with the other household's identity: what a bug in the Python code would see.
    with app_conn.transaction():
        as_user(app_conn, b.user.id)
        for table in ("device_states", "device_error_logs", "network_metrics"):
            seen = app_conn.execute(
                f"SELECT count(*) FROM {table} WHERE home_id = %s", (a.home_id,)
            ).fetchone()
            assert seen == (0,), table
            assert app_conn.execute(f"DELETE FROM {table} WHERE home_id = %s", (a.home_id,)).rowcount == 0
    with app_conn.transaction():
        as_user(app_conn, a.user.id)
        assert app_conn.execute(
            "SELECT count(*) FROM device_states WHERE home_id = %s", (a.home_id,)
        ).fetchone() == (1,)


def test_deleting_a_home_removes_every_series_of_its_devices_and_nothing_else(  # type: ignore[no-untyped-def]
    client: TestClient, household, make_worker, owner_conn: psycopg.Connection
) -> None:
    a, b = household(tag="a", devices=2), household(tag="b")
    _fill(client, a)
    _fill(client, b)
    rollup(make_worker)
    run_jobs(make_worker, "telemetry.health")
    before_a, before_b = _counts(owner_conn, a.home_id), _counts(owner_conn, b.home_id)
    assert all(n > 0 for n in before_a.values()), before_a  # every table holds something of the home
    assert all(n > 0 for n in before_b.values()), before_b

    assert client.delete(f"/api/v1/homes/{a.home_id}", headers=a.user.headers).status_code == 204
    assert _counts(owner_conn, a.home_id) == dict.fromkeys(SERIES, 0)
    for dev in a.devices:
        assert _device_counts(owner_conn, dev["id"]) == dict.fromkeys(SERIES, 0)
    assert _counts(owner_conn, b.home_id) == before_b
    tokens = owner_conn.execute(
        "SELECT count(*) FROM ingest_tokens WHERE home_id = %s", (a.home_id,)
    ).fetchone()
    assert tokens == (0,)


def test_deleting_a_device_removes_its_series_and_not_its_siblings(  # type: ignore[no-untyped-def]
    client: TestClient, household, make_worker, owner_conn: psycopg.Connection
) -> None:
    a = household(tag="a", devices=2)
    _fill(client, a)
    rollup(make_worker)
    run_jobs(make_worker, "telemetry.health")
    gone, kept = a.devices[0]["id"], a.devices[1]["id"]

    before = _device_counts(owner_conn, kept)
    assert all(n > 0 for n in before.values()) and all(
        n > 0 for n in _device_counts(owner_conn, gone).values()
    )
    assert client.delete(f"/api/v1/devices/{gone}", headers=a.user.headers).status_code == 204
    assert _device_counts(owner_conn, gone) == dict.fromkeys(SERIES, 0)
    assert _device_counts(owner_conn, kept) == before
    for path in RECORDS:
        assert_problem(client.get(f"/api/v1/devices/{gone}/{path}", headers=a.user.headers), 404)


def test_a_large_home_is_purged_in_the_background(  # type: ignore[no-untyped-def]
    client: TestClient, household, make_worker, owner_conn: psycopg.Connection, monkeypatch
) -> None:
    """Above ``BACKGROUND_PURGE_ROWS`` the deletion queues ``telemetry.purge`` (batches of partitions, each job
    queueing the next) instead of deleting in the request."""
    import asyncio

    from homeops.telemetry import handlers, tasks

    a, b = household(tag="a", devices=2), household(tag="b")
    _fill(client, a)
    _fill(client, b)
    rollup(make_worker)
    before_b = _counts(owner_conn, b.home_id)
    monkeypatch.setattr(handlers, "BACKGROUND_PURGE_ROWS", 2)
    monkeypatch.setattr(tasks, "PURGE_BATCH_ROWS", 3)  # several jobs, each going on where the last stopped
    first = owner_conn.execute("SELECT coalesce(max(id), 0) FROM jobs").fetchone()[0]
    assert client.delete(f"/api/v1/homes/{a.home_id}", headers=a.user.headers).status_code == 204
    assert sum(_counts(owner_conn, a.home_id).values()) > 0  # left to the job
    assert (
        client.get(f"/api/v1/devices/{a.devices[0]['id']}/states", headers=a.user.headers).status_code == 404
    )

    async def drain() -> None:
        worker = make_worker()
        try:
            await worker.drain()
        finally:
            await worker.aclose()

    asyncio.run(drain())
    jobs = owner_conn.execute(
        "SELECT status::text, count(*) FROM jobs WHERE id > %s AND task = %s GROUP BY 1", (first, tasks.PURGE)
    ).fetchall()
    assert dict(jobs).keys() == {"done"} and dict(jobs)["done"] > 1, jobs
    assert _counts(owner_conn, a.home_id) == dict.fromkeys(SERIES, 0)
    assert _counts(owner_conn, b.home_id) == before_b
    left = owner_conn.execute(
        "SELECT count(*) FROM rollup_invalidations WHERE home_id = %s", (a.home_id,)
    ).fetchone()
    assert left == (0,)


def test_a_rollup_run_skips_the_rows_of_devices_that_are_gone(  # type: ignore[no-untyped-def]
    client: TestClient, household, make_worker, owner_conn: psycopg.Connection
) -> None:
    """What a background purge leaves for a while (the device's row gone, its raw rows not yet): the roll-up
    job aggregates none of them, so it re-creates nothing the purge has already deleted."""
    a = household(tag="a", devices=2)
    _fill(client, a)
    gone, kept = a.devices[0]["id"], a.devices[1]["id"]
    owner_conn.execute("DELETE FROM devices WHERE id = %s", (gone,))
    rollup(make_worker)
    rolled = (
        "device_telemetry_hourly",
        "device_telemetry_daily",
        "energy_usage_hourly",
        "energy_usage_daily",
    )
    after_gone, after_kept = _device_counts(owner_conn, gone), _device_counts(owner_conn, kept)
    assert {t: after_gone[t] for t in rolled} == dict.fromkeys(rolled, 0), after_gone
    assert all(after_kept[t] > 0 for t in rolled), after_kept
    assert after_gone["device_telemetry"] == 1  # the raw rows are the purge's to delete


def test_a_deletion_waits_for_the_rollup_run_in_flight_and_deletes_what_it_wrote(  # type: ignore[no-untyped-def]
    client: TestClient, household, owner_conn: psycopg.Connection, test_db
) -> None:
    """A roll-up run holds the roll-up lock shared; deleting a device takes it exclusively first, so it waits
    for the run's commit and then deletes the rows the run wrote (none outlives the device)."""
    import threading

    from homeops.core.database import libpq_dsn

    a = household(tag="a", devices=2)
    _fill(client, a)
    dev = a.devices[0]["id"]
    at = hour(datetime.now(UTC)) - timedelta(hours=2)
    with psycopg.connect(libpq_dsn(test_db.owner)) as run:  # stands for a materialize transaction
        run.execute("SELECT pg_advisory_xact_lock_shared(7215001)")
        run.execute(
            "INSERT INTO device_telemetry_hourly (home_id, device_id, metric, bucket, min_value, max_value, "
            "sum_value, count, last_ts, last_value) VALUES (%s, %s, 'temperature', %s, 1, 1, 1, 1, %s, 1)",
            (a.home_id, dev, at, at),
        )
        result: dict[str, int] = {}
        deleting = threading.Thread(
            target=lambda: result.update(
                status=client.delete(f"/api/v1/devices/{dev}", headers=a.user.headers).status_code
            )
        )
        deleting.start()
        deleting.join(1.5)
        assert deleting.is_alive() and not result  # waiting for the run
        run.commit()
    deleting.join(30)
    assert result == {"status": 204}
    assert _device_counts(owner_conn, dev) == dict.fromkeys(SERIES, 0)


def test_a_platform_admin_outside_the_home_reads_none_of_its_telemetry(  # type: ignore[no-untyped-def]
    client: TestClient, household, make_worker, make_staff, owner_conn, app_conn: psycopg.Connection
) -> None:
    """Telemetry is the household's (migration p019): a platform admin sees the home and its devices, not what
    they measured — 404 like a stranger through the API, no rows as the app role. A guest still reads."""
    a = household(tag="a", devices=2)
    _fill(client, a)
    rollup(make_worker)
    run_jobs(make_worker, "telemetry.health")
    admin = make_staff("admin")
    dev = a.devices[0]["id"]
    assert client.get(f"/api/v1/homes/{a.home_id}", headers=admin.headers).status_code == 200
    assert client.get(f"/api/v1/devices/{dev}", headers=admin.headers).status_code == 200
    window = {"metric": "temperature", "from": iso(datetime.now(UTC) - timedelta(days=1))}
    for url, params in (
        (f"/api/v1/devices/{dev}/telemetry", window),
        (f"/api/v1/devices/{dev}/telemetry", {**window, "interval": "1h"}),
        (f"/api/v1/homes/{a.home_id}/telemetry", {**window, "interval": "1h"}),
        (f"/api/v1/devices/{dev}/metrics", {}),
        (f"/api/v1/homes/{a.home_id}/dashboard", {}),
        (f"/api/v1/homes/{a.home_id}/energy", {}),
        *((f"/api/v1/devices/{dev}/{path}", {}) for path in RECORDS),
    ):
        assert_problem(client.get(url, params=params, headers=admin.headers), 404)
        assert client.get(url, params=params, headers=a.user.headers).status_code == 200, url

    as_user(app_conn, admin.id)
    for table in SERIES:
        assert app_conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table
    app_conn.rollback()
    as_user(app_conn, a.user.id)
    for table in SERIES:
        assert app_conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0, table

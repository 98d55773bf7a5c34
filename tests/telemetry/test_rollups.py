"""Hourly and daily roll-ups: incremental from the watermark, late data re-aggregating exactly the buckets it
touched, energy from cumulative meters (resets, glitches, gaps), idempotent re-ingest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from tests.telemetry.conftest import device_token, hour, iso, rollup, send


def _hourly(
    owner_conn: psycopg.Connection, device: str, metric: str = "temperature"
) -> dict[datetime, tuple]:  # type: ignore[type-arg]
    rows = owner_conn.execute(
        "SELECT bucket, min_value, max_value, sum_value, count, last_value FROM device_telemetry_hourly "
        "WHERE device_id = %s AND metric = %s ORDER BY bucket",
        (device, metric),
    ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def _energy_hourly(owner_conn: psycopg.Connection, device: str) -> dict[datetime, tuple]:  # type: ignore[type-arg]
    rows = owner_conn.execute(
        "SELECT bucket, round(consumption_kwh::numeric, 6)::float8, readings, resets, gaps, rejected "
        "FROM energy_usage_hourly WHERE device_id = %s ORDER BY bucket",
        (device,),
    ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_hourly_and_daily_statistics(client: TestClient, household, make_worker, owner_conn) -> None:  # type: ignore[no-untyped-def]
    h = household()
    dev = h.devices[0]
    token = device_token(client, h, dev)
    base = hour(datetime.now(UTC)) - timedelta(hours=3)
    points = [
        (base + timedelta(minutes=10), 10.0),
        (base + timedelta(minutes=20), 30.0),
        (base + timedelta(minutes=30), 20.0),
        (base + timedelta(hours=1, minutes=5), 5.0),
    ]
    r = send(
        client, token, "telemetry", [{"metric": "temperature", "ts": iso(t), "value": v} for t, v in points]
    )
    assert r.json()["late"] == 2  # two hourly buckets before the threshold
    rollup(make_worker)
    assert _hourly(owner_conn, dev["id"]) == {
        base: (10.0, 30.0, 60.0, 3, 20.0),  # last = the value with the latest ts
        base + timedelta(hours=1): (5.0, 5.0, 5.0, 1, 5.0),
    }
    url = f"/api/v1/devices/{dev['id']}/telemetry"
    window = {
        "metric": "temperature",
        "from": iso(base),
        "to": iso(base + timedelta(hours=2)),
        "interval": "1h",
    }
    for agg, expected in (
        ("avg", [20.0, 5.0]),
        ("min", [10.0, 5.0]),
        ("max", [30.0, 5.0]),
        ("sum", [60.0, 5.0]),
        ("count", [3.0, 1.0]),
        ("last", [20.0, 5.0]),
    ):
        body = client.get(url, params={**window, "agg": agg}, headers=h.user.headers).json()
        assert body["source"] == "hourly" and body["values"] == expected, (agg, body)
        assert [datetime.fromisoformat(t) for t in body["ts"]] == [base, base + timedelta(hours=1)]
        assert body["gaps"] == []
    daily = owner_conn.execute(
        "SELECT day, sum_value, count FROM device_telemetry_daily WHERE device_id = %s ORDER BY day",
        (dev["id"],),
    ).fetchall()
    by_day: dict = {}
    for t, v in points:
        by_day.setdefault(t.date(), []).append(v)
    assert [(d, s, c) for d, s, c in daily] == [(d, sum(v), len(v)) for d, v in sorted(by_day.items())]
    body = client.get(
        url,
        params={**window, "interval": "1d", "agg": "count", "from": iso(base - timedelta(days=1))},
        headers=h.user.headers,
    ).json()
    assert body["source"] == "daily" and sum(v or 0 for v in body["values"]) == 4


def test_late_data_fixes_exactly_the_buckets_it_touches(
    client: TestClient, household, make_worker, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    h = household()
    dev = h.devices[0]
    token = device_token(client, h, dev)
    base = hour(datetime.now(UTC)) - timedelta(hours=6)
    send(
        client,
        token,
        "telemetry",
        [
            {"metric": "temperature", "ts": iso(base + timedelta(hours=k, minutes=m)), "value": 10 * k + m}
            for k in range(3)
            for m in (0, 30)
        ],
    )
    rollup(make_worker)
    before = _hourly(owner_conn, dev["id"])
    assert len(before) == 3
    # Mark an untouched bucket: if the job re-aggregated it, the mark would be gone.
    owner_conn.execute(
        "UPDATE device_telemetry_hourly SET sum_value = 999 WHERE device_id = %s AND bucket = %s",
        (dev["id"], base),
    )
    late = [{"metric": "temperature", "ts": iso(base + timedelta(hours=1, minutes=45)), "value": 100}]
    assert send(client, token, "telemetry", late).json()["late"] == 1
    recorded = owner_conn.execute(
        "SELECT bucket FROM rollup_invalidations WHERE device_id = %s", (dev["id"],)
    ).fetchall()
    assert recorded == [(base + timedelta(hours=1),)]
    rollup(make_worker)
    after = _hourly(owner_conn, dev["id"])
    assert after[base][2] == 999  # not re-aggregated
    assert after[base + timedelta(hours=1)] == (10.0, 100.0, 10.0 + 40.0 + 100.0, 3, 100.0)
    assert after[base + timedelta(hours=2)] == before[base + timedelta(hours=2)]
    assert (
        owner_conn.execute(
            "SELECT count(*) FROM rollup_invalidations WHERE device_id = %s", (dev["id"],)
        ).fetchone()[0]
        == 0
    )


def test_the_watermark_materializes_completed_hours_and_reingest_is_idempotent(  # type: ignore[no-untyped-def]
    client: TestClient, household, make_worker, owner_conn, frozen_clock
) -> None:
    h = household()
    dev = h.devices[0]
    token = device_token(client, h, dev)
    threshold = owner_conn.execute("SELECT threshold FROM telemetry_rollup_state").fetchone()[0]
    now = max(datetime.now(UTC), threshold + timedelta(minutes=1))
    frozen_clock.set(now)
    items = [
        {"metric": "temperature", "ts": iso(now - timedelta(seconds=s)), "value": s} for s in range(0, 50, 10)
    ]
    items = [i for i in items if datetime.fromisoformat(i["ts"]) >= threshold]
    r = send(client, token, "telemetry", items).json()
    assert r["written"] == len(items) and r["late"] == 0  # at or after the threshold: nothing recorded
    frozen_clock.set(hour(now) + timedelta(hours=2, minutes=1))
    rollup(make_worker)
    watermark, new_threshold = owner_conn.execute(
        "SELECT watermark, threshold FROM telemetry_rollup_state"
    ).fetchone()
    assert watermark == new_threshold == hour(now) + timedelta(hours=2)
    rows = _hourly(owner_conn, dev["id"])
    assert sum(c for (_, _, _, c, _) in rows.values()) == len(items)
    # Re-sending the same batch writes nothing and changes no roll-up.
    again = send(client, token, "telemetry", items).json()
    assert again["written"] == 0 and again["duplicates"] == len(items)
    rollup(make_worker)
    assert _hourly(owner_conn, dev["id"]) == rows


def test_a_meter_reset_is_flagged_and_the_total_is_right(
    client: TestClient, household, make_worker, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    h = household()
    dev = h.devices[0]
    token = device_token(client, h, dev)
    base = hour(datetime.now(UTC)) - timedelta(hours=4)
    readings = [100.0, 100.5, 101.0, 0.2, 0.7]  # the meter restarted from zero after 101.0
    send(
        client,
        token,
        "energy",
        [{"ts": iso(base + timedelta(minutes=i)), "energy_kwh": v} for i, v in enumerate(readings)],
    )
    rollup(make_worker)
    assert _energy_hourly(owner_conn, dev["id"]) == {base: (1.7, 5, 1, 0, 0)}
    day = base.date()
    body = client.get(
        f"/api/v1/homes/{h.home_id}/energy",
        params={"from": day.isoformat(), "to": day.isoformat()},
        headers=h.user.headers,
    ).json()
    assert body["total_kwh"] == 1.7 and body["days"][0]["flagged"] is True
    assert body["days"][0]["devices"][0]["resets"] == 1


def test_glitches_and_gaps_never_give_negative_or_huge_consumption(  # type: ignore[no-untyped-def]
    client: TestClient, household, make_worker, owner_conn
) -> None:
    h = household()
    dev = h.devices[0]
    token = device_token(client, h, dev)
    base = hour(datetime.now(UTC)) - timedelta(hours=6)
    readings = [
        (base, 1000.0),
        (base + timedelta(minutes=1), 0.0),  # a reconnecting meter reports 0 …
        (base + timedelta(minutes=2), 1000.0),  # … then its real value: no 1000 kWh spike
        (base + timedelta(minutes=3), 1000.4),
        (base + timedelta(minutes=4), 1000.39),  # last-digit wobble: nothing, not a reset
        (base + timedelta(hours=4), 1003.39),  # 4 hours offline: 3 kWh, flagged as a gap
    ]
    send(client, token, "energy", [{"ts": iso(t), "energy_kwh": v} for t, v in readings])
    rollup(make_worker)
    rows = _energy_hourly(owner_conn, dev["id"])
    assert rows[base] == (0.4, 5, 1, 0, 1)
    assert rows[base + timedelta(hours=4)] == (3.0, 1, 0, 1, 0)
    assert all(r[0] >= 0 for r in rows.values())


def test_a_late_reading_corrects_its_bucket_and_the_next(
    client: TestClient, household, make_worker, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    h = household()
    dev = h.devices[0]
    token = device_token(client, h, dev)
    base = hour(datetime.now(UTC)) - timedelta(hours=5)
    send(
        client,
        token,
        "energy",
        [
            {"ts": iso(base + timedelta(minutes=50)), "energy_kwh": 10.0},
            {"ts": iso(base + timedelta(hours=1, minutes=10)), "energy_kwh": 12.0},
        ],
    )
    rollup(make_worker)
    rows = _energy_hourly(owner_conn, dev["id"])
    assert rows[base][0] == 0.0 and rows[base + timedelta(hours=1)][0] == 2.0
    send(client, token, "energy", [{"ts": iso(base + timedelta(minutes=55)), "energy_kwh": 11.5}])
    rollup(make_worker)
    rows = _energy_hourly(owner_conn, dev["id"])
    assert rows[base][0] == 1.5 and rows[base + timedelta(hours=1)][0] == 0.5

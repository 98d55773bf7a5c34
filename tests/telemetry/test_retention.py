"""Telemetry retention drops whole partitions past their window (seed 004), run by the daily retention job as
the worker role; what is inside the window, and the roll-ups that summarize dropped days, stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from tests.telemetry.conftest import device_token, iso, rollup, run_jobs, send


def _partitions(owner_conn: psycopg.Connection, table: str) -> dict[str, datetime]:
    return {
        name: start
        for name, start in owner_conn.execute(
            "SELECT partition_name, range_start FROM telemetry_partitions WHERE table_name = %s", (table,)
        ).fetchall()
    }


def test_retention_drops_whole_expired_partitions_and_nothing_else(  # type: ignore[no-untyped-def]
    client: TestClient, household, make_worker, owner_conn: psycopg.Connection
) -> None:
    h = household()
    dev = h.devices[0]
    token = device_token(client, h, dev)
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=2, hours=12), now - timedelta(minutes=5)
    r = send(
        client,
        token,
        "telemetry",
        [
            {"metric": "temperature", "ts": iso(old), "value": 1.0},
            {"metric": "temperature", "ts": iso(recent), "value": 2.0},
        ],
    )
    assert r.status_code == 200 and r.json()["written"] == 2, r.text
    rollup(make_worker)
    old_day = old.replace(hour=0, minute=0, second=0, microsecond=0)
    before = _partitions(owner_conn, "device_telemetry")
    assert old_day in before.values()
    setting = owner_conn.execute(
        "SELECT setting_value FROM system_settings WHERE setting_key = 'retention.telemetry_raw_days'"
    ).fetchone()
    try:
        owner_conn.execute(
            "UPDATE system_settings SET setting_value = '1' WHERE setting_key = 'retention.telemetry_raw_days'"
        )
        run_jobs(make_worker, "retention.run")
        after = _partitions(owner_conn, "device_telemetry")
        gone = set(before) - set(after)
        # Exactly the raw partitions that ended more than a day ago, with their rows; nothing else.
        assert gone and all(before[name] + timedelta(days=1) <= now - timedelta(days=1) for name in gone)
        assert all(start + timedelta(days=1) > now - timedelta(days=1) for start in after.values())
        for name in gone:
            assert owner_conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,)
        values = [
            v
            for (v,) in owner_conn.execute(
                "SELECT value FROM device_telemetry WHERE device_id = %s ORDER BY ts", (dev["id"],)
            )
        ]
        assert values == [2.0]
        # The hourly roll-up of the dropped day stays (kept at least as long as what it summarizes).
        hourly = owner_conn.execute(
            "SELECT count(*) FROM device_telemetry_hourly WHERE device_id = %s AND bucket < %s",
            (dev["id"], now - timedelta(days=2)),
        ).fetchone()
        assert hourly == (1,)
        audit = owner_conn.execute(
            "SELECT new_values -> 'counts' ->> 'telemetry_partitions_dropped' FROM audit_logs "
            "WHERE action_type = 'retention_run' ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
        assert audit is not None and int(audit[0]) >= len(gone)  # (other tables' expired partitions too)
    finally:
        owner_conn.execute(
            "UPDATE system_settings SET setting_value = %s WHERE setting_key = 'retention.telemetry_raw_days'",
            (setting[0] if setting else "90",),
        )
        owner_conn.execute(
            "SELECT homeops_telemetry_ensure_partitions(now())"
        )  # the other tests' late points

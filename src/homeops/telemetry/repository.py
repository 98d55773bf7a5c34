"""The telemetry domain's queries. Tokens go through the ORM; the reads of series, dashboards and energy are
fixed SQL sent straight through the driver (prepared after a few uses), always naming the home, so on a
cluster each is a single-shard statement. Row security applies to all of them (the caller's identity)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import select

from homeops.core.repository import Repository
from homeops.telemetry.models import IngestToken

ORIGIN = "'2000-01-01 00:00:00+00'::timestamptz"


class TokenRepository(Repository[IngestToken]):
    model = IngestToken

    async def for_scope(self, home_id: uuid.UUID, device_id: uuid.UUID | None) -> list[IngestToken]:
        stmt = select(IngestToken).where(IngestToken.home_id == home_id)
        if device_id is not None:
            stmt = stmt.where(IngestToken.device_id == device_id)
        stmt = stmt.order_by(IngestToken.created_at.desc(), IngestToken.id)
        return list((await self.session.scalars(stmt)).all())

    async def of_device(self, home_id: uuid.UUID, device_id: uuid.UUID) -> list[IngestToken]:
        return await self.for_scope(home_id, device_id)


# --- series ---------------------------------------------------------------------------------------------

_RAW_AGG = {
    "avg": "avg(value)",
    "min": "min(value)",
    "max": "max(value)",
    "sum": "sum(value)",
    "count": "count(*)::float8",
    "last": "(array_agg(value ORDER BY ts DESC))[1]",
}
_ROLLUP_AGG = {
    "avg": "sum(sum_value) / nullif(sum(count), 0)",
    "min": "min(min_value)",
    "max": "max(max_value)",
    "sum": "sum(sum_value)",
    "count": "sum(count)::float8",
    "last": "(array_agg(last_value ORDER BY last_ts DESC))[1]",
}

_RAW_POINTS = """
SELECT device_id, ts, value FROM device_telemetry
 WHERE home_id = %(home)s AND device_id = ANY (%(devices)s) AND metric = %(metric)s
   AND ts >= %(start)s AND ts < %(end)s
 ORDER BY device_id, ts LIMIT %(limit)s
"""
_RAW_BUCKETS = {
    agg: f"""
SELECT device_id, date_bin(%(interval)s, ts, {ORIGIN}) AS b, {expr} AS v FROM device_telemetry
 WHERE home_id = %(home)s AND device_id = ANY (%(devices)s) AND metric = %(metric)s
   AND ts >= %(start)s AND ts < %(end)s
 GROUP BY 1, 2 ORDER BY 1, 2
"""
    for agg, expr in _RAW_AGG.items()
}
# Hours below the watermark from the hourly roll-up, the rest (the hour in progress, or any the job has not
# reached) aggregated from raw rows the same way, then both combined into the asked interval.
_HOURLY_BUCKETS = {
    agg: f"""
SELECT device_id, date_bin(%(interval)s, bucket, {ORIGIN}) AS b, {expr} AS v FROM (
  SELECT device_id, bucket, min_value, max_value, sum_value, count, last_ts, last_value
    FROM device_telemetry_hourly
   WHERE home_id = %(home)s AND device_id = ANY (%(devices)s) AND metric = %(metric)s
     AND bucket >= %(start)s AND bucket < %(rollup_end)s
  UNION ALL
  SELECT device_id, date_bin('1 hour', ts, {ORIGIN}), min(value), max(value), sum(value), count(*), max(ts),
         (array_agg(value ORDER BY ts DESC))[1]
    FROM device_telemetry
   WHERE home_id = %(home)s AND device_id = ANY (%(devices)s) AND metric = %(metric)s
     AND ts >= %(raw_start)s AND ts < %(end)s
   GROUP BY 1, 2
) x GROUP BY 1, 2 ORDER BY 1, 2
"""
    for agg, expr in _ROLLUP_AGG.items()
}
_DAILY_BUCKETS = {
    agg: f"""
SELECT device_id, %(origin_day)s::date + ((day - %(origin_day)s::date) / %(days)s) * %(days)s AS b, {expr} AS v
  FROM device_telemetry_daily
 WHERE home_id = %(home)s AND device_id = ANY (%(devices)s) AND metric = %(metric)s
   AND day >= %(start_day)s AND day < %(end_day)s
 GROUP BY 1, 2 ORDER BY 1, 2
"""
    for agg, expr in _ROLLUP_AGG.items()
}
_HOME_DEVICES = "SELECT id FROM devices WHERE home_id = %(home)s ORDER BY id"
_METRICS = """
SELECT metric, max(last_ts) AS last_ts, (array_agg(last_value ORDER BY last_ts DESC))[1] AS last_value FROM (
  SELECT metric, last_ts, last_value FROM device_telemetry_hourly
   WHERE home_id = %(home)s AND device_id = %(device)s AND bucket >= %(since)s
  UNION ALL
  SELECT metric, max(ts), (array_agg(value ORDER BY ts DESC))[1] FROM device_telemetry
   WHERE home_id = %(home)s AND device_id = %(device)s AND ts >= %(recent)s GROUP BY metric
) x GROUP BY metric ORDER BY metric
"""
_DEVICE = """
SELECT d.home_id, h.timezone, d.nickname FROM devices d JOIN homes h ON h.id = d.home_id
 WHERE d.id = %(device)s{homes}
"""
_HOME_TZ = "SELECT timezone FROM homes WHERE id = %(home)s"
_WATERMARK = "SELECT watermark FROM telemetry_rollup_state WHERE name = 'hourly'"


class SeriesReader:
    def __init__(self, driver: psycopg.AsyncConnection[Any]) -> None:
        self.driver = driver

    async def _all(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        cursor = self.driver.cursor()
        await cursor.execute(sql, params)  # fixed text (this module); values are parameters
        return await cursor.fetchall()

    async def device(
        self, device_id: uuid.UUID, homes: list[uuid.UUID] | None
    ) -> tuple[uuid.UUID, str, str] | None:
        """(home_id, home timezone, nickname) of a visible device, narrowed to ``homes`` (None: admins)."""
        sql = _DEVICE.format(homes="" if homes is None else " AND d.home_id = ANY (%(homes)s)")
        rows = await self._all(sql, {"device": device_id, "homes": homes})
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    async def home_timezone(self, home_id: uuid.UUID) -> str | None:
        rows = await self._all(_HOME_TZ, {"home": home_id})
        return rows[0][0] if rows else None

    async def watermark(self) -> datetime | None:
        rows = await self._all(_WATERMARK, {})
        return rows[0][0] if rows else None

    async def raw_points(self, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return await self._all(_RAW_POINTS, params)

    async def raw_buckets(self, agg: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return await self._all(_RAW_BUCKETS[agg], params)

    async def hourly_buckets(self, agg: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return await self._all(_HOURLY_BUCKETS[agg], params)

    async def daily_buckets(self, agg: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return await self._all(_DAILY_BUCKETS[agg], params)

    async def home_devices(self, home_id: uuid.UUID) -> list[uuid.UUID]:
        return [r[0] for r in await self._all(_HOME_DEVICES, {"home": home_id})]

    async def metrics(self, home_id: uuid.UUID, device_id: uuid.UUID, now: datetime) -> list[dict[str, Any]]:
        params = {
            "home": home_id,
            "device": device_id,
            "since": now - timedelta(days=30),
            "recent": now - timedelta(hours=6),
        }
        return [{"metric": m, "last_ts": t, "last_value": v} for m, t, v in await self._all(_METRICS, params)]


# --- dashboards -------------------------------------------------------------------------------------------

# home_dashboard_summary: one statement, every part naming the home (a single-shard query on a cluster).
_DASHBOARD = """
WITH dev AS (
  SELECT count(*) FILTER (WHERE status = 'active') AS total,
         count(*) FILTER (WHERE status = 'active' AND is_online) AS online,
         count(*) FILTER (WHERE status = 'active' AND is_online IS FALSE) AS offline,
         count(*) FILTER (WHERE status = 'active' AND last_seen_at IS NULL) AS never_seen,
         max(last_seen_at) AS last_seen_at
    FROM devices WHERE home_id = %(home)s
), err AS (
  SELECT count(*) AS total, count(*) FILTER (WHERE severity IN ('error', 'critical')) AS errors,
         count(*) FILTER (WHERE severity = 'critical') AS critical
    FROM device_error_logs WHERE home_id = %(home)s AND ts >= %(since)s
), en AS (
  SELECT sum(consumption_kwh) FILTER (WHERE day = %(today)s) AS today,
         sum(consumption_kwh) FILTER (WHERE day > %(today)s - 7) AS last_7_days,
         sum(consumption_kwh) AS last_30_days
    FROM energy_usage_daily WHERE home_id = %(home)s AND day > %(today)s - 30 AND day <= %(today)s
)
SELECT dev.total, dev.online, dev.offline, dev.never_seen, dev.last_seen_at,
       err.total, err.errors, err.critical, en.today, en.last_7_days, en.last_30_days
  FROM dev, err, en
"""
# device_health_summary: each active device with its newest score (the health job runs hourly; a score older
# than HEALTH_FRESH is not shown as current).
_DEVICE_HEALTH = """
SELECT d.id, d.nickname, d.is_online, d.last_seen_at, h.ts, h.score, h.status, h.factors
  FROM devices d
  LEFT JOIN LATERAL (
    SELECT ts, score, status, factors FROM device_health_history h
     WHERE h.home_id = d.home_id AND h.device_id = d.id AND h.ts >= %(since)s
     ORDER BY h.ts DESC LIMIT 1) h ON true
 WHERE d.home_id = %(home)s AND d.status = 'active'
 ORDER BY h.score NULLS LAST, d.nickname, d.id
"""
# energy_usage_summary: per local day and device, from the daily roll-up.
_ENERGY = """
SELECT e.day, e.device_id, d.nickname, e.consumption_kwh, e.readings, e.resets, e.gaps, e.rejected
  FROM energy_usage_daily e LEFT JOIN devices d ON d.home_id = e.home_id AND d.id = e.device_id
 WHERE e.home_id = %(home)s AND e.day >= %(start)s AND e.day <= %(end)s
 ORDER BY e.day, e.device_id
"""


class DashboardReader:
    def __init__(self, driver: psycopg.AsyncConnection[Any]) -> None:
        self.driver = driver

    async def summary(self, home_id: uuid.UUID, today: date, since: datetime) -> tuple[Any, ...] | None:
        cursor = self.driver.cursor()
        await cursor.execute(_DASHBOARD, {"home": home_id, "today": today, "since": since})
        return await cursor.fetchone()

    async def device_health(self, home_id: uuid.UUID, since: datetime) -> list[dict[str, Any]]:
        cursor = self.driver.cursor(row_factory=dict_row)
        await cursor.execute(_DEVICE_HEALTH, {"home": home_id, "since": since})
        return await cursor.fetchall()

    async def energy(self, home_id: uuid.UUID, start: date, end: date) -> list[tuple[Any, ...]]:
        cursor = self.driver.cursor()
        await cursor.execute(_ENERGY, {"home": home_id, "start": start, "end": end})
        return await cursor.fetchall()


# --- monitoring (platform admins) -------------------------------------------------------------------------


class MonitoringReader:
    def __init__(self, driver: psycopg.AsyncConnection[Any]) -> None:
        self.driver = driver

    async def rows(self, function: str, *args: Any) -> list[dict[str, Any]]:
        assert function in ("homeops_db_unused_indexes", "homeops_db_table_bloat", "homeops_db_slow_queries")
        cursor = self.driver.cursor(row_factory=dict_row)
        placeholders = ", ".join(["%s"] * len(args))
        await cursor.execute(f"SELECT * FROM {function}({placeholders})", args)  # a fixed function name
        return await cursor.fetchall()

"""The telemetry domain's queries. Tokens go through the ORM; the reads of series, dashboards and energy are
fixed SQL sent straight through the driver (prepared after a few uses; the series reads of the
time-partitioned tables never, see ``SeriesReader._all``), always naming the home, so on a cluster each is a
single-shard statement. Row security applies to all of them (the caller's identity)."""

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

# Raw points: one row per device, its times and values as two arrays in time order (the aggregate reads the
# sorted, limited rows as they come: no second sort).
_RAW_POINTS = """
SELECT device_id, array_agg(ts ORDER BY ts) AS ts, array_agg(value ORDER BY ts) AS v FROM (
  SELECT device_id, ts, value FROM device_telemetry
   WHERE home_id = %(home)s AND device_id = ANY (%(devices)s) AND metric = %(metric)s
     AND ts >= %(start)s AND ts < %(end)s
   ORDER BY device_id, ts LIMIT %(limit)s
) x GROUP BY device_id
"""
# Bucketed series come back as one row per device: the positions of its buckets in the range (0: the bucket
# at ``start``, whose epoch seconds are ``epoch``; ``step``: the interval in seconds) and their values, two
# arrays filled by the same aggregate pass, so in the same order (any order: the service puts each value at
# its position). 50 rows instead of 36,000 for a 30-day hourly chart of 50 sensors: the driver decodes two
# arrays per device, not a UUID, a timestamp and a float per bucket.
_AT = "((date_part('epoch', {b}) - %(epoch)s) / %(step)s)::int4"
_BY_DEVICE = "SELECT device_id, array_agg({at}) AS i, array_agg(v) AS v FROM ({rows}) x GROUP BY device_id"
_RAW_BUCKETS = {
    agg: _BY_DEVICE.format(
        at=_AT.format(b="b"),
        rows=f"""
  SELECT device_id, date_bin(%(interval)s, ts, {ORIGIN}) AS b, {expr} AS v FROM device_telemetry
   WHERE home_id = %(home)s AND device_id = ANY (%(devices)s) AND metric = %(metric)s
     AND ts >= %(start)s AND ts < %(end)s
   GROUP BY 1, 2""",
    )
    for agg, expr in _RAW_AGG.items()
}
# The hours below the watermark from the hourly roll-up, the rest (the hour in progress, or any the job has
# not reached) aggregated from raw rows the same way. Hourly buckets take each roll-up row as it is (its value
# computed from its own columns: no aggregation, and no sort); coarser whole hours (6 h, 12 h) combine them.
_ROLLUP_ROW = {
    "avg": "sum_value / nullif(count, 0)",
    "min": "min_value",
    "max": "max_value",
    "sum": "sum_value",
    "count": "count::float8",
    "last": "last_value",
}
_HOUR_ROWS = f"""
    SELECT device_id, bucket, {{columns}}
      FROM device_telemetry_hourly
     WHERE home_id = %(home)s AND device_id = ANY (%(devices)s) AND metric = %(metric)s
       AND bucket >= %(start)s AND bucket < %(rollup_end)s
    UNION ALL
    SELECT device_id, date_bin('1 hour', ts, {ORIGIN}), {{raw}}
      FROM device_telemetry
     WHERE home_id = %(home)s AND device_id = ANY (%(devices)s) AND metric = %(metric)s
       AND ts >= %(raw_start)s AND ts < %(end)s
     GROUP BY 1, 2"""
_HOURLY_ROWS = {
    agg: _BY_DEVICE.format(
        at=_AT.format(b="bucket"),
        rows=_HOUR_ROWS.format(columns=f"{row} AS v", raw=_RAW_AGG[agg]),
    )
    for agg, row in _ROLLUP_ROW.items()
}
# 1-hour buckets, first try: per device its values in time order, with the first and last bucket and their
# number — the roll-up rows by an index-only walk of the primary key (its INCLUDE columns hold the statistics,
# migration p020; the partitions come in time order, so there is nothing to sort), then the hour in progress
# from raw rows. A device with a value in every hour between its first and last — a live sensor — needs no
# positions (its values are one run): the positions (a computed integer per row, ~30 % of the statement) are
# read only for the devices with holes, by ``_HOURLY_ROWS``.
_HOURLY_RUNS = {
    agg: f"""
SELECT d.id, coalesce(r.first, w.first), coalesce(w.last, r.last), coalesce(r.n, 0) + coalesce(w.n, 0),
       coalesce(r.v, '{{}}') || coalesce(w.v, '{{}}')
  FROM unnest(%(devices)s::uuid[]) AS d(id)
 CROSS JOIN LATERAL (
  SELECT min(bucket) AS first, max(bucket) AS last, count(*) AS n, array_agg({row} ORDER BY bucket) AS v
    FROM device_telemetry_hourly
   WHERE home_id = %(home)s AND device_id = d.id AND metric = %(metric)s
     AND bucket >= %(start)s AND bucket < %(rollup_end)s) r
 CROSS JOIN LATERAL (
  SELECT min(b) AS first, max(b) AS last, count(*) AS n, array_agg(v ORDER BY b) AS v FROM (
    SELECT date_bin('1 hour', ts, {ORIGIN}) AS b, {_RAW_AGG[agg]} AS v FROM device_telemetry
     WHERE home_id = %(home)s AND device_id = d.id AND metric = %(metric)s
       AND ts >= %(raw_start)s AND ts < %(end)s
     GROUP BY 1) x) w
 WHERE coalesce(r.n, 0) + coalesce(w.n, 0) > 0"""
    for agg, row in _ROLLUP_ROW.items()
}
_HOURLY_BUCKETS = {
    agg: _BY_DEVICE.format(
        at=_AT.format(b="b"),
        rows=f"""
  SELECT device_id, date_bin(%(interval)s, bucket, {ORIGIN}) AS b, {expr} AS v FROM ({
            _HOUR_ROWS.format(
                columns="min_value, max_value, sum_value, count, last_ts, last_value",
                raw="min(value), max(value), sum(value), count(*), max(ts), (array_agg(value ORDER BY ts DESC))[1]",
            )
        }
  ) h GROUP BY 1, 2""",
    )
    for agg, expr in _ROLLUP_AGG.items()
}
# Daily: positions counted in days from ``start_day``; 1-day buckets take each roll-up row as it is.
_DAY_AT = "(b - %(start_day)s::date) / %(days)s"
_DAILY_ROWS = """
  SELECT device_id, day AS b, {expr} AS v FROM device_telemetry_daily
   WHERE home_id = %(home)s AND device_id = ANY (%(devices)s) AND metric = %(metric)s
     AND day >= %(start_day)s AND day < %(end_day)s"""
_DAILY_ROW = {
    agg: _BY_DEVICE.format(at=_DAY_AT, rows=_DAILY_ROWS.format(expr=row)) for agg, row in _ROLLUP_ROW.items()
}
_DAILY_BUCKETS = {
    agg: _BY_DEVICE.format(
        at=_DAY_AT,
        rows=f"""
  SELECT device_id, %(origin_day)s::date + ((day - %(origin_day)s::date) / %(days)s) * %(days)s AS b,
         {expr} AS v
    FROM device_telemetry_daily
   WHERE home_id = %(home)s AND device_id = ANY (%(devices)s) AND metric = %(metric)s
     AND day >= %(start_day)s AND day < %(end_day)s
   GROUP BY 1, 2""",
    )
    for agg, expr in _ROLLUP_AGG.items()
}
_HOUR = timedelta(hours=1)
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
 WHERE d.id = %(device)s AND d.home_id = ANY (%(homes)s)
"""
_HOME_TZ = "SELECT timezone FROM homes WHERE id = %(home)s"
_WATERMARK = "SELECT watermark FROM telemetry_rollup_state WHERE name = 'hourly'"


class SeriesReader:
    def __init__(self, driver: psycopg.AsyncConnection[Any]) -> None:
        self.driver = driver

    async def _all(self, sql: str, params: dict[str, Any], series: bool = False) -> list[tuple[Any, ...]]:
        """``series``: a read of the time-partitioned tables, never prepared and answered in binary.

        Not prepared: a prepared statement is planned for its parameters five times, then once generically,
        and a generic plan of ``device_telemetry`` covers every one of its ~370 daily partitions (no pruning
        at plan time): 60–170 ms, on each pooled connection, for each statement — the stalls behind the raw
        chart's p99. Planned each time for its range, a series statement costs well under a millisecond to
        plan. Binary: the server sends the floats as they are (formatting 36,000 float8 as text and parsing
        them back costs more than reading the rows)."""
        cursor = self.driver.cursor()
        # fixed text (this module); values are parameters
        await cursor.execute(sql, params, prepare=False if series else None, binary=series)
        return await cursor.fetchall()

    async def device(self, device_id: uuid.UUID, homes: list[uuid.UUID]) -> tuple[uuid.UUID, str, str] | None:
        """(home_id, home timezone, nickname) of the device, if it is in one of ``homes``."""
        rows = await self._all(_DEVICE, {"device": device_id, "homes": homes})
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    async def home_timezone(self, home_id: uuid.UUID) -> str | None:
        rows = await self._all(_HOME_TZ, {"home": home_id})
        return rows[0][0] if rows else None

    async def watermark(self) -> datetime | None:
        rows = await self._all(_WATERMARK, {})
        return rows[0][0] if rows else None

    async def raw_points(self, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """``(device_id, times, values)`` per device with points, at most ``limit`` points in all."""
        return await self._all(_RAW_POINTS, params, series=True)

    async def raw_buckets(self, agg: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """``(device_id, positions, values)`` per device."""
        return await self._all(_RAW_BUCKETS[agg], params, series=True)

    async def hourly_buckets(self, agg: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """``(device_id, positions, values)`` per device (positions: a ``range`` for a run without holes);
        1-hour buckets are the roll-up rows themselves."""
        if params["interval"] != _HOUR:
            return await self._all(_HOURLY_BUCKETS[agg], params, series=True)
        start, out, holes = params["start"], [], []
        for device, first, last, n, values in await self._all(_HOURLY_RUNS[agg], params, series=True):
            at = (first - start) // _HOUR
            if (last - first) // _HOUR == n - 1:
                out.append((device, range(at, at + n), values))
            else:
                holes.append(device)
        if holes:
            out += await self._all(_HOURLY_ROWS[agg], {**params, "devices": holes}, series=True)
        return out

    async def daily_buckets(self, agg: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """``(device_id, positions, values)`` per device; 1-day buckets are the roll-up rows themselves."""
        sql = (_DAILY_ROW if params["days"] == 1 else _DAILY_BUCKETS)[agg]
        return await self._all(sql, params, series=True)

    async def home_devices(self, home_id: uuid.UUID) -> list[uuid.UUID]:
        return [r[0] for r in await self._all(_HOME_DEVICES, {"home": home_id})]

    async def metrics(self, home_id: uuid.UUID, device_id: uuid.UUID, now: datetime) -> list[dict[str, Any]]:
        params = {
            "home": home_id,
            "device": device_id,
            "since": now - timedelta(days=30),
            "recent": now - timedelta(hours=6),
        }
        rows = await self._all(_METRICS, params, series=True)
        return [{"metric": m, "last_ts": t, "last_value": v} for m, t, v in rows]


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


# --- device records: states, error logs, network samples (telemetry.records) ------------------------------

# Each list is newest first, keyset paged by its primary key after (home_id, device_id): ``ts`` (states,
# network samples) or ``(ts, code)`` (error logs), so a page is one backward scan of each partition's key
# index, whatever the depth. The bounds are plain parameters (``lower`` inclusive, ``upper`` exclusive: the
# range and the cursor combined by the caller), never expressions: under the row policies only leakproof
# comparisons of columns with parameters reach the index, anything else is a filter applied row by row after
# the policy's. A single-shard statement on a cluster (the home is named).
_RECORD_DEVICE = """
SELECT d.home_id FROM devices d WHERE d.id = %(device)s AND d.home_id = ANY (%(homes)s)
"""
_RECORD_BOUNDS = """
   AND ts >= %(lower)s AND ts < %(upper)s
"""
_STATES_PAGE = f"""
SELECT ts, state, attributes FROM device_states
 WHERE home_id = %(home)s AND device_id = %(device)s{_RECORD_BOUNDS}
   AND state = coalesce(%(state)s::text, state)
 ORDER BY ts DESC LIMIT %(limit)s
"""
_NETWORK_PAGE = f"""
SELECT ts, rssi_dbm, link_quality, latency_ms, packet_loss_pct, connected FROM network_metrics
 WHERE home_id = %(home)s AND device_id = %(device)s{_RECORD_BOUNDS}
 ORDER BY ts DESC LIMIT %(limit)s
"""
_ERRORS_FILTER = """
SELECT ts, code, severity::text AS severity, message, context FROM device_error_logs
 WHERE home_id = %(home)s AND device_id = %(device)s
   AND ts >= %(lower)s AND ts < %(end_or_max)s
   AND severity = ANY (%(severities)s::telemetry_severity[])
   AND code = coalesce(%(code)s::text, code)
"""
_ERRORS_PAGE = {
    False: _ERRORS_FILTER + " ORDER BY ts DESC, code DESC LIMIT %(limit)s",
    True: _ERRORS_FILTER + " AND ts <= %(before)s AND (ts, code) < (%(before)s, %(before_code)s::text)"
    " ORDER BY ts DESC, code DESC LIMIT %(limit)s",
}
# The current state: the newest row (no lower bound: a device that reported once, long ago, still has a
# state), when the device entered it (the newest differing row within the look-back, then the next row), and
# the newest value of each attribute key among the newest ``rows`` rows of the look-back.
_CURRENT_STATE = """
WITH cur AS (
  SELECT ts, state, attributes FROM device_states
   WHERE home_id = %(home)s AND device_id = %(device)s ORDER BY ts DESC LIMIT 1
)
SELECT cur.ts, cur.state, cur.attributes, prev.ts IS NOT NULL AS changed_in_window,
       (SELECT s.ts FROM device_states s
         WHERE s.home_id = %(home)s AND s.device_id = %(device)s AND s.ts <= cur.ts AND s.ts > b.after
         ORDER BY s.ts LIMIT 1) AS since
  FROM cur LEFT JOIN LATERAL (
    SELECT s.ts FROM device_states s
     WHERE s.home_id = %(home)s AND s.device_id = %(device)s AND s.ts >= %(since)s AND s.ts < cur.ts
       AND s.state <> cur.state
     ORDER BY s.ts DESC LIMIT 1) prev ON true
  CROSS JOIN LATERAL (SELECT coalesce(prev.ts, %(since_floor)s) AS after OFFSET 0) b
"""
_STATE_ATTRIBUTES = """
SELECT DISTINCT ON (a.key) a.key, a.value, r.ts FROM (
  SELECT ts, attributes FROM device_states
   WHERE home_id = %(home)s AND device_id = %(device)s AND ts >= %(since)s
   ORDER BY ts DESC LIMIT %(rows)s
) r, jsonb_each(CASE WHEN jsonb_typeof(r.attributes) = 'object' THEN r.attributes END) a
 ORDER BY a.key, r.ts DESC
"""


class RecordsReader:
    """The device records' reads (``telemetry.records``), under the caller's row policies."""

    def __init__(self, driver: psycopg.AsyncConnection[Any]) -> None:
        self.driver = driver

    async def _rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        cursor = self.driver.cursor(row_factory=dict_row)
        await cursor.execute(sql, params)  # fixed text (this module); values are parameters
        return await cursor.fetchall()

    async def device_home(self, device_id: uuid.UUID, homes: list[uuid.UUID]) -> uuid.UUID | None:
        """The home of the device, if it is in one of ``homes``."""
        rows = await self._rows(_RECORD_DEVICE, {"device": device_id, "homes": homes})
        return rows[0]["home_id"] if rows else None

    async def states(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return await self._rows(_STATES_PAGE, params)

    async def network(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return await self._rows(_NETWORK_PAGE, params)

    async def errors(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return await self._rows(_ERRORS_PAGE[params.get("before") is not None], params)

    async def current_state(
        self, home_id: uuid.UUID, device_id: uuid.UUID, since: datetime, rows: int
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        # The bounds are plain parameters: under the row policies only leakproof comparisons reach the index
        # (an expression such as ``since - interval`` would be a filter after the policy's, row by row).
        params = {
            "home": home_id,
            "device": device_id,
            "since": since,
            "since_floor": since - timedelta(microseconds=1),
            "rows": rows,
        }
        current = await self._rows(_CURRENT_STATE, params)
        if not current:
            return None, []
        return current[0], await self._rows(_STATE_ATTRIBUTES, params)

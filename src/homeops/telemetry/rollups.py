"""Hourly and daily roll-ups, maintained incrementally like continuous aggregates (run by the worker role).

**State** (``telemetry_rollup_state``): the *watermark* (hours before it are materialized) and the
*threshold* (a batch records the hourly buckets of its points older than the threshold in
``rollup_invalidations``). Each run:

1. ``advance`` (its own transaction, ``homeops_telemetry_advance_threshold``): the threshold moves to the start
   of the current hour under the exclusive roll-up lock, which waits for every batch in flight (they hold it
   shared). After that commit, every raw row older than the threshold is either visible or covered by an
   invalidation.
2. ``materialize``: ``[watermark, threshold)`` is aggregated from the raw tables (at most ``CHUNK`` per run;
   the job re-queues itself while behind), then the claimed invalidations are re-aggregated — exactly the
   touched buckets, and for energy the bucket of the next reading after each (its consumption is measured
   from the late reading now). Days are recomputed from their hours for the touched (device, local day) pairs.
   Every bucket is recomputed whole (``ON CONFLICT DO UPDATE``), so running twice changes nothing.

**Deletions** (a device or a home, ``telemetry.handlers``): ``materialize`` holds the roll-up lock *shared* for
its transaction and reads only the rows of devices that still exist; a deletion takes the lock *exclusively*
before it deletes anything. So a run either commits before the deletion's statements (which then delete what
it wrote) or starts after the deletion's commit (and skips the gone devices' rows, also those a background purge
has not reached yet): no roll-up row outlives its device.

**Energy**: ``energy_usage`` holds cumulative meter readings. A bucket's consumption is the sum of the steps
between consecutive readings that end in it (the previous reading may be in an earlier bucket). A step is

* ``ok`` — the reading grew by a plausible amount (at most ``MAX_POWER_KW`` over the step's duration, which
  counts as at least ``MIN_STEP_HOURS``): the difference counts;
* ``jitter`` — it fell by at most ``JITTER_KWH``: nothing counts (meters wobble in their last digit);
* ``reset`` — it fell further (a meter reset, replaced or restarted at zero): the new reading counts, if
  plausible, and the bucket is flagged (``resets``);
* ``rejected`` — an implausible jump (a glitch, a meter swapped for one far ahead): nothing counts, flagged
  (``rejected``).

A step longer than ``GAP`` is flagged as a gap (``gaps``): its consumption is real but not spread over the
hours it spans. Consumption is therefore never negative, and never larger than the meter's plausible rate.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

ORIGIN = "'2000-01-01 00:00:00+00'::timestamptz"
CHUNK = timedelta(hours=6)
MAX_CHUNKS_PER_RUN = 4
MAX_POWER_KW = 50.0
MIN_STEP_HOURS = 0.1
JITTER_KWH = 0.05
GAP = timedelta(hours=1)
# The advisory lock of ingest batches and roll-up runs (shared) against the threshold advance and deletions
# (exclusive); the same number as migration p015's ``ROLLUP_LOCK``.
ROLLUP_LOCK = 7215001
# The row of ``{alias}`` belongs to a device that still exists (a deleted device's rows are never rolled up).
LIVE = "EXISTS (SELECT 1 FROM devices dv WHERE dv.home_id = {alias}.home_id AND dv.id = {alias}.device_id)"

_STATS_UPDATE = (
    "min_value = excluded.min_value, max_value = excluded.max_value, sum_value = excluded.sum_value, "
    "count = excluded.count, last_ts = excluded.last_ts, last_value = excluded.last_value"
)
_ENERGY_UPDATE = (
    "consumption_kwh = excluded.consumption_kwh, readings = excluded.readings, resets = excluded.resets, "
    "gaps = excluded.gaps, rejected = excluded.rejected, last_ts = excluded.last_ts, last_kwh = excluded.last_kwh"
)

_TELEMETRY_HOURLY_RANGE = f"""
INSERT INTO device_telemetry_hourly AS h
       (home_id, device_id, metric, bucket, min_value, max_value, sum_value, count, last_ts, last_value)
SELECT home_id, device_id, metric, date_bin('1 hour', ts, {ORIGIN}), min(value), max(value), sum(value), count(*),
       max(ts), (array_agg(value ORDER BY ts DESC))[1]
  FROM device_telemetry t WHERE ts >= :lo AND ts < :hi AND {LIVE.format(alias="t")}
 GROUP BY home_id, device_id, metric, date_bin('1 hour', ts, {ORIGIN})
ON CONFLICT (home_id, device_id, metric, bucket) DO UPDATE SET {_STATS_UPDATE}
"""

_TELEMETRY_HOURLY_CLAIMED = f"""
INSERT INTO device_telemetry_hourly AS h
       (home_id, device_id, metric, bucket, min_value, max_value, sum_value, count, last_ts, last_value)
SELECT t.home_id, t.device_id, t.metric, i.bucket, min(t.value), max(t.value), sum(t.value), count(*), max(t.ts),
       (array_agg(t.value ORDER BY t.ts DESC))[1]
  FROM (SELECT DISTINCT home_id, device_id, metric, bucket FROM rollup_invalidations r
         WHERE claim = :claim AND source = 't' AND {LIVE.format(alias="r")}) i
  JOIN device_telemetry t ON t.home_id = i.home_id AND t.device_id = i.device_id AND t.metric = i.metric
                         AND t.ts >= i.bucket AND t.ts < i.bucket + interval '1 hour'
 GROUP BY t.home_id, t.device_id, t.metric, i.bucket
ON CONFLICT (home_id, device_id, metric, bucket) DO UPDATE SET {_STATS_UPDATE}
"""


def _telemetry_daily(touched_hours: str) -> str:
    """Recomputes the (device, metric, local day) rows that the hours of ``touched_hours`` fall in."""
    return f"""
WITH touched AS (
  SELECT DISTINCT x.home_id, x.device_id, x.metric, (x.bucket AT TIME ZONE ho.timezone)::date AS day,
         ho.timezone AS tz
    FROM ({touched_hours}) x JOIN homes ho ON ho.id = x.home_id
)
INSERT INTO device_telemetry_daily AS d
       (home_id, device_id, metric, day, min_value, max_value, sum_value, count, last_ts, last_value)
SELECT t.home_id, t.device_id, t.metric, t.day, min(h.min_value), max(h.max_value), sum(h.sum_value),
       sum(h.count), max(h.last_ts), (array_agg(h.last_value ORDER BY h.last_ts DESC))[1]
  FROM touched t
  JOIN device_telemetry_hourly h ON h.home_id = t.home_id AND h.device_id = t.device_id AND h.metric = t.metric
   AND h.bucket >= (t.day::timestamp AT TIME ZONE t.tz) AND h.bucket < ((t.day + 1)::timestamp AT TIME ZONE t.tz)
 GROUP BY t.home_id, t.device_id, t.metric, t.day
ON CONFLICT (home_id, device_id, metric, day) DO UPDATE SET {_STATS_UPDATE}
"""


_TELEMETRY_DAILY_RANGE = _telemetry_daily(
    "SELECT home_id, device_id, metric, bucket FROM device_telemetry_hourly WHERE bucket >= :lo AND bucket < :hi"
)
_TELEMETRY_DAILY_CLAIMED = _telemetry_daily(
    "SELECT home_id, device_id, metric, bucket FROM rollup_invalidations WHERE claim = :claim AND source = 't'"
)


# Energy buckets to recompute are first collected as "work" rows (source ``w``) in rollup_invalidations, one per
# bucket: the range's buckets, the invalidated ones, and the bucket of the next reading after each invalidated
# one. Then one statement recomputes them all from raw readings. (Collected in a table rather than a CTE: on a
# cluster the lateral "reading just before" lookup must start from a table to run on the shards.)
_ENERGY_WORK_RANGE = f"""
INSERT INTO rollup_invalidations (home_id, device_id, source, metric, bucket, batch_id, claim)
SELECT DISTINCT home_id, device_id, 'w', '', date_bin('1 hour', ts, {ORIGIN}), CAST(:work AS uuid), CAST(:work AS uuid)
  FROM energy_usage e
 WHERE ts >= :lo AND ts < :hi AND {LIVE.format(alias="e")}
ON CONFLICT DO NOTHING
"""
_ENERGY_WORK_CLAIMED = f"""
INSERT INTO rollup_invalidations (home_id, device_id, source, metric, bucket, batch_id, claim)
SELECT DISTINCT home_id, device_id, 'w', '', bucket, CAST(:work AS uuid), CAST(:work AS uuid)
  FROM rollup_invalidations r
 WHERE claim = :claim AND source = 'e' AND {LIVE.format(alias="r")}
ON CONFLICT DO NOTHING
"""
_ENERGY_WORK_NEXT = f"""
INSERT INTO rollup_invalidations (home_id, device_id, source, metric, bucket, batch_id, claim)
SELECT DISTINCT i.home_id, i.device_id, 'w', '', date_bin('1 hour', n.ts, {ORIGIN}), CAST(:work AS uuid),
       CAST(:work AS uuid)
  FROM rollup_invalidations i
  CROSS JOIN LATERAL (SELECT e.ts FROM energy_usage e
                       WHERE e.home_id = i.home_id AND e.device_id = i.device_id
                         AND e.ts >= i.bucket + interval '1 hour' ORDER BY e.ts LIMIT 1) n
 WHERE i.claim = :claim AND i.source = 'e' AND {LIVE.format(alias="i")}
ON CONFLICT DO NOTHING
"""

_PLAUSIBLE = "(:max_kw * greatest(extract(epoch FROM ts - prev_ts) / 3600.0, :min_hours))"
# The work buckets recomputed from the readings in each and the reading just before it.
_ENERGY_HOURLY = f"""
WITH cur AS (
  SELECT b.home_id, b.device_id, b.bucket, e.ts, e.energy_kwh, false AS is_prev
    FROM rollup_invalidations b
    JOIN energy_usage e ON e.home_id = b.home_id AND e.device_id = b.device_id
                       AND e.ts >= b.bucket AND e.ts < b.bucket + interval '1 hour'
   WHERE b.claim = :work AND b.source = 'w'
),
prev AS (
  SELECT b.home_id, b.device_id, b.bucket, p.ts, p.energy_kwh, true AS is_prev
    FROM rollup_invalidations b
    CROSS JOIN LATERAL (
      SELECT e.ts, e.energy_kwh FROM energy_usage e
       WHERE e.home_id = b.home_id AND e.device_id = b.device_id AND e.ts < b.bucket
       ORDER BY e.ts DESC LIMIT 1) p
   WHERE b.claim = :work AND b.source = 'w'
),
steps AS (
  SELECT r.*, lag(r.energy_kwh) OVER w AS prev_kwh, lag(r.ts) OVER w AS prev_ts
    FROM (SELECT * FROM cur UNION ALL SELECT * FROM prev) r
  WINDOW w AS (PARTITION BY r.home_id, r.device_id, r.bucket ORDER BY r.ts)
),
classified AS (
  SELECT home_id, device_id, bucket, ts, energy_kwh,
         CASE WHEN prev_kwh IS NULL THEN 'first'
              WHEN energy_kwh >= prev_kwh THEN
                CASE WHEN energy_kwh - prev_kwh <= {_PLAUSIBLE} THEN 'ok' ELSE 'rejected' END
              WHEN prev_kwh - energy_kwh <= :jitter THEN 'jitter'
              WHEN energy_kwh <= {_PLAUSIBLE} THEN 'reset'
              ELSE 'rejected_reset' END AS step,
         coalesce(ts - prev_ts > :gap, false) AS gap,
         energy_kwh - prev_kwh AS delta
    FROM steps WHERE NOT is_prev
)
INSERT INTO energy_usage_hourly AS h
       (home_id, device_id, bucket, consumption_kwh, readings, resets, gaps, rejected, last_ts, last_kwh)
SELECT home_id, device_id, bucket,
       coalesce(sum(CASE step WHEN 'ok' THEN delta WHEN 'reset' THEN energy_kwh ELSE 0 END), 0),
       count(*), count(*) FILTER (WHERE step IN ('reset', 'rejected_reset')), count(*) FILTER (WHERE gap),
       count(*) FILTER (WHERE step IN ('rejected', 'rejected_reset')), max(ts),
       (array_agg(energy_kwh ORDER BY ts DESC))[1]
  FROM classified
 GROUP BY home_id, device_id, bucket
ON CONFLICT (home_id, device_id, bucket) DO UPDATE SET {_ENERGY_UPDATE}
"""


def _energy_daily(touched_hours: str) -> str:
    return f"""
WITH touched AS (
  SELECT DISTINCT x.home_id, x.device_id, (x.bucket AT TIME ZONE ho.timezone)::date AS day, ho.timezone AS tz
    FROM ({touched_hours}) x JOIN homes ho ON ho.id = x.home_id
)
INSERT INTO energy_usage_daily AS d
       (home_id, device_id, day, consumption_kwh, readings, resets, gaps, rejected, last_ts, last_kwh)
SELECT t.home_id, t.device_id, t.day, sum(h.consumption_kwh), sum(h.readings), sum(h.resets), sum(h.gaps),
       sum(h.rejected), max(h.last_ts), (array_agg(h.last_kwh ORDER BY h.last_ts DESC))[1]
  FROM touched t
  JOIN energy_usage_hourly h ON h.home_id = t.home_id AND h.device_id = t.device_id
   AND h.bucket >= (t.day::timestamp AT TIME ZONE t.tz) AND h.bucket < ((t.day + 1)::timestamp AT TIME ZONE t.tz)
 GROUP BY t.home_id, t.device_id, t.day
ON CONFLICT (home_id, device_id, day) DO UPDATE SET {_ENERGY_UPDATE}
"""


_ENERGY_DAILY = _energy_daily(
    "SELECT home_id, device_id, bucket FROM rollup_invalidations WHERE claim = :work AND source = 'w'"
)

_SHARE_LOCK = f"SELECT pg_advisory_xact_lock_shared({ROLLUP_LOCK})"
_CLAIM = "UPDATE rollup_invalidations SET claim = :claim WHERE claim IS NULL"
_DELETE_CLAIMED = "DELETE FROM rollup_invalidations WHERE claim = :claim OR claim = :work"
_STATE = "SELECT watermark, threshold FROM telemetry_rollup_state WHERE name = 'hourly'"
_SET_WATERMARK = "UPDATE telemetry_rollup_state SET watermark = :watermark WHERE name = 'hourly'"
_ADVANCE = "SELECT watermark, threshold FROM homeops_telemetry_advance_threshold(:threshold)"


def _energy_params() -> dict[str, Any]:
    return {"max_kw": MAX_POWER_KW, "min_hours": MIN_STEP_HOURS, "jitter": JITTER_KWH, "gap": GAP}


def hour_start(instant: datetime) -> datetime:
    return instant.replace(minute=0, second=0, microsecond=0)


@dataclass
class RollupReport:
    watermark: datetime | None = None
    threshold: datetime | None = None
    hours: int = 0
    invalidations: int = 0
    behind: bool = False
    rows: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, count: int) -> None:
        self.rows[name] = self.rows.get(name, 0) + max(count, 0)


async def _run(session: AsyncSession, sql: str, params: dict[str, Any]) -> int:
    result = await (await session.connection()).execute(text(sql), params)
    return int(result.rowcount or 0)


async def advance(session: AsyncSession, now: datetime) -> tuple[datetime, datetime]:
    """Step 1: the threshold to the start of ``now``'s hour (in the caller's transaction, which must commit
    right after: it holds the exclusive roll-up lock until then). Returns (watermark, threshold)."""
    row = (await session.execute(text(_ADVANCE), {"threshold": hour_start(now)})).one()
    return row.watermark, row.threshold


async def materialize(session: AsyncSession) -> RollupReport:
    """Step 2 in the caller's transaction: the range below the threshold (up to ``MAX_CHUNKS_PER_RUN`` chunks)
    and every invalidation recorded so far, holding the roll-up lock shared (see "Deletions" above)."""
    await _run(session, _SHARE_LOCK, {})
    watermark, threshold = (await session.execute(text(_STATE))).one()
    report = RollupReport(watermark=watermark, threshold=threshold)
    ids = {"claim": uuid.uuid4(), "work": uuid.uuid4()}
    energy_work = 0
    for _ in range(MAX_CHUNKS_PER_RUN):
        if watermark >= threshold:
            break
        hi = min(watermark + CHUNK, threshold)
        window = {"lo": watermark, "hi": hi, **ids}
        report.add("device_telemetry_hourly", await _run(session, _TELEMETRY_HOURLY_RANGE, window))
        report.add("device_telemetry_daily", await _run(session, _TELEMETRY_DAILY_RANGE, window))
        energy_work += await _run(session, _ENERGY_WORK_RANGE, window)
        report.hours += int((hi - watermark) / timedelta(hours=1))
        watermark = hi
        await _run(session, _SET_WATERMARK, {"watermark": watermark})
    report.watermark = watermark
    report.behind = watermark < threshold

    report.invalidations = await _run(session, _CLAIM, ids)
    if report.invalidations:
        report.add("device_telemetry_hourly", await _run(session, _TELEMETRY_HOURLY_CLAIMED, ids))
        report.add("device_telemetry_daily", await _run(session, _TELEMETRY_DAILY_CLAIMED, ids))
        energy_work += await _run(session, _ENERGY_WORK_CLAIMED, ids)
        energy_work += await _run(session, _ENERGY_WORK_NEXT, ids)
    if energy_work:
        params = {**ids, **_energy_params()}
        report.add("energy_usage_hourly", await _run(session, _ENERGY_HOURLY, params))
        report.add("energy_usage_daily", await _run(session, _ENERGY_DAILY, params))
    if report.invalidations or energy_work:
        await _run(session, _DELETE_CLAIMED, ids)
    return report

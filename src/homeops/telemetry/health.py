"""Device health (``device_health_history``): a score per device, computed hourly by the worker from what its
telemetry says, with the factors stored next to the score so that it explains itself.

Devices scored: active ones that have reported at least once (``last_seen_at``), every home in one statement
(on a cluster, one task per shard). Factors, each scored 0–1, weighted, and averaged over those present:

| factor | weight | from | score |
|---|---:|---|---|
| ``freshness`` | 0.4 | ``devices.last_seen_at`` | 1 up to 15 min old, 0.8 up to 1 h, 0.5 up to 6 h, 0.2 up to 24 h, then 0 |
| ``errors`` | 0.3 | ``device_error_logs``, last 24 h | 1 − (5·critical + 2·error + 0.5·warning) / 10, at least 0 |
| ``connectivity`` | 0.2 | ``network_metrics``, last 24 h (only when there are samples) | mean of: RSSI −50 dBm → 1 … −90 → 0; packet loss 0 % → 1 … 20 % → 0; share of samples connected |
| ``battery`` | 0.1 | the newest ``battery`` telemetry of the last 7 days (only when there is one) | 50 % and more → 1 … 5 % → 0 |

``score`` = round(100 × Σ weight·score / Σ weight); ``status`` is ``good`` from 80, ``warning`` from 50, else
``critical``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

WINDOW = timedelta(hours=24)
BATTERY_WINDOW = timedelta(days=7)

_CLAMP = "greatest(0.0, least(1.0, {}))"

_HEALTH = f"""
WITH f AS (
  SELECT d.home_id, d.id AS device_id, d.last_seen_at,
         extract(epoch FROM (:now - d.last_seen_at))::float8 AS age_s,
         coalesce(e.critical, 0) AS critical, coalesce(e.errors, 0) AS errors, coalesce(e.warnings, 0) AS warnings,
         n.samples, n.rssi, n.loss, n.latency, n.connected_share, b.battery
    FROM devices d
    LEFT JOIN LATERAL (
      SELECT count(*) FILTER (WHERE severity = 'critical') AS critical,
             count(*) FILTER (WHERE severity = 'error') AS errors,
             count(*) FILTER (WHERE severity = 'warning') AS warnings
        FROM device_error_logs l
       WHERE l.home_id = d.home_id AND l.device_id = d.id AND l.ts >= :since AND l.ts < :now) e ON true
    LEFT JOIN LATERAL (
      SELECT count(*) AS samples, avg(m.rssi_dbm)::float8 AS rssi, avg(m.packet_loss_pct)::float8 AS loss,
             avg(m.latency_ms)::float8 AS latency,
             (count(*) FILTER (WHERE m.connected IS NOT FALSE))::float8 / nullif(count(*), 0) AS connected_share
        FROM network_metrics m
       WHERE m.home_id = d.home_id AND m.device_id = d.id AND m.ts >= :since AND m.ts < :now) n ON true
    LEFT JOIN LATERAL (
      SELECT t.value AS battery FROM device_telemetry t
       WHERE t.home_id = d.home_id AND t.device_id = d.id AND t.metric = 'battery'
         AND t.ts >= :battery_since AND t.ts <= :now
       ORDER BY t.ts DESC LIMIT 1) b ON true
   WHERE d.status = 'active' AND d.last_seen_at IS NOT NULL
),
s AS (
  SELECT f.*,
         CASE WHEN age_s <= 900 THEN 1.0 WHEN age_s <= 3600 THEN 0.8 WHEN age_s <= 21600 THEN 0.5
              WHEN age_s <= 86400 THEN 0.2 ELSE 0.0 END AS s_fresh,
         {_CLAMP.format("1.0 - (5 * critical + 2 * errors + 0.5 * warnings) / 10.0")} AS s_errors,
         CASE WHEN coalesce(samples, 0) = 0 THEN NULL ELSE (
           coalesce({_CLAMP.format("(rssi + 90) / 40.0")}, 1.0) + coalesce({_CLAMP.format("1.0 - loss / 20.0")}, 1.0)
           + coalesce(connected_share, 1.0)) / 3.0 END AS s_conn,
         CASE WHEN battery IS NULL THEN NULL ELSE {_CLAMP.format("(battery - 5) / 45.0")} END AS s_batt
    FROM f
),
scored AS (
  SELECT s.*, round(100 * (0.4 * s_fresh + 0.3 * s_errors + 0.2 * coalesce(s_conn, 0) + 0.1 * coalesce(s_batt, 0))
                / (0.7 + CASE WHEN s_conn IS NULL THEN 0 ELSE 0.2 END
                       + CASE WHEN s_batt IS NULL THEN 0 ELSE 0.1 END))::smallint AS score
    FROM s
)
INSERT INTO device_health_history (home_id, device_id, ts, score, status, factors)
SELECT home_id, device_id, :now, score,
       CASE WHEN score >= 80 THEN 'good' WHEN score >= 50 THEN 'warning' ELSE 'critical' END,
       jsonb_strip_nulls(jsonb_build_object(
         'freshness', jsonb_build_object('score', round(s_fresh::numeric, 3), 'weight', 0.4,
                                         'last_seen_at', last_seen_at, 'age_seconds', round(age_s::numeric)),
         'errors', jsonb_build_object('score', round(s_errors::numeric, 3), 'weight', 0.3, 'window_hours', 24,
                                      'critical', critical, 'error', errors, 'warning', warnings),
         'connectivity', CASE WHEN s_conn IS NULL THEN NULL ELSE jsonb_build_object(
                           'score', round(s_conn::numeric, 3), 'weight', 0.2, 'samples', samples,
                           'rssi_dbm', round(rssi::numeric, 1), 'packet_loss_pct', round(loss::numeric, 2),
                           'latency_ms', round(latency::numeric, 1),
                           'connected_share', round(connected_share::numeric, 3)) END,
         'battery', CASE WHEN s_batt IS NULL THEN NULL ELSE jsonb_build_object(
                      'score', round(s_batt::numeric, 3), 'weight', 0.1, 'percent', battery) END))
  FROM scored
ON CONFLICT (home_id, device_id, ts) DO NOTHING
"""


async def compute_health(session: AsyncSession, now: datetime) -> int:
    """Scores every reporting device as of ``now`` (one row each); returns how many."""
    params = {"now": now, "since": now - WINDOW, "battery_since": now - BATTERY_WINDOW}
    result = await (await session.connection()).execute(text(_HEALTH), params)
    return int(result.rowcount or 0)

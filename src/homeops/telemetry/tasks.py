"""The telemetry domain's background jobs (the worker role, acting for no tenant; docs/security.md lists their
access):

| job | every | does |
|---|---|---|
| ``telemetry.rollup`` | minute | advances the invalidation threshold (a short transaction holding the roll-up lock) and queues ``telemetry.materialize`` |
| ``telemetry.materialize`` | queued by the above | aggregates the hours below the threshold and re-aggregates the invalidated buckets (``rollups``) |
| ``telemetry.partitions`` | hour | makes the partitions of the coming days, months and years (``homeops_telemetry_ensure_partitions``) |
| ``telemetry.presence`` | 5 minutes | devices silent for ``OFFLINE_AFTER`` go offline (``homeops_telemetry_mark_offline``) |
| ``telemetry.health`` | hour | a health score per reporting device (``health``) |
| ``telemetry.purge`` | queued by a large home's deletion | deletes the deleted home's series partition by partition, in batches (``homeops_telemetry_purge``) |

Retention (dropping whole partitions) runs with the other retention rules (``homeops.retention``, daily and
``homeops retention run``) through ``homeops.telemetry.retention``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from homeops.core.jobs import JobContext, enqueue, registry
from homeops.telemetry.health import compute_health
from homeops.telemetry.rollups import advance, materialize

log = logging.getLogger(__name__)

ROLLUP = "telemetry.rollup"
MATERIALIZE = "telemetry.materialize"
PARTITIONS = "telemetry.partitions"
PRESENCE = "telemetry.presence"
HEALTH = "telemetry.health"
PURGE = "telemetry.purge"
PURGE_BATCH_ROWS = 200_000
OFFLINE_AFTER = timedelta(minutes=15)


@registry.periodic(ROLLUP, every_seconds=60)
async def rollup_task(job: JobContext, payload: dict[str, Any]) -> None:
    await advance(job.session, job.runtime.clock.now())
    # Queued every time: invalidations may be waiting even when no hour was completed.
    await enqueue(job.session, MATERIALIZE, {}, dedupe_key=MATERIALIZE)


@registry.task(MATERIALIZE, max_attempts=3)
async def materialize_task(job: JobContext, payload: dict[str, Any]) -> None:
    report = await materialize(job.session)
    if report.hours or report.invalidations:
        log.info(
            "telemetry roll-ups",
            extra={"hours": report.hours, "invalidations": report.invalidations, "rows": report.rows},
        )


@registry.periodic(PARTITIONS, every_seconds=3600)
async def partitions_task(job: JobContext, payload: dict[str, Any]) -> None:
    made = await job.session.scalar(
        text("SELECT homeops_telemetry_ensure_partitions(:now)"), {"now": job.runtime.clock.now()}
    )
    if made:
        log.info("telemetry partitions made", extra={"partitions": made})


@registry.periodic(PRESENCE, every_seconds=300)
async def presence_task(job: JobContext, payload: dict[str, Any]) -> None:
    before = job.runtime.clock.now() - OFFLINE_AFTER
    await job.session.scalar(text("SELECT homeops_telemetry_mark_offline(:before)"), {"before": before})


@registry.periodic(HEALTH, every_seconds=3600)
async def health_task(job: JobContext, payload: dict[str, Any]) -> None:
    await compute_health(job.session, job.runtime.clock.now())


@registry.task(PURGE, max_attempts=10)
async def purge_task(job: JobContext, payload: dict[str, Any]) -> None:
    """Deletes the series of a deleted home (or device), about ``PURGE_BATCH_ROWS`` rows per job: each job
    deletes the home's rows partition by partition and queues the next from where it stopped (short
    transactions, each committed with its job). ``homeops_telemetry_purge`` refuses while the home exists."""
    row = (
        await job.session.execute(
            text(
                "SELECT next_after, deleted FROM homeops_telemetry_purge("
                "CAST(:home AS uuid), CAST(:device AS uuid), CAST(:after AS text), CAST(:rows AS bigint))"
            ),
            {
                "home": payload["home_id"],
                "device": payload.get("device_id"),
                "after": payload.get("after"),
                "rows": PURGE_BATCH_ROWS,
            },
        )
    ).one()
    next_after, deleted = row
    log.info("telemetry purge", extra={"home_id": payload["home_id"], "rows": deleted, "after": next_after})
    if next_after is not None:
        await enqueue(job.session, PURGE, {**payload, "after": next_after})

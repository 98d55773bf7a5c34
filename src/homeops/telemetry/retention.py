"""Telemetry retention (seed 004: raw 90 days, hourly roll-ups 2 years, daily 7 years — ``system_settings``
``retention.telemetry_*_days``): whole time partitions are dropped, never rows deleted one by one.

``homeops_telemetry_drop_partitions`` (``SECURITY DEFINER``: partition DDL needs the owner; executable by the
worker) reads the windows itself, keeps every roll-up at least as long as what it summarizes, and with
``dry_run`` only lists what it would drop. The daily retention job and ``homeops retention run`` call it
(``homeops.retention``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

REPORT_LINE = "telemetry_partitions_dropped"


async def drop_expired_partitions(session: AsyncSession, now: datetime, *, dry_run: bool) -> list[str]:
    """The partitions (``table_pYYYYMMDD``) whose whole range is past their table's window: dropped, or with
    ``dry_run`` only named."""
    result = await session.execute(
        text("SELECT partition_name FROM homeops_telemetry_drop_partitions(:now, :dry)"),
        {"now": now, "dry": dry_run},
    )
    return [str(name) for (name,) in result.all()]

"""What the telemetry domain does when lower domains report something (declared in ``telemetry/domain.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import delete, text

from homeops.core.events import DomainEvent, Handler
from homeops.core.jobs import enqueue
from homeops.core.uow import UnitOfWork
from homeops.devices.events import DeviceRemoved
from homeops.homes.events import HomeRemoved
from homeops.telemetry.models import (
    DeviceErrorLog,
    DeviceHealth,
    DeviceState,
    DeviceTelemetry,
    EnergyDaily,
    EnergyHourly,
    EnergyUsage,
    IngestToken,
    NetworkMetric,
    TelemetryDaily,
    TelemetryHourly,
)
from homeops.telemetry.rollups import ROLLUP_LOCK
from homeops.telemetry.tasks import PURGE

_SERIES = (
    DeviceTelemetry,
    TelemetryHourly,
    TelemetryDaily,
    DeviceState,
    EnergyUsage,
    EnergyHourly,
    EnergyDaily,
    DeviceErrorLog,
    NetworkMetric,
    DeviceHealth,
)
# Taken before a deletion touches anything: it waits for the ingest batches and roll-up runs in flight, and
# those after it wait for its commit (then find no token and no device). See ``rollups`` ("Deletions").
_EXCLUSIVE_LOCK = text(f"SELECT pg_advisory_xact_lock({ROLLUP_LOCK})")


async def on_device_removed(uow: UnitOfWork, event: DeviceRemoved) -> None:
    """A device is being deleted: its tokens and every series of it go too (in the deletion's transaction,
    under the member's identity; there is no foreign key to cascade, see ``telemetry.models``)."""
    await uow.session.execute(_EXCLUSIVE_LOCK)
    await uow.session.execute(
        delete(IngestToken).where(
            IngestToken.home_id == event.home_id, IngestToken.device_id == event.device_id
        )
    )
    for model in _SERIES:
        await uow.session.execute(
            delete(model).where(model.home_id == event.home_id, model.device_id == event.device_id)
        )


# Above this many rows a deleted home's series go in the background (``telemetry.purge``): deleting runs at
# roughly 460,000 rows a second, so a home at benchmark scale (26 million rows) would hold its DELETE request
# for a minute.
BACKGROUND_PURGE_ROWS = 200_000
_PROBE = (
    "SELECT count(*) FROM ("
    + " UNION ALL ".join(f"SELECT 1 FROM {m.__tablename__} WHERE home_id = :home" for m in _SERIES)
    + " LIMIT :n) s"
)


async def _purge_in_background(uow: UnitOfWork, home_id: uuid.UUID) -> bool:
    """Whether the home holds at least ``BACKGROUND_PURGE_ROWS`` rows (a bounded probe: it stops there)."""
    n = BACKGROUND_PURGE_ROWS
    return bool(await uow.session.scalar(text(_PROBE), {"home": home_id, "n": n}) >= n)


async def on_home_removed(uow: UnitOfWork, event: HomeRemoved) -> None:
    """A home is being deleted: every series of every device it had goes too, raw rows, roll-ups, energy,
    states, error logs, network samples and health scores (the tokens cascade with the home).

    A small home's series go in the deletion's transaction, under the owner's identity, before the home's row
    and memberships go: one ``DELETE`` per table naming the home (each partition's primary key leads with
    ``home_id``; on a cluster a single-shard statement). A large one's are left to ``telemetry.purge``, queued
    in the same transaction (an outbox): until it has run they are invisible (no member is left to read them).
    Either way under the exclusive roll-up lock, so that no roll-up run re-creates a row of the home."""
    await uow.session.execute(_EXCLUSIVE_LOCK)
    if await _purge_in_background(uow, event.home_id):
        await enqueue(
            uow.session, PURGE, {"home_id": str(event.home_id)}, dedupe_key=f"{PURGE}:{event.home_id}"
        )
        return
    for model in _SERIES:
        await uow.session.execute(delete(model).where(model.home_id == event.home_id))


SUBSCRIPTIONS: Mapping[type[DomainEvent], Sequence[Handler]] = {
    DeviceRemoved: [on_device_removed],
    HomeRemoved: [on_home_removed],
}

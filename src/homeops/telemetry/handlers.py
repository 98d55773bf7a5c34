"""What the telemetry domain does when lower domains report something (declared in ``telemetry/domain.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete

from homeops.core.events import DomainEvent, Handler
from homeops.core.uow import UnitOfWork
from homeops.devices.events import DeviceRemoved
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


async def on_device_removed(uow: UnitOfWork, event: DeviceRemoved) -> None:
    """A device is being deleted: its tokens and every series of it go too (in the deletion's transaction,
    under the member's identity; there is no foreign key to cascade, see ``telemetry.models``)."""
    await uow.session.execute(
        delete(IngestToken).where(
            IngestToken.home_id == event.home_id, IngestToken.device_id == event.device_id
        )
    )
    for model in _SERIES:
        await uow.session.execute(
            delete(model).where(model.home_id == event.home_id, model.device_id == event.device_id)
        )


SUBSCRIPTIONS: Mapping[type[DomainEvent], Sequence[Handler]] = {DeviceRemoved: [on_device_removed]}

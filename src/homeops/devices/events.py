"""Facts the devices domain publishes (``await uow.publish(...)``); higher domains subscribe in their
``handlers.py``. Handlers run inside the device's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from homeops.core.events import DomainEvent


@dataclass(frozen=True)
class DeviceCreated(DomainEvent):
    """A device was registered in a home (published after its row, its catalog link and its manual links
    exist). Maintenance subscribes: a device of a catalog model gets the model's template schedules.

    ``effects`` is how subscribers report what they did, for the creation's audit entry: a handler adds
    ``effects["<what>"] = <count>`` (maintenance: ``"maintenance_schedules"``); the device service merges it
    into ``new_values`` of the ``device_created`` audit row."""

    device_id: uuid.UUID
    home_id: uuid.UUID
    model_id: uuid.UUID | None
    manufacturer: str | None = None
    model_number: str | None = None
    effects: dict[str, int] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class DeviceRemoved(DomainEvent):
    """Published inside the deletion of a device, before its row goes: subscribers detach what points at it
    without a cascading foreign key (a cluster cannot ``ON DELETE SET NULL`` a key that contains the home)."""

    home_id: uuid.UUID
    device_id: uuid.UUID

"""Facts the homes domain publishes (see ``homeops.core.events``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from homeops.core.events import DomainEvent


@dataclass(frozen=True)
class RoomRemoved(DomainEvent):
    """Published inside the removal of a room, before its row goes: subscribers detach what points at it
    (a cluster cannot ``ON DELETE SET NULL`` a key that contains the tenant key, so no foreign key does it)."""

    home_id: uuid.UUID
    room_id: uuid.UUID


@dataclass(frozen=True)
class HomeRemoved(DomainEvent):
    """Published inside the deletion of a home, before its row goes (while the owner's identity still names
    the home): subscribers remove what belongs to the home without a cascading foreign key (the telemetry
    series are partitioned and distributed by ``home_id``; no foreign key points from them to the home)."""

    home_id: uuid.UUID

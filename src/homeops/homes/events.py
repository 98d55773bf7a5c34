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

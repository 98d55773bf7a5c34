"""What the devices domain does when lower domains report something (declared in ``devices/domain.py``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from homeops.core.events import DomainEvent, Handler
from homeops.core.uow import UnitOfWork
from homeops.devices.links import LinkRepository
from homeops.devices.repository import DeviceRepository
from homeops.homes.events import RoomRemoved
from homeops.manuals.events import ManualReady

log = logging.getLogger(__name__)


async def on_manual_ready(uow: UnitOfWork, event: ManualReady) -> None:
    """A manual became ready (or joined the shared library): link it to every matching device (same
    manufacturer, one of its model numbers) of its home — a household upload — or of every home, in the
    processing job's transaction (the system acts: it crosses homes)."""
    linked = await LinkRepository(uow.session).auto_link_manual(
        event.manual_id, event.brand, event.model_numbers, event.home_id
    )
    log.info(
        "manual linked to devices",
        extra={"manual_id": str(event.manual_id), "home_id": str(event.home_id), "linked": linked},
    )


async def on_room_removed(uow: UnitOfWork, event: RoomRemoved) -> None:
    """A room is being removed: its devices stay in the home, in no room (before the room row goes, in the
    same transaction; the foreign key carries home_id, so the database cannot ``SET NULL`` it)."""
    await DeviceRepository(uow.session).detach_room(event.home_id, event.room_id)


SUBSCRIPTIONS: Mapping[type[DomainEvent], Sequence[Handler]] = {
    ManualReady: [on_manual_ready],
    RoomRemoved: [on_room_removed],
}

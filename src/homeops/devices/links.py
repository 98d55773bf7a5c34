"""A device's links to the manual library (``device_manuals``, 000 appliance_manuals): seed 000 Query 2,
manual linking and unlinking, auto-linking in both directions, and the moderation queue's link counts.

The links belong to the devices domain (a device is linked to a manual, not the other way round): the
manual library (``homeops.manuals``) knows nothing of devices. When a manual becomes ready (or joins the shared
library), the library publishes ``ManualReady`` and ``devices.handlers`` links it here.

A device is linked only to manuals of its home's library: the shared library and that home's own uploads
(``homeops.manuals.repository.in_library_of``) — auto-linking picks them so, a manual link is checked so, and
Query 2 shows nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, UUID, and_, any_, bindparam, delete, func, literal, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from homeops.core.database import CompiledQuery, driver_connection, rows_affected
from homeops.core.repository import Repository
from homeops.devices.models import Device, DeviceManual
from homeops.devices.repository import in_homes
from homeops.manuals.models import Manual
from homeops.manuals.repository import (
    MANUAL_OUT_COLUMNS,
    MANUAL_TYPE_ORDER,
    in_library_of,
    normalise_model_number,
)

_CONFLICT = ["home_id", "device_id", "manual_id"]  # the primary key (distribution column first)
_LINK_OF_DEVICE = and_(DeviceManual.home_id == Device.home_id, DeviceManual.device_id == Device.id)


def _query_2(narrow: Any = None) -> CompiledQuery:
    stmt = (
        select(
            Device.home_id.label("device_home_id"),
            *MANUAL_OUT_COLUMNS,
            DeviceManual.auto_linked,
            DeviceManual.linked_at,
        )
        .select_from(Device)
        .outerjoin(DeviceManual, _LINK_OF_DEVICE)
        .outerjoin(Manual, and_(Manual.id == DeviceManual.manual_id, in_library_of(Device.home_id)))
        .where(Device.id == bindparam("device_id", type_=UUID(as_uuid=True)))
        .order_by(MANUAL_TYPE_ORDER, Manual.created_at)
    )
    return CompiledQuery(stmt.where(narrow) if narrow is not None else stmt)


# One home (a single-shard query), several homes (= ANY of an array), or any home (platform admins).
_QUERY_2_ONE_HOME = _query_2(Device.home_id == bindparam("home_id", type_=UUID(as_uuid=True)))
_QUERY_2_HOMES = _query_2(Device.home_id == any_(bindparam("home_ids", type_=ARRAY(UUID(as_uuid=True)))))
_QUERY_2_ANY_HOME = _query_2()


class LinkRepository(Repository[DeviceManual]):
    """``device_manuals`` rows (key: home_id + device_id + manual_id; the inherited ``get``/``delete_by_id`` do
    not apply to this table). Reads name the device's home (or the caller's homes), so a cluster routes them
    to one shard."""

    model = DeviceManual

    # --- reads --------------------------------------------------------------------------------------
    async def manuals_for_device(
        self, device_id: uuid.UUID, home_id: uuid.UUID | None = None
    ) -> list[tuple[Manual, DeviceManual]]:
        """Seed 000 Query 2 as entities: a device's manuals, user → troubleshooting → installation →
        service → other (row security decides which devices are visible; give ``home_id`` when known)."""
        stmt = (
            select(Manual, DeviceManual)
            .join(DeviceManual, DeviceManual.manual_id == Manual.id)
            .where(DeviceManual.device_id == device_id, in_library_of(DeviceManual.home_id))
            .order_by(MANUAL_TYPE_ORDER, Manual.created_at)
        )
        if home_id is not None:
            stmt = stmt.where(DeviceManual.home_id == home_id)
        rows = await self.session.execute(stmt)
        return [(m, link) for m, link in rows.all()]

    async def manual_ids_for_device(
        self, device_id: uuid.UUID, home_id: uuid.UUID | None = None
    ) -> list[uuid.UUID]:
        """The ids of the device's linked manuals (the passage search applies the visibility rule to them).
        Give the device's ``home_id`` whenever it is known (one shard on a cluster); without it every home
        row security shows is searched."""
        stmt = select(DeviceManual.manual_id).where(DeviceManual.device_id == device_id)
        if home_id is not None:
            stmt = stmt.where(DeviceManual.home_id == home_id)
        return list(await self.session.scalars(stmt))

    async def device_manuals(
        self, device_id: uuid.UUID, home_ids: Sequence[uuid.UUID] | None
    ) -> list[dict[str, Any]] | None:
        """Seed 000 Query 2 with the device's visibility in the same statement: the device's home
        (``device_home_id``) and, per linked manual, the ``ManualOut`` columns plus ``auto_linked`` and
        ``linked_at`` in Query 2's order. A device without manuals gives one row of nulls; None when the
        device is not in ``home_ids`` (None: any home row security shows). Compiled once (a hot read)."""
        driver = await driver_connection(self.session)
        if home_ids is None:
            rows = await _QUERY_2_ANY_HOME.all(driver, device_id=device_id)
        elif len(home_ids) == 1:
            rows = await _QUERY_2_ONE_HOME.all(driver, device_id=device_id, home_id=home_ids[0])
        else:
            rows = await _QUERY_2_HOMES.all(driver, device_id=device_id, home_ids=list(home_ids))
        return rows or None

    async def device_scope(
        self, device_id: uuid.UUID, home_ids: Sequence[uuid.UUID] | None
    ) -> tuple[uuid.UUID, list[uuid.UUID]] | None:
        """The device's home and the ids of its manuals, in one statement; None when the device is not in
        ``home_ids`` (None: any home row security shows)."""
        stmt = (
            select(Device.home_id, DeviceManual.manual_id)
            .select_from(Device)
            .outerjoin(DeviceManual, _LINK_OF_DEVICE)
            .where(Device.id == device_id)
        )
        if (narrowed := in_homes(Device.home_id, home_ids)) is not None:
            stmt = stmt.where(narrowed)
        rows = (await self.session.execute(stmt)).all()
        if not rows:
            return None
        return rows[0][0], [manual_id for _, manual_id in rows if manual_id is not None]

    # --- writes -------------------------------------------------------------------------------------
    async def link(
        self,
        device_id: uuid.UUID,
        manual_id: uuid.UUID,
        home_id: uuid.UUID,
        user_id: uuid.UUID | None,
        auto: bool,
    ) -> bool:
        """Links the manual to the device; False when it already was."""
        stmt = (
            pg_insert(DeviceManual)
            .values(
                device_id=device_id, manual_id=manual_id, home_id=home_id, linked_by=user_id, auto_linked=auto
            )
            .on_conflict_do_nothing(index_elements=_CONFLICT)
            .returning(DeviceManual.manual_id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def unlink(self, device_id: uuid.UUID, manual_id: uuid.UUID, home_id: uuid.UUID) -> int:
        return await rows_affected(
            self.session,
            delete(DeviceManual).where(
                DeviceManual.home_id == home_id,
                DeviceManual.device_id == device_id,
                DeviceManual.manual_id == manual_id,
            ),
        )

    async def auto_link_device(
        self, device_id: uuid.UUID, home_id: uuid.UUID, manufacturer: str, model_number: str
    ) -> int:
        """Links a device to every manual of its manufacturer that lists its model number (failed manuals
        excepted) in its home's library — shared, or that home's own upload (``homeops_manuals_for_model``:
        the GIN index on ``model_numbers``); returns how many links were made. One statement."""
        matches = (
            func.homeops_manuals_for_model(
                manufacturer,
                normalise_model_number(model_number),
                literal([home_id], ARRAY(UUID(as_uuid=True))),
            )
            .table_valued("manual_id")
            .render_derived()
        )
        rows = select(literal(home_id), literal(device_id), matches.c.manual_id, literal(True))
        stmt = (
            pg_insert(DeviceManual)
            .from_select(["home_id", "device_id", "manual_id", "auto_linked"], rows)
            .on_conflict_do_nothing(index_elements=_CONFLICT)
        )
        return await rows_affected(self.session, stmt)

    async def auto_link_manual(
        self,
        manual_id: uuid.UUID,
        manufacturer: str,
        model_numbers: Sequence[str],
        home_id: uuid.UUID | None,
    ) -> int:
        """Links a manual to every matching device of ``home_id`` (a household upload: that home's shard), or
        of every home (``None``: a shared manual; the system only — it crosses tenants; on a cluster a
        co-located INSERT … SELECT on every shard); ``model_numbers`` are the manual's normalised (upper-cased)
        model numbers."""
        matches = select(Device.home_id, Device.id, literal(manual_id), literal(True)).where(
            func.lower(Device.manufacturer_name) == manufacturer.strip().lower(),
            func.upper(Device.model_number).in_(list(model_numbers)),
        )
        if home_id is not None:
            matches = matches.where(Device.home_id == home_id)
        stmt = (
            pg_insert(DeviceManual)
            .from_select(["home_id", "device_id", "manual_id", "auto_linked"], matches)
            .on_conflict_do_nothing(index_elements=_CONFLICT)
        )
        return await rows_affected(self.session, stmt)

    async def in_home_library(self, manual_id: uuid.UUID, home_id: uuid.UUID) -> bool:
        """Whether the (visible) manual belongs to the library of ``home_id``: shared or its own upload."""
        found = await self.session.scalar(
            select(literal(1)).where(Manual.id == manual_id, in_library_of(home_id))
        )
        return found is not None

    # --- the moderation queue -----------------------------------------------------------------------
    async def moderation_queue(
        self, *, most_linked: bool, after: tuple[int, datetime, uuid.UUID] | None, limit: int
    ) -> list[dict[str, Any]]:
        """``homeops_manual_queue``: the manuals waiting for a moderator with their link counts across
        homes (moderators only; the function answers nobody else), ``limit + 1`` rows."""
        rows = await self.session.execute(
            text(
                "SELECT manual_id, links, open_reports, last_reported_at, created_at "
                "FROM homeops_manual_queue(:most_linked, :links, :created, :id, :limit)"
            ),
            {
                "most_linked": most_linked,
                "links": after[0] if after else None,
                "created": after[1] if after else None,
                "id": after[2] if after else None,
                "limit": limit + 1,
            },
        )
        return [dict(r._mapping) for r in rows.all()]

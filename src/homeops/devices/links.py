"""A device's links to the shared manual library (``device_manuals``, 000 appliance_manuals): seed 000
Query 2, manual linking and unlinking, and auto-linking in both directions.

The links belong to the devices domain (a device is linked to a manual, not the other way round): the
manual library (``homeops.manuals``) knows nothing of devices. When a manual becomes ready, the library
publishes ``ManualReady`` and ``devices.handlers`` links it here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, UUID, and_, any_, bindparam, delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from homeops.core.database import CompiledQuery, driver_connection, rows_affected
from homeops.core.repository import Repository
from homeops.devices.models import Device, DeviceManual
from homeops.devices.repository import in_homes
from homeops.manuals.models import Manual, ManualStatus
from homeops.manuals.repository import MANUAL_OUT_COLUMNS, MANUAL_TYPE_ORDER, normalise_model_number

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
        .outerjoin(Manual, Manual.id == DeviceManual.manual_id)
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
            .where(DeviceManual.device_id == device_id)
            .order_by(MANUAL_TYPE_ORDER, Manual.created_at)
        )
        if home_id is not None:
            stmt = stmt.where(DeviceManual.home_id == home_id)
        rows = await self.session.execute(stmt)
        return [(m, link) for m, link in rows.all()]

    async def manual_ids_for_device(
        self, device_id: uuid.UUID, home_id: uuid.UUID | None = None
    ) -> list[uuid.UUID]:
        """The ids of the device's manuals. Give the device's ``home_id`` whenever it is known (one shard on a
        cluster); without it every home row security shows is searched."""
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
        excepted); returns how many links were made."""
        matches = select(
            literal(home_id).label("home_id"), literal(device_id).label("device_id"), Manual.id, literal(True)
        ).where(
            func.lower(Manual.brand) == manufacturer.strip().lower(),
            Manual.model_numbers.contains([normalise_model_number(model_number)]),
            Manual.status != ManualStatus.failed,
        )
        stmt = (
            pg_insert(DeviceManual)
            .from_select(["home_id", "device_id", "manual_id", "auto_linked"], matches)
            .on_conflict_do_nothing(index_elements=_CONFLICT)
        )
        return await rows_affected(self.session, stmt)

    async def auto_link_manual(
        self, manual_id: uuid.UUID, manufacturer: str, model_numbers: Sequence[str]
    ) -> int:
        """Links a manual to every matching device in every home (the system only: it crosses tenants; on a
        cluster a co-located INSERT … SELECT on every shard); ``model_numbers`` are the manual's normalised
        (upper-cased) model numbers."""
        matches = select(Device.home_id, Device.id, literal(manual_id), literal(True)).where(
            func.lower(Device.manufacturer_name) == manufacturer.strip().lower(),
            func.upper(Device.model_number).in_(list(model_numbers)),
        )
        stmt = (
            pg_insert(DeviceManual)
            .from_select(["home_id", "device_id", "manual_id", "auto_linked"], matches)
            .on_conflict_do_nothing(index_elements=_CONFLICT)
        )
        return await rows_affected(self.session, stmt)

"""Every device query. Row security decides what is visible; every read names the homes it is about (the
caller's homes as the actor carries them, ``home_id IN (:homes)``, or one exact home), so a cluster routes it
to their shards; writes and deletes go by the full key ``(home_id, id)``. Joins between the home-keyed tables
include ``home_id`` (co-located on a cluster). The hot reads select the columns the response needs (Core rows,
no entities)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    UUID,
    ColumnElement,
    DateTime,
    Integer,
    Row,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    distinct,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)

from homeops.core.database import CompiledQuery, driver_connection, rows_affected
from homeops.core.repository import Repository
from homeops.devices.models import Device, DeviceGroup, DeviceGroupMember, DeviceManual, DeviceStatus
from homeops.homes.models import Home, Room
from homeops.manuals.models import Manual
from homeops.manuals.repository import in_library_of

# What DeviceOut is built from: every device column but the serial's blind index.
_DEVICE_COLUMNS = tuple(c for c in Device.__table__.c if c.key != "serial_number_index")


def in_homes(column: Any, home_ids: Sequence[uuid.UUID] | None) -> ColumnElement[bool] | None:
    """``column`` restricted to ``home_ids`` (``= :id`` for one home); None (no restriction) for None."""
    if home_ids is None:
        return None
    ids = list(home_ids)
    return column == ids[0] if len(ids) == 1 else column.in_(ids)  # type: ignore[no-any-return]


# A device's manuals: its links to manuals of its home's library (shared, or that home's own upload; never a
# hidden one). manual_count counts the manuals (row security hides what the caller may not see), not the links.
_MANUAL_OF_LINK = and_(Manual.id == DeviceManual.manual_id, in_library_of(Device.home_id))


def _with_manual_summary() -> Select[Any]:
    """Seed 000 Query 1's shape: each device's columns with manual_count and its distinct manual types, one
    statement."""
    types = func.coalesce(
        func.array_agg(distinct(Manual.manual_type)).filter(Manual.id.is_not(None)),
        literal_column("'{}'::manual_type[]"),
    )
    return (
        select(
            *_DEVICE_COLUMNS,
            func.count(Manual.id).label("manual_count"),
            types.label("manual_types"),
        )
        .select_from(Device)
        .outerjoin(
            DeviceManual, and_(DeviceManual.home_id == Device.home_id, DeviceManual.device_id == Device.id)
        )
        .outerjoin(Manual, _MANUAL_OF_LINK)
        .group_by(Device.home_id, Device.id)
    )


_UUID = UUID(as_uuid=True)


@lru_cache(maxsize=128)
def _query_1(
    one_home: bool, status: bool, category: bool, serial: bool, room: bool, after: bool, text: bool = False
) -> CompiledQuery:
    """Query 1 for one combination of filters (the manual types as text[]: the driver reads them directly)."""
    types = func.coalesce(
        func.array_agg(distinct(cast(Manual.manual_type, Text))).filter(Manual.id.is_not(None)),
        literal_column("'{}'::text[]"),
    )
    stmt = (
        select(
            *_DEVICE_COLUMNS,
            func.count(Manual.id).label("manual_count"),
            types.label("manual_types"),
        )
        .select_from(Device)
        .outerjoin(
            DeviceManual, and_(DeviceManual.home_id == Device.home_id, DeviceManual.device_id == Device.id)
        )
        .outerjoin(Manual, _MANUAL_OF_LINK)
        .group_by(Device.home_id, Device.id)
        .order_by(Device.created_at.desc(), Device.id.desc())
        .limit(bindparam("limit", type_=Integer))
    )
    if one_home:
        stmt = stmt.where(Device.home_id == bindparam("home_id", type_=_UUID))
    else:
        stmt = stmt.where(Device.home_id == any_(bindparam("home_ids", type_=ARRAY(_UUID))))
    if status:
        stmt = stmt.where(Device.status == bindparam("status"))
    if category:
        stmt = stmt.where(Device.category_code == bindparam("category", type_=Text))
    if serial:
        stmt = stmt.where(Device.serial_number_index == bindparam("serial_index", type_=Text))
    if room:
        stmt = stmt.where(Device.room_id == bindparam("room_id", type_=_UUID))
    if text:
        pattern = bindparam("text_pattern", type_=Text)
        stmt = stmt.where(
            or_(
                Device.nickname.ilike(pattern, escape="\\"),
                Device.manufacturer_name.ilike(pattern, escape="\\"),
                Device.model_number.ilike(pattern, escape="\\"),
            )
        )
    if after:
        stmt = stmt.where(
            tuple_(Device.created_at, Device.id)
            < tuple_(
                bindparam("after_created", type_=DateTime(timezone=True)), bindparam("after_id", type_=_UUID)
            )
        )
    return CompiledQuery(stmt)


class DeviceRepository(Repository[Device]):
    model = Device

    async def get(self, device_id: uuid.UUID, home_id: uuid.UUID | None = None) -> Device | None:
        """The device if visible, loaded fresh. Give its ``home_id`` whenever it is known (a single-shard read
        on a cluster, by the primary key); without it every home row security shows is searched."""
        stmt = select(Device).where(Device.id == device_id)
        if home_id is not None:
            stmt = stmt.where(Device.home_id == home_id)
        return await self.session.scalar(stmt.execution_options(populate_existing=True))

    async def delete_in_home(self, home_id: uuid.UUID, device_id: uuid.UUID) -> int:
        return await rows_affected(
            self.session, delete(Device).where(Device.home_id == home_id, Device.id == device_id)
        )

    async def clear_replacement_links(self, home_id: uuid.UUID, device_id: uuid.UUID) -> int:
        """The other devices of the home forget ``device_id`` as what they replace or were replaced by (before it
        is deleted: the foreign keys carry home_id, so the database cannot ``SET NULL`` them), one statement."""
        target = literal(device_id)
        return await rows_affected(
            self.session,
            update(Device)
            .where(
                Device.home_id == home_id,
                or_(Device.replaces_device_id == target, Device.replaced_by_device_id == target),
            )
            .values(
                replaces_device_id=case(
                    (Device.replaces_device_id == target, None), else_=Device.replaces_device_id
                ),
                replaced_by_device_id=case(
                    (Device.replaced_by_device_id == target, None), else_=Device.replaced_by_device_id
                ),
            ),
        )

    async def detach_room(self, home_id: uuid.UUID, room_id: uuid.UUID) -> int:
        """The home's devices in ``room_id`` leave it (``room_id`` NULL), before the room row is deleted."""
        return await rows_affected(
            self.session,
            update(Device).where(Device.home_id == home_id, Device.room_id == room_id).values(room_id=None),
        )

    async def room_exists(self, home_id: uuid.UUID, room_id: uuid.UUID) -> bool:
        """Whether ``room_id`` is a (visible) room of ``home_id``: one primary-key probe."""
        found = await self.session.scalar(
            select(literal(1)).where(Room.home_id == home_id, Room.id == room_id)
        )
        return found is not None

    async def with_manuals(
        self, device_id: uuid.UUID, home_ids: Sequence[uuid.UUID] | None = None
    ) -> Row[Any] | None:
        """One device's columns with its manual summary (None if invisible or not in ``home_ids``)."""
        stmt = _with_manual_summary().where(Device.id == device_id)
        if (narrowed := in_homes(Device.home_id, home_ids)) is not None:
            stmt = stmt.where(narrowed)
        row: Row[Any] | None = (await self.session.execute(stmt)).first()
        return row

    async def mark_replaced(self, home_id: uuid.UUID, old_id: uuid.UUID, new_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Device)
            .where(Device.home_id == home_id, Device.id == old_id)
            .values(status=DeviceStatus.replaced, replaced_by_device_id=new_id)
        )

    async def search(
        self,
        *,
        home_ids: Sequence[uuid.UUID],
        status: DeviceStatus | None,
        category: str | None,
        serial_index: str | None,
        room_id: uuid.UUID | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
        text: str | None = None,
    ) -> list[dict[str, Any]]:
        """Seed 000 Query 1: devices of ``home_ids``, newest first, ``limit + 1`` rows. A hot read: compiled once
        per combination of filters, run straight through the driver. ``text``: a part of the nickname,
        manufacturer or model number (case-insensitive)."""
        ids = list(home_ids)
        query = _query_1(
            len(ids) == 1,
            status is not None,
            bool(category),
            bool(serial_index),
            room_id is not None,
            after is not None,
            bool(text),
        )
        params: dict[str, Any] = {
            "limit": limit + 1,
            "status": status,
            "category": category,
            "serial_index": serial_index,
            "room_id": room_id,
        }
        if text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params["text_pattern"] = f"%{escaped}%"
        params.update({"home_id": ids[0]} if len(ids) == 1 else {"home_ids": ids})
        if after is not None:
            params.update(after_created=after[0], after_id=after[1])
        return await query.all(await driver_connection(self.session), **params)

    async def warranty_window(self, home_ids: Sequence[uuid.UUID], first: date, last: date) -> list[Row[Any]]:
        """Active devices of ``home_ids`` whose warranty ends between ``first`` and ``last``, with their home's
        timezone (the caller narrows to each home's own day), by end date."""
        stmt = (
            select(
                Device.id,
                Device.home_id,
                Device.nickname,
                Device.manufacturer_name,
                Device.model_number,
                Device.warranty_end,
                Home.timezone,
            )
            .join(Home, Home.id == Device.home_id)
            .where(
                in_homes(Device.home_id, home_ids),  # type: ignore[arg-type]
                Device.status == DeviceStatus.active,
                Device.warranty_end.between(first, last),
            )
            .order_by(Device.warranty_end, Device.id)
        )
        rows: Sequence[Any] = (await self.session.execute(stmt)).all()
        return list(rows)


class GroupRepository(Repository[DeviceGroup]):
    model = DeviceGroup

    async def of_home(self, home_id: uuid.UUID) -> list[DeviceGroup]:
        return list(
            await self.session.scalars(
                select(DeviceGroup)
                .where(DeviceGroup.home_id == home_id)
                .order_by(func.lower(DeviceGroup.name))
            )
        )

    async def delete_in_home(self, home_id: uuid.UUID, group_id: uuid.UUID) -> int:
        return await rows_affected(
            self.session,
            delete(DeviceGroup).where(DeviceGroup.home_id == home_id, DeviceGroup.id == group_id),
        )

    async def device_ids(
        self, home_id: uuid.UUID, group_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[uuid.UUID]]:
        """The device ids of each of ``group_ids`` (groups of ``home_id``), oldest membership first."""
        rows = await self.session.execute(
            select(DeviceGroupMember.group_id, DeviceGroupMember.device_id)
            .where(DeviceGroupMember.home_id == home_id, DeviceGroupMember.group_id.in_(group_ids))
            .order_by(DeviceGroupMember.added_at)
        )
        out: dict[uuid.UUID, list[uuid.UUID]] = {g: [] for g in group_ids}
        for group_id, device_id in rows.all():
            out[group_id].append(device_id)
        return out

    async def add_member(self, member: DeviceGroupMember) -> None:
        self.session.add(member)
        await self.session.flush()

    async def remove_member(self, home_id: uuid.UUID, group_id: uuid.UUID, device_id: uuid.UUID) -> int:
        return await rows_affected(
            self.session,
            delete(DeviceGroupMember).where(
                DeviceGroupMember.home_id == home_id,
                DeviceGroupMember.group_id == group_id,
                DeviceGroupMember.device_id == device_id,
            ),
        )

"""Every device query. Visibility comes from RLS; "across my homes" adds the membership filter."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Select, delete, distinct, func, literal_column, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.devices.models import Device, DeviceGroup, DeviceGroupMember, DeviceStatus
from homeops.homes.models import HomeMember
from homeops.manuals.models import DeviceManual, Manual

DeviceRow = tuple[Device, int, list[str]]


def _with_manual_summary() -> Select:  # type: ignore[type-arg]
    """Seed 000 Query 1's shape: each device with manual_count and its distinct manual types, one statement."""
    types = func.coalesce(
        func.array_agg(distinct(Manual.manual_type)).filter(Manual.id.is_not(None)),
        literal_column("'{}'::manual_type[]"),
    )
    return (
        select(Device, func.count(DeviceManual.manual_id), types)
        .outerjoin(DeviceManual, DeviceManual.device_id == Device.id)
        .outerjoin(Manual, Manual.id == DeviceManual.manual_id)
        .group_by(Device.id)
    )


class DeviceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, device: Device) -> Device:
        self.session.add(device)
        await self.session.flush()
        await self.session.refresh(device)
        return device

    async def refresh(self, device: Device) -> None:
        await self.session.flush()
        await self.session.refresh(device)

    async def get(self, device_id: uuid.UUID) -> Device | None:
        return await self.session.get(Device, device_id, populate_existing=True)

    async def get_with_manuals(self, device_id: uuid.UUID) -> DeviceRow | None:
        row = (await self.session.execute(_with_manual_summary().where(Device.id == device_id))).first()
        return (row[0], row[1], [str(t) for t in row[2]]) if row else None

    async def delete(self, device_id: uuid.UUID) -> None:
        await self.session.execute(delete(Device).where(Device.id == device_id))

    async def mark_replaced(self, old_id: uuid.UUID, new_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Device)
            .where(Device.id == old_id)
            .values(status=DeviceStatus.replaced, replaced_by_device_id=new_id)
        )

    async def search(
        self,
        *,
        member_id: uuid.UUID,
        home_id: uuid.UUID | None,
        status: DeviceStatus | None,
        category: str | None,
        serial_index: str | None,
        room_id: uuid.UUID | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> list[DeviceRow]:
        my_homes = select(HomeMember.home_id).where(HomeMember.user_id == member_id)
        stmt = (
            _with_manual_summary()
            .where(Device.home_id.in_(my_homes))
            .order_by(Device.created_at.desc(), Device.id.desc())
            .limit(limit + 1)
        )
        if home_id is not None:
            stmt = stmt.where(Device.home_id == home_id)
        if status is not None:
            stmt = stmt.where(Device.status == status)
        if category:
            stmt = stmt.where(Device.category_code == category)
        if serial_index:
            stmt = stmt.where(Device.serial_number_index == serial_index)
        if room_id is not None:
            stmt = stmt.where(Device.room_id == room_id)
        if after is not None:
            stmt = stmt.where(tuple_(Device.created_at, Device.id) < tuple_(*after))
        return [(d, n, [str(t) for t in types]) for d, n, types in (await self.session.execute(stmt)).all()]

    async def warranty_expiring(self, member_id: uuid.UUID, today: date, until: date) -> list[Device]:
        my_homes = select(HomeMember.home_id).where(HomeMember.user_id == member_id)
        return list(
            await self.session.scalars(
                select(Device)
                .where(
                    Device.home_id.in_(my_homes),
                    Device.status == DeviceStatus.active,
                    Device.warranty_end.between(today, until),
                )
                .order_by(Device.warranty_end, Device.id)
            )
        )


class GroupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, group: DeviceGroup) -> DeviceGroup:
        self.session.add(group)
        await self.session.flush()
        await self.session.refresh(group)
        return group

    async def get(self, group_id: uuid.UUID) -> DeviceGroup | None:
        return await self.session.get(DeviceGroup, group_id, populate_existing=True)

    async def refresh(self, group: DeviceGroup) -> None:
        await self.session.flush()
        await self.session.refresh(group)

    async def delete(self, group_id: uuid.UUID) -> None:
        await self.session.execute(delete(DeviceGroup).where(DeviceGroup.id == group_id))

    async def for_home(self, home_id: uuid.UUID) -> list[DeviceGroup]:
        return list(
            await self.session.scalars(
                select(DeviceGroup).where(DeviceGroup.home_id == home_id).order_by(func.lower(DeviceGroup.name))
            )
        )

    async def device_ids(self, group_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
        rows = await self.session.execute(
            select(DeviceGroupMember.group_id, DeviceGroupMember.device_id)
            .where(DeviceGroupMember.group_id.in_(group_ids))
            .order_by(DeviceGroupMember.added_at)
        )
        out: dict[uuid.UUID, list[uuid.UUID]] = {g: [] for g in group_ids}
        for group_id, device_id in rows.all():
            out[group_id].append(device_id)
        return out

    async def add_member(self, member: DeviceGroupMember) -> None:
        self.session.add(member)
        await self.session.flush()

    async def remove_member(self, group_id: uuid.UUID, device_id: uuid.UUID) -> int:
        result = await self.session.execute(
            delete(DeviceGroupMember).where(
                DeviceGroupMember.group_id == group_id, DeviceGroupMember.device_id == device_id
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

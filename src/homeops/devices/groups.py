"""Device groups (004): named collections of devices within one home."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError

from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, NotFound, UnprocessableEntity
from homeops.core.patch import apply_patch
from homeops.core.tenancy import HomeRole
from homeops.core.uow import UnitOfWork
from homeops.devices.models import DeviceGroup, DeviceGroupMember
from homeops.devices.repository import DeviceRepository, GroupRepository
from homeops.devices.schemas import GroupIn, GroupOut, GroupPatch
from homeops.homes.access import load_in_home, require_home


class GroupNotFound(NotFound):
    code, title = "group_not_found", "Device group not found"


class GroupService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        self.groups = GroupRepository(uow.session)
        self.devices = DeviceRepository(uow.session)

    async def _out(self, groups: list[DeviceGroup]) -> list[GroupOut]:
        # The groups of one home (a home's list, or one group).
        members = await self.groups.device_ids(groups[0].home_id, [g.id for g in groups]) if groups else {}
        return [
            GroupOut(
                id=g.id,
                home_id=g.home_id,
                name=g.name,
                description=g.description,
                device_ids=members.get(g.id, []),
                created_at=g.created_at,
            )
            for g in groups
        ]

    async def _group(self, group_id: uuid.UUID, need: HomeRole) -> DeviceGroup:
        """The group and the access check in one statement; locked when the caller will change it."""
        group, _ = await load_in_home(
            self.uow, DeviceGroup, group_id, need, not_found=GroupNotFound, lock=need is not HomeRole.guest
        )
        return group

    async def create(self, home_id: uuid.UUID, data: GroupIn) -> GroupOut:
        await require_home(self.uow, home_id, HomeRole.member)
        try:
            async with self.session.begin_nested():
                group = await self.groups.add(DeviceGroup(home_id=home_id, **data.model_dump()))
        except IntegrityError as exc:
            raise Conflict("A group with this name exists in the home.", code="group_exists") from exc
        self.uow.record(
            AuditEntry("device_group_created", "device_group", group.id, new_values=data.model_dump())
        )
        return (await self._out([group]))[0]

    async def of_home(self, home_id: uuid.UUID) -> list[GroupOut]:
        await require_home(self.uow, home_id, HomeRole.guest)
        return await self._out(await self.groups.of_home(home_id))

    async def get(self, group_id: uuid.UUID) -> GroupOut:
        return (await self._out([await self._group(group_id, HomeRole.guest)]))[0]

    async def update(self, group_id: uuid.UUID, patch: GroupPatch) -> GroupOut:
        group = await self._group(group_id, HomeRole.member)
        _, changes = apply_patch(group, patch.model_dump(exclude_unset=True), not_null=("name",))
        try:
            async with self.session.begin_nested():
                await self.groups.save()
        except IntegrityError as exc:
            raise Conflict("A group with this name exists in the home.", code="group_exists") from exc
        self.uow.record(AuditEntry("device_group_updated", "device_group", group.id, new_values=changes))
        return (await self._out([group]))[0]

    async def delete(self, group_id: uuid.UUID) -> None:
        group = await self._group(group_id, HomeRole.member)
        await self.groups.delete_in_home(group.home_id, group.id)
        self.uow.record(
            AuditEntry("device_group_deleted", "device_group", group.id, old_values={"name": group.name})
        )

    async def add_device(self, group_id: uuid.UUID, device_id: uuid.UUID) -> GroupOut:
        group = await self._group(group_id, HomeRole.member)
        device = await self.devices.get(device_id, group.home_id)
        if device is None:
            raise UnprocessableEntity("The device is not in this group's home.", code="device_not_in_home")
        try:
            async with self.session.begin_nested():
                await self.groups.add_member(
                    DeviceGroupMember(group_id=group.id, device_id=device_id, home_id=group.home_id)
                )
        except IntegrityError as exc:
            raise Conflict("The device is already in the group.", code="already_in_group") from exc
        self.uow.record(
            AuditEntry(
                "device_group_member_added",
                "device_group",
                group.id,
                new_values={"device_id": str(device_id)},
            )
        )
        return (await self._out([group]))[0]

    async def remove_device(self, group_id: uuid.UUID, device_id: uuid.UUID) -> None:
        group = await self._group(group_id, HomeRole.member)
        if not await self.groups.remove_member(group.home_id, group.id, device_id):
            raise NotFound("The device is not in the group.", code="not_in_group", title="Not in group")
        self.uow.record(
            AuditEntry(
                "device_group_member_removed",
                "device_group",
                group.id,
                old_values={"device_id": str(device_id)},
            )
        )

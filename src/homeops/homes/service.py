"""Homes, members and rooms. RLS is the wall; ``homes.access`` turns its silence into clear answers:
a home you cannot see is 404, a home you can see but may not change is 403."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError

from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, NotFound
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.patch import apply_patch
from homeops.core.tenancy import HomeRole, home_role_at_least
from homeops.core.uow import UnitOfWork
from homeops.homes.access import HomeNotFound, InsufficientHomeRole, load_in_home, require_home
from homeops.homes.events import HomeRemoved, RoomRemoved
from homeops.homes.models import Home, HomeMember, Room
from homeops.homes.repository import HomeRepository, MemberRepository, RoomRepository
from homeops.homes.schemas import HomeIn, HomeOut, HomePatch, MemberIn, MemberOut, RoomIn, RoomOut, RoomPatch
from homeops.identity.repository import UserRepository

__all__ = ["HomeNotFound", "HomeService", "InsufficientHomeRole", "RoomNotFound"]


class RoomNotFound(NotFound):
    code, title = "room_not_found", "Room not found"


class HomeService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        self.homes = HomeRepository(uow.session)
        self.members = MemberRepository(uow.session)
        self.rooms = RoomRepository(uow.session)

    @staticmethod
    def _out(home: Home, role: HomeRole | None) -> HomeOut:
        out = HomeOut.model_validate(home)
        out.my_role = role
        return out

    async def _home(self, home_id: uuid.UUID, need: HomeRole) -> tuple[Home, HomeRole | None]:
        role = await require_home(self.uow, home_id, need)
        home = await self.homes.get(home_id)
        if home is None:
            raise HomeNotFound()
        return home, role

    # --- homes --------------------------------------------------------------------------------------
    async def create(self, data: HomeIn) -> HomeOut:
        user_id = self.uow.actor.require_user_id()
        # The database hands out the id and counts it as the caller's own; then the home and the owner's
        # membership are inserted under the row policies.
        home_id = await self.homes.claim_new_id()
        home = await self.homes.add(
            Home(
                id=home_id,
                owner_id=user_id,
                name=data.name,
                address=data.address.model_dump(exclude_none=True),
                timezone=data.timezone,
            )
        )
        await self.members.add(HomeMember(home_id=home.id, user_id=user_id, role=HomeRole.owner))
        self.uow.set_actor(self.uow.actor.with_home(home.id, HomeRole.owner))
        self.uow.record(AuditEntry("home_created", "home", home.id, new_values=data.model_dump(mode="json")))
        return self._out(home, HomeRole.owner)

    async def list_mine(self, page: PageParams) -> tuple[list[HomeOut], str | None]:
        user_id = self.uow.actor.require_user_id()
        rows = await self.homes.list_for_member(user_id, page.limit, decode_cursor(page.cursor))
        items, cursor = build_page(rows, page.limit, key=lambda r: (r[0].created_at, r[0].id))
        return [self._out(h, r) for h, r in items], cursor

    async def get(self, home_id: uuid.UUID) -> HomeOut:
        return self._out(*await self._home(home_id, HomeRole.guest))

    async def update(self, home_id: uuid.UUID, patch: HomePatch) -> HomeOut:
        home, role = await self._home(home_id, HomeRole.admin)
        changes = patch.model_dump(exclude_unset=True, mode="json")
        old, new = apply_patch(
            home,
            changes,
            not_null=("name", "timezone"),
            convert={"address": lambda v: {k: x for k, x in (v or {}).items() if x is not None}},
        )
        await self.homes.save()
        self.uow.record(AuditEntry("home_updated", "home", home.id, old_values=old, new_values=new))
        return self._out(home, role)

    async def delete(self, home_id: uuid.UUID) -> None:
        home, _ = await self._home(home_id, HomeRole.owner)
        await self.uow.publish(HomeRemoved(home_id=home.id))  # telemetry: the home's series go too
        await self.homes.delete_by_id(home.id)
        self.uow.set_actor(self.uow.actor.without_home(home_id))
        self.uow.record(AuditEntry("home_deleted", "home", home_id, old_values={"name": home.name}))

    # --- members ------------------------------------------------------------------------------------
    async def list_members(self, home_id: uuid.UUID) -> list[MemberOut]:
        await require_home(self.uow, home_id, HomeRole.guest)
        return [
            MemberOut(
                user_id=m.user_id, email=m.email, full_name=m.full_name, role=m.role, created_at=m.created_at
            )
            for m in await self.members.of_home(home_id)
        ]

    async def add_member(self, home_id: uuid.UUID, data: MemberIn) -> MemberOut:
        await require_home(self.uow, home_id, HomeRole.admin)
        users = UserRepository(self.session)
        user_id = await users.id_by_email(str(data.email))
        if user_id is None:
            raise NotFound("No active account has this email.", code="user_not_found", title="User not found")
        if await self.members.role_of(home_id, user_id) is not None:
            raise Conflict("This user is already a member of the home.", code="already_member")
        try:
            async with self.session.begin_nested():
                member = await self.members.add(
                    HomeMember(
                        home_id=home_id, user_id=user_id, role=data.role, invited_by=self.uow.actor.user_id
                    )
                )
        except IntegrityError as exc:
            raise Conflict("This user is already a member of the home.", code="already_member") from exc
        self.uow.record(
            AuditEntry(
                "home_member_added",
                "home",
                home_id,
                new_values={"user_id": str(user_id), "role": data.role.value},
            )
        )
        added = next(m for m in await self.members.of_home(home_id) if m.user_id == user_id)
        return MemberOut(
            user_id=user_id,
            email=added.email,
            full_name=added.full_name,
            role=member.role,
            created_at=member.created_at,
        )

    async def remove_member(self, home_id: uuid.UUID, user_id: uuid.UUID) -> None:
        my_role = await require_home(self.uow, home_id, HomeRole.guest)
        target = await self.members.get(home_id, user_id)
        if target is None:
            raise NotFound(
                "This user is not a member of the home.", code="member_not_found", title="Member not found"
            )
        if target.role is HomeRole.owner:
            raise Conflict("The owner cannot be removed from their home.", code="cannot_remove_owner")
        leaving = user_id == self.uow.actor.user_id
        if not leaving and not home_role_at_least(my_role, HomeRole.admin):
            raise InsufficientHomeRole("Only the owner and admins manage members.")
        await self.members.remove(home_id, user_id)
        if leaving:
            self.uow.set_actor(self.uow.actor.without_home(home_id))
        self.uow.record(
            AuditEntry(
                "home_member_removed",
                "home",
                home_id,
                old_values={"user_id": str(user_id), "role": target.role.value},
            )
        )

    # --- rooms --------------------------------------------------------------------------------------
    async def create_room(self, home_id: uuid.UUID, data: RoomIn) -> RoomOut:
        await require_home(self.uow, home_id, HomeRole.member)
        try:
            async with self.session.begin_nested():
                room = await self.rooms.add(Room(home_id=home_id, **data.model_dump()))
        except IntegrityError as exc:
            raise Conflict("A room with this name exists in the home.", code="room_exists") from exc
        self.uow.record(AuditEntry("room_created", "room", room.id, new_values=data.model_dump(mode="json")))
        return RoomOut.model_validate(room)

    async def list_rooms(self, home_id: uuid.UUID) -> list[RoomOut]:
        await require_home(self.uow, home_id, HomeRole.guest)
        return [RoomOut.model_validate(r) for r in await self.rooms.of_home(home_id)]

    async def update_room(self, room_id: uuid.UUID, patch: RoomPatch) -> RoomOut:
        room, _ = await load_in_home(
            self.uow, Room, room_id, HomeRole.member, not_found=RoomNotFound, lock=True
        )
        old, new = apply_patch(room, patch.model_dump(exclude_unset=True), not_null=("name",))
        try:
            async with self.session.begin_nested():
                await self.rooms.save()
        except IntegrityError as exc:
            raise Conflict("A room with this name exists in the home.", code="room_exists") from exc
        self.uow.record(AuditEntry("room_updated", "room", room.id, old_values=old, new_values=new))
        return RoomOut.model_validate(room)

    async def delete_room(self, room_id: uuid.UUID) -> None:
        room, _ = await load_in_home(
            self.uow, Room, room_id, HomeRole.member, not_found=RoomNotFound, lock=True
        )
        await self.uow.publish(RoomRemoved(home_id=room.home_id, room_id=room_id))  # devices leave the room
        await self.rooms.delete_in_home(room.home_id, room_id)
        self.uow.record(AuditEntry("room_deleted", "room", room_id, old_values={"name": room.name}))

"""Homes, members and rooms. RLS is the wall; these checks turn its silence into clear answers:
a home you cannot see is 404, a home you can see but may not change is 403."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.context import AuditEntry, RequestContext
from homeops.core.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.homes.models import Home, HomeMember, HomeRole, Room
from homeops.homes.repository import HomeRepository, MemberRepository, RoomRepository
from homeops.homes.schemas import HomeIn, HomeOut, HomePatch, MemberIn, MemberOut, RoomIn, RoomOut, RoomPatch
from homeops.identity.repository import UserRepository
from homeops.identity.service import CurrentUser

_RANK = {HomeRole.guest: 0, HomeRole.member: 1, HomeRole.admin: 2, HomeRole.owner: 3}


class HomeNotFound(NotFound):
    code, title = "home_not_found", "Home not found"


class RoomNotFound(NotFound):
    code, title = "room_not_found", "Room not found"


class InsufficientHomeRole(Forbidden):
    code, title = "insufficient_home_role", "Your role in this home does not allow this"


class HomeService:
    def __init__(self, session: AsyncSession, ctx: RequestContext, user: CurrentUser) -> None:
        self.session = session
        self.ctx = ctx
        self.user = user
        self.homes = HomeRepository(session)
        self.members = MemberRepository(session)
        self.rooms = RoomRepository(session)

    # --- access -------------------------------------------------------------------------------------
    async def _home(self, home_id: uuid.UUID) -> tuple[Home, HomeRole | None]:
        home = await self.homes.get(home_id)
        if home is None:
            raise HomeNotFound()
        return home, await self.members.role_of(home_id, self.user.id)

    async def require(self, home_id: uuid.UUID, minimum: HomeRole) -> tuple[Home, HomeRole | None]:
        """The home if visible (else 404), and the caller's role if at least ``minimum`` (else 403)."""
        home, role = await self._home(home_id)
        if minimum is HomeRole.guest and self.user.is_admin:
            return home, role  # platform admins read every home (RLS lets them); they do not write
        if role is None or _RANK[role] < _RANK[minimum]:
            raise InsufficientHomeRole(f"This needs the {minimum.value} role or higher in the home.")
        return home, role

    @staticmethod
    def _out(home: Home, role: HomeRole | None) -> HomeOut:
        out = HomeOut.model_validate(home)
        out.my_role = role
        return out

    # --- homes --------------------------------------------------------------------------------------
    async def create(self, data: HomeIn) -> HomeOut:
        home = await self.homes.add(
            Home(
                owner_id=self.user.id,
                name=data.name,
                address=data.address.model_dump(exclude_none=True),
                timezone=data.timezone,
            )
        )
        self.ctx.record(AuditEntry("home_created", "home", home.id, new_values=data.model_dump(mode="json")))
        return self._out(home, HomeRole.owner)

    async def list(self, page: PageParams) -> tuple[list[HomeOut], str | None]:
        rows = await self.homes.list_for_member(self.user.id, page.limit, decode_cursor(page.cursor))
        items, cursor = build_page(rows, page.limit, key=lambda r: (r[0].created_at, r[0].id))
        return [self._out(h, r) for h, r in items], cursor

    async def get(self, home_id: uuid.UUID) -> HomeOut:
        home, role = await self._home(home_id)
        return self._out(home, role)

    async def update(self, home_id: uuid.UUID, patch: HomePatch) -> HomeOut:
        home, role = await self.require(home_id, HomeRole.admin)
        changes = patch.model_dump(exclude_unset=True, mode="json")
        if any(changes.get(k) is None and k in changes for k in ("name", "timezone")):
            raise UnprocessableEntity("name and timezone cannot be null.")
        old = {k: getattr(home, k) for k in changes}
        for key, value in changes.items():
            setattr(home, key, value if key != "address" else {k: v for k, v in (value or {}).items() if v is not None})
        await self.homes.refresh(home)
        self.ctx.record(AuditEntry("home_updated", "home", home.id, old_values=old, new_values=changes))
        return self._out(home, role)

    async def delete(self, home_id: uuid.UUID) -> None:
        home, _ = await self.require(home_id, HomeRole.owner)
        await self.homes.delete(home)
        self.ctx.record(AuditEntry("home_deleted", "home", home_id, old_values={"name": home.name}))

    # --- members ------------------------------------------------------------------------------------
    async def list_members(self, home_id: uuid.UUID) -> list[MemberOut]:
        await self.require(home_id, HomeRole.guest)
        return [
            MemberOut(user_id=u.id, email=u.email, full_name=u.full_name, role=m.role, created_at=m.created_at)
            for m, u in await self.members.list(home_id)
        ]

    async def add_member(self, home_id: uuid.UUID, data: MemberIn) -> MemberOut:
        await self.require(home_id, HomeRole.admin)
        user_id = await UserRepository(self.session).id_by_email(str(data.email))
        if user_id is None:
            raise NotFound("No active account has this email.", code="user_not_found", title="User not found")
        if await self.members.role_of(home_id, user_id) is not None:
            raise Conflict("This user is already a member of the home.", code="already_member")
        try:
            async with self.session.begin_nested():
                member = await self.members.add(
                    HomeMember(home_id=home_id, user_id=user_id, role=data.role, invited_by=self.user.id)
                )
        except IntegrityError as exc:
            raise Conflict("This user is already a member of the home.", code="already_member") from exc
        self.ctx.record(
            AuditEntry(
                "home_member_added", "home", home_id,
                new_values={"user_id": str(user_id), "role": data.role.value},
            )
        )
        user = await UserRepository(self.session).get(user_id)
        assert user is not None  # visible now: we share a home
        return MemberOut(
            user_id=user_id, email=user.email, full_name=user.full_name, role=member.role, created_at=member.created_at
        )

    async def remove_member(self, home_id: uuid.UUID, user_id: uuid.UUID) -> None:
        _, my_role = await self.require(home_id, HomeRole.guest)
        target = await self.members.get(home_id, user_id)
        if target is None:
            raise NotFound("This user is not a member of the home.", code="member_not_found", title="Member not found")
        if target.role is HomeRole.owner:
            raise Conflict("The owner cannot be removed from their home.", code="cannot_remove_owner")
        leaving = user_id == self.user.id
        if not leaving and _RANK[my_role or HomeRole.guest] < _RANK[HomeRole.admin]:
            raise InsufficientHomeRole("Only the owner and admins manage members.")
        await self.members.remove(home_id, user_id)
        self.ctx.record(
            AuditEntry(
                "home_member_removed", "home", home_id,
                old_values={"user_id": str(user_id), "role": target.role.value},
            )
        )

    # --- rooms --------------------------------------------------------------------------------------
    async def create_room(self, home_id: uuid.UUID, data: RoomIn) -> RoomOut:
        await self.require(home_id, HomeRole.member)
        try:
            async with self.session.begin_nested():
                room = await self.rooms.add(Room(home_id=home_id, **data.model_dump()))
        except IntegrityError as exc:
            raise Conflict("A room with this name exists in the home.", code="room_exists") from exc
        self.ctx.record(AuditEntry("room_created", "room", room.id, new_values=data.model_dump(mode="json")))
        return RoomOut.model_validate(room)

    async def list_rooms(self, home_id: uuid.UUID) -> list[RoomOut]:
        await self.require(home_id, HomeRole.guest)
        return [RoomOut.model_validate(r) for r in await self.rooms.list(home_id)]

    async def _room(self, room_id: uuid.UUID) -> Room:
        room = await self.rooms.get(room_id)
        if room is None:
            raise RoomNotFound()
        await self.require(room.home_id, HomeRole.member)
        return room

    async def update_room(self, room_id: uuid.UUID, patch: RoomPatch) -> RoomOut:
        room = await self._room(room_id)
        changes = patch.model_dump(exclude_unset=True)
        if "name" in changes and changes["name"] is None:
            raise UnprocessableEntity("name cannot be null.")
        old = {k: getattr(room, k) for k in changes}
        for key, value in changes.items():
            setattr(room, key, value)
        try:
            async with self.session.begin_nested():
                await self.rooms.refresh(room)
        except IntegrityError as exc:
            raise Conflict("A room with this name exists in the home.", code="room_exists") from exc
        self.ctx.record(AuditEntry("room_updated", "room", room.id, old_values=old, new_values=changes))
        return RoomOut.model_validate(room)

    async def delete_room(self, room_id: uuid.UUID) -> None:
        room = await self._room(room_id)
        await self.rooms.delete(room_id)
        self.ctx.record(AuditEntry("room_deleted", "room", room_id, old_values={"name": room.name}))

"""Every query of the homes domain. Visibility is decided by RLS; these queries add no tenant filter
beyond what the use case needs (e.g. "homes I belong to")."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.homes.models import Home, HomeMember, HomeRole, Room
from homeops.identity.models import User


class HomeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, home: Home) -> Home:
        self.session.add(home)
        await self.session.flush()
        await self.session.refresh(home)
        return home

    async def get(self, home_id: uuid.UUID) -> Home | None:
        return await self.session.get(Home, home_id, populate_existing=True)

    async def refresh(self, home: Home) -> None:
        await self.session.flush()
        await self.session.refresh(home)

    async def delete(self, home: Home) -> int:
        result = await self.session.execute(delete(Home).where(Home.id == home.id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def list_for_member(
        self, user_id: uuid.UUID, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> list[tuple[Home, HomeRole]]:
        stmt = (
            select(Home, HomeMember.role)
            .join(HomeMember, HomeMember.home_id == Home.id)
            .where(HomeMember.user_id == user_id)
            .order_by(Home.created_at.desc(), Home.id.desc())
            .limit(limit + 1)
        )
        if after is not None:
            stmt = stmt.where(tuple_(Home.created_at, Home.id) < tuple_(*after))
        return [(h, r) for h, r in (await self.session.execute(stmt)).all()]


class MemberRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def role_of(self, home_id: uuid.UUID, user_id: uuid.UUID) -> HomeRole | None:
        return await self.session.scalar(
            select(HomeMember.role).where(HomeMember.home_id == home_id, HomeMember.user_id == user_id)
        )

    async def get(self, home_id: uuid.UUID, user_id: uuid.UUID) -> HomeMember | None:
        return await self.session.scalar(
            select(HomeMember).where(HomeMember.home_id == home_id, HomeMember.user_id == user_id)
        )

    async def add(self, member: HomeMember) -> HomeMember:
        self.session.add(member)
        await self.session.flush()
        await self.session.refresh(member)
        return member

    async def remove(self, home_id: uuid.UUID, user_id: uuid.UUID) -> int:
        result = await self.session.execute(
            delete(HomeMember).where(HomeMember.home_id == home_id, HomeMember.user_id == user_id)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def list(self, home_id: uuid.UUID) -> list[tuple[HomeMember, User]]:
        stmt = (
            select(HomeMember, User)
            .join(User, User.id == HomeMember.user_id)
            .where(HomeMember.home_id == home_id)
            .order_by(HomeMember.role.desc(), func.lower(User.full_name), User.id)
        )
        return [(m, u) for m, u in (await self.session.execute(stmt)).all()]


class RoomRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, room: Room) -> Room:
        self.session.add(room)
        await self.session.flush()
        await self.session.refresh(room)
        return room

    async def get(self, room_id: uuid.UUID) -> Room | None:
        return await self.session.get(Room, room_id, populate_existing=True)

    async def refresh(self, room: Room) -> None:
        await self.session.flush()
        await self.session.refresh(room)

    async def delete(self, room_id: uuid.UUID) -> int:
        result = await self.session.execute(delete(Room).where(Room.id == room_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def list(self, home_id: uuid.UUID) -> list[Room]:
        rows = await self.session.scalars(
            select(Room).where(Room.home_id == home_id).order_by(func.lower(Room.name), Room.id)
        )
        return list(rows)

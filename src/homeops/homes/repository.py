"""Every query of the homes domain. Visibility is decided by RLS; these queries add no tenant filter
beyond what the use case needs (e.g. "homes I belong to")."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, tuple_

from homeops.core.database import rows_affected
from homeops.core.repository import Repository
from homeops.homes.models import Home, HomeMember, HomeRole, Room
from homeops.identity.models import User


class HomeRepository(Repository[Home]):
    model = Home

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


class MemberRepository(Repository[HomeMember]):
    model = HomeMember

    async def role_of(self, home_id: uuid.UUID, user_id: uuid.UUID) -> HomeRole | None:
        return await self.session.scalar(
            select(HomeMember.role).where(HomeMember.home_id == home_id, HomeMember.user_id == user_id)
        )

    async def get(self, home_id: uuid.UUID, user_id: uuid.UUID) -> HomeMember | None:  # type: ignore[override]
        return await self.session.scalar(
            select(HomeMember).where(HomeMember.home_id == home_id, HomeMember.user_id == user_id)
        )

    async def remove(self, home_id: uuid.UUID, user_id: uuid.UUID) -> int:
        return await rows_affected(
            self.session, delete(HomeMember).where(HomeMember.home_id == home_id, HomeMember.user_id == user_id)
        )

    async def of_home(self, home_id: uuid.UUID) -> list[tuple[HomeMember, User]]:
        stmt = (
            select(HomeMember, User)
            .join(User, User.id == HomeMember.user_id)
            .where(HomeMember.home_id == home_id)
            .order_by(HomeMember.role.desc(), func.lower(User.full_name), User.id)
        )
        return [(m, u) for m, u in (await self.session.execute(stmt)).all()]


class RoomRepository(Repository[Room]):
    model = Room

    async def of_home(self, home_id: uuid.UUID) -> list[Room]:
        rows = await self.session.scalars(
            select(Room).where(Room.home_id == home_id).order_by(func.lower(Room.name), Room.id)
        )
        return list(rows)

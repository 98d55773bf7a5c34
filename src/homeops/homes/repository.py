"""Every query of the homes domain. Visibility is decided by RLS; these queries add no tenant filter
beyond what the use case needs (e.g. "homes I belong to")."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, text, tuple_

from homeops.core.database import rows_affected
from homeops.core.repository import Repository
from homeops.homes.models import Home, HomeMember, HomeRole, Room


class HomeRepository(Repository[Home]):
    model = Home

    async def claim_new_id(self) -> uuid.UUID:
        """A fresh home id this transaction may create, already counted as the caller's own (owner)."""
        value = await self.session.scalar(text("SELECT homeops_claim_new_home()"))
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))

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


@dataclass(frozen=True)
class MemberRow:
    user_id: uuid.UUID
    email: str
    full_name: str
    role: HomeRole
    created_at: datetime


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
            self.session,
            delete(HomeMember).where(HomeMember.home_id == home_id, HomeMember.user_id == user_id),
        )

    async def of_home(self, home_id: uuid.UUID) -> list[MemberRow]:
        """The members with their names and e-mails (``homeops_home_members``: household members do not read
        each other's accounts otherwise)."""
        rows = await self.session.execute(
            text("SELECT user_id, email, full_name, role, created_at FROM homeops_home_members(:h)"),
            {"h": home_id},
        )
        return [MemberRow(r.user_id, r.email, r.full_name, HomeRole(r.role), r.created_at) for r in rows]


class RoomRepository(Repository[Room]):
    model = Room

    async def delete_in_home(self, home_id: uuid.UUID, room_id: uuid.UUID) -> int:
        return await rows_affected(
            self.session, delete(Room).where(Room.home_id == home_id, Room.id == room_id)
        )

    async def of_home(self, home_id: uuid.UUID) -> list[Room]:
        rows = await self.session.scalars(
            select(Room).where(Room.home_id == home_id).order_by(func.lower(Room.name), Room.id)
        )
        return list(rows)

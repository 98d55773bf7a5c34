from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.settings.models import SystemSetting


class SettingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def public(self) -> list[SystemSetting]:
        # RLS already hides non-public rows from anonymous callers; the filter keeps admins' view public too.
        rows = await self.session.scalars(
            select(SystemSetting).where(SystemSetting.is_public.is_(True)).order_by(SystemSetting.setting_key)
        )
        return list(rows)

    async def all(self, category: str | None = None) -> list[SystemSetting]:
        stmt = select(SystemSetting).order_by(SystemSetting.setting_key)
        if category:
            stmt = stmt.where(SystemSetting.category == category)
        return list(await self.session.scalars(stmt))

    async def get(self, key: str) -> SystemSetting | None:
        return await self.session.scalar(select(SystemSetting).where(SystemSetting.setting_key == key))

    async def add(self, row: SystemSetting) -> SystemSetting:
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def refresh(self, row: SystemSetting) -> None:
        await self.session.flush()
        await self.session.refresh(row)

    async def delete(self, key: str) -> int:
        result = await self.session.execute(delete(SystemSetting).where(SystemSetting.setting_key == key))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

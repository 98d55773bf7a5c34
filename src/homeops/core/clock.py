"""Time as a dependency: services ask the clock, never ``date.today()``; "today" is the home's own day.

``SystemClock`` in production; ``FrozenClock`` in tests (set it, move it across a date line).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime) -> None:
        self.set(at)

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self._at = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def now(self) -> datetime:
        return self._at


@lru_cache(maxsize=512)
def zone(name: str | None) -> ZoneInfo:
    """The IANA zone; an unknown or empty name falls back to UTC (homes validate theirs on write)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_today(clock: Clock, timezone: str | None) -> date:
    """The calendar date it is now in ``timezone`` (a home's day, not the server's)."""
    return clock.now().astimezone(zone(timezone)).date()

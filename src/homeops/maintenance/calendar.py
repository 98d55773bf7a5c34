"""The per-user iCalendar feed: a secret URL (only its SHA-256 is stored) listing upcoming maintenance and
warranty expiries of the user's devices as all-day events with stable UIDs."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.context import AuditEntry, RequestContext, apply_rls
from homeops.core.errors import NotFound
from homeops.identity.service import CurrentUser
from homeops.maintenance.ics import AllDayEvent, Calendar
from homeops.maintenance.recurrence import Recurrence
from homeops.maintenance.repository import CalendarRepository, FeedSchedule
from homeops.maintenance.schemas import CalendarStatusOut, CalendarTokenOut

HORIZON_DAYS = 365
MAX_PER_SCHEDULE = 60
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,128}$")


class CalendarNotFound(NotFound):
    code, title = "calendar_not_found", "Calendar not found"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CalendarService:
    """Token management for the signed-in user."""

    def __init__(
        self, session: AsyncSession, ctx: RequestContext, user: CurrentUser, public_base_url: str
    ) -> None:
        self.ctx = ctx
        self.user = user
        self.base_url = public_base_url.rstrip("/")
        self.feeds = CalendarRepository(session)

    async def status(self) -> CalendarStatusOut:
        feed = await self.feeds.get(self.user.id)
        if feed is None:
            return CalendarStatusOut(active=False)
        return CalendarStatusOut(active=True, created_at=feed.created_at, rotated_at=feed.rotated_at)

    async def rotate(self) -> CalendarTokenOut:
        """Creates the feed URL, or replaces it (the old URL stops working at once)."""
        existed = await self.feeds.get(self.user.id) is not None
        token = secrets.token_urlsafe(32)
        await self.feeds.upsert(self.user.id, token_hash(token))
        self.ctx.record(
            AuditEntry(
                "calendar_token_rotated" if existed else "calendar_token_created",
                "calendar_feed",
                self.user.id,
            )
        )
        return CalendarTokenOut(url=f"{self.base_url}/api/v1/calendar/{token}.ics")

    async def revoke(self) -> None:
        if await self.feeds.delete(self.user.id):
            self.ctx.record(AuditEntry("calendar_token_revoked", "calendar_feed", self.user.id))


def _zone(name: str | None) -> tuple[str, ZoneInfo]:
    try:
        return (name, ZoneInfo(name)) if name else ("UTC", ZoneInfo("UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC", ZoneInfo("UTC")


def _maintenance_events(item: FeedSchedule, until: date) -> list[AllDayEvent]:
    s = item.schedule
    r = Recurrence(
        s.interval, s.interval_unit, s.anchor, s.series_start, s.occurrence, s.next_due, s.end_date
    )
    details = [f"Device: {item.device_nickname}", f"Every {s.interval} {s.interval_unit.value}"]
    if s.estimated_cost is not None:
        details.append(f"Estimated cost: {s.estimated_cost}")
    if s.description:
        details.append(s.description)
    return [
        AllDayEvent(
            uid=f"maint-{s.id}-{due.isoformat()}@homeops",
            day=due,
            summary=f"{s.task_name} — {item.device_nickname}",
            stamp=s.updated_at,
            description="\n".join(details),
            location=item.location,
            categories=("Maintenance",),
            alarm_days_before=s.lead_days if s.reminder_enabled and s.lead_days else None,
        )
        for due in r.upcoming(until, MAX_PER_SCHEDULE)
    ]


async def render_feed(session: AsyncSession, ctx: RequestContext, token: str) -> str:
    """The feed behind a secret token (404 when unknown or revoked). The lookup is a SECURITY DEFINER
    function; everything after it runs under the token owner's row-level security identity."""
    if not _TOKEN_RE.fullmatch(token):
        raise CalendarNotFound()
    feeds = CalendarRepository(session)
    user_id = await feeds.user_for_hash(token_hash(token))
    if user_id is None:
        raise CalendarNotFound()
    # No platform role: the feed needs only what the user sees as a member of their homes.
    await apply_rls(session, user_id, None)
    ctx.user_id = user_id
    tz_name, zone = _zone(await feeds.timezone(user_id))
    today = datetime.now(zone).date()
    until = today + timedelta(days=HORIZON_DAYS)
    calendar = Calendar(name="HomeOps maintenance", timezone=tz_name)
    for item in await feeds.schedules(user_id, until):
        calendar.events += _maintenance_events(item, until)
    for device in await feeds.warranties(user_id, today, until):
        assert device.warranty_end is not None
        calendar.events.append(
            AllDayEvent(
                uid=f"warranty-{device.id}@homeops",
                day=device.warranty_end,
                summary=f"Warranty ends — {device.nickname}",
                stamp=device.updated_at,
                description=" ".join(x for x in (device.manufacturer_name, device.model_number) if x) or None,
                location=device.location_detail,
                categories=("Warranty",),
                alarm_days_before=30,
            )
        )
    calendar.events.sort(key=lambda e: (e.day, e.uid))
    return calendar.render()

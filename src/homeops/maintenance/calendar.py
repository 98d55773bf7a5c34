"""The per-user iCalendar feed: a secret URL (only its SHA-256 is stored) listing upcoming maintenance and
warranty expiries of the user's devices as all-day events with stable UIDs."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import date, timedelta
from types import MappingProxyType

from homeops.core.actor import Actor
from homeops.core.audit import AuditEntry
from homeops.core.clock import zone
from homeops.core.errors import NotFound
from homeops.core.uow import UnitOfWork
from homeops.core.urls import public_base_url
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

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.base_url = public_base_url(uow.runtime.settings)  # the request's origin unless configured
        self.feeds = CalendarRepository(uow.session)

    async def status(self) -> CalendarStatusOut:
        feed = await self.feeds.get(self.uow.actor.require_user_id())
        if feed is None:
            return CalendarStatusOut(active=False)
        return CalendarStatusOut(active=True, created_at=feed.created_at, rotated_at=feed.rotated_at)

    async def rotate(self) -> CalendarTokenOut:
        """Creates the feed URL, or replaces it (the old URL stops working at once)."""
        me = self.uow.actor.require_user_id()
        existed = await self.feeds.get(me) is not None
        token = secrets.token_urlsafe(32)
        await self.feeds.upsert(me, token_hash(token), self.uow.now())
        self.uow.record(
            AuditEntry("calendar_token_rotated" if existed else "calendar_token_created", "calendar_feed", me)
        )
        return CalendarTokenOut(url=f"{self.base_url}/api/v1/calendar/{token}.ics")

    async def revoke(self) -> None:
        me = self.uow.actor.require_user_id()
        if await self.feeds.delete_by_id(me):
            self.uow.record(AuditEntry("calendar_token_revoked", "calendar_feed", me))


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


async def render_feed(uow: UnitOfWork, token: str) -> str:
    """The feed behind a secret token (404 when unknown or revoked), for an anonymous unit of work. One SECURITY
    DEFINER function finds the live feed and establishes its owner's row-security identity for the transaction
    (as a member of their homes, without a platform role: the feed shows what they see as a member); everything
    after it runs under the ordinary row policies, as that user."""
    if not _TOKEN_RE.fullmatch(token):
        raise CalendarNotFound()
    feeds = CalendarRepository(uow.session)
    identity = await feeds.identity_for_hash(token_hash(token))
    if identity is None:
        raise CalendarNotFound()
    uow.set_actor(
        Actor(
            identity.user_id,
            None,
            homes=MappingProxyType(identity.homes),
            orgs=MappingProxyType(identity.orgs),
        )
    )
    homes = await feeds.homes_of(identity.user_id)
    # The calendar's timezone is the user's oldest home's; its "today" bounds the feed.
    tz_name = homes[0].timezone if homes else "UTC"
    if zone(tz_name).key != tz_name:
        tz_name = "UTC"
    today = uow.today(tz_name)
    until = today + timedelta(days=HORIZON_DAYS)
    home_ids = uow.actor.home_ids()
    calendar = Calendar(name="HomeOps maintenance", timezone=tz_name)
    for item in await feeds.schedules(home_ids, until):
        calendar.events += _maintenance_events(item, until)
    for device in await feeds.warranties(home_ids, today, until):
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

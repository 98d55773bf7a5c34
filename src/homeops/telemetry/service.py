"""Ingest tokens (created, listed, rotated and revoked by a home's members) and the reads: a device's series,
a home's series, the home dashboard, energy per day.

**Which storage a series reads** (like Home Assistant's statistics): the interval decides, the range sets the
default interval.

| interval | storage |
|---|---|
| none, range ≤ 2 days | raw points (at most ``MAX_RAW_POINTS``) |
| none, range ≤ 60 days | 1 h (hourly) |
| none, longer | 1 d (daily) |
| under an hour, or not a whole number of hours | raw rows, aggregated per interval |
| whole hours | the hourly roll-up below the watermark, raw rows above it (the hour in progress) |
| whole days | the daily roll-up (the home's local days) |

A series is two parallel arrays, ``ts`` and ``values`` (columns, not one object per point). Bucketed series
have a value for every bucket of the range, ``None`` where nothing was measured, and ``gaps`` names the runs
of empty buckets; a home's bucketed series share one ``ts`` (the bucket starts). Raw series list the points
and, as ``gaps``, the silences longer than three times their median spacing. At most ``MAX_BUCKETS`` buckets
per series. 1-hour (1-day) buckets are the hourly (daily) roll-up rows as they are; coarser ones combine them.
"""

from __future__ import annotations

import itertools
import re
import secrets
import statistics
import time
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from homeops.core.audit import AuditEntry
from homeops.core.errors import NotFound, UnprocessableEntity
from homeops.core.tenancy import HomeRole
from homeops.core.uow import UnitOfWork
from homeops.devices.models import Device
from homeops.devices.service import DeviceNotFound
from homeops.homes.access import HomeNotFound, load_in_home, require_home
from homeops.telemetry.access import household_homes, require_household
from homeops.telemetry.ingest import TOKEN_PREFIX, hash_token
from homeops.telemetry.models import IngestToken
from homeops.telemetry.repository import DashboardReader, SeriesReader, TokenRepository
from homeops.telemetry.schemas import TokenCreated, TokenIn, TokenOut

MAX_BUCKETS = 10_000
MAX_RAW_POINTS = 50_000
MAX_SERIES = 200
HEALTH_FRESH = timedelta(days=2)
_INTERVAL_RE = re.compile(r"^([1-9][0-9]{0,4})(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EPOCH = datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC"))
_ORIGIN_DAY = date(2000, 1, 3)  # a Monday: 7-day buckets are weeks
_WATERMARK_TTL = 5.0
_watermark_cache: list[Any] = [None, 0.0]


class TokenNotFound(NotFound):
    code, title = "ingest_token_not_found", "Ingest token not found"


class BadSeriesQuery(UnprocessableEntity):
    code, title = "invalid_series_query", "Invalid series query"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _out(token: IngestToken) -> TokenOut:
    return TokenOut(
        id=token.id,
        name=token.name,
        home_id=token.home_id,
        device_id=token.device_id,
        scope="device" if token.device_id else "home",
        token_hint=token.token_hint,
        created_by=token.created_by,
        created_at=token.created_at,
        rotated_at=token.rotated_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
    )


class TokenService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.tokens = TokenRepository(uow.session)

    async def _device(self, device_id: uuid.UUID, need: HomeRole) -> Device:
        device, _ = await load_in_home(self.uow, Device, device_id, need, not_found=DeviceNotFound)
        return device

    async def _create(self, home_id: uuid.UUID, device_id: uuid.UUID | None, data: TokenIn) -> TokenCreated:
        secret = new_token()
        token = await self.tokens.add(
            IngestToken(
                home_id=home_id,
                device_id=device_id,
                name=data.name,
                token_hash=hash_token(secret),
                token_hint=secret[:10],
                created_by=self.uow.actor.user_id,
            )
        )
        self.uow.record(
            AuditEntry(
                "ingest_token_created",
                "ingest_token",
                token.id,
                new_values={"home_id": str(home_id), "device_id": str(device_id) if device_id else None},
            )
        )
        return TokenCreated(**_out(token).model_dump(), token=secret)

    async def create_for_device(self, device_id: uuid.UUID, data: TokenIn) -> TokenCreated:
        device = await self._device(device_id, HomeRole.member)
        return await self._create(device.home_id, device.id, data)

    async def create_for_home(self, home_id: uuid.UUID, data: TokenIn) -> TokenCreated:
        await require_home(self.uow, home_id, HomeRole.member)
        return await self._create(home_id, None, data)

    async def list_for_device(self, device_id: uuid.UUID) -> list[TokenOut]:
        device = await self._device(device_id, HomeRole.member)
        return [_out(t) for t in await self.tokens.of_device(device.home_id, device.id)]

    async def list_for_home(self, home_id: uuid.UUID) -> list[TokenOut]:
        await require_home(self.uow, home_id, HomeRole.member)
        return [_out(t) for t in await self.tokens.for_scope(home_id, None)]

    async def _live(self, token_id: uuid.UUID) -> IngestToken:
        token, _ = await load_in_home(
            self.uow, IngestToken, token_id, HomeRole.member, not_found=TokenNotFound, lock=True
        )
        if token.revoked_at is not None:
            raise TokenNotFound("The token was revoked.")
        return token

    async def rotate(self, token_id: uuid.UUID) -> TokenCreated:
        """A new secret for the same token (the old one stops working at once)."""
        token = await self._live(token_id)
        secret = new_token()
        token.token_hash = hash_token(secret)
        token.token_hint = secret[:10]
        token.rotated_at = self.uow.now()
        await self.tokens.save()
        self.uow.record(AuditEntry("ingest_token_rotated", "ingest_token", token.id))
        return TokenCreated(**_out(token).model_dump(), token=secret)

    async def revoke(self, token_id: uuid.UUID) -> None:
        token = await self._live(token_id)
        token.revoked_at = self.uow.now()
        await self.tokens.save()
        self.uow.record(AuditEntry("ingest_token_revoked", "ingest_token", token.id))


# --- series -----------------------------------------------------------------------------------------------


def parse_interval(value: str | None) -> timedelta | None:
    if value is None:
        return None
    match = _INTERVAL_RE.match(value)
    if not match:
        raise BadSeriesQuery("interval: a number and a unit, e.g. 30s, 5m, 1h, 6h, 1d, 7d.")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def format_interval(interval: timedelta) -> str:
    seconds = int(interval.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _bin(instant: datetime, interval: timedelta) -> datetime:
    return _EPOCH + ((instant - _EPOCH) // interval) * interval


class SeriesQuery:
    """A validated request: range, interval, aggregate, and the storage it reads."""

    def __init__(self, metric: str, start: datetime, end: datetime, agg: str, interval: str | None) -> None:
        if start.tzinfo is None or end.tzinfo is None:
            raise BadSeriesQuery("from and to need a UTC offset (e.g. 2026-01-01T00:00:00Z).")
        if end <= start:
            raise BadSeriesQuery("to must be after from.")
        if end - start > timedelta(days=3660):
            raise BadSeriesQuery("The range is at most 10 years.")
        self.metric, self.agg = metric, agg
        self.start, self.end = start, end
        step = parse_interval(interval)
        if step is None:
            span = end - start
            step = (
                None
                if span <= timedelta(days=2)
                else timedelta(hours=1)
                if span <= timedelta(days=60)
                else timedelta(days=1)
            )
        self.interval = step
        if step is None:
            self.source = "raw"
        elif step % timedelta(days=1) == timedelta(0):
            self.source = "daily"
        elif step % timedelta(hours=1) == timedelta(0):
            self.source = "hourly"
        else:
            self.source = "raw"
        if step is not None and self.source != "daily":
            self.start = _bin(start, step)
            self.end = _bin(end - timedelta(microseconds=1), step) + step
            if (self.end - self.start) / step > MAX_BUCKETS:
                raise BadSeriesQuery(f"At most {MAX_BUCKETS} buckets: choose a longer interval.")

    @property
    def interval_text(self) -> str | None:
        return format_interval(self.interval) if self.interval is not None else None


async def _watermark(reader: SeriesReader) -> datetime:
    value, at = _watermark_cache
    if value is None or time.monotonic() - at > _WATERMARK_TTL:
        # A stale (older) watermark only moves more of the range to raw rows: still correct.
        value = await reader.watermark()
        _watermark_cache[:] = [value, time.monotonic()]
    assert isinstance(value, datetime)
    return value


def _gaps_between(times: list[datetime], start: datetime, end: datetime) -> list[dict[str, datetime]]:
    if len(times) < 2:
        return [] if times else [{"from": start, "to": end}]
    spacing = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    limit = max(3 * statistics.median(spacing), 1.0)
    gaps = []
    if (times[0] - start).total_seconds() > limit:
        gaps.append({"from": start, "to": times[0]})
    for a, b, s in zip(times, times[1:], spacing, strict=False):
        if s > limit:
            gaps.append({"from": a, "to": b})
    if (end - times[-1]).total_seconds() > limit:
        gaps.append({"from": times[-1], "to": end})
    return gaps


def _placed(
    rows: list[tuple[Any, ...]], devices: list[uuid.UUID], count: int
) -> dict[uuid.UUID, list[float | None]]:
    """Each device's value of every bucket (``None`` where nothing was measured), from the repository's
    ``(device_id, positions, values)`` rows (positions: a list, or a ``range`` for a run in order)."""
    values: dict[uuid.UUID, list[float | None]] = {d: [None] * count for d in devices}
    for device, positions, found in rows:
        line = values[device]
        first = positions[0] if positions else 0
        if isinstance(positions, range) or positions == list(range(first, first + len(positions))):
            line[first : first + len(found)] = found  # a run of buckets in order: one copy
            continue
        for i, value in zip(positions, found, strict=True):
            line[i] = value
    return values


def _bucket_gaps(
    values: list[float | None], buckets: list[datetime], end: datetime
) -> list[dict[str, datetime]]:
    """The runs of empty buckets: from the first empty one to the next with a value (or ``end``)."""
    gaps: list[dict[str, datetime]] = []
    if None not in values:
        return gaps
    run: int | None = None
    for i, value in enumerate(values):
        if value is None:
            if run is None:
                run = i
        elif run is not None:
            gaps.append({"from": buckets[run], "to": buckets[i]})
            run = None
    if run is not None:
        gaps.append({"from": buckets[run], "to": end})
    return gaps


class SeriesService:
    def __init__(self, uow: UnitOfWork, driver: Any) -> None:
        self.uow = uow
        self.reader = SeriesReader(driver)
        self._devices: dict[uuid.UUID, tuple[uuid.UUID, str, str]] = {}

    async def _device(self, device_id: uuid.UUID) -> tuple[uuid.UUID, str, str]:
        """(home_id, timezone, nickname) of a device of the caller's household (once per device), else 404."""
        if device_id not in self._devices:
            homes = household_homes(self.uow)
            found = await self.reader.device(device_id, homes) if homes else None
            if found is None:
                raise DeviceNotFound()
            self._devices[device_id] = found
        return self._devices[device_id]

    async def device_series(self, device_id: uuid.UUID, query: SeriesQuery) -> dict[str, Any]:
        home_id, timezone, _ = await self._device(device_id)
        buckets, series = await self._read(home_id, timezone, [device_id], query)
        return {
            "device_id": device_id,
            "home_id": home_id,
            "metric": query.metric,
            "agg": query.agg,
            "interval": query.interval_text,
            "source": query.source,
            "timezone": timezone,
            "from": query.start,
            "to": query.end,
            "ts": series[0]["ts"] if buckets is None else buckets,
            "values": series[0]["values"],
            "gaps": series[0]["gaps"],
        }

    async def home_series(
        self, home_id: uuid.UUID, query: SeriesQuery, device_ids: list[uuid.UUID] | None
    ) -> dict[str, Any]:
        """The metric's series of several devices of a home: those given, else every device of the home that
        measured it in the range. Bucketed series share the response's ``ts`` (the bucket starts); raw series
        have their own."""
        require_household(self.uow, home_id)
        timezone = await self.reader.home_timezone(home_id)
        if timezone is None:
            raise HomeNotFound()
        devices = sorted(set(device_ids)) if device_ids else await self.reader.home_devices(home_id)
        if len(devices) > MAX_SERIES:
            raise BadSeriesQuery(f"At most {MAX_SERIES} devices per request.")
        buckets, series = await self._read(home_id, timezone, devices, query)
        if not device_ids:
            series = [s for s in series if s["measured"]]
        for s in series:
            del s["measured"]
        return {
            "home_id": home_id,
            "metric": query.metric,
            "agg": query.agg,
            "interval": query.interval_text,
            "source": query.source,
            "timezone": timezone,
            "from": query.start,
            "to": query.end,
            "ts": buckets,
            "series": series,
        }

    async def metrics(self, device_id: uuid.UUID) -> list[dict[str, Any]]:
        """The metrics a device reported in the last 30 days, with the newest value of each."""
        home_id, _, _ = await self._device(device_id)
        return await self.reader.metrics(home_id, device_id, self.uow.now())

    async def _read(
        self, home_id: uuid.UUID, timezone: str, devices: list[uuid.UUID], query: SeriesQuery
    ) -> tuple[list[datetime] | None, list[dict[str, Any]]]:
        """(the bucket starts, or None for raw points; each device's series: ``device_id``, ``ts`` (raw points:
        their times; None when bucketed), ``values``, ``gaps`` and ``measured`` (any value at all))."""
        params: dict[str, Any] = {
            "home": home_id,
            "devices": devices,
            "metric": query.metric,
            "start": query.start,
            "end": query.end,
        }
        if query.interval is None:
            params["limit"] = MAX_RAW_POINTS + 1
            rows = await self.reader.raw_points(params)
            if sum(len(r[1]) for r in rows) > MAX_RAW_POINTS:
                raise BadSeriesQuery(f"More than {MAX_RAW_POINTS} points: give an interval.")
            times: dict[uuid.UUID, list[datetime]] = {d: [] for d in devices}
            values: dict[uuid.UUID, list[float | None]] = {d: [] for d in devices}
            for device, ts, found in rows:
                times[device], values[device] = ts, found
            return None, [
                {
                    "device_id": d,
                    "ts": times[d],
                    "values": values[d],
                    "gaps": _gaps_between(times[d], query.start, query.end),
                    "measured": bool(times[d]),
                }
                for d in devices
            ]
        if query.source == "daily":
            return await self._daily(params, timezone, devices, query)
        step = query.interval
        params.update(interval=step, epoch=query.start.timestamp(), step=step.total_seconds())
        if query.source == "hourly":
            watermark = await _watermark(self.reader)
            params["rollup_end"] = min(query.end, watermark)
            params["raw_start"] = max(query.start, watermark)
            rows = await self.reader.hourly_buckets(query.agg, params)
        else:
            rows = await self.reader.raw_buckets(query.agg, params)
        buckets = [query.start + i * step for i in range(int((query.end - query.start) / step))]
        return buckets, self._bucketed(rows, devices, buckets, query.end)

    @staticmethod
    def _bucketed(
        rows: list[tuple[Any, ...]], devices: list[uuid.UUID], buckets: list[datetime], end: datetime
    ) -> list[dict[str, Any]]:
        placed = _placed(rows, devices, len(buckets))
        measured = {r[0] for r in rows if any(v is not None for v in r[2])}
        return [
            {
                "device_id": d,
                "ts": None,
                "values": placed[d],
                "gaps": _bucket_gaps(placed[d], buckets, end),
                "measured": d in measured,
            }
            for d in devices
        ]

    async def _daily(
        self, params: dict[str, Any], timezone: str, devices: list[uuid.UUID], query: SeriesQuery
    ) -> tuple[list[datetime], list[dict[str, Any]]]:
        assert query.interval is not None
        zone = ZoneInfo(timezone)
        days = query.interval.days
        first = query.start.astimezone(zone).date()
        last = (query.end - timedelta(microseconds=1)).astimezone(zone).date()
        first = _ORIGIN_DAY + timedelta(days=((first - _ORIGIN_DAY).days // days) * days)
        end_day = _ORIGIN_DAY + timedelta(days=((last - _ORIGIN_DAY).days // days + 1) * days)
        if (end_day - first).days / days > MAX_BUCKETS:
            raise BadSeriesQuery(f"At most {MAX_BUCKETS} buckets: choose a longer interval.")
        params.update(origin_day=_ORIGIN_DAY, days=days, start_day=first, end_day=end_day)
        rows = await self.reader.daily_buckets(query.agg, params)
        query.start = datetime.combine(first, datetime.min.time(), zone)
        query.end = datetime.combine(end_day, datetime.min.time(), zone)
        buckets = [
            datetime.combine(first + timedelta(days=i * days), datetime.min.time(), zone)
            for i in range((end_day - first).days // days)
        ]
        return buckets, self._bucketed(rows, devices, buckets, query.end)


# --- dashboards -------------------------------------------------------------------------------------------


def _float(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


class DashboardService:
    """``home_dashboard_summary``, ``device_health_summary`` and ``energy_usage_summary`` of seed 004, computed
    from the roll-ups and the newest health scores at request time (single-shard statements; no materialized
    view: on a cluster a materialized view over distributed tables would live on the coordinator, unsharded)."""

    def __init__(self, uow: UnitOfWork, driver: Any) -> None:
        self.uow = uow
        self.series = SeriesReader(driver)
        self.reader = DashboardReader(driver)

    async def _timezone(self, home_id: uuid.UUID) -> str:
        require_household(self.uow, home_id)
        timezone = await self.series.home_timezone(home_id)
        if timezone is None:
            raise HomeNotFound()
        return timezone

    async def dashboard(self, home_id: uuid.UUID) -> dict[str, Any]:
        timezone = await self._timezone(home_id)
        now = self.uow.now()
        today = self.uow.today(timezone)
        row = await self.reader.summary(home_id, today, now - timedelta(hours=24))
        assert row is not None
        total, online, offline, never_seen, last_seen, errors, error_level, critical, e_today, e_7, e_30 = row
        health = await self.reader.device_health(home_id, now - HEALTH_FRESH)
        scores = [h["score"] for h in health if h["score"] is not None]
        by_status = {s: sum(1 for h in health if h["status"] == s) for s in ("good", "warning", "critical")}
        return {
            "home_id": home_id,
            "timezone": timezone,
            "generated_at": now,
            "devices": {
                "total": total,
                "online": online,
                "offline": offline,
                "never_seen": never_seen,
                "last_seen_at": last_seen,
            },
            "errors_24h": {"total": errors, "errors": error_level, "critical": critical},
            "energy_kwh": {
                "today": _float(e_today),
                "last_7_days": _float(e_7),
                "last_30_days": _float(e_30),
            },
            "health": {
                "average_score": round(sum(scores) / len(scores), 1) if scores else None,
                **by_status,
                "unscored": len(health) - len(scores),
            },
            "device_health": [
                {
                    "device_id": h["id"],
                    "nickname": h["nickname"],
                    "is_online": h["is_online"],
                    "last_seen_at": h["last_seen_at"],
                    "scored_at": h["ts"],
                    "score": h["score"],
                    "status": h["status"],
                    "factors": h["factors"],
                }
                for h in health
            ],
        }

    async def energy(self, home_id: uuid.UUID, start: date | None, end: date | None) -> dict[str, Any]:
        timezone = await self._timezone(home_id)
        end = end or self.uow.today(timezone)
        start = start or end - timedelta(days=29)
        if end < start:
            raise BadSeriesQuery("to must not be before from.")
        if (end - start).days >= 3660:
            raise BadSeriesQuery("At most 10 years of days.")
        rows = await self.reader.energy(home_id, start, end)
        days: dict[date, list[dict[str, Any]]] = {}
        totals: dict[uuid.UUID, dict[str, Any]] = {}
        for day, device_id, nickname, kwh, readings, resets, gaps, rejected in rows:
            flagged = bool(resets or gaps or rejected)
            days.setdefault(day, []).append(
                {
                    "device_id": device_id,
                    "consumption_kwh": round(kwh, 4),
                    "readings": readings,
                    "resets": resets,
                    "gaps": gaps,
                    "rejected": rejected,
                    "flagged": flagged,
                }
            )
            total = totals.setdefault(
                device_id, {"device_id": device_id, "nickname": nickname, "total_kwh": 0.0, "flagged_days": 0}
            )
            total["total_kwh"] += kwh
            total["flagged_days"] += flagged
        out_days = []
        day = start
        while day <= end:
            entries = days.get(day, [])
            out_days.append(
                {
                    "day": day,
                    "total_kwh": round(sum(e["consumption_kwh"] for e in entries), 4) if entries else None,
                    "flagged": any(e["flagged"] for e in entries),
                    "devices": entries,
                }
            )
            day += timedelta(days=1)
        for total in totals.values():
            total["total_kwh"] = round(total["total_kwh"], 4)
        return {
            "home_id": home_id,
            "timezone": timezone,
            "from": start,
            "to": end,
            "total_kwh": round(sum(t["total_kwh"] for t in totals.values()), 4),
            "days": out_days,
            "devices": sorted(totals.values(), key=lambda t: -t["total_kwh"]),
        }

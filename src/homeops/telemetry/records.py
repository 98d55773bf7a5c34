"""A device's records besides its measurements: the state history and the current state (``device_states``),
the error log (``device_error_logs``) and the connectivity samples (``network_metrics``) of seed 004.

Same visibility as the device (another household's device is 404, whatever the table holds); every list is
newest first and keyset paged by the table's own key (``ts``, or ``(ts, code)`` for error logs), so a deep
page costs what the first one does. ``from`` is inclusive, ``to`` exclusive, both with a UTC offset.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from homeops.core.pagination import InvalidCursor, PageParams
from homeops.core.uow import UnitOfWork
from homeops.devices.service import DeviceNotFound
from homeops.telemetry.access import household_homes
from homeops.telemetry.models import Severity
from homeops.telemetry.repository import RecordsReader
from homeops.telemetry.service import BadSeriesQuery

STATE_LOOKBACK = timedelta(days=30)
STATE_ROWS = 1000  # the newest rows of the look-back searched for each attribute's newest value
SEVERITIES = tuple(Severity)
_CURSOR_TAG = "r"
# The open ends of a range (timestamptz holds both; the tables' partitions hold neither).
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def encode_record_cursor(ts: datetime, code: str | None = None) -> str:
    raw = json.dumps([_CURSOR_TAG, ts.isoformat(), code]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_record_cursor(cursor: str | None) -> tuple[datetime, str | None] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        tag, ts, code = json.loads(base64.urlsafe_b64decode(padded))
        instant = datetime.fromisoformat(ts)
        if tag != _CURSOR_TAG or instant.tzinfo is None or not (code is None or isinstance(code, str)):
            raise ValueError("not a record cursor")
        return instant, code
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise InvalidCursor("The cursor is not one this API issued.") from exc


def _window(start: datetime | None, end: datetime | None) -> None:
    for value in (start, end):
        if value is not None and value.tzinfo is None:
            raise BadSeriesQuery("from and to need a UTC offset (e.g. 2026-01-01T00:00:00Z).")
    if start is not None and end is not None and end <= start:
        raise BadSeriesQuery("to must be after from.")


def severities(exact: list[Severity] | None, at_least: Severity | None) -> list[str]:
    """The severities a filter lets through: those named (all when none is), from ``at_least`` up."""
    chosen = set(exact) if exact else set(SEVERITIES)
    if at_least is not None:
        chosen &= set(SEVERITIES[SEVERITIES.index(at_least) :])
    return [s.value for s in SEVERITIES if s in chosen]


def _page(rows: list[dict[str, Any]], limit: int, *, code: bool = False) -> dict[str, Any]:
    items = rows[:limit]
    cursor = None
    if len(rows) > limit and items:
        last = items[-1]
        cursor = encode_record_cursor(last["ts"], last["code"] if code else None)
    return {"items": items, "next_cursor": cursor}


class RecordsService:
    def __init__(self, uow: UnitOfWork, driver: Any) -> None:
        self.uow = uow
        self.reader = RecordsReader(driver)
        self._home_of: dict[uuid.UUID, uuid.UUID] = {}  # looked up once per device (a page asks for 3 lists)

    async def _home(self, device_id: uuid.UUID) -> uuid.UUID:
        """The device's home when the caller belongs to it (guests read; see ``telemetry.access``), else 404."""
        if device_id in self._home_of:
            return self._home_of[device_id]
        homes = household_homes(self.uow)
        home_id = await self.reader.device_home(device_id, homes) if homes else None
        if home_id is None:
            raise DeviceNotFound()
        self._home_of[device_id] = home_id
        return home_id

    def _params(
        self,
        home_id: uuid.UUID,
        device_id: uuid.UUID,
        start: datetime | None,
        end: datetime | None,
        page: PageParams,
    ) -> dict[str, Any]:
        _window(start, end)
        after = decode_record_cursor(page.cursor)
        end_or_max = end or _LATEST
        return {
            "home": home_id,
            "device": device_id,
            "lower": start or _EARLIEST,
            "end_or_max": end_or_max,
            "upper": min(end_or_max, after[0]) if after else end_or_max,
            "before": after[0] if after else None,
            "before_code": (after[1] or "") if after else None,
            "limit": page.limit + 1,
        }

    async def states(
        self,
        device_id: uuid.UUID,
        page: PageParams,
        start: datetime | None = None,
        end: datetime | None = None,
        state: str | None = None,
    ) -> dict[str, Any]:
        """The device's state history (``device_states``), newest first; ``state``: only that state."""
        home_id = await self._home(device_id)
        params = self._params(home_id, device_id, start, end, page)
        params["state"] = state
        return _page(await self.reader.states(params), page.limit)

    async def current_state(self, device_id: uuid.UUID) -> dict[str, Any]:
        """The newest state, since when the device is in it, and the newest value of each attribute key."""
        home_id = await self._home(device_id)
        since = self.uow.now() - STATE_LOOKBACK
        current, attributes = await self.reader.current_state(home_id, device_id, since, STATE_ROWS)
        return {
            "device_id": device_id,
            "home_id": home_id,
            "state": current["state"] if current else None,
            "reported_at": current["ts"] if current else None,
            "since": current["since"] if current else None,
            "since_exact": bool(current and current["changed_in_window"]),
            "attributes": current["attributes"] if current else None,
            "latest_attributes": {a["key"]: {"value": a["value"], "ts": a["ts"]} for a in attributes},
        }

    async def error_logs(
        self,
        device_id: uuid.UUID,
        page: PageParams,
        start: datetime | None = None,
        end: datetime | None = None,
        severity: list[Severity] | None = None,
        min_severity: Severity | None = None,
        code: str | None = None,
    ) -> dict[str, Any]:
        """The device's error log (``device_error_logs``), newest first, filtered by severity and code."""
        home_id = await self._home(device_id)
        params = self._params(home_id, device_id, start, end, page)
        params["severities"] = severities(severity, min_severity)
        params["code"] = code
        if not params["severities"]:
            return {"items": [], "next_cursor": None}
        return _page(await self.reader.errors(params), page.limit, code=True)

    async def network_metrics(
        self,
        device_id: uuid.UUID,
        page: PageParams,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> dict[str, Any]:
        """The device's connectivity samples (``network_metrics``), newest first."""
        home_id = await self._home(device_id)
        return _page(
            await self.reader.network(self._params(home_id, device_id, start, end, page)), page.limit
        )

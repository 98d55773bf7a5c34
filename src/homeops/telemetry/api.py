"""The telemetry API: ingest tokens, batch ingest, series, the home dashboard and energy, and the database
monitoring views for platform admins.

**Ingest** (``POST /api/v1/ingest/{telemetry|states|energy|errors|network}``) authenticates with an ingest
token (``Authorization: Bearer hit_…``), not a user session. Its body has its own limit (``MAX_BODY``, 16 MB:
~130,000 points), above the general JSON cap, and is read here as a stream. The route runs the ingest write
path (``homeops.telemetry.ingest``) on the request's connection and ends the transaction itself: batches are
not audited one by one (a device sending every minute would write 1,440 audit rows a day); the token's
creation, rotation and revocation are.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response, status

from homeops.core.context import get_context, open_connection
from homeops.core.errors import Problem, Unauthorized
from homeops.core.openapi import errors
from homeops.core.routing import body_limit
from homeops.identity.deps import AdminUow, Uow
from homeops.telemetry import ingest
from homeops.telemetry.parsing import KINDS, BatchInvalid, parse_batch
from homeops.telemetry.repository import MonitoringReader
from homeops.telemetry.schemas import (
    Agg,
    DashboardOut,
    DeviceSeriesOut,
    EnergyOut,
    HomeSeriesOut,
    IngestOut,
    MetricOut,
    TokenCreated,
    TokenIn,
    TokenOut,
)
from homeops.telemetry.service import DashboardService, SeriesQuery, SeriesService, TokenService

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["telemetry"])

MAX_BODY = 16 * 1024 * 1024
_NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines")


class InvalidIngestToken(Unauthorized):
    code, title = "invalid_ingest_token", "Invalid ingest token"


class BatchTooLarge(Problem):
    status, code, title = 413, "payload_too_large", "Payload too large"


class InvalidBatch(Problem):
    status, code, title = 422, "invalid_batch", "Invalid batch"


def _json(data: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status_code, media_type="application/json")


async def _tokens(uow: Uow) -> TokenService:
    return TokenService(uow)


Tokens = Annotated[TokenService, Depends(_tokens)]


# --- ingest tokens ----------------------------------------------------------------------------------------


@router.post(
    "/devices/{device_id}/ingest-tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated
)
async def create_device_token(device_id: uuid.UUID, svc: Tokens, body: TokenIn | None = None) -> TokenCreated:
    """A token that writes this device's data only. The secret (`token`) is in this response and never
    again; home members (not guests) manage tokens."""
    return await svc.create_for_device(device_id, body or TokenIn())


@router.get("/devices/{device_id}/ingest-tokens", response_model=list[TokenOut])
async def list_device_tokens(device_id: uuid.UUID, svc: Tokens) -> list[TokenOut]:
    return await svc.list_for_device(device_id)


@router.post(
    "/homes/{home_id}/ingest-tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated
)
async def create_home_token(home_id: uuid.UUID, svc: Tokens, body: TokenIn | None = None) -> TokenCreated:
    """A token that writes the data of any device of the home (a gateway, a hub): each point names its
    `device_id`."""
    return await svc.create_for_home(home_id, body or TokenIn())


@router.get("/homes/{home_id}/ingest-tokens", response_model=list[TokenOut])
async def list_home_tokens(home_id: uuid.UUID, svc: Tokens) -> list[TokenOut]:
    """Every token of the home (device tokens and home-wide ones), without their secrets."""
    return await svc.list_for_home(home_id)


@router.post("/ingest-tokens/{token_id}/rotate", response_model=TokenCreated)
async def rotate_token(token_id: uuid.UUID, svc: Tokens) -> TokenCreated:
    """A new secret for the token; the old one stops working at once."""
    return await svc.rotate(token_id)


@router.delete("/ingest-tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(token_id: uuid.UUID, svc: Tokens) -> None:
    """Revokes the token: its next batch is refused (401)."""
    await svc.revoke(token_id)


# --- ingest -----------------------------------------------------------------------------------------------


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise BatchTooLarge(f"An ingest batch is at most {MAX_BODY // (1024 * 1024)} MB.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BatchTooLarge(f"An ingest batch is at most {MAX_BODY // (1024 * 1024)} MB.")
        chunks.append(chunk)
    return b"".join(chunks)


def _bearer(request: Request) -> str:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not ingest.looks_like_token(token):
        raise InvalidIngestToken("Send the device's ingest token: `Authorization: Bearer hit_…`.")
    return token


def _ndjson(request: Request) -> bool | None:
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media in _NDJSON_TYPES:
        return True
    if media == "application/json":
        return False
    return None


async def _ingest(kind: str, request: Request) -> Response:
    get_context(request).finished = True  # this route ends its transaction itself (not audited per batch)
    token = _bearer(request)
    body = await _body(request)
    runtime = request.app.state.runtime
    driver = await open_connection(request, begin=False)
    now = runtime.clock.now()
    try:
        identity = await ingest.begin(driver, token, kinds=(kind,))
        if identity is None:
            log.warning("ingest refused: unknown or revoked token", extra={"kind": kind})
            raise InvalidIngestToken("The ingest token is unknown or was revoked.")
        batch = parse_batch(kind, body, ingest.scope_of(identity, now), ndjson=_ndjson(request))
        result = await ingest.write(driver, identity, batch, now, distributed=runtime.distributed)
        await driver.commit()
    except BatchInvalid as exc:
        await _rollback(driver)
        raise InvalidBatch(
            f"{len(exc.errors)} problem(s) in the batch; nothing was written.",
            errors=exc.errors,
            counted_by=exc.unit,
        ) from None
    except BaseException:
        await _rollback(driver)
        raise
    ingest.staged(driver, (kind,))
    await ingest.mark_seen(driver, token, batch, now)
    return _json(
        {
            "kind": kind,
            "accepted": result.accepted,
            "written": result.written,
            "duplicates": result.duplicates,
            "late": result.late,
            "devices": result.devices,
        }
    )


async def _rollback(driver: Any) -> None:
    ingest.forget(driver)
    try:
        await driver.rollback()
    except Exception:
        log.warning("rollback after a failed ingest failed", exc_info=True)


_INGEST_DOC = """Writes a batch of {what} with a device's or a home's ingest token (`Authorization: Bearer
hit_…`). The body is a JSON array, one JSON object, or NDJSON (`Content-Type: application/x-ndjson`), at most
16 MB. Items: {item}. `device_id` may be left out with a device token; `ts` is ISO 8601 with an offset or
epoch seconds (milliseconds above 10¹¹), default: now. A problem on any line answers 422 naming the lines
(`errors[].line`) and writes nothing; points more than 10 minutes ahead, or outside the stored range, are
problems. Re-sent points (same device, metric, ts) are skipped."""

_ITEMS = {
    "telemetry": '`{"device_id", "metric", "ts", "value"}` or `{"device_id", "ts", "values": {"metric": value, …}}`',
    "states": '`{"device_id", "ts", "state", "attributes"?}`',
    "energy": '`{"device_id", "ts", "energy_kwh", "power_w"?}` (`energy_kwh`: the meter\'s cumulative reading)',
    "errors": '`{"device_id", "ts", "code", "severity"?, "message"?, "context"?}`',
    "network": '`{"device_id", "ts", "rssi_dbm"?, "link_quality"?, "latency_ms"?, "packet_loss_pct"?, "connected"?}`',
}
_WHAT = {
    "telemetry": "sensor readings (`device_telemetry`)",
    "states": "state changes (`device_states`)",
    "energy": "energy meter readings (`energy_usage`)",
    "errors": "device errors (`device_error_logs`)",
    "network": "connectivity samples (`network_metrics`)",
}


def _ingest_route(kind: str) -> None:
    async def endpoint(request: Request) -> Response:
        return await _ingest(kind, request)

    endpoint.__name__ = f"ingest_{kind}"
    body_limit(MAX_BODY)(endpoint)  # above the general JSON cap (the route also reads with this limit)
    errors(401)(
        endpoint
    )  # the ingest token (not a user's bearer token, so not derived from the security scheme)
    router.add_api_route(
        f"/ingest/{kind}",
        endpoint,
        methods=["POST"],
        response_model=IngestOut,
        summary=f"Ingest {kind}",
        description=_INGEST_DOC.format(what=_WHAT[kind], item=_ITEMS[kind]),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                    **{media: {"schema": {"type": "string"}} for media in _NDJSON_TYPES},
                },
            }
        },
    )


for _kind in KINDS:
    _ingest_route(_kind)


# --- reads ------------------------------------------------------------------------------------------------

Metric = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:/-]{1,64}$")]
From = Annotated[
    datetime | None, Query(alias="from", description="Start (inclusive); default: 24 h before `to`.")
]
To = Annotated[datetime | None, Query(alias="to", description="End (exclusive); default: now.")]
Interval = Annotated[
    str | None,
    Query(
        max_length=6,
        pattern=r"^[1-9][0-9]{0,4}[smhd]$",
        description="Bucket size, e.g. 5m, 1h, 1d; whole hours read the hourly roll-up, whole days the daily one. "
        "Default: raw points up to 2 days, 1h up to 60 days, else 1d.",
    ),
]


def _query(
    uow: Any, metric: str, start: datetime | None, end: datetime | None, agg: str, interval: str | None
) -> SeriesQuery:
    end = end or uow.now()
    start = start or end - timedelta(hours=24)
    return SeriesQuery(metric, start, end, agg, interval)


@router.get("/devices/{device_id}/telemetry", response_model=DeviceSeriesOut)
async def device_telemetry(
    device_id: uuid.UUID,
    uow: Uow,
    metric: Metric,
    start: From = None,
    end: To = None,
    agg: Agg = "avg",
    interval: Interval = None,
) -> Response:
    """A device's series of one metric (same visibility as the device: another household's device is 404),
    as two parallel arrays: `ts` and `values`. With an interval, `ts` lists every bucket of the range and
    `values` has `null` where nothing was measured; `gaps` names the empty runs (for raw points: the silences
    longer than three times their usual spacing). `source` says which storage answered: `raw`, `hourly` or
    `daily`."""
    query = _query(uow, metric, start, end, agg, interval)
    svc = SeriesService(uow, await uow.driver())
    return _json(await svc.device_series(device_id, query))


@router.get("/homes/{home_id}/telemetry", response_model=HomeSeriesOut)
async def home_telemetry(
    home_id: uuid.UUID,
    uow: Uow,
    metric: Metric,
    start: From = None,
    end: To = None,
    agg: Agg = "avg",
    interval: Interval = None,
    device_id: Annotated[list[uuid.UUID] | None, Query(max_length=200)] = None,
) -> Response:
    """One metric for several devices of a home (e.g. every temperature sensor): the `device_id`s given, or
    each device that measured it in the range. Bucketed series share the response's `ts` (every bucket of
    the range) and each has its `values` in that order (the times are sent once, not once per series); raw
    points come as each series' own `ts` and `values`."""
    query = _query(uow, metric, start, end, agg, interval)
    svc = SeriesService(uow, await uow.driver())
    return _json(await svc.home_series(home_id, query, device_id))


@router.get("/devices/{device_id}/metrics", response_model=list[MetricOut])
async def device_metrics(device_id: uuid.UUID, uow: Uow) -> Response:
    """The metrics the device reported in the last 30 days, each with its newest value."""
    svc = SeriesService(uow, await uow.driver())
    return _json(await svc.metrics(device_id))


@router.get("/homes/{home_id}/dashboard", response_model=DashboardOut)
async def home_dashboard(home_id: uuid.UUID, uow: Uow) -> Response:
    """The home's `home_dashboard_summary` (devices online, errors of the last 24 h, energy today, in 7 and
    30 days, health) with its `device_health_summary` (each active device's newest health score and its
    factors), from the roll-ups."""
    svc = DashboardService(uow, await uow.driver())
    return _json(await svc.dashboard(home_id))


@router.get("/homes/{home_id}/energy", response_model=EnergyOut)
async def home_energy(
    home_id: uuid.UUID,
    uow: Uow,
    start: Annotated[
        date | None, Query(alias="from", description="First local day; default: 29 days before `to`.")
    ] = None,
    end: Annotated[
        date | None, Query(alias="to", description="Last local day (inclusive); default: today.")
    ] = None,
) -> Response:
    """`energy_usage_summary`: consumption per local day and device from the meters' cumulative readings;
    days with a meter reset, a gap or a rejected jump are `flagged` (their totals stay correct: a reset counts
    from zero, an implausible jump counts nothing)."""
    svc = DashboardService(uow, await uow.driver())
    return _json(await svc.energy(home_id, start, end))


# --- monitoring (platform admins) -------------------------------------------------------------------------


@router.get("/admin/database/unused-indexes", tags=["admin"])
async def unused_indexes(uow: AdminUow) -> Response:
    """Indexes never scanned since the statistics were reset (primary and unique keys excluded; a partitioned
    index sums its partitions). On a cluster these are the coordinator's statistics."""
    rows = await MonitoringReader(await uow.driver()).rows("homeops_db_unused_indexes")
    return _json({"distributed": uow.runtime.distributed, "indexes": rows})


@router.get("/admin/database/table-bloat", tags=["admin"])
async def table_bloat(uow: AdminUow) -> Response:
    """Dead rows and estimated wasted space per table (partitions listed as themselves)."""
    rows = await MonitoringReader(await uow.driver()).rows("homeops_db_table_bloat")
    return _json({"distributed": uow.runtime.distributed, "tables": rows})


@router.get("/admin/database/slow-queries", tags=["admin"])
async def slow_queries(uow: AdminUow, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Response:
    """The slowest statements by mean time, where `pg_stat_statements` is installed; otherwise
    `available: false` and why."""
    rows = await MonitoringReader(await uow.driver()).rows("homeops_db_slow_queries", limit)
    if rows and not rows[0]["available"]:
        return _json({"available": False, "reason": rows[0]["reason"], "queries": []})
    return _json(
        {
            "available": True,
            "reason": None,
            "queries": [{k: v for k, v in r.items() if k not in ("available", "reason")} for r in rows],
        }
    )


# --- device records: states, error logs, network samples --------------------------------------------------

from homeops.core.pagination import Page, PageParams, page_params
from homeops.telemetry.models import Severity
from homeops.telemetry.records import RecordsService
from homeops.telemetry.schemas import (
    CurrentStateOut,
    DeviceStateOut,
    ErrorLogOut,
    NetworkMetricOut,
)

RecordPaging = Annotated[PageParams, Depends(page_params)]
RecordFrom = Annotated[
    datetime | None, Query(alias="from", description="Start (inclusive, with a UTC offset); default: open.")
]
RecordTo = Annotated[
    datetime | None, Query(alias="to", description="End (exclusive, with a UTC offset); default: open.")
]


async def _records(uow: Uow) -> RecordsService:
    return RecordsService(uow, await uow.driver())


Records = Annotated[RecordsService, Depends(_records)]


@router.get("/devices/{device_id}/states", response_model=Page[DeviceStateOut])
async def device_states(
    device_id: uuid.UUID,
    svc: Records,
    page: RecordPaging,
    start: RecordFrom = None,
    end: RecordTo = None,
    state: Annotated[str | None, Query(min_length=1, max_length=64, description="Only this state.")] = None,
) -> Response:
    """The device's state history (`device_states`), newest first, keyset paged (`next_cursor`). Same
    visibility as the device: another household's device is 404."""
    return _json(await svc.states(device_id, page, start, end, state))


@router.get("/devices/{device_id}/state", response_model=CurrentStateOut)
async def device_current_state(device_id: uuid.UUID, svc: Records) -> Response:
    """The device's current state, derived from its state history: the newest state and its attributes, since
    when the device is in it, and the newest value of each attribute key. `state` is null when the device
    never reported one."""
    return _json(await svc.current_state(device_id))


@router.get("/devices/{device_id}/error-logs", response_model=Page[ErrorLogOut])
async def device_error_logs(
    device_id: uuid.UUID,
    svc: Records,
    page: RecordPaging,
    start: RecordFrom = None,
    end: RecordTo = None,
    severity: Annotated[
        list[Severity] | None,
        Query(max_length=5, description="Only these severities (repeat the parameter)."),
    ] = None,
    min_severity: Annotated[
        Severity | None, Query(description="Only this severity and the ones above it (debug < … < critical).")
    ] = None,
    code: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only this error code.")
    ] = None,
) -> Response:
    """The device's error log (`device_error_logs`), newest first, keyset paged (`next_cursor`); filtered by
    severity (`severity`, `min_severity`: both apply when both are given), code and time."""
    return _json(await svc.error_logs(device_id, page, start, end, severity, min_severity, code))


@router.get("/devices/{device_id}/network-metrics", response_model=Page[NetworkMetricOut])
async def device_network_metrics(
    device_id: uuid.UUID, svc: Records, page: RecordPaging, start: RecordFrom = None, end: RecordTo = None
) -> Response:
    """The device's connectivity samples (`network_metrics`: RSSI, link quality, latency, packet loss,
    connected), newest first, keyset paged (`next_cursor`)."""
    return _json(await svc.network_metrics(device_id, page, start, end))

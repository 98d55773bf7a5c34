"""Telemetry in the browser: a home's "Energy & sensors" dashboard (energy per day and device, the temperature
series, device health with its factors), the device page's metrics over a chosen range, and ingest token
management (create — the secret shown once —, list without secrets, rotate, revoke) on the device page and for
a home. Every read and write is a ``SeriesService`` / ``DashboardService`` / ``TokenService`` call.

**Charts** are drawn by uPlot, shipped by the ``uplot-python`` package and served by the app from that
package's folder (``/static/uplot/…``: no CDN, no copy in this repository); ``static/charts.js`` (ours) draws
each ``[data-chart]`` from the JSON beside it. Without JavaScript (or without the package) every chart is the
table of its values, which is always in the page.
"""

from __future__ import annotations

import importlib.util
import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Response
from markupsafe import Markup

from homeops.core.pagination import InvalidCursor, PageParams
from homeops.core.web import N_, NO_FORM, FormError, FormState, Page, Pages, Panel, _, form_model, page_router
from homeops.core.web.i18n import fmt_date, fmt_time
from homeops.core.web.page import safe_next
from homeops.devices.pages import render_device_page
from homeops.devices.schemas import DeviceOut
from homeops.devices.service import DeviceService
from homeops.homes.schemas import HomeOut
from homeops.homes.service import HomeService
from homeops.identity.web import SignedInPage
from homeops.telemetry.access import in_household
from homeops.telemetry.models import Severity
from homeops.telemetry.records import SEVERITIES, RecordsService
from homeops.telemetry.schemas import TokenCreated, TokenIn, TokenOut
from homeops.telemetry.service import (
    BadSeriesQuery,
    DashboardService,
    SeriesQuery,
    SeriesService,
    TokenService,
)

router = page_router()

DASHBOARD_METRIC = "temperature"
RAW_TABLE_ROWS = 300  # the newest raw points listed in a table (a chart shows them all)
ERROR_LOG_ROWS = 10  # error log entries per page of the device page ("Older" pages on with the cursor)
NETWORK_SPAN = timedelta(hours=24)  # the connectivity samples shown: the newest of this span ...
NETWORK_ROWS = 48  # ... at most this many


@dataclass(frozen=True)
class Range:
    """A choice of the range selector: how far back, the interval of a device's series (None: raw points), the
    interval of the dashboard's series of several devices, and the days of energy shown."""

    key: str
    label: str
    span: timedelta
    device_interval: str | None
    home_interval: str
    energy_days: int


RANGES = {
    r.key: r
    for r in (
        Range("24h", N_("24 h"), timedelta(hours=24), None, "15m", 7),
        Range("7d", N_("7 days"), timedelta(days=7), "1h", "1h", 7),
        Range("30d", N_("30 days"), timedelta(days=30), "6h", "6h", 30),
        Range("1y", N_("1 year"), timedelta(days=365), "1d", "1d", 365),
    )
}
DEFAULT_RANGE = "24h"
# What a series shows, by its interval (None: every reading).
INTERVAL_LABELS = {
    None: N_("every reading"),
    "5m": N_("5-minute averages"),
    "15m": N_("15-minute averages"),
    "1h": N_("hourly averages, from the hourly statistics"),
    "6h": N_("6-hour averages, from the hourly statistics"),
    "1d": N_("daily averages, from the daily statistics"),
}
HEALTH_LABELS = {"good": N_("Good"), "warning": N_("Needs attention"), "critical": N_("Critical")}
HEALTH_BADGES = {"good": "success", "warning": "warning", "critical": "danger"}
FACTOR_LABELS = {
    "freshness": N_("Reporting"),
    "errors": N_("Errors (24 h)"),
    "connectivity": N_("Connectivity"),
    "battery": N_("Battery"),
}
METRIC_LABELS = {
    "temperature": N_("Temperature"),
    "humidity": N_("Humidity"),
    "battery": N_("Battery"),
    "power": N_("Power"),
    "co2": N_("CO₂"),
    "pressure": N_("Pressure"),
}
MESSAGES = {
    "ingest_token_not_found": N_("This token does not exist, was revoked, or you cannot manage it."),
    "invalid_series_query": N_("This range cannot be shown; choose a shorter one."),
}


def _range(page: Page) -> Range:
    return RANGES.get(page.request.query_params.get("range") or "", RANGES[DEFAULT_RANGE])


def metric_label(metric: str) -> str:
    label = METRIC_LABELS.get(metric)
    return _(label) if label else metric


# --- charts --------------------------------------------------------------------------------------------------
@dataclass
class Chart:
    """One chart: the data ``charts.js`` draws (``data``) and the same values as a table (``columns``, ``rows``:
    a time or a day and one value per column)."""

    id: str
    title: str
    kind: str  # "line" | "bars" (stacked)
    timezone: str
    unit: str = ""
    digits: int | None = None
    daily: bool = False
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, list[float | None]]] = field(default_factory=list)
    total_rows: int = 0
    note: str = ""

    @property
    def empty(self) -> bool:
        return not any(v is not None for _t, values in self.rows for v in values)

    def data(self, *, lang: str) -> dict[str, Any]:
        """The JSON of the chart (epoch seconds on x; one list of values per column)."""
        xs: list[float] = []
        for t, _values in self.rows:
            instant = (
                datetime.combine(t, time(), ZoneInfo(self.timezone)) if not isinstance(t, datetime) else t
            )
            xs.append(instant.timestamp())
        return {
            "kind": self.kind,
            "timezone": self.timezone,
            "lang": lang,
            "unit": self.unit,
            "daily": self.daily,
            "x": xs,
            "series": [
                {"label": label, "values": [values[i] for _t, values in self.rows]}
                for i, label in enumerate(self.columns)
            ],
        }

    @property
    def table_rows(self) -> list[tuple[Any, list[float | None]]]:
        """The rows of the table: newest first, at most ``RAW_TABLE_ROWS`` of raw points."""
        rows = list(reversed(self.rows))
        return rows[:RAW_TABLE_ROWS] if self.kind == "line" and not self.daily else rows


def _series_chart(
    chart_id: str, title: str, body: dict[str, Any], series: list[dict[str, Any]], names: dict[uuid.UUID, str]
) -> Chart:
    """A line chart of one metric for one or more devices: ``series`` as the API gives them (``ts`` and
    ``values``; bucketed series have ``ts`` None and line up with the body's ``ts``); raw points are merged."""
    chart = Chart(chart_id, title, "line", body["timezone"], daily=body["source"] == "daily")
    columns = [(body["ts"] if s.get("ts") is None else s["ts"], s["values"]) for s in series]
    times = sorted({t for ts, _values in columns for t in ts})
    index = {t: i for i, t in enumerate(times)}
    values: list[list[float | None]] = [[None] * len(series) for _ in times]
    for column, (ts, column_values) in enumerate(columns):
        for t, value in zip(ts, column_values, strict=True):
            values[index[t]][column] = value
    day_rows = [(t.astimezone(ZoneInfo(body["timezone"])).date() if chart.daily else t) for t in times]
    chart.columns = [names.get(s["device_id"], str(s["device_id"])[:8]) for s in series]
    chart.rows = list(zip(day_rows, values, strict=True))
    chart.total_rows = len(chart.rows)
    return chart


async def _device_names(page: Page, home_id: uuid.UUID) -> dict[uuid.UUID, str]:
    devices, _more = await DeviceService(page.uow).search(PageParams(limit=200), home_id=home_id)
    return {d.id: d.nickname for d in devices}


def _query(page: Page, metric: str, span: timedelta, interval: str | None) -> SeriesQuery:
    end = page.uow.now()
    return SeriesQuery(metric, end - span, end, "avg", interval)


# --- the dashboard -------------------------------------------------------------------------------------------
@router.get("/homes/{home_id}/telemetry")
async def dashboard(page: SignedInPage, home_id: uuid.UUID) -> Response:
    home = await HomeService(page.uow).get(home_id)
    chosen = _range(page)
    driver = await page.uow.driver()
    board = DashboardService(page.uow, driver)
    summary = await board.dashboard(home_id)
    today = page.uow.today(home.timezone)
    energy = await board.energy(home_id, today - timedelta(days=chosen.energy_days - 1), today)
    names = await _device_names(page, home_id)
    for d in energy["devices"]:
        names.setdefault(d["device_id"], d["nickname"] or str(d["device_id"])[:8])

    energy_chart = Chart("energy-chart", _("Energy per day"), "bars", home.timezone, unit="kWh", digits=2)
    energy_chart.daily = True
    devices = [d["device_id"] for d in energy["devices"]]
    energy_chart.columns = [names[d] for d in devices]
    for day in energy["days"]:
        by_device = {e["device_id"]: e["consumption_kwh"] for e in day["devices"]}
        energy_chart.rows.append((day["day"], [by_device.get(d) for d in devices]))
    energy_chart.total_rows = len(energy_chart.rows)
    flagged_days = {day["day"] for day in energy["days"] if day["flagged"]}
    day_totals = {day["day"]: day["total_kwh"] for day in energy["days"]}

    series = await SeriesService(page.uow, driver).home_series(
        home_id, _query(page, DASHBOARD_METRIC, chosen.span, chosen.home_interval), None
    )
    temperature = _series_chart("temperature-chart", _("Temperatures"), series, series["series"], names)
    temperature.digits = 1  # no unit: the readings do not say which (°C or °F)

    return page.render(
        "telemetry/dashboard.html",
        home=home,
        summary=summary,
        energy=energy,
        energy_chart=energy_chart,
        flagged_days=flagged_days,
        day_totals=day_totals,
        temperature=temperature,
        interval=series["interval"],
        chosen=chosen,
        ranges=RANGES.values(),
        names=names,
        write=page.can(home_id, "member"),
        link=lambda **params: page.url(f"/homes/{home_id}/telemetry", **{"range": chosen.key, **params}),
        **_labels(),
    )


def _labels() -> dict[str, Any]:
    return {
        "health_labels": HEALTH_LABELS,
        "health_badges": HEALTH_BADGES,
        "factor_labels": FACTOR_LABELS,
        "interval_labels": INTERVAL_LABELS,
        "uplot": UPLOT_STATIC is not None,
    }


# --- the device panel ----------------------------------------------------------------------------------------
async def device_panel(page: Page, device: DeviceOut) -> Markup:
    """The device's metrics (newest value of each) and the chart of one of them over the chosen range, its
    current state, error log and connectivity samples, then its ingest tokens for those who may manage them
    (nothing for a platform admin outside the household: ``telemetry.access``)."""
    if not in_household(page.uow, device.home_id):
        return Markup("")
    driver = await page.uow.driver()
    series_service = SeriesService(page.uow, driver)
    metrics = await series_service.metrics(device.id)
    chosen = _range(page)
    asked = page.request.query_params.get("metric") or ""
    known = [m["metric"] for m in metrics]
    default = DASHBOARD_METRIC if DASHBOARD_METRIC in known else known[0] if known else None
    metric = asked if asked in known else default
    chart = None
    interval = None
    if metric is not None:
        try:
            body = await series_service.device_series(
                device.id, _query(page, metric, chosen.span, chosen.device_interval)
            )
        except BadSeriesQuery:  # too many raw points for one answer: 5-minute averages instead
            body = await series_service.device_series(device.id, _query(page, metric, chosen.span, "5m"))
        interval = body["interval"]
        chart = _series_chart(
            "device-chart",
            metric_label(metric),
            body,
            [{"device_id": device.id, "ts": body["ts"], "values": body["values"]}],
            {device.id: metric_label(metric)},
        )
    write = page.can(device.home_id, "member")
    tokens = await TokenService(page.uow).list_for_device(device.id) if write else []
    records = await _device_records(page, device)
    return page.fragment(
        "telemetry/device_panel.html",
        device=device,
        metrics=metrics,
        metric=metric,
        chart=chart,
        interval=interval,
        chosen=chosen,
        ranges=RANGES.values(),
        metric_label=metric_label,
        link=lambda **params: page.url(
            f"/devices/{device.id}",
            **{
                "metric": metric,
                "range": chosen.key,
                "min_severity": records["min_severity"],
                "error_cursor": records["error_cursor"],
                **params,
            },
        ),
        write=write,
        tokens=[t for t in tokens if t.revoked_at is None],
        revoked=sum(1 for t in tokens if t.revoked_at is not None),
        created=getattr(page.request.state, "telemetry_token", None),
        form=page.state,
        back=f"/devices/{device.id}#ingest-tokens",
        **records,
        **_labels(),
    )


def local_clock(ts: datetime, timezone: str) -> tuple[str, str]:
    """The day and the time of ``ts`` in the home's time zone, each short and in the page's language (a
    narrow table shows them on two lines)."""
    return fmt_date(ts.astimezone(ZoneInfo(timezone)), "short"), fmt_time(ts, timezone)


def _min_severity(page: Page) -> Severity | None:
    """The error log's filter (``?min_severity=``): None (every entry) when absent or not a severity."""
    try:
        return Severity(page.request.query_params.get("min_severity") or "")
    except ValueError:
        return None


async def _device_records(page: Page, device: DeviceOut) -> dict[str, Any]:
    """The device's current state, a page of its error log (newest first, from ``?min_severity=`` up, the page
    after ``?error_cursor=``) and its newest connectivity samples: the ``RecordsService`` calls of the API."""
    records = RecordsService(page.uow, await page.uow.driver())
    at_least = _min_severity(page)
    cursor = (page.request.query_params.get("error_cursor") or "")[:512] or None
    bad_cursor = False
    try:
        errors = await records.error_logs(
            device.id, PageParams(limit=ERROR_LOG_ROWS, cursor=cursor), min_severity=at_least
        )
    except InvalidCursor:  # a link altered or from elsewhere: the first page, saying so
        bad_cursor, cursor = True, None
        errors = await records.error_logs(device.id, PageParams(limit=ERROR_LOG_ROWS), min_severity=at_least)
    network = await records.network_metrics(
        device.id, PageParams(limit=NETWORK_ROWS), start=page.uow.now() - NETWORK_SPAN
    )
    samples = network["items"]
    timezone = (await HomeService(page.uow).get(device.home_id)).timezone
    return {
        "current": await records.current_state(device.id),
        "timezone": timezone,
        "local_clock": lambda ts: local_clock(ts, timezone),
        "errors": errors["items"],
        "errors_next": errors["next_cursor"],
        "error_cursor": cursor,
        "bad_cursor": bad_cursor,
        "min_severity": at_least.value if at_least else None,
        "severities": [s.value for s in SEVERITIES],
        "samples": samples,
        "samples_more": network["next_cursor"] is not None,
        # The columns of the connectivity table: those some sample has a value for.
        "network_columns": [
            c
            for c in ("connected", "rssi_dbm", "link_quality", "latency_ms", "packet_loss_pct")
            if any(s[c] is not None for s in samples)
        ],
    }


# --- the home panel and the home's tokens --------------------------------------------------------------------
async def home_panel(page: Page, home: HomeOut) -> Markup:
    """The home's figures with a link to its dashboard, then its ingest tokens for those who may manage them
    (nothing for a platform admin outside the household: ``telemetry.access``)."""
    if not in_household(page.uow, home.id):
        return Markup("")
    summary = await DashboardService(page.uow, await page.uow.driver()).dashboard(home.id)
    write = page.can(home.id, "member")
    tokens = await TokenService(page.uow).list_for_home(home.id) if write else []
    names = await _device_names(page, home.id) if tokens else {}
    return page.fragment(
        "telemetry/home_panel.html",
        home=home,
        summary=summary,
        write=write,
        tokens=[t for t in tokens if t.revoked_at is None],
        revoked=sum(1 for t in tokens if t.revoked_at is not None),
        scope=lambda token: token_scope(token, names),
        form=page.state,
        **_labels(),
    )


async def _tokens_page(
    page: Page,
    home_id: uuid.UUID,
    *,
    created: TokenCreated | None = None,
    form: FormState = NO_FORM,
    status: int = 200,
) -> Response:
    home = await HomeService(page.uow).get(home_id)
    write = page.can(home_id, "member")
    tokens = await TokenService(page.uow).list_for_home(home_id) if write else []
    names = await _device_names(page, home_id) if tokens else {}
    return page.render(
        "telemetry/tokens.html",
        status=status,
        home=home,
        write=write,
        tokens=[t for t in tokens if t.revoked_at is None],
        revoked=sum(1 for t in tokens if t.revoked_at is not None),
        scope=lambda token: token_scope(token, names),
        created=created,
        form=form,
        back=f"/homes/{home_id}/ingest-tokens",
        **_labels(),
    )


@router.get("/homes/{home_id}/ingest-tokens")
async def home_tokens(page: SignedInPage, home_id: uuid.UUID) -> Response:
    return await _tokens_page(page, home_id)


def _token_in(page: Page) -> TokenIn:
    assert page.form is not None
    data: TokenIn = form_model(TokenIn, page.form, fields=("name",))
    return data


@router.post("/homes/{home_id}/ingest-tokens")
async def create_home_token(page: SignedInPage, home_id: uuid.UUID) -> Response:
    try:
        data = _token_in(page)
        created = await page.submit(lambda: TokenService(page.uow).create_for_home(home_id, data))
    except FormError as exc:
        return await _tokens_page(
            page, home_id, form=FormState.failed("ingest-token", page.form, exc), status=exc.status
        )
    # The secret is shown once, on this answer (only its hash is stored): no redirect.
    return await _tokens_page(page, home_id, created=created)


async def _show_created(page: Page, created: TokenCreated) -> Response:
    if created.device_id is not None:
        page.request.state.telemetry_token = created
        return await render_device_page(page, created.device_id)
    return await _tokens_page(page, created.home_id, created=created)


@router.post("/devices/{device_id}/ingest-tokens")
async def create_device_token(page: SignedInPage, device_id: uuid.UUID) -> Response:
    try:
        data = _token_in(page)
        created = await page.submit(lambda: TokenService(page.uow).create_for_device(device_id, data))
    except FormError as exc:
        return await render_device_page(
            page, device_id, FormState.failed("ingest-token", page.form, exc), exc.status
        )
    return await _show_created(page, created)


@router.post("/ingest-tokens/{token_id}/rotate")
async def rotate_token(page: SignedInPage, token_id: uuid.UUID) -> Response:
    created = await TokenService(page.uow).rotate(token_id)
    return await _show_created(page, created)


@router.post("/ingest-tokens/{token_id}/revoke")
async def revoke_token(page: SignedInPage, token_id: uuid.UUID) -> Response:
    await TokenService(page.uow).revoke(token_id)
    assert page.form is not None
    back = page.form.get("next")
    return page.redirect(
        safe_next(back if isinstance(back, str) else None),
        flash=_("The token was revoked; the devices using it can no longer send data."),
    )


def token_scope(token: TokenOut, names: dict[uuid.UUID, str]) -> str:
    if token.device_id is None:
        return _("Any device of the home")
    return _("Device: %(name)s", name=names.get(token.device_id, str(token.device_id)[:8]))


# --- the chart library -----------------------------------------------------------------------------------------
def _uplot_static() -> Path | None:
    """The folder of uPlot's files inside the installed ``uplot-python`` package (found without importing it:
    its ``__init__`` imports numpy and IPython, which the app has no use for)."""
    spec = importlib.util.find_spec("uplot")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "static"
        if (folder / "uPlot.iife.js").is_file() and (folder / "uPlot.min.css").is_file():
            return folder
    return None


UPLOT_STATIC = _uplot_static()

pages = Pages.of(
    __file__,
    "telemetry",
    router=router,
    panels=(Panel("device", device_panel, order=15), Panel("home", home_panel, order=50)),
    messages=MESSAGES,
)
# uPlot's own files, served from the package as /static/uplot/uPlot.iife.js and /static/uplot/uPlot.min.css.
uplot_assets = Pages(name="uplot", static=UPLOT_STATIC)

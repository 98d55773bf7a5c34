from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from homeops.core.schemas import Out, StrictIn

TokenName = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Agg = Literal["avg", "min", "max", "sum", "count", "last"]
Source = Literal["raw", "hourly", "daily"]


class TokenIn(StrictIn):
    name: TokenName = "ingest token"


class TokenOut(Out):
    id: uuid.UUID
    name: str
    home_id: uuid.UUID
    device_id: uuid.UUID | None
    scope: Literal["device", "home"]
    token_hint: str = Field(description="The first characters of the token, to tell tokens apart.")
    created_by: uuid.UUID | None
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The secret, shown this once: send it as `Authorization: Bearer <token>`.")


class IngestErrorOut(Out):
    line: int
    field: str | None = None
    error: str


class IngestOut(Out):
    kind: str
    accepted: int = Field(description="Points in the batch.")
    written: int = Field(description="Points stored (the rest were already stored: same device, metric, ts).")
    duplicates: int
    late: int = Field(description="Hourly buckets before the roll-up threshold that this batch touched.")
    devices: int


class GapOut(Out):
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")


_TS = (
    "Bucketed series (an `interval`): the start of every bucket of the range, in order. Raw points: the "
    "times of the points."
)
_VALUES = "One value per `ts`, in the same order; `null`: nothing measured in that bucket."


class SeriesOut(Out):
    """One device's series, as parallel arrays (columns, not one object per point)."""

    device_id: uuid.UUID
    ts: list[datetime] | None = Field(
        description="Raw points: the times of this series' points. `null` for bucketed series: their values "
        "line up with the response's `ts`."
    )
    values: list[float | None] = Field(description=_VALUES)
    gaps: list[GapOut]


class DeviceSeriesOut(Out):
    device_id: uuid.UUID
    home_id: uuid.UUID
    metric: str
    agg: Agg
    interval: str | None
    source: Source
    timezone: str
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    ts: list[datetime] = Field(description=_TS)
    values: list[float | None] = Field(description=_VALUES)
    gaps: list[GapOut]


class HomeSeriesOut(Out):
    home_id: uuid.UUID
    metric: str
    agg: Agg
    interval: str | None
    source: Source
    timezone: str
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    ts: list[datetime] | None = Field(
        description="Bucketed series: the start of every bucket of the range, shared by every series (each "
        "series' `values` line up with it). `null` for raw points: each series has its own `ts`."
    )
    series: list[SeriesOut]


class MetricOut(Out):
    metric: str
    last_ts: datetime
    last_value: float


class DeviceHealthOut(Out):
    device_id: uuid.UUID
    nickname: str
    is_online: bool | None
    last_seen_at: datetime | None
    scored_at: datetime | None
    score: int | None
    status: str | None
    factors: dict[str, Any] | None


class DashboardOut(Out):
    """``home_dashboard_summary`` with the home's ``device_health_summary`` (seed 004)."""

    home_id: uuid.UUID
    timezone: str
    generated_at: datetime
    devices: dict[str, Any]
    errors_24h: dict[str, int]
    energy_kwh: dict[str, float | None]
    health: dict[str, Any]
    device_health: list[DeviceHealthOut]


class EnergyDeviceDayOut(Out):
    device_id: uuid.UUID
    consumption_kwh: float
    readings: int
    resets: int
    gaps: int
    rejected: int
    flagged: bool


class EnergyDayOut(Out):
    day: date
    total_kwh: float | None
    flagged: bool
    devices: list[EnergyDeviceDayOut]


class EnergyDeviceTotalOut(Out):
    device_id: uuid.UUID
    nickname: str | None
    total_kwh: float
    flagged_days: int


class EnergyOut(Out):
    """``energy_usage_summary`` (seed 004): energy per local day and device, from the daily roll-ups."""

    home_id: uuid.UUID
    timezone: str
    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    total_kwh: float
    days: list[EnergyDayOut]
    devices: list[EnergyDeviceTotalOut]


# --- device records (telemetry.records) -------------------------------------------------------------------


class DeviceStateOut(Out):
    """One row of ``device_states``: the state the device reported at ``ts``."""

    ts: datetime
    state: str
    attributes: dict[str, Any] | None


class StateAttributeOut(Out):
    value: Any = Field(description="The attribute's newest value (any JSON value).")
    ts: datetime = Field(description="When the device reported it.")


class CurrentStateOut(Out):
    """A device's current state, derived from ``device_states``: its newest row, since when the device is in
    that state, and the newest value of each attribute key (the newest 1,000 rows of the last 30 days)."""

    device_id: uuid.UUID
    home_id: uuid.UUID
    state: str | None = Field(description="The newest state; null when the device never reported one.")
    reported_at: datetime | None = Field(description="When the newest state was reported.")
    since: datetime | None = Field(
        description="When the device entered this state (the first report of the current run), looked for in "
        "the last 30 days; null when the newest report is older."
    )
    since_exact: bool = Field(
        description="false: the device was in this state for the whole look-back, `since` is its oldest report "
        "within it."
    )
    attributes: dict[str, Any] | None = Field(description="The newest row's attributes.")
    latest_attributes: dict[str, StateAttributeOut] = Field(
        description="Each attribute key's newest value, wherever it was last reported."
    )


class ErrorLogOut(Out):
    """One row of ``device_error_logs``."""

    ts: datetime
    code: str
    severity: Literal["debug", "info", "warning", "error", "critical"]
    message: str | None
    context: dict[str, Any] | None


class NetworkMetricOut(Out):
    """One row of ``network_metrics``."""

    ts: datetime
    rssi_dbm: float | None
    link_quality: float | None
    latency_ms: float | None
    packet_loss_pct: float | None
    connected: bool | None

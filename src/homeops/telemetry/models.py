"""The telemetry tables of seed 004 (migration ``p015``).

Time series (distributed by ``home_id`` on a cluster, co-located with devices; keys lead with home and
device; range-partitioned by time — the partitions are made and dropped by database functions, they are not
models): ``device_telemetry``, ``device_states``, ``energy_usage``, ``device_error_logs``, ``network_metrics``
(raw, daily partitions), ``device_telemetry_hourly``, ``energy_usage_hourly`` (monthly), ``device_telemetry_daily``,
``energy_usage_daily`` (yearly), ``device_health_history`` (monthly), and ``rollup_invalidations`` (the buckets
late points touched).

Coordinator-local: ``ingest_tokens`` (found by hash), ``telemetry_rollup_state`` (watermark and threshold) and
``telemetry_partitions`` (which partitions exist).

No foreign keys from the time series to devices or homes: a per-row check would cost ingest its speed. A
batch's devices are checked once per batch (``homeops_ingest_devices``), and removing a device or a home takes
its series along (``telemetry.handlers``).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    REAL,
    BigInteger,
    Double,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from homeops.core.models import Base, pg_enum, uuid_pk


class Severity(enum.StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"
    critical = "critical"


severity_enum = pg_enum(Severity, "telemetry_severity")

_PARTITION_BY = "postgresql_partition_by"


class IngestToken(Base):
    """A device's (``device_id``) or a whole home's (``device_id`` NULL) ingest credential; only the SHA-256 of
    the secret is stored. Local to the coordinator on a cluster."""

    __tablename__ = "ingest_tokens"
    __table_args__ = (Index("ix_ingest_tokens_home_device", "home_id", "device_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    home_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"))
    device_id: Mapped[uuid.UUID | None]
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_hint: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class RollupState(Base):
    __tablename__ = "telemetry_rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    watermark: Mapped[datetime]
    threshold: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class TelemetryPartition(Base):
    __tablename__ = "telemetry_partitions"

    table_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    partition_name: Mapped[str] = mapped_column(String(63))
    range_start: Mapped[datetime] = mapped_column(primary_key=True)
    range_end: Mapped[datetime]


class _Series:
    home_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class DeviceTelemetry(_Series, Base):
    __tablename__ = "device_telemetry"
    __table_args__ = (
        Index("ix_device_telemetry_ts_brin", "ts", postgresql_using="brin"),
        {_PARTITION_BY: "RANGE (ts)"},
    )

    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    value: Mapped[float] = mapped_column(Double)


class DeviceState(_Series, Base):
    __tablename__ = "device_states"
    __table_args__ = ({_PARTITION_BY: "RANGE (ts)"},)

    ts: Mapped[datetime] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))


class EnergyUsage(_Series, Base):
    """Cumulative meter readings (kWh since the meter's zero); consumption is derived per bucket."""

    __tablename__ = "energy_usage"
    __table_args__ = (
        Index("ix_energy_usage_ts_brin", "ts", postgresql_using="brin"),
        {_PARTITION_BY: "RANGE (ts)"},
    )

    ts: Mapped[datetime] = mapped_column(primary_key=True)
    energy_kwh: Mapped[float] = mapped_column(Double)
    power_w: Mapped[float | None] = mapped_column(Double)


class DeviceErrorLog(_Series, Base):
    __tablename__ = "device_error_logs"
    __table_args__ = ({_PARTITION_BY: "RANGE (ts)"},)

    ts: Mapped[datetime] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    severity: Mapped[Severity] = mapped_column(severity_enum)
    message: Mapped[str | None] = mapped_column(Text)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))


class NetworkMetric(_Series, Base):
    __tablename__ = "network_metrics"
    __table_args__ = ({_PARTITION_BY: "RANGE (ts)"},)

    ts: Mapped[datetime] = mapped_column(primary_key=True)
    rssi_dbm: Mapped[float | None] = mapped_column(REAL)
    link_quality: Mapped[float | None] = mapped_column(REAL)
    latency_ms: Mapped[float | None] = mapped_column(REAL)
    packet_loss_pct: Mapped[float | None] = mapped_column(REAL)
    connected: Mapped[bool | None]


class _Stats:
    min_value: Mapped[float] = mapped_column(Double)
    max_value: Mapped[float] = mapped_column(Double)
    sum_value: Mapped[float] = mapped_column(Double)
    count: Mapped[int] = mapped_column(BigInteger)
    last_ts: Mapped[datetime]
    last_value: Mapped[float] = mapped_column(Double)


class TelemetryHourly(_Series, _Stats, Base):
    __tablename__ = "device_telemetry_hourly"
    __table_args__ = (
        Index("ix_device_telemetry_hourly_bucket_brin", "bucket", postgresql_using="brin"),
        {_PARTITION_BY: "RANGE (bucket)"},
    )

    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)


class TelemetryDaily(_Series, _Stats, Base):
    """One row per device, metric and *local* day of the home (its timezone)."""

    __tablename__ = "device_telemetry_daily"
    __table_args__ = ({_PARTITION_BY: "RANGE (day)"},)

    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)


class _Energy:
    consumption_kwh: Mapped[float] = mapped_column(Double)
    readings: Mapped[int] = mapped_column(Integer)
    resets: Mapped[int] = mapped_column(Integer)
    gaps: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    last_ts: Mapped[datetime]
    last_kwh: Mapped[float] = mapped_column(Double)


class EnergyHourly(_Series, _Energy, Base):
    __tablename__ = "energy_usage_hourly"
    __table_args__ = (
        Index("ix_energy_usage_hourly_bucket_brin", "bucket", postgresql_using="brin"),
        {_PARTITION_BY: "RANGE (bucket)"},
    )

    bucket: Mapped[datetime] = mapped_column(primary_key=True)


class EnergyDaily(_Series, _Energy, Base):
    __tablename__ = "energy_usage_daily"
    __table_args__ = ({_PARTITION_BY: "RANGE (day)"},)

    day: Mapped[date] = mapped_column(primary_key=True)


class DeviceHealth(_Series, Base):
    __tablename__ = "device_health_history"
    __table_args__ = ({_PARTITION_BY: "RANGE (ts)"},)

    ts: Mapped[datetime] = mapped_column(primary_key=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(16))
    factors: Mapped[dict[str, Any]] = mapped_column(JSONB)


class RollupInvalidation(_Series, Base):
    __tablename__ = "rollup_invalidations"
    __table_args__ = (Index("ix_rollup_invalidations_claim", "claim"),)

    source: Mapped[str] = mapped_column(String(1), primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    claim: Mapped[uuid.UUID | None]

"""Parsing and validating an ingest batch into PostgreSQL's binary COPY format, without the database.

A batch is a JSON array, a single JSON object or NDJSON (one object per line). Items of each kind:

| kind | item | |
|---|---|---|
| telemetry | ``{"device_id", "metric", "ts", "value"}`` | short form ``{"ts", "values": {"temperature": 21.5, …}}`` |
| states | ``{"device_id", "ts", "state", "attributes"?}`` | |
| energy | ``{"device_id", "ts", "energy_kwh", "power_w"?}`` | ``energy_kwh``: the meter's cumulative reading |
| errors | ``{"device_id", "ts", "code", "severity"?, "message"?, "context"?}`` | severity: debug … critical, default error |
| network | ``{"device_id", "ts", "rssi_dbm"?, "link_quality"?, "latency_ms"?, "packet_loss_pct"?, "connected"?}`` | at least one |

With a device's token ``device_id`` may be left out (it must be that device when given); ``ts`` is an ISO 8601
instant with an offset (``…Z``), or a number of seconds since 1970 (milliseconds when above 10¹¹); left out, it
is the time of receipt. A point later than ``MAX_FUTURE`` after receipt, or outside the stored range (the
partitions), is rejected.

**Fast path.** JSON is parsed by orjson in one call (NDJSON is joined into one array first); each item is then
checked and packed straight into a binary COPY row (``struct``) — no intermediate objects per point. Device
ids and metric names become small integers into per-batch dictionaries (``devices``, ``metrics``), so a row of
telemetry is 38 bytes; ISO timestamps repeated across the sensors of a batch are parsed once. The first
``MAX_ERRORS`` problems are reported with their line (NDJSON) or item (array) number, and a batch with any
problem writes nothing.
"""

from __future__ import annotations

import math
import re
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

KINDS = ("telemetry", "states", "energy", "errors", "network")
MAX_POINTS = 200_000
MAX_ERRORS = 20
MAX_FUTURE = timedelta(minutes=10)
SEVERITIES = ("debug", "info", "warning", "error", "critical")

_EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)
_UNIX_TO_2000_US = 946_684_800_000_000
_ONE_US = timedelta(microseconds=1)
_METRIC_RE = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")
_MAX_TEXT = {"state": 64, "code": 64, "message": 2000}

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
_NULL = struct.pack(">i", -1)
_TELEMETRY_ROW = struct.Struct(">hihihiqid").pack  # 4 fields: device idx, metric idx, ts, value
_FIELD_COUNT = struct.Struct(">h").pack
_INT16 = struct.Struct(">ih").pack
_INT64 = struct.Struct(">iq").pack
_FLOAT8 = struct.Struct(">id").pack
_FLOAT4 = struct.Struct(">if").pack
_BOOL = {True: struct.pack(">ib", 1, 1), False: struct.pack(">ib", 1, 0)}


class BatchInvalid(Exception):
    """The batch cannot be written; ``errors`` name the lines (or items) and fields."""

    def __init__(self, errors: list[dict[str, Any]], *, unit: str = "line") -> None:
        super().__init__(f"{len(errors)} invalid {unit}(s)")
        self.errors = errors
        self.unit = unit


@dataclass
class Scope:
    """What the ingest identity allows and the clock: the token's home and device, the stored time range."""

    home_id: uuid.UUID
    device_id: uuid.UUID | None
    now: datetime
    accept_from: datetime | None
    accept_until: datetime | None

    @property
    def bounds_us(self) -> tuple[int, int]:
        """Inclusive lower and exclusive upper bound of accepted timestamps (µs since 2000-01-01 UTC)."""
        lo = to_us(self.accept_from) if self.accept_from is not None else -(2**62)
        hi = to_us(self.now + MAX_FUTURE)
        if self.accept_until is not None:
            hi = min(hi, to_us(self.accept_until))
        return lo, hi


@dataclass
class Batch:
    """One kind's points, packed for ``COPY … FROM STDIN (FORMAT BINARY)`` into its staging table."""

    kind: str
    copy_data: bytes
    points: int
    devices: list[uuid.UUID]
    device_lines: dict[uuid.UUID, int]  # the first line naming each device (for "unknown device" errors)
    metrics: list[str] = field(default_factory=list)
    min_ts_us: int = 0


def to_us(value: datetime) -> int:
    """Microseconds since 2000-01-01 UTC (PostgreSQL's binary timestamptz)."""
    return (value - _EPOCH_2000) // _ONE_US


def to_datetime(us: int) -> datetime:
    return _EPOCH_2000 + timedelta(microseconds=us)


def split_items(body: bytes, *, ndjson: bool | None = None) -> tuple[list[Any], list[int] | None, str]:
    """The batch's items, their line numbers (None: item i is line/item i+1) and the unit the numbers count
    ("line" for NDJSON, "item" for a JSON array or object). ``ndjson`` None: a JSON document if the body is
    one, else NDJSON."""
    if not body.strip():
        raise BatchInvalid([{"line": 0, "error": "the body is empty"}])
    if not ndjson:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            if ndjson is False or b"\n" not in body.strip():
                raise BatchInvalid([{"line": 0, "error": f"malformed JSON: {exc}"}], unit="item") from None
        else:
            if isinstance(data, dict):
                return [data], None, "item"
            if not isinstance(data, list):
                raise BatchInvalid([{"line": 0, "error": "expected a JSON array or object"}], unit="item")
            return data, None, "item"
    lines = body.split(b"\n")
    numbers: list[int] | None = None
    if any(not line.strip() for line in lines):
        kept = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
        numbers = [n for n, _ in kept]
        lines = [line for _, line in kept]
    try:
        data = orjson.loads(b"[" + b",".join(lines) + b"]")
    except orjson.JSONDecodeError:
        errors = []
        for i, line in enumerate(lines):
            try:
                orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                errors.append({"line": numbers[i] if numbers else i + 1, "error": f"malformed JSON: {exc}"})
                if len(errors) >= MAX_ERRORS:
                    break
        raise BatchInvalid(errors or [{"line": 0, "error": "malformed NDJSON"}]) from None
    return data, numbers, "line"


class _Packer:
    """Shared per-batch state: the device and metric dictionaries, the ts cache, the errors."""

    def __init__(self, scope: Scope, numbers: list[int] | None) -> None:
        self.scope = scope
        self.numbers = numbers
        self.default_device = scope.device_id
        self.devices: list[uuid.UUID] = []
        self.device_index: dict[Any, int] = {}  # raw id text (or None) → 1-based index
        self.canonical: dict[uuid.UUID, int] = {}
        self.device_lines: dict[uuid.UUID, int] = {}
        self.metrics: list[str] = []
        self.metric_index: dict[str, int] = {}
        self.ts_cache: dict[Any, int] = {}
        self.lo, self.hi = scope.bounds_us
        self.now_us = to_us(scope.now)
        self.min_ts = 2**62
        self.errors: list[dict[str, Any]] = []

    def line(self, i: int) -> int:
        return self.numbers[i] if self.numbers else i + 1

    def fail(self, i: int, fld: str, message: str) -> None:
        self.errors.append({"line": self.line(i), "field": fld, "error": message})

    def device(self, i: int, raw: Any) -> int | None:
        if raw is not None and type(raw) is not str:
            self.fail(i, "device_id", "must be a UUID string")
            return None
        idx = self.device_index.get(raw)
        if idx is not None:
            return idx
        if raw is None:
            if self.default_device is None:
                self.fail(i, "device_id", "required with a home-wide token")
                return None
            value = self.default_device
        else:
            if not isinstance(raw, str):
                self.fail(i, "device_id", "must be a UUID string")
                return None
            try:
                value = uuid.UUID(raw)
            except ValueError:
                self.fail(i, "device_id", "must be a UUID string")
                return None
            if self.default_device is not None and value != self.default_device:
                self.fail(i, "device_id", "this token writes only its own device")
                return None
        idx = self.canonical.get(value)
        if idx is None:
            self.devices.append(value)
            idx = self.canonical[value] = len(self.devices)
            self.device_lines[value] = self.line(i)
        self.device_index[raw] = idx
        return idx

    def metric(self, i: int, raw: Any) -> int | None:
        idx = self.metric_index.get(raw) if type(raw) is str else None
        if idx is not None:
            return idx
        if not isinstance(raw, str) or not _METRIC_RE.match(raw):
            self.fail(i, "metric", "1-64 characters of letters, digits and _ . : / -")
            return None
        self.metrics.append(raw)
        idx = self.metric_index[raw] = len(self.metrics)
        return idx

    def ts(self, i: int, raw: Any) -> int | None:
        try:
            us = self.ts_cache.get(raw)
        except TypeError:  # a list or an object
            us = None
            raw = object()
        if us is None:
            if raw is None:
                us = self.now_us
            elif type(raw) is str:
                try:
                    parsed = datetime.fromisoformat(raw)
                except ValueError:
                    self.fail(i, "ts", "not an ISO 8601 timestamp")
                    return None
                if parsed.tzinfo is None:
                    self.fail(i, "ts", "needs a UTC offset (e.g. 2026-01-01T12:00:00Z)")
                    return None
                us = to_us(parsed)
            elif type(raw) is int or type(raw) is float:
                if not math.isfinite(raw) or raw < 0:
                    self.fail(i, "ts", "not a valid epoch time")
                    return None
                seconds = raw / 1000 if raw > 1e11 else raw
                if seconds > 1e11:
                    self.fail(i, "ts", "not a valid epoch time")
                    return None
                us = round(seconds * 1_000_000) - _UNIX_TO_2000_US
            else:
                self.fail(i, "ts", "an ISO 8601 string or a number of seconds")
                return None
            self.ts_cache[raw] = us
        if us >= self.hi:
            self.fail(i, "ts", "too far in the future" if us > self.now_us else "after the stored range")
            return None
        if us < self.lo:
            self.fail(i, "ts", f"older than the stored range (from {to_datetime(self.lo).isoformat()})")
            return None
        self.min_ts = min(self.min_ts, us)
        return us

    def full(self) -> bool:
        return len(self.errors) >= MAX_ERRORS

    def batch(self, kind: str, rows: list[bytes], points: int) -> Batch:
        return Batch(
            kind=kind,
            copy_data=COPY_HEADER + b"".join(rows) + COPY_TRAILER,
            points=points,
            devices=self.devices,
            device_lines=self.device_lines,
            metrics=self.metrics,
            min_ts_us=self.min_ts if points else 0,
        )


def _number(value: Any) -> float | None:
    """A finite JSON number as float (booleans are not numbers)."""
    t = type(value)
    if t is float:
        return value if value - value == 0 else None  # inf - inf and nan - nan are nan
    if t is int:
        try:
            return float(value)
        except OverflowError:
            return None
    return None


def _text(value: str) -> bytes:
    data = value.encode()
    return struct.pack(">i", len(data)) + data


def _jsonb(value: Any) -> bytes:
    data = b"\x01" + orjson.dumps(value)
    return struct.pack(">i", len(data)) + data


def parse_telemetry(items: list[Any], packer: _Packer) -> Batch:
    rows: list[bytes] = []
    append = rows.append
    pack = _TELEMETRY_ROW
    device, metric, stamp, fail = packer.device, packer.metric, packer.ts, packer.fail
    # Fast paths, inline: a device id, metric or timestamp text seen before in this batch (and found valid) is
    # a dictionary hit; the methods run only for the first occurrence or a problem.
    known_device, known_metric = packer.device_index.get, packer.metric_index.get
    valid_ts: dict[str, int] = {}
    known_ts = valid_ts.get
    errors = packer.errors
    points = 0
    for i, item in enumerate(items):
        if type(item) is not dict:
            fail(i, "", "each item must be a JSON object")
        else:
            raw = item.get("device_id")
            d = known_device(raw) if raw is None or type(raw) is str else None
            if d is None:
                d = device(i, raw)
            raw = item.get("ts")
            t = known_ts(raw) if type(raw) is str else None
            if t is None:
                t = stamp(i, raw)
                if t is not None and type(raw) is str:
                    valid_ts[raw] = t
            values = item.get("values")
            if values is None:
                raw = item.get("metric")
                m = known_metric(raw) if type(raw) is str else None
                if m is None:
                    m = metric(i, raw)
                v = item.get("value")
                if type(v) is not float or v - v != 0:  # not a finite float: an int, or a problem
                    v = _number(v)
                if v is None:
                    fail(i, "value", "must be a finite number")
                elif d is not None and t is not None and m is not None:
                    append(pack(4, 2, d, 2, m, 8, t, 8, v))
                    points += 1
            elif type(values) is not dict or not values:
                fail(i, "values", "must be an object of metric → number")
            else:
                for name, raw in values.items():
                    m = metric(i, name)
                    v = _number(raw)
                    if v is None:
                        fail(i, f"values.{name}", "must be a finite number")
                    elif d is not None and t is not None and m is not None:
                        append(pack(4, 2, d, 2, m, 8, t, 8, v))
                        points += 1
        if errors and packer.full():
            break
    return packer.batch("telemetry", rows, points)


def _optional_float(
    packer: _Packer, i: int, item: dict[str, Any], name: str, lo: float, hi: float
) -> tuple[bool, bytes]:
    raw = item.get(name)
    if raw is None:
        return False, _NULL
    v = _number(raw)
    if v is None or not lo <= v <= hi:
        packer.fail(i, name, f"must be a number between {lo:g} and {hi:g}")
        return False, _NULL
    return True, _FLOAT4(4, v)


def _text_field(packer: _Packer, i: int, item: dict[str, Any], name: str, *, required: bool) -> bytes | None:
    raw = item.get(name)
    if raw is None:
        if required:
            packer.fail(i, name, "required")
            return None
        return _NULL
    if not isinstance(raw, str) or not raw or len(raw) > _MAX_TEXT[name]:
        packer.fail(i, name, f"a non-empty string of at most {_MAX_TEXT[name]} characters")
        return None
    return _text(raw)


def _object_field(packer: _Packer, i: int, item: dict[str, Any], name: str) -> bytes | None:
    raw = item.get(name)
    if raw is None:
        return _NULL
    if not isinstance(raw, dict):
        packer.fail(i, name, "must be a JSON object")
        return None
    return _jsonb(raw)


def _generic(kind: str, row: Callable[[_Packer, int, dict[str, Any], int, int], bytes | None]) -> Any:
    def parse(items: list[Any], packer: _Packer) -> Batch:
        rows: list[bytes] = []
        for i, item in enumerate(items):
            if type(item) is not dict:
                packer.fail(i, "", "each item must be a JSON object")
            else:
                d = packer.device(i, item.get("device_id"))
                t = packer.ts(i, item.get("ts"))
                packed = row(packer, i, item, d or 0, t or 0)
                if packed is not None and d is not None and t is not None:
                    rows.append(packed)
            if packer.errors and packer.full():
                break
        return packer.batch(kind, rows, len(rows))

    return parse


def _state_row(packer: _Packer, i: int, item: dict[str, Any], d: int, t: int) -> bytes | None:
    state = _text_field(packer, i, item, "state", required=True)
    attributes = _object_field(packer, i, item, "attributes")
    if state is None or attributes is None:
        return None
    return _FIELD_COUNT(4) + _INT16(2, d) + _INT64(8, t) + state + attributes


def _energy_row(packer: _Packer, i: int, item: dict[str, Any], d: int, t: int) -> bytes | None:
    kwh = _number(item.get("energy_kwh"))
    if kwh is None or kwh < 0 or kwh > 1e12:
        packer.fail(i, "energy_kwh", "the meter's cumulative reading: a number ≥ 0")
        return None
    power = item.get("power_w")
    if power is None:
        power_field = _NULL
    else:
        p = _number(power)
        if p is None or abs(p) > 1e9:
            packer.fail(i, "power_w", "must be a finite number")
            return None
        power_field = _FLOAT8(8, p)
    return _FIELD_COUNT(4) + _INT16(2, d) + _INT64(8, t) + _FLOAT8(8, kwh) + power_field


def _error_row(packer: _Packer, i: int, item: dict[str, Any], d: int, t: int) -> bytes | None:
    code = _text_field(packer, i, item, "code", required=True)
    severity = item.get("severity", "error")
    if severity not in SEVERITIES:
        packer.fail(i, "severity", "one of " + ", ".join(SEVERITIES))
        return None
    message = _text_field(packer, i, item, "message", required=False)
    context = _object_field(packer, i, item, "context")
    if code is None or message is None or context is None:
        return None
    return _FIELD_COUNT(6) + _INT16(2, d) + _INT64(8, t) + code + _text(severity) + message + context


def _network_row(packer: _Packer, i: int, item: dict[str, Any], d: int, t: int) -> bytes | None:
    fields = [
        _optional_float(packer, i, item, "rssi_dbm", -150, 30),
        _optional_float(packer, i, item, "link_quality", 0, 100),
        _optional_float(packer, i, item, "latency_ms", 0, 3_600_000),
        _optional_float(packer, i, item, "packet_loss_pct", 0, 100),
    ]
    connected = item.get("connected")
    if connected is not None and type(connected) is not bool:
        packer.fail(i, "connected", "must be true or false")
        return None
    if not any(present for present, _ in fields) and connected is None:
        packer.fail(
            i, "", "needs at least one of rssi_dbm, link_quality, latency_ms, packet_loss_pct, connected"
        )
        return None
    tail = _NULL if connected is None else _BOOL[connected]
    return _FIELD_COUNT(7) + _INT16(2, d) + _INT64(8, t) + b"".join(f for _, f in fields) + tail


PARSERS: dict[str, Callable[[list[Any], _Packer], Batch]] = {
    "telemetry": parse_telemetry,
    "states": _generic("states", _state_row),
    "energy": _generic("energy", _energy_row),
    "errors": _generic("errors", _error_row),
    "network": _generic("network", _network_row),
}


def parse_batch(kind: str, body: bytes, scope: Scope, *, ndjson: bool | None = None) -> Batch:
    """The batch of ``kind`` in ``body``, checked against ``scope``; raises ``BatchInvalid`` naming the
    offending lines (and writes nothing: this happens before the database is asked to write)."""
    items, numbers, unit = split_items(body, ndjson=ndjson)
    return parse_items(kind, items, scope, numbers=numbers, unit=unit)


def parse_items(
    kind: str, items: list[Any], scope: Scope, *, numbers: list[int] | None = None, unit: str = "item"
) -> Batch:
    """``parse_batch`` on items already decoded (``split_items``): the MQTT subscriber decodes each message
    on receipt and packs the messages of one token together."""
    if len(items) > MAX_POINTS:
        raise BatchInvalid(
            [{"line": MAX_POINTS + 1, "error": f"at most {MAX_POINTS} items per batch"}], unit=unit
        )
    packer = _Packer(scope, numbers)
    batch = PARSERS[kind](items, packer)
    if packer.errors:
        raise BatchInvalid(packer.errors, unit=unit)
    if batch.points > MAX_POINTS:
        raise BatchInvalid([{"line": 0, "error": f"at most {MAX_POINTS} points per batch"}], unit=unit)
    return batch

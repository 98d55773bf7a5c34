"""The write path of every ingest batch (HTTP and MQTT): the token's identity, the batch's devices, one binary
COPY and one INSERT … SELECT under the row policies.

1. ``BEGIN; SELECT … FROM homeops_ingest_begin(<sha-256 of the token>)`` — one message: the transaction gets
   the token's narrow identity (its home, and its device if it has one; no user), holds the roll-up lock
   shared and learns the invalidation threshold and the stored time range (``parsing.Scope``).
2. The body is parsed and checked in Python (``homeops.telemetry.parsing``): nothing is written if any line
   is wrong.
3. ``homeops_ingest_devices(devices)`` — which of the batch's devices exist in the token's scope (an unknown
   one fails the batch, naming its first line).
4. ``COPY homeops_stage_<kind> FROM STDIN (FORMAT BINARY)`` — a temporary table of the connection (made once,
   ``ON COMMIT DELETE ROWS``): PostgreSQL refuses COPY into a table with row-level security for a role subject
   to it, so the rows go to a staging table first …
5. … and ``INSERT INTO <table> SELECT … FROM homeops_stage_<kind>``, where the row policies check every row
   against the ingest identity. Duplicates (same device, metric and ts) are skipped: on one server the plain
   INSERT runs under a savepoint and only a batch that meets a duplicate is redone with ``ON CONFLICT DO
   NOTHING`` (the conflict check costs ~70 % more per row); on Citus it always carries ``ON CONFLICT DO NOTHING``
   (Citus writes a plain INSERT … SELECT from a coordinator table with COPY to the shards, which row security
   refuses; with ON CONFLICT it ships the rows as intermediate results and inserts on each shard). There Citus
   reports the rows shipped, not those ON CONFLICT skipped, so ``written`` counts the shards' ``RETURNING 1``
   rows instead (``count(*)`` over the INSERT as a CTE: one row back).
6. Points older than the threshold record their hourly buckets in ``rollup_invalidations`` (the roll-up job
   re-aggregates exactly those), then COMMIT.
7. ``homeops_ingest_seen(token, devices, now)``, a statement of its own: the devices were seen (one UPDATE per
   batch, each device at most once a minute). Outside the batch's transaction because on Citus a write to
   ``devices`` by the function's owner would keep the app role's inserts off the co-located shards.
"""

from __future__ import annotations

import hashlib
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from homeops.telemetry.parsing import Batch, BatchInvalid, Scope, parse_batch, to_us

TOKEN_PREFIX = "hit_"

_STAGING: dict[str, tuple[str, str, str]] = {
    # kind: (staging table, its columns, the INSERT … SELECT that moves the rows into the real table)
    "telemetry": (
        "homeops_stage_telemetry",
        "(d int2, m int2, ts timestamptz, v float8)",
        (
            "INSERT INTO device_telemetry (home_id, device_id, metric, ts, value) "
            "SELECT %(home)s, (%(devices)s::uuid[])[s.d], (%(metrics)s::text[])[s.m], s.ts, s.v "
            "FROM homeops_stage_telemetry s"
        ),
    ),
    "states": (
        "homeops_stage_states",
        "(d int2, ts timestamptz, state text, attributes jsonb)",
        (
            "INSERT INTO device_states (home_id, device_id, ts, state, attributes) "
            "SELECT %(home)s, (%(devices)s::uuid[])[s.d], s.ts, s.state, s.attributes FROM homeops_stage_states s"
        ),
    ),
    "energy": (
        "homeops_stage_energy",
        "(d int2, ts timestamptz, kwh float8, power float8)",
        (
            "INSERT INTO energy_usage (home_id, device_id, ts, energy_kwh, power_w) "
            "SELECT %(home)s, (%(devices)s::uuid[])[s.d], s.ts, s.kwh, s.power FROM homeops_stage_energy s"
        ),
    ),
    "errors": (
        "homeops_stage_errors",
        "(d int2, ts timestamptz, code text, severity text, message text, context jsonb)",
        (
            "INSERT INTO device_error_logs (home_id, device_id, ts, code, severity, message, context) "
            "SELECT %(home)s, (%(devices)s::uuid[])[s.d], s.ts, s.code, s.severity::telemetry_severity, s.message, "
            "s.context FROM homeops_stage_errors s"
        ),
    ),
    "network": (
        "homeops_stage_network",
        "(d int2, ts timestamptz, rssi float4, lq float4, latency float4, loss float4, connected bool)",
        (
            "INSERT INTO network_metrics (home_id, device_id, ts, rssi_dbm, link_quality, latency_ms, packet_loss_pct, "
            "connected) SELECT %(home)s, (%(devices)s::uuid[])[s.d], s.ts, s.rssi, s.lq, s.latency, s.loss, "
            "s.connected FROM homeops_stage_network s"
        ),
    ),
}
_BUCKET = "date_bin('1 hour', s.ts, '2000-01-01 00:00:00+00')"
_INVALIDATE = {
    "telemetry": "INSERT INTO rollup_invalidations (home_id, device_id, source, metric, bucket, batch_id) "
    f"SELECT DISTINCT %(home)s, (%(devices)s::uuid[])[s.d], 't', (%(metrics)s::text[])[s.m], {_BUCKET}, "
    "%(batch)s FROM homeops_stage_telemetry s WHERE s.ts < %(threshold)s ON CONFLICT DO NOTHING",
    "energy": "INSERT INTO rollup_invalidations (home_id, device_id, source, metric, bucket, batch_id) "
    f"SELECT DISTINCT %(home)s, (%(devices)s::uuid[])[s.d], 'e', '', {_BUCKET}, %(batch)s "
    "FROM homeops_stage_energy s WHERE s.ts < %(threshold)s ON CONFLICT DO NOTHING",
}
_ON_CONFLICT = " ON CONFLICT DO NOTHING"
# On Citus the command tag of that INSERT … SELECT counts the rows shipped to the shards, not those the shards
# inserted; the rows the shards return are exact. ``RETURNING 1`` names no column, so it needs no SELECT right
# and no SELECT policy (the ingest identity has neither); one count comes back, not a row per point.
_COUNTED = "WITH w AS ({} RETURNING 1) SELECT count(*) FROM w"

# Connections whose staging tables exist (kept only once a transaction that made them committed).
_STAGED: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], set[str]] = weakref.WeakKeyDictionary()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX) and 20 <= len(token) <= 100 and token.isascii()


@dataclass(frozen=True)
class IngestIdentity:
    token_id: uuid.UUID
    home_id: uuid.UUID
    device_id: uuid.UUID | None
    threshold: datetime
    accept_from: datetime | None
    accept_until: datetime | None


@dataclass(frozen=True)
class IngestResult:
    kind: str
    accepted: int
    written: int
    late: int
    devices: int

    @property
    def duplicates(self) -> int:
        return self.accepted - self.written


class UnknownDevices(BatchInvalid):
    pass


async def begin(
    conn: psycopg.AsyncConnection[Any], token: str, *, kinds: tuple[str, ...] = ()
) -> IngestIdentity | None:
    """Opens the transaction with the token's identity (None, and no identity, for an unknown or revoked
    token). ``kinds``: the staging tables this transaction will use (made if this connection lacks them)."""
    digest = hash_token(token)  # hex: safe to place in the statement text
    made = _STAGED.get(conn, set())
    create = "".join(
        f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING[k][0]} {_STAGING[k][1]} ON COMMIT DELETE ROWS; "
        for k in kinds
        if k not in made
    )
    cursor = conn.cursor()
    await cursor.execute(
        (
            f"BEGIN; {create}SELECT token_id, home_id, device_id, threshold, accept_from, accept_until "
            f"FROM homeops_ingest_begin('{digest}')"
        ).encode()
    )
    while cursor.nextset():
        pass
    row = await cursor.fetchone()
    if row is None:
        return None
    return IngestIdentity(*row)


def scope_of(identity: IngestIdentity, now: datetime) -> Scope:
    return Scope(identity.home_id, identity.device_id, now, identity.accept_from, identity.accept_until)


async def write(
    conn: psycopg.AsyncConnection[Any],
    identity: IngestIdentity,
    batch: Batch,
    now: datetime,
    *,
    distributed: bool,
) -> IngestResult:
    """Writes a parsed batch in the open transaction (steps 3–6 of the module docstring; no COMMIT)."""
    if batch.points == 0:
        return IngestResult(batch.kind, 0, 0, 0, 0)
    cursor = conn.cursor()
    await cursor.execute("SELECT homeops_ingest_devices(%s::uuid[])", (batch.devices,))
    known = {r[0] for r in await cursor.fetchall()}
    unknown = [d for d in batch.devices if d not in known]
    if unknown:
        raise UnknownDevices(
            [
                {
                    "line": batch.device_lines[d],
                    "field": "device_id",
                    "error": f"no device {d} in this token's scope",
                }
                for d in unknown[:20]
            ]
        )
    table, _columns, insert = _STAGING[batch.kind]
    async with cursor.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)".encode()) as copy:
        await copy.write(batch.copy_data)
    params: dict[str, Any] = {"home": identity.home_id, "devices": batch.devices, "metrics": batch.metrics}
    if distributed:
        await cursor.execute(_COUNTED.format(insert + _ON_CONFLICT).encode(), params)
        counted = await cursor.fetchone()
        written = int(counted[0]) if counted else 0
    else:
        await cursor.execute(b"SAVEPOINT homeops_ingest")
        try:
            await cursor.execute(insert.encode(), params)
            written = cursor.rowcount
            await cursor.execute(b"RELEASE SAVEPOINT homeops_ingest")
        except pg_errors.UniqueViolation:
            await cursor.execute(b"ROLLBACK TO SAVEPOINT homeops_ingest")
            await cursor.execute((insert + _ON_CONFLICT).encode(), params)
            written = cursor.rowcount
    late = 0
    threshold_us = to_us(identity.threshold)
    if batch.kind in _INVALIDATE and batch.min_ts_us < threshold_us:
        invalidate = _INVALIDATE[batch.kind]
        late_params = {**params, "batch": uuid.uuid4(), "threshold": identity.threshold}
        if distributed:  # the same command-tag count on Citus: the buckets shipped, not those recorded
            await cursor.execute(_COUNTED.format(invalidate).encode(), late_params)
            counted = await cursor.fetchone()
            late = int(counted[0]) if counted else 0
        else:
            await cursor.execute(invalidate.encode(), late_params)
            late = max(cursor.rowcount, 0)
    return IngestResult(batch.kind, batch.points, max(written, 0), late, len(batch.devices))


async def mark_seen(conn: psycopg.AsyncConnection[Any], token: str, batch: Batch, now: datetime) -> None:
    """After the commit (autocommit statement): the batch's devices were seen now."""
    if batch.devices:
        await conn.execute(
            "SELECT homeops_ingest_seen(%s, %s::uuid[], %s)", (hash_token(token), batch.devices, now)
        )


def staged(conn: psycopg.AsyncConnection[Any], kinds: tuple[str, ...]) -> None:
    """After a commit: this connection's staging tables for ``kinds`` exist."""
    _STAGED.setdefault(conn, set()).update(kinds)


def forget(conn: psycopg.AsyncConnection[Any]) -> None:
    """After a rollback: the staging tables made in it are gone."""
    _STAGED.pop(conn, None)


async def ingest(
    conn: psycopg.AsyncConnection[Any],
    token: str,
    kind: str,
    body: bytes,
    now: datetime,
    *,
    distributed: bool,
    ndjson: bool | None = None,
) -> IngestResult | None:
    """One whole batch in its own transaction on ``conn`` (an autocommit-mode connection: the transaction is
    opened here): None when the token is not valid; raises ``BatchInvalid`` (rolled back) for a bad batch."""
    try:
        identity = await begin(conn, token, kinds=(kind,))
        if identity is None:
            await conn.rollback()
            forget(conn)
            return None
        batch = parse_batch(kind, body, scope_of(identity, now), ndjson=ndjson)
        result = await write(conn, identity, batch, now, distributed=distributed)
        await conn.commit()
    except BaseException:
        await _rollback(conn)
        raise
    staged(conn, (kind,))
    await mark_seen(conn, token, batch, now)
    return result


async def _rollback(conn: psycopg.AsyncConnection[Any]) -> None:
    forget(conn)
    try:
        await conn.rollback()
    except psycopg.Error:
        pass

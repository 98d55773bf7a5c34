"""telemetry: smart-home telemetry (seed 004): ingest tokens, time-partitioned raw tables, roll-ups, health, dashboards

**Placement.** Every time-series table is distributed by ``home_id`` on a cluster, co-located with rooms and
devices, and its primary key leads with the home and the device: ``(home_id, device_id, metric, ts)``. A home's
reads and the ingest of one batch reach one shard. The token lookup (``ingest_tokens``), the roll-up state and
the partition bookkeeping are local to the coordinator.

**Time partitions.** Raw tables (``device_telemetry``, ``device_states``, ``energy_usage``,
``device_error_logs``, ``network_metrics``) are range-partitioned by day, hourly roll-ups and the health history
by month, daily roll-ups by year (``PARTITIONS`` below; docs/scale-out.md has the measurement behind "day").
Partitions are made ahead by ``homeops_telemetry_ensure_partitions`` and dropped whole by
``homeops_telemetry_drop_partitions`` (retention); both are ``SECURITY DEFINER`` (partition DDL needs the
table owner) and executable by the worker only, with a pinned search path and fixed table names. No
default partition: ingest accepts only points inside the made range (``homeops_ingest_begin`` reports it).

**The ingest identity.** A device (or a home's gateway) sends data with an ingest token instead of a user's
password. ``homeops_ingest_begin(token_hash)`` finds the live token (one indexed lookup on the coordinator),
clears every user setting and sets only ``homeops.ingest_home`` and ``homeops.ingest_device`` (empty for a
home-wide token) with ``SET LOCAL``: the raw tables' INSERT policies accept rows of that home (and device) and
nothing else; no SELECT, UPDATE or DELETE policy reads these settings. ``homeops_ingest_devices`` tells which
of a batch's devices exist in that scope, and ``homeops_ingest_seen`` (after the commit) marks them seen
(``last_seen_at``/``is_online``, at most one write per device per minute) — the ingest identity has no grant
on ``devices`` beyond these functions.

**Roll-ups like continuous aggregates.** ``telemetry_rollup_state`` holds the materialization watermark and
the invalidation threshold. An ingest holds a shared advisory lock (taken by ``homeops_ingest_begin``) and
records, for its points older than the threshold, the touched hourly buckets in ``rollup_invalidations``; the
roll-up job advances the threshold under the exclusive lock (waiting for in-flight batches), then
aggregates ``[watermark, threshold)`` and re-aggregates exactly the invalidated buckets.

Revision ID: p015
Revises: p014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl
from homeops.core.config import WORKER_DB_ROLE
from homeops.core.ddl import IS_ADMIN, in_homes

revision: str = "p015"
down_revision: str | None = "p014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEVERITIES = ("debug", "info", "warning", "error", "critical")

# The advisory lock between ingest batches (shared) and the roll-up job's threshold advance (exclusive).
ROLLUP_LOCK = 7215001

# table, partition key, width, made behind/ahead of now, retention setting, default retention (days)
PARTITIONS: tuple[tuple[str, str, str, str, str, str, int], ...] = (
    ("device_telemetry", "ts", "day", "3 days", "3 days", "retention.telemetry_raw_days", 90),
    ("device_states", "ts", "day", "3 days", "3 days", "retention.telemetry_raw_days", 90),
    ("energy_usage", "ts", "day", "3 days", "3 days", "retention.telemetry_raw_days", 90),
    ("device_error_logs", "ts", "day", "3 days", "3 days", "retention.telemetry_raw_days", 90),
    ("network_metrics", "ts", "day", "3 days", "3 days", "retention.telemetry_raw_days", 90),
    (
        "device_telemetry_hourly",
        "bucket",
        "month",
        "3 days",
        "1 month",
        "retention.telemetry_hourly_days",
        730,
    ),
    ("energy_usage_hourly", "bucket", "month", "3 days", "1 month", "retention.telemetry_hourly_days", 730),
    ("device_telemetry_daily", "day", "year", "3 days", "1 month", "retention.telemetry_daily_days", 2555),
    ("energy_usage_daily", "day", "year", "3 days", "1 month", "retention.telemetry_daily_days", 2555),
    ("device_health_history", "ts", "month", "0 days", "1 month", "retention.device_health_days", 730),
)

_SETTINGS = (
    (
        "retention.telemetry_raw_days",
        "90",
        (
            "Raw telemetry, states, energy readings, error logs and network metrics "
            "are dropped (whole daily partitions) after (004: 90 days)"
        ),
    ),
    (
        "retention.telemetry_hourly_days",
        "730",
        "Hourly telemetry and energy roll-ups are dropped after (004: 2 years)",
    ),
    (
        "retention.telemetry_daily_days",
        "2555",
        "Daily telemetry and energy roll-ups are dropped after (004: 7 years)",
    ),
    ("retention.device_health_days", "730", "Device health history is dropped after (2 years)"),
)

_FUNCTIONS = (
    "homeops_ingest_begin(text)",
    "homeops_ingest_devices(uuid[])",
    "homeops_ingest_seen(text, uuid[], timestamptz)",
    "homeops_telemetry_ensure_partitions(timestamptz)",
    "homeops_telemetry_drop_partitions(timestamptz, boolean)",
    "homeops_telemetry_mark_offline(timestamptz)",
    "homeops_telemetry_advance_threshold(timestamptz)",
    "homeops_db_unused_indexes()",
    "homeops_db_table_bloat()",
    "homeops_db_slow_queries(integer)",
)

INGEST_HOME = "nullif(current_setting('homeops.ingest_home', true), '')::uuid"
INGEST_DEVICE = "nullif(current_setting('homeops.ingest_device', true), '')::uuid"
# What a row written under the ingest identity must satisfy: the token's home, and its device if it has one
# (spelled without IS NULL: Citus cannot deparse a NullTest in a policy).
INGEST_CHECK = f"home_id = {INGEST_HOME} AND device_id = coalesce({INGEST_DEVICE}, device_id)"

RAW = ("device_telemetry", "device_states", "energy_usage", "device_error_logs", "network_metrics")
ROLLUPS = ("device_telemetry_hourly", "device_telemetry_daily", "energy_usage_hourly", "energy_usage_daily")


def _key(*, metric: bool = False) -> list[sa.Column]:  # type: ignore[type-arg]
    cols: list[sa.Column] = [  # type: ignore[type-arg]
        sa.Column("home_id", sa.UUID(), nullable=False),
        sa.Column("device_id", sa.UUID(), nullable=False),
    ]
    if metric:
        cols.append(sa.Column("metric", sa.String(length=64), nullable=False))
    return cols


def _ts(name: str = "ts") -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _partitioned(table: str, *columns: sa.Column, pk: tuple[str, ...], by: str) -> None:  # type: ignore[type-arg]
    op.create_table(
        table,
        *columns,
        sa.PrimaryKeyConstraint(*pk, name=op.f(f"pk_{table}")),
        postgresql_partition_by=f"RANGE ({by})",
    )
    ddl.distributed_table(table, "home_id", colocate_with="rooms")


def upgrade() -> None:
    ddl.citus_session()
    op.execute(f"CREATE TYPE telemetry_severity AS ENUM ({', '.join(repr(s) for s in SEVERITIES)})")
    _local_tables()
    _raw_tables()
    _rollup_tables()
    op.create_table(
        "device_health_history",
        *_key(),
        _ts(),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("factors", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("home_id", "device_id", "ts", name=op.f("pk_device_health_history")),
        postgresql_partition_by="RANGE (ts)",
    )
    ddl.distributed_table("device_health_history", "home_id", colocate_with="rooms")
    op.create_table(
        "rollup_invalidations",
        *_key(),
        sa.Column("source", sa.String(length=1), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batch_id", sa.UUID(), nullable=False),
        sa.Column("claim", sa.UUID(), nullable=True),
        sa.PrimaryKeyConstraint(
            "home_id",
            "device_id",
            "source",
            "metric",
            "bucket",
            "batch_id",
            name=op.f("pk_rollup_invalidations"),
        ),
    )
    ddl.distributed_table("rollup_invalidations", "home_id", colocate_with="rooms")
    op.create_index("ix_rollup_invalidations_claim", "rollup_invalidations", ["claim"], unique=False)

    _functions()
    _grants_and_policies()
    _seed_settings()
    op.execute("SELECT homeops_telemetry_ensure_partitions(now())")


def _local_tables() -> None:
    op.create_table(
        "ingest_tokens",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("home_id", sa.UUID(), nullable=False),
        sa.Column("device_id", sa.UUID(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_hint", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["home_id"], ["homes.id"], name=op.f("fk_ingest_tokens_home_id_homes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_ingest_tokens_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_ingest_tokens_token_hash")),
    )
    # On the coordinator: the token hash is unique platform-wide and found in one indexed lookup by the
    # ingest identity function (like user_sessions and calendar_feeds).
    ddl.local_table("ingest_tokens")
    op.create_index("ix_ingest_tokens_home_device", "ingest_tokens", ["home_id", "device_id"], unique=False)

    op.create_table(
        "telemetry_rollup_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=False),
        sa.Column("threshold", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_telemetry_rollup_state")),
    )
    ddl.local_table("telemetry_rollup_state")
    op.execute(
        "INSERT INTO telemetry_rollup_state (name, watermark, threshold) VALUES "
        "('hourly', date_bin('1 hour', now(), '2000-01-01 00:00:00+00'), "
        "date_bin('1 hour', now(), '2000-01-01 00:00:00+00'))"
    )

    op.create_table(
        "telemetry_partitions",
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("partition_name", sa.String(length=63), nullable=False),
        sa.Column("range_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("range_end", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("table_name", "range_start", name=op.f("pk_telemetry_partitions")),
    )
    ddl.local_table("telemetry_partitions")


def _raw_tables() -> None:
    _partitioned(
        "device_telemetry",
        *_key(metric=True),
        _ts(),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        pk=("home_id", "device_id", "metric", "ts"),
        by="ts",
    )
    _partitioned(
        "device_states",
        *_key(),
        _ts(),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        pk=("home_id", "device_id", "ts"),
        by="ts",
    )
    _partitioned(
        "energy_usage",
        *_key(),
        _ts(),
        sa.Column("energy_kwh", sa.Float(precision=53), nullable=False),
        sa.Column("power_w", sa.Float(precision=53), nullable=True),
        pk=("home_id", "device_id", "ts"),
        by="ts",
    )
    _partitioned(
        "device_error_logs",
        *_key(),
        _ts(),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column(
            "severity",
            postgresql.ENUM(*SEVERITIES, name="telemetry_severity", create_type=False),
            nullable=False,
        ),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("context", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        pk=("home_id", "device_id", "ts", "code"),
        by="ts",
    )
    _partitioned(
        "network_metrics",
        *_key(),
        _ts(),
        sa.Column("rssi_dbm", sa.Float(precision=24), nullable=True),
        sa.Column("link_quality", sa.Float(precision=24), nullable=True),
        sa.Column("latency_ms", sa.Float(precision=24), nullable=True),
        sa.Column("packet_loss_pct", sa.Float(precision=24), nullable=True),
        sa.Column("connected", sa.Boolean(), nullable=True),
        pk=("home_id", "device_id", "ts"),
        by="ts",
    )
    # Time-only scans (the roll-up job's range, the health job's windows across every home) read the newest
    # hour or day of each partition: a BRIN on ts costs a few pages and skips the rest (rows arrive in time
    # order). Device reads use the primary key.
    for table in ("device_telemetry", "energy_usage"):
        op.create_index(f"ix_{table}_ts_brin", table, ["ts"], unique=False, postgresql_using="brin")


def _rollup_tables() -> None:
    def stats() -> list[sa.Column]:  # type: ignore[type-arg]
        return [
            sa.Column("min_value", sa.Float(precision=53), nullable=False),
            sa.Column("max_value", sa.Float(precision=53), nullable=False),
            sa.Column("sum_value", sa.Float(precision=53), nullable=False),
            sa.Column("count", sa.BigInteger(), nullable=False),
            sa.Column("last_ts", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_value", sa.Float(precision=53), nullable=False),
        ]

    _partitioned(
        "device_telemetry_hourly",
        *_key(metric=True),
        _ts("bucket"),
        *stats(),
        pk=("home_id", "device_id", "metric", "bucket"),
        by="bucket",
    )
    _partitioned(
        "device_telemetry_daily",
        *_key(metric=True),
        sa.Column("day", sa.Date(), nullable=False),
        *stats(),
        pk=("home_id", "device_id", "metric", "day"),
        by="day",
    )

    def energy() -> list[sa.Column]:  # type: ignore[type-arg]
        return [
            sa.Column("consumption_kwh", sa.Float(precision=53), nullable=False),
            sa.Column("readings", sa.Integer(), nullable=False),
            sa.Column("resets", sa.Integer(), nullable=False),
            sa.Column("gaps", sa.Integer(), nullable=False),
            sa.Column("rejected", sa.Integer(), nullable=False),
            sa.Column("last_ts", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_kwh", sa.Float(precision=53), nullable=False),
        ]

    _partitioned(
        "energy_usage_hourly",
        *_key(),
        _ts("bucket"),
        *energy(),
        pk=("home_id", "device_id", "bucket"),
        by="bucket",
    )
    _partitioned(
        "energy_usage_daily",
        *_key(),
        sa.Column("day", sa.Date(), nullable=False),
        *energy(),
        pk=("home_id", "device_id", "day"),
        by="day",
    )
    # The roll-up job finds the hours it just wrote (to recompute their days) by bucket across every home.
    for table in ("device_telemetry_hourly", "energy_usage_hourly"):
        op.create_index(f"ix_{table}_bucket_brin", table, ["bucket"], unique=False, postgresql_using="brin")


def _plan_values() -> str:
    return ", ".join(
        f"('{t}', '{key}', '{width}', interval '{behind}', interval '{ahead}', '{setting}', {days})"
        for t, key, width, behind, ahead, setting, days in PARTITIONS
    )


def _functions() -> None:
    plan = f"(VALUES {_plan_values()}) AS plan(tbl, part_key, width, behind, ahead, setting, default_days)"
    # The ingest identity (see the module docstring). Never inside an EXCEPTION block (Citus would forget the
    # SET LOCALs). The token's last use is written at most once a minute.
    op.execute(
        f"""
        CREATE FUNCTION homeops_ingest_begin(p_token_hash text)
        RETURNS TABLE (token_id uuid, home_id uuid, device_id uuid, threshold timestamptz,
                       accept_from timestamptz, accept_until timestamptz)
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE v ingest_tokens%ROWTYPE; v_threshold timestamptz; v_from timestamptz; v_until timestamptz;
        BEGIN
          PERFORM homeops_identity_reset();
          SELECT * INTO v FROM ingest_tokens t WHERE t.token_hash = p_token_hash AND t.revoked_at IS NULL;
          IF NOT FOUND THEN RETURN; END IF;
          EXECUTE format('SET LOCAL homeops.ingest_home = %L', v.home_id);
          EXECUTE format('SET LOCAL homeops.ingest_device = %L', coalesce(v.device_id::text, ''));
          PERFORM pg_advisory_xact_lock_shared({ROLLUP_LOCK});
          SELECT s.threshold INTO v_threshold FROM telemetry_rollup_state s WHERE s.name = 'hourly';
          SELECT min(p.range_start), max(p.range_end) INTO v_from, v_until
            FROM telemetry_partitions p WHERE p.table_name = 'device_telemetry';
          IF v.last_used_at IS NULL OR v.last_used_at < now() - interval '1 minute' THEN
            UPDATE ingest_tokens t SET last_used_at = now() WHERE t.id = v.id;
          END IF;
          RETURN QUERY SELECT v.id, v.home_id, v.device_id, v_threshold, v_from, v_until;
        END $$
        """
    )
    # The batch's devices that exist in the ingest scope (read only: on a cluster, a write to devices by the
    # function's owner would keep the app role's inserts off the co-located shards in the same transaction).
    op.execute(
        f"""
        CREATE FUNCTION homeops_ingest_devices(p_devices uuid[]) RETURNS SETOF uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ SELECT d.id FROM devices d
            WHERE d.home_id = {INGEST_HOME} AND d.id = ANY (p_devices)
              AND d.id = coalesce({INGEST_DEVICE}, d.id) $$
        """
    )
    # After the batch committed, in a statement of its own: its devices were seen (one UPDATE per batch, each
    # device at most once a minute; the index scan locks them in key order, so concurrent batches of one home
    # cannot deadlock). The token is looked up again: this transaction has no ingest identity.
    op.execute(
        """
        CREATE FUNCTION homeops_ingest_seen(p_token_hash text, p_devices uuid[], p_now timestamptz)
        RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE v ingest_tokens%ROWTYPE; n integer;
        BEGIN
          SELECT * INTO v FROM ingest_tokens t WHERE t.token_hash = p_token_hash AND t.revoked_at IS NULL;
          IF NOT FOUND OR p_now IS NULL OR p_now > now() + interval '1 day' THEN RETURN 0; END IF;
          UPDATE devices d SET last_seen_at = p_now, is_online = true
           WHERE d.home_id = v.home_id AND d.id = ANY (p_devices) AND d.id = coalesce(v.device_id, d.id)
             AND (d.last_seen_at IS NULL OR d.last_seen_at < p_now - interval '60 seconds'
                  OR d.is_online IS NOT TRUE);
          GET DIAGNOSTICS n = ROW_COUNT;
          RETURN n;
        END $$
        """
    )
    # Partitions ahead (and a few days behind, for late points on a fresh install), for the fixed tables of
    # the plan only. Bounds are UTC instants (dates for the daily roll-ups). p_now: the caller's clock, within a
    # day of the server's.
    op.execute(
        f"""
        CREATE FUNCTION homeops_telemetry_ensure_partitions(p_now timestamptz) RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE r record; lo timestamp; hi timestamp; stop timestamp; part text; made integer := 0;
        BEGIN
          IF p_now IS NULL OR abs(extract(epoch FROM p_now - now())) > 86400 THEN
            RAISE EXCEPTION 'p_now must be within a day of the server clock' USING ERRCODE = 'invalid_parameter_value';
          END IF;
          FOR r IN SELECT * FROM {plan} LOOP
            lo := date_trunc(r.width, (p_now - r.behind) AT TIME ZONE 'UTC');
            stop := (p_now + r.ahead) AT TIME ZONE 'UTC';
            WHILE lo <= stop LOOP
              hi := lo + ('1 ' || r.width)::interval;
              IF NOT EXISTS (SELECT 1 FROM telemetry_partitions p
                              WHERE p.table_name = r.tbl AND p.range_start = lo AT TIME ZONE 'UTC') THEN
                part := format('%s_p%s', r.tbl, to_char(lo, 'YYYYMMDD'));
                IF r.part_key = 'day' THEN
                  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                                 part, r.tbl, lo::date, hi::date);
                ELSE
                  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                                 part, r.tbl, to_char(lo, 'YYYY-MM-DD HH24:MI:SS') || '+00',
                                 to_char(hi, 'YYYY-MM-DD HH24:MI:SS') || '+00');
                END IF;
                INSERT INTO telemetry_partitions (table_name, partition_name, range_start, range_end)
                  VALUES (r.tbl, part, lo AT TIME ZONE 'UTC', hi AT TIME ZONE 'UTC');
                made := made + 1;
              END IF;
              lo := hi;
            END LOOP;
          END LOOP;
          RETURN made;
        END $$
        """
    )
    # Retention: whole partitions whose range ended before the table's window (system_settings, read here, so
    # the caller cannot ask for more). Roll-ups are kept at least as long as what they summarize. p_now may not
    # be later than the server's clock (plus a day: tests freeze clocks near it).
    op.execute(
        f"""
        CREATE FUNCTION homeops_telemetry_drop_partitions(p_now timestamptz, p_dry_run boolean)
        RETURNS TABLE (table_name text, partition_name text, range_start timestamptz, range_end timestamptz,
                       window_days integer)
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ #variable_conflict use_column
        DECLARE r record; v_raw integer; v_hourly integer; v_daily integer; v_days integer;
        BEGIN
          IF p_now IS NULL OR p_now > now() + interval '1 day' THEN
            RAISE EXCEPTION 'p_now may not be later than the server clock' USING ERRCODE = 'invalid_parameter_value';
          END IF;
          PERFORM set_config('lock_timeout', '10s', true);
          FOR r IN
            SELECT p.table_name, p.partition_name, p.range_start, p.range_end, plan.setting, plan.default_days
              FROM telemetry_partitions p JOIN {plan} ON plan.tbl = p.table_name
             ORDER BY p.table_name, p.range_start
          LOOP
            SELECT greatest(1, coalesce((SELECT floor(s.setting_value::numeric)::integer FROM system_settings s
                                          WHERE s.setting_key = r.setting), r.default_days))
              INTO v_days;
            IF r.setting = 'retention.telemetry_hourly_days' OR r.setting = 'retention.telemetry_daily_days' THEN
              SELECT greatest(1, coalesce((SELECT floor(s.setting_value::numeric)::integer FROM system_settings s
                                            WHERE s.setting_key = 'retention.telemetry_raw_days'), 90)) INTO v_raw;
              v_days := greatest(v_days, v_raw);
            END IF;
            IF r.setting = 'retention.telemetry_daily_days' THEN
              SELECT greatest(1, coalesce((SELECT floor(s.setting_value::numeric)::integer FROM system_settings s
                                            WHERE s.setting_key = 'retention.telemetry_hourly_days'), 730))
                INTO v_hourly;
              v_days := greatest(v_days, v_hourly);
            END IF;
            IF r.range_end <= p_now - make_interval(days => v_days) THEN
              IF NOT p_dry_run THEN
                EXECUTE format('DROP TABLE %I', r.partition_name);
                DELETE FROM telemetry_partitions p
                 WHERE p.table_name = r.table_name AND p.range_start = r.range_start;
              END IF;
              table_name := r.table_name; partition_name := r.partition_name;
              range_start := r.range_start; range_end := r.range_end; window_days := v_days;
              RETURN NEXT;
            END IF;
          END LOOP;
        END $$
        """
    )
    # Presence: devices not seen since p_before go offline (only that column).
    op.execute(
        """
        CREATE FUNCTION homeops_telemetry_mark_offline(p_before timestamptz) RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE n integer;
        BEGIN
          IF p_before IS NULL OR p_before > now() + interval '1 day' THEN
            RAISE EXCEPTION 'p_before may not be later than the server clock' USING ERRCODE = 'invalid_parameter_value';
          END IF;
          UPDATE devices SET is_online = false WHERE is_online AND last_seen_at < p_before;
          GET DIAGNOSTICS n = ROW_COUNT;
          RETURN n;
        END $$
        """
    )
    # The roll-up job's first step, in a transaction of its own: move the invalidation threshold forward
    # under the exclusive lock, which waits for the batches in flight (they hold it shared). From then on, a
    # point older than the new threshold is recorded as an invalidation by its batch, and every batch that
    # wrote without recording has committed. Returns the range to materialize: [watermark, threshold).
    op.execute(
        f"""
        CREATE FUNCTION homeops_telemetry_advance_threshold(p_threshold timestamptz)
        RETURNS TABLE (watermark timestamptz, threshold timestamptz)
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ #variable_conflict use_column
        BEGIN
          IF p_threshold IS NULL OR p_threshold > now() + interval '1 day' THEN
            RAISE EXCEPTION 'the threshold may not be later than the server clock'
              USING ERRCODE = 'invalid_parameter_value';
          END IF;
          PERFORM pg_advisory_xact_lock({ROLLUP_LOCK});
          UPDATE telemetry_rollup_state s SET threshold = greatest(s.threshold, p_threshold), updated_at = now()
           WHERE s.name = 'hourly';
          RETURN QUERY SELECT s.watermark, s.threshold FROM telemetry_rollup_state s WHERE s.name = 'hourly';
        END $$
        """
    )
    _monitoring_functions()


def _monitoring_functions() -> None:
    admin_only = (
        f"IF NOT ({IS_ADMIN}) THEN RAISE EXCEPTION 'platform admins only' "
        "USING ERRCODE = 'insufficient_privilege'; END IF;"
    )
    # Indexes never scanned since the statistics were reset; a partitioned index counts its partitions' scans.
    # Unique and primary keys enforce constraints and are not listed.
    op.execute(
        f"""
        CREATE FUNCTION homeops_db_unused_indexes()
        RETURNS TABLE (table_name text, index_name text, index_bytes bigint, scans bigint, partitions integer,
                       stats_since timestamptz)
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS
        $$ BEGIN
          {admin_only}
          RETURN QUERY
          WITH leaf AS (
            SELECT coalesce(pi.inhparent, s.indexrelid) AS idx, s.idx_scan, pg_relation_size(s.indexrelid) AS bytes
              FROM pg_stat_user_indexes s LEFT JOIN pg_inherits pi ON pi.inhrelid = s.indexrelid
             WHERE s.schemaname = 'public'
          )
          SELECT t.relname::text, c.relname::text, sum(l.bytes)::bigint, sum(l.idx_scan)::bigint,
                 count(*)::integer, (SELECT d.stats_reset FROM pg_stat_database d
                                      WHERE d.datname = current_database())
            FROM leaf l JOIN pg_class c ON c.oid = l.idx JOIN pg_index i ON i.indexrelid = l.idx
            JOIN pg_class t ON t.oid = i.indrelid
           WHERE NOT i.indisunique AND NOT i.indisprimary
           GROUP BY t.relname, c.relname
          HAVING sum(l.idx_scan) = 0
           ORDER BY sum(l.bytes) DESC, 1, 2;
        END $$
        """
    )
    # Dead rows and an estimate of wasted space per table (size minus live rows × their average width from
    # pg_stats, plus tuple headers); partitions are listed as themselves.
    op.execute(
        f"""
        CREATE FUNCTION homeops_db_table_bloat()
        RETURNS TABLE (table_name text, live_rows bigint, dead_rows bigint, dead_ratio double precision,
                       table_bytes bigint, estimated_bloat_bytes bigint, last_vacuum timestamptz,
                       last_autovacuum timestamptz)
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS
        $$ BEGIN
          {admin_only}
          RETURN QUERY
          SELECT s.relname::text, s.n_live_tup, s.n_dead_tup,
                 CASE WHEN s.n_live_tup + s.n_dead_tup = 0 THEN 0
                      ELSE s.n_dead_tup::double precision / (s.n_live_tup + s.n_dead_tup) END,
                 pg_table_size(s.relid),
                 greatest(0, pg_relation_size(s.relid) - (c.reltuples * (28 + coalesce(
                   (SELECT sum(st.avg_width) FROM pg_stats st
                     WHERE st.schemaname = 'public' AND st.tablename = s.relname), 0)))::bigint)::bigint,
                 s.last_vacuum, s.last_autovacuum
            FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
           WHERE s.schemaname = 'public'
           ORDER BY s.n_dead_tup DESC, pg_table_size(s.relid) DESC;
        END $$
        """
    )
    # Where pg_stat_statements is installed and loaded; otherwise one row saying why not.
    op.execute(
        f"""
        CREATE FUNCTION homeops_db_slow_queries(p_limit integer)
        RETURNS TABLE (available boolean, reason text, query text, calls bigint, total_ms double precision,
                       mean_ms double precision, max_ms double precision, rows_returned bigint)
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS
        $$ DECLARE v_schema text;
        BEGIN
          {admin_only}
          SELECT n.nspname INTO v_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
           WHERE e.extname = 'pg_stat_statements';
          IF NOT FOUND THEN
            RETURN QUERY SELECT false, 'the pg_stat_statements extension is not installed in this database '
              '(add it to shared_preload_libraries and CREATE EXTENSION pg_stat_statements)'::text,
              NULL::text, NULL::bigint, NULL::float8, NULL::float8, NULL::float8, NULL::bigint;
            RETURN;
          END IF;
          BEGIN
            RETURN QUERY EXECUTE format(
              'SELECT true, NULL::text, s.query, s.calls, s.total_exec_time, s.mean_exec_time, s.max_exec_time, '
              's.rows FROM %I.pg_stat_statements s WHERE s.dbid = (SELECT oid FROM pg_database '
              'WHERE datname = current_database()) ORDER BY s.mean_exec_time DESC LIMIT $1', v_schema)
              USING least(greatest(p_limit, 1), 500);
          EXCEPTION WHEN object_not_in_prerequisite_state OR undefined_function OR undefined_column THEN
            RETURN QUERY SELECT false, SQLERRM, NULL::text, NULL::bigint, NULL::float8, NULL::float8,
              NULL::float8, NULL::bigint;
          END;
        END $$
        """
    )


def _grants_and_policies() -> None:
    read = f"{in_homes('read')} OR {IS_ADMIN}"
    # Raw time series: the household reads (guests too) and deletes (a removed device or home takes its data
    # along); only the ingest identity inserts. The worker reads every home's (roll-ups, health).
    for table in RAW:
        ddl.grant(table, "SELECT, INSERT, DELETE", ddl.API_ROLES)
        ddl.enable_rls(table)
        ddl.policy(table, f"{table}_select", "SELECT", using=read)
        ddl.policy(table, f"{table}_ingest", "INSERT", check=INGEST_CHECK)
        ddl.policy(table, f"{table}_delete", "DELETE", using=in_homes("write"))
        ddl.worker_access(table, "SELECT")
    # Roll-ups: written by the roll-up job only (INSERT … ON CONFLICT DO UPDATE), read by the household.
    for table in ROLLUPS:
        ddl.grant(table, "SELECT, DELETE", ddl.API_ROLES)
        ddl.enable_rls(table)
        ddl.policy(table, f"{table}_select", "SELECT", using=read)
        ddl.policy(table, f"{table}_delete", "DELETE", using=in_homes("write"))
        ddl.worker_access(table, "SELECT, INSERT, UPDATE")
    ddl.grant("device_health_history", "SELECT, DELETE", ddl.API_ROLES)
    ddl.enable_rls("device_health_history")
    ddl.policy("device_health_history", "device_health_history_select", "SELECT", using=read)
    ddl.policy("device_health_history", "device_health_history_delete", "DELETE", using=in_homes("write"))
    ddl.worker_access("device_health_history", "SELECT, INSERT")
    # Touched buckets: recorded by ingest batches, consumed by the roll-up job.
    ddl.grant("rollup_invalidations", "INSERT", ddl.API_ROLES)
    ddl.enable_rls("rollup_invalidations")
    ddl.policy("rollup_invalidations", "rollup_invalidations_ingest", "INSERT", check=INGEST_CHECK)
    ddl.worker_access("rollup_invalidations", "SELECT, INSERT, UPDATE (claim), DELETE")

    # Tokens: managed by the home's members (not guests: a token writes the home's data).
    ddl.grant("ingest_tokens", "SELECT, INSERT, UPDATE, DELETE")
    ddl.enable_rls("ingest_tokens")
    member = in_homes("write")
    ddl.policy("ingest_tokens", "ingest_tokens_select", "SELECT", using=member)
    ddl.policy("ingest_tokens", "ingest_tokens_insert", "INSERT", check=member)
    ddl.policy("ingest_tokens", "ingest_tokens_update", "UPDATE", using=member, check=member)
    ddl.policy("ingest_tokens", "ingest_tokens_delete", "DELETE", using=member)

    ddl.enable_rls("telemetry_rollup_state")
    ddl.worker_access("telemetry_rollup_state", "SELECT, UPDATE (watermark)")
    # Reads combine the roll-ups below the watermark with raw rows above it: the API reads the watermark.
    ddl.grant("telemetry_rollup_state", "SELECT")
    ddl.policy(
        "telemetry_rollup_state",
        "telemetry_rollup_state_select",
        "SELECT",
        using="true",
        roles=ddl.APP_DB_ROLE,
    )
    ddl.enable_rls("telemetry_partitions")  # the partition functions only

    for fn in (
        "homeops_ingest_begin(text)",
        "homeops_ingest_devices(uuid[])",
        "homeops_ingest_seen(text, uuid[], timestamptz)",
    ):
        ddl.function_grant(fn, ddl.API_ROLES)
    for fn in (
        "homeops_telemetry_ensure_partitions(timestamptz)",
        "homeops_telemetry_drop_partitions(timestamptz, boolean)",
        "homeops_telemetry_mark_offline(timestamptz)",
        "homeops_telemetry_advance_threshold(timestamptz)",
    ):
        ddl.function_grant(fn, WORKER_DB_ROLE)
    for fn in ("homeops_db_unused_indexes()", "homeops_db_table_bloat()", "homeops_db_slow_queries(integer)"):
        ddl.function_grant(fn)


def _seed_settings() -> None:
    ddl.retention_settings(_SETTINGS)


def downgrade() -> None:
    ddl.citus_session()
    for fn in _FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {fn}")
    op.execute(
        "DELETE FROM system_settings WHERE setting_key IN ("
        + ", ".join(f"'{k}'" for k, _, _ in _SETTINGS)
        + ")"
    )
    for table in (
        "rollup_invalidations",
        "device_health_history",
        *ROLLUPS,
        *RAW,
        "telemetry_partitions",
        "telemetry_rollup_state",
        "ingest_tokens",
    ):
        op.drop_table(table)
    op.execute("DROP TYPE IF EXISTS telemetry_severity")

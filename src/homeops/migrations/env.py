"""Alembic environment: runs as the database owner; the DDL for RLS, triggers and partitions lives here."""

from __future__ import annotations

import re
from typing import Any

from alembic import context
from sqlalchemy import create_engine, pool

from homeops.domains import metadata as _all_metadata

metadata = _all_metadata()

config = context.config

# Partitions are created by SQL in the migrations (and at run time); they are not models.
_PARTITION_RE = re.compile(
    r"^(audit_logs_(p\d{6}|default)"
    r"|(device_telemetry|device_telemetry_hourly|device_telemetry_daily|device_states|energy_usage"
    r"|energy_usage_hourly|energy_usage_daily|device_error_logs|network_metrics|device_health_history)_p\d{8})$"
)


# Created only when the server has pgvector; not a model.
_UNMODELLED = {"manual_chunk_embeddings"}


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    return not (type_ == "table" and name is not None and (_PARTITION_RE.match(name) or name in _UNMODELLED))


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not configured"
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_name=include_name,
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run `homeops db upgrade`")
run_migrations_online()

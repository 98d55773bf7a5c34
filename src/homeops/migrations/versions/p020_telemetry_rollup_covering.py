"""telemetry: the roll-ups' primary keys carry the statistics (INCLUDE), so a chart is an index-only read

A 30-day hourly chart of 50 sensors reads 36,050 rows of ``device_telemetry_hourly``. Per device that is a walk
of the primary key ``(home_id, device_id, metric, bucket)`` in time order; with the row's statistics in the
key's leaf entries (``INCLUDE (min_value, max_value, sum_value, count, last_ts, last_value)``), no heap page is
visited: 26.7 → 18.9 ms for that statement, measured side by side on the benchmark's data (2.6M hourly rows).
The same for ``device_telemetry_daily``. Replacing the key (rather than adding a covering index beside it)
keeps one index to maintain for the roll-up job's upserts; the key columns, and so ``ON CONFLICT``, are unchanged.
Partitions made later (``homeops_telemetry_ensure_partitions``) inherit the parent's key. On Citus the
constraint is replaced on every shard (distribution column first, as before).

The rebuild takes the tables' ACCESS EXCLUSIVE lock while it runs (the roll-ups only: raw tables untouched):
seconds at the benchmark's scale. Downgrade restores the plain keys.

Revision ID: p020
Revises: p019
"""

from collections.abc import Sequence

from alembic import op

from homeops.core import ddl

revision: str = "p020"
down_revision: str | None = "p019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = {
    "device_telemetry_hourly": "home_id, device_id, metric, bucket",
    "device_telemetry_daily": "home_id, device_id, metric, day",
}
STATS = "min_value, max_value, sum_value, count, last_ts, last_value"


def _keys(include: str) -> None:
    ddl.citus_session()
    for table, key in KEYS.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key}){include}")


def upgrade() -> None:
    _keys(f" INCLUDE ({STATS})")


def downgrade() -> None:
    _keys("")

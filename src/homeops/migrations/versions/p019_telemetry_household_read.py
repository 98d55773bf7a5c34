"""telemetry: the household reads its time series; the read policies lose the platform-admin arm

Every time-series table of seed 004 (raw: ``device_telemetry``, ``device_states``, ``energy_usage``,
``device_error_logs``, ``network_metrics``; roll-ups: ``device_telemetry_hourly`` / ``_daily``,
``energy_usage_hourly`` / ``_daily``; ``device_health_history``) was readable by the home's members and guests
*or* a platform admin (p015: ``home_id = ANY (<homes_read>) OR <role> = 'admin'``). Now only by the household:
``home_id = ANY (<homes_read>)``.

* **Privacy.** These are a household's sensor streams (when someone is home, what runs when). A platform admin
  still sees the home and its devices (their own policies keep the admin arm), not what the devices measured;
  support that needs the readings is invited into the home as a guest, like anyone else. The seed asks for
  "home-based data isolation" with a service-role bypass for the backend: the worker keeps its own policies.
* **Speed.** With the ``OR``, the condition cannot be an index condition, so PostgreSQL evaluated it — two
  ``current_setting`` calls and a ``uuid[]`` parse — for every row read: +45 ms on the 36,050 roll-up rows of a
  30-day hourly chart of 50 sensors (79 ms as the API role vs 31 ms as the owner, measured side by side). Alone,
  ``home_id = ANY (<homes_read>)`` is an index condition on the primary key (it leads with ``home_id``),
  computed once per index scan: the API role's statement costs what the owner's does (34 vs 31 ms).

Still no sub-select and no table read in a policy (Citus distributes them as before). Downgrade restores p015's.

Revision ID: p019
Revises: p018
"""

from collections.abc import Sequence

from alembic import op

from homeops.core import ddl
from homeops.core.ddl import IS_ADMIN, in_homes

revision: str = "p019"
down_revision: str | None = "p018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIES = (
    "device_telemetry",
    "device_states",
    "energy_usage",
    "device_error_logs",
    "network_metrics",
    "device_telemetry_hourly",
    "device_telemetry_daily",
    "energy_usage_hourly",
    "energy_usage_daily",
    "device_health_history",
)


def _read_policies(using: str) -> None:
    ddl.citus_session()
    for table in SERIES:
        op.execute(f"DROP POLICY {table}_select ON {table}")
        ddl.policy(table, f"{table}_select", "SELECT", using=using)


def upgrade() -> None:
    _read_policies(in_homes("read"))


def downgrade() -> None:
    _read_policies(f"{in_homes('read')} OR {IS_ADMIN}")

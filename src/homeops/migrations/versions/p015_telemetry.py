"""telemetry: smart-home telemetry (seed 004): ingest tokens, time-partitioned raw tables, roll-ups, health, dashboards

(Placeholder: filled in by the telemetry domain's work.)

Revision ID: p015
Revises: p014
"""

from collections.abc import Sequence

from homeops.core import ddl

revision: str = "p015"
down_revision: str | None = "p014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ddl.citus_session()


def downgrade() -> None:
    ddl.citus_session()

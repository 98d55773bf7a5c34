"""marketplace: the home-services marketplace (seed 002): providers, diagnostics, requests, quotes, projects, chat, ratings

(Placeholder: filled in by the marketplace domain's work.)

Revision ID: p014
Revises: p013
"""

from collections.abc import Sequence

from homeops.core import ddl

revision: str = "p014"
down_revision: str | None = "p013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ddl.citus_session()


def downgrade() -> None:
    ddl.citus_session()

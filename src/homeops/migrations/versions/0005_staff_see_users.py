"""staff (support, technicians, managers, admins) may read user accounts: ticket owners and assignees

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = (
    "id = (SELECT homeops_uid()) OR id IN (SELECT homeops_home_mate_ids()) OR (SELECT homeops_is_admin())"
)


def upgrade() -> None:
    op.execute(f"ALTER POLICY users_select ON users USING ({_BEFORE} OR (SELECT homeops_is_staff()))")


def downgrade() -> None:
    op.execute(f"ALTER POLICY users_select ON users USING ({_BEFORE})")

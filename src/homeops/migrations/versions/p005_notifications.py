"""notifications: one table for in-app (and e-mailed) notifications, distributed by its recipient (user_id) —
the first table of the user-keyed co-location group

Every lookup names the recipient: the caller's own list (``user_id = me``), a read/delete by (user_id, id), the
worker's delivery update by (user_id, id), the de-duplication key per user. So each is a single-shard query
on a cluster; there is no platform-wide unique key on ``id`` any more (the primary key (user_id, id) serves).

Revision ID: p005
Revises: p004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl
from homeops.core.config import APP_DB_ROLE
from homeops.core.ddl import UID, setting

revision: str = "p005"
down_revision: str | None = "p004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRIORITIES = ("low", "normal", "high", "urgent")
# The transaction has an identity. (Not ``UID IS NOT NULL``: Citus cannot propagate a policy with IS [NOT] NULL
# over an expression — "unrecognized node type".)
SIGNED_IN = f"{setting('uid')} <> ''"


def upgrade() -> None:
    ddl.citus_session()
    op.create_table(
        "notifications",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("notification_type", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("related_entity_type", sa.String(length=50), nullable=True),
        sa.Column("related_entity_id", sa.UUID(), nullable=True),
        sa.Column("action_url", sa.Text(), nullable=True),
        sa.Column(
            "priority",
            sa.Enum(*PRIORITIES, name="notification_priority"),
            server_default="normal",
            nullable=False,
        ),
        sa.Column(
            "delivery_method", postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), nullable=True
        ),
        sa.Column("is_read", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_deleted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "id", name=op.f("pk_notifications")),
    )
    # Sharded by the recipient: the anchor of the user-keyed co-location group.
    ddl.distributed_table("notifications", "user_id")
    op.create_index(
        "ix_notifications_user_created",
        "notifications",
        ["user_id", sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.create_index(
        "ix_notifications_unread",
        "notifications",
        ["user_id"],
        unique=False,
        postgresql_where=sa.text("NOT is_read AND NOT is_deleted"),
    )
    op.create_index("ix_notifications_type", "notifications", ["notification_type"], unique=False)
    op.create_index("ix_notifications_expires_at", "notifications", ["expires_at"], unique=False)
    # Idempotency for generated notifications (one reminder per schedule occurrence and kind, per recipient).
    op.create_index(
        "uq_notifications_user_dedupe",
        "notifications",
        ["user_id", "dedupe_key"],
        unique=True,
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    )

    # Each user reads and marks their own. Any signed-in transaction may notify anyone (a request's domain
    # notifies the recipient of what it changed), but only with a fresh notification (unread, not deleted),
    # and never without an identity; it cannot read what it wrote for someone else (no RETURNING).
    ddl.grant("notifications", "SELECT, INSERT")
    ddl.grant("notifications", "UPDATE (is_read, read_at, is_deleted)")
    ddl.enable_rls("notifications")
    ddl.policy("notifications", "notifications_select", "SELECT", using=f"user_id = {UID}", roles=APP_DB_ROLE)
    ddl.policy(
        "notifications",
        "notifications_insert",
        "INSERT",
        check=f"{SIGNED_IN} AND NOT is_read AND read_at IS NULL AND NOT is_deleted",
        roles=APP_DB_ROLE,
    )
    ddl.policy(
        "notifications",
        "notifications_update",
        "UPDATE",
        using=f"user_id = {UID}",
        check=f"user_id = {UID}",
        roles=APP_DB_ROLE,
    )
    # The worker (maintenance reminders, ticket notifications) acts for no single user: it inserts for any
    # recipient, reads back what it inserted (INSERT … RETURNING) and records the e-mail delivery outcome.
    ddl.worker_access("notifications", "SELECT, INSERT, UPDATE (delivery_method)")


def downgrade() -> None:
    ddl.citus_session()
    op.drop_table("notifications")
    op.execute("DROP TYPE IF EXISTS notification_priority")

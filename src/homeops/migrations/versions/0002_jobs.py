"""jobs: the background job queue (PostgreSQL as broker)

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default=sa.text("5"), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_jobs_status_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_ready", "jobs", ["run_at"], unique=False, postgresql_where=sa.text("status = 'queued'"))
    op.create_index("ix_jobs_task_status", "jobs", ["task", "status"], unique=False)
    op.create_index(
        "uq_jobs_dedupe_key_active", "jobs", ["dedupe_key"], unique=True,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    # Wake idle workers as soon as a job is committed.
    op.execute(
        """
        CREATE FUNCTION homeops_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN PERFORM pg_notify('homeops_jobs', NEW.task); RETURN NEW; END $$
        """
    )
    op.execute(
        "CREATE TRIGGER trg_jobs_notify AFTER INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION homeops_jobs_notify()"
    )
    # The API only enqueues (inside its request transaction, so a job exists only if the request commits).
    # Workers run as the owner. No RLS: payloads carry ids, and the API role cannot read them back.
    ddl.grant("jobs", "INSERT")
    ddl.grant("jobs", "SELECT (id, dedupe_key, status)")
    op.execute("GRANT USAGE ON SEQUENCE jobs_id_seq TO homeops_app")


def downgrade() -> None:
    op.drop_table("jobs")
    op.execute("DROP FUNCTION IF EXISTS homeops_jobs_notify()")

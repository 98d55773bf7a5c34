"""audit: the immutable audit trail, partitioned by month (distributed by id on a cluster, with its partitions)

Revision ID: p003
Revises: p002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl
from homeops.core.ddl import IS_ADMIN

revision: str = "p003"
down_revision: str | None = "p002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ddl.citus_session()
    op.create_table(
        "audit_logs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("action_type", sa.String(length=100), nullable=False),
        sa.Column("entity_type", sa.String(length=50), nullable=True),
        sa.Column("entity_id", sa.UUID(), nullable=True),
        sa.Column("action_description", sa.Text(), nullable=True),
        sa.Column("old_values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("new_values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("ip_address", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("request_method", sa.String(length=10), nullable=True),
        sa.Column("request_url", sa.Text(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("execution_time_ms", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("session_id", sa.String(length=255), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", "created_at", name=op.f("pk_audit_logs")),
        postgresql_partition_by="RANGE (created_at)",
    )
    # 002: partitioned by month; a default partition catches anything outside the made range. Partitions are
    # created before distribution (Citus distributes them with the parent) and by the function below after it.
    op.execute("CREATE TABLE audit_logs_default PARTITION OF audit_logs DEFAULT")
    ddl.distributed_table("audit_logs", "id")
    op.create_index("ix_audit_logs_action_type", "audit_logs", ["action_type"], unique=False)
    op.create_index(
        "ix_audit_logs_created_at", "audit_logs", [sa.literal_column("created_at DESC")], unique=False
    )
    op.create_index("ix_audit_logs_entity", "audit_logs", ["entity_type", "entity_id"], unique=False)
    op.create_index("ix_audit_logs_ip_address", "audit_logs", ["ip_address"], unique=False)
    op.create_index(
        "ix_audit_logs_user_id_created_at",
        "audit_logs",
        ["user_id", sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.execute(
        """
        CREATE FUNCTION homeops_ensure_audit_partitions(months_ahead integer) RETURNS integer
        LANGUAGE plpgsql SET search_path = public, pg_temp AS
        $$ DECLARE
          start_month date := date_trunc('month', now())::date - interval '1 month';
          m date; made integer := 0; part text;
        BEGIN
          FOR i IN 0..months_ahead + 1 LOOP
            m := (start_month + make_interval(months => i))::date;
            part := format('audit_logs_p%s', to_char(m, 'YYYYMM'));
            IF to_regclass(part) IS NULL THEN
              EXECUTE format('CREATE TABLE %I PARTITION OF audit_logs FOR VALUES FROM (%L) TO (%L)',
                             part, m, (m + interval '1 month')::date);
              made := made + 1;
            END IF;
          END LOOP;
          RETURN made;
        END $$
        """
    )
    op.execute("SELECT homeops_ensure_audit_partitions(12)")
    # Immutable: no UPDATE/DELETE grant, and these triggers reject them (and TRUNCATE) even for the owner.
    op.execute(
        "CREATE TRIGGER trg_audit_logs_immutable BEFORE UPDATE OR DELETE ON audit_logs "
        "FOR EACH ROW EXECUTE FUNCTION homeops_reject_change()"
    )
    op.execute(
        "CREATE TRIGGER trg_audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs "
        "FOR EACH STATEMENT EXECUTE FUNCTION homeops_reject_change()"
    )
    # Append (anyone: the API and the worker) and read (admins only).
    ddl.grant("audit_logs", "SELECT, INSERT", ddl.API_ROLES)
    ddl.enable_rls("audit_logs")
    ddl.policy("audit_logs", "audit_logs_insert", "INSERT", check="true")
    ddl.policy("audit_logs", "audit_logs_select", "SELECT", using=IS_ADMIN)


def downgrade() -> None:
    op.drop_table("audit_logs")
    op.execute("DROP FUNCTION IF EXISTS homeops_ensure_audit_partitions(integer)")

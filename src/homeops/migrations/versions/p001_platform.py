"""platform: the API and worker roles, shared trigger functions, the job queue

The API role (``homeops_app``) and the worker role (``homeops_worker``) own nothing and cannot bypass row
security; their logins and passwords are set by ``homeops db upgrade``. On a Citus coordinator both roles
propagate ``SET LOCAL`` to the workers (the transaction's identity, see the identity migration).

Revision ID: p001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl

revision: str = "p001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("homeops_app", "homeops_worker")


def upgrade() -> None:
    ddl.citus_session()
    for role in ROLES:
        op.execute(
            f"""
            DO $$ BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
              END IF;
              EXECUTE format('GRANT CONNECT ON DATABASE %I TO {role}', current_database());
            END $$
            """
        )
        op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        if ddl.citus():
            # SET LOCAL reaches the workers only with this (set_config() never does). Multi-shard writes run
            # sequentially, so a transaction may still write a reference table after one (the application's
            # writes name their shard anyway).
            for name, value in (
                ("propagate_set_commands", "local"),
                ("multi_shard_modify_mode", "sequential"),
            ):
                op.execute(
                    f"DO $$ BEGIN EXECUTE format('ALTER ROLE {role} IN DATABASE %I SET citus.{name} = {value}', "
                    "current_database()); END $$"
                )
            _skip_citus_lock_permission_checks(role)
    op.execute(
        """
        CREATE FUNCTION homeops_set_updated_at() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION homeops_reject_change() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN
          RAISE EXCEPTION '% rows are immutable (% rejected)', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    _jobs()


def _skip_citus_lock_permission_checks(role: str) -> None:
    """On Citus, a write to a reference table first takes Citus's serialisation lock on every reference table
    it references, transitively (manual_chunks → manuals → users, the catalog; home_members → homes, users),
    and Citus insists that the writer holds a table-level UPDATE, DELETE or TRUNCATE (INSERT for inserts) on
    each of them ("permission denied for table users"). Granting the roles such rights would widen what they
    can change; instead they skip that check of Citus's internal advisory lock — table grants and row policies
    still decide every row. The parameter is superuser-only: without a superuser, say what will fail."""
    op.execute(
        f"""
        DO $$ BEGIN
          IF has_parameter_privilege('citus.skip_advisory_lock_permission_checks', 'SET') THEN
            EXECUTE format('ALTER ROLE {role} IN DATABASE %I SET '
                           'citus.skip_advisory_lock_permission_checks = on', current_database());
          ELSE
            RAISE WARNING 'cannot set citus.skip_advisory_lock_permission_checks for {role} (needs a superuser): '
              'writes to reference tables will fail on this cluster until an administrator runs ALTER ROLE '
              '{role} IN DATABASE % SET citus.skip_advisory_lock_permission_checks = on', current_database();
          END IF;
        END $$
        """
    )


def _jobs() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column(
            "payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
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
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_jobs_status_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    ddl.local_table("jobs")  # a queue: FOR UPDATE SKIP LOCKED on one node
    op.create_index(
        "ix_jobs_ready", "jobs", ["run_at"], unique=False, postgresql_where=sa.text("status = 'queued'")
    )
    op.create_index("ix_jobs_task_status", "jobs", ["task", "status"], unique=False)
    op.create_index(
        "uq_jobs_dedupe_key_active",
        "jobs",
        ["dedupe_key"],
        unique=True,
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
    # The API only enqueues (inside its request transaction, so a job exists only if the request commits) and
    # cannot read payloads back. The worker claims, runs and finishes jobs, and enqueues follow-ups. No RLS:
    # payloads carry ids; a task reads the rows they point at under its own grants and policies.
    ddl.grant("jobs", "INSERT")
    ddl.grant("jobs", "SELECT (id, dedupe_key, status)")
    ddl.grant("jobs", "SELECT, INSERT, UPDATE", "homeops_worker")
    op.execute("GRANT USAGE ON SEQUENCE jobs_id_seq TO homeops_app, homeops_worker")


def downgrade() -> None:
    op.drop_table("jobs")
    for fn in ("homeops_jobs_notify()", "homeops_reject_change()", "homeops_set_updated_at()"):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}")
    for role in ROLES:
        op.execute(f"REVOKE ALL ON SCHEMA public FROM {role}")
        op.execute(
            f"DO $$ BEGIN EXECUTE format('REVOKE ALL ON DATABASE %I FROM {role}', current_database()); END $$"
        )

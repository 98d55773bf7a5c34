"""maintenance: schedules, their occurrences (completed / skipped) and the service history — distributed by
home_id, co-located with rooms and devices — and the per-user calendar feeds (local to the coordinator)

Keys lead with home_id (the distribution column), and every reference between these tables and devices
carries it: (home_id, device_id) → devices, (home_id, schedule_id) → maintenance_schedules. A service event
keeps its history when its schedule is deleted: the service nulls ``service_events.schedule_id`` before the
delete (there is no ``ON DELETE SET NULL`` on a key containing the distribution column on Citus).

The calendar URL carries a secret token instead of a login: ``homeops_calendar_identity(token_hash)`` finds the
live feed and establishes its user's identity for the transaction (as a member of their homes, without a
platform role), so the feed is read under the ordinary row policies.

Revision ID: p011
Revises: p010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl
from homeops.core.config import APP_DB_ROLE
from homeops.core.ddl import UID

revision: str = "p011"
down_revision: str | None = "p010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERVICE_EVENT_TYPES = (
    "maintenance",
    "repair",
    "inspection",
    "installation",
    "warranty_claim",
    "replacement",
    "cleaning",
    "other",
)


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def upgrade() -> None:
    ddl.citus_session()
    op.create_table(
        "maintenance_schedules",
        sa.Column("home_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("device_id", sa.UUID(), nullable=False),
        sa.Column("template_id", sa.UUID(), nullable=True),
        sa.Column("task_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("interval_unit", postgresql.ENUM(name="interval_unit", create_type=False), nullable=False),
        sa.Column("anchor", sa.Enum("schedule", "completion", name="recurrence_anchor"), nullable=False),
        sa.Column("series_start", sa.Date(), nullable=False),
        sa.Column("occurrence", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_due", sa.Date(), nullable=False),
        sa.Column("last_performed", sa.Date(), nullable=True),
        sa.Column("lead_days", sa.Integer(), server_default=sa.text("7"), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column(
            "parts_needed",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("estimated_cost", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("reminder_enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("interval > 0", name=op.f("ck_maintenance_schedules_interval_positive")),
        sa.CheckConstraint("lead_days >= 0", name=op.f("ck_maintenance_schedules_lead_days_non_negative")),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["model_maintenance_templates.id"],
            name=op.f("fk_maintenance_schedules_template_id_model_maintenance_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("home_id", "id", name=op.f("pk_maintenance_schedules")),
    )
    # Co-located with devices: seed Query 4 joins schedules to their devices (and rooms) on one shard.
    ddl.distributed_table("maintenance_schedules", "home_id", colocate_with="rooms")
    _home_fk("maintenance_schedules", "device_id", "devices", ondelete="CASCADE")
    op.create_index(
        "ix_maintenance_schedules_home_device",
        "maintenance_schedules",
        ["home_id", "device_id"],
        unique=False,
    )
    # Seed Query 4 ("upcoming across my homes"): one index range per home.
    op.create_index(
        "ix_maintenance_schedules_home_due", "maintenance_schedules", ["home_id", "next_due"], unique=False
    )
    # The hourly reminder scan across every home.
    op.create_index(
        "ix_maintenance_schedules_next_due",
        "maintenance_schedules",
        ["next_due"],
        unique=False,
        postgresql_where=sa.text("is_active"),
    )
    ddl.updated_at_trigger("maintenance_schedules")

    op.create_table(
        "maintenance_occurrences",
        sa.Column("home_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("schedule_id", sa.UUID(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("outcome", sa.Enum("completed", "skipped", name="occurrence_outcome"), nullable=False),
        sa.Column("acted_on", sa.Date(), nullable=False),
        sa.Column("service_event_id", sa.UUID(), nullable=True),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["home_id"],
            ["homes.id"],
            name=op.f("fk_maintenance_occurrences_home_id_homes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_maintenance_occurrences_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("home_id", "id", name=op.f("pk_maintenance_occurrences")),
        # One outcome per due date of a schedule (a concurrent second completion fails here).
        sa.UniqueConstraint(
            "home_id",
            "schedule_id",
            "due_date",
            name=op.f("uq_maintenance_occurrences_home_id_schedule_id_due_date"),
        ),
    )
    ddl.distributed_table("maintenance_occurrences", "home_id", colocate_with="rooms")
    _home_fk("maintenance_occurrences", "schedule_id", "maintenance_schedules", ondelete="CASCADE")

    op.create_table(
        "service_events",
        sa.Column("home_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("device_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("schedule_id", sa.UUID(), nullable=True),
        sa.Column("event_type", sa.Enum(*SERVICE_EVENT_TYPES, name="service_event_type"), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("technician", sa.String(length=200), nullable=True),
        sa.Column("cost", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("warranty_covered", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "parts_replaced",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("notes", sa.Text(), nullable=True),
        # [{key, file_name, content_type, size, uploaded_at, uploaded_by}] — the files live in the storage.
        sa.Column(
            "attachments",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        # Where an event recorded by another domain comes from (a marketplace project: "marketplace_project").
        sa.Column("source_type", sa.String(length=50), nullable=True),
        sa.Column("source_id", sa.UUID(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "(source_type IS NULL) = (source_id IS NULL)", name=op.f("ck_service_events_source_pair")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_service_events_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("home_id", "id", name=op.f("pk_service_events")),
    )
    ddl.distributed_table("service_events", "home_id", colocate_with="rooms")
    _home_fk("service_events", "device_id", "devices", ondelete="CASCADE")
    # NO ACTION: MaintenanceService.delete nulls the events' schedule_id first (the history stays).
    _home_fk("service_events", "schedule_id", "maintenance_schedules")
    # A device's history, newest first.
    op.create_index(
        "ix_service_events_device_date",
        "service_events",
        ["home_id", "device_id", sa.literal_column("event_date DESC")],
        unique=False,
    )
    op.create_index(
        "ix_service_events_home_date",
        "service_events",
        ["home_id", sa.literal_column("event_date DESC")],
        unique=False,
    )
    op.create_index("ix_service_events_event_type", "service_events", ["event_type"], unique=False)
    op.create_index("ix_service_events_user_id", "service_events", ["user_id"], unique=False)
    # The events of a schedule (nulled before the schedule is deleted; the foreign key's check).
    op.create_index(
        "ix_service_events_schedule",
        "service_events",
        ["home_id", "schedule_id"],
        unique=False,
        postgresql_where=sa.text("schedule_id IS NOT NULL"),
    )
    # One event per device per source (a job that records them may run twice).
    op.create_index(
        "uq_service_events_source",
        "service_events",
        ["home_id", "device_id", "source_type", "source_id"],
        unique=True,
        postgresql_where=sa.text("source_id IS NOT NULL"),
    )
    ddl.updated_at_trigger("service_events")

    op.create_table(
        "calendar_feeds",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_calendar_feeds_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )
    # On the coordinator: the token hash is unique platform-wide and found in one indexed lookup.
    ddl.local_table("calendar_feeds")

    _functions()
    _grants_and_policies()


def _home_fk(table: str, column: str, target: str, ondelete: str | None = None) -> None:
    """``(home_id, column) → target (home_id, id)``, added once both tables are placed: on a cluster a table
    that is still local (or references a reference table) may not reference a distributed one yet."""
    op.create_foreign_key(
        op.f(f"fk_{table}_home_id_{target}"),
        table,
        target,
        ["home_id", column],
        ["home_id", "id"],
        ondelete=ondelete,
    )


def _functions() -> None:
    # The feed's user as a member of their homes: the stored platform role is not applied (an admin's or a
    # support agent's feed shows their own homes, like anyone's). Never inside an EXCEPTION block (Citus
    # would forget the SET LOCALs of homeops_identity_apply).
    op.execute(
        """
        CREATE FUNCTION homeops_calendar_identity(p_token_hash text)
        RETURNS TABLE (user_id uuid, home_ids uuid[], home_roles text[], org_ids uuid[], org_roles text[])
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE v_user uuid;
        BEGIN
          PERFORM homeops_identity_reset();
          SELECT f.user_id INTO v_user FROM calendar_feeds f JOIN users u ON u.id = f.user_id
           WHERE f.token_hash = p_token_hash AND u.is_active AND u.deleted_at IS NULL;
          IF NOT FOUND THEN RETURN; END IF;
          RETURN QUERY SELECT v_user, a.home_ids, a.home_roles, a.org_ids, a.org_roles
                         FROM homeops_identity_apply(v_user, 'homeowner'::user_role) a;
        END $$
        """
    )
    ddl.function_grant("homeops_calendar_identity(text)")


def _grants_and_policies() -> None:
    # Home-scoped: guests read, members write. The worker reads the schedules for the hourly reminders and
    # the service history for retention (devices without a recent event are archived).
    ddl.home_scoped("maintenance_schedules", worker="SELECT")
    ddl.home_scoped("maintenance_occurrences")
    ddl.home_scoped("service_events", worker="SELECT")

    ddl.grant("calendar_feeds", "SELECT, INSERT, UPDATE, DELETE")
    ddl.enable_rls("calendar_feeds")
    ddl.policy(
        "calendar_feeds",
        "calendar_feeds_own",
        "ALL",
        using=f"user_id = {UID}",
        check=f"user_id = {UID}",
        roles=APP_DB_ROLE,
    )


def downgrade() -> None:
    ddl.citus_session()
    op.drop_table("calendar_feeds")
    op.drop_table("service_events")
    op.drop_table("maintenance_occurrences")
    op.drop_table("maintenance_schedules")
    op.execute("DROP FUNCTION IF EXISTS homeops_calendar_identity(text)")
    for name in ("service_event_type", "occurrence_outcome", "recurrence_anchor"):
        op.execute(f"DROP TYPE IF EXISTS {name}")

"""devices: the device registry, device groups and their members, and each device's links to the manual
library — household data, distributed by home_id on a cluster, co-located with rooms

Every primary key leads with ``home_id`` and every foreign key between these tables carries it, so a device,
its groups, its links, its room (and the schedules, events and sessions of the domains above, co-located
too) live on one shard. Foreign keys to reference tables (homes, users, catalog, manuals) keep their
``CASCADE``/``SET NULL``. A cluster cannot ``ON DELETE SET NULL`` a key that contains the distribution
column, so:

* ``devices.room_id`` → rooms (home_id, id) has no action: the devices domain detaches a room's devices when
  the homes domain announces ``RoomRemoved`` (before the room row goes, same transaction);
* ``replaces_device_id`` / ``replaced_by_device_id`` → devices (home_id, id) have no action: deleting a device
  first clears the other devices' pointers to it (devices service, same transaction).

The processing worker links a manual that became ready to the matching devices of every home — of its own
home only, for a household upload (``ManualReady``, ``devices.handlers``): it reads ``devices`` and inserts into
``device_manuals``, for no single user.

The moderation queue of the manual library (support/admin staff) counts each manual's links across homes:
``homeops_manual_queue(...)``, a ``SECURITY DEFINER`` function that answers moderators only (``device_manuals``
stays private to each home under its policies) and tells nothing but counts.

Revision ID: p010
Revises: p009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl
from homeops.core.ddl import IS_ADMIN, in_homes, setting

revision: str = "p010"
down_revision: str | None = "p009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEVICE_STATUSES = ("active", "inactive", "archived", "replaced", "removed")
MODERATOR = f"{setting('role')} IN ('support', 'admin')"  # as in the manuals migration
QUEUE = "homeops_manual_queue(boolean, bigint, timestamptz, uuid, integer)"


def upgrade() -> None:
    ddl.citus_session()
    op.create_table(
        "devices",
        sa.Column("home_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("room_id", sa.UUID(), nullable=True),
        sa.Column("added_by", sa.UUID(), nullable=True),
        sa.Column("model_id", sa.UUID(), nullable=True),
        sa.Column("manufacturer_name", sa.String(length=255), nullable=True),
        sa.Column("model_number", sa.String(length=255), nullable=True),
        sa.Column("category_code", sa.String(length=64), nullable=True),
        sa.Column("subcategory", sa.String(length=100), nullable=True),
        sa.Column("serial_number_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("serial_number_index", sa.String(length=64), nullable=True),
        sa.Column("nickname", sa.String(length=200), nullable=False),
        sa.Column("location_detail", sa.String(length=500), nullable=True),
        sa.Column("purchase_date", sa.Date(), nullable=True),
        sa.Column("purchase_price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("installation_date", sa.Date(), nullable=True),
        sa.Column("warranty_start", sa.Date(), nullable=True),
        sa.Column("warranty_end", sa.Date(), nullable=True),
        sa.Column(
            "features",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "specifications",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "status", sa.Enum(*DEVICE_STATUSES, name="device_status"), server_default="active", nullable=False
        ),
        sa.Column("replaces_device_id", sa.UUID(), nullable=True),
        sa.Column("replaced_by_device_id", sa.UUID(), nullable=True),
        sa.Column("ecosystem_id", sa.UUID(), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("firmware_version", sa.String(length=100), nullable=True),
        sa.Column("is_online", sa.Boolean(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["home_id"], ["homes.id"], name=op.f("fk_devices_home_id_homes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["added_by"], ["users.id"], name=op.f("fk_devices_added_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["device_categories.code"],
            name=op.f("fk_devices_category_code_device_categories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ecosystem_id"],
            ["ecosystems.id"],
            name=op.f("fk_devices_ecosystem_id_ecosystems"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["device_models.id"],
            name=op.f("fk_devices_model_id_device_models"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("home_id", "id", name=op.f("pk_devices")),
    )
    ddl.distributed_table("devices", "home_id", colocate_with="rooms")
    # No action on delete (see the docstring): the service clears these before the row they point at goes.
    _home_fk("devices", "fk_devices_room", "room_id", "rooms")
    _home_fk("devices", "fk_devices_replaces_device", "replaces_device_id", "devices")
    _home_fk("devices", "fk_devices_replaced_by_device", "replaced_by_device_id", "devices")
    op.create_index("ix_devices_category_code", "devices", ["category_code"], unique=False)
    op.create_index(
        "ix_devices_home_status_created",
        "devices",
        ["home_id", "status", sa.literal_column("created_at DESC")],
        unique=False,
    )
    # The cross-home auto-link of a manual that became ready (manufacturer + model number).
    op.create_index(
        "ix_devices_make_model",
        "devices",
        [sa.literal_column("lower(manufacturer_name)"), sa.literal_column("upper(model_number)")],
        unique=False,
    )
    op.create_index("ix_devices_model_id", "devices", ["model_id"], unique=False)
    op.create_index("ix_devices_home_id_room_id", "devices", ["home_id", "room_id"], unique=False)
    op.create_index("ix_devices_serial_number_index", "devices", ["serial_number_index"], unique=False)
    op.create_index(
        "ix_devices_warranty_end",
        "devices",
        ["warranty_end"],
        unique=False,
        postgresql_where=sa.text("status = 'active'"),
    )
    ddl.updated_at_trigger("devices")

    op.create_table(
        "device_groups",
        sa.Column("home_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["home_id"], ["homes.id"], name=op.f("fk_device_groups_home_id_homes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("home_id", "id", name=op.f("pk_device_groups")),
    )
    ddl.distributed_table("device_groups", "home_id", colocate_with="rooms")
    op.create_index(
        "uq_device_groups_home_name",
        "device_groups",
        ["home_id", sa.literal_column("lower(name)")],
        unique=True,
    )
    ddl.updated_at_trigger("device_groups")

    op.create_table(
        "device_group_members",
        sa.Column("home_id", sa.UUID(), nullable=False),
        sa.Column("group_id", sa.UUID(), nullable=False),
        sa.Column("device_id", sa.UUID(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("home_id", "group_id", "device_id", name=op.f("pk_device_group_members")),
    )
    ddl.distributed_table("device_group_members", "home_id", colocate_with="rooms")
    # Same-home membership is a database rule: both foreign keys carry home_id.
    _home_fk("device_group_members", "fk_device_group_members_device", "device_id", "devices", "CASCADE")
    _home_fk("device_group_members", "fk_device_group_members_group", "group_id", "device_groups", "CASCADE")
    op.create_index(
        "ix_device_group_members_home_id_device_id",
        "device_group_members",
        ["home_id", "device_id"],
        unique=False,
    )

    op.create_table(
        "device_manuals",
        sa.Column("home_id", sa.UUID(), nullable=False),
        sa.Column("device_id", sa.UUID(), nullable=False),
        sa.Column("manual_id", sa.UUID(), nullable=False),
        sa.Column("linked_by", sa.UUID(), nullable=True),
        sa.Column("auto_linked", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["linked_by"], ["users.id"], name=op.f("fk_device_manuals_linked_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["manual_id"],
            ["manuals.id"],
            name=op.f("fk_device_manuals_manual_id_manuals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("home_id", "device_id", "manual_id", name=op.f("pk_device_manuals")),
    )
    ddl.distributed_table("device_manuals", "home_id", colocate_with="rooms")
    _home_fk("device_manuals", "fk_device_manuals_device", "device_id", "devices", "CASCADE")
    op.create_index("ix_device_manuals_manual_id", "device_manuals", ["manual_id"], unique=False)

    _grants_and_policies()
    _moderation_queue()


def _home_fk(table: str, name: str, column: str, target: str, ondelete: str | None = None) -> None:
    """``(home_id, column) → target (home_id, id)``, added once both tables are placed: on a cluster a table
    that is still local may not reference a distributed one."""
    op.create_foreign_key(
        op.f(name), table, target, ["home_id", column], ["home_id", "id"], ondelete=ondelete
    )


def _grants_and_policies() -> None:
    # Tenant data: guests read, members write (the homes rules). The worker reads every device to link a
    # manual that became ready (and the reminder jobs name devices).
    ddl.home_scoped("devices", worker="SELECT")
    ddl.home_scoped("device_groups")
    ddl.home_scoped("device_group_members")

    # A device's links are private to its home; links are made and removed, never changed.
    ddl.grant("device_manuals", "SELECT, INSERT, DELETE", ddl.API_ROLES)
    ddl.enable_rls("device_manuals")
    ddl.policy("device_manuals", "device_manuals_select", "SELECT", using=f"{in_homes('read')} OR {IS_ADMIN}")
    ddl.policy("device_manuals", "device_manuals_insert", "INSERT", check=in_homes("write"))
    ddl.policy("device_manuals", "device_manuals_delete", "DELETE", using=in_homes("write"))
    # Processing links a ready manual to the matching devices of every home (INSERT … ON CONFLICT DO NOTHING).
    ddl.worker_access("device_manuals", "SELECT, INSERT")


def _moderation_queue() -> None:
    """The manuals waiting for a moderator — unverified household uploads, and shared manuals with open
    reports — with how many devices link each and their open reports; newest first, or most-linked first
    (then newest), keyset-paged. Moderators only: anyone else gets no rows."""
    reported = """reported AS (
          SELECT r.manual_id, count(*) AS n, max(r.created_at) AS last FROM manual_reports r
           WHERE r.status = 'open' GROUP BY r.manual_id)"""
    waiting = "(m.visibility = 'household' OR (m.visibility = 'shared' AND m.id IN (SELECT manual_id FROM reported)))"
    op.execute(
        f"""
        CREATE FUNCTION homeops_manual_queue(p_most_linked boolean, p_after_links bigint,
                                             p_after_created timestamptz, p_after_id uuid, p_limit integer)
        RETURNS TABLE (manual_id uuid, links bigint, open_reports bigint, last_reported_at timestamptz,
                       created_at timestamptz)
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ #variable_conflict use_column
        BEGIN
          IF NOT ({MODERATOR}) THEN
            RETURN;
          END IF;
          IF p_most_linked THEN
            RETURN QUERY
              WITH {reported},
              queue AS (SELECT m.id, m.created_at FROM manuals m WHERE {waiting}),
              linked AS (SELECT d.manual_id, count(*) AS n FROM device_manuals d
                          WHERE d.manual_id IN (SELECT id FROM queue) GROUP BY d.manual_id),
              listed AS (SELECT q.id, coalesce(l.n, 0) AS links, coalesce(r.n, 0) AS open_reports,
                                r.last, q.created_at
                           FROM queue q LEFT JOIN linked l ON l.manual_id = q.id
                           LEFT JOIN reported r ON r.manual_id = q.id)
              SELECT * FROM listed
               WHERE p_after_id IS NULL OR (links, created_at, id) < (p_after_links, p_after_created, p_after_id)
               ORDER BY links DESC, created_at DESC, id DESC LIMIT p_limit;
          ELSE
            RETURN QUERY
              WITH {reported},
              page AS (SELECT m.id, m.created_at FROM manuals m
                        WHERE {waiting}
                          AND (p_after_id IS NULL OR (m.created_at, m.id) < (p_after_created, p_after_id))
                        ORDER BY m.created_at DESC, m.id DESC LIMIT p_limit),
              linked AS (SELECT d.manual_id, count(*) AS n FROM device_manuals d
                          WHERE d.manual_id IN (SELECT id FROM page) GROUP BY d.manual_id)
              SELECT p.id, coalesce(l.n, 0), coalesce(r.n, 0), r.last, p.created_at
                FROM page p LEFT JOIN linked l ON l.manual_id = p.id LEFT JOIN reported r ON r.manual_id = p.id
               ORDER BY p.created_at DESC, p.id DESC;
          END IF;
        END $$
        """
    )
    ddl.function_grant(QUEUE)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {QUEUE}")
    op.drop_table("device_manuals")
    op.drop_table("device_group_members")
    op.drop_table("device_groups")
    op.drop_table("devices")
    op.execute("DROP TYPE IF EXISTS device_status")

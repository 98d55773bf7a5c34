"""homes: homes and their members (reference tables: the directory every node reads), rooms (distributed by
home_id; the first table of the home-keyed co-location group)

Creating a home: ``homeops_claim_new_home()`` hands the transaction a fresh home id and adds it, as owned, to
the transaction's identity; the API then inserts the home and the owner's membership under the row policies.

Revision ID: p006
Revises: p005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl
from homeops.core.ddl import IS_ADMIN, UID, homes, in_homes

revision: str = "p006"
down_revision: str | None = "p005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ddl.citus_session()
    op.create_table(
        "homes",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("owner_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "address",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_homes_owner_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_homes")),
    )
    # A reference table: every home-keyed shard can join its home (timezone, name) locally and keep a foreign
    # key to it; homes are few and rarely written next to what hangs off them.
    ddl.reference_table("homes")
    op.create_index("ix_homes_owner_id", "homes", ["owner_id"], unique=False)
    ddl.updated_at_trigger("homes")

    op.create_table(
        "home_members",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("home_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column(
            "role", sa.Enum("guest", "member", "admin", "owner", name="home_member_role"), nullable=False
        ),
        sa.Column("invited_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["home_id"], ["homes.id"], name=op.f("fk_home_members_home_id_homes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"], ["users.id"], name=op.f("fk_home_members_invited_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_home_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_home_members")),
        sa.UniqueConstraint("home_id", "user_id", name=op.f("uq_home_members_home_id_user_id")),
    )
    ddl.reference_table("home_members")  # read by the identity function of every request, on any node
    op.create_index("ix_home_members_user_id", "home_members", ["user_id"], unique=False)

    op.create_table(
        "rooms",
        sa.Column("home_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("room_type", sa.String(length=50), nullable=True),
        sa.Column("floor", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("floor BETWEEN -10 AND 200", name=op.f("ck_rooms_floor_range")),
        sa.ForeignKeyConstraint(
            ["home_id"], ["homes.id"], name=op.f("fk_rooms_home_id_homes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("home_id", "id", name=op.f("pk_rooms")),
    )
    ddl.distributed_table("rooms", "home_id")
    op.create_index(
        "uq_rooms_home_id_name_lower", "rooms", ["home_id", sa.literal_column("lower(name)")], unique=True
    )
    ddl.updated_at_trigger("rooms")

    _functions()
    _grants_and_policies()


def _functions() -> None:
    appends = "\n".join(
        f"  PERFORM homeops_identity_set('homes_{level}', array_append({homes(level)}, v_id)::text);"
        for level in ("read", "write", "admin", "owner")
    )
    op.execute(
        f"""
        CREATE FUNCTION homeops_claim_new_home() RETURNS uuid
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE v_id uuid := gen_random_uuid();
        BEGIN
          IF {UID} IS NULL THEN RAISE EXCEPTION 'no identity' USING ERRCODE = 'insufficient_privilege'; END IF;
        {appends}
          RETURN v_id;
        END $$
        """
    )
    # Members of a home with their names and e-mails, for those who may read the home (household members do
    # not otherwise see each other's accounts).
    op.execute(
        f"""
        CREATE FUNCTION homeops_home_members(p_home uuid)
        RETURNS TABLE (user_id uuid, email varchar, full_name varchar, role home_member_role,
                       created_at timestamptz)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ SELECT m.user_id, u.email, u.full_name, m.role, m.created_at
             FROM home_members m JOIN users u ON u.id = m.user_id
            WHERE m.home_id = p_home AND (p_home = ANY ({homes("read")}) OR {IS_ADMIN})
            ORDER BY m.role DESC, lower(u.full_name), u.id $$
        """
    )
    ddl.function_grant("homeops_claim_new_home()")
    ddl.function_grant("homeops_home_members(uuid)", ddl.API_ROLES)


def _grants_and_policies() -> None:
    ddl.grant("homes", "SELECT, INSERT, DELETE", ddl.API_ROLES)
    ddl.grant("homes", "UPDATE (name, address, timezone, metadata)")
    ddl.enable_rls("homes")
    ddl.policy(
        "homes", "homes_select", "SELECT", using=f"{in_homes('read', 'id')} OR owner_id = {UID} OR {IS_ADMIN}"
    )
    ddl.policy("homes", "homes_insert", "INSERT", check=f"owner_id = {UID} AND {in_homes('owner', 'id')}")
    ddl.policy(
        "homes", "homes_update", "UPDATE", using=in_homes("admin", "id"), check=in_homes("admin", "id")
    )
    ddl.policy("homes", "homes_delete", "DELETE", using=f"owner_id = {UID} AND {in_homes('owner', 'id')}")
    ddl.worker_access("homes", "SELECT")  # timezones and names for reminders

    ddl.grant("home_members", "SELECT, INSERT, DELETE", ddl.API_ROLES)
    ddl.grant("home_members", "UPDATE (role)")
    ddl.enable_rls("home_members")
    ddl.policy(
        "home_members",
        "home_members_select",
        "SELECT",
        using=f"{in_homes('read')} OR user_id = {UID} OR {IS_ADMIN}",
    )
    # Admins add members (never an owner); the creator of a home adds themselves as its owner, once.
    ddl.policy(
        "home_members",
        "home_members_insert",
        "INSERT",
        check=f"{in_homes('admin')} AND (role <> 'owner' OR (user_id = {UID} AND {in_homes('owner')}))",
    )
    ddl.policy(
        "home_members",
        "home_members_update",
        "UPDATE",
        using=f"{in_homes('admin')} AND role <> 'owner'",
        check="role <> 'owner'",
    )
    ddl.policy(
        "home_members",
        "home_members_delete",
        "DELETE",
        using=f"role <> 'owner' AND ({in_homes('admin')} OR user_id = {UID})",
    )
    ddl.worker_access("home_members", "SELECT")  # who to remind

    ddl.home_scoped("rooms", worker="SELECT")


def downgrade() -> None:
    op.drop_table("rooms")
    op.drop_table("home_members")
    op.drop_table("homes")
    op.execute("DROP FUNCTION IF EXISTS homeops_claim_new_home()")
    op.execute("DROP FUNCTION IF EXISTS homeops_home_members(uuid)")
    op.execute("DROP TYPE IF EXISTS home_member_role")

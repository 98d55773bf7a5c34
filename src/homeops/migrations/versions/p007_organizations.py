"""organizations: the second kind of tenant (contractors, provider companies, government bodies, OEM partners)
and their members — reference tables, like homes; organization-keyed data (jobs, quotes …) is distributed by
organization_id in the domains that own it

Revision ID: p007
Revises: p006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl
from homeops.core.ddl import IS_ADMIN, UID, in_orgs, orgs

revision: str = "p007"
down_revision: str | None = "p006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORG_KINDS = ("contractor", "provider", "government", "partner")
ORG_ROLES = ("staff", "technician", "office_staff", "manager", "owner")  # weakest first


def upgrade() -> None:
    ddl.citus_session()
    op.create_table(
        "organizations",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("kind", sa.Enum(*ORG_KINDS, name="organization_kind"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column(
            "contact",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9][a-z0-9-]{1,98}[a-z0-9]$'", name=op.f("ck_organizations_slug_format")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_organizations_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    ddl.reference_table("organizations")
    op.create_index("uq_organizations_slug", "organizations", ["slug"], unique=True)
    op.create_index("ix_organizations_kind", "organizations", ["kind"], unique=False)
    ddl.updated_at_trigger("organizations")

    op.create_table(
        "organization_members",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.Enum(*ORG_ROLES, name="organization_role"), nullable=False),
        sa.Column("invited_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_members_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_organization_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["users.id"],
            name=op.f("fk_organization_members_invited_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_members")),
        sa.UniqueConstraint(
            "organization_id", "user_id", name=op.f("uq_organization_members_organization_id_user_id")
        ),
    )
    ddl.reference_table("organization_members")  # read by the identity function of every request
    op.create_index("ix_organization_members_user_id", "organization_members", ["user_id"], unique=False)
    ddl.updated_at_trigger("organization_members")
    _functions()
    _grants_and_policies()


def _functions() -> None:
    appends = "\n".join(
        f"  PERFORM homeops_identity_set('orgs_{level}', array_append({orgs(level)}, v_id)::text);"
        for level in ("read", "write", "admin", "owner")
    )
    op.execute(
        f"""
        CREATE FUNCTION homeops_claim_new_organization() RETURNS uuid
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE v_id uuid := gen_random_uuid();
        BEGIN
          IF {UID} IS NULL THEN RAISE EXCEPTION 'no identity' USING ERRCODE = 'insufficient_privilege'; END IF;
        {appends}
          RETURN v_id;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION homeops_organization_members(p_org uuid)
        RETURNS TABLE (user_id uuid, email varchar, full_name varchar, role organization_role,
                       invited_by uuid, created_at timestamptz, updated_at timestamptz)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ SELECT m.user_id, u.email, u.full_name, m.role, m.invited_by, m.created_at, m.updated_at
             FROM organization_members m JOIN users u ON u.id = m.user_id
            WHERE m.organization_id = p_org AND (p_org = ANY ({orgs("read")}) OR {IS_ADMIN})
            ORDER BY m.role DESC, lower(u.full_name), u.id $$
        """
    )
    # Soft delete, by an owner: the row stays (its slug stays taken, organization-keyed history keeps its
    # references), its memberships go, so no identity grants anything in it any more. A function because the
    # row policies cannot express it: the updated row (deleted_at set) no longer passes the SELECT policy that
    # PostgreSQL applies to the new row of an UPDATE, and owners' membership rows are not deletable by the API.
    op.execute(
        f"""
        CREATE FUNCTION homeops_delete_organization(p_org uuid) RETURNS boolean
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ BEGIN
          IF NOT (p_org = ANY ({orgs("owner")})) THEN
            RAISE EXCEPTION 'only an owner deletes an organization' USING ERRCODE = 'insufficient_privilege';
          END IF;
          UPDATE organizations SET deleted_at = now() WHERE id = p_org AND deleted_at IS NULL;
          IF NOT FOUND THEN RETURN false; END IF;
          DELETE FROM organization_members WHERE organization_id = p_org;
          RETURN true;
        END $$
        """
    )
    ddl.function_grant("homeops_claim_new_organization()")
    ddl.function_grant("homeops_delete_organization(uuid)")
    ddl.function_grant("homeops_organization_members(uuid)", ddl.API_ROLES)


def _grants_and_policies() -> None:
    ddl.grant("organizations", "SELECT, INSERT", ddl.API_ROLES)
    ddl.grant("organizations", "UPDATE (name, slug, contact, settings, deleted_at)")
    ddl.enable_rls("organizations")
    ddl.policy(
        "organizations",
        "organizations_select",
        "SELECT",
        using=f"(deleted_at IS NULL AND {in_orgs('read', 'id')}) OR {IS_ADMIN}",
    )
    ddl.policy(
        "organizations",
        "organizations_insert",
        "INSERT",
        check=f"created_by = {UID} AND {in_orgs('owner', 'id')}",
    )
    ddl.policy(
        "organizations",
        "organizations_update",
        "UPDATE",
        using=f"deleted_at IS NULL AND {in_orgs('admin', 'id')}",
        check=in_orgs("admin", "id"),
    )
    ddl.worker_access("organizations", "SELECT")

    ddl.grant("organization_members", "SELECT, INSERT, DELETE", ddl.API_ROLES)
    ddl.grant("organization_members", "UPDATE (role)")
    ddl.enable_rls("organization_members")
    ddl.policy(
        "organization_members",
        "organization_members_select",
        "SELECT",
        using=f"{in_orgs('read')} OR user_id = {UID} OR {IS_ADMIN}",
    )
    # Owners and managers add members (never an owner); the creator adds themselves as owner, once. Only an
    # owner changes an owner's row.
    ddl.policy(
        "organization_members",
        "organization_members_insert",
        "INSERT",
        check=f"{in_orgs('admin')} AND (role <> 'owner' OR (user_id = {UID} AND {in_orgs('owner')}))",
    )
    ddl.policy(
        "organization_members",
        "organization_members_update",
        "UPDATE",
        using=f"{in_orgs('admin')} AND (role <> 'owner' OR {in_orgs('owner')})",
        check=f"{in_orgs('admin')} AND (role <> 'owner' OR {in_orgs('owner')})",
    )
    # Owners remove anyone (the service keeps the last owner); managers remove non-owners; a member leaves.
    ddl.policy(
        "organization_members",
        "organization_members_delete",
        "DELETE",
        using=f"{in_orgs('owner')} OR (role <> 'owner' AND ({in_orgs('admin')} OR user_id = {UID}))",
    )
    ddl.worker_access("organization_members", "SELECT")


def downgrade() -> None:
    op.drop_table("organization_members")
    op.drop_table("organizations")
    op.execute("DROP FUNCTION IF EXISTS homeops_claim_new_organization()")
    op.execute("DROP FUNCTION IF EXISTS homeops_delete_organization(uuid)")
    op.execute("DROP FUNCTION IF EXISTS homeops_organization_members(uuid)")
    op.execute("DROP TYPE IF EXISTS organization_role")
    op.execute("DROP TYPE IF EXISTS organization_kind")

"""the caller's identity in one statement: homeops_begin(session, user) checks the session, reads the stored
role and the memberships, and sets the row-security identity of the transaction

Before: every authenticated request ran ``set_config`` (one round trip), then the session check (another),
then a membership lookup per access check. The function answers all three, and the API sends it pipelined
with ``BEGIN``.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

from homeops.core import ddl

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION homeops_begin(p_session uuid, p_user uuid)
        RETURNS TABLE (role user_role, email varchar, home_ids uuid[], home_roles text[])
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE
          v_role user_role; v_email varchar;
        BEGIN
          SELECT u.role, u.email INTO v_role, v_email
            FROM user_sessions s JOIN users u ON u.id = s.user_id
           WHERE s.id = p_session AND s.user_id = p_user AND s.revoked_at IS NULL AND s.expires_at > now()
             AND u.deleted_at IS NULL AND u.is_active;
          IF NOT FOUND THEN
            PERFORM set_config('app.user_id', '', true), set_config('app.role', '', true);
            RETURN;
          END IF;
          PERFORM set_config('app.user_id', p_user::text, true), set_config('app.role', v_role::text, true);
          RETURN QUERY
            SELECT v_role, v_email,
                   coalesce(array_agg(m.home_id ORDER BY m.home_id), '{}'),
                   coalesce(array_agg(m.role::text ORDER BY m.home_id), '{}')
              FROM home_members m WHERE m.user_id = p_user;
        END $$
        """
    )
    ddl.function_grant("homeops_begin(uuid, uuid)")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS homeops_begin(uuid, uuid)")

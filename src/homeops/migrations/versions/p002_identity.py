"""identity: users (a reference table), sessions with their retired refresh tokens, sign-in attempts, throttle
events and e-mailed account tokens (local to the coordinator), and the functions that establish a transaction's
identity for row security

``homeops_begin(session, user)`` — the first statement of every authenticated request — checks that the session
is live and the user active, reads the stored role and the user's homes and organizations with their roles,
and sets what the row policies read (``homeops.*``, see ``homeops.core.ddl``) with ``SET LOCAL``, which Citus
propagates to the workers (``set_config`` would not be). The application never computes memberships.

Revision ID: p002
Revises: p001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl
from homeops.core.ddl import IS_STAFF, UID

revision: str = "p002"
down_revision: str | None = "p001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USER_ROLES = (
    "homeowner",
    "provider",
    "technician",
    "manager",
    "office_staff",
    "government",
    "support",
    "admin",
)
SETTINGS = (
    "uid",
    "role",
    "staff",
    "homes_read",
    "homes_write",
    "homes_admin",
    "homes_owner",
    "orgs_read",
    "orgs_write",
    "orgs_admin",
    "orgs_owner",
)

# The words of an account's e-mail address and name (split at punctuation), for the admins' search.
USER_SEARCH_VECTOR = "to_tsvector('simple', regexp_replace(lower(email || ' ' || full_name), '[[:punct:][:space:]]+', ' ', 'g'))"

_FUNCTIONS = [
    "homeops_begin(uuid, uuid)",
    "homeops_sign_in(uuid, text)",
    "homeops_claim_new_user()",
    "homeops_act_for(uuid)",
    "homeops_identity_apply(uuid, user_role)",
    "homeops_identity_reset()",
    "homeops_identity_set(text, text)",
    "homeops_users_guard()",
    "homeops_auth_lookup(text)",
    "homeops_user_id_by_email(text)",
    "homeops_session_by_refresh(text)",
    "homeops_revoke_reused_refresh(text)",
    "homeops_verify_email(text)",
    "homeops_issue_password_reset(text, text, timestamptz)",
    "homeops_reset_password(text, text)",
    "homeops_set_user_active(uuid, boolean)",
    "homeops_admin_find_users(text, user_role, boolean, timestamptz, uuid, integer)",
]


def upgrade() -> None:
    ddl.citus_session()
    _tables()
    _identity_functions()
    _lookup_functions()
    _account_token_functions()
    _admin_functions()
    _grants_and_policies()


def _tables() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=True),
        sa.Column("full_name", sa.String(length=255), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("role", sa.Enum(*USER_ROLES, name="user_role"), server_default="homeowner", nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_verified", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "preferences",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("profile_picture_url", sa.Text(), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "certification_numbers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "specializations",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("hire_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("search_vector", postgresql.TSVECTOR(), sa.Computed(USER_SEARCH_VECTOR, persisted=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    ddl.reference_table("users")  # read by every node (owners, authors, assignees of tenant rows)
    op.create_index("ix_users_created_at", "users", ["created_at"], unique=False)
    op.create_index("ix_users_is_active", "users", ["is_active"], unique=False)
    op.create_index(
        "ix_users_live", "users", ["deleted_at"], unique=False, postgresql_where=sa.text("deleted_at IS NULL")
    )
    op.create_index("ix_users_role", "users", ["role"], unique=False)
    op.create_index("ix_users_search", "users", ["search_vector"], unique=False, postgresql_using="gin")
    op.create_index("uq_users_email_lower", "users", [sa.literal_column("lower(email)")], unique=True)
    op.create_index(
        "uq_users_username_lower",
        "users",
        [sa.literal_column("lower(username)")],
        unique=True,
        postgresql_where=sa.text("username IS NOT NULL"),
    )
    ddl.updated_at_trigger("users")

    op.create_table(
        "user_sessions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("refresh_token_hash", sa.String(length=64), nullable=False),
        sa.Column("previous_token_hash", sa.String(length=64), nullable=True),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip_address", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=50), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("refresh_token_hash", name=op.f("uq_user_sessions_refresh_token_hash")),
    )
    # On the coordinator: the refresh-token hash is unique platform-wide and found in one indexed lookup, and
    # the session check of every request reads it locally.
    ddl.local_table("user_sessions")
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"], unique=False)

    # Every refresh token a session ever had, by hash: presenting one again is token reuse (the family is
    # revoked). Found in one indexed lookup, like the current one.
    op.create_table(
        "retired_refresh_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["user_sessions.id"],
            name=op.f("fk_retired_refresh_tokens_session_id_user_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_retired_refresh_tokens")),
    )
    ddl.local_table("retired_refresh_tokens")
    op.create_index(
        "ix_retired_refresh_tokens_session_id", "retired_refresh_tokens", ["session_id"], unique=False
    )

    # One row per sign-in attempt (recorded before the password is checked; marked when it succeeded), keyed by
    # the email and the client address (an IPv6 client by its /64).
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("ip_address", postgresql.INET(), nullable=True),
        sa.Column(
            "attempted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("succeeded", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    ddl.local_table("login_attempts")
    op.create_index("ix_login_attempts_email_at", "login_attempts", ["email", "attempted_at"], unique=False)
    op.create_index(
        "ix_login_attempts_email_ip_at",
        "login_attempts",
        ["email", "ip_address", "attempted_at"],
        unique=False,
    )

    # Other throttled actions (registration per address, e-mails per account or address).
    op.create_table(
        "throttle_events",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_throttle_events")),
    )
    ddl.local_table("throttle_events")
    op.create_index(
        "ix_throttle_events_action_subject_at",
        "throttle_events",
        ["action", "subject", "occurred_at"],
        unique=False,
    )

    # E-mailed single-use tokens (verification, password reset): only their SHA-256 is stored.
    op.create_table(
        "account_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "purpose IN ('verify_email', 'password_reset')", name=op.f("ck_account_tokens_purpose")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_account_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_account_tokens")),
    )
    ddl.local_table("account_tokens")
    op.create_index("ix_account_tokens_user_id", "account_tokens", ["user_id"], unique=False)


def _identity_functions() -> None:
    # SET LOCAL (not set_config) so that Citus sends the values to the workers; never inside an EXCEPTION block
    # (Citus forgets a SET LOCAL made there).
    op.execute(
        """
        CREATE FUNCTION homeops_identity_set(p_name text, p_value text) RETURNS void LANGUAGE plpgsql AS
        $$ BEGIN EXECUTE format('SET LOCAL homeops.%s = %L', p_name, coalesce(p_value, '')); END $$
        """
    )
    # One EXECUTE per setting: Citus records each SET LOCAL together with the text it came in and replays that
    # text on every worker connection of the transaction (eleven settings in one string: eleven times each).
    resets = "\n".join(f"          EXECUTE 'SET LOCAL homeops.{name} = ''''';" for name in SETTINGS)
    op.execute(
        f"""
        CREATE FUNCTION homeops_identity_reset() RETURNS void LANGUAGE plpgsql AS
        $$ BEGIN
{resets}
        END $$
        """
    )
    # Reads the memberships (reference tables: local reads on every node) and sets every setting (~0.2 ms of
    # database time in all). Runs as its caller (the SECURITY DEFINER identity functions); not executable by
    # the API or worker roles themselves.
    values = (
        "p_user",
        "p_role",
        "CASE WHEN p_role IN ('support', 'technician', 'manager', 'admin') THEN 'on' ELSE 'off' END",
        "h_ids",
        "h_write",
        "h_admin",
        "h_owner",
        "o_ids",
        "o_write",
        "o_admin",
        "o_owner",
    )
    sets = "\n".join(
        f"          EXECUTE format('SET LOCAL homeops.{name} = %L', {value});"
        for name, value in zip(SETTINGS, values, strict=True)
    )
    op.execute(
        f"""
        CREATE FUNCTION homeops_identity_apply(p_user uuid, p_role user_role)
        RETURNS TABLE (home_ids uuid[], home_roles text[], org_ids uuid[], org_roles text[])
        LANGUAGE plpgsql AS
        $$ DECLARE
          h_ids uuid[]; h_roles text[]; h_write uuid[]; h_admin uuid[]; h_owner uuid[];
          o_ids uuid[]; o_roles text[]; o_write uuid[]; o_admin uuid[]; o_owner uuid[];
        BEGIN
          SELECT coalesce(array_agg(m.home_id ORDER BY m.home_id), '{{}}'),
                 coalesce(array_agg(m.role::text ORDER BY m.home_id), '{{}}'),
                 coalesce(array_agg(m.home_id ORDER BY m.home_id) FILTER (WHERE m.role >= 'member'), '{{}}'),
                 coalesce(array_agg(m.home_id ORDER BY m.home_id) FILTER (WHERE m.role >= 'admin'), '{{}}'),
                 coalesce(array_agg(m.home_id ORDER BY m.home_id) FILTER (WHERE m.role = 'owner'), '{{}}')
            INTO h_ids, h_roles, h_write, h_admin, h_owner
            FROM public.home_members m WHERE m.user_id = p_user;
          SELECT coalesce(array_agg(m.organization_id ORDER BY m.organization_id), '{{}}'),
                 coalesce(array_agg(m.role::text ORDER BY m.organization_id), '{{}}'),
                 coalesce(array_agg(m.organization_id ORDER BY m.organization_id)
                          FILTER (WHERE m.role >= 'technician'), '{{}}'),
                 coalesce(array_agg(m.organization_id ORDER BY m.organization_id)
                          FILTER (WHERE m.role >= 'manager'), '{{}}'),
                 coalesce(array_agg(m.organization_id ORDER BY m.organization_id)
                          FILTER (WHERE m.role = 'owner'), '{{}}')
            INTO o_ids, o_roles, o_write, o_admin, o_owner
            FROM public.organization_members m WHERE m.user_id = p_user;
{sets}
          RETURN QUERY SELECT h_ids, h_roles, o_ids, o_roles;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION homeops_begin(p_session uuid, p_user uuid)
        RETURNS TABLE (role user_role, email varchar, home_ids uuid[], home_roles text[], org_ids uuid[],
                       org_roles text[])
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE
          v_role user_role; v_email varchar;
        BEGIN
          SELECT u.role, u.email INTO v_role, v_email
            FROM user_sessions s JOIN users u ON u.id = s.user_id
           WHERE s.id = p_session AND s.user_id = p_user AND s.revoked_at IS NULL AND s.expires_at > now()
             AND u.deleted_at IS NULL AND u.is_active;
          IF NOT FOUND THEN
            PERFORM homeops_identity_reset();
            RETURN;
          END IF;
          RETURN QUERY SELECT v_role, v_email, a.home_ids, a.home_roles, a.org_ids, a.org_roles
                         FROM homeops_identity_apply(p_user, v_role) a;
        END $$
        """
    )
    # Sign-in, once the API has verified the password (bcrypt, in Python): the hash it verified must still be
    # the stored one. No session exists yet; the API creates it under this identity.
    op.execute(
        """
        CREATE FUNCTION homeops_sign_in(p_user uuid, p_password_hash text) RETURNS user_role
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE v_role user_role;
        BEGIN
          SELECT u.role INTO v_role FROM users u
           WHERE u.id = p_user AND u.password_hash = p_password_hash AND u.deleted_at IS NULL AND u.is_active;
          IF NOT FOUND THEN
            PERFORM homeops_identity_reset();
            RETURN NULL;
          END IF;
          PERFORM homeops_identity_apply(p_user, v_role);
          RETURN v_role;
        END $$
        """
    )
    # Registration: a fresh user id the transaction may create (and nothing else).
    op.execute(
        """
        CREATE FUNCTION homeops_claim_new_user() RETURNS uuid
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE v_id uuid := gen_random_uuid();
        BEGIN
          PERFORM homeops_identity_reset();
          PERFORM homeops_identity_set('uid', v_id::text);
          PERFORM homeops_identity_set('role', 'homeowner');
          PERFORM homeops_identity_set('staff', 'off');
          RETURN v_id;
        END $$
        """
    )
    # The worker acting for one user (processing what that user uploaded): that user's identity exactly.
    op.execute(
        """
        CREATE FUNCTION homeops_act_for(p_user uuid)
        RETURNS TABLE (role user_role, email varchar, home_ids uuid[], home_roles text[], org_ids uuid[],
                       org_roles text[])
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE v_role user_role; v_email varchar;
        BEGIN
          SELECT u.role, u.email INTO v_role, v_email FROM users u WHERE u.id = p_user AND u.deleted_at IS NULL;
          IF NOT FOUND THEN
            PERFORM homeops_identity_reset();
            RETURN;
          END IF;
          RETURN QUERY SELECT v_role, v_email, a.home_ids, a.home_roles, a.org_ids, a.org_roles
                         FROM homeops_identity_apply(p_user, v_role) a;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION homeops_users_guard() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN
          IF current_user IN ('homeops_app', 'homeops_worker') AND (NEW.role <> 'homeowner' OR NEW.is_verified
                                              OR NOT NEW.is_active OR NEW.deleted_at IS NOT NULL) THEN
            RAISE EXCEPTION 'the API role may only create active, unverified homeowners'
              USING ERRCODE = 'insufficient_privilege';
          END IF;
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER trg_users_guard BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION homeops_users_guard()"
    )


def _lookup_functions() -> None:
    # Before authentication there is no identity: these narrow functions answer exactly what login, refresh and
    # invitations need, and nothing more.
    op.execute(
        """
        CREATE FUNCTION homeops_auth_lookup(p_email text)
        RETURNS TABLE (id uuid, password_hash text, role user_role, is_active boolean)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ SELECT u.id, u.password_hash, u.role, u.is_active FROM users u
           WHERE lower(u.email) = lower(p_email) AND u.deleted_at IS NULL $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION homeops_user_id_by_email(p_email text) RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ SELECT u.id FROM users u WHERE lower(u.email) = lower(p_email)
           AND u.is_active AND u.deleted_at IS NULL $$
        """
    )
    # A refresh token by its hash: the live session whose current token it is ('current'), or the session it was
    # once issued to ('previous': the one just replaced, 'retired': older), live or not. Two indexed lookups.
    op.execute(
        """
        CREATE FUNCTION homeops_session_by_refresh(p_hash text)
        RETURNS TABLE (session_id uuid, user_id uuid, state text, retired_at timestamptz, live boolean)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ SELECT s.id, s.user_id, 'current', NULL::timestamptz, true FROM user_sessions s
            WHERE s.refresh_token_hash = p_hash AND s.revoked_at IS NULL AND s.expires_at > now()
           UNION ALL
           SELECT s.id, s.user_id, CASE WHEN s.previous_token_hash = p_hash THEN 'previous' ELSE 'retired' END,
                  r.retired_at, s.revoked_at IS NULL AND s.expires_at > now()
             FROM retired_refresh_tokens r JOIN user_sessions s ON s.id = r.session_id
            WHERE r.token_hash = p_hash
           LIMIT 1 $$
        """
    )
    # Reuse of a retired refresh token: whoever holds it ends the session it belonged to (the whole family:
    # the current refresh token and every access token of that session).
    op.execute(
        """
        CREATE FUNCTION homeops_revoke_reused_refresh(p_hash text) RETURNS uuid
        LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ UPDATE user_sessions s SET revoked_at = now(), revoked_reason = 'refresh_token_reused'
             FROM retired_refresh_tokens r
            WHERE r.token_hash = p_hash AND s.id = r.session_id AND s.revoked_at IS NULL
           RETURNING s.id $$
        """
    )


def _account_token_functions() -> None:
    # The API role cannot set is_verified or write another user's password (column grants, row policies).
    # These consume one valid, unused, unexpired token and do exactly what it is for.
    op.execute(
        """
        CREATE FUNCTION homeops_verify_email(p_hash text) RETURNS uuid
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE v_user uuid; v_email varchar;
        BEGIN
          UPDATE account_tokens t SET used_at = now()
           WHERE t.token_hash = p_hash AND t.purpose = 'verify_email' AND t.used_at IS NULL
             AND t.expires_at > now()
          RETURNING t.user_id, t.email INTO v_user, v_email;
          IF NOT FOUND THEN
            RETURN NULL;
          END IF;
          UPDATE users u SET is_verified = true
           WHERE u.id = v_user AND lower(u.email) = lower(v_email) AND u.deleted_at IS NULL AND u.is_active;
          IF NOT FOUND THEN
            RETURN NULL;
          END IF;
          RETURN v_user;
        END $$
        """
    )
    # Password reset, step 1 (no one is signed in): the same statement whether or not the email is registered;
    # a token row only for a live, active account. Returns the recipient, or nothing.
    op.execute(
        """
        CREATE FUNCTION homeops_issue_password_reset(p_email text, p_hash text, p_expires timestamptz)
        RETURNS TABLE (user_id uuid, email varchar, full_name varchar)
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE v_user uuid; v_email varchar; v_name varchar;
        BEGIN
          SELECT u.id, u.email, u.full_name INTO v_user, v_email, v_name FROM users u
           WHERE lower(u.email) = lower(p_email) AND u.deleted_at IS NULL AND u.is_active;
          IF NOT FOUND THEN
            RETURN;
          END IF;
          INSERT INTO account_tokens (token_hash, user_id, purpose, email, expires_at)
          VALUES (p_hash, v_user, 'password_reset', v_email, least(p_expires, now() + interval '1 day'));
          RETURN QUERY SELECT v_user, v_email, v_name;
        END $$
        """
    )
    # Step 2: the token sets the new password (hashed by the API), ends every session and every other reset
    # token of the account, and proves the mailbox (the account counts as verified).
    op.execute(
        r"""
        CREATE FUNCTION homeops_reset_password(p_hash text, p_password_hash text) RETURNS uuid
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE v_user uuid; v_email varchar;
        BEGIN
          IF coalesce(p_password_hash, '') !~ '^\$2[aby]\$' THEN
            RAISE EXCEPTION 'not a bcrypt hash' USING ERRCODE = 'invalid_parameter_value';
          END IF;
          UPDATE account_tokens t SET used_at = now()
           WHERE t.token_hash = p_hash AND t.purpose = 'password_reset' AND t.used_at IS NULL
             AND t.expires_at > now()
          RETURNING t.user_id, t.email INTO v_user, v_email;
          IF NOT FOUND THEN
            RETURN NULL;
          END IF;
          UPDATE users u SET password_hash = p_password_hash, password_changed_at = now(), is_verified = true
           WHERE u.id = v_user AND lower(u.email) = lower(v_email) AND u.deleted_at IS NULL AND u.is_active;
          IF NOT FOUND THEN
            RETURN NULL;
          END IF;
          UPDATE account_tokens t SET used_at = now()
           WHERE t.user_id = v_user AND t.purpose = 'password_reset' AND t.used_at IS NULL;
          UPDATE user_sessions s SET revoked_at = now(), revoked_reason = 'password_reset'
           WHERE s.user_id = v_user AND s.revoked_at IS NULL;
          RETURN v_user;
        END $$
        """
    )


def _admin_functions() -> None:
    # An admin deactivates or reactivates another account (the API role has no grant on ``is_active``): the
    # caller must be a live admin by the stored row, never themselves; deactivating ends every session.
    # Returns the previous value (NULL: no such account).
    op.execute(
        """
        CREATE FUNCTION homeops_set_user_active(p_user uuid, p_active boolean) RETURNS boolean
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE
          v_caller uuid := nullif(current_setting('homeops.uid', true), '')::uuid;
          v_old boolean;
        BEGIN
          IF v_caller IS NULL OR coalesce(current_setting('homeops.role', true), '') <> 'admin'
             OR NOT EXISTS (SELECT 1 FROM users a WHERE a.id = v_caller AND a.role = 'admin' AND a.is_active
                              AND a.deleted_at IS NULL) THEN
            RAISE EXCEPTION 'only an admin may change whether an account is active'
              USING ERRCODE = 'insufficient_privilege';
          END IF;
          IF p_user = v_caller THEN
            RAISE EXCEPTION 'an admin cannot change their own account''s activation'
              USING ERRCODE = 'insufficient_privilege';
          END IF;
          SELECT u.is_active INTO v_old FROM users u WHERE u.id = p_user AND u.deleted_at IS NULL FOR UPDATE;
          IF NOT FOUND THEN
            RETURN NULL;
          END IF;
          IF v_old IS DISTINCT FROM p_active THEN
            UPDATE users SET is_active = p_active WHERE id = p_user;
          END IF;
          IF NOT p_active THEN
            UPDATE user_sessions SET revoked_at = now(), revoked_reason = 'deactivated'
             WHERE user_id = p_user AND revoked_at IS NULL;
          END IF;
          RETURN v_old;
        END $$
        """
    )

    # The admins' account search: a full e-mail address is an exact match, other text the accounts whose words
    # (of the e-mail and name) start with each of its words — newest first from a keyset. It runs here, as the
    # owner, so that the indexes serve it: under the row policy ``lower()`` and ``@@`` (not leakproof) could only
    # filter a scan of every account. Only admins may call it; it returns ids, read back under the policy.
    op.execute(
        r"""
        CREATE FUNCTION homeops_admin_find_users(p_text text, p_role user_role, p_active boolean,
                                                 p_after_at timestamptz, p_after_id uuid, p_limit integer)
        RETURNS SETOF uuid
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE
          v_text text := lower(btrim(coalesce(p_text, '')));
          v_query tsquery;
          v_filter text := ' AND u.deleted_at IS NULL AND ($2 IS NULL OR u.role = $2)'
                           ' AND ($3 IS NULL OR u.is_active = $3)'
                           ' AND ($4 IS NULL OR (u.created_at, u.id) < ($4, $5))';
        BEGIN
          IF coalesce(current_setting('homeops.role', true), '') <> 'admin' THEN
            RAISE EXCEPTION 'only an admin may search the accounts' USING ERRCODE = 'insufficient_privilege';
          END IF;
          IF v_text ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' THEN
            RETURN QUERY EXECUTE 'SELECT u.id FROM users u WHERE lower(u.email) = $1' || v_filter
              USING v_text, p_role, p_active, p_after_at, p_after_id;
            RETURN;
          END IF;
          SELECT to_tsquery('simple', string_agg(quote_literal(w) || ':*', ' & ')) INTO v_query
            FROM regexp_split_to_table(v_text, '[[:punct:][:space:]]+') AS w WHERE w <> '';
          IF v_query IS NULL OR numnode(v_query) = 0 THEN
            RETURN;
          END IF;
          RETURN QUERY EXECUTE 'SELECT u.id FROM users u WHERE u.search_vector @@ $1' || v_filter
                               || ' ORDER BY u.created_at DESC, u.id DESC LIMIT $6'
            USING v_query, p_role, p_active, p_after_at, p_after_id, greatest(1, least(p_limit, 201));
        END $$
        """
    )


def _grants_and_policies() -> None:
    for fn in (
        "homeops_begin(uuid, uuid)",
        "homeops_sign_in(uuid, text)",
        "homeops_claim_new_user()",
        "homeops_auth_lookup(text)",
        "homeops_user_id_by_email(text)",
        "homeops_session_by_refresh(text)",
        "homeops_revoke_reused_refresh(text)",
        "homeops_verify_email(text)",
        "homeops_issue_password_reset(text, text, timestamptz)",
        "homeops_reset_password(text, text)",
        "homeops_set_user_active(uuid, boolean)",
        "homeops_admin_find_users(text, user_role, boolean, timestamptz, uuid, integer)",
    ):
        ddl.function_grant(fn)
    ddl.function_grant("homeops_act_for(uuid)", "homeops_worker")
    for fn in (
        "homeops_identity_apply(uuid, user_role)",
        "homeops_identity_reset()",
        "homeops_identity_set(text, text)",
    ):
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")

    # users: the API may create only a plain homeowner (trg_users_guard) and may never change a role, an
    # email or the activation flags (column-level UPDATE grant). Staff read accounts (ticket owners,
    # assignees); household members see each other through homeops_home_members().
    ddl.grant("users", "SELECT, INSERT")
    ddl.grant(
        "users",
        "UPDATE (username, full_name, phone, preferences, profile_picture_url, password_hash, "
        "password_changed_at, last_login_at)",
    )
    ddl.enable_rls("users")
    ddl.policy("users", "users_select", "SELECT", using=f"id = {UID} OR {IS_STAFF}")
    ddl.policy("users", "users_insert", "INSERT", check=f"id = {UID}")
    ddl.policy("users", "users_update", "UPDATE", using=f"id = {UID}", check=f"id = {UID}")
    ddl.worker_access("users", "SELECT")  # e-mail addresses of notification recipients

    ddl.grant("user_sessions", "SELECT, INSERT")
    ddl.grant(
        "user_sessions",
        "UPDATE (refresh_token_hash, previous_token_hash, rotated_at, last_used_at, expires_at, revoked_at, "
        "revoked_reason)",
    )
    ddl.enable_rls("user_sessions")
    ddl.policy(
        "user_sessions", "user_sessions_own", "ALL", using=f"user_id = {UID}", check=f"user_id = {UID}"
    )
    # Retired refresh tokens: written by the session's own rotation, read only by the functions above.
    ddl.grant("retired_refresh_tokens", "INSERT")
    ddl.enable_rls("retired_refresh_tokens")
    ddl.policy("retired_refresh_tokens", "retired_refresh_tokens_own", "INSERT", check=f"user_id = {UID}")
    # Account tokens: a user's own verification tokens are written under their identity; consumed, and the
    # reset tokens written, only by the functions above.
    ddl.grant("account_tokens", "INSERT")
    ddl.enable_rls("account_tokens")
    ddl.policy(
        "account_tokens",
        "account_tokens_own",
        "INSERT",
        check=f"user_id = {UID} AND purpose = 'verify_email'",
    )

    # Throttle counters: not tenant data, no identity exists yet when they are written.
    ddl.grant("login_attempts", "SELECT, INSERT")
    ddl.grant("login_attempts", "UPDATE (succeeded)")
    ddl.grant("throttle_events", "SELECT, INSERT")


def downgrade() -> None:
    op.drop_table("account_tokens")
    op.drop_table("throttle_events")
    op.drop_table("login_attempts")
    op.drop_table("retired_refresh_tokens")
    op.drop_table("user_sessions")
    op.drop_table("users")
    for fn in _FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {fn} CASCADE")
    op.execute("DROP TYPE IF EXISTS user_role")

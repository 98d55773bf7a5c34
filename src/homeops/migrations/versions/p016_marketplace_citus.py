"""marketplace on Citus: a homeowner becomes a provider as the API role itself, in the profile's transaction

On a cluster, opening a provider profile deadlocked with itself. ``homeops_become_provider`` (p014) was
``SECURITY DEFINER``: its ``UPDATE users`` ran as the owner, the profile's ``INSERT INTO provider_profiles`` as
the API role, in one transaction. Both are writes to reference tables, and Citus serializes every write to a
reference table with a lock on its shard (and on the shards of the reference tables it references) on the first
worker, taken over the writing user's own connection: the API role's connection held ``users``' shard lock
(share, for the profile's foreign key) while the owner's connection waited for it exclusively (or the other
way round when the function ran first) — one distributed transaction waiting for itself. Two users' writes to
the same reference table cannot share a transaction on Citus; one user's can.

So the role change is now the API role's own write, kept exactly as narrow as the definer was:

* the API role may ``UPDATE (role)`` on ``users``; the row policy ``users_update`` already limits it to the
  caller's own row (``id = homeops.uid``);
* ``trg_users_role_guard`` (``BEFORE UPDATE OF role``, touching only its own row, so it runs on every
  placement) lets the API and worker roles change a role only from ``homeowner`` to ``provider``, only for the
  caller's own live account — anything else (``admin``, ``support`` …, back to ``homeowner``, another user)
  is refused with ``insufficient_privilege``, as before; the owner (operators, other definer functions) is
  unaffected;
* ``homeops_become_provider()`` keeps its body and grant but runs as the caller (``SECURITY INVOKER``): the
  profile and the role change are one transaction of one user, on one server or a cluster.

The API role gains no ownership, no ``BYPASSRLS`` and no other column.

Revision ID: p016
Revises: p015
"""

from collections.abc import Sequence

from alembic import op

from homeops.core import ddl
from homeops.core.config import APP_DB_ROLE, WORKER_DB_ROLE
from homeops.core.ddl import UID, orgs

revision: str = "p016"
down_revision: str | None = "p015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# homeops_submit_quote's parameters (p014), for the variant that returns the submitted row.
_SUBMIT = (
    ("p_request", "uuid"),
    ("p_provider", "uuid"),
    ("p_cost", "numeric"),
    ("p_breakdown", "jsonb"),
    ("p_duration", "integer"),
    ("p_assessment", "text"),
    ("p_solution", "text"),
    ("p_materials", "boolean"),
    ("p_warranty", "integer"),
    ("p_terms", "text"),
    ("p_validity", "integer"),
    ("p_attachments", "jsonb"),
)
_SUBMIT_ARGS = ", ".join(f"{name} {kind}" for name, kind in _SUBMIT)
_SUBMIT_TYPES = ", ".join(kind for _, kind in _SUBMIT)
_SUBMIT_CALL = ", ".join(name for name, _ in _SUBMIT)


def upgrade() -> None:
    ddl.citus_session()
    op.execute(
        f"""
        CREATE FUNCTION homeops_users_role_guard() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN
          IF current_user IN ('{APP_DB_ROLE}', '{WORKER_DB_ROLE}') AND NEW.role IS DISTINCT FROM OLD.role
             AND NOT (OLD.role = 'homeowner' AND NEW.role = 'provider' AND OLD.deleted_at IS NULL
                      AND NEW.id = OLD.id AND OLD.id = {UID}) THEN
            RAISE EXCEPTION 'the API role may only make its own homeowner account a provider'
              USING ERRCODE = 'insufficient_privilege';
          END IF;
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER trg_users_role_guard BEFORE UPDATE OF role ON users "
        "FOR EACH ROW EXECUTE FUNCTION homeops_users_role_guard()"
    )
    ddl.grant("users", "UPDATE (role)")
    op.execute("ALTER FUNCTION homeops_become_provider() SECURITY INVOKER")
    # The quote form's common refusals are found by reading first (the caller acting for the provider, an
    # open request, no live quote of this provider on it): a write attempt by the owner would keep the page
    # that shows the form again from reading the requester's placements. homeops_submit_quote repeats every
    # check under the request's lock.
    op.execute(
        f"""
        CREATE FUNCTION homeops_submit_quote_row({_SUBMIT_ARGS}) RETURNS SETOF quotes
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ DECLARE v provider_profiles; rq service_requests; v_id uuid;
        BEGIN
          SELECT * INTO v FROM provider_profiles WHERE provider_profiles.id = p_provider;
          IF NOT FOUND OR NOT (v.user_id = {UID} OR coalesce(v.organization_id = ANY ({orgs("write")}), false)) THEN
            RAISE EXCEPTION 'provider_not_found' USING ERRCODE = 'insufficient_privilege';
          END IF;
          SELECT * INTO rq FROM service_requests x WHERE x.id = p_request;
          IF FOUND AND rq.requester_id <> v.user_id THEN
            IF rq.status NOT IN ('open', 'quotes_received') OR rq.expires_at <= now() THEN
              RAISE EXCEPTION 'service_request_closed' USING ERRCODE = 'object_not_in_prerequisite_state';
            END IF;
            IF EXISTS (SELECT 1 FROM quotes q
                        WHERE q.requester_id = rq.requester_id AND q.request_id = rq.id
                          AND q.provider_id = p_provider AND q.status NOT IN ('withdrawn', 'expired')) THEN
              RAISE EXCEPTION 'duplicate key value violates unique constraint "uq_quotes_live_per_provider"'
                USING ERRCODE = 'unique_violation';
            END IF;
          END IF;
          v_id := homeops_submit_quote({_SUBMIT_CALL});
          RETURN QUERY SELECT q.* FROM quotes q WHERE q.requester_id = rq.requester_id AND q.id = v_id;
        END $$
        """
    )
    ddl.function_grant(f"homeops_submit_quote_row({_SUBMIT_TYPES})")


def downgrade() -> None:
    ddl.citus_session()
    op.execute(f"DROP FUNCTION IF EXISTS homeops_submit_quote_row({_SUBMIT_TYPES})")
    op.execute("ALTER FUNCTION homeops_become_provider() SECURITY DEFINER")
    op.execute(f"REVOKE UPDATE (role) ON users FROM {APP_DB_ROLE}")
    op.execute("DROP TRIGGER IF EXISTS trg_users_role_guard ON users")
    op.execute("DROP FUNCTION IF EXISTS homeops_users_role_guard()")

"""DDL helpers the migrations share: grants, row policies on the transaction's identity, updated_at triggers,
and the placement of each table on a Citus cluster.

**One schema for one server and for a cluster.** When the ``citus`` extension exists in the database, each
migration places every table right after creating it — ``reference_table`` (replicated to every node: the
directory and shared library), ``distributed_table`` (sharded by its tenant key, co-located with the other
tables of that key) or ``local_table`` (stays on the coordinator: queues, token lookups). Without Citus these
calls do nothing, so plain PostgreSQL ≥ 15 gets exactly the same tables, keys, policies and triggers.

**Row policies compare a column with the identity directly.** ``homeops_begin`` (identity migration) sets,
with ``SET LOCAL`` (which Citus propagates to the workers), the settings the policies read:

| setting | value |
|---|---|
| ``homeops.uid`` | the user's id |
| ``homeops.role`` | the stored platform role (``admin``, ``support`` …) |
| ``homeops.staff`` | ``on`` for support, technician, manager and admin |
| ``homeops.homes_read`` / ``_write`` / ``_admin`` / ``_owner`` | ``{…}`` arrays of home ids where the role is at least guest / member / admin / owner |
| ``homeops.orgs_read`` / ``_write`` / ``_admin`` / ``_owner`` | the same for organizations (any role / staff and above… see ``OrgRole``) |

A policy is then ``home_id = ANY (<homes_read>)``: no sub-select, no function reading a table, so Citus can
push it to the shards. Keep these helpers' output stable; migrations depend on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

from homeops.core.config import APP_DB_ROLE, WORKER_DB_ROLE

API_ROLES = f"{APP_DB_ROLE}, {WORKER_DB_ROLE}"

__all__ = ["API_ROLES", "APP_DB_ROLE", "IS_ADMIN", "IS_STAFF", "UID", "WORKER_DB_ROLE"]


# --- the identity the policies read ------------------------------------------------------------------------


def setting(name: str) -> str:
    return f"coalesce(current_setting('homeops.{name}', true), '')"


UID = "nullif(current_setting('homeops.uid', true), '')::uuid"
IS_ADMIN = f"{setting('role')} = 'admin'"
IS_STAFF = f"{setting('staff')} = 'on'"


def homes(level: str) -> str:
    """The caller's home ids with at least ``level`` (read = guest, write = member, admin, owner)."""
    assert level in ("read", "write", "admin", "owner")
    return f"(coalesce(nullif(current_setting('homeops.homes_{level}', true), ''), '{{}}'))::uuid[]"


def orgs(level: str) -> str:
    """The caller's organization ids with at least ``level`` (read, write, admin, owner)."""
    assert level in ("read", "write", "admin", "owner")
    return f"(coalesce(nullif(current_setting('homeops.orgs_{level}', true), ''), '{{}}'))::uuid[]"


def in_homes(level: str, column: str = "home_id") -> str:
    return f"{column} = ANY ({homes(level)})"


def in_orgs(level: str, column: str = "organization_id") -> str:
    return f"{column} = ANY ({orgs(level)})"


# --- grants and policies ------------------------------------------------------------------------------------


def grant(table: str, privileges: str, roles: str = APP_DB_ROLE) -> None:
    op.execute(f"GRANT {privileges} ON {table} TO {roles}")


def enable_rls(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")


def policy(
    table: str,
    name: str,
    command: str,
    using: str | None = None,
    check: str | None = None,
    roles: str = API_ROLES,
) -> None:
    """A row policy for the API and the worker (the worker acting for a user has that user's identity)."""
    sql = f"CREATE POLICY {name} ON {table} FOR {command} TO {roles}"
    if using:
        sql += f" USING ({using})"
    if check:
        sql += f" WITH CHECK ({check})"
    op.execute(sql)


def function_grant(signature: str, roles: str = APP_DB_ROLE) -> None:
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {roles}")


def home_scoped(table: str, *, worker: str | None = None) -> None:
    """The homes rule on a tenant table with a ``home_id``: guests (and platform admins) read, members write.
    ``worker``: the privileges the background worker role has on it, unrestricted by home (e.g. ``SELECT``)."""
    grant(table, "SELECT, INSERT, UPDATE, DELETE", API_ROLES)
    enable_rls(table)
    policy(table, f"{table}_select", "SELECT", using=f"{in_homes('read')} OR {IS_ADMIN}")
    policy(table, f"{table}_insert", "INSERT", check=in_homes("write"))
    policy(table, f"{table}_update", "UPDATE", using=in_homes("write"), check=in_homes("write"))
    policy(table, f"{table}_delete", "DELETE", using=in_homes("write"))
    if worker:
        worker_access(table, worker)


def worker_access(table: str, privileges: str) -> None:
    """The background worker's system-wide access to ``table`` (it acts for no single tenant: reminders,
    retention, the shared library): exactly ``privileges``, through a policy of its own."""
    grant(table, privileges, WORKER_DB_ROLE)
    for command in (p.strip().upper() for p in privileges.split(",")):
        verb = command.split("(")[0].strip()
        using = "true" if verb in ("SELECT", "UPDATE", "DELETE") else None
        check = "true" if verb in ("INSERT", "UPDATE") else None
        policy(table, f"{table}_worker_{verb.lower()}", verb, using=using, check=check, roles=WORKER_DB_ROLE)


def updated_at_trigger(table: str) -> None:
    """``updated_at = now()`` on every UPDATE. It touches only its own row, so on Citus it runs on the shards
    (created with ``citus.enable_unsafe_triggers``, see ``citus_session``)."""
    op.execute(
        f"CREATE TRIGGER trg_{table}_updated_at BEFORE UPDATE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION homeops_set_updated_at()"
    )


# --- placement on a Citus cluster -------------------------------------------------------------------------

_CITUS: dict[int, bool] = {}


def citus() -> bool:
    """Whether this database is a Citus coordinator (the ``citus`` extension is installed)."""
    bind = op.get_bind()
    key = id(bind.engine)
    if key not in _CITUS:
        _CITUS[key] = bool(
            bind.execute(text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")).scalar()
        )
    return _CITUS[key]


def citus_session() -> None:
    """Settings a migration needs on Citus (called by the migration environment): DDL on distributed tables in
    one transaction, triggers that only touch their own row allowed on distributed tables."""
    if citus():
        op.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
        op.execute("SET LOCAL citus.enable_unsafe_triggers TO on")


def reference_table(table: str) -> None:
    """Replicated to every node (small, read everywhere, joined with everything)."""
    if citus():
        op.execute(f"SELECT create_reference_table('{table}')")


def distributed_table(table: str, column: str, colocate_with: str | None = None) -> None:
    """Sharded by ``column`` (its tenant key, first in every primary and unique key), co-located with
    ``colocate_with`` (the first table of that key) so joins and foreign keys stay on one node."""
    if citus():
        colocate = f", colocate_with => '{colocate_with}'" if colocate_with else ", colocate_with => 'none'"
        op.execute(f"SELECT create_distributed_table('{table}', '{column}'{colocate})")


def local_table(table: str) -> None:
    """Stays on the coordinator (queues, token lookups): nothing to do; named for the reader."""


# --- seeded settings --------------------------------------------------------------------------------------


def retention_settings(rows: Sequence[tuple[str, str, str]]) -> None:
    """Seeds ``retention.*`` windows (key, days, description) into ``system_settings``: whole days from 1 to
    36,500, not public — the shape every domain's retention rule reads."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    table = sa.table(
        "system_settings",
        sa.column("setting_key", sa.String),
        sa.column("setting_value", sa.Text),
        sa.column("default_value", sa.Text),
        sa.column("setting_type", sa.String),
        sa.column("category", sa.String),
        sa.column("is_public", sa.Boolean),
        sa.column("validation_rules", postgresql.JSONB),
        sa.column("description", sa.Text),
    )
    number = sa.cast(sa.literal("number"), postgresql.ENUM(name="setting_type", create_type=False))
    for key, value, description in rows:
        op.execute(
            table.insert().values(
                setting_key=key,
                setting_value=value,
                default_value=value,
                setting_type=number,
                category="retention",
                is_public=False,
                validation_rules={"min": 1, "max": 36500, "integer": True},
                description=description,
            )
        )

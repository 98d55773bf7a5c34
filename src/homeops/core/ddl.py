"""DDL helpers the migrations share (grants, RLS, updated_at triggers, partitions).

Migrations call these with literal table names; keep their output stable, old migrations depend on it.
"""

from __future__ import annotations

from alembic import op

from homeops.core.config import APP_DB_ROLE


def grant(table: str, privileges: str) -> None:
    op.execute(f"GRANT {privileges} ON {table} TO {APP_DB_ROLE}")


def enable_rls(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")


def policy(table: str, name: str, command: str, using: str | None = None, check: str | None = None) -> None:
    sql = f"CREATE POLICY {name} ON {table} FOR {command} TO {APP_DB_ROLE}"
    if using:
        sql += f" USING ({using})"
    if check:
        sql += f" WITH CHECK ({check})"
    op.execute(sql)


def updated_at_trigger(table: str) -> None:
    op.execute(
        f"CREATE TRIGGER trg_{table}_updated_at BEFORE UPDATE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION homeops_set_updated_at()"
    )


def function_grant(signature: str) -> None:
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_DB_ROLE}")


# Policy expressions: wrapping the calls in a sub-select makes PostgreSQL evaluate them once per
# statement (an InitPlan) instead of once per row.
UID = "(SELECT homeops_uid())"
IS_ADMIN = "(SELECT homeops_is_admin())"


def home_ids(min_role: str) -> str:
    return f"(SELECT homeops_home_ids('{min_role}'))"


def home_scoped(table: str) -> None:
    """The homes rule on a tenant table with a ``home_id``: guests (and platform admins) read, members write."""
    grant(table, "SELECT, INSERT, UPDATE, DELETE")
    enable_rls(table)
    policy(table, f"{table}_select", "SELECT", using=f"home_id IN {home_ids('guest')} OR {IS_ADMIN}")
    policy(table, f"{table}_insert", "INSERT", check=f"home_id IN {home_ids('member')}")
    policy(table, f"{table}_update", "UPDATE", using=f"home_id IN {home_ids('member')}",
           check=f"home_id IN {home_ids('member')}")
    policy(table, f"{table}_delete", "DELETE", using=f"home_id IN {home_ids('member')}")

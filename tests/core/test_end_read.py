"""A read's transaction ends without forgetting the connection's prepared statements (``core.context.end_read``).

psycopg clears its prepared-statement cache on a ROLLBACK (``rollback()`` or the statement) and sends
``DEALLOCATE ALL``; the API's pooled connections would then prepare their hot statements again on every request."""

from __future__ import annotations

import asyncio

import psycopg

from homeops.core.context import end_read
from homeops.core.database import libpq_dsn
from tests.conftest import PgTestDatabase

PREPARED = "SELECT count(*) FROM pg_prepared_statements"


async def _prepared_after(
    dsn: str, *, failed: bool, use_end_read: bool, status: int = 200
) -> tuple[int, int]:
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    try:
        await conn.execute(b"BEGIN")
        await conn.execute("SELECT %s::int", (1,), prepare=True)
        before = (await (await conn.execute(PREPARED)).fetchone() or [0])[0]
        if failed:
            try:
                await conn.execute("SELECT 1/0")
            except psycopg.errors.DivisionByZero:
                pass
        await (end_read(conn, status) if use_end_read else conn.rollback())
        assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
        after = (await (await conn.execute(PREPARED)).fetchone() or [0])[0]
        return int(before), int(after)
    finally:
        await conn.close()


def test_a_read_keeps_its_prepared_statements(test_db: PgTestDatabase) -> None:
    dsn = libpq_dsn(test_db.owner)
    assert asyncio.run(_prepared_after(dsn, failed=False, use_end_read=True)) == (1, 1)
    # What psycopg's rollback() does (the reason for end_read):
    assert asyncio.run(_prepared_after(dsn, failed=False, use_end_read=False)) == (1, 0)


def test_a_failed_request_rolls_back(test_db: PgTestDatabase) -> None:
    assert asyncio.run(
        _prepared_after(libpq_dsn(test_db.owner), failed=False, use_end_read=True, status=404)
    ) == (
        1,
        0,
    )


def test_a_failed_transaction_is_rolled_back_the_safe_way(test_db: PgTestDatabase) -> None:
    # INERROR: psycopg's own rollback (its cache may disagree with the server after a failure).
    assert asyncio.run(_prepared_after(libpq_dsn(test_db.owner), failed=True, use_end_read=True)) == (1, 0)

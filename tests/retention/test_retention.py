from __future__ import annotations

import uuid

import psycopg
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from homeops.cli import app as cli
from homeops.core.config import get_settings
from homeops.core.storage import build_storage


def _table(output: str) -> dict[str, int]:
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 3 and cells[2].isdigit():
            rows[cells[0]] = int(cells[2])
    return rows


def test_dry_run_changes_nothing_and_the_real_run_does_what_it_printed(  # type: ignore[no-untyped-def]
    cli_env,
    client: TestClient,
    make_user,
    make_home,
    owner_conn: psycopg.Connection,
) -> None:
    user = make_user()
    home = make_home(user)
    dev = [
        client.post(
            f"/api/v1/homes/{home['id']}/devices", json={"nickname": f"D{i}"}, headers=user.headers
        ).json()
        for i in range(3)
    ]
    old = "now() - interval '3 years'"
    owner_conn.execute(
        f"UPDATE devices SET created_at = {old} WHERE id = ANY(%s)", ([d["id"] for d in dev[:2]],)
    )
    # dev[0]: idle for 3 years → archived. dev[1]: old but serviced last month → kept. dev[2]: new → kept.
    owner_conn.execute(
        "INSERT INTO service_events (device_id, home_id, event_type, event_date) "
        "VALUES (%s, %s, 'repair', current_date - 30)",
        (dev[1]["id"], home["id"]),
    )

    def session(status: str, age: str) -> uuid.UUID:
        return owner_conn.execute(
            "INSERT INTO troubleshooting_sessions (user_id, device_id, home_id, issue_summary, status, created_at) "
            f"VALUES (%s, %s, %s, 'noise', %s, now() - interval '{age}') RETURNING id",
            (user.id, dev[2]["id"], home["id"], status),
        ).fetchone()[0]

    s_old_resolved, s_new_resolved, s_old_open = (
        session("resolved", "2 years"),
        session("resolved", "1 month"),
        session("open", "2 years"),
    )

    def ticket(status: str, age: str) -> uuid.UUID:
        return owner_conn.execute(
            "INSERT INTO service_tickets (user_id, device_id, home_id, summary, status, created_at) "
            f"VALUES (%s, %s, %s, 'x', %s, now() - interval '{age}') RETURNING id",
            (user.id, dev[2]["id"], home["id"], status),
        ).fetchone()[0]

    t_old_closed, t_recent_closed = ticket("closed", "4 years"), ticket("closed", "1 year")
    chat_old = owner_conn.execute(
        "INSERT INTO chat_sessions (user_id, title, last_activity) VALUES (%s, 'old', now() - interval '2 years') "
        "RETURNING id",
        (user.id,),
    ).fetchone()[0]
    chat_new = owner_conn.execute(
        "INSERT INTO chat_sessions (user_id, title, last_activity) VALUES (%s, 'new', now()) RETURNING id",
        (user.id,),
    ).fetchone()[0]
    storage = build_storage(get_settings())  # the CLI's storage (cli_env points it at a temporary data dir)
    key = f"media/{user.id}/{uuid.uuid4()}/old.wav"
    storage.put(key, b"RIFF....WAVE", "audio/wav")
    media_old = owner_conn.execute(
        "INSERT INTO media_files (user_id, filename, media_type, content_type, file_size, storage_key, "
        "processing_status, upload_date) VALUES (%s, 'old.wav', 'audio', 'audio/wav', 12, %s, 'completed', "
        "now() - interval '1 year') RETURNING id",
        (user.id, key),
    ).fetchone()[0]

    before = owner_conn.execute("SELECT count(*) FROM troubleshooting_sessions").fetchone()[0]
    dry = CliRunner().invoke(cli, ["retention", "run", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    planned = _table(dry.output)
    assert planned["troubleshooting_sessions_deleted"] >= 1 and planned["devices_archived"] >= 1
    assert planned["service_tickets_deleted"] >= 1 and planned["chat_sessions_deleted"] >= 1
    assert planned["media_files_deleted"] >= 1
    assert owner_conn.execute("SELECT count(*) FROM troubleshooting_sessions").fetchone()[0] == before
    assert (
        owner_conn.execute("SELECT status FROM devices WHERE id = %s", (dev[0]["id"],)).fetchone()[0]
        == "active"
    )
    assert storage.exists(key)

    real = CliRunner().invoke(cli, ["retention", "run"])
    assert real.exit_code == 0, real.output
    assert _table(real.output) == planned  # it did exactly what the dry run printed

    def exists(table: str, row_id: object) -> bool:
        return owner_conn.execute(f"SELECT count(*) FROM {table} WHERE id = %s", (row_id,)).fetchone()[0] == 1

    assert [exists("troubleshooting_sessions", s) for s in (s_old_resolved, s_new_resolved, s_old_open)] == [
        False,
        True,
        True,
    ]
    assert [exists("service_tickets", t) for t in (t_old_closed, t_recent_closed)] == [False, True]
    assert [exists("chat_sessions", c) for c in (chat_old, chat_new)] == [False, True]
    assert not exists("media_files", media_old) and not storage.exists(key)
    statuses = dict(
        owner_conn.execute(
            "SELECT id::text, status::text FROM devices WHERE home_id = %s", (home["id"],)
        ).fetchall()
    )
    assert statuses == {dev[0]["id"]: "archived", dev[1]["id"]: "active", dev[2]["id"]: "active"}
    audit = owner_conn.execute(
        "SELECT new_values->'counts' FROM audit_logs WHERE action_type = 'retention_run' ORDER BY created_at DESC LIMIT 1"
    ).fetchone()[0]
    assert audit == planned
    again = CliRunner().invoke(cli, ["retention", "run", "--dry-run"])
    assert all(v == 0 for v in _table(again.output).values()), again.output


def test_the_daily_job_runs_as_the_worker_with_only_what_its_rules_need(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_home, make_worker, runtime, test_db, owner_conn: psycopg.Connection
) -> None:
    import asyncio

    from homeops.core.database import libpq_dsn

    user = make_user()
    home = make_home(user)
    idle, kept = [
        client.post(f"/api/v1/homes/{home['id']}/devices", json={"nickname": n}, headers=user.headers).json()
        for n in ("Idle", "Kept")
    ]
    owner_conn.execute(
        "UPDATE devices SET created_at = now() - interval '3 years' WHERE id = %s", (idle["id"],)
    )
    old_session = owner_conn.execute(
        "INSERT INTO troubleshooting_sessions (user_id, device_id, home_id, issue_summary, status, created_at) "
        "VALUES (%s, %s, %s, 'noise', 'resolved', now() - interval '2 years') RETURNING id",
        (user.id, kept["id"], home["id"]),
    ).fetchone()[0]
    # A ticket escalated from the old session, still open: it stays, and loses the link to the session.
    ticket = owner_conn.execute(
        "INSERT INTO service_tickets (user_id, device_id, home_id, session_id, summary, status) "
        "VALUES (%s, %s, %s, %s, 'still noisy', 'open') RETURNING id",
        (user.id, kept["id"], home["id"], old_session),
    ).fetchone()[0]
    chat = owner_conn.execute(
        "INSERT INTO chat_sessions (user_id, title, last_activity) VALUES (%s, 'old', now() - interval '2 years') "
        "RETURNING id",
        (user.id,),
    ).fetchone()[0]
    owner_conn.execute(
        "INSERT INTO messages (user_id, session_id, content, message_type) VALUES (%s, %s, 'hi', 'user')",
        (user.id, chat),
    )
    key = f"media/audio/{user.id}/{uuid.uuid4()}/old.wav"
    runtime.storage.put(key, b"RIFF....WAVE", "audio/wav")
    media = owner_conn.execute(
        "INSERT INTO media_files (user_id, filename, media_type, content_type, file_size, storage_key, "
        "processing_status, upload_date) VALUES (%s, 'old.wav', 'audio', 'audio/wav', 12, %s, 'completed', "
        "now() - interval '1 year') RETURNING id",
        (user.id, key),
    ).fetchone()[0]
    owner_conn.execute(
        "INSERT INTO transcriptions (user_id, media_id, content, language) VALUES (%s, %s, 'x', 'en')",
        (user.id, media),
    )
    job = owner_conn.execute(
        "INSERT INTO jobs (task, payload) VALUES ('retention.run', '{}') RETURNING id"
    ).fetchone()[0]

    async def run() -> int:
        async with make_worker(tasks={"retention.run", "storage.delete_objects"}) as worker:
            return await worker.drain()

    assert asyncio.run(run()) >= 2  # the run, then the removal of the files
    status, error = owner_conn.execute("SELECT status, last_error FROM jobs WHERE id = %s", (job,)).fetchone()
    assert (status, error) == ("done", None)

    def count(table: str, column: str, value: object) -> int:
        return owner_conn.execute(f"SELECT count(*) FROM {table} WHERE {column} = %s", (value,)).fetchone()[0]

    assert count("troubleshooting_sessions", "id", old_session) == 0
    assert owner_conn.execute(
        "SELECT session_id FROM service_tickets WHERE id = %s", (ticket,)
    ).fetchone() == (None,)
    assert count("chat_sessions", "id", chat) == 0 and count("messages", "session_id", chat) == 0
    assert count("media_files", "id", media) == 0 and count("transcriptions", "media_id", media) == 0
    assert not runtime.storage.exists(key)
    statuses = dict(
        owner_conn.execute(
            "SELECT id::text, status::text FROM devices WHERE home_id = %s", (home["id"],)
        ).fetchall()
    )
    assert statuses == {idle["id"]: "archived", kept["id"]: "active"}

    # Acting for no one, the worker has exactly those rights: nothing on the assistant's other tables, no other
    # change to the tables it cleans (refused, or — where its grants serve acting for a user — no row).
    assert test_db.worker is not None
    refused = (
        "SELECT count(*) FROM messages",
        "SELECT count(*) FROM complaints",
        "SELECT count(*) FROM product_queries",
        "DELETE FROM complaints",
        "UPDATE chat_sessions SET title = 'x'",
        "INSERT INTO chat_sessions (user_id) VALUES (gen_random_uuid())",
        "DELETE FROM messages",
        "UPDATE service_tickets SET status = 'closed'",
        "UPDATE devices SET nickname = 'x'",
        "UPDATE devices SET status = 'removed'",
    )
    no_row = (
        "DELETE FROM devices",
        "SELECT count(*) FROM documents",
        "SELECT count(*) FROM transcriptions",
        "UPDATE documents SET filename = 'x'",
        "UPDATE media_files SET filename = 'x'",
        "UPDATE devices SET nickname = 'x' WHERE status <> 'active'",
    )
    with psycopg.connect(libpq_dsn(test_db.worker)) as worker:
        allowed = []
        for statement in refused:
            try:
                with worker.transaction():
                    worker.execute(statement)
                allowed.append(statement)
            except psycopg.errors.InsufficientPrivilege:
                pass
        assert allowed == []
        for statement in no_row:
            with worker.transaction():
                cursor = worker.execute(statement)
                assert (cursor.fetchone()[0] if statement.startswith("SELECT") else cursor.rowcount) == 0, (
                    statement
                )

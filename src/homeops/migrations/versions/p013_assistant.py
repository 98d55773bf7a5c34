"""assistant: chat sessions and their messages, documents, media files and their transcriptions, complaints and
product queries (seed 003) — per-user data, distributed by user_id and co-located with notifications; and the
worker's access the daily retention job needs on the tables of the earlier migrations

**Keys.** Every primary and unique key leads with ``user_id``; children carry it and reference their parent by
``(user_id, …)`` (messages → chat_sessions, transcriptions → media_files), so a message can only belong to a
session of the same user — the foreign key says so, no policy sub-select is needed (0006 used one).

**Devices are another tenant's rows.** A chat or a complaint may name a device: devices live in a home
(distributed by home_id, not co-located with user-keyed tables), so no foreign key can reach them on a cluster.
``chat_sessions`` and ``complaints`` carry ``home_id`` next to ``device_id`` (both or neither), every join to
``devices`` is by ``(home_id, device_id)``; the service checks the device when the row is written (the caller
must see it), and a device deleted later leaves the pair dangling: reads report ``device_id`` null, as the
old ``ON DELETE SET NULL`` did (``homeops_devices_present``).

**Row security** (as 0004/0006): the owner reads and writes their rows, staff (``homeops.staff``: support,
technicians, managers, admins) read and update everyone's; only the owner inserts and deletes.

**The worker.** Processing an upload acts for its uploader (``job.act_for``): that user's identity under these
same policies, so the worker needs only the grants (documents, media_files: SELECT, UPDATE; transcriptions:
SELECT, INSERT), no policy of its own. Retention (the daily job) acts for no one: it gets exactly what its
rules touch, through ``ddl.worker_access`` (see ``_retention``).

Revision ID: p013
Revises: p012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl
from homeops.core.config import WORKER_DB_ROLE
from homeops.core.ddl import IS_STAFF, UID, homes

revision: str = "p013"
down_revision: str | None = "p012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ENUMS = {
    "processing_status": ("pending", "processing", "completed", "failed"),
    "media_type": ("audio", "video"),
    "complaint_status": ("new", "in_progress", "resolved", "closed"),
    "message_type": ("user", "assistant", "system"),
}
_TABLES = (
    "chat_sessions",
    "messages",
    "documents",
    "media_files",
    "transcriptions",
    "complaints",
    "product_queries",
)
# What the worker may do as the uploader it acts for (the policies above decide which rows).
_AS_UPLOADER = {
    "documents": "SELECT, UPDATE",
    "media_files": "SELECT, UPDATE",
    "transcriptions": "SELECT, INSERT",
}
# Retention, system-wide: table → privileges (policies ``<table>_worker_<verb>``).
_RETENTION = {
    "chat_sessions": "SELECT, DELETE",  # chats idle past retention.chat_days (messages follow by cascade)
    "media_files": "SELECT, DELETE",  # media older than retention.media_days (transcriptions follow)
}


def _enum(name: str) -> postgresql.ENUM:
    return postgresql.ENUM(name=name, create_type=False)


def _jsonb(name: str, default: str = "'{}'::jsonb") -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name, postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text(default), nullable=False
    )


def _created() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _updated() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _owner_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def _user_keyed(table: str) -> None:
    """Sharded by user_id with the other per-user tables (notifications is the group's first table)."""
    ddl.distributed_table(table, "user_id", colocate_with="notifications")


def upgrade() -> None:
    ddl.citus_session()
    for name, values in _ENUMS.items():
        postgresql.ENUM(*values, name=name).create(op.get_bind())
    _chat()
    _files()
    _complaints_and_queries()
    _functions()
    _grants_and_policies()
    _retention()


def _chat() -> None:
    op.create_table(
        "chat_sessions",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        # The device the chat is about, by its full key (no foreign key: devices are sharded by home).
        sa.Column("home_id", sa.UUID(), nullable=True),
        sa.Column("device_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("last_activity", sa.DateTime(timezone=True), nullable=True),
        _jsonb("metadata"),
        _created(),
        _updated(),
        sa.CheckConstraint(
            "(device_id IS NULL) = (home_id IS NULL)", name=op.f("ck_chat_sessions_device_in_home")
        ),
        _owner_fk("chat_sessions"),
        sa.PrimaryKeyConstraint("user_id", "id", name=op.f("pk_chat_sessions")),
    )
    _user_keyed("chat_sessions")
    op.create_index(
        "ix_chat_sessions_user_created",
        "chat_sessions",
        ["user_id", sa.literal_column("created_at DESC")],
        unique=False,
    )
    ddl.updated_at_trigger("chat_sessions")

    op.create_table(
        "messages",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("message_type", _enum("message_type"), nullable=False),
        _jsonb("metadata"),
        # The instant of the write (two messages of one request keep their order).
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        _owner_fk("messages"),
        sa.PrimaryKeyConstraint("user_id", "session_id", "id", name=op.f("pk_messages")),
    )
    _user_keyed("messages")
    # A foreign key to a distributed table exists only once both are distributed (Citus refuses it on a local
    # table), so it follows the placement; on plain PostgreSQL the result is the same.
    op.create_foreign_key(
        op.f("fk_messages_user_id_chat_sessions"),
        "messages",
        "chat_sessions",
        ["user_id", "session_id"],
        ["user_id", "id"],
        ondelete="CASCADE",
    )
    op.create_index("uq_messages_user_id_id", "messages", ["user_id", "id"], unique=True)
    op.create_index("ix_messages_metadata", "messages", ["metadata"], unique=False, postgresql_using="gin")
    op.create_index(
        "ix_messages_session_created", "messages", ["user_id", "session_id", "created_at"], unique=False
    )


def _files() -> None:
    op.create_table(
        "documents",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("file_type", sa.String(length=50), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("bucket_name", sa.String(length=100), server_default="documents", nullable=False),
        sa.Column("upload_date", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_accessed", sa.DateTime(timezone=True), nullable=True),
        _jsonb("metadata"),
        sa.Column("processing_status", _enum("processing_status"), server_default="pending", nullable=False),
        _owner_fk("documents"),
        sa.PrimaryKeyConstraint("user_id", "id", name=op.f("pk_documents")),
    )
    _user_keyed("documents")
    op.create_index("ix_documents_file_type", "documents", ["file_type"], unique=False)
    op.create_index("ix_documents_metadata", "documents", ["metadata"], unique=False, postgresql_using="gin")
    op.create_index("ix_documents_status", "documents", ["processing_status"], unique=False)

    op.create_table(
        "media_files",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", _enum("media_type"), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("bucket_name", sa.String(length=100), server_default="media", nullable=False),
        sa.Column("upload_date", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("processing_status", _enum("processing_status"), server_default="pending", nullable=False),
        _jsonb("metadata"),
        _owner_fk("media_files"),
        sa.PrimaryKeyConstraint("user_id", "id", name=op.f("pk_media_files")),
    )
    _user_keyed("media_files")
    op.create_index("ix_media_files_media_type", "media_files", ["media_type"], unique=False)
    op.create_index(
        "ix_media_files_metadata", "media_files", ["metadata"], unique=False, postgresql_using="gin"
    )
    op.create_index("ix_media_files_status", "media_files", ["processing_status"], unique=False)
    op.create_index("ix_media_files_upload_date", "media_files", ["upload_date"], unique=False)  # retention

    op.create_table(
        "transcriptions",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("media_id", sa.UUID(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("confidence_score", sa.Float(), nullable=True),
        _jsonb("metadata"),
        _created(),
        _owner_fk("transcriptions"),
        sa.PrimaryKeyConstraint("user_id", "id", name=op.f("pk_transcriptions")),
    )
    _user_keyed("transcriptions")
    op.create_foreign_key(
        op.f("fk_transcriptions_user_id_media_files"),
        "transcriptions",
        "media_files",
        ["user_id", "media_id"],
        ["user_id", "id"],
        ondelete="CASCADE",
    )
    op.create_index("ix_transcriptions_media_id", "transcriptions", ["user_id", "media_id"], unique=False)


def _complaints_and_queries() -> None:
    op.create_table(
        "complaints",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "home_id", sa.UUID(), nullable=True
        ),  # with device_id: the device's full key (see chat_sessions)
        sa.Column("device_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=True),
        sa.Column("priority", _enum("priority_level"), nullable=False),
        sa.Column("status", _enum("complaint_status"), server_default="new", nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sentiment_score", sa.Float(), nullable=True),
        _jsonb("metadata"),
        _created(),
        _updated(),
        sa.CheckConstraint(
            "(device_id IS NULL) = (home_id IS NULL)", name=op.f("ck_complaints_device_in_home")
        ),
        _owner_fk("complaints"),
        sa.PrimaryKeyConstraint("user_id", "id", name=op.f("pk_complaints")),
    )
    _user_keyed("complaints")
    op.create_index("ix_complaints_created_at", "complaints", ["created_at"], unique=False)
    op.create_index("ix_complaints_priority", "complaints", ["priority"], unique=False)
    op.create_index("ix_complaints_status", "complaints", ["status"], unique=False)
    ddl.updated_at_trigger("complaints")

    op.create_table(
        "product_queries",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("model_id", sa.UUID(), nullable=True),
        sa.Column("product_id", sa.String(length=50), nullable=True),
        sa.Column("query_text", sa.Text(), nullable=False),
        sa.Column("response_text", sa.Text(), nullable=True),
        _jsonb("metadata"),
        _created(),
        # device_models is a reference table: the key may point at it (SET NULL is fine, it is not user_id).
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["device_models.id"],
            name=op.f("fk_product_queries_model_id_device_models"),
            ondelete="SET NULL",
        ),
        _owner_fk("product_queries"),
        sa.PrimaryKeyConstraint("user_id", "id", name=op.f("pk_product_queries")),
    )
    _user_keyed("product_queries")
    op.create_index(
        "ix_product_queries_user_created",
        "product_queries",
        ["user_id", sa.literal_column("created_at DESC")],
        unique=False,
    )


def _functions() -> None:
    # Which of the devices named by chats and complaints still exist, for readers allowed to know: members
    # of the device's home, and staff (who read everyone's complaints). Reads only devices, by their homes
    # (one shard per home on a cluster); the caller passes the (home_id, device_id) pairs of rows it sees.
    op.execute(
        f"""
        CREATE FUNCTION homeops_devices_present(p_homes uuid[], p_devices uuid[])
        RETURNS TABLE (home_id uuid, device_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ SELECT d.home_id, d.id FROM devices d
            WHERE d.home_id = ANY (p_homes) AND d.id = ANY (p_devices)
              AND (d.home_id = ANY ({homes("read")}) OR {IS_STAFF}) $$
        """
    )
    ddl.function_grant("homeops_devices_present(uuid[], uuid[])")


def _grants_and_policies() -> None:
    for table in _TABLES:
        ddl.grant(table, "SELECT, INSERT, UPDATE, DELETE")
        ddl.enable_rls(table)
        ddl.policy(table, f"{table}_select", "SELECT", using=f"user_id = {UID} OR {IS_STAFF}")
        ddl.policy(table, f"{table}_insert", "INSERT", check=f"user_id = {UID}")
        ddl.policy(
            table,
            f"{table}_update",
            "UPDATE",
            using=f"user_id = {UID} OR {IS_STAFF}",
            check=f"user_id = {UID} OR {IS_STAFF}",
        )
        ddl.policy(table, f"{table}_delete", "DELETE", using=f"user_id = {UID}")
    for table, privileges in _AS_UPLOADER.items():
        ddl.grant(table, privileges, WORKER_DB_ROLE)
    for table, privileges in _RETENTION.items():
        ddl.worker_access(table, privileges)


# The daily retention job (homeops_worker, acting for no one), rule by rule:
#   resolved troubleshooting sessions: troubleshooting_sessions SELECT, DELETE; their tickets' link
#       service_tickets SELECT, UPDATE (session_id)                                    (p012)
#   closed tickets: service_tickets DELETE                                             (p012)
#   idle devices archived: devices SELECT (p010), UPDATE (status) (here); service_events SELECT (p011)
#   old chats: chat_sessions SELECT, DELETE; old media: media_files SELECT, DELETE    (here, _RETENTION)
#   settings: system_settings SELECT (p004); its audit entry: audit_logs INSERT (p003); the file removal job:
#       jobs INSERT (p001).
# What the earlier migrations did not grant is granted here, in the last migration, with the rest of the list:
# archiving. The worker already holds UPDATE on every column of devices (``home_scoped`` gives it a member's
# privileges, for acting for a user), so the column grant narrows nothing; the policy does: system-wide, an
# UPDATE by the worker only reaches active devices and must leave them archived (other columns could change in
# the same statement — only a narrower grant in p010 would close that).


def _retention() -> None:
    ddl.grant("devices", "UPDATE (status)", WORKER_DB_ROLE)
    ddl.policy(
        "devices",
        "devices_worker_archive",
        "UPDATE",
        using="status = 'active'",
        check="status = 'archived'",
        roles=WORKER_DB_ROLE,
    )


def downgrade() -> None:
    ddl.citus_session()
    op.execute("DROP POLICY IF EXISTS devices_worker_archive ON devices")
    op.execute(
        f"REVOKE UPDATE (status) ON devices FROM {WORKER_DB_ROLE}"
    )  # the column grant only (p010's stays)
    op.execute("DROP FUNCTION IF EXISTS homeops_devices_present(uuid[], uuid[])")
    for table in (
        "product_queries",
        "complaints",
        "transcriptions",
        "media_files",
        "documents",
        "messages",
        "chat_sessions",
    ):
        op.drop_table(table)
    for name in _ENUMS:
        op.execute(f"DROP TYPE IF EXISTS {name}")

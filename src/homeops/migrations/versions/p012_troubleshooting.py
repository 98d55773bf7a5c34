"""troubleshooting: sessions and service tickets — distributed by home_id, co-located with rooms and devices

Sessions are private to the user who opened them (staff read them) but are keyed by their device's home:
seed Query 5 joins them to devices on (home_id, device_id), on one shard. A ticket escalated from a session
points at it by (home_id, session_id); whoever deletes sessions (retention) detaches their tickets first
(``TicketRepository.detach_sessions``): there is no ``ON DELETE SET NULL`` on a key containing the
distribution column on Citus.

Revision ID: p012
Revises: p011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl
from homeops.core.config import APP_DB_ROLE as APP
from homeops.core.ddl import IS_STAFF, UID, in_homes

revision: str = "p012"
down_revision: str | None = "p011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SESSION_STATUSES = ("open", "resolved", "escalated", "abandoned")
TICKET_STATUSES = ("open", "assigned", "in_progress", "resolved", "closed")
PRIORITIES = ("low", "medium", "high", "urgent")  # priority_level: tickets here, complaints (assistant) too


def _jsonb(name: str, default: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name,
        postgresql.JSONB(astext_type=sa.Text()),
        server_default=sa.text(f"'{default}'::jsonb"),
        nullable=False,
    )


def upgrade() -> None:
    ddl.citus_session()
    op.create_table(
        "troubleshooting_sessions",
        sa.Column("home_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("device_id", sa.UUID(), nullable=False),
        sa.Column("issue_summary", sa.Text(), nullable=False),
        _jsonb("symptoms", "[]"),
        _jsonb("error_codes", "[]"),
        _jsonb("conversation", "[]"),
        _jsonb("suggestions", "{}"),
        sa.Column(
            "status",
            sa.Enum(*SESSION_STATUSES, name="troubleshooting_status"),
            server_default="open",
            nullable=False,
        ),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_satisfaction", sa.SmallInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "user_satisfaction BETWEEN 1 AND 5", name=op.f("ck_troubleshooting_sessions_satisfaction_range")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_troubleshooting_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("home_id", "id", name=op.f("pk_troubleshooting_sessions")),
    )
    # Co-located with devices: seed Query 5 joins each session to its device on the same shard.
    ddl.distributed_table("troubleshooting_sessions", "home_id", colocate_with="rooms")
    _home_fk("troubleshooting_sessions", "device_id", "devices", ondelete="CASCADE")
    # Seed Query 5: the caller's sessions, newest first (the containment is a filter under row security).
    op.create_index(
        "ix_troubleshooting_sessions_user_created",
        "troubleshooting_sessions",
        ["user_id", sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.create_index(
        "ix_troubleshooting_sessions_home_device",
        "troubleshooting_sessions",
        ["home_id", "device_id"],
        unique=False,
    )
    op.create_index(
        "ix_troubleshooting_sessions_status", "troubleshooting_sessions", ["status"], unique=False
    )
    # Symptom containment (``symptoms @> '[…]'``) across sessions (owner-side queries, analytics).
    op.create_index(
        "ix_troubleshooting_sessions_symptoms",
        "troubleshooting_sessions",
        ["symptoms"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"symptoms": "jsonb_path_ops"},
    )
    ddl.updated_at_trigger("troubleshooting_sessions")

    op.create_table(
        "service_tickets",
        sa.Column("home_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("device_id", sa.UUID(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=True),
        sa.Column(
            "status", sa.Enum(*TICKET_STATUSES, name="ticket_status"), server_default="open", nullable=False
        ),
        sa.Column(
            "priority", sa.Enum(*PRIORITIES, name="priority_level"), server_default="medium", nullable=False
        ),
        sa.Column("summary", sa.Text(), nullable=False),
        _jsonb("symptoms", "[]"),
        _jsonb("error_codes", "[]"),
        sa.Column("assigned_to", sa.UUID(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["assigned_to"],
            ["users.id"],
            name=op.f("fk_service_tickets_assigned_to_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_service_tickets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("home_id", "id", name=op.f("pk_service_tickets")),
    )
    ddl.distributed_table("service_tickets", "home_id", colocate_with="rooms")
    _home_fk("service_tickets", "device_id", "devices", ondelete="CASCADE")
    # NO ACTION: the session's tickets are detached (session_id nulled) before a session is deleted.
    _home_fk("service_tickets", "session_id", "troubleshooting_sessions")
    # The support queue, newest first by keyset (TicketRepository.search): the order's index, the assignee's
    # ("assigned to me", "unassigned") and one partial index per active status (enum equality is not
    # leakproof: under row security it cannot be an index condition, a partial index's predicate can).
    op.create_index("ix_service_tickets_created", "service_tickets", ["created_at", "id"], unique=False)
    op.create_index(
        "ix_service_tickets_assigned_to", "service_tickets", ["assigned_to", "created_at", "id"], unique=False
    )
    for status in ("open", "assigned", "in_progress"):
        op.create_index(
            f"ix_service_tickets_{status}_created",
            "service_tickets",
            ["created_at", "id"],
            unique=False,
            postgresql_where=sa.text(f"status = '{status}'"),
        )
    op.create_index(
        "ix_service_tickets_home_device", "service_tickets", ["home_id", "device_id"], unique=False
    )
    op.create_index("ix_service_tickets_priority", "service_tickets", ["priority"], unique=False)
    op.create_index("ix_service_tickets_status", "service_tickets", ["status"], unique=False)
    op.create_index("ix_service_tickets_user_id", "service_tickets", ["user_id"], unique=False)
    # One ticket per session (a concurrent second escalation fails here).
    op.create_index(
        "uq_service_tickets_home_session",
        "service_tickets",
        ["home_id", "session_id"],
        unique=True,
        postgresql_where=sa.text("session_id IS NOT NULL"),
    )
    ddl.updated_at_trigger("service_tickets")

    _grants_and_policies()


def _home_fk(table: str, column: str, target: str, ondelete: str | None = None) -> None:
    """``(home_id, column) → target (home_id, id)``, added once both tables are placed: on a cluster a table
    that is still local (or references a reference table) may not reference a distributed one yet."""
    op.create_foreign_key(
        op.f(f"fk_{table}_home_id_{target}"),
        table,
        target,
        ["home_id", column],
        ["home_id", "id"],
        ondelete=ondelete,
    )


def _grants_and_policies() -> None:
    # Own rows: the user who opened them, for a home they are a member of; staff read (and, for tickets,
    # handle) them. The database decides who is staff (the stored role, see homeops_begin).
    ddl.grant("troubleshooting_sessions", "SELECT, INSERT, UPDATE, DELETE")
    ddl.enable_rls("troubleshooting_sessions")
    own, own_or_staff = f"user_id = {UID}", f"user_id = {UID} OR {IS_STAFF}"
    ddl.policy(
        "troubleshooting_sessions", "troubleshooting_sessions_select", "SELECT", using=own_or_staff, roles=APP
    )
    ddl.policy(
        "troubleshooting_sessions",
        "troubleshooting_sessions_insert",
        "INSERT",
        check=f"{own} AND {in_homes('write')}",
        roles=APP,
    )
    ddl.policy(
        "troubleshooting_sessions",
        "troubleshooting_sessions_update",
        "UPDATE",
        using=own,
        check=own,
        roles=APP,
    )
    ddl.policy("troubleshooting_sessions", "troubleshooting_sessions_delete", "DELETE", using=own, roles=APP)
    # Retention deletes resolved sessions after their window.
    ddl.worker_access("troubleshooting_sessions", "SELECT, DELETE")

    ddl.grant("service_tickets", "SELECT, INSERT, UPDATE")
    ddl.enable_rls("service_tickets")
    ddl.policy("service_tickets", "service_tickets_select", "SELECT", using=own_or_staff, roles=APP)
    ddl.policy(
        "service_tickets",
        "service_tickets_insert",
        "INSERT",
        check=f"{own} AND {in_homes('write')}",
        roles=APP,
    )
    ddl.policy(
        "service_tickets",
        "service_tickets_update",
        "UPDATE",
        using=own_or_staff,
        check=own_or_staff,
        roles=APP,
    )
    # Ticket notifications read the ticket; retention deletes closed tickets after their window and detaches
    # tickets from the sessions it deletes (session_id nulled first).
    ddl.worker_access("service_tickets", "SELECT, DELETE, UPDATE (session_id)")


def downgrade() -> None:
    ddl.citus_session()
    op.drop_table("service_tickets")
    op.drop_table("troubleshooting_sessions")
    for name in ("priority_level", "ticket_status", "troubleshooting_status"):
        op.execute(f"DROP TYPE IF EXISTS {name}")

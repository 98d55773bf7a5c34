"""marketplace: a chat's system messages keep what happened (``chat_messages.system_event``), not only English

System messages (a status change, the accepted quote) were English sentences in ``message_text``, so an Arabic
chat page showed them in English. Now each one also stores the event — ``{"code": "status_changed", "by":
"requester"|"provider"|"system", "from": …, "to": …, "note": …}`` or ``{"code": "quote_accepted", "cost":
"850.00"}`` — which the pages render in the viewer's language; ``message_text`` keeps the English rendering (API
clients, and the rows written before this revision, whose ``system_event`` stays NULL and which show their text
as before). A CHECK keeps it to system messages and to an object with a ``code``.

A nullable column without a default: a catalog-only change on PostgreSQL (no table rewrite), and on Citus the
coordinator sends the ADD COLUMN / ADD CONSTRAINT to every shard of the distributed table (sequential mode, see
``ddl.citus_session``). The API roles' column-level UPDATE grant (p014: read receipts and delete flags only)
does not name the new column, so an event cannot be changed once written. Downgrade drops the column (the
English ``message_text`` of every row stays).

Revision ID: p021
Revises: p020
"""

from collections.abc import Sequence

from alembic import op

from homeops.core import ddl

revision: str = "p021"
down_revision: str | None = "p020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ddl.citus_session()
    op.execute("ALTER TABLE chat_messages ADD COLUMN system_event jsonb")
    op.execute(
        "ALTER TABLE chat_messages ADD CONSTRAINT ck_chat_messages_system_event CHECK ("
        "system_event IS NULL OR (message_type = 'system' AND jsonb_typeof(system_event) = 'object'"
        " AND system_event ->> 'code' IS NOT NULL))"
    )


def downgrade() -> None:
    ddl.citus_session()
    op.execute("ALTER TABLE chat_messages DROP CONSTRAINT ck_chat_messages_system_event")
    op.execute("ALTER TABLE chat_messages DROP COLUMN system_event")

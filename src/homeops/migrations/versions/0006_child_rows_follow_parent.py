"""child rows must belong to the caller's parent: chat messages to own sessions, transcriptions to own media

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UID = "(SELECT homeops_uid())"


def upgrade() -> None:
    op.execute(
        f"ALTER POLICY messages_insert ON messages WITH CHECK (user_id = {_UID} AND session_id IN "
        f"(SELECT s.id FROM chat_sessions s WHERE s.user_id = {_UID}))"
    )
    op.execute(
        f"ALTER POLICY transcriptions_insert ON transcriptions WITH CHECK (user_id = {_UID} AND media_id IN "
        f"(SELECT m.id FROM media_files m WHERE m.user_id = {_UID}))"
    )


def downgrade() -> None:
    op.execute(f"ALTER POLICY messages_insert ON messages WITH CHECK (user_id = {_UID})")
    op.execute(f"ALTER POLICY transcriptions_insert ON transcriptions WITH CHECK (user_id = {_UID})")

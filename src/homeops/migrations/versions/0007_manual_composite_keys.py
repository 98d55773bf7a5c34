"""manuals: a GIN index of composite keys for de-duplication level 3 (seed 000 Query 3, < 5 ms)

Measured before (100k users, 299k manuals; benchmarks/queries.py): p50 162 ms, p99 333 ms — the
(lower(brand), manual_type, version) btree matched most of a brand's manuals and the model-number overlap
was checked row by row.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Declared IMMUTABLE for the index: it depends only on its arguments (manual_type's labels are never renamed).
    op.execute(
        """
        CREATE FUNCTION homeops_manual_keys(brand text, kind manual_type, version text, model_numbers text[])
        RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
        $$ SELECT ARRAY(SELECT lower(brand) || '|' || kind::text || '|' || version || '|' || m
                        FROM unnest(model_numbers) AS m) $$
        """
    )
    op.execute("GRANT EXECUTE ON FUNCTION homeops_manual_keys(text, manual_type, text, text[]) TO homeops_app")
    op.execute(
        "CREATE INDEX ix_manuals_composite_keys ON manuals USING gin "
        "(homeops_manual_keys(brand, manual_type, version, model_numbers))"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_manuals_composite_keys")
    op.execute("DROP FUNCTION IF EXISTS homeops_manual_keys(text, manual_type, text, text[])")

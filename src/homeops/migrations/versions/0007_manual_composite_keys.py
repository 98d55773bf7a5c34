"""shared reference data (catalog, manual library) is filtered by grants, not by a row policy; composite
de-duplication keys (seed 000 Query 3 level 3, < 5 ms)

Measured before (100k users, 299k manuals; benchmarks/queries.py, as the API role): de-dup level 3 p50 122 ms,
p99 251 ms; the device auto-link INSERT…SELECT p50 175 ms. The SELECT policies on the shared tables only said
"signed in" (``(SELECT homeops_uid()) IS NOT NULL``), but any row policy makes PostgreSQL evaluate it before
every non-leakproof condition — array ``&&``/``@>``, ``lower()``, full-text ``@@`` — so none of them could use
an index: each lookup scanned the table. These tables hold no household data; the API requires a login for
every route that reads them, and the household-private links (``device_manuals``) keep their policies.
Measured after (same data, rolled-back trial): level 3 p50 0.6 ms, auto-link p50 1.7 ms.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SHARED = ("device_categories", "manufacturers", "device_models", "common_problems", "ecosystems",
           "model_maintenance_templates", "manuals", "manual_chunks")


def upgrade() -> None:
    for table in _SHARED:
        op.execute(f"ALTER POLICY {table}_select ON {table} USING (true)")
    op.execute(
        "DO $$ BEGIN IF to_regclass('manual_chunk_embeddings') IS NOT NULL THEN "
        "ALTER POLICY manual_chunk_embeddings_select ON manual_chunk_embeddings USING (true); END IF; END $$"
    )
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
    op.execute("ANALYZE manuals")  # statistics for the new expression index


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_manuals_composite_keys")
    op.execute("DROP FUNCTION IF EXISTS homeops_manual_keys(text, manual_type, text, text[])")
    signed_in = "(SELECT homeops_uid()) IS NOT NULL"
    for table in _SHARED:
        op.execute(f"ALTER POLICY {table}_select ON {table} USING ({signed_in})")
    op.execute(
        "DO $$ BEGIN IF to_regclass('manual_chunk_embeddings') IS NOT NULL THEN "
        f"ALTER POLICY manual_chunk_embeddings_select ON manual_chunk_embeddings USING ({signed_in}); END IF; END $$"
    )

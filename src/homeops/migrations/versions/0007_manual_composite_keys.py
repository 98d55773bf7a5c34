"""manuals: fast de-duplication level 3 and auto-link lookups under RLS (seed 000 Query 3, < 5 ms)

Measured before (100k users, 299k manuals; benchmarks/queries.py): level 3 p50 122-162 ms, p99 251-333 ms;
the auto-link INSERT…SELECT p50 175 ms. Under row-level security PostgreSQL may not use an index for a
non-leakproof operator such as array overlap (``&&``) or containment (``@>``), so both scanned a brand's
manuals row by row. Manuals are shared, non-tenant data: two narrow SECURITY DEFINER lookups run them as the
owner, where the GIN indexes apply (measured with them: p50 0.5 ms).

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


    op.execute(
        """
        CREATE FUNCTION homeops_manual_by_composite(p_brand text, p_kind manual_type, p_version text,
                                                    p_models text[]) RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ SELECT m.id FROM manuals m
           WHERE homeops_manual_keys(m.brand, m.manual_type, m.version, m.model_numbers)
                 && homeops_manual_keys(p_brand, p_kind, p_version, p_models)
           ORDER BY m.created_at LIMIT 1 $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION homeops_matching_manual_ids(p_brand text, p_model text) RETURNS SETOF uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ SELECT m.id FROM manuals m
           WHERE lower(m.brand) = lower(p_brand) AND m.model_numbers @> ARRAY[p_model]::varchar[]
             AND m.status <> 'failed' $$
        """
    )
    for fn in ("homeops_manual_by_composite(text, manual_type, text, text[])",
               "homeops_matching_manual_ids(text, text)"):
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {fn} TO homeops_app")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS homeops_matching_manual_ids(text, text)")
    op.execute("DROP FUNCTION IF EXISTS homeops_manual_by_composite(text, manual_type, text, text[])")
    op.execute("DROP INDEX IF EXISTS ix_manuals_composite_keys")
    op.execute("DROP FUNCTION IF EXISTS homeops_manual_keys(text, manual_type, text, text[])")

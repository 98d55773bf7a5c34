"""manuals: the manual library — each manual with its provenance and visibility, its searchable passages
and (where pgvector can be installed) their vectors, the reports users file against manuals, and the
organizations trusted to publish into the shared library. Reference tables on a cluster (reports:
distributed by user_id).

**The trust model** (issue 9). A manual is either

* a **household** upload (``visibility = 'household'``, ``home_id`` = the home it was uploaded for): visible to,
  auto-linked and cited in that home only — tenant data, protected by the row policies below; or
* part of the **shared** library (``visibility = 'shared'``, ``home_id`` NULL): uploaded by a trusted source
  (support/admin staff; a member of a ``partner`` organization an admin listed in ``manual_trusted_sources``;
  the operator's import), or a household upload that support/admin staff **verified**. Shared manuals are
  auto-linked into every matching home and cited across households; or
* **hidden** by support/admin staff (visible to them only; links stay, unshown).

``provenance`` says who put it there (household, partner, staff, operator), ``verified_by`` / ``verified_at``
who vouched for it. Deleting a home deletes its household uploads (``CASCADE``); a verified manual has left its
household (``home_id`` NULL) and survives it.

**Row policies, and why the hot lookups go through functions.** Household uploads must be protected by the
database: ``manuals``, ``manual_chunks`` and ``manual_chunk_embeddings`` carry ``visibility`` and ``home_id``
(denormalised onto the passages and vectors by the service, so their policies need no sub-select) and their
SELECT policy is ``visibility = 'shared' OR (visibility = 'household' AND home_id = ANY (homes_read)) OR
moderator``. The old migration 0007 measured why the library had ``USING (true)`` until now: with any row policy
PostgreSQL evaluates it before every non-leakproof condition (array ``&&``/``@>``, ``lower()``, full-text
``@@``, pgvector's ``<=>``), so no index serves them (100k users, 299k manuals: de-dup level 3 p50 122 ms before,
0.6 ms after; the device auto-link 175 ms → 1.7 ms). So the lookups that need those indexes run in narrow
``SECURITY DEFINER`` functions (owned by the migration role, so not under row security) that apply the same
visibility rule explicitly, from the transaction's identity settings (as ``homeops_home_members`` does), and
take the homes whose household uploads may appear (``p_homes``, intersected with the caller's
``homes_read``: a device's manuals come from the shared library and *that device's* home only):

* ``homeops_manual_composite(...)`` — de-dup level 3 (seed 000 Query 3: same brand, an overlapping model number,
  same type and version), one probe of the GIN index on ``homeops_manual_keys(...)``;
* ``homeops_manuals_for_model(brand, model_number, homes)`` — a device's auto-link, a catalog model's manuals;
* ``homeops_manual_passages(query, manual_ids, homes, limit)`` — ranked full-text passages (GIN on
  ``search_vector``), and ``homeops_manual_neighbours(...)`` — the vector neighbours (HNSW), where pgvector is;
* ``homeops_manual_file_in_use(storage_key, except_id)`` — whether another manual still uses a stored file
  (content-addressed: the same bytes in two households are one object), before a delete removes it.

Levels 1 and 2 (``file_hash``, ``content_hash``: leakproof equality) and the primary-key joins of seed
Queries 1 and 2 use their indexes under the policies. They never return hidden manuals or other homes'.

**Writes.** A household member uploads into their home (``home_id = ANY (homes_write)``); only support/admin
staff (``provenance = 'staff'``) or members (technician and above) of the named organization
(``provenance = 'partner'``) insert shared manuals, ``verified_by`` themselves — that the organization is a
trusted partner and that the uploader's email is verified are the service's checks (a policy reads no table).
Support/admin staff verify, hide and delete; a home's members delete their household's own uploads.

**Processing** (``manuals.process``) runs in the background worker as ``homeops_worker``, for no single user:
it reads the manual, replaces its passages and vectors (copying the manual's visibility onto them) and sets its
processing columns — exactly those grants.

**pgvector is optional**: ``manual_chunk_embeddings`` exists only where the ``vector`` extension is installed
or this migration may install it (superuser, or a trusted extension and CREATE on the database); elsewhere
manual search is full-text only (the code checks ``to_regclass`` at run time). It is not a model.

Revision ID: p009
Revises: p008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl
from homeops.core.config import WORKER_DB_ROLE
from homeops.core.ddl import IS_ADMIN, UID, homes, in_homes, in_orgs, setting

revision: str = "p009"
down_revision: str | None = "p008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MANUAL_TYPES = (
    "user",
    "troubleshooting",
    "installation",
    "service",
    "parts",
    "quick_start",
    "warranty",
    "other",
)
VISIBILITIES = ("household", "shared", "hidden")
PROVENANCES = ("household", "partner", "staff", "operator")
REPORT_STATUSES = ("open", "upheld", "dismissed")
# What processing writes (the worker); the API corrects metadata only.
PROCESSING_COLUMNS = (
    "status",
    "failure_reason",
    "indexed",
    "embedded",
    "processed_at",
    "page_count",
    "content_hash",
    "processor",
)
METADATA_COLUMNS = (
    "title",
    "brand",
    "model_numbers",
    "category_code",
    "manual_type",
    "language",
    "version",
    "year",
    "source_url",
    "metadata",
)
# What moderation writes (support/admin staff): verify (→ shared), hide.
MODERATION_COLUMNS = ("visibility", "home_id", "verified_by", "verified_at")

# Support and admin staff moderate the library (technicians and managers do not).
MODERATOR = f"{setting('role')} IN ('support', 'admin')"
# Who sees a manual, a passage or a vector (the row policy): the shared library, your homes' uploads, moderators.
VISIBLE = f"visibility = 'shared' OR (visibility = 'household' AND {in_homes('read')}) OR {MODERATOR}"


def in_scope(alias: str) -> str:
    """The functions' rule for the row ``alias``: shared, or a household upload of one of ``p_homes`` that the
    caller reads (never hidden, never another home's — moderators included)."""
    return (
        f"({alias}.visibility = 'shared' OR ({alias}.visibility = 'household' "
        f"AND {alias}.home_id = ANY (p_homes) AND {alias}.home_id = ANY ({homes('read')})))"
    )


FUNCTIONS = (
    "homeops_manual_keys(text, manual_type, text, text[])",
    "homeops_manual_composite(text, manual_type, text, text[], uuid[])",
    "homeops_manuals_for_model(text, text, uuid[])",
    "homeops_manual_passages(text, uuid[], uuid[], integer)",
    "homeops_manual_file_in_use(text, uuid)",
)
HEADLINE = "StartSel=<mark>, StopSel=</mark>, MaxWords=40, MinWords=15, MaxFragments=2, FragmentDelimiter= … "


def upgrade() -> None:
    ddl.citus_session()
    op.create_table(
        "manuals",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("brand", sa.String(length=255), nullable=False),
        sa.Column("manufacturer_id", sa.UUID(), nullable=True),
        sa.Column(
            "model_numbers", sa.ARRAY(sa.String(length=255)), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column("category_code", sa.String(length=64), nullable=True),
        sa.Column("manual_type", sa.Enum(*MANUAL_TYPES, name="manual_type"), nullable=False),
        sa.Column("language", sa.String(length=16), server_default="en", nullable=False),
        sa.Column("version", sa.String(length=50), server_default="", nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), server_default="application/pdf", nullable=False),
        sa.Column("file_hash", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=True),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("processor", sa.String(length=50), nullable=True),
        sa.Column(
            "status",
            sa.Enum("pending", "processing", "ready", "failed", name="manual_status"),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("indexed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("embedded", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uploaded_by", sa.UUID(), nullable=True),
        # The trust model: who may see it, for which home, who put it there, who vouched for it.
        sa.Column(
            "visibility",
            sa.Enum(*VISIBILITIES, name="manual_visibility"),
            server_default="household",
            nullable=False,
        ),
        sa.Column("home_id", sa.UUID(), nullable=True),
        sa.Column(
            "provenance",
            sa.Enum(*PROVENANCES, name="manual_provenance"),
            server_default="household",
            nullable=False,
        ),
        sa.Column("organization_id", sa.UUID(), nullable=True),
        sa.Column("verified_by", sa.UUID(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        # A household upload names its home; the shared library's manuals belong to no home and were vouched for.
        sa.CheckConstraint(
            "(visibility <> 'household' OR home_id IS NOT NULL) "
            "AND (visibility <> 'shared' OR (home_id IS NULL AND verified_at IS NOT NULL))",
            name=op.f("ck_manuals_scope"),
        ),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["device_categories.code"],
            name=op.f("fk_manuals_category_code_device_categories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["home_id"], ["homes.id"], name=op.f("fk_manuals_home_id_homes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["manufacturer_id"],
            ["manufacturers.id"],
            name=op.f("fk_manuals_manufacturer_id_manufacturers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_manuals_organization_id_organizations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name=op.f("fk_manuals_uploaded_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["verified_by"], ["users.id"], name=op.f("fk_manuals_verified_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manuals")),
    )
    ddl.reference_table("manuals")
    op.create_index("ix_manuals_category_code", "manuals", ["category_code"], unique=False)
    op.create_index(
        "ix_manuals_composite",
        "manuals",
        [sa.literal_column("lower(brand)"), "manual_type", "version"],
        unique=False,
    )
    op.create_index("ix_manuals_content_hash", "manuals", ["content_hash"], unique=False)
    op.create_index(
        "ix_manuals_created", "manuals", [sa.literal_column("created_at DESC"), "id"], unique=False
    )
    op.create_index("ix_manuals_home_id", "manuals", ["home_id"], unique=False)
    op.create_index("ix_manuals_manual_type", "manuals", ["manual_type"], unique=False)
    op.create_index(
        "ix_manuals_model_numbers", "manuals", ["model_numbers"], unique=False, postgresql_using="gin"
    )
    # The same bytes once per scope (a home, or the shared library); a hidden manual does not block a new upload.
    op.create_index(
        "uq_manuals_file_hash",
        "manuals",
        ["file_hash", "home_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
        postgresql_where=sa.text("visibility <> 'hidden'"),
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
    op.execute(
        "GRANT EXECUTE ON FUNCTION homeops_manual_keys(text, manual_type, text, text[]) TO homeops_app"
    )
    op.execute(
        "CREATE INDEX ix_manuals_composite_keys ON manuals USING gin "
        "(homeops_manual_keys(brand, manual_type, version, model_numbers))"
    )
    ddl.updated_at_trigger("manuals")

    op.create_table(
        "manual_chunks",
        sa.Column("manual_id", sa.UUID(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english', content)", persisted=True),
            nullable=False,
        ),
        # The manual's, copied by the service (processing, moderation) so the row policy needs no sub-select.
        sa.Column("visibility", postgresql.ENUM(name="manual_visibility", create_type=False), nullable=False),
        sa.Column("home_id", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["manual_id"], ["manuals.id"], name=op.f("fk_manual_chunks_manual_id_manuals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("manual_id", "chunk_index", name=op.f("pk_manual_chunks")),
    )
    ddl.reference_table("manual_chunks")
    op.create_index(
        "ix_manual_chunks_search", "manual_chunks", ["search_vector"], unique=False, postgresql_using="gin"
    )

    op.create_table(
        "manual_trusted_sources",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("granted_by", sa.UUID(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_manual_trusted_sources_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["granted_by"],
            ["users.id"],
            name=op.f("fk_manual_trusted_sources_granted_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_manual_trusted_sources")),
    )
    ddl.reference_table("manual_trusted_sources")

    op.create_table(
        "manual_reports",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("manual_id", sa.UUID(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*REPORT_STATUSES, name="manual_report_status"),
            server_default="open",
            nullable=False,
        ),
        sa.Column("resolved_by", sa.UUID(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("length(reason) BETWEEN 1 AND 2000", name=op.f("ck_manual_reports_reason_length")),
        sa.ForeignKeyConstraint(
            ["manual_id"],
            ["manuals.id"],
            name=op.f("fk_manual_reports_manual_id_manuals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["users.id"],
            name=op.f("fk_manual_reports_resolved_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_manual_reports_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "id", name=op.f("pk_manual_reports")),
    )
    # The reporter's data: with their other per-user rows (the moderation queue reads every shard, rarely).
    ddl.distributed_table("manual_reports", "user_id", colocate_with="notifications")
    op.create_index(
        "uq_manual_reports_open",
        "manual_reports",
        ["user_id", "manual_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_manual_reports_open_manual",
        "manual_reports",
        ["manual_id"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )

    _grants_and_policies()
    _functions()
    _optional_vectors()


def _grants_and_policies() -> None:
    app = ddl.APP_DB_ROLE
    ddl.grant("manuals", "SELECT, INSERT, DELETE")
    ddl.grant("manuals", f"UPDATE ({', '.join(METADATA_COLUMNS + MODERATION_COLUMNS)})")
    ddl.enable_rls("manuals")
    ddl.policy("manuals", "manuals_select", "SELECT", using=VISIBLE, roles=app)
    household = (
        f"visibility = 'household' AND provenance = 'household' AND {in_homes('write')} "
        "AND organization_id IS NULL AND verified_by IS NULL AND verified_at IS NULL"
    )
    trusted = (
        f"visibility = 'shared' AND home_id IS NULL AND verified_by = {UID} AND verified_at IS NOT NULL "
        f"AND ((provenance = 'staff' AND {MODERATOR}) OR (provenance = 'partner' AND {in_orgs('write')}))"
    )
    ddl.policy(
        "manuals",
        "manuals_insert",
        "INSERT",
        check=f"uploaded_by = {UID} AND (({household}) OR ({trusted}))",
        roles=app,
    )
    ddl.policy("manuals", "manuals_update", "UPDATE", using=MODERATOR, check=MODERATOR, roles=app)
    ddl.policy(
        "manuals",
        "manuals_delete",
        "DELETE",
        using=f"{MODERATOR} OR (visibility = 'household' AND {in_homes('write')})",
        roles=app,
    )
    # Processing reads any manual and sets the processing columns.
    ddl.worker_access("manuals", "SELECT")
    ddl.grant("manuals", f"UPDATE ({', '.join(PROCESSING_COLUMNS)})", WORKER_DB_ROLE)
    ddl.policy("manuals", "manuals_worker_update", "UPDATE", using="true", check="true", roles=WORKER_DB_ROLE)

    _passage_policies("manual_chunks")

    ddl.grant("manual_trusted_sources", "SELECT, INSERT, DELETE")
    ddl.enable_rls("manual_trusted_sources")
    ddl.policy(
        "manual_trusted_sources",
        "manual_trusted_sources_select",
        "SELECT",
        using=f"{in_orgs('read')} OR {MODERATOR}",
        roles=app,
    )
    ddl.policy("manual_trusted_sources", "manual_trusted_sources_insert", "INSERT", check=IS_ADMIN, roles=app)
    ddl.policy("manual_trusted_sources", "manual_trusted_sources_delete", "DELETE", using=IS_ADMIN, roles=app)

    ddl.grant("manual_reports", "SELECT, INSERT")
    ddl.grant("manual_reports", "UPDATE (status, resolved_by, resolved_at)")
    ddl.enable_rls("manual_reports")
    ddl.policy(
        "manual_reports",
        "manual_reports_select",
        "SELECT",
        using=f"user_id = {UID} OR {MODERATOR}",
        roles=app,
    )
    ddl.policy(
        "manual_reports",
        "manual_reports_insert",
        "INSERT",
        check=f"user_id = {UID} AND status = 'open' AND resolved_by IS NULL",
        roles=app,
    )
    ddl.policy(
        "manual_reports", "manual_reports_update", "UPDATE", using=MODERATOR, check=MODERATOR, roles=app
    )


def _passage_policies(table: str) -> None:
    """Passages and vectors: the manual's visibility rule on their own copy of it; processing replaces them;
    moderation updates the copy."""
    app = ddl.APP_DB_ROLE
    ddl.grant(table, "SELECT")
    ddl.grant(table, "UPDATE (visibility, home_id)")
    ddl.enable_rls(table)
    ddl.policy(table, f"{table}_select", "SELECT", using=VISIBLE, roles=app)
    ddl.policy(table, f"{table}_update", "UPDATE", using=MODERATOR, check=MODERATOR, roles=app)
    ddl.worker_access(table, "SELECT, INSERT, DELETE")  # processing replaces a manual's rows


def _functions() -> None:
    """The index-backed lookups, with the visibility rule applied explicitly (see the docstring)."""
    op.execute(
        f"""
        CREATE FUNCTION homeops_manual_composite(p_brand text, p_type manual_type, p_version text,
                                                 p_models text[], p_homes uuid[])
        RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ WITH hits AS MATERIALIZED (
             SELECT m.id, m.created_at, m.visibility, m.home_id FROM manuals m
              WHERE homeops_manual_keys(m.brand, m.manual_type, m.version, m.model_numbers)
                    && homeops_manual_keys(btrim(p_brand), p_type, p_version, p_models))
           SELECT h.id FROM hits h WHERE {in_scope("h")}
            ORDER BY h.visibility = 'shared' DESC, h.created_at, h.id LIMIT 1 $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION homeops_manuals_for_model(p_brand text, p_model text, p_homes uuid[])
        RETURNS SETOF uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ SELECT m.id FROM manuals m
            WHERE lower(m.brand) = lower(btrim(p_brand)) AND m.model_numbers @> ARRAY[p_model]::varchar[]
              AND m.status <> 'failed' AND {in_scope("m")} $$
        """
    )
    # Two static queries (a device's few manuals by key; the library through the GIN index), each planned
    # well as a cached generic plan. The headline is built for the returned rows only.
    select_rows = f"""
        SELECT r.manual_id, r.chunk_index, r.page, r.title, r.file_name, r.visibility,
               ts_headline('english', c.content, q, '{HEADLINE}'), r.score
          FROM ranked r JOIN manual_chunks c USING (manual_id, chunk_index),
               websearch_to_tsquery('english', p_query) q
         ORDER BY r.score DESC, r.manual_id, r.chunk_index"""
    ranked = """
        SELECT c.manual_id, c.chunk_index, c.page, m.title, m.file_name, m.visibility,
               ts_rank_cd(c.search_vector, q, 32) AS score
          FROM manual_chunks c JOIN manuals m ON m.id = c.manual_id, websearch_to_tsquery('english', p_query) q
         WHERE c.search_vector @@ q AND {where} AND {scope}
         ORDER BY score DESC, c.manual_id, c.chunk_index LIMIT p_limit"""
    library = ranked.format(where="true", scope=in_scope("m"))
    scoped = ranked.format(where="c.manual_id = ANY (p_ids)", scope=in_scope("m"))
    op.execute(
        f"""
        CREATE FUNCTION homeops_manual_passages(p_query text, p_ids uuid[], p_homes uuid[], p_limit integer)
        RETURNS TABLE (manual_id uuid, chunk_index integer, page integer, title varchar, file_name varchar,
                       visibility manual_visibility, snippet text, score real)
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ #variable_conflict use_column
        BEGIN
          IF p_ids IS NULL THEN
            RETURN QUERY WITH ranked AS ({library}) {select_rows};
          ELSE
            RETURN QUERY WITH ranked AS ({scoped}) {select_rows};
          END IF;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION homeops_manual_file_in_use(p_key text, p_except uuid)
        RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ SELECT EXISTS (SELECT 1 FROM manuals WHERE storage_key = p_key AND id <> p_except) $$
        """
    )
    for signature in FUNCTIONS[1:]:
        ddl.function_grant(signature, ddl.API_ROLES)


def _optional_vectors() -> None:
    """``manual_chunk_embeddings`` when pgvector is installed or may be installed by this migration."""
    bind = op.get_bind()
    state = bind.execute(
        sa.text(
            """
            SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AS installed,
                   EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') AS available,
                   (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
                   OR (coalesce((SELECT bool_or(trusted) FROM pg_available_extension_versions WHERE name = 'vector'),
                                false)
                       AND has_database_privilege(current_database(), 'CREATE')) AS may_create
            """
        )
    ).one()
    if not state.installed and not (state.available and state.may_create):
        reason = "not available on this server" if not state.available else "not installable by this role"
        op.execute(f"DO $$ BEGIN RAISE NOTICE 'pgvector {reason}: manual search is full-text only'; END $$")
        return
    if not state.installed:
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute(
        """
        CREATE TABLE manual_chunk_embeddings (
          manual_id uuid NOT NULL,
          chunk_index integer NOT NULL,
          model varchar(100) NOT NULL,
          embedding vector(384) NOT NULL,
          visibility manual_visibility NOT NULL,
          home_id uuid,
          CONSTRAINT pk_manual_chunk_embeddings PRIMARY KEY (manual_id, chunk_index),
          CONSTRAINT fk_manual_chunk_embeddings_chunk FOREIGN KEY (manual_id, chunk_index)
            REFERENCES manual_chunks (manual_id, chunk_index) ON DELETE CASCADE)
        """
    )
    ddl.reference_table("manual_chunk_embeddings")
    op.execute(
        "CREATE INDEX ix_manual_chunk_embeddings_hnsw ON manual_chunk_embeddings USING hnsw (embedding vector_cosine_ops)"
    )
    _passage_policies("manual_chunk_embeddings")
    op.execute(
        f"""
        CREATE FUNCTION homeops_manual_neighbours(p_vector vector, p_ids uuid[], p_homes uuid[], p_limit integer)
        RETURNS TABLE (manual_id uuid, chunk_index integer, page integer, title varchar, file_name varchar,
                       visibility manual_visibility, snippet text, score double precision)
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
        $$ #variable_conflict use_column
        BEGIN
          IF p_ids IS NULL THEN
            RETURN QUERY
              SELECT e.manual_id, e.chunk_index, c.page, m.title, m.file_name, m.visibility, left(c.content, 300),
                     1 - (e.embedding <=> p_vector)
                FROM manual_chunk_embeddings e JOIN manual_chunks c USING (manual_id, chunk_index)
                JOIN manuals m ON m.id = e.manual_id
               WHERE {in_scope("m")}
               ORDER BY e.embedding <=> p_vector LIMIT p_limit;
          ELSE
            RETURN QUERY
              SELECT e.manual_id, e.chunk_index, c.page, m.title, m.file_name, m.visibility, left(c.content, 300),
                     1 - (e.embedding <=> p_vector)
                FROM manual_chunk_embeddings e JOIN manual_chunks c USING (manual_id, chunk_index)
                JOIN manuals m ON m.id = e.manual_id
               WHERE e.manual_id = ANY (p_ids) AND {in_scope("m")}
               ORDER BY e.embedding <=> p_vector LIMIT p_limit;
          END IF;
        END $$
        """
    )
    ddl.function_grant("homeops_manual_neighbours(vector, uuid[], uuid[], integer)", ddl.API_ROLES)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS homeops_manual_neighbours(vector, uuid[], uuid[], integer)")
    op.execute("DROP TABLE IF EXISTS manual_chunk_embeddings")
    op.drop_table("manual_reports")
    op.drop_table("manual_trusted_sources")
    op.drop_table("manual_chunks")
    op.drop_table("manuals")
    for signature in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    for enum_name in (
        "manual_type",
        "manual_status",
        "manual_visibility",
        "manual_provenance",
        "manual_report_status",
    ):
        op.execute(f"DROP TYPE IF EXISTS {enum_name}")

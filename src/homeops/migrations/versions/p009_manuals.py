"""manuals: the shared manual library, its searchable passages and (where pgvector can be installed) their
vectors — reference data, reference tables on a cluster

**Grants, not row policies, protect the library** (as for the catalog; decided in the old migration 0007 and
measured there). The SELECT policies say ``true``: a policy that only said "signed in" made PostgreSQL test it
before every non-leakproof condition (array ``&&``/``@>``, ``lower()``, full-text ``@@``), so no index could
serve them — 100k users, 299k manuals: de-dup level 3 p50 122 ms (p99 251 ms) before, 0.6 ms after; the
device auto-link INSERT…SELECT 175 ms → 1.7 ms. The library holds no household data and every API route
that reads it requires a login. Any signed-in user uploads (``uploaded_by`` is the caller); platform admins
correct or remove. Which manuals a device has (``device_manuals``) is household data: devices migration.

De-duplication level 3 (seed 000 Query 3: same brand, an overlapping model number, same type and version) is
one probe of the GIN index on ``homeops_manual_keys(...)``: one key per (brand, type, version, model number).

**Processing** (``manuals.process``) runs in the background worker as ``homeops_worker``, for no single user:
it reads the manual, replaces its passages and vectors and sets its processing columns — exactly those grants.

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
from homeops.core.ddl import IS_ADMIN, UID

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
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["device_categories.code"],
            name=op.f("fk_manuals_category_code_device_categories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["manufacturer_id"],
            ["manufacturers.id"],
            name=op.f("fk_manuals_manufacturer_id_manufacturers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name=op.f("fk_manuals_uploaded_by_users"), ondelete="SET NULL"
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
    op.create_index("ix_manuals_manual_type", "manuals", ["manual_type"], unique=False)
    op.create_index(
        "ix_manuals_model_numbers", "manuals", ["model_numbers"], unique=False, postgresql_using="gin"
    )
    op.create_index("uq_manuals_file_hash", "manuals", ["file_hash"], unique=True)
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
        sa.ForeignKeyConstraint(
            ["manual_id"], ["manuals.id"], name=op.f("fk_manual_chunks_manual_id_manuals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("manual_id", "chunk_index", name=op.f("pk_manual_chunks")),
    )
    ddl.reference_table("manual_chunks")
    op.create_index(
        "ix_manual_chunks_search", "manual_chunks", ["search_vector"], unique=False, postgresql_using="gin"
    )

    _grants_and_policies()
    _optional_vectors()


def _grants_and_policies() -> None:
    app = ddl.APP_DB_ROLE
    ddl.grant("manuals", "SELECT", ddl.API_ROLES)
    ddl.grant("manuals", "INSERT, DELETE")
    ddl.grant("manuals", f"UPDATE ({', '.join(METADATA_COLUMNS)})")
    ddl.enable_rls("manuals")
    ddl.policy("manuals", "manuals_select", "SELECT", using="true")  # the API and the processing worker
    ddl.policy("manuals", "manuals_insert", "INSERT", check=f"uploaded_by = {UID}", roles=app)
    ddl.policy("manuals", "manuals_update", "UPDATE", using=IS_ADMIN, check=IS_ADMIN, roles=app)
    ddl.policy("manuals", "manuals_delete", "DELETE", using=IS_ADMIN, roles=app)
    # Processing sets the processing columns of any manual (the row was read through manuals_select).
    ddl.grant("manuals", f"UPDATE ({', '.join(PROCESSING_COLUMNS)})", WORKER_DB_ROLE)
    ddl.policy("manuals", "manuals_worker_update", "UPDATE", using="true", check="true", roles=WORKER_DB_ROLE)

    ddl.grant("manual_chunks", "SELECT", ddl.API_ROLES)
    ddl.enable_rls("manual_chunks")
    ddl.policy("manual_chunks", "manual_chunks_select", "SELECT", using="true")
    ddl.worker_access("manual_chunks", "INSERT, DELETE")  # processing replaces a manual's passages


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
          CONSTRAINT pk_manual_chunk_embeddings PRIMARY KEY (manual_id, chunk_index),
          CONSTRAINT fk_manual_chunk_embeddings_chunk FOREIGN KEY (manual_id, chunk_index)
            REFERENCES manual_chunks (manual_id, chunk_index) ON DELETE CASCADE)
        """
    )
    ddl.reference_table("manual_chunk_embeddings")
    op.execute(
        "CREATE INDEX ix_manual_chunk_embeddings_hnsw ON manual_chunk_embeddings USING hnsw (embedding vector_cosine_ops)"
    )
    ddl.grant("manual_chunk_embeddings", "SELECT", ddl.API_ROLES)
    ddl.enable_rls("manual_chunk_embeddings")
    ddl.policy("manual_chunk_embeddings", "manual_chunk_embeddings_select", "SELECT", using="true")
    ddl.worker_access("manual_chunk_embeddings", "INSERT, DELETE")  # processing replaces a manual's vectors


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS manual_chunk_embeddings")
    op.drop_table("manual_chunks")
    op.drop_table("manuals")
    op.execute("DROP FUNCTION IF EXISTS homeops_manual_keys(text, manual_type, text, text[])")
    for enum_name in ("manual_type", "manual_status"):
        op.execute(f"DROP TYPE IF EXISTS {enum_name}")

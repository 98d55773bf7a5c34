"""marketplace: the home-services marketplace (seed 002): providers, diagnostics, requests, quotes, projects, chat, ratings

**Tenants and placement.** A request belongs to its requester (``requester_id``): the request, its quotes,
its project, the project's chat, its rating and its helpful votes and provider views are keyed by
``requester_id`` (first in every primary and unique key) and, on a cluster, distributed by it and co-located
with the other per-user tables (``notifications``; ``diagnostics`` is keyed by its ``user_id``), so accepting a
quote — that quote accepted, the other pending quotes rejected, the request updated, the project inserted — is
one single-shard transaction. The provider side is denormalised onto every child row (``provider_id``,
``provider_user_id``, ``provider_org_id``) and kept consistent by composite foreign keys to the project. The
public directory — ``service_categories``, ``provider_profiles``, ``portfolio_items`` — is replicated
(reference tables): every shard joins it for names, and search reads it on the coordinator.

**Row policies read only the identity settings.** Requester rows: ``requester_id = homeops.uid``; provider
rows: ``provider_user_id = homeops.uid`` or ``provider_org_id`` among ``homeops.orgs_read``/``_write`` (a
provider company is an organization of kind ``provider``; its members from technician up act for it). What a
policy cannot say without reading a table is applied by narrow ``SECURITY DEFINER`` functions, each checking
the caller from the same settings:

* ``homeops_search_providers`` — the public directory search: verified providers only, full text over name and
  description (GIN), service/city/district keys (GIN), minimum rating, ordered featured → rating → id with a
  keyset. A row policy would force every non-leakproof operator (``@@``, ``@>``) to be evaluated after it, so
  neither GIN index could serve the search (see p009); the function applies the one rule that matters
  (``is_verified``) explicitly and returns public columns only.
* ``homeops_matching_requests`` / ``homeops_provider_request`` — what a provider sees of open requests: only
  when verified, only requests whose category is among its services and whose city/district (or location,
  within its radius) it covers, never its own, without the owner's contact details unless it was selected;
  one request view is counted once per provider (``views_count``).
* ``homeops_submit_quote`` — the only way to insert a quote: the same rule (an unverified provider cannot
  quote, even with raw SQL), the request locked and still open, ``quotes_count`` and the status
  ``open → quotes_received`` updated in the same transaction.
* ``homeops_refresh_provider_stats`` — the provider's aggregates (average rating, totals, completion rate,
  response time) recomputed from their source rows under the provider row's lock, in the transaction that
  changed them (a trigger on a shard may not touch another table; the API role has no grant on these columns).
* ``homeops_rating_vote`` — one helpful vote per user, ``helpful_count`` recounted under the rating's lock.
* ``homeops_become_provider`` — a homeowner who opens a provider profile becomes a ``provider`` (once, for
  themselves only; the API role may not change a role otherwise).

**Triggers touch only their own row** (so they run on the shards): status workflows and who may move them
(requests, quotes, projects), quotes immutable after submission, ratings editable for 30 days and answered
once, chat messages changed only by their read/delete flags. Database constraints: a quote's breakdown adds up
to its total (``homeops_breakdown_total``), cost > 0, an actual cost different from the agreed one needs a
reason, ratings 1–5, at most one image-less portfolio item never (1–20 images), DIY advice only at low risk.

Revision ID: p014
Revises: p013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl
from homeops.core.config import APP_DB_ROLE as APP
from homeops.core.ddl import IS_ADMIN, UID, orgs, setting

revision: str = "p014"
down_revision: str | None = "p013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ENUMS = {
    "provider_type": ("company", "engineer"),
    "preferred_provider_type": ("company", "engineer", "any"),
    "property_type": ("apartment", "villa", "house", "commercial", "other"),
    "risk_level": ("low", "medium", "high"),
    "urgency_level": ("immediate", "soon", "can_wait"),
    "request_status": ("open", "quotes_received", "provider_selected", "cancelled", "expired"),
    "quote_status": ("pending", "accepted", "rejected", "expired", "withdrawn"),
    "project_status": ("scheduled", "in_progress", "completed", "cancelled", "disputed"),
    "payment_status": ("pending", "partial", "completed", "refunded"),
    "satisfaction_level": ("satisfied", "neutral", "unsatisfied"),
    "chat_side": ("requester", "provider", "system"),
    "chat_message_type": ("text", "image", "file", "system"),
}

SERVICE_CATEGORIES = [
    ("plumbing", "Plumbing", "Leaks, pipes, drains, water heaters"),
    ("electrical", "Electrical", "Wiring, sockets, lighting, panels"),
    ("hvac", "Heating & air conditioning", "AC units, heat pumps, furnaces, ventilation"),
    ("appliance_repair", "Appliance repair", "Fridges, washers, dishwashers, ovens"),
    ("carpentry", "Carpentry", "Doors, cabinets, woodwork"),
    ("painting", "Painting", "Interior and exterior painting"),
    ("roofing", "Roofing", "Roofs, gutters, insulation"),
    ("structural", "Structural", "Cracks, foundations, walls"),
    ("waterproofing", "Waterproofing", "Damp, mould, sealing"),
    ("flooring", "Flooring & tiling", "Tiles, wood floors, grout"),
    ("pest_control", "Pest control", "Insects, rodents"),
    ("locksmith", "Locksmith & security", "Locks, alarms, cameras"),
    ("landscaping", "Landscaping", "Gardens, irrigation"),
    ("cleaning", "Cleaning", "Deep cleaning, duct cleaning"),
    ("general", "General handyman", "Small repairs of every kind"),
]

SETTINGS = [
    (
        "retention.marketplace_chat_days",
        "730",
        "Project chat messages are deleted after this many days from the project's completion (002: 2 years)",
    ),
    (
        "retention.diagnostic_images_days",
        "90",
        "Diagnostic images are deleted after (002: 90 days; the diagnostic row stays)",
    ),
]

_JSONB = postgresql.JSONB(astext_type=sa.Text())


def _enum(name: str) -> postgresql.ENUM:
    return postgresql.ENUM(name=name, create_type=False)


def _jsonb(name: str, default: str | None = "[]", nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name,
        _JSONB,
        server_default=sa.text(f"'{default}'::jsonb") if default is not None else None,
        nullable=nullable,
    )


def _ts(name: str, default: str | None = None, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.text(default) if default else None,
        nullable=nullable,
    )


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [_ts("created_at", "now()", False), _ts("updated_at", "now()", False)]


def _user_keyed(table: str, column: str) -> None:
    ddl.distributed_table(table, column, colocate_with="notifications")


# --- the identity, as the policies and functions read it -----------------------------------------------

REQUESTER = f"requester_id = {UID}"
PROVIDER_READ = f"(provider_user_id = {UID} OR provider_org_id = ANY ({orgs('read')}))"
PROVIDER_WRITE = f"(provider_user_id = {UID} OR provider_org_id = ANY ({orgs('write')}))"
# Who acts in a trigger: the API (and the worker acting for a user) is held to the parties' rules; the owner
# (migrations, operator commands, the SECURITY DEFINER functions) and the worker's system jobs only to the
# workflow.
AS_PARTY = f"(current_user = '{APP}' OR (current_user = '{ddl.WORKER_DB_ROLE}' AND {setting('uid')} <> ''))"


def upgrade() -> None:
    ddl.citus_session()
    for name, values in _ENUMS.items():
        postgresql.ENUM(*values, name=name).create(op.get_bind())
    _functions_for_columns()
    _directory()
    _diagnostics()
    _requests_and_quotes()
    _projects_and_chat()
    _ratings()
    _triggers()
    _functions()
    _grants_and_policies()
    _seed()


def _functions_for_columns() -> None:
    """Immutable helpers used by generated columns and CHECK constraints (created before the tables; on a
    cluster Citus propagates them to the workers with the tables that use them)."""
    op.execute(
        """
        CREATE FUNCTION homeops_provider_keys(p_services jsonb, p_areas jsonb) RETURNS text[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
        $$ SELECT coalesce(array_agg(DISTINCT k ORDER BY k), '{}') FROM (
             SELECT 'svc:' || s AS k
               FROM jsonb_array_elements_text(CASE jsonb_typeof(p_services) WHEN 'array' THEN p_services
                                                ELSE '[]'::jsonb END) s
             UNION ALL
             SELECT 'city:' || lower(btrim(a->>'city'))
               FROM jsonb_array_elements(CASE jsonb_typeof(p_areas) WHEN 'array' THEN p_areas
                                              ELSE '[]'::jsonb END) a
              WHERE a->>'city' IS NOT NULL
             UNION ALL
             SELECT 'city-all:' || lower(btrim(a->>'city'))
               FROM jsonb_array_elements(CASE jsonb_typeof(p_areas) WHEN 'array' THEN p_areas
                                              ELSE '[]'::jsonb END) a
              WHERE a->>'city' IS NOT NULL
                AND coalesce(jsonb_array_length(CASE jsonb_typeof(a->'districts') WHEN 'array'
                                                     THEN a->'districts' END), 0) = 0
             UNION ALL
             SELECT 'area:' || lower(btrim(a->>'city')) || '|' || lower(btrim(d))
               FROM jsonb_array_elements(CASE jsonb_typeof(p_areas) WHEN 'array' THEN p_areas
                                              ELSE '[]'::jsonb END) a,
                    jsonb_array_elements_text(CASE jsonb_typeof(a->'districts') WHEN 'array'
                                                   THEN a->'districts' ELSE '[]'::jsonb END) d
              WHERE a->>'city' IS NOT NULL) keys $$
        """
    )
    # A quote's itemised breakdown: {"items": [{"amount": …}, …], "tax": {"amount": …}, "total": …}. The lines
    # plus the tax must make the total (checked against estimated_cost by a CHECK constraint).
    op.execute(
        """
        CREATE FUNCTION homeops_breakdown_total(p_breakdown jsonb) RETURNS numeric
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
        $$ SELECT round(coalesce((SELECT sum((i->>'amount')::numeric)
                                    FROM jsonb_array_elements(CASE jsonb_typeof(p_breakdown->'items')
                                                              WHEN 'array' THEN p_breakdown->'items'
                                                              ELSE '[]'::jsonb END) i), 0)
                        + coalesce((p_breakdown->'tax'->>'amount')::numeric, 0), 2) $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION homeops_km(lat1 numeric, lon1 numeric, lat2 numeric, lon2 numeric) RETURNS double precision
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
        $$ SELECT 2 * 6371 * asin(sqrt(power(sin(radians((lat2 - lat1)::float8 / 2)), 2)
                + cos(radians(lat1::float8)) * cos(radians(lat2::float8))
                  * power(sin(radians((lon2 - lon1)::float8 / 2)), 2))) $$
        """
    )


def _directory() -> None:
    op.create_table(
        "service_categories",
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("display_order", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.CheckConstraint("code ~ '^[a-z][a-z0-9_]{1,49}$'", name=op.f("ck_service_categories_code_format")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_service_categories")),
    )
    ddl.reference_table("service_categories")

    op.create_table(
        "provider_profiles",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=True),
        sa.Column("provider_type", _enum("provider_type"), nullable=False),
        sa.Column("business_name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        _jsonb("services_offered"),
        _jsonb("certifications"),
        _jsonb("coverage_areas"),
        sa.Column("service_center_lat", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("service_center_lon", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("service_radius_km", sa.Numeric(precision=6, scale=1), nullable=True),
        sa.Column("license_number", sa.String(length=100), nullable=True),
        sa.Column("years_of_experience", sa.Integer(), nullable=True),
        sa.Column("contact_phone", sa.String(length=32), nullable=True),
        sa.Column("website", sa.String(length=500), nullable=True),
        sa.Column(
            "average_rating", sa.Numeric(precision=3, scale=2), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("total_ratings", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("total_projects", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("projects_closed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "completion_rate", sa.Numeric(precision=5, scale=2), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("response_time_hours", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("is_verified", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        _ts("verified_at"),
        sa.Column("verified_by", sa.UUID(), nullable=True),
        sa.Column("is_featured", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('english'::regconfig, coalesce(business_name, '')), 'A') || "
                "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B')",
                persisted=True,
            ),
            nullable=True,
        ),
        sa.Column(
            "search_keys",
            postgresql.ARRAY(sa.Text()),
            sa.Computed("homeops_provider_keys(services_offered, coverage_areas)", persisted=True),
            nullable=True,
        ),
        *_timestamps(),
        sa.CheckConstraint(
            "jsonb_typeof(services_offered) = 'array'", name=op.f("ck_provider_profiles_services")
        ),
        sa.CheckConstraint("jsonb_typeof(coverage_areas) = 'array'", name=op.f("ck_provider_profiles_areas")),
        sa.CheckConstraint("jsonb_typeof(certifications) = 'array'", name=op.f("ck_provider_profiles_certs")),
        sa.CheckConstraint(
            "(service_center_lat IS NULL) = (service_center_lon IS NULL) "
            "AND (service_center_lat IS NULL) = (service_radius_km IS NULL)",
            name=op.f("ck_provider_profiles_center_radius"),
        ),
        sa.CheckConstraint("service_radius_km > 0", name=op.f("ck_provider_profiles_radius_positive")),
        sa.CheckConstraint(
            "years_of_experience BETWEEN 0 AND 80", name=op.f("ck_provider_profiles_experience_range")
        ),
        sa.CheckConstraint("average_rating BETWEEN 0 AND 5", name=op.f("ck_provider_profiles_rating_range")),
        sa.CheckConstraint(
            "completion_rate BETWEEN 0 AND 100", name=op.f("ck_provider_profiles_completion_range")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_provider_profiles_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_provider_profiles_organization_id_organizations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_profiles")),
        sa.UniqueConstraint("user_id", name=op.f("uq_provider_profiles_user_id")),
    )
    ddl.reference_table("provider_profiles")
    op.create_index("ix_provider_profiles_organization_id", "provider_profiles", ["organization_id"])
    op.create_index("ix_provider_profiles_provider_type", "provider_profiles", ["provider_type"])
    op.create_index(
        "ix_provider_profiles_search_vector", "provider_profiles", ["search_vector"], postgresql_using="gin"
    )
    op.create_index(
        "ix_provider_profiles_search_keys", "provider_profiles", ["search_keys"], postgresql_using="gin"
    )
    op.create_index(
        "ix_provider_profiles_ranking",
        "provider_profiles",
        [
            sa.literal_column("is_featured DESC"),
            sa.literal_column("average_rating DESC"),
            sa.literal_column("id DESC"),
        ],
        postgresql_where=sa.text("is_verified"),
    )
    ddl.updated_at_trigger("provider_profiles")

    op.create_table(
        "portfolio_items",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("provider_id", sa.UUID(), nullable=False),
        sa.Column("provider_user_id", sa.UUID(), nullable=False),
        sa.Column("provider_org_id", sa.UUID(), nullable=True),
        sa.Column("provider_public", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("project_type", sa.String(length=50), nullable=True),
        _jsonb("images", default=None),
        sa.Column("project_date", sa.Date(), nullable=True),
        sa.Column("location", sa.String(length=255), nullable=True),
        sa.Column("display_order", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("is_featured", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "jsonb_typeof(images) = 'array' AND jsonb_array_length(images) BETWEEN 1 AND 20",
            name=op.f("ck_portfolio_items_images_count"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["provider_profiles.id"],
            name=op.f("fk_portfolio_items_provider_id_provider_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_type"],
            ["service_categories.code"],
            name=op.f("fk_portfolio_items_project_type_service_categories"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_items")),
    )
    ddl.reference_table("portfolio_items")
    op.create_index(
        "ix_portfolio_items_provider_order",
        "portfolio_items",
        ["provider_id", sa.literal_column("is_featured DESC"), "display_order", "created_at"],
    )
    op.create_index("ix_portfolio_items_project_type", "portfolio_items", ["project_type"])
    ddl.updated_at_trigger("portfolio_items")


def _diagnostics() -> None:
    op.create_table(
        "diagnostics",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("home_id", sa.UUID(), nullable=True),
        sa.Column("device_id", sa.UUID(), nullable=True),
        sa.Column("image_key", sa.String(length=512), nullable=True),
        _jsonb("image_metadata", "{}"),
        _ts("image_deleted_at"),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category_hint", sa.String(length=50), nullable=True),
        sa.Column("risk_level", _enum("risk_level"), nullable=False),
        sa.Column("problem_category", sa.String(length=50), nullable=False),
        sa.Column("problem_subcategory", sa.String(length=100), nullable=True),
        sa.Column("probable_cause", sa.Text(), nullable=False),
        sa.Column("risk_prediction", sa.Text(), nullable=False),
        sa.Column("recommended_action", sa.Text(), nullable=False),
        sa.Column("ai_confidence_score", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("ai_model_version", sa.String(length=50), nullable=True),
        sa.Column("processing_time_ms", sa.Integer(), nullable=True),
        sa.Column("is_diy_possible", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("diy_advice", sa.Text(), nullable=True),
        sa.Column("estimated_cost_range", sa.String(length=100), nullable=True),
        sa.Column("urgency_level", _enum("urgency_level"), nullable=True),
        _jsonb("explanation", "{}"),
        _ts("created_at", "now()", False),
        sa.CheckConstraint(
            "ai_confidence_score BETWEEN 0 AND 100", name=op.f("ck_diagnostics_confidence_range")
        ),
        # DIY advice only for low-risk problems (002).
        sa.CheckConstraint(
            "NOT is_diy_possible OR risk_level = 'low'", name=op.f("ck_diagnostics_diy_only_low_risk")
        ),
        sa.CheckConstraint("diy_advice IS NULL OR is_diy_possible", name=op.f("ck_diagnostics_diy_advice")),
        sa.CheckConstraint(
            "(device_id IS NULL) OR (home_id IS NOT NULL)", name=op.f("ck_diagnostics_device_in_home")
        ),
        sa.CheckConstraint(
            "(image_key IS NULL) = (image_deleted_at IS NOT NULL)",
            name=op.f("ck_diagnostics_image_or_deleted"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_diagnostics_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["problem_category"],
            ["service_categories.code"],
            name=op.f("fk_diagnostics_problem_category_service_categories"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("user_id", "id", name=op.f("pk_diagnostics")),
    )
    _user_keyed("diagnostics", "user_id")
    op.create_index(
        "ix_diagnostics_user_created", "diagnostics", ["user_id", sa.literal_column("created_at DESC")]
    )
    op.create_index("ix_diagnostics_risk_level", "diagnostics", ["risk_level"])
    op.create_index("ix_diagnostics_problem_category", "diagnostics", ["problem_category"])
    op.create_index("ix_diagnostics_confidence", "diagnostics", ["ai_confidence_score"])
    # The image retention job: images still stored, oldest first.
    op.create_index(
        "ix_diagnostics_image_created",
        "diagnostics",
        ["created_at"],
        postgresql_where=sa.text("image_key IS NOT NULL"),
    )


def _requests_and_quotes() -> None:
    op.create_table(
        "service_requests",
        sa.Column("requester_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("diagnostic_id", sa.UUID(), nullable=True),
        sa.Column("home_id", sa.UUID(), nullable=True),
        sa.Column(
            "device_ids", postgresql.ARRAY(sa.UUID()), server_default=sa.text("'{}'::uuid[]"), nullable=False
        ),
        _jsonb("devices"),
        sa.Column("problem_title", sa.String(length=255), nullable=False),
        sa.Column("problem_description", sa.Text(), nullable=False),
        sa.Column("problem_category", sa.String(length=50), nullable=False),
        _jsonb("diagnostic_summary", default=None, nullable=True),
        _jsonb("additional_images"),
        sa.Column(
            "preferred_provider_type",
            _enum("preferred_provider_type"),
            server_default="any",
            nullable=False,
        ),
        sa.Column("preferred_service_date", sa.Date(), nullable=True),
        sa.Column("property_type", _enum("property_type"), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=True),
        sa.Column("city_key", sa.Text(), sa.Computed("lower(btrim(city))", persisted=True), nullable=True),
        sa.Column(
            "area_key",
            sa.Text(),
            sa.Computed("lower(btrim(city)) || '|' || lower(btrim(coalesce(district, '')))", persisted=True),
            nullable=True,
        ),
        sa.Column("latitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("longitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("property_address", sa.Text(), nullable=True),
        sa.Column("contact_name", sa.String(length=255), nullable=True),
        sa.Column("contact_phone", sa.String(length=32), nullable=True),
        sa.Column("status", _enum("request_status"), server_default="open", nullable=False),
        sa.Column("selected_quote_id", sa.UUID(), nullable=True),
        sa.Column("selected_provider_id", sa.UUID(), nullable=True),
        sa.Column("selected_provider_user_id", sa.UUID(), nullable=True),
        sa.Column("selected_provider_org_id", sa.UUID(), nullable=True),
        _ts("selected_at"),
        _ts("cancelled_at"),
        sa.Column("cancellation_reason", sa.Text(), nullable=True),
        sa.Column("quotes_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("views_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _ts("expires_at", nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "cardinality(device_ids) = 0 OR home_id IS NOT NULL",
            name=op.f("ck_service_requests_devices_in_home"),
        ),
        sa.CheckConstraint(
            "(status = 'provider_selected') = (selected_quote_id IS NOT NULL)",
            name=op.f("ck_service_requests_selected_quote"),
        ),
        sa.CheckConstraint(
            "(latitude IS NULL) = (longitude IS NULL)", name=op.f("ck_service_requests_location")
        ),
        sa.CheckConstraint("btrim(city) <> ''", name=op.f("ck_service_requests_city_present")),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["users.id"],
            name=op.f("fk_service_requests_requester_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["problem_category"],
            ["service_categories.code"],
            name=op.f("fk_service_requests_problem_category_service_categories"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("requester_id", "id", name=op.f("pk_service_requests")),
    )
    _user_keyed("service_requests", "requester_id")
    op.create_foreign_key(
        "fk_service_requests_requester_id_diagnostics",
        "service_requests",
        "diagnostics",
        ["requester_id", "diagnostic_id"],
        ["user_id", "id"],
        ondelete="RESTRICT",
    )
    op.create_index(
        "ix_service_requests_requester_created",
        "service_requests",
        ["requester_id", sa.literal_column("created_at DESC")],
    )
    # A request found by its id alone (a provider's view; on a cluster one probe per shard).
    op.create_index("ix_service_requests_id", "service_requests", ["id"])
    op.create_index("ix_service_requests_status", "service_requests", ["status"])
    op.create_index(
        "ix_service_requests_open_match",
        "service_requests",
        ["problem_category", "city_key", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        postgresql_where=sa.text("status IN ('open', 'quotes_received')"),
    )
    op.create_index(
        "ix_service_requests_open_location",
        "service_requests",
        ["problem_category", "latitude"],
        postgresql_where=sa.text("status IN ('open', 'quotes_received') AND latitude IS NOT NULL"),
    )
    op.create_index(
        "ix_service_requests_expiry",
        "service_requests",
        ["expires_at"],
        postgresql_where=sa.text("status IN ('open', 'quotes_received')"),
    )
    ddl.updated_at_trigger("service_requests")

    op.create_table(
        "quotes",
        sa.Column("requester_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("request_id", sa.UUID(), nullable=False),
        sa.Column("provider_id", sa.UUID(), nullable=False),
        sa.Column("provider_user_id", sa.UUID(), nullable=False),
        sa.Column("provider_org_id", sa.UUID(), nullable=True),
        sa.Column("estimated_cost", sa.Numeric(precision=12, scale=2), nullable=False),
        _jsonb("cost_breakdown", default=None),
        sa.Column("estimated_duration_days", sa.Integer(), nullable=True),
        sa.Column("technical_assessment", sa.Text(), nullable=True),
        sa.Column("proposed_solution", sa.Text(), nullable=True),
        sa.Column("materials_included", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("warranty_period_months", sa.Integer(), nullable=True),
        sa.Column("terms_and_conditions", sa.Text(), nullable=True),
        sa.Column("validity_period_days", sa.Integer(), nullable=False),
        _jsonb("attachments"),
        sa.Column("status", _enum("quote_status"), server_default="pending", nullable=False),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("response_hours", sa.Numeric(precision=8, scale=2), nullable=True),
        _ts("submitted_at", "now()", False),
        _ts("expires_at", nullable=False),
        _ts("accepted_at"),
        _ts("rejected_at"),
        _ts("withdrawn_at"),
        _ts("updated_at", "now()", False),
        sa.CheckConstraint("estimated_cost > 0", name=op.f("ck_quotes_positive_cost")),
        # The itemised lines (and tax) add up to the quoted total, and the breakdown says that total.
        sa.CheckConstraint(
            "homeops_breakdown_total(cost_breakdown) = estimated_cost "
            "AND (cost_breakdown->>'total')::numeric = estimated_cost",
            name=op.f("ck_quotes_breakdown_adds_up"),
        ),
        sa.CheckConstraint("estimated_duration_days > 0", name=op.f("ck_quotes_duration_positive")),
        sa.CheckConstraint("warranty_period_months BETWEEN 0 AND 240", name=op.f("ck_quotes_warranty_range")),
        sa.CheckConstraint("validity_period_days BETWEEN 1 AND 365", name=op.f("ck_quotes_validity_range")),
        sa.CheckConstraint("expires_at > submitted_at", name=op.f("ck_quotes_expires_after_submission")),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["provider_profiles.id"],
            name=op.f("fk_quotes_provider_id_provider_profiles"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("requester_id", "id", name=op.f("pk_quotes")),
    )
    _user_keyed("quotes", "requester_id")
    op.create_foreign_key(
        "fk_quotes_requester_id_service_requests",
        "quotes",
        "service_requests",
        ["requester_id", "request_id"],
        ["requester_id", "id"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        "fk_service_requests_selected_quote",
        "service_requests",
        "quotes",
        ["requester_id", "selected_quote_id"],
        ["requester_id", "id"],
    )
    # One live quote per provider per request (a withdrawn or expired one may be replaced).
    op.create_index(
        "uq_quotes_live_per_provider",
        "quotes",
        ["requester_id", "request_id", "provider_id"],
        unique=True,
        postgresql_where=sa.text("status NOT IN ('withdrawn', 'expired')"),
    )
    op.create_index("ix_quotes_request", "quotes", ["requester_id", "request_id", "submitted_at"])
    op.create_index("ix_quotes_id", "quotes", ["id"])
    op.create_index(
        "ix_quotes_provider_submitted",
        "quotes",
        ["provider_id", sa.literal_column("submitted_at DESC"), sa.literal_column("id DESC")],
    )
    op.create_index(
        "ix_quotes_expiry", "quotes", ["expires_at"], postgresql_where=sa.text("status = 'pending'")
    )
    ddl.updated_at_trigger("quotes")

    op.create_table(
        "request_views",
        sa.Column("requester_id", sa.UUID(), nullable=False),
        sa.Column("request_id", sa.UUID(), nullable=False),
        sa.Column("provider_id", sa.UUID(), nullable=False),
        _ts("viewed_at", "now()", False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["provider_profiles.id"],
            name=op.f("fk_request_views_provider_id_provider_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("requester_id", "request_id", "provider_id", name=op.f("pk_request_views")),
    )
    _user_keyed("request_views", "requester_id")
    op.create_foreign_key(
        "fk_request_views_requester_id_service_requests",
        "request_views",
        "service_requests",
        ["requester_id", "request_id"],
        ["requester_id", "id"],
        ondelete="CASCADE",
    )


def _projects_and_chat() -> None:
    op.create_table(
        "projects",
        sa.Column("requester_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("request_id", sa.UUID(), nullable=False),
        sa.Column("quote_id", sa.UUID(), nullable=False),
        sa.Column("provider_id", sa.UUID(), nullable=False),
        sa.Column("provider_user_id", sa.UUID(), nullable=False),
        sa.Column("provider_org_id", sa.UUID(), nullable=True),
        sa.Column("home_id", sa.UUID(), nullable=True),
        sa.Column(
            "device_ids", postgresql.ARRAY(sa.UUID()), server_default=sa.text("'{}'::uuid[]"), nullable=False
        ),
        sa.Column("project_title", sa.String(length=255), nullable=False),
        sa.Column("project_description", sa.Text(), nullable=True),
        sa.Column("status", _enum("project_status"), server_default="scheduled", nullable=False),
        sa.Column("scheduled_start_date", sa.Date(), nullable=True),
        sa.Column("actual_start_date", sa.Date(), nullable=True),
        sa.Column("scheduled_end_date", sa.Date(), nullable=True),
        sa.Column("actual_completion_date", sa.Date(), nullable=True),
        sa.Column("agreed_cost", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("actual_cost", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("cost_difference_reason", sa.Text(), nullable=True),
        sa.Column("payment_status", _enum("payment_status"), server_default="pending", nullable=False),
        _jsonb("work_notes"),
        _jsonb("before_images"),
        _jsonb("during_images"),
        _jsonb("after_images"),
        _jsonb("documents"),
        sa.Column("warranty_months", sa.Integer(), nullable=True),
        sa.Column("warranty_start_date", sa.Date(), nullable=True),
        sa.Column("warranty_end_date", sa.Date(), nullable=True),
        sa.Column("citizen_satisfaction", _enum("satisfaction_level"), nullable=True),
        sa.Column("disputed_from", _enum("project_status"), nullable=True),
        sa.Column("dispute_reason", sa.Text(), nullable=True),
        sa.Column("dispute_opened_by", sa.UUID(), nullable=True),
        _ts("dispute_opened_at"),
        sa.Column("dispute_resolution", sa.Text(), nullable=True),
        _ts("dispute_resolved_at"),
        sa.Column("cancellation_reason", sa.Text(), nullable=True),
        sa.Column("cancelled_by", sa.UUID(), nullable=True),
        _ts("started_at"),
        _ts("completed_at"),
        _jsonb("service_events"),
        *_timestamps(),
        sa.CheckConstraint("agreed_cost > 0", name=op.f("ck_projects_agreed_cost_positive")),
        sa.CheckConstraint("actual_cost >= 0", name=op.f("ck_projects_actual_cost_non_negative")),
        # An actual cost different from the agreed one needs a reason (002 "requires explanation").
        sa.CheckConstraint(
            "actual_cost IS NULL OR actual_cost = agreed_cost OR btrim(coalesce(cost_difference_reason, '')) <> ''",
            name=op.f("ck_projects_cost_difference_explained"),
        ),
        sa.CheckConstraint(
            "scheduled_end_date >= scheduled_start_date", name=op.f("ck_projects_scheduled_dates")
        ),
        sa.CheckConstraint(
            "warranty_end_date >= warranty_start_date", name=op.f("ck_projects_warranty_dates")
        ),
        sa.CheckConstraint(
            "status <> 'completed' OR actual_completion_date IS NOT NULL",
            name=op.f("ck_projects_completed_dated"),
        ),
        sa.CheckConstraint(
            "(status = 'disputed') = (disputed_from IS NOT NULL)", name=op.f("ck_projects_dispute_origin")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["provider_profiles.id"],
            name=op.f("fk_projects_provider_id_provider_profiles"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("requester_id", "id", name=op.f("pk_projects")),
        sa.UniqueConstraint("requester_id", "request_id", name=op.f("uq_projects_requester_id_request_id")),
        sa.UniqueConstraint("requester_id", "quote_id", name=op.f("uq_projects_requester_id_quote_id")),
        sa.UniqueConstraint(
            "requester_id", "id", "provider_id", name=op.f("uq_projects_requester_id_id_provider_id")
        ),
        sa.UniqueConstraint(
            "requester_id",
            "id",
            "provider_user_id",
            name=op.f("uq_projects_requester_id_id_provider_user_id"),
        ),
        sa.UniqueConstraint(
            "requester_id", "id", "provider_org_id", name=op.f("uq_projects_requester_id_id_provider_org_id")
        ),
    )
    _user_keyed("projects", "requester_id")
    op.create_foreign_key(
        "fk_projects_requester_id_service_requests",
        "projects",
        "service_requests",
        ["requester_id", "request_id"],
        ["requester_id", "id"],
        ondelete="RESTRICT",
    )
    op.create_foreign_key(
        "fk_projects_requester_id_quotes",
        "projects",
        "quotes",
        ["requester_id", "quote_id"],
        ["requester_id", "id"],
        ondelete="RESTRICT",
    )
    op.create_index(
        "ix_projects_requester_created", "projects", ["requester_id", sa.literal_column("created_at DESC")]
    )
    op.create_index("ix_projects_id", "projects", ["id"])
    op.create_index(
        "ix_projects_provider_created",
        "projects",
        ["provider_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
    )
    op.create_index("ix_projects_status", "projects", ["status"])
    op.create_index(
        "ix_projects_completed",
        "projects",
        ["actual_completion_date"],
        postgresql_where=sa.text("status = 'completed'"),
    )
    ddl.updated_at_trigger("projects")

    op.create_table(
        "chat_messages",
        sa.Column("requester_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("provider_user_id", sa.UUID(), nullable=False),
        sa.Column("provider_org_id", sa.UUID(), nullable=True),
        sa.Column("sender_id", sa.UUID(), nullable=True),
        sa.Column("receiver_id", sa.UUID(), nullable=True),
        sa.Column("sender_side", _enum("chat_side"), nullable=False),
        sa.Column("message_text", sa.Text(), nullable=True),
        sa.Column("message_type", _enum("chat_message_type"), server_default="text", nullable=False),
        _jsonb("attachments"),
        sa.Column("reply_to_message_id", sa.UUID(), nullable=True),
        sa.Column("is_read", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        _ts("read_at"),
        sa.Column("deleted_by_requester", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("deleted_by_provider", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        _ts("created_at", "clock_timestamp()", False),
        sa.CheckConstraint(
            "btrim(coalesce(message_text, '')) <> '' OR jsonb_array_length(attachments) > 0",
            name=op.f("ck_chat_messages_not_empty"),
        ),
        sa.CheckConstraint("length(message_text) <= 5000", name=op.f("ck_chat_messages_text_length")),
        sa.CheckConstraint(
            "(sender_side = 'system') = (message_type = 'system' AND receiver_id IS NULL)"
            " OR (message_type = 'system' AND sender_side <> 'system')",
            name=op.f("ck_chat_messages_system_side"),
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["users.id"], name=op.f("fk_chat_messages_sender_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("requester_id", "id", name=op.f("pk_chat_messages")),
    )
    _user_keyed("chat_messages", "requester_id")
    for name, cols, target in (
        ("fk_chat_messages_project", ["requester_id", "project_id"], ["requester_id", "id"]),
        (
            "fk_chat_messages_project_provider_user",
            ["requester_id", "project_id", "provider_user_id"],
            ["requester_id", "id", "provider_user_id"],
        ),
        (
            "fk_chat_messages_project_provider_org",
            ["requester_id", "project_id", "provider_org_id"],
            ["requester_id", "id", "provider_org_id"],
        ),
    ):
        op.create_foreign_key(name, "chat_messages", "projects", cols, target, ondelete="CASCADE")
    op.create_index(
        "ix_chat_messages_history",
        "chat_messages",
        ["requester_id", "project_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
    )
    op.create_index("ix_chat_messages_id", "chat_messages", ["id"])
    op.create_index(
        "ix_chat_messages_unread",
        "chat_messages",
        ["requester_id", "project_id", "sender_side"],
        postgresql_where=sa.text("NOT is_read"),
    )
    op.create_index(
        "ix_chat_messages_provider_unread",
        "chat_messages",
        ["provider_user_id", "project_id"],
        postgresql_where=sa.text("NOT is_read AND sender_side = 'requester'"),
    )
    op.create_index("ix_chat_messages_sender_id", "chat_messages", ["sender_id"])


def _ratings() -> None:
    dims = ("overall", "quality", "timeliness", "professionalism", "value", "communication")
    op.create_table(
        "ratings",
        sa.Column("requester_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("provider_id", sa.UUID(), nullable=False),
        sa.Column("provider_user_id", sa.UUID(), nullable=False),
        sa.Column("provider_org_id", sa.UUID(), nullable=True),
        sa.Column("reviewer_name", sa.String(length=100), nullable=False),
        *(sa.Column(f"{d}_rating", sa.SmallInteger(), nullable=False) for d in dims),
        sa.Column("review_title", sa.String(length=255), nullable=True),
        sa.Column("review_text", sa.Text(), nullable=True),
        sa.Column("would_recommend", sa.Boolean(), nullable=True),
        sa.Column("response_from_provider", sa.Text(), nullable=True),
        _ts("response_at"),
        sa.Column("response_by", sa.UUID(), nullable=True),
        sa.Column("is_verified", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("is_featured", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("helpful_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('english'::regconfig, coalesce(review_title, '') || ' ' || coalesce(review_text, ''))",
                persisted=True,
            ),
            nullable=True,
        ),
        *_timestamps(),
        *(
            sa.CheckConstraint(f"{d}_rating BETWEEN 1 AND 5", name=op.f(f"ck_ratings_{d}_range"))
            for d in dims
        ),
        sa.CheckConstraint("helpful_count >= 0", name=op.f("ck_ratings_helpful_non_negative")),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["provider_profiles.id"],
            name=op.f("fk_ratings_provider_id_provider_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("requester_id", "id", name=op.f("pk_ratings")),
        sa.UniqueConstraint("requester_id", "project_id", name=op.f("uq_ratings_requester_id_project_id")),
    )
    _user_keyed("ratings", "requester_id")
    op.create_foreign_key(
        "fk_ratings_requester_id_projects",
        "ratings",
        "projects",
        ["requester_id", "project_id", "provider_id"],
        ["requester_id", "id", "provider_id"],
        ondelete="CASCADE",
    )
    op.create_index(
        "ix_ratings_provider_created",
        "ratings",
        ["provider_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
    )
    op.create_index("ix_ratings_id", "ratings", ["id"])
    op.create_index("ix_ratings_overall", "ratings", [sa.literal_column("overall_rating DESC")])
    op.create_index(
        "ix_ratings_featured", "ratings", ["provider_id"], postgresql_where=sa.text("is_featured")
    )
    op.create_index("ix_ratings_search_vector", "ratings", ["search_vector"], postgresql_using="gin")
    ddl.updated_at_trigger("ratings")

    op.create_table(
        "rating_votes",
        sa.Column("requester_id", sa.UUID(), nullable=False),
        sa.Column("rating_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        _ts("created_at", "now()", False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_rating_votes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("requester_id", "rating_id", "user_id", name=op.f("pk_rating_votes")),
    )
    _user_keyed("rating_votes", "requester_id")
    op.create_foreign_key(
        "fk_rating_votes_requester_id_ratings",
        "rating_votes",
        "ratings",
        ["requester_id", "rating_id"],
        ["requester_id", "id"],
        ondelete="CASCADE",
    )
    op.create_index("ix_rating_votes_user_id", "rating_votes", ["user_id"])


# --- triggers (each touches only its own row) -----------------------------------------------------------

_RAISE = "RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = "


def _trigger(table: str, function: str, body: str, declare: str = "") -> None:
    op.execute(
        f"""
        CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS
        $$ DECLARE
          v_uid text := {setting("uid")};
          v_admin boolean := {IS_ADMIN};
          v_party boolean := {AS_PARTY};
          {declare}
        BEGIN
        {body}
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        f"CREATE TRIGGER trg_{table}_guard BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()"
    )


def _triggers() -> None:
    provider_side = f"(NEW.provider_user_id::text = v_uid OR NEW.provider_org_id = ANY ({orgs('write')}))"
    # Requests: the workflow open → quotes_received → provider_selected, cancelled by the requester before a
    # selection, expired by the system; counters only by the database's functions; the content changes only
    # while no quote came in.
    _trigger(
        "service_requests",
        "homeops_service_requests_guard",
        f"""
          IF (NEW.requester_id, NEW.id, NEW.created_at, NEW.diagnostic_id, NEW.home_id)
             IS DISTINCT FROM (OLD.requester_id, OLD.id, OLD.created_at, OLD.diagnostic_id, OLD.home_id) THEN
            {_RAISE} 'service_request_keys_immutable';
          END IF;
          IF v_party AND (NEW.quotes_count, NEW.views_count) IS DISTINCT FROM (OLD.quotes_count, OLD.views_count) THEN
            {_RAISE} 'service_request_counters_are_the_databases';
          END IF;
          IF NEW.status <> OLD.status THEN
            IF NOT (
                 (OLD.status = 'open' AND NEW.status = 'quotes_received' AND NOT v_party)
              OR (OLD.status IN ('open', 'quotes_received')
                  AND NEW.status IN ('provider_selected', 'cancelled')
                  AND (NOT v_party OR NEW.requester_id::text = v_uid))
              OR (OLD.status IN ('open', 'quotes_received') AND NEW.status = 'expired' AND NOT v_party)) THEN
              {_RAISE} format('invalid_request_transition %s -> %s', OLD.status, NEW.status);
            END IF;
          ELSIF OLD.status NOT IN ('open', 'quotes_received') AND
                (NEW.problem_title, NEW.problem_description, NEW.problem_category, NEW.preferred_service_date)
                IS DISTINCT FROM
                (OLD.problem_title, OLD.problem_description, OLD.problem_category, OLD.preferred_service_date) THEN
            {_RAISE} 'service_request_closed';
          END IF;
        """,
    )
    # Quotes: immutable once submitted (withdraw and resubmit instead); pending → accepted / rejected by the
    # requester, → withdrawn by the provider side, → expired by the system.
    immutable = (
        "requester_id, id, request_id, provider_id, provider_user_id, provider_org_id, estimated_cost, "
        "cost_breakdown, estimated_duration_days, technical_assessment, proposed_solution, materials_included, "
        "warranty_period_months, terms_and_conditions, validity_period_days, attachments, response_hours, "
        "submitted_at, expires_at"
    )
    new_cols = ", ".join(f"NEW.{c.strip()}" for c in immutable.split(","))
    old_cols = ", ".join(f"OLD.{c.strip()}" for c in immutable.split(","))
    _trigger(
        "quotes",
        "homeops_quotes_guard",
        f"""
          IF ({new_cols}) IS DISTINCT FROM ({old_cols}) THEN
            {_RAISE} 'quote_immutable';
          END IF;
          IF NEW.status <> OLD.status THEN
            IF NOT (OLD.status = 'pending' AND (
                 (NEW.status IN ('accepted', 'rejected') AND (NOT v_party OR NEW.requester_id::text = v_uid))
              OR (NEW.status = 'withdrawn' AND (NOT v_party OR {provider_side}))
              OR (NEW.status = 'expired' AND NOT v_party))) THEN
              {_RAISE} format('invalid_quote_transition %s -> %s', OLD.status, NEW.status);
            END IF;
          END IF;
        """,
    )
    # Projects: scheduled → in_progress → completed; scheduled / in_progress → cancelled (either side); either
    # side opens a dispute (also after completion); only a platform admin leaves "disputed".
    _trigger(
        "projects",
        "homeops_projects_guard",
        f"""
          IF (NEW.requester_id, NEW.id, NEW.request_id, NEW.quote_id, NEW.provider_id, NEW.provider_user_id,
              NEW.provider_org_id, NEW.agreed_cost, NEW.created_at)
             IS DISTINCT FROM (OLD.requester_id, OLD.id, OLD.request_id, OLD.quote_id, OLD.provider_id,
              OLD.provider_user_id, OLD.provider_org_id, OLD.agreed_cost, OLD.created_at) THEN
            {_RAISE} 'project_keys_immutable';
          END IF;
          v_requester := NEW.requester_id::text = v_uid;
          v_provider := {provider_side};
          IF NEW.status <> OLD.status AND v_party THEN
            IF NOT ((OLD.status = 'scheduled' AND NEW.status = 'in_progress' AND v_provider)
              OR (OLD.status = 'in_progress' AND NEW.status = 'completed' AND (v_provider OR v_requester))
              OR (OLD.status IN ('scheduled', 'in_progress') AND NEW.status = 'cancelled'
                  AND (v_provider OR v_requester))
              OR (OLD.status IN ('scheduled', 'in_progress', 'completed') AND NEW.status = 'disputed'
                  AND (v_provider OR v_requester))
              OR (OLD.status = 'disputed' AND NEW.status <> 'disputed' AND v_admin)) THEN
              {_RAISE} format('invalid_project_transition %s -> %s', OLD.status, NEW.status);
            END IF;
          ELSIF v_party AND OLD.status IN ('completed', 'cancelled') AND NOT v_admin AND
                (NEW.actual_cost, NEW.actual_completion_date, NEW.warranty_start_date, NEW.warranty_end_date)
                IS DISTINCT FROM
                (OLD.actual_cost, OLD.actual_completion_date, OLD.warranty_start_date, OLD.warranty_end_date) THEN
            {_RAISE} 'project_closed';
          END IF;
        """,
        declare="v_requester boolean; v_provider boolean;",
    )
    # Ratings: the rating itself by its requester within 30 days of its creation; the provider's response once;
    # featured by an admin; helpful_count only by homeops_rating_vote.
    dims = ", ".join(
        f"{{0}}.{d}_rating"
        for d in ("overall", "quality", "timeliness", "professionalism", "value", "communication")
    )
    review = dims + ", {0}.review_title, {0}.review_text, {0}.would_recommend"
    _trigger(
        "ratings",
        "homeops_ratings_guard",
        f"""
          IF (NEW.requester_id, NEW.id, NEW.project_id, NEW.provider_id, NEW.provider_user_id,
              NEW.provider_org_id, NEW.reviewer_name, NEW.created_at, NEW.is_verified)
             IS DISTINCT FROM (OLD.requester_id, OLD.id, OLD.project_id, OLD.provider_id, OLD.provider_user_id,
              OLD.provider_org_id, OLD.reviewer_name, OLD.created_at, OLD.is_verified) THEN
            {_RAISE} 'rating_keys_immutable';
          END IF;
          IF ({review.format("NEW")}) IS DISTINCT FROM ({review.format("OLD")}) THEN
            IF OLD.created_at < now() - interval '30 days' THEN
              {_RAISE} 'rating_edit_window_closed';
            END IF;
            IF v_party AND NEW.requester_id::text <> v_uid THEN
              {_RAISE} 'rating_edit_by_requester_only';
            END IF;
          END IF;
          IF (NEW.response_from_provider, NEW.response_at, NEW.response_by)
             IS DISTINCT FROM (OLD.response_from_provider, OLD.response_at, OLD.response_by) THEN
            IF OLD.response_from_provider IS NOT NULL THEN
              {_RAISE} 'rating_already_answered';
            END IF;
            IF v_party AND NOT {provider_side} THEN
              {_RAISE} 'rating_response_by_provider_only';
            END IF;
          END IF;
          IF v_party AND NOT v_admin AND NEW.is_featured IS DISTINCT FROM OLD.is_featured THEN
            {_RAISE} 'rating_featured_by_admin_only';
          END IF;
          IF v_party AND NEW.helpful_count IS DISTINCT FROM OLD.helpful_count THEN
            {_RAISE} 'rating_helpful_count_is_the_databases';
          END IF;
        """,
    )
    # Chat messages: only read receipts (by the receiving side) and each side's own delete flag change.
    _trigger(
        "chat_messages",
        "homeops_chat_messages_guard",
        f"""
          IF (NEW.requester_id, NEW.id, NEW.project_id, NEW.provider_user_id, NEW.provider_org_id, NEW.sender_id,
              NEW.receiver_id, NEW.sender_side, NEW.message_text, NEW.message_type, NEW.attachments,
              NEW.reply_to_message_id, NEW.created_at)
             IS DISTINCT FROM (OLD.requester_id, OLD.id, OLD.project_id, OLD.provider_user_id, OLD.provider_org_id,
              OLD.sender_id, OLD.receiver_id, OLD.sender_side, OLD.message_text, OLD.message_type,
              OLD.attachments, OLD.reply_to_message_id, OLD.created_at) THEN
            {_RAISE} 'chat_message_immutable';
          END IF;
          IF v_party THEN
            v_requester := NEW.requester_id::text = v_uid;
            v_provider := {provider_side} OR NEW.provider_org_id = ANY ({orgs("read")});
            IF (OLD.is_read AND NOT NEW.is_read) OR (OLD.deleted_by_requester AND NOT NEW.deleted_by_requester)
               OR (OLD.deleted_by_provider AND NOT NEW.deleted_by_provider) THEN
              {_RAISE} 'chat_flags_are_one_way';
            END IF;
            IF NEW.is_read AND NOT OLD.is_read AND NOT (
                 (OLD.sender_side = 'provider' AND v_requester) OR (OLD.sender_side = 'requester' AND v_provider)) THEN
              {_RAISE} 'chat_read_by_receiver_only';
            END IF;
            IF (NEW.deleted_by_requester AND NOT OLD.deleted_by_requester AND NOT v_requester)
               OR (NEW.deleted_by_provider AND NOT OLD.deleted_by_provider AND NOT v_provider) THEN
              {_RAISE} 'chat_delete_own_side_only';
            END IF;
          END IF;
        """,
        declare="v_requester boolean; v_provider boolean;",
    )
    # Provider profiles: verification and the featured flag are an admin's.
    _trigger(
        "provider_profiles",
        "homeops_provider_profiles_guard",
        f"""
          IF NEW.user_id <> OLD.user_id THEN {_RAISE} 'provider_owner_immutable'; END IF;
          IF v_party AND NOT v_admin AND
             (NEW.is_verified, NEW.verified_at, NEW.verified_by, NEW.is_featured)
             IS DISTINCT FROM (OLD.is_verified, OLD.verified_at, OLD.verified_by, OLD.is_featured) THEN
            {_RAISE} 'provider_verification_by_admin_only';
          END IF;
        """,
    )


# --- SECURITY DEFINER functions ------------------------------------------------------------------------

# The columns a provider sees of a request it may see (never the contact details unless selected).
_CARD = """requester_id uuid, id uuid, problem_title varchar, problem_description text, problem_category varchar,
    diagnostic_summary jsonb, devices jsonb, additional_images jsonb, preferred_provider_type preferred_provider_type,
    preferred_service_date date, property_type property_type, city varchar, district varchar,
    approx_latitude numeric, approx_longitude numeric, status request_status, quotes_count integer,
    expires_at timestamptz, created_at timestamptz, my_quote_id uuid, my_quote_status quote_status,
    selected boolean, contact_name varchar, contact_phone varchar, property_address text"""


def _card_select(selected: str) -> str:
    """The ``_CARD`` columns of a request ``r`` and the provider's quote ``q`` (aliased: ``r.id`` and ``q.id``
    must not both be called "id" in a union)."""
    return f"""r.requester_id AS c_requester_id, r.id AS c_id, r.problem_title, r.problem_description,
        r.problem_category, r.diagnostic_summary, r.devices, r.additional_images, r.preferred_provider_type,
        r.preferred_service_date, r.property_type, r.city, r.district, round(r.latitude, 2) AS c_lat,
        round(r.longitude, 2) AS c_lon, r.status AS c_status, r.quotes_count, r.expires_at,
        r.created_at AS c_created_at, q.id AS c_quote_id, q.status AS c_quote_status, {selected} AS c_selected,
        CASE WHEN {selected} THEN r.contact_name END AS c_contact_name,
        CASE WHEN {selected} THEN r.contact_phone END AS c_contact_phone,
        CASE WHEN {selected} THEN r.property_address END AS c_property_address"""


# The provider's view of the coverage, read once from its profile into variables.
_COVERAGE_DECLARE = """v provider_profiles; v_services text[]; v_cities text[]; v_whole text[]; v_areas text[];
          v_delta numeric;"""


def _coverage_load(level: str) -> str:
    """Loads the provider ``p_provider`` into ``v`` (the caller must act for it at ``level``: its user, or a
    member of its company at that level) and its coverage into the arrays the matching rule reads."""
    return f"""
          SELECT * INTO v FROM provider_profiles WHERE provider_profiles.id = p_provider;
          IF NOT FOUND OR NOT (v.user_id = {UID} OR coalesce(v.organization_id = ANY ({orgs(level)}), false)) THEN
            RAISE EXCEPTION 'provider_not_found' USING ERRCODE = 'insufficient_privilege';
          END IF;
          SELECT coalesce(array_agg(s), '{{}}') INTO v_services FROM jsonb_array_elements_text(v.services_offered) s;
          SELECT coalesce(array_agg(DISTINCT substr(k, 6)), '{{}}') INTO v_cities
            FROM unnest(v.search_keys) k WHERE k LIKE 'city:%';
          SELECT coalesce(array_agg(DISTINCT substr(k, 10)), '{{}}') INTO v_whole
            FROM unnest(v.search_keys) k WHERE k LIKE 'city-all:%';
          SELECT coalesce(array_agg(DISTINCT substr(k, 6)), '{{}}') INTO v_areas
            FROM unnest(v.search_keys) k WHERE k LIKE 'area:%';
          v_delta := coalesce(v.service_radius_km, 0) / 111.0;
"""


def _matches(r: str, *, location: bool) -> str:
    """The matching rule of a request ``r`` for the provider in the variables: open and not expired, of one of
    its services, not its own, of its type (or any), in a city/district it covers — or (``location``) within
    its radius of its centre."""
    common = f"""{r}.status IN ('open', 'quotes_received') AND {r}.expires_at > now()
            AND {r}.problem_category = ANY (v_services) AND {r}.requester_id <> v.user_id
            AND {r}.preferred_provider_type IN ('any', v.provider_type::text::preferred_provider_type)"""
    if not location:
        return f"""{common} AND {r}.city_key = ANY (v_cities)
            AND ({r}.city_key = ANY (v_whole) OR {r}.area_key = ANY (v_areas))"""
    return f"""{common} AND v.service_radius_km IS NOT NULL AND {r}.latitude IS NOT NULL
            AND {r}.latitude BETWEEN v.service_center_lat - v_delta AND v.service_center_lat + v_delta
            AND homeops_km({r}.latitude, {r}.longitude, v.service_center_lat, v.service_center_lon)
                <= v.service_radius_km"""


def _functions() -> None:
    secdef = "SECURITY DEFINER SET search_path = public, pg_temp"
    op.execute(
        f"""
        CREATE FUNCTION homeops_search_providers(
            p_query text, p_service text, p_city text, p_district text, p_min_rating numeric,
            p_provider_type provider_type, p_after_featured boolean, p_after_rating numeric, p_after_id uuid,
            p_limit integer)
        RETURNS SETOF provider_profiles LANGUAGE plpgsql STABLE {secdef} AS
        $$ DECLARE v_sql text := 'SELECT * FROM provider_profiles p WHERE p.is_verified';
        BEGIN
          IF {setting("uid")} = '' THEN RETURN; END IF;
          IF p_query IS NOT NULL THEN
            v_sql := v_sql || ' AND p.search_vector @@ websearch_to_tsquery(''english'', $1)';
          END IF;
          IF p_service IS NOT NULL THEN v_sql := v_sql || ' AND p.search_keys @> ARRAY[''svc:'' || $2]'; END IF;
          IF p_city IS NOT NULL THEN
            v_sql := v_sql || ' AND p.search_keys @> ARRAY[''city:'' || lower(btrim($3))]';
            IF p_district IS NOT NULL THEN
              v_sql := v_sql || ' AND p.search_keys && ARRAY[''city-all:'' || lower(btrim($3)),'
                             || ' ''area:'' || lower(btrim($3)) || ''|'' || lower(btrim($4))]';
            END IF;
          END IF;
          IF p_min_rating IS NOT NULL THEN v_sql := v_sql || ' AND p.average_rating >= $5'; END IF;
          IF p_provider_type IS NOT NULL THEN v_sql := v_sql || ' AND p.provider_type = $6'; END IF;
          IF p_after_id IS NOT NULL THEN
            v_sql := v_sql || ' AND (p.is_featured, p.average_rating, p.id) < ($7, $8, $9)';
          END IF;
          v_sql := v_sql || ' ORDER BY p.is_featured DESC, p.average_rating DESC, p.id DESC LIMIT $10';
          RETURN QUERY EXECUTE v_sql USING p_query, p_service, p_city, p_district, p_min_rating, p_provider_type,
            p_after_featured, p_after_rating, p_after_id, least(greatest(p_limit, 1), 201);
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION homeops_matching_requests(
            p_provider uuid, p_after_created timestamptz, p_after_id uuid, p_limit integer)
        RETURNS TABLE ({_CARD}) LANGUAGE plpgsql STABLE {secdef} AS
        $$ DECLARE {_COVERAGE_DECLARE}
        BEGIN
          {_coverage_load("read")}
          IF NOT v.is_verified THEN RETURN; END IF;
          RETURN QUERY
          SELECT * FROM (
            (SELECT {_card_select("false")}
               FROM service_requests r
               LEFT JOIN quotes q ON q.requester_id = r.requester_id AND q.request_id = r.id
                    AND q.provider_id = p_provider AND q.status NOT IN ('withdrawn', 'expired')
              WHERE {_matches("r", location=False)}
                AND (p_after_id IS NULL OR (r.created_at, r.id) < (p_after_created, p_after_id))
              ORDER BY r.created_at DESC, r.id DESC LIMIT p_limit)
            UNION
            (SELECT {_card_select("false")}
               FROM service_requests r
               LEFT JOIN quotes q ON q.requester_id = r.requester_id AND q.request_id = r.id
                    AND q.provider_id = p_provider AND q.status NOT IN ('withdrawn', 'expired')
              WHERE v.service_radius_km IS NOT NULL AND {_matches("r", location=True)}
                AND (p_after_id IS NULL OR (r.created_at, r.id) < (p_after_created, p_after_id))
              ORDER BY r.created_at DESC, r.id DESC LIMIT p_limit)
          ) m ORDER BY m.c_created_at DESC, m.c_id DESC LIMIT p_limit;
        END $$
        """
    )
    # One request as a provider sees it: when it matches (open), when the provider quoted on it, or when it was
    # selected (then with the contact details). Counts the provider's first view.
    selected = "(r.selected_provider_id = p_provider)"
    op.execute(
        f"""
        CREATE FUNCTION homeops_provider_request(p_request uuid, p_provider uuid, p_count_view boolean)
        RETURNS TABLE ({_CARD}) LANGUAGE plpgsql {secdef} AS
        $$ DECLARE {_COVERAGE_DECLARE} rq service_requests; v_quoted boolean; v_inserted integer;
        BEGIN
          {_coverage_load("read")}
          SELECT * INTO rq FROM service_requests WHERE service_requests.id = p_request;
          IF NOT FOUND THEN RETURN; END IF;
          v_quoted := EXISTS (SELECT 1 FROM quotes q WHERE q.requester_id = rq.requester_id
                                AND q.request_id = rq.id AND q.provider_id = p_provider);
          IF NOT (v_quoted OR coalesce(rq.selected_provider_id = p_provider, false)
                  OR (v.is_verified AND (({_matches("rq", location=False)})
                                         OR ({_matches("rq", location=True)})))) THEN
            RETURN;
          END IF;
          IF p_count_view AND v.is_verified AND rq.requester_id <> v.user_id THEN
            INSERT INTO request_views (requester_id, request_id, provider_id)
                 VALUES (rq.requester_id, rq.id, p_provider) ON CONFLICT DO NOTHING;
            GET DIAGNOSTICS v_inserted = ROW_COUNT;
            IF v_inserted > 0 THEN
              UPDATE service_requests SET views_count = views_count + 1
               WHERE service_requests.requester_id = rq.requester_id AND service_requests.id = rq.id;
            END IF;
          END IF;
          RETURN QUERY
          SELECT {_card_select(f"coalesce({selected}, false)")}
            FROM service_requests r
            LEFT JOIN quotes q ON q.requester_id = r.requester_id AND q.request_id = r.id
                 AND q.provider_id = p_provider AND q.status NOT IN ('withdrawn', 'expired')
           WHERE r.requester_id = rq.requester_id AND r.id = rq.id;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION homeops_refresh_provider_stats(p_provider uuid) RETURNS void
        LANGUAGE plpgsql {secdef} AS
        $$ DECLARE v_ratings integer; v_avg numeric; v_done integer; v_closed integer; v_response numeric;
        BEGIN
          IF {setting("uid")} = '' AND current_user = '{APP}' THEN
            RAISE EXCEPTION 'no identity' USING ERRCODE = 'insufficient_privilege';
          END IF;
          -- The row lock first: concurrent recomputations for one provider run one after the other, each
          -- reading (in a new snapshot) what the previous one committed.
          PERFORM 1 FROM provider_profiles WHERE id = p_provider FOR UPDATE;
          IF NOT FOUND THEN RETURN; END IF;
          SELECT count(*), coalesce(round(avg(overall_rating), 2), 0) INTO v_ratings, v_avg
            FROM ratings WHERE provider_id = p_provider;
          SELECT count(*) FILTER (WHERE status = 'completed'),
                 count(*) FILTER (WHERE status IN ('completed', 'cancelled'))
            INTO v_done, v_closed FROM projects WHERE provider_id = p_provider;
          SELECT round(avg(response_hours), 2) INTO v_response FROM quotes WHERE provider_id = p_provider;
          UPDATE provider_profiles
             SET total_ratings = v_ratings, average_rating = v_avg, total_projects = v_done,
                 projects_closed = v_closed,
                 completion_rate = CASE WHEN v_closed > 0 THEN round(100.0 * v_done / v_closed, 2) ELSE 0 END,
                 response_time_hours = v_response
           WHERE id = p_provider;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION homeops_submit_quote(
            p_request uuid, p_provider uuid, p_cost numeric, p_breakdown jsonb, p_duration integer,
            p_assessment text, p_solution text, p_materials boolean, p_warranty integer, p_terms text,
            p_validity integer, p_attachments jsonb)
        RETURNS uuid LANGUAGE plpgsql {secdef} AS
        $$ DECLARE {_COVERAGE_DECLARE} rq service_requests; v_requester uuid; v_id uuid;
        BEGIN
          {_coverage_load("write")}
          IF NOT v.is_verified THEN
            RAISE EXCEPTION 'provider_not_verified' USING ERRCODE = 'insufficient_privilege';
          END IF;
          -- The request, locked by its full key (a cluster locks on one shard): quoting, accepting and
          -- cancelling one request happen one after the other.
          SELECT x.requester_id INTO v_requester FROM service_requests x WHERE x.id = p_request;
          SELECT * INTO rq FROM service_requests
           WHERE service_requests.requester_id = v_requester AND service_requests.id = p_request FOR UPDATE;
          IF NOT FOUND OR rq.requester_id = v.user_id THEN
            RAISE EXCEPTION 'service_request_not_found' USING ERRCODE = 'no_data_found';
          END IF;
          IF rq.status NOT IN ('open', 'quotes_received') OR rq.expires_at <= now() THEN
            RAISE EXCEPTION 'service_request_closed' USING ERRCODE = 'object_not_in_prerequisite_state';
          END IF;
          IF NOT (({_matches("rq", location=False)}) OR ({_matches("rq", location=True)})) THEN
            RAISE EXCEPTION 'service_request_not_found' USING ERRCODE = 'no_data_found';
          END IF;
          INSERT INTO quotes (requester_id, request_id, provider_id, provider_user_id, provider_org_id,
                              estimated_cost, cost_breakdown, estimated_duration_days, technical_assessment,
                              proposed_solution, materials_included, warranty_period_months, terms_and_conditions,
                              validity_period_days, attachments, response_hours, expires_at)
               VALUES (rq.requester_id, rq.id, v.id, v.user_id, v.organization_id, p_cost, p_breakdown, p_duration,
                       p_assessment, p_solution, coalesce(p_materials, true), p_warranty, p_terms, p_validity,
                       coalesce(p_attachments, '[]'::jsonb),
                       round((extract(epoch FROM now() - rq.created_at) / 3600)::numeric, 2),
                       now() + make_interval(days => p_validity))
            RETURNING quotes.id INTO v_id;
          UPDATE service_requests
             SET quotes_count = quotes_count + 1,
                 status = CASE WHEN status = 'open' THEN 'quotes_received'::request_status ELSE status END
           WHERE service_requests.requester_id = rq.requester_id AND service_requests.id = rq.id;
          PERFORM homeops_refresh_provider_stats(v.id);
          RETURN v_id;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION homeops_rating_vote(p_requester uuid, p_rating uuid, p_helpful boolean) RETURNS integer
        LANGUAGE plpgsql {secdef} AS
        $$ DECLARE v_count integer;
        BEGIN
          IF {setting("uid")} = '' THEN
            RAISE EXCEPTION 'no identity' USING ERRCODE = 'insufficient_privilege';
          END IF;
          PERFORM 1 FROM ratings WHERE requester_id = p_requester AND id = p_rating FOR UPDATE;
          IF NOT FOUND THEN
            RAISE EXCEPTION 'rating_not_found' USING ERRCODE = 'no_data_found';
          END IF;
          IF p_helpful THEN
            INSERT INTO rating_votes (requester_id, rating_id, user_id) VALUES (p_requester, p_rating, {UID})
            ON CONFLICT DO NOTHING;
          ELSE
            DELETE FROM rating_votes WHERE requester_id = p_requester AND rating_id = p_rating AND user_id = {UID};
          END IF;
          SELECT count(*) INTO v_count FROM rating_votes WHERE requester_id = p_requester AND rating_id = p_rating;
          UPDATE ratings SET helpful_count = v_count WHERE requester_id = p_requester AND id = p_rating;
          RETURN v_count;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION homeops_become_provider() RETURNS user_role LANGUAGE plpgsql {secdef} AS
        $$ DECLARE v_role user_role;
        BEGIN
          UPDATE users SET role = 'provider' WHERE id = {UID} AND role = 'homeowner' AND deleted_at IS NULL;
          SELECT role INTO v_role FROM users WHERE id = {UID};
          RETURN v_role;
        END $$
        """
    )
    ddl.function_grant(
        "homeops_search_providers(text, text, text, text, numeric, provider_type, boolean, numeric, uuid, integer)"
    )
    ddl.function_grant("homeops_matching_requests(uuid, timestamptz, uuid, integer)")
    ddl.function_grant("homeops_provider_request(uuid, uuid, boolean)")
    ddl.function_grant("homeops_refresh_provider_stats(uuid)")
    ddl.function_grant(
        "homeops_submit_quote(uuid, uuid, numeric, jsonb, integer, text, text, boolean, integer, text, integer, jsonb)"
    )
    ddl.function_grant("homeops_rating_vote(uuid, uuid, boolean)")
    ddl.function_grant("homeops_become_provider()")


_FUNCTIONS = (
    "homeops_search_providers(text, text, text, text, numeric, provider_type, boolean, numeric, uuid, integer)",
    "homeops_matching_requests(uuid, timestamptz, uuid, integer)",
    "homeops_provider_request(uuid, uuid, boolean)",
    "homeops_submit_quote(uuid, uuid, numeric, jsonb, integer, text, text, boolean, integer, text, integer, jsonb)",
    "homeops_refresh_provider_stats(uuid)",
    "homeops_rating_vote(uuid, uuid, boolean)",
    "homeops_become_provider()",
    "homeops_service_requests_guard()",
    "homeops_quotes_guard()",
    "homeops_projects_guard()",
    "homeops_ratings_guard()",
    "homeops_chat_messages_guard()",
    "homeops_provider_profiles_guard()",
    "homeops_provider_keys(jsonb, jsonb)",
    "homeops_breakdown_total(jsonb)",
    "homeops_km(numeric, numeric, numeric, numeric)",
)


def _grants_and_policies() -> None:
    # The directory: categories are shared reference data (SELECT true, admins write, as the catalog).
    ddl.grant("service_categories", "SELECT, INSERT, UPDATE", ddl.API_ROLES)
    ddl.enable_rls("service_categories")
    ddl.policy("service_categories", "service_categories_select", "SELECT", using="true")
    ddl.policy("service_categories", "service_categories_insert", "INSERT", check=IS_ADMIN)
    ddl.policy("service_categories", "service_categories_update", "UPDATE", using=IS_ADMIN, check=IS_ADMIN)

    # Provider profiles: verified ones are public; one's own (or one's company's) always; admins all. The
    # aggregates have no column grant (homeops_refresh_provider_stats writes them).
    editable = (
        "provider_type, business_name, description, services_offered, certifications, coverage_areas, "
        "service_center_lat, service_center_lon, service_radius_km, license_number, years_of_experience, "
        "contact_phone, website, organization_id"
    )
    ddl.grant("provider_profiles", "SELECT", ddl.API_ROLES)
    # (The ORM sends NULL for the nullable columns it was not given, and a Citus coordinator names every column
    # with a default in the statement it sends to the placements: all granted, and held to their defaults by
    # the policy — the aggregates and the verification stay the database's and the admins'.)
    ddl.grant(
        "provider_profiles",
        f"INSERT (id, user_id, {editable}, response_time_hours, verified_at, verified_by, average_rating, "
        "total_ratings, total_projects, projects_closed, completion_rate, is_verified, is_featured, created_at, "
        "updated_at)",
        ddl.API_ROLES,
    )
    ddl.grant(
        "provider_profiles",
        f"UPDATE ({editable}, is_verified, verified_at, verified_by, is_featured)",
        ddl.API_ROLES,
    )
    ddl.enable_rls("provider_profiles")
    own_profile = f"user_id = {UID} OR organization_id = ANY ({orgs('read')})"
    ddl.policy(
        "provider_profiles",
        "provider_profiles_select",
        "SELECT",
        using=f"is_verified OR {own_profile} OR {IS_ADMIN}",
    )
    # (``NULL = ANY ('{}')`` is false, not null: the personal profile is its own branch.)
    company_ok = f"(organization_id IS NULL OR organization_id = ANY ({orgs('admin')}))"
    ddl.policy(
        "provider_profiles",
        "provider_profiles_insert",
        "INSERT",
        check=(
            f"user_id = {UID} AND {company_ok} AND NOT is_verified AND NOT is_featured AND verified_at IS NULL "
            "AND verified_by IS NULL AND response_time_hours IS NULL AND total_ratings = 0 AND total_projects = 0 "
            "AND projects_closed = 0 AND average_rating = 0 AND completion_rate = 0"
        ),
    )
    ddl.policy(
        "provider_profiles",
        "provider_profiles_update",
        "UPDATE",
        using=f"user_id = {UID} OR organization_id = ANY ({orgs('admin')}) OR {IS_ADMIN}",
        check=f"((user_id = {UID} OR organization_id = ANY ({orgs('admin')})) AND {company_ok}) OR {IS_ADMIN}",
    )

    ddl.grant("portfolio_items", "SELECT, INSERT, UPDATE, DELETE", ddl.API_ROLES)
    ddl.enable_rls("portfolio_items")
    ddl.policy(
        "portfolio_items",
        "portfolio_items_select",
        "SELECT",
        using=f"provider_public OR {PROVIDER_READ} OR {IS_ADMIN}",
    )
    owner_or_company_admin = f"(provider_user_id = {UID} OR provider_org_id = ANY ({orgs('admin')}))"
    ddl.policy("portfolio_items", "portfolio_items_insert", "INSERT", check=owner_or_company_admin)
    ddl.policy(
        "portfolio_items",
        "portfolio_items_update",
        "UPDATE",
        using=f"{owner_or_company_admin} OR {IS_ADMIN}",
        check=f"{owner_or_company_admin} OR {IS_ADMIN}",
    )
    ddl.policy("portfolio_items", "portfolio_items_delete", "DELETE", using=owner_or_company_admin)

    # Diagnostics: the user's own (immutable once made); the image retention job deletes old images.
    ddl.grant("diagnostics", "SELECT, INSERT", ddl.API_ROLES)
    ddl.enable_rls("diagnostics")
    ddl.policy("diagnostics", "diagnostics_select", "SELECT", using=f"user_id = {UID} OR {IS_ADMIN}")
    ddl.policy("diagnostics", "diagnostics_insert", "INSERT", check=f"user_id = {UID}")
    # (``worker_access`` takes one column per UPDATE: the second column is granted beside it.)
    ddl.worker_access("diagnostics", "SELECT, UPDATE (image_key)")
    ddl.grant("diagnostics", "UPDATE (image_deleted_at)", ddl.WORKER_DB_ROLE)

    # Requests: the requester's; the selected provider reads it (with the contact details). Providers see open
    # requests only through homeops_matching_requests / homeops_provider_request. Never deleted.
    request_editable = (
        "problem_title, problem_description, problem_category, preferred_service_date, preferred_provider_type, "
        "property_type, property_address, contact_name, contact_phone, additional_images, status, "
        "selected_quote_id, selected_provider_id, selected_provider_user_id, selected_provider_org_id, "
        "selected_at, cancelled_at, cancellation_reason"
    )
    ddl.grant("service_requests", "SELECT, INSERT", ddl.API_ROLES)
    ddl.grant("service_requests", f"UPDATE ({request_editable})", ddl.API_ROLES)
    ddl.enable_rls("service_requests")
    selected = f"(selected_provider_user_id = {UID} OR selected_provider_org_id = ANY ({orgs('read')}))"
    ddl.policy(
        "service_requests",
        "service_requests_select",
        "SELECT",
        using=f"{REQUESTER} OR {selected} OR {IS_ADMIN}",
    )
    ddl.policy(
        "service_requests",
        "service_requests_insert",
        "INSERT",
        check=f"{REQUESTER} AND status = 'open' AND quotes_count = 0 AND views_count = 0",
    )
    ddl.policy("service_requests", "service_requests_update", "UPDATE", using=REQUESTER, check=REQUESTER)
    ddl.worker_access("service_requests", "SELECT, UPDATE (status)")

    # Quotes: the requester reads all of a request's, a provider its own; inserted only by homeops_submit_quote.
    ddl.grant("quotes", "SELECT", ddl.API_ROLES)
    ddl.grant(
        "quotes", "UPDATE (status, rejection_reason, accepted_at, rejected_at, withdrawn_at)", ddl.API_ROLES
    )
    ddl.enable_rls("quotes")
    ddl.policy("quotes", "quotes_select", "SELECT", using=f"{REQUESTER} OR {PROVIDER_READ} OR {IS_ADMIN}")
    ddl.policy(
        "quotes",
        "quotes_update",
        "UPDATE",
        using=f"{REQUESTER} OR {PROVIDER_WRITE}",
        check=f"{REQUESTER} OR {PROVIDER_WRITE}",
    )
    ddl.worker_access("quotes", "SELECT, UPDATE (status)")

    ddl.enable_rls("request_views")  # written only by homeops_provider_request; no API grant

    # Projects: both sides read and change them (the trigger says who may move which status); admins read
    # and resolve disputes.
    ddl.grant("projects", "SELECT, INSERT, UPDATE", ddl.API_ROLES)
    ddl.enable_rls("projects")
    parties_read = f"{REQUESTER} OR {PROVIDER_READ}"
    ddl.policy("projects", "projects_select", "SELECT", using=f"{parties_read} OR {IS_ADMIN}")
    ddl.policy("projects", "projects_insert", "INSERT", check=f"{REQUESTER} AND status = 'scheduled'")
    ddl.policy(
        "projects",
        "projects_update",
        "UPDATE",
        using=f"{REQUESTER} OR {PROVIDER_WRITE} OR {IS_ADMIN}",
        check=f"{REQUESTER} OR {PROVIDER_WRITE} OR {IS_ADMIN}",
    )
    ddl.worker_access("projects", "SELECT")

    # Chat: the two sides (admins read, for disputes); a sender writes as themselves, on their own side.
    ddl.grant("chat_messages", "SELECT, INSERT, DELETE", ddl.API_ROLES)
    ddl.grant(
        "chat_messages", "UPDATE (is_read, read_at, deleted_by_requester, deleted_by_provider)", ddl.API_ROLES
    )
    ddl.enable_rls("chat_messages")
    ddl.policy("chat_messages", "chat_messages_select", "SELECT", using=f"{parties_read} OR {IS_ADMIN}")
    ddl.policy(
        "chat_messages",
        "chat_messages_insert",
        "INSERT",
        check=(
            f"sender_id = {UID} AND NOT deleted_by_requester AND NOT deleted_by_provider AND ((sender_side = 'requester' AND {REQUESTER}) "
            f"OR (sender_side = 'provider' AND {PROVIDER_WRITE}) OR (sender_side = 'system' AND {IS_ADMIN}))"
        ),
    )
    ddl.policy("chat_messages", "chat_messages_update", "UPDATE", using=parties_read, check=parties_read)
    ddl.policy(
        "chat_messages",
        "chat_messages_delete",
        "DELETE",
        using=f"deleted_by_requester AND deleted_by_provider AND ({parties_read})",
    )
    ddl.worker_access("chat_messages", "SELECT, DELETE")

    # Ratings: public reviews (SELECT true keeps the full-text index usable); written by the requester, answered
    # by the provider, featured by admins (the trigger says which column whom).
    ddl.grant("ratings", "SELECT, INSERT", ddl.API_ROLES)
    ddl.grant(
        "ratings",
        "UPDATE (overall_rating, quality_rating, timeliness_rating, professionalism_rating, value_rating, "
        "communication_rating, review_title, review_text, would_recommend, response_from_provider, response_at, "
        "response_by, is_featured)",
        ddl.API_ROLES,
    )
    ddl.enable_rls("ratings")
    ddl.policy("ratings", "ratings_select", "SELECT", using="true")
    ddl.policy(
        "ratings",
        "ratings_insert",
        "INSERT",
        check=f"{REQUESTER} AND helpful_count = 0 AND NOT is_featured AND response_from_provider IS NULL",
    )
    ddl.policy(
        "ratings",
        "ratings_update",
        "UPDATE",
        using=f"{REQUESTER} OR {PROVIDER_WRITE} OR {IS_ADMIN}",
        check=f"{REQUESTER} OR {PROVIDER_WRITE} OR {IS_ADMIN}",
    )

    ddl.grant("rating_votes", "SELECT", ddl.API_ROLES)
    ddl.enable_rls("rating_votes")
    ddl.policy("rating_votes", "rating_votes_select", "SELECT", using=f"user_id = {UID}")


def _seed() -> None:
    table = sa.table(
        "service_categories",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("description", sa.Text),
        sa.column("display_order", sa.Integer),
    )
    op.bulk_insert(
        table,
        [
            {"code": c, "name": n, "description": d, "display_order": i}
            for i, (c, n, d) in enumerate(SERVICE_CATEGORIES)
        ],
    )
    ddl.retention_settings(SETTINGS)


def downgrade() -> None:
    ddl.citus_session()
    op.execute(
        "DELETE FROM system_settings WHERE setting_key IN ("
        + ", ".join(f"'{k}'" for k, _, _ in SETTINGS)
        + ")"
    )
    # The functions over the tables' row types first, then the tables (their triggers), then the rest.
    for signature in _FUNCTIONS[:7]:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.execute("ALTER TABLE service_requests DROP CONSTRAINT IF EXISTS fk_service_requests_selected_quote")
    for table in (
        "rating_votes",
        "ratings",
        "chat_messages",
        "projects",
        "request_views",
        "quotes",
        "service_requests",
        "diagnostics",
        "portfolio_items",
        "provider_profiles",
        "service_categories",
    ):
        op.drop_table(table)
    for signature in _FUNCTIONS[7:]:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    for name in reversed(_ENUMS):
        op.execute(f"DROP TYPE IF EXISTS {name}")

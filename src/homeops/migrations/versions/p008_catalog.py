"""catalog: categories (with the seeded taxonomy), ecosystems, manufacturers, models, common problems and
maintenance templates — shared reference data, reference tables on a cluster

**Grants, not row policies, protect shared data** (decided in the old migration 0007, measured there): these
tables hold no household data; every signed-in route that reads them requires a login in the API, and the
SELECT policies say ``true``. A policy that only said "signed in" (``uid IS NOT NULL``) made PostgreSQL
evaluate it before every non-leakproof condition — array ``&&``/``@>``, ``lower()``, full-text ``@@`` — so no
index could serve them and each lookup scanned the table (100k users, 299k manuals: de-dup level 3 p50
122 ms → 0.6 ms with ``USING (true)``; the device auto-link INSERT…SELECT 175 ms → 1.7 ms). Writes stay
with platform admins (``homeops.role = 'admin'``, set by ``homeops_begin`` from the stored role).

On a Citus cluster every table here is a **reference table** (replicated to every node): devices, schedules
and problems on any shard join them and keep foreign keys to them locally.

Revision ID: p008
Revises: p007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl
from homeops.core.ddl import IS_ADMIN

revision: str = "p008"
down_revision: str | None = "p007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "device_categories",
    "ecosystems",
    "manufacturers",
    "device_models",
    "common_problems",
    "model_maintenance_templates",
)


def _jsonb(name: str, default: str = "'{}'::jsonb") -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name, postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text(default), nullable=False
    )


def _timestamps(*, deleted: bool = False) -> list[sa.Column]:  # type: ignore[type-arg]
    cols = [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]
    if deleted:
        cols.append(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    return cols


def upgrade() -> None:
    ddl.citus_session()
    op.create_table(
        "device_categories",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("parent_code", sa.String(length=64), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("domain", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["device_categories.code"],
            name=op.f("fk_device_categories_parent_code_device_categories"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_device_categories")),
    )
    ddl.reference_table("device_categories")
    op.create_index("ix_device_categories_parent_code", "device_categories", ["parent_code"], unique=False)

    op.create_table(
        "ecosystems",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("vendor", sa.String(length=200), nullable=True),
        sa.Column("protocol", sa.String(length=50), nullable=True),
        sa.Column("auth_type", sa.String(length=50), nullable=True),
        sa.Column("website", sa.String(length=500), nullable=True),
        _jsonb("metadata"),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ecosystems")),
    )
    ddl.reference_table("ecosystems")
    op.create_index("uq_ecosystems_name_lower", "ecosystems", [sa.literal_column("lower(name)")], unique=True)

    op.create_table(
        "manufacturers",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("website", sa.String(length=500), nullable=True),
        sa.Column("support_phone", sa.String(length=50), nullable=True),
        sa.Column("support_email", sa.String(length=255), nullable=True),
        sa.Column("headquarters_location", sa.String(length=500), nullable=True),
        _jsonb("metadata"),
        *_timestamps(deleted=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manufacturers")),
    )
    ddl.reference_table("manufacturers")
    op.create_index(
        "ix_manufacturers_live",
        "manufacturers",
        ["deleted_at"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "uq_manufacturers_name_lower", "manufacturers", [sa.literal_column("lower(name)")], unique=True
    )

    op.create_table(
        "device_models",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("manufacturer_id", sa.UUID(), nullable=False),
        sa.Column("model_number", sa.String(length=255), nullable=False),
        sa.Column("product_name", sa.String(length=500), nullable=True),
        sa.Column("category_code", sa.String(length=64), nullable=False),
        _jsonb("electrical_specs"),
        _jsonb("pressure_specs"),
        _jsonb("temperature_specs"),
        _jsonb("flow_specs"),
        _jsonb("physical_specs"),
        _jsonb("capabilities"),
        sa.Column("year_introduced", sa.Integer(), nullable=True),
        sa.Column("year_discontinued", sa.Integer(), nullable=True),
        sa.Column("replacement_model_id", sa.UUID(), nullable=True),
        sa.Column("maintenance_notes", sa.Text(), nullable=True),
        sa.Column("data_source", sa.String(length=500), nullable=True),
        sa.Column("confidence_score", sa.Float(), server_default=sa.text("1.0"), nullable=False),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('simple', coalesce(product_name, '') || ' ' || model_number)", persisted=True
            ),
            nullable=False,
        ),
        *_timestamps(deleted=True),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["device_categories.code"],
            name=op.f("fk_device_models_category_code_device_categories"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["manufacturer_id"],
            ["manufacturers.id"],
            name=op.f("fk_device_models_manufacturer_id_manufacturers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["replacement_model_id"],
            ["device_models.id"],
            name=op.f("fk_device_models_replacement_model_id_device_models"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_models")),
    )
    ddl.reference_table("device_models")
    op.create_index("ix_device_models_category_code", "device_models", ["category_code"], unique=False)
    op.create_index(
        "ix_device_models_electrical_specs",
        "device_models",
        ["electrical_specs"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_device_models_live",
        "device_models",
        ["deleted_at"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "ix_device_models_number_upper",
        "device_models",
        [sa.literal_column("upper(model_number)")],
        unique=False,
    )
    op.create_index(
        "ix_device_models_physical_specs",
        "device_models",
        ["physical_specs"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_device_models_search", "device_models", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.create_index(
        "uq_device_models_manufacturer_number",
        "device_models",
        ["manufacturer_id", sa.literal_column("upper(model_number)")],
        unique=True,
    )

    op.create_table(
        "common_problems",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("model_id", sa.UUID(), nullable=False),
        sa.Column("problem_description", sa.Text(), nullable=False),
        _jsonb("symptoms", "'[]'::jsonb"),
        _jsonb("error_codes", "'[]'::jsonb"),
        sa.Column("root_cause", sa.Text(), nullable=True),
        sa.Column("solution", sa.Text(), nullable=True),
        sa.Column(
            "severity", sa.Enum("critical", "high", "medium", "low", name="problem_severity"), nullable=False
        ),
        sa.Column(
            "frequency",
            sa.Enum("very_common", "common", "occasional", "rare", name="problem_frequency"),
            nullable=False,
        ),
        sa.Column("typical_age_range", sa.String(length=50), nullable=True),
        _jsonb("related_parts", "'[]'::jsonb"),
        sa.Column("estimated_repair_cost", sa.String(length=50), nullable=True),
        _jsonb("data_sources", "'[]'::jsonb"),
        *_timestamps(deleted=True),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["device_models.id"],
            name=op.f("fk_common_problems_model_id_device_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_common_problems")),
    )
    ddl.reference_table("common_problems")
    op.create_index(
        "ix_common_problems_error_codes",
        "common_problems",
        ["error_codes"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index("ix_common_problems_model_id", "common_problems", ["model_id"], unique=False)
    op.create_index("ix_common_problems_severity", "common_problems", ["severity"], unique=False)
    op.create_index(
        "ix_common_problems_symptoms", "common_problems", ["symptoms"], unique=False, postgresql_using="gin"
    )

    op.create_table(
        "model_maintenance_templates",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("model_id", sa.UUID(), nullable=False),
        sa.Column("task_name", sa.String(length=200), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        # Also the type of maintenance_schedules.interval_unit (maintenance migration).
        sa.Column(
            "interval_unit", sa.Enum("days", "weeks", "months", "years", name="interval_unit"), nullable=False
        ),
        _jsonb("parts", "'[]'::jsonb"),
        sa.Column("estimated_cost", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["device_models.id"],
            name=op.f("fk_model_maintenance_templates_model_id_device_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_maintenance_templates")),
    )
    ddl.reference_table("model_maintenance_templates")
    op.create_index(
        "ix_model_maintenance_templates_model_id", "model_maintenance_templates", ["model_id"], unique=False
    )

    for table in (
        "ecosystems",
        "manufacturers",
        "device_models",
        "common_problems",
        "model_maintenance_templates",
    ):
        ddl.updated_at_trigger(table)
    _grants_and_policies()
    _seed_taxonomy()


def _grants_and_policies() -> None:
    # Reference data every caller reads (the API requires a login); platform admins write. No background job
    # reads the catalog, so the worker role has no grant here.
    for table in TABLES:
        ddl.grant(table, "SELECT, INSERT, UPDATE, DELETE")
        ddl.enable_rls(table)
        ddl.policy(table, f"{table}_select", "SELECT", using="true", roles=ddl.APP_DB_ROLE)
        ddl.policy(table, f"{table}_insert", "INSERT", check=IS_ADMIN, roles=ddl.APP_DB_ROLE)
        ddl.policy(table, f"{table}_update", "UPDATE", using=IS_ADMIN, check=IS_ADMIN, roles=ddl.APP_DB_ROLE)
        ddl.policy(table, f"{table}_delete", "DELETE", using=IS_ADMIN, roles=ddl.APP_DB_ROLE)


# code, parent, label, domain — covers 000 (household appliances, HVAC), 001 (fire safety) and 004 (smart home).
_TAXONOMY = [
    ("appliance", None, "Household appliance", "appliance"),
    ("refrigerator", "appliance", "Refrigerator", "appliance"),
    ("freezer", "appliance", "Freezer", "appliance"),
    ("dishwasher", "appliance", "Dishwasher", "appliance"),
    ("washing_machine", "appliance", "Washing machine", "appliance"),
    ("dryer", "appliance", "Clothes dryer", "appliance"),
    ("oven", "appliance", "Oven", "appliance"),
    ("range", "appliance", "Range / cooker", "appliance"),
    ("cooktop", "appliance", "Cooktop / hob", "appliance"),
    ("microwave", "appliance", "Microwave", "appliance"),
    ("range_hood", "appliance", "Range hood", "appliance"),
    ("garbage_disposal", "appliance", "Garbage disposal", "appliance"),
    ("water_heater", "appliance", "Water heater", "appliance"),
    ("water_softener", "appliance", "Water softener", "appliance"),
    ("sump_pump", "appliance", "Sump pump", "appliance"),
    ("garage_door_opener", "appliance", "Garage door opener", "appliance"),
    ("hvac", None, "Heating, ventilation and air conditioning", "hvac"),
    ("furnace", "hvac", "Furnace", "hvac"),
    ("boiler", "hvac", "Boiler", "hvac"),
    ("air_conditioner", "hvac", "Air conditioner", "hvac"),
    ("heat_pump", "hvac", "Heat pump", "hvac"),
    ("mini_split", "hvac", "Ductless mini-split", "hvac"),
    ("air_handler", "hvac", "Air handler", "hvac"),
    ("humidifier", "hvac", "Humidifier", "hvac"),
    ("dehumidifier", "hvac", "Dehumidifier", "hvac"),
    ("air_purifier", "hvac", "Air purifier", "hvac"),
    ("ventilation_fan", "hvac", "Ventilation fan / ERV / HRV", "hvac"),
    ("fire_safety", None, "Fire safety equipment", "fire_safety"),
    ("fire_pump", "fire_safety", "Fire pump", "fire_safety"),
    ("backflow_preventer", "fire_safety", "Backflow preventer", "fire_safety"),
    ("sprinkler_head", "fire_safety", "Sprinkler head", "fire_safety"),
    ("fire_extinguisher", "fire_safety", "Fire extinguisher", "fire_safety"),
    ("fire_alarm_panel", "fire_safety", "Fire alarm panel", "fire_safety"),
    ("smoke_detector", "fire_safety", "Smoke detector", "fire_safety"),
    ("co_detector", "fire_safety", "Carbon monoxide detector", "fire_safety"),
    ("standpipe", "fire_safety", "Standpipe", "fire_safety"),
    ("smart_home", None, "Smart-home device", "smart_home"),
    ("thermostat", "smart_home", "Smart thermostat", "smart_home"),
    ("smart_plug", "smart_home", "Smart plug", "smart_home"),
    ("smart_light", "smart_home", "Smart light", "smart_home"),
    ("smart_lock", "smart_home", "Smart lock", "smart_home"),
    ("camera", "smart_home", "Security camera", "smart_home"),
    ("doorbell", "smart_home", "Video doorbell", "smart_home"),
    ("sensor", "smart_home", "Sensor (motion, contact, leak, temperature)", "smart_home"),
    ("hub", "smart_home", "Hub / bridge", "smart_home"),
    ("speaker", "smart_home", "Smart speaker / display", "smart_home"),
    ("energy_meter", "smart_home", "Energy meter", "smart_home"),
    ("other", None, "Other", "other"),
]

_ECOSYSTEMS = [
    ("Matter", "Connectivity Standards Alliance", "matter", "local"),
    ("Zigbee", "Connectivity Standards Alliance", "zigbee", "local"),
    ("Z-Wave", "Z-Wave Alliance", "z-wave", "local"),
    ("Google Home", "Google", "cloud", "oauth2"),
    ("Amazon Alexa", "Amazon", "cloud", "oauth2"),
    ("Apple Home", "Apple", "matter", "local"),
    ("SmartThings", "Samsung", "cloud", "oauth2"),
    ("Home Assistant", "Open Home Foundation", "local", "api_key"),
]


def _seed_taxonomy() -> None:
    categories = sa.table(
        "device_categories",
        sa.column("code"),
        sa.column("parent_code"),
        sa.column("label"),
        sa.column("domain"),
    )
    op.bulk_insert(
        categories,
        [{"code": c, "parent_code": p, "label": label, "domain": d} for c, p, label, d in _TAXONOMY],
    )
    ecosystems = sa.table(
        "ecosystems", sa.column("name"), sa.column("vendor"), sa.column("protocol"), sa.column("auth_type")
    )
    op.bulk_insert(
        ecosystems, [{"name": n, "vendor": v, "protocol": p, "auth_type": a} for n, v, p, a in _ECOSYSTEMS]
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    for enum_name in ("problem_severity", "problem_frequency", "interval_unit"):
        op.execute(f"DROP TYPE IF EXISTS {enum_name}")

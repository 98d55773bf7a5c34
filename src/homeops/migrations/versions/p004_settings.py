"""settings: typed system settings (a reference table), seeded with the seeds' examples and the retention windows

Revision ID: p004
Revises: p003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from homeops.core import ddl
from homeops.core.ddl import IS_ADMIN

revision: str = "p004"
down_revision: str | None = "p003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SETTINGS = [
    # key, type, value, category, public, rules, description  (002 "Example Settings")
    ("ai_model_version", "string", "offline-v1", "ai", False, {"max_length": 50}, "Current AI model version"),
    (
        "max_image_upload_size_mb",
        "number",
        "10",
        "uploads",
        True,
        {"min": 1, "max": 100, "integer": True},
        "Maximum image size",
    ),
    (
        "quote_validity_days",
        "number",
        "14",
        "marketplace",
        True,
        {"min": 1, "max": 180, "integer": True},
        "Default quote validity period",
    ),
    (
        "request_expiry_days",
        "number",
        "30",
        "marketplace",
        True,
        {"min": 1, "max": 365, "integer": True},
        "Service request auto-expiry",
    ),
    ("maintenance_mode", "boolean", "false", "system", True, None, "System maintenance flag"),
    (
        "featured_providers_count",
        "number",
        "10",
        "marketplace",
        True,
        {"min": 0, "max": 100, "integer": True},
        "How many featured providers to show",
    ),
    (
        "notification_email_enabled",
        "boolean",
        "true",
        "notifications",
        False,
        None,
        "Email notifications on/off",
    ),
    (
        "min_rating_for_featured",
        "number",
        "4.0",
        "marketplace",
        True,
        {"min": 0, "max": 5},
        "Minimum rating to be featured",
    ),
]

_RETENTION_RULES = {"min": 1, "max": 36500, "integer": True}
_RETENTION = [
    (
        "retention.troubleshooting_days",
        "365",
        "Resolved troubleshooting sessions are deleted after (000: 1 year)",
    ),
    ("retention.closed_tickets_days", "1095", "Closed service tickets are deleted after (000: 3 years)"),
    (
        "retention.device_inactive_days",
        "730",
        "Active devices with no service event are archived after (000: 2 years)",
    ),
    ("retention.chat_days", "365", "Chat history is deleted after (003: 1 year)"),
    ("retention.media_days", "182", "Media files (file and row) are deleted after (003: 6 months)"),
    ("notifications.expiry_days", "90", "Notifications expire after (002: 90 days)"),
]


def upgrade() -> None:
    ddl.citus_session()
    op.create_table(
        "system_settings",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("setting_key", sa.String(length=255), nullable=False),
        sa.Column("setting_value", sa.Text(), nullable=True),
        sa.Column(
            "setting_type",
            sa.Enum("string", "number", "boolean", "json", name="setting_type"),
            nullable=False,
        ),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_public", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_editable", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("default_value", sa.Text(), nullable=True),
        sa.Column("validation_rules", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("last_modified_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["last_modified_by"],
            ["users.id"],
            name=op.f("fk_system_settings_last_modified_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system_settings")),
        sa.UniqueConstraint("setting_key", name=op.f("uq_system_settings_setting_key")),
    )
    ddl.reference_table("system_settings")
    op.create_index("ix_system_settings_category", "system_settings", ["category"], unique=False)
    op.create_index("ix_system_settings_is_public", "system_settings", ["is_public"], unique=False)
    ddl.updated_at_trigger("system_settings")

    ddl.grant("system_settings", "SELECT, INSERT, UPDATE, DELETE")
    ddl.enable_rls("system_settings")
    ddl.policy("system_settings", "system_settings_select", "SELECT", using=f"is_public OR {IS_ADMIN}")
    ddl.policy("system_settings", "system_settings_insert", "INSERT", check=IS_ADMIN)
    ddl.policy("system_settings", "system_settings_update", "UPDATE", using=IS_ADMIN, check=IS_ADMIN)
    ddl.policy("system_settings", "system_settings_delete", "DELETE", using=IS_ADMIN)
    ddl.worker_access("system_settings", "SELECT")  # retention windows, notification expiry
    _seed()


def _seed() -> None:
    table = sa.table(
        "system_settings",
        sa.column("setting_key", sa.String),
        sa.column("setting_value", sa.Text),
        sa.column("default_value", sa.Text),
        sa.column("setting_type", sa.String),
        sa.column("category", sa.String),
        sa.column("is_public", sa.Boolean),
        sa.column("validation_rules", postgresql.JSONB),
        sa.column("description", sa.Text),
    )
    rows = [
        *_SETTINGS,
        *((k, "number", v, "retention", False, _RETENTION_RULES, d) for k, v, d in _RETENTION),
    ]
    for key, typ, value, category, public, rules, description in rows:
        op.execute(
            table.insert().values(
                setting_key=key,
                setting_value=value,
                default_value=value,
                setting_type=sa.cast(
                    sa.literal(typ), postgresql.ENUM(name="setting_type", create_type=False)
                ),
                category=category,
                is_public=public,
                validation_rules=rules,
                description=description,
            )
        )


def downgrade() -> None:
    op.drop_table("system_settings")
    op.execute("DROP TYPE IF EXISTS setting_type")

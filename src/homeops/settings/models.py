"""``system_settings`` (002): typed key/value configuration with validation rules."""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from homeops.core.models import Base, TimestampMixin, pg_enum, uuid_pk


class SettingType(enum.StrEnum):
    string = "string"
    number = "number"
    boolean = "boolean"
    json = "json"


setting_type_enum = pg_enum(SettingType, "setting_type")


class SystemSetting(TimestampMixin, Base):
    __tablename__ = "system_settings"
    __table_args__ = (
        Index("ix_system_settings_category", "category"),
        Index("ix_system_settings_is_public", "is_public"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    setting_key: Mapped[str] = mapped_column(String(255), unique=True)
    setting_value: Mapped[str | None] = mapped_column(Text)
    setting_type: Mapped[SettingType] = mapped_column(setting_type_enum)
    category: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(server_default=text("false"))
    is_editable: Mapped[bool] = mapped_column(server_default=text("true"))
    default_value: Mapped[str | None] = mapped_column(Text)
    validation_rules: Mapped[dict[str, Any] | None]
    last_modified_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

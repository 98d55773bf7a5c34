"""Typed settings: values are stored as text and validated against their type and validation rules."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from sqlalchemy.exc import IntegrityError

from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, NotFound, UnprocessableEntity
from homeops.core.uow import UnitOfWork
from homeops.settings.models import SettingType, SystemSetting
from homeops.settings.repository import SettingRepository
from homeops.settings.schemas import PublicSettingOut, SettingIn, SettingOut, SettingPatch


class SettingNotFound(NotFound):
    code, title = "setting_not_found", "Setting not found"


class InvalidSettingValue(UnprocessableEntity):
    code, title = "invalid_setting_value", "Invalid setting value"


def parse_value(setting_type: SettingType, raw: str | None) -> Any:
    if raw is None:
        return None
    if setting_type is SettingType.boolean:
        return raw.lower() == "true"
    if setting_type is SettingType.number:
        number = float(raw)
        return int(number) if number.is_integer() and "." not in raw else number
    if setting_type is SettingType.json:
        return json.loads(raw)
    return raw


def _num(value: Any) -> str:
    """A rule's bound as people write it (``10``, not ``10.0``)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def encode_value(setting_type: SettingType, value: Any, rules: dict[str, Any] | None) -> str | None:
    """Validates ``value`` against the type and rules; returns its stored text form."""
    rules = rules or {}
    if value is None:
        return None
    if setting_type is SettingType.boolean:
        if not isinstance(value, bool):
            raise InvalidSettingValue("Expected true or false.")
        return "true" if value else "false"
    if setting_type is SettingType.number:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidSettingValue("Expected a number.")
        if rules.get("integer") and not float(value).is_integer():
            raise InvalidSettingValue("Expected a whole number.")
        if rules.get("min") is not None and value < rules["min"]:
            raise InvalidSettingValue(f"Must be at least {_num(rules['min'])}.")
        if rules.get("max") is not None and value > rules["max"]:
            raise InvalidSettingValue(f"Must be at most {_num(rules['max'])}.")
        if rules.get("choices") and value not in rules["choices"]:
            raise InvalidSettingValue(f"Must be one of {rules['choices']}.")
        return str(int(value)) if rules.get("integer") else str(value)
    if setting_type is SettingType.json:
        if not isinstance(value, dict | list):
            raise InvalidSettingValue("Expected a JSON object or array.")
        return json.dumps(value, separators=(",", ":"))
    if not isinstance(value, str):
        raise InvalidSettingValue("Expected a string.")
    if rules.get("max_length") and len(value) > rules["max_length"]:
        raise InvalidSettingValue(f"At most {rules['max_length']} characters.")
    if rules.get("pattern") and not re.fullmatch(rules["pattern"], value):
        raise InvalidSettingValue("Does not match the required pattern.")
    if rules.get("choices") and value not in rules["choices"]:
        raise InvalidSettingValue(f"Must be one of {rules['choices']}.")
    return value


def to_out(row: SystemSetting) -> SettingOut:
    return SettingOut(
        id=row.id,
        setting_key=row.setting_key,
        setting_type=row.setting_type,
        value=parse_value(row.setting_type, row.setting_value),
        default_value=parse_value(row.setting_type, row.default_value),
        category=row.category,
        description=row.description,
        is_public=row.is_public,
        is_editable=row.is_editable,
        validation_rules=row.validation_rules,
        last_modified_by=row.last_modified_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SettingService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        session = uow.session
        self.session = session
        self.repo = SettingRepository(session)

    async def public(self) -> list[PublicSettingOut]:
        return [
            PublicSettingOut(
                setting_key=r.setting_key,
                setting_type=r.setting_type,
                value=parse_value(r.setting_type, r.setting_value),
            )
            for r in await self.repo.public()
        ]

    async def list_all(self, category: str | None) -> list[SettingOut]:
        return [to_out(r) for r in await self.repo.all(category)]

    async def get(self, key: str) -> SettingOut:
        row = await self.repo.get(key)
        if row is None:
            raise SettingNotFound()
        return to_out(row)

    async def create(self, data: SettingIn) -> SettingOut:
        rules = data.validation_rules.model_dump(exclude_none=True) if data.validation_rules else None
        stored = encode_value(data.setting_type, data.value, rules)
        try:
            async with self.session.begin_nested():
                row = await self.repo.add(
                    SystemSetting(
                        setting_key=data.setting_key,
                        setting_type=data.setting_type,
                        setting_value=stored,
                        default_value=stored,
                        category=data.category,
                        description=data.description,
                        is_public=data.is_public,
                        is_editable=data.is_editable,
                        validation_rules=rules,
                        last_modified_by=self.uow.actor.user_id,
                    )
                )
        except IntegrityError as exc:
            raise Conflict("A setting with this key exists.", code="setting_exists") from exc
        self.uow.record(
            AuditEntry(
                "setting_created",
                "system_setting",
                row.id,
                new_values={"key": row.setting_key, "value": stored},
            )
        )
        return to_out(row)

    async def update(self, key: str, patch: SettingPatch) -> SettingOut:
        row = await self.repo.get(key)
        if row is None:
            raise SettingNotFound()
        changes = patch.model_dump(exclude_unset=True)
        old = {"value": row.setting_value}
        if "value" in changes:
            if not row.is_editable:
                raise Conflict("This setting cannot be changed through the API.", code="setting_not_editable")
            row.setting_value = encode_value(row.setting_type, changes["value"], row.validation_rules)
        if changes.get("description") is not None:
            row.description = changes["description"]
        if changes.get("is_public") is not None:
            row.is_public = changes["is_public"]
        row.last_modified_by = self.uow.actor.user_id
        await self.repo.refresh(row)
        self.uow.record(
            AuditEntry(
                "setting_updated",
                "system_setting",
                row.id,
                old_values=old,
                new_values={"value": row.setting_value, **{k: v for k, v in changes.items() if k != "value"}},
            )
        )
        return to_out(row)

    async def delete(self, key: str) -> None:
        row = await self.repo.get(key)
        if row is None:
            raise SettingNotFound()
        if not row.is_editable:
            raise Conflict("This setting cannot be deleted through the API.", code="setting_not_editable")
        await self.repo.delete(key)
        self.uow.record(AuditEntry("setting_deleted", "system_setting", row.id, old_values={"key": key}))

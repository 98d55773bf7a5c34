"""PATCH semantics in one place: fields that may not be null, the copy onto the entity, the audit diff."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from homeops.core.errors import UnprocessableEntity


def reject_nulls(changes: Mapping[str, Any], not_null: Iterable[str]) -> None:
    """422 naming every field of ``not_null`` the patch sets to null."""
    nulls = [k for k in not_null if k in changes and changes[k] is None]
    if nulls:
        raise UnprocessableEntity(f"{', '.join(nulls)} cannot be null.")


def apply_patch(
    target: Any,
    changes: Mapping[str, Any],
    *,
    not_null: Iterable[str] = (),
    attributes: Mapping[str, str] | None = None,
    convert: Mapping[str, Callable[[Any], Any]] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Copies ``changes`` (a ``model_dump(exclude_unset=True)``) onto ``target`` and returns the audit diff
    ``(old, new)``. ``attributes`` maps a field to the entity's attribute of another name; ``convert`` turns a
    field's value into what the entity stores (e.g. a null JSON object into ``{}``)."""
    reject_nulls(changes, not_null)
    attributes = attributes or {}
    convert = convert or {}
    old: dict[str, Any] = {}
    for key, value in changes.items():
        attr = attributes.get(key, key)
        old[key] = getattr(target, attr)
        setattr(target, attr, convert[key](value) if key in convert else value)
    return old, dict(changes)

"""Pydantic base classes and field types shared by every domain.

Request bodies derive from :class:`StrictIn`: unknown fields are an error, strings are trimmed, and numbers and
booleans are *strict* — ``true`` is not 1, ``"1"`` is not 1, ``1`` is not ``true`` (a float field takes an
integer, an integer field an integral number such as ``3.0``, as in JSON Schema). UUIDs, dates, date-times and enums keep their JSON spellings (strings). Decimal amounts take a JSON
number or a decimal string (:class:`Money` says so in the spec).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

T = TypeVar("T")

_STRICT_SCALARS = frozenset({"float", "bool"})


def _no_bool_or_text(value: Any) -> Any:
    if isinstance(value, bool | str | bytes):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


def _strict_scalars(node: Any, seen: set[int]) -> None:
    """Makes every number and boolean validator of a core schema strict (in place): float and bool validators
    strict (a float takes an int), int validators refuse booleans and strings (an integral float such as
    ``3.0`` stays an integer, as JSON Schema has it)."""
    if isinstance(node, dict):
        if id(node) in seen:
            return
        seen.add(id(node))
        kind = node.get("type")
        if kind in _STRICT_SCALARS:
            node["strict"] = True
        elif kind == "int":
            inner = dict(node)
            node.clear()
            node.update(core_schema.no_info_before_validator_function(_no_bool_or_text, inner))  # type: ignore[arg-type,unused-ignore]
            seen.add(id(inner))
            return
        for value in node.values():
            _strict_scalars(value, seen)
    elif isinstance(node, list):
        for value in node:
            _strict_scalars(value, seen)


class StrictIn(BaseModel):
    """Request bodies: unknown fields are an error, strings are trimmed, numbers and booleans are strict."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        schema = handler(source)
        _strict_scalars(schema, set())
        return schema


class _NotNull:
    """See :data:`NonNull`."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        schema = handler(source)
        return schema["schema"] if schema.get("type") == "nullable" else schema  # type: ignore[typeddict-item,unused-ignore]


NonNull = Annotated[T | None, _NotNull()]
"""A PATCH field that may be left out but not set to null: ``name: NonNull[Name] = None``. The service sees
``None`` for "not given" (``model_dump(exclude_unset=True)`` leaves it out); an explicit ``null`` is a 422 and the
spec's schema has no ``null`` for it."""


class MaxJsonBytes:
    """A cap on the JSON size of a free-form value a user writes (a JSONB column): ``Annotated[dict[str, Any],
    MaxJsonBytes(16_384)]``. Larger values are a 422; the spec's description states the cap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        limit = self.limit

        def check(value: Any) -> Any:
            if value is not None and json_size(value) > limit:
                raise PydanticCustomError(
                    "json_too_large",
                    "The value may take at most {limit} bytes of JSON",
                    {"limit": limit},
                )
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: Any) -> dict[str, Any]:
        out: dict[str, Any] = handler(schema)
        note = f"At most {self.limit} bytes of JSON."
        out["description"] = f"{out['description']} {note}" if out.get("description") else note
        return out


def json_size(value: Any) -> int:
    """Bytes of the compact UTF-8 JSON of ``value`` (what the database stores, give or take)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode())


def not_together(*pairs: tuple[str, str]) -> dict[str, Any]:
    """The JSON Schema of "never both fields of a pair set (non-null)", for ``json_schema_extra`` of a model
    whose validator says so — so the spec states the rule the validator enforces."""
    both = [
        {"required": [a, b], "properties": {a: {"not": {"type": "null"}}, b: {"not": {"type": "null"}}}}
        for a, b in pairs
    ]
    return {"not": {"anyOf": both}}


def at_most_one_of(*names: str) -> dict[str, Any]:
    """:func:`not_together` for every pair of ``names``."""
    return not_together(*((a, b) for i, a in enumerate(names) for b in names[i + 1 :]))


def date_order_error(message: str) -> PydanticCustomError:
    """A 422 for dates in the wrong order (``end < start``), a rule JSON Schema cannot state: its error type
    ``date_order`` tells clients (and the contract test) what it is."""
    return PydanticCustomError("date_order", message)


def amounts_error(message: str) -> PydanticCustomError:
    """A 422 for amounts that do not add up (lines to a total, quantity × price), arithmetic no JSON Schema
    can state: error type ``amounts_add_up``."""
    return PydanticCustomError("amounts_add_up", message)


def _set(name: str) -> dict[str, Any]:
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


def needs(field: str, other: str, *, non_empty: bool = False) -> dict[str, Any]:
    """The JSON Schema of "when ``field`` is set (non-null; non-empty with ``non_empty``), ``other`` is set too",
    for ``json_schema_extra`` beside the validator that enforces it."""
    condition = _set(field)
    if non_empty:
        condition["properties"][field] = {"not": {"type": "null"}, "minItems": 1}
    return {"if": condition, "then": _set(other)}


def together(a: str, b: str) -> dict[str, Any]:
    """Both set (non-null) or neither: :func:`needs` both ways."""
    return {"allOf": [needs(a, b), needs(b, a)]}


JSON_FIELD_MAX_BYTES = 16_384
JsonObject = Annotated[dict[str, Any], MaxJsonBytes(JSON_FIELD_MAX_BYTES)]
"""A free-form JSON object a user writes (preferences, features, specifications, metadata): at most 16 KB."""
JsonList = Annotated[list[Any], MaxJsonBytes(JSON_FIELD_MAX_BYTES)]
"""A free-form JSON array a user writes (parts lists): at most 16 KB."""

CENTS = Decimal("0.01")


class Money:
    """An amount ``0 ≤ x < maximum`` as a JSON number or a decimal string (``12.5``, ``"12.50"``), rounded to
    cents — stored as ``numeric(…, 2)``, so what a write returns is what is stored:
    ``Annotated[Decimal, Money(1_000_000)]``. The spec shows both spellings (the string with its pattern)."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        maximum = self.maximum

        def check(value: Decimal) -> Decimal:
            if not (0 <= value < maximum):
                raise PydanticCustomError(
                    "money_range",
                    "The amount must be at least 0 and less than {maximum}",
                    {"maximum": maximum},
                )
            return value.quantize(CENTS, rounding=ROUND_HALF_UP)

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: Any) -> dict[str, Any]:
        if handler.mode != "validation":
            out: dict[str, Any] = handler(schema)
            return out
        digits = len(str(self.maximum - 1))
        return {
            "anyOf": [
                {"type": "number", "minimum": 0, "exclusiveMaximum": self.maximum},
                {"type": "string", "pattern": rf"^[0-9]{{1,{digits}}}(\.[0-9]{{1,2}})?$"},
            ],
            "description": "An amount: a number or a decimal string, rounded to cents.",
        }


class Rounded:
    """A decimal ``minimum ≤ x ≤ maximum`` (``x > minimum`` with ``exclusive_minimum``) as a JSON number or a
    decimal string, rounded to ``places`` decimals — as stored (``numeric(p, places)``), so a float's binary
    noise (``21.805370999999997``) is not a reason to refuse it: ``Annotated[Decimal, Rounded(6, -90, 90)]``.
    The spec states both spellings and the range (the string with its pattern)."""

    def __init__(
        self, places: int, minimum: int | Decimal, maximum: int | Decimal, *, exclusive_minimum: bool = False
    ) -> None:
        self.places, self.minimum, self.maximum = places, Decimal(minimum), Decimal(maximum)
        self.exclusive_minimum = exclusive_minimum

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        step = Decimal(1).scaleb(-self.places)

        def check(value: Decimal) -> Decimal:
            if not value.is_finite():
                raise PydanticCustomError("decimal_finite", "Input should be a finite number")
            rounded = value.quantize(step, rounding=ROUND_HALF_UP)
            low_ok = rounded > self.minimum if self.exclusive_minimum else rounded >= self.minimum
            if not (low_ok and rounded <= self.maximum):
                raise PydanticCustomError(
                    "decimal_range",
                    "The value must be {op} {minimum} and at most {maximum}",
                    {
                        "op": "more than" if self.exclusive_minimum else "at least",
                        "minimum": str(self.minimum),
                        "maximum": str(self.maximum),
                    },
                )
            return rounded

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: Any) -> dict[str, Any]:
        if handler.mode != "validation":
            out: dict[str, Any] = handler(schema)
            return out
        number: dict[str, Any] = {"type": "number", "maximum": float(self.maximum)}
        number["exclusiveMinimum" if self.exclusive_minimum else "minimum"] = float(self.minimum)
        digits = len(str(int(max(abs(self.maximum), abs(self.minimum)))))
        sign = "-?" if self.minimum < 0 else ""
        fraction = rf"(\.[0-9]{{1,{self.places}}})?" if self.places else ""
        return {
            "anyOf": [number, {"type": "string", "pattern": rf"^{sign}[0-9]{{1,{digits}}}{fraction}$"}],
            "description": f"A number or a decimal string, rounded to {self.places} decimal places.",
        }


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class DownloadOut(Out):
    """A signed, expiring URL for a stored file (never a public path)."""

    url: str
    expires_in: int
    expires_at: datetime

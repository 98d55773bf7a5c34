"""HTML forms → the services' own input models, and errors back onto the form.

A page handler never re-implements a rule: it builds the same pydantic model the API validates
(``form_model(DeviceIn, form)``) and calls the same service. What fails comes back as ``FormError``
(per-field messages from the model's validation, or the service's problem) and the page is rendered again with
the values the user typed and the messages next to the fields, with the problem's HTTP status.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile

from homeops.core.errors import Problem
from homeops.core.web.i18n import _

_FIELD_MESSAGES = {
    "missing": lambda ctx: _("This field is required."),
    "string_too_short": lambda ctx: (
        _("This field is required.")
        if ctx.get("min_length") == 1
        else _("Enter at least %(n)s characters.", n=ctx.get("min_length"))
    ),
    "string_too_long": lambda ctx: _("Enter at most %(n)s characters.", n=ctx.get("max_length")),
    "too_long": lambda ctx: _("Too many entries (at most %(n)s).", n=ctx.get("max_length")),
    "greater_than_equal": lambda ctx: _("Enter a value of at least %(n)s.", n=ctx.get("ge")),
    "greater_than": lambda ctx: _("Enter a value greater than %(n)s.", n=ctx.get("gt")),
    "less_than_equal": lambda ctx: _("Enter a value of at most %(n)s.", n=ctx.get("le")),
    "int_parsing": lambda ctx: _("Enter a whole number."),
    "int_from_float": lambda ctx: _("Enter a whole number."),
    "decimal_parsing": lambda ctx: _("Enter a number."),
    "decimal_max_places": lambda ctx: _("Use at most %(n)s decimals.", n=ctx.get("decimal_places")),
    "float_parsing": lambda ctx: _("Enter a number."),
    "date_parsing": lambda ctx: _("Enter a valid date."),
    "date_from_datetime_parsing": lambda ctx: _("Enter a valid date."),
    "uuid_parsing": lambda ctx: _("Choose one of the options."),
    "enum": lambda ctx: _("Choose one of the options."),
    "literal_error": lambda ctx: _("Choose one of the options."),
    "value_error": lambda ctx: _("This value is not valid."),
    "string_pattern_mismatch": lambda ctx: _("This value is not in the expected format."),
}


class FormError(Exception):
    """What to show on a form that was not accepted: a message for the whole form and/or per field."""

    def __init__(
        self, message: str | None = None, fields: Mapping[str, str] | None = None, *, status: int = 422
    ) -> None:
        self.message = message
        self.fields = dict(fields or {})
        self.status = status
        super().__init__(message or "invalid form")


def field_message(error: Mapping[str, Any]) -> str:
    make = _FIELD_MESSAGES.get(str(error.get("type")))
    if make is None:
        return _("This value is not valid.")
    return str(make(error.get("ctx") or {}))


def form_model(
    model: type[BaseModel],
    form: FormData,
    *,
    fields: Iterable[str] | None = None,
    lists: Iterable[str] = (),
    lines: Iterable[str] = (),
    checkboxes: Iterable[str] = (),
    blank_as_null: Iterable[str] = (),
    keep_blank: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> Any:
    """``model`` validated from the form's fields (only the model's own, or ``fields``).

    Blank inputs are left out (the model's default applies) unless named in ``blank_as_null`` (an edit form
    clearing a value); ``lists`` are repeated fields, ``lines`` are textareas of one entry per line or comma;
    ``checkboxes`` are true when present; ``keep_blank``: a blank input is sent as "" (an edit form emptying a
    required field is told so). Raises ``FormError`` with a message per field."""
    names = list(fields) if fields is not None else list(model.model_fields)
    list_names, line_names, boxes, nullable = set(lists), set(lines), set(checkboxes), set(blank_as_null)
    kept = set(keep_blank)
    data: dict[str, Any] = {}
    for name in names:
        if name in boxes:
            data[name] = name in form
        elif name in list_names:
            data[name] = [str(v).strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]
        elif name in line_names:
            raw = form.get(name)
            text = raw if isinstance(raw, str) else ""
            data[name] = [p.strip() for line in text.splitlines() for p in line.split(",") if p.strip()]
        else:
            value = form.get(name)
            if isinstance(value, UploadFile):
                continue
            if value is None or not str(value).strip():
                if name in nullable:
                    data[name] = None
                elif name in kept and value is not None:
                    data[name] = ""
                continue
            data[name] = str(value)
    errors: dict[str, str] = {}
    for name, value in list(data.items()):
        if isinstance(value, str) and name in model.model_fields:
            try:
                data[name] = _typed(model.model_fields[name].annotation, value)
            except ValueError:
                errors[name] = (
                    _("Enter a whole number.")
                    if _scalar(model.model_fields[name].annotation) is int
                    else _("Enter a number.")
                )
    data.update(extra or {})
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        raise FormError(_("Check the highlighted fields."), {**_field_errors(exc), **errors}) from exc
    if errors:
        raise FormError(_("Check the highlighted fields."), errors)
    return validated


def _scalar(annotation: Any) -> Any:
    """The one type of a field (``int`` of ``Annotated[int, …] | None``), else the annotation itself."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _scalar(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(annotation) if a is not type(None)]
        return _scalar(args[0]) if len(args) == 1 else annotation
    return annotation


def _typed(annotation: Any, value: str) -> Any:
    """A form's text as the field's JSON type: the input models are strict (``"3"`` is not 3), and what an
    HTML form sends is always text. Dates, UUIDs, enums and decimals keep their text (their JSON spelling)."""
    kind = _scalar(annotation)
    if kind is bool:
        return value.strip().lower() in ("on", "true", "1", "yes")
    if kind is int:
        return int(value.strip())
    if kind is float:
        return float(value.strip())
    return value


def _field_errors(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        loc = error.get("loc") or ()
        name = str(loc[0]) if loc else "__all__"
        if name not in out:
            out[name] = field_message(error) if name != "__all__" else _("This form is not valid.")
    return out


def form_values(form: FormData | None) -> dict[str, Any]:
    """What the user typed (to fill the form again); files and the CSRF token left out."""
    if form is None:
        return {}
    out: dict[str, Any] = {}
    for key in form:
        if key == "csrf_token":
            continue
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        if values:
            out[key] = values if len(values) > 1 else values[0]
    return out


def problem_fields(exc: Problem) -> dict[str, str]:
    """Per-field messages of a 422 problem's ``errors`` (the API's validation shape), if any."""
    out: dict[str, str] = {}
    for error in exc.extra.get("errors") or ():
        loc = [p for p in error.get("loc", ()) if p != "body"]
        if loc:
            out.setdefault(str(loc[0]), field_message(error))
    return out


class FormState:
    """A form as the page shows it: its name (which form of the page it is), what was typed, the messages.
    Templates ask ``form.for_("add-room")`` so only the form that was submitted shows values and errors."""

    def __init__(
        self,
        name: str = "",
        values: Mapping[str, Any] | None = None,
        errors: Mapping[str, str] | None = None,
        message: str | None = None,
    ) -> None:
        self.name = name
        self.values = dict(values or {})
        self.errors = dict(errors or {})
        self.message = message
        self.shown = False  # its message was shown by the form (else the layout shows it above the page)

    def mark_shown(self) -> str:
        self.shown = True
        return ""

    @classmethod
    def failed(cls, name: str, form: FormData | None, error: FormError) -> FormState:
        return cls(name, form_values(form), error.fields, error.message)

    def for_(self, name: str) -> FormState:
        return self if self.name == name else FormState(name)

    def value(self, key: str, default: Any = "") -> Any:
        if self.name and (self.values or self.errors or self.message):
            return self.values.get(key, "")
        return "" if default is None else default

    def values_of(self, key: str, default: Any = ()) -> list[str]:
        if self.name and (self.values or self.errors or self.message):
            value = self.values.get(key, [])
            return [value] if isinstance(value, str) else list(value)
        return [str(v) for v in (default or ())]

    def error(self, key: str) -> str | None:
        return self.errors.get(key)

    @property
    def failed_(self) -> bool:
        return bool(self.message or self.errors)


NO_FORM = FormState()

"""System settings in the browser (admins only): every setting by category, each edited in place with an input
of its type (a switch, a number, a text, JSON, or a choice from its rules). The form's text becomes the
setting's JSON value; ``SettingService.update`` validates it against the type and the rules, as for
``PATCH /api/v1/settings/{key}`` — its message is shown next to the field and nothing is saved."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import Path, Query, Response
from pydantic import ValidationError

from homeops.core.web import N_, NO_FORM, FormError, FormState, NavItem, Page, Pages, _, page_router
from homeops.core.web.i18n import fmt_number
from homeops.identity.web import AdminPage
from homeops.settings.models import SettingType
from homeops.settings.schemas import SettingOut, SettingPatch
from homeops.settings.service import SettingService

router = page_router()
ADMIN_ROLES = frozenset({"admin"})
KeyPath = Annotated[str, Path(max_length=255)]
MESSAGES = {
    "setting_not_found": N_("This setting does not exist."),
    "setting_not_editable": N_("This setting cannot be changed here."),
}
TYPE_LABELS = {
    SettingType.string: N_("Text"),
    SettingType.number: N_("Number"),
    SettingType.boolean: N_("On or off"),
    SettingType.json: N_("JSON"),
}
_INTEGER = re.compile(r"[+-]?\d+")


def form_name(key: str) -> str:
    return "setting-" + key.replace(".", "-")


def shown_value(setting: SettingOut, value: Any) -> str:
    """A value as its input shows it."""
    if value is None:
        return ""
    if setting.setting_type is SettingType.boolean:
        return "true" if value else "false"
    if setting.setting_type is SettingType.json:
        return json.dumps(value, ensure_ascii=False, indent=2)
    return str(value)


def choice_pairs(choices: list[Any]) -> list[tuple[str, str]]:
    return [(str(c), str(c)) for c in choices]


def rules_hint(setting: SettingOut) -> str:
    """What the rules allow, in the reader's language."""
    rules = setting.validation_rules or {}
    parts: list[str] = []
    if setting.setting_type is SettingType.number:
        low, high = (None if v is None else fmt_number(v) for v in (rules.get("min"), rules.get("max")))
        whole = bool(rules.get("integer"))
        if low is not None and high is not None:
            parts.append(
                _("A whole number from %(min)s to %(max)s.", min=low, max=high)
                if whole
                else _("A number from %(min)s to %(max)s.", min=low, max=high)
            )
        elif low is not None:
            parts.append(_("At least %(min)s.", min=low))
        elif high is not None:
            parts.append(_("At most %(max)s.", max=high))
        if whole and (low is None or high is None):
            parts.append(_("A whole number."))
    elif setting.setting_type is SettingType.json:
        parts.append(_("A JSON object or array."))
    elif setting.setting_type is SettingType.string:
        if rules.get("max_length"):
            parts.append(_("At most %(n)s characters.", n=rules["max_length"]))
        if rules.get("pattern"):
            parts.append(_("Must match the pattern %(pattern)s.", pattern=rules["pattern"]))
    return " ".join(parts)


def _typed_value(setting: SettingOut, raw: str) -> Any:
    """The form's text as the JSON value the API would receive; FormError when it cannot be one."""
    kind = setting.setting_type
    if kind is SettingType.boolean:
        if raw not in ("true", "false"):
            raise FormError(_("Check the highlighted fields."), {"value": _("Choose one of the options.")})
        return raw == "true"
    if kind is SettingType.number:
        text = raw.strip()
        if not text:
            raise FormError(_("Check the highlighted fields."), {"value": _("This field is required.")})
        try:
            return int(text) if _INTEGER.fullmatch(text) else float(text)
        except ValueError as exc:
            raise FormError(_("Check the highlighted fields."), {"value": _("Enter a number.")}) from exc
    if kind is SettingType.json:
        if not raw.strip():
            raise FormError(_("Check the highlighted fields."), {"value": _("This field is required.")})
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise FormError(
                _("Check the highlighted fields."), {"value": _("This is not valid JSON.")}
            ) from exc
    return raw


async def _settings_page(
    page: Page, category: str | None, form: FormState = NO_FORM, status: int = 200
) -> Response:
    settings = await SettingService(page.uow).list_all(None)
    categories = sorted({s.category or "" for s in settings})
    shown = [s for s in settings if not category or (s.category or "") == category]
    groups: dict[str, list[SettingOut]] = {}
    for s in shown:
        groups.setdefault(s.category or "", []).append(s)
    return page.render(
        "settings/list.html",
        status=status,
        groups=sorted(groups.items()),
        categories=[c for c in categories if c],
        category=category,
        form=form,
        form_name=form_name,
        shown_value=shown_value,
        rules_hint=rules_hint,
        choice_pairs=choice_pairs,
        type_labels=TYPE_LABELS,
    )


@router.get("/admin/settings")
async def settings_list(
    page: AdminPage, category: Annotated[str | None, Query(max_length=100)] = None
) -> Response:
    return await _settings_page(page, category or None)


@router.post("/admin/settings/{key}")
async def update_setting(page: AdminPage, key: KeyPath) -> Response:
    assert page.form is not None
    service = SettingService(page.uow)
    setting = await service.get(key)  # 404 when there is none
    category = str(page.form.get("category") or "")[:100] or None
    raw = page.form.get("value")
    try:
        if not isinstance(raw, str):
            raise FormError(_("Check the highlighted fields."), {"value": _("This field is required.")})
        try:
            patch = SettingPatch.model_validate({"value": _typed_value(setting, raw)})
        except ValidationError as exc:
            raise FormError(
                _("Check the highlighted fields."), {"value": _("This value is too large.")}
            ) from exc
        await page.submit(lambda: service.update(setting.setting_key, patch))
    except FormError as exc:
        message = exc.fields.get("value") or exc.message or _("This value is not valid.")
        failed = FormState(form_name(setting.setting_key), {"value": raw or ""}, {"value": message})
        failed.message = _("“%(key)s” was not saved.", key=setting.setting_key)
        if exc.status == 409:  # e.g. no longer editable: the page shows no field for it
            failed.message += " " + message
        return await _settings_page(page, category, failed, exc.status)
    target = page.url("/admin/settings", category=category) + "#" + form_name(setting.setting_key)
    return page.redirect(target, flash=_("“%(key)s” was saved.", key=setting.setting_key))


pages = Pages.of(
    __file__,
    "settings",
    router=router,
    nav=(NavItem(N_("Settings"), "/admin/settings", order=920, roles=ADMIN_ROLES),),
    messages=MESSAGES,
)

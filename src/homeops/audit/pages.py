"""The audit log in the browser (admins only): newest first with keyset paging, filtered by action type, the
person who acted (an e-mail address or an account id), entity type and id and a date range; and one entry with
its old and new values. The same ``AuditRepository.search`` as ``GET /api/v1/audit-logs``, under the same row
security (only admins read ``audit_logs``)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Query, Response

from homeops.audit.models import AuditLog
from homeops.audit.repository import AuditRepository
from homeops.core.errors import NotFound
from homeops.core.pagination import build_page, decode_cursor
from homeops.core.web import N_, FormState, NavItem, Page, Pages, _, page_router
from homeops.identity.admin import UserAdminService
from homeops.identity.web import AdminPage

router = page_router()
PER_PAGE = 30
ADMIN_ROLES = frozenset({"admin"})
Filter = Annotated[str | None, Query(max_length=200)]
MESSAGES = {"audit_log_not_found": N_("This audit entry does not exist.")}


class AuditLogNotFound(NotFound):
    code, title = "audit_log_not_found", "Audit entry not found"


def _day(value: str) -> date:
    return date.fromisoformat(value.strip())


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def _filters(page: Page, raw: dict[str, str | None]) -> tuple[dict[str, Any], dict[str, str]]:
    """The typed filters of the query string, and a message per filter that is not valid."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in ("action_type", "entity_type"):
        text = (raw.get(name) or "").strip()
        if text:
            values[name] = text
    entity = (raw.get("entity_id") or "").strip()
    if entity:
        try:
            values["entity_id"] = uuid.UUID(entity)
        except ValueError:
            errors["entity_id"] = _("Enter an id such as 3f2b…, as shown on an entry.")
    who = (raw.get("user") or "").strip()
    if who:
        try:
            values["user_id"] = uuid.UUID(who)
        except ValueError:
            found = await UserAdminService(page.uow).find_id(who) if "@" in who else None
            if found is None:
                errors["user"] = _("No account has this email address.")
            else:
                values["user_id"] = found
    for name in ("since", "until"):
        text = (raw.get(name) or "").strip()
        if text:
            try:
                values[name] = _day(text)
            except ValueError:
                errors[name] = _("Enter a valid date.")
    if "since" in values and "until" in values and values["until"] < values["since"]:
        errors["until"] = _("The end date must not be before the start date.")
    return values, errors


@router.get("/admin/audit")
async def audit_log(
    page: AdminPage,
    action_type: Filter = None,
    user: Filter = None,
    entity_type: Annotated[str | None, Query(max_length=50)] = None,
    entity_id: Filter = None,
    since: Annotated[str | None, Query(max_length=10)] = None,
    until: Annotated[str | None, Query(max_length=10)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    raw = {
        "action_type": action_type,
        "user": user,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "since": since,
        "until": until,
    }
    values, errors = await _filters(page, raw)
    filtered = any((v or "").strip() for v in raw.values())
    form = FormState("audit-filters", {k: v or "" for k, v in raw.items()}, errors)
    if errors:
        form.message = _("Check the highlighted filters.")
        return page.render(
            "audit/list.html", status=422, entries=[], next_cursor=None, emails={}, form=form, filtered=True
        )
    rows = await AuditRepository(page.uow.session).search(
        limit=PER_PAGE,
        after=decode_cursor(cursor),
        user_id=values.get("user_id"),
        entity_type=values.get("entity_type"),
        entity_id=values.get("entity_id"),
        action_type=values.get("action_type"),
        since=_start_of(values["since"]) if "since" in values else None,
        until=_start_of(values["until"] + timedelta(days=1)) if "until" in values else None,
    )
    entries, next_cursor = build_page(rows, PER_PAGE, key=lambda r: (r.created_at, r.id))
    emails = await UserAdminService(page.uow).emails({e.user_id for e in entries if e.user_id})
    return page.render(
        "audit/list.html",
        entries=entries,
        next_cursor=next_cursor,
        emails=emails,
        form=form,
        filtered=filtered,
    )


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _changes(entry: AuditLog) -> list[tuple[str, str, str, bool]]:
    """(field, before, after, changed) for every key of the old or new values."""
    old, new = entry.old_values or {}, entry.new_values or {}
    keys = list(dict.fromkeys([*old, *new]))
    return [
        (
            key,
            _shown(old.get(key)) if key in old else "",
            _shown(new.get(key)) if key in new else "",
            old.get(key) != new.get(key),
        )
        for key in keys
    ]


@router.get("/admin/audit/{log_id}")
async def audit_entry(
    page: AdminPage, log_id: uuid.UUID, back: Annotated[str | None, Query(max_length=2000)] = None
) -> Response:
    entry = await AuditRepository(page.uow.session).get(log_id)
    if entry is None:
        raise AuditLogNotFound()
    emails = await UserAdminService(page.uow).emails({entry.user_id} if entry.user_id else set())
    return page.render(
        "audit/entry.html",
        entry=entry,
        emails=emails,
        changes=_changes(entry),
        has_old=entry.old_values is not None,
        has_new=entry.new_values is not None,
        back=back if back and back.startswith("/admin/audit") and "//" not in back else "/admin/audit",
    )


pages = Pages.of(
    __file__,
    "audit",
    router=router,
    nav=(NavItem(N_("Audit log"), "/admin/audit", order=910, roles=ADMIN_ROLES),),
    messages=MESSAGES,
)

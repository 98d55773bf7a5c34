"""The marketplace in the browser (seed 002), calling the same services as the API.

* Homeowner: run a photo diagnostic, post a service request (from a diagnostic, from a device page — the
  "device" panel — or on its own), compare the quotes side by side, accept or reject one, follow the project
  (status, timeline, work notes), chat with the provider, rate the work once it is completed and change the
  review for 30 days.
* The chat page: text, a photo or a PDF (through storage), replies to a message, "delete for me" (the row goes
  once both sides deleted it). Its script (``static/chat.js``) holds the project's WebSocket with the page's
  session cookie (``realtime``: same origin and the page's CSRF token) — messages appear without a reload and
  text is sent over it; without the script the forms post as usual.
* Provider: the profile editor (``PUT /providers/me``: the whole profile, what the form does not show is kept),
  the portfolio, the open requests matching the profile, quotes with an itemised breakdown (submit, withdraw),
  the projects with their status changes and notes, the chat, answers to reviews; the public profile page.
* Admin: providers waiting for verification, disputed projects to resolve.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Path, Query, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from homeops.core.context import WROTE
from homeops.core.errors import Problem
from homeops.core.pagination import PageParams
from homeops.core.routing import MB, body_limit
from homeops.core.web import (
    N_,
    NO_FORM,
    CursorQuery,
    FormError,
    FormState,
    NavItem,
    Page,
    Pages,
    Panel,
    _,
    form_model,
    page_router,
)
from homeops.core.web.i18n import fmt_money
from homeops.core.web.page import safe_next
from homeops.devices.schemas import DeviceOut
from homeops.devices.service import DeviceService
from homeops.identity.web import SignedInPage
from homeops.marketplace.admin_views import MarketAdminService
from homeops.marketplace.chat import ChatService
from homeops.marketplace.diagnostics import DiagnosticService
from homeops.marketplace.models import (
    PreferredProviderType,
    ProjectStatus,
    PropertyType,
    ProviderType,
    QuoteStatus,
    RequestStatus,
    RiskLevel,
    Urgency,
)
from homeops.marketplace.projects import ProjectService
from homeops.marketplace.providers import PortfolioService, ProviderService
from homeops.marketplace.quotes import QuoteService
from homeops.marketplace.ratings import RatingService
from homeops.marketplace.requests import RequestService
from homeops.marketplace.schemas import (
    CancelIn,
    ChatMessageOut,
    ChatSendIn,
    PortfolioPatch,
    ProjectOut,
    ProjectPatch,
    ProjectStatusIn,
    ProviderIn,
    ProviderOut,
    QuoteIn,
    RatingIn,
    RatingPatch,
    RejectIn,
    ServiceRequestIn,
    ServiceRequestOut,
    WorkNoteIn,
)

router = page_router()
Index = Annotated[int, Path(ge=0, le=1000)]
UPLOAD_LIMIT = 10 * MB  # the default max_image_upload_size_mb; the services apply the configured limit
QUOTE_LINES = 4
COVERAGE_ROWS = 3
PORTFOLIO_IMAGES = 5
CHAT_FILE_LIMIT = 20 * MB  # chat.MAX_FILE_BYTES (PDFs); photos get the configured image limit
CHAT_PARENT_LOOKUPS = 20  # answered messages older than the page's, read one by one at most

HOMEOWNER_ROLES = frozenset({"homeowner", "provider"})
PROVIDER_ROLES = frozenset({"provider"})
ADMIN_ROLES = frozenset({"admin"})

CATEGORY_LABELS = {
    "plumbing": N_("Plumbing"),
    "electrical": N_("Electrical"),
    "hvac": N_("Heating & air conditioning"),
    "appliance_repair": N_("Appliance repair"),
    "carpentry": N_("Carpentry"),
    "painting": N_("Painting"),
    "roofing": N_("Roofing"),
    "structural": N_("Structural"),
    "waterproofing": N_("Waterproofing"),
    "flooring": N_("Flooring & tiling"),
    "pest_control": N_("Pest control"),
    "locksmith": N_("Locksmith & security"),
    "landscaping": N_("Landscaping"),
    "cleaning": N_("Cleaning"),
    "general": N_("General handyman"),
}
REQUEST_STATUS = {
    RequestStatus.open: N_("Open"),
    RequestStatus.quotes_received: N_("Quotes received"),
    RequestStatus.provider_selected: N_("Provider selected"),
    RequestStatus.cancelled: N_("Cancelled"),
    RequestStatus.expired: N_("Expired"),
}
QUOTE_STATUS = {
    QuoteStatus.pending: N_("Pending"),
    QuoteStatus.accepted: N_("Accepted"),
    QuoteStatus.rejected: N_("Rejected"),
    QuoteStatus.expired: N_("Expired"),
    QuoteStatus.withdrawn: N_("Withdrawn"),
}
PROJECT_STATUS = {
    ProjectStatus.scheduled: N_("Scheduled"),
    ProjectStatus.in_progress: N_("In progress"),
    ProjectStatus.completed: N_("Completed"),
    ProjectStatus.cancelled: N_("Cancelled"),
    ProjectStatus.disputed: N_("Disputed"),
}
PAYMENT_STATUS = {
    "pending": N_("Payment pending"),
    "partial": N_("Partly paid"),
    "completed": N_("Paid"),
    "refunded": N_("Refunded"),
}
RISK_LABELS = {
    RiskLevel.low: N_("Low risk"),
    RiskLevel.medium: N_("Medium risk"),
    RiskLevel.high: N_("High risk"),
}
URGENCY_LABELS = {
    Urgency.immediate: N_("Act now"),
    Urgency.soon: N_("Soon"),
    Urgency.can_wait: N_("Can wait"),
}
PROVIDER_TYPE_LABELS = {
    ProviderType.company: N_("Company"),
    ProviderType.engineer: N_("Independent engineer"),
}
PREFERRED_LABELS = {
    PreferredProviderType.any: N_("Any provider"),
    PreferredProviderType.company: N_("A company"),
    PreferredProviderType.engineer: N_("An independent engineer"),
}
PROPERTY_LABELS = {
    PropertyType.apartment: N_("Apartment"),
    PropertyType.villa: N_("Villa"),
    PropertyType.house: N_("House"),
    PropertyType.commercial: N_("Commercial"),
    PropertyType.other: N_("Other"),
}
LINE_CATEGORY_LABELS = {
    "labor": N_("Labour"),
    "materials": N_("Materials"),
    "equipment": N_("Equipment"),
    "other": N_("Other"),
}
DIMENSIONS = {
    "overall": N_("Overall"),
    "quality": N_("Quality of work"),
    "timeliness": N_("Timeliness"),
    "professionalism": N_("Professionalism"),
    "value": N_("Value for money"),
    "communication": N_("Communication"),
}
STATUS_KIND = {
    "open": "info",
    "quotes_received": "info",
    "provider_selected": "success",
    "cancelled": "neutral",
    "expired": "neutral",
    "pending": "info",
    "accepted": "success",
    "rejected": "neutral",
    "withdrawn": "neutral",
    "scheduled": "info",
    "in_progress": "warning",
    "completed": "success",
    "disputed": "danger",
    "low": "success",
    "medium": "warning",
    "high": "danger",
}
# Problem codes of the marketplace's own (the registry's messages are shared by every domain: a code another
# domain also uses — file_not_found, payload_too_large, unsupported_media_type, invalid_status_transition … —
# is left to its generic message).
MESSAGES = {
    "provider_not_found": N_("This provider does not exist or is not visible."),
    "provider_profile_required": N_("Create your provider profile first."),
    "provider_not_verified": N_("Your provider profile is waiting for an admin's verification."),
    "service_request_not_found": N_("This service request does not exist or you cannot see it."),
    "quote_not_found": N_("This quote does not exist or you cannot see it."),
    "project_not_found": N_("This project does not exist or you cannot see it."),
    "rating_not_found": N_("This review does not exist."),
    "diagnostic_not_found": N_("This diagnostic does not exist or is not yours."),
    "not_allowed_for_your_side": N_("The other party does this."),
    "unknown_service_category": N_("Choose a service from the list."),
    "image_deleted": N_("The photo was deleted after the retention period; the result stays."),
    "city_required": N_("Say where the work is: a city, or a home whose address has one."),
    "date_in_past": N_("The preferred date cannot be in the past."),
    "service_request_closed": N_("This request is no longer open."),
    "too_many_images": N_("Too many photos."),
    "quote_not_pending": N_("This quote is no longer pending."),
    "quote_expired": N_("This quote has expired and cannot be accepted."),
    "already_quoted": N_("You already quoted on this request: withdraw your quote to submit a new one."),
    "portfolio_item_not_found": N_("This portfolio item does not exist."),
    "not_a_provider_company": N_("A company profile names an organization of kind provider."),
    "role_not_allowed": N_("Staff accounts cannot open a provider profile."),
    "not_your_portfolio": N_("Only the provider edits its portfolio."),
    "image_required": N_("Add at least one photo."),
    "title_required": N_("A title is required."),
    "portfolio_full": N_("A portfolio holds at most 20 items."),
    "last_image": N_("A portfolio item keeps at least one photo."),
    "message_not_found": N_("This message does not exist."),
    "bad_reply": N_("That message is not part of this conversation."),
    "already_rated": N_("This project is already rated."),
    "project_not_completed": N_("A project is rated once it is completed."),
    "rating_edit_window_closed": N_("The review can no longer be changed."),
    "already_answered": N_("This review was already answered."),
    "own_review": N_("The parties of a review do not vote on it."),
    "admin_required": N_("Only a platform admin resolves a dispute."),
    "not_a_party": N_("Only the homeowner or the provider do this."),
    "cost_difference_reason_required": N_("The actual cost differs from the agreed one: say why."),
    "note_required": N_("Add a note saying why."),
    "too_many_files": N_("Too many files for this phase."),
}


# --- system messages of the chat, in the viewer's language ------------------------------------------------------
def _status_in_sentence(value: Any) -> str:
    """A project status inside a sentence (the labels above are title case: "In progress")."""
    words = {
        "scheduled": _("scheduled"),
        "in_progress": _("in progress"),
        "completed": _("completed"),
        "cancelled": _("cancelled"),
        "disputed": _("disputed"),
    }
    return words.get(str(value), str(value).replace("_", " "))


def system_event_text(event: Mapping[str, Any]) -> str | None:
    """A chat system message's ``system_event`` (``chat.status_changed_event`` / ``quote_accepted_event``) as
    text in the request's language — in English the same as the ``message_text`` the service stored (amounts
    with the locale's grouping). ``None`` for a code (or a shape) it does not know: show ``message_text``."""
    code = event.get("code")
    if code == "status_changed":
        old, new = _status_in_sentence(event.get("from")), _status_in_sentence(event.get("to"))
        by = event.get("by")
        if by == "requester":
            text = _("The homeowner changed the project from %(old)s to %(new)s.", old=old, new=new)
        elif by == "provider":
            text = _("The provider changed the project from %(old)s to %(new)s.", old=old, new=new)
        else:
            text = _("An admin changed the project from %(old)s to %(new)s.", old=old, new=new)
        note = event.get("note")
        return f"{text} {note}" if note else text  # the note as it was typed
    if code == "quote_accepted":
        try:
            cost = fmt_money(Decimal(str(event["cost"])))
        except (KeyError, InvalidOperation):
            return None
        return _("Quote accepted (%(cost)s). The project is scheduled.", cost=cost)
    return None


def chat_text(message: ChatMessageOut) -> str | None:
    """What the conversation shows as a message's text: a system message's event in the viewer's language,
    else (other messages, system messages from before p021, an unknown event) its ``message_text``."""
    if message.system_event:
        rendered = system_event_text(message.system_event)
        if rendered is not None:
            return rendered
    return message.message_text


def _labels(mapping: dict[Any, str]) -> list[tuple[str, str]]:
    return [(str(key), _(label)) for key, label in mapping.items()]


def _common() -> dict[str, Any]:
    return {
        "category_labels": CATEGORY_LABELS,
        "request_status": REQUEST_STATUS,
        "quote_status": QUOTE_STATUS,
        "project_status": PROJECT_STATUS,
        "payment_status": PAYMENT_STATUS,
        "risk_labels": RISK_LABELS,
        "urgency_labels": URGENCY_LABELS,
        "provider_type_labels": PROVIDER_TYPE_LABELS,
        "preferred_labels": PREFERRED_LABELS,
        "property_labels": PROPERTY_LABELS,
        "line_labels": LINE_CATEGORY_LABELS,
        "dimensions": DIMENSIONS,
        "status_kind": STATUS_KIND,
        "chat_text": chat_text,
    }


async def _categories(page: Page) -> list[tuple[str, str]]:
    return [
        (c.code, _(CATEGORY_LABELS[c.code]) if c.code in CATEGORY_LABELS else c.name)
        for c in await ProviderService(page.uow).service_categories()
    ]


def _form(page: Page) -> Any:
    assert page.form is not None
    return page.form


def _text(page: Page, name: str, limit: int = 5000) -> str | None:
    value = _form(page).get(name)
    return value.strip()[:limit] or None if isinstance(value, str) else None


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def _in_place(page: Page, target: str, action: Callable[[], Awaitable[Any]], done: str) -> Response:
    """A button's action: back to ``target`` with what happened (or why it did not)."""
    try:
        await page.submit(action)
    except FormError as exc:
        return page.redirect(target, flash=exc.message or _("That did not work."), kind="error")
    return page.redirect(target, flash=done)


async def _download(page: Page, get: Callable[[], Awaitable[Any]]) -> Response:
    download = await get()
    return page.finish(Response(status_code=303, headers={"Location": download.url}))


# --- the homeowner's hub -----------------------------------------------------------------------------------------
@router.get("/market")
async def hub(
    page: SignedInPage, status: RequestStatus | None = None, cursor: CursorQuery = None
) -> Response:
    requests, next_cursor = await RequestService(page.uow).mine(PageParams(limit=20, cursor=cursor), status)
    projects, more_projects = await ProjectService(page.uow).mine(
        PageParams(limit=10), "requester", None, None
    )
    diagnostics, _more = await DiagnosticService(page.uow).mine(PageParams(limit=5))
    unread = {u.project_id: u.unread for u in await ChatService(page.uow).unread()}
    return page.render(
        "marketplace/hub.html",
        requests=requests,
        next_cursor=next_cursor,
        status_filter=status,
        statuses=_labels(REQUEST_STATUS),
        projects=projects,
        more_projects=more_projects,
        diagnostics=diagnostics,
        unread=unread,
        **_common(),
    )


# --- diagnostics -------------------------------------------------------------------------------------------------
async def _diagnostic_form(
    page: Page, device_id: uuid.UUID | None, form: FormState = NO_FORM, status: int = 200
) -> Response:
    device = await DeviceService(page.uow).get(device_id) if device_id else None
    return page.render(
        "marketplace/diagnostic_new.html",
        status=status,
        device=device,
        categories=await _categories(page),
        form=form,
    )


@router.get("/market/diagnostics/new")
async def new_diagnostic(page: SignedInPage, device_id: uuid.UUID | None = None) -> Response:
    return await _diagnostic_form(page, device_id)


@router.post("/market/diagnostics")
@body_limit(UPLOAD_LIMIT + MB)  # the photo, plus the form around it
async def create_diagnostic(page: SignedInPage) -> Response:
    form = _form(page)
    device_id = _uuid(form.get("device_id"))
    upload = form.get("image")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise FormError(
                _("Check the highlighted fields."), {"image": _("Choose a photo of the problem.")}
            )
        data = await upload.read(UPLOAD_LIMIT + 1)
        description, hint = _text(page, "description"), _text(page, "category_hint", 50)
        created = await page.submit(
            lambda: DiagnosticService(page.uow).create(
                data,
                upload.filename,
                description=description,
                category_hint=hint,
                home_id=None,
                device_id=device_id,
            )
        )
    except FormError as exc:
        return await _diagnostic_form(page, device_id, FormState.failed("diagnostic", form, exc), exc.status)
    return page.redirect(f"/market/diagnostics/{created.id}")


@router.get("/market/diagnostics/{diagnostic_id}")
async def diagnostic_page(page: SignedInPage, diagnostic_id: uuid.UUID) -> Response:
    diagnostic = await DiagnosticService(page.uow).get(diagnostic_id)
    return page.render("marketplace/diagnostic.html", d=diagnostic, **_common())


@router.get("/market/diagnostics/{diagnostic_id}/image")
async def diagnostic_image(page: SignedInPage, diagnostic_id: uuid.UUID) -> Response:
    return await _download(page, lambda: DiagnosticService(page.uow).image(diagnostic_id))


# --- requests ----------------------------------------------------------------------------------------------------
async def _request_form(
    page: Page,
    diagnostic_id: uuid.UUID | None,
    device_id: uuid.UUID | None,
    form: FormState = NO_FORM,
    status: int = 200,
) -> Response:
    diagnostic = await DiagnosticService(page.uow).get(diagnostic_id) if diagnostic_id else None
    if device_id is None and diagnostic is not None:
        device_id = diagnostic.device_id
    device = await DeviceService(page.uow).get(device_id) if device_id else None
    return page.render(
        "marketplace/request_new.html",
        status=status,
        diagnostic=diagnostic,
        device=device,
        categories=await _categories(page),
        property_types=_labels(PROPERTY_LABELS),
        preferred=_labels(PREFERRED_LABELS),
        form=form,
        **_common(),
    )


@router.get("/market/requests/new")
async def new_request(
    page: SignedInPage, diagnostic_id: uuid.UUID | None = None, device_id: uuid.UUID | None = None
) -> Response:
    return await _request_form(page, diagnostic_id, device_id)


@router.post("/market/requests")
@body_limit(UPLOAD_LIMIT + MB)  # an optional photo, plus the form around it
async def create_request(page: SignedInPage) -> Response:
    form = _form(page)
    diagnostic_id, device_id = _uuid(form.get("diagnostic_id")), _uuid(form.get("device_id"))
    try:
        extra: dict[str, Any] = {}
        if device_id is not None:
            device = await DeviceService(page.uow).get(device_id)
            extra = {"home_id": str(device.home_id), "device_ids": [str(device.id)]}
        data = form_model(
            ServiceRequestIn,
            form,
            fields=(
                "problem_title",
                "problem_description",
                "problem_category",
                "diagnostic_id",
                "property_address",
                "city",
                "district",
                "property_type",
                "preferred_provider_type",
                "preferred_service_date",
                "contact_phone",
            ),
            extra=extra,
        )
        upload = form.get("image")
        photo = (
            await upload.read(UPLOAD_LIMIT + 1)
            if isinstance(upload, UploadFile) and upload.filename
            else None
        )

        async def post() -> ServiceRequestOut:
            service = RequestService(page.uow)
            created = await service.create(data)
            return await service.add_image(created.id, photo) if photo is not None else created

        created = await page.submit(post)
    except FormError as exc:
        return await _request_form(
            page, diagnostic_id, device_id, FormState.failed("request", form, exc), exc.status
        )
    return page.redirect(
        f"/market/requests/{created.id}",
        flash=_("Your request was posted. Matching verified providers can now send quotes."),
    )


async def _request_page(
    page: Page, request_id: uuid.UUID, form: FormState = NO_FORM, status: int = 200
) -> Response:
    request = await RequestService(page.uow).get(request_id)
    full = isinstance(request, ServiceRequestOut)  # the requester's view (an admin reads it too)
    owner = isinstance(request, ServiceRequestOut) and request.requester_id == page.user_id
    quotes = await QuoteService(page.uow).of_request(request_id)
    profile = None
    if not full:
        try:
            profile = await ProviderService(page.uow).mine()
        except Problem:
            profile = None
    project = None
    if request.status == RequestStatus.provider_selected and (owner or profile is not None):
        projects, _more = await ProjectService(page.uow).mine(
            PageParams(limit=50), "requester" if owner else "provider", None, None
        )
        project = next((p for p in projects if p.request_id == request.id), None)
    return page.render(
        "marketplace/request.html",
        status=status,
        r=request,
        full=full,
        owner=owner,
        quotes=quotes,
        live=[q for q in quotes if q.status == QuoteStatus.pending],
        my_quote=next((q for q in quotes if q.status in (QuoteStatus.pending, QuoteStatus.accepted)), None),
        profile=profile,
        project=project,
        form=form,
        lines=range(QUOTE_LINES),
        line_categories=_labels(LINE_CATEGORY_LABELS),
        **_common(),
    )


@router.get("/market/requests/{request_id}")
async def request_page(page: SignedInPage, request_id: uuid.UUID) -> Response:
    return await _request_page(page, request_id)


@router.post("/market/requests/{request_id}/cancel")
async def cancel_request(page: SignedInPage, request_id: uuid.UUID) -> Response:
    data = CancelIn(reason=_text(page, "reason", 2000))
    return await _in_place(
        page,
        f"/market/requests/{request_id}",
        lambda: RequestService(page.uow).cancel(request_id, data),
        _("The request was cancelled."),
    )


@router.post("/market/requests/{request_id}/images")
@body_limit(UPLOAD_LIMIT + MB)
async def add_request_image(page: SignedInPage, request_id: uuid.UUID) -> Response:
    upload = _form(page).get("image")
    target = f"/market/requests/{request_id}#photos"
    if not isinstance(upload, UploadFile) or not upload.filename:
        return page.redirect(target, flash=_("Choose a photo to add."), kind="error")
    data = await upload.read(UPLOAD_LIMIT + 1)
    return await _in_place(
        page, target, lambda: RequestService(page.uow).add_image(request_id, data), _("The photo was added.")
    )


@router.get("/market/requests/{request_id}/images/{index}")
async def request_image(page: SignedInPage, request_id: uuid.UUID, index: Index) -> Response:
    return await _download(page, lambda: RequestService(page.uow).image(request_id, index))


def _breakdown(page: Page) -> dict[str, Any]:
    """The quote form's line rows (and tax) as the ``cost_breakdown`` the API takes; its total is the quote's
    total as typed (the model checks that the lines add up to it)."""
    items = []
    for i in range(QUOTE_LINES):
        description = _text(page, f"line-{i}-description", 255)
        amount = _text(page, f"line-{i}-amount", 30)
        if not description and not amount:
            continue
        line: dict[str, Any] = {
            "category": _text(page, f"line-{i}-category", 20) or "other",
            "description": description or "",
        }
        if amount:
            line["amount"] = amount
        items.append(line)
    out: dict[str, Any] = {"items": items, "total": _text(page, "estimated_cost", 30) or "0"}
    tax = _text(page, "tax_amount", 30)
    if tax:
        out["tax"] = {"amount": tax}
    return out


def _adds_up_error(exc: FormError) -> FormError:
    """The breakdown's arithmetic error said plainly beside the lines."""
    cause = exc.__cause__
    if isinstance(cause, ValidationError) and any(
        e.get("type") == "amounts_add_up" for e in cause.errors(include_url=False)
    ):
        message = _("The lines (and the tax) must add up exactly to the total.")
        return FormError(message, {**exc.fields, "cost_breakdown": message}, status=exc.status)
    return exc


@router.post("/market/requests/{request_id}/quotes")
async def submit_quote(page: SignedInPage, request_id: uuid.UUID) -> Response:
    form = _form(page)
    try:
        try:
            data = form_model(
                QuoteIn,
                form,
                fields=(
                    "estimated_cost",
                    "estimated_duration_days",
                    "warranty_period_months",
                    "proposed_solution",
                    "materials_included",
                ),
                checkboxes=("materials_included",),
                extra={"cost_breakdown": _breakdown(page)},
            )
        except FormError as exc:
            raise _adds_up_error(exc) from exc.__cause__
        await page.submit(lambda: QuoteService(page.uow).submit(request_id, data))
    except FormError as exc:
        return await _request_page(page, request_id, FormState.failed("quote", form, exc), exc.status)
    return page.redirect(f"/market/requests/{request_id}", flash=_("Your quote was sent to the homeowner."))


# --- quotes ------------------------------------------------------------------------------------------------------
@router.post("/market/quotes/{quote_id}/accept")
async def accept_quote(page: SignedInPage, quote_id: uuid.UUID) -> Response:
    quote = await QuoteService(page.uow).get(quote_id)
    try:
        project = await page.submit(lambda: QuoteService(page.uow).accept(quote_id))
    except FormError as exc:
        return page.redirect(
            f"/market/requests/{quote.request_id}", flash=exc.message or _("That did not work."), kind="error"
        )
    return page.redirect(
        f"/market/projects/{project.id}",
        flash=_("You accepted the quote. The project is scheduled; the provider was told."),
    )


@router.post("/market/quotes/{quote_id}/reject")
async def reject_quote(page: SignedInPage, quote_id: uuid.UUID) -> Response:
    quote = await QuoteService(page.uow).get(quote_id)
    data = RejectIn(reason=_text(page, "reason", 2000))
    return await _in_place(
        page,
        f"/market/requests/{quote.request_id}",
        lambda: QuoteService(page.uow).reject(quote_id, data),
        _("The quote was declined."),
    )


@router.post("/market/quotes/{quote_id}/withdraw")
async def withdraw_quote(page: SignedInPage, quote_id: uuid.UUID) -> Response:
    quote = await QuoteService(page.uow).get(quote_id)
    target = safe_next(_text(page, "next", 2000), f"/market/requests/{quote.request_id}")
    return await _in_place(
        page, target, lambda: QuoteService(page.uow).withdraw(quote_id), _("Your quote was withdrawn.")
    )


# --- projects ----------------------------------------------------------------------------------------------------
def _timeline(project: ProjectOut) -> list[dict[str, Any]]:
    """The project's milestones and work notes in order. Milestones are known by their day: on one day, the
    start comes before that day's notes and the completion after them."""
    events: list[tuple[tuple[date, int, datetime], dict[str, Any]]] = [
        ((project.created_at.date(), -1, project.created_at), {"kind": "accepted", "at": project.created_at})
    ]
    if project.actual_start_date:
        day = project.actual_start_date
        events.append(((day, 0, project.created_at), {"kind": "started", "day": day}))
    for note in project.work_notes:
        events.append(((note.timestamp.date(), 1, note.timestamp), {"kind": "note", "note": note}))
    if project.actual_completion_date:
        day = project.actual_completion_date
        events.append(((day, 2, project.created_at), {"kind": "completed", "day": day}))
    return [event for _key, event in sorted(events, key=lambda e: e[0])]


async def _project_page(
    page: Page,
    project_id: uuid.UUID,
    form: FormState = NO_FORM,
    status: int = 200,
    *,
    editing_review: bool = False,
) -> Response:
    project = await ProjectService(page.uow).get(project_id)
    request = await RequestService(page.uow).get(project.request_id)
    rating = await RatingService(page.uow).get(project.rating_id) if project.rating_id else None
    unread = await ChatService(page.uow).unread() if project.my_side != "admin" else []
    return page.render(
        "marketplace/project.html",
        status=status,
        p=project,
        r=request,
        timeline=_timeline(project),
        phases=PHASES,
        phase_options=[
            (k, _(v)) for k, v in PHASES.items() if k != "documents" or project.my_side == "provider"
        ],
        rating=rating,
        rating_editable=rating is not None and page.uow.now() < rating.editable_until,
        editing_review=editing_review,
        unread=next((u.unread for u in unread if u.project_id == project.id), 0),
        form=form,
        payment_options=_labels(PAYMENT_STATUS),
        resolutions=[
            (s.value, _(PROJECT_STATUS[s]))
            for s in (
                ProjectStatus.scheduled,
                ProjectStatus.in_progress,
                ProjectStatus.completed,
                ProjectStatus.cancelled,
            )
        ],
        **_common(),
    )


@router.get("/market/projects/{project_id}")
async def project_page(page: SignedInPage, project_id: uuid.UUID, edit_review: bool = False) -> Response:
    """The project; ``?edit_review=true``: with the form that changes the homeowner's review (while it may)."""
    return await _project_page(page, project_id, editing_review=edit_review)


STATUS_DONE = {
    ProjectStatus.in_progress: N_("The work has started."),
    ProjectStatus.completed: N_("The project is completed."),
    ProjectStatus.cancelled: N_("The project was cancelled."),
    ProjectStatus.disputed: N_("A dispute was opened; an admin will look at it."),
    ProjectStatus.scheduled: N_("The project is scheduled again."),
}


@router.post("/market/projects/{project_id}/status")
async def change_status(page: SignedInPage, project_id: uuid.UUID) -> Response:
    form = _form(page)
    name = f"status-{form.get('status') or ''}"
    try:
        data = form_model(
            ProjectStatusIn, form, fields=("status", "actual_cost", "cost_difference_reason", "note")
        )
        await page.submit(lambda: ProjectService(page.uow).change_status(project_id, data))
    except FormError as exc:
        return await _project_page(page, project_id, FormState.failed(name, form, exc), exc.status)
    return page.redirect(f"/market/projects/{project_id}", flash=_(STATUS_DONE[data.status]))


@router.post("/market/projects/{project_id}/notes")
async def add_note(page: SignedInPage, project_id: uuid.UUID) -> Response:
    form = _form(page)
    try:
        data = form_model(WorkNoteIn, form, fields=("note",))
        await page.submit(lambda: ProjectService(page.uow).add_note(project_id, data.note, []))
    except FormError as exc:
        return await _project_page(page, project_id, FormState.failed("note", form, exc), exc.status)
    return page.redirect(f"/market/projects/{project_id}#timeline", flash=_("The note was added."))


@router.post("/market/projects/{project_id}/schedule")
async def update_project(page: SignedInPage, project_id: uuid.UUID) -> Response:
    """The planned dates (either side, while the project is open) and the payment status (the provider)."""
    form = _form(page)
    try:
        fields = [f for f in ("scheduled_start_date", "scheduled_end_date", "payment_status") if f in form]
        data = form_model(
            ProjectPatch,
            form,
            fields=fields,
            blank_as_null=[f for f in fields if f != "payment_status"],
        )
        await page.submit(lambda: ProjectService(page.uow).update(project_id, data))
    except FormError as exc:
        return await _project_page(page, project_id, FormState.failed("schedule", form, exc), exc.status)
    return page.redirect(f"/market/projects/{project_id}", flash=_("The project was updated."))


PHASES = {
    "before": N_("Before"),
    "during": N_("During the work"),
    "after": N_("After"),
    "documents": N_("Report or certificate"),
}


@router.post("/market/projects/{project_id}/files")
@body_limit(20 * MB + MB)  # reports and certificates reach 20 MB; the service applies each limit
async def add_project_file(page: SignedInPage, project_id: uuid.UUID) -> Response:
    form = _form(page)
    upload = form.get("file")
    phase = _text(page, "phase", 20) or ""
    caption = _text(page, "caption", 255)
    try:
        if phase not in PHASES:
            raise FormError(_("Check the highlighted fields."), {"phase": _("Choose one of the options.")})
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise FormError(_("Check the highlighted fields."), {"file": _("Choose a file.")})
        data = await upload.read(20 * MB + 1)
        await page.submit(
            lambda: ProjectService(page.uow).add_file(project_id, phase, data, upload.filename, caption)
        )
    except FormError as exc:
        return await _project_page(page, project_id, FormState.failed("file", form, exc), exc.status)
    return page.redirect(f"/market/projects/{project_id}#photos", flash=_("The file was added."))


@router.get("/market/projects/{project_id}/files/{phase}/{index}")
async def project_file(
    page: SignedInPage,
    project_id: uuid.UUID,
    phase: Annotated[str, Path(pattern="^(before|during|after|documents)$")],
    index: Index,
) -> Response:
    return await _download(page, lambda: ProjectService(page.uow).file(project_id, phase, index))


@router.post("/market/projects/{project_id}/rating")
async def rate(page: SignedInPage, project_id: uuid.UUID) -> Response:
    form = _form(page)
    try:
        data = form_model(
            RatingIn,
            form,
            fields=(
                *(f"{d}_rating" for d in DIMENSIONS),
                "review_title",
                "review_text",
                "would_recommend",
            ),
            checkboxes=("would_recommend",),
        )
        await page.submit(lambda: RatingService(page.uow).create(project_id, data))
    except FormError as exc:
        return await _project_page(page, project_id, FormState.failed("rating", form, exc), exc.status)
    return page.redirect(f"/market/projects/{project_id}", flash=_("Thank you for your review!"))


@router.post("/market/projects/{project_id}/rating/edit")
async def edit_rating(page: SignedInPage, project_id: uuid.UUID) -> Response:
    """The homeowner changes the review within 30 days of giving it (the service and the ratings trigger
    refuse it after: ``rating_edit_window_closed``, said beside the review)."""
    form = _form(page)
    project = await ProjectService(page.uow).get(project_id)
    try:
        if project.rating_id is None:
            raise FormError(_("This project has no review yet."))
        rating_id = project.rating_id
        data = form_model(
            RatingPatch,
            form,
            fields=(
                *(f"{d}_rating" for d in DIMENSIONS),
                "review_title",
                "review_text",
                "would_recommend",
            ),
            checkboxes=("would_recommend",),
            blank_as_null=("review_title", "review_text"),
        )
        await page.submit(lambda: RatingService(page.uow).update(rating_id, data))
    except FormError as exc:
        return await _project_page(page, project_id, FormState.failed("rating-edit", form, exc), exc.status)
    return page.redirect(f"/market/projects/{project_id}#review", flash=_("Your review was updated."))


# --- chat --------------------------------------------------------------------------------------------------------
async def _parents(
    chat: ChatService, project_id: uuid.UUID, messages: list[ChatMessageOut]
) -> dict[uuid.UUID, ChatMessageOut]:
    """The messages ``messages`` answer (those of the list, else read one by one: deleted ones are left out)."""
    known = {m.id: m for m in messages}
    parents: dict[uuid.UUID, ChatMessageOut] = {}
    for message in messages:
        target = message.reply_to_message_id
        if target is None or target in parents:
            continue
        if target in known:
            parents[target] = known[target]
        elif len(parents) < CHAT_PARENT_LOOKUPS:
            try:
                parents[target] = await chat.message(project_id, target)
            except Problem:
                continue
    return parents


async def _chat_page(
    page: Page,
    project_id: uuid.UUID,
    form: FormState = NO_FORM,
    status: int = 200,
    reply_to: uuid.UUID | None = None,
) -> Response:
    chat = ChatService(page.uow)
    project = await ProjectService(page.uow).get(project_id)
    messages, older = await chat.history(project_id, PageParams(limit=50))
    unread = project.my_side != "admin" and any(not m.mine and not m.is_read for m in messages)
    # Opening the conversation reads it. (A write on a GET: said so, or the read-only GET rolls back.)
    if unread and await chat.mark_read(project_id, None):
        page.uow.session.sync_session.info[WROTE] = True
    replying = None
    if reply_to is not None:
        try:
            replying = await chat.message(project_id, reply_to)
        except Problem:
            replying = None
    return page.render(
        "marketplace/chat.html",
        status=status,
        p=project,
        messages=list(reversed(messages)),
        parents=await _parents(chat, project_id, messages),
        older=older,
        reply_to=replying,
        form=form,
        **_common(),
    )


@router.get("/market/projects/{project_id}/chat")
async def chat_page(page: SignedInPage, project_id: uuid.UUID, reply_to: uuid.UUID | None = None) -> Response:
    return await _chat_page(page, project_id, reply_to=reply_to)


@router.post("/market/projects/{project_id}/chat")
@body_limit(CHAT_FILE_LIMIT + MB)  # an optional photo or PDF, plus the form around it
async def send_message(page: SignedInPage, project_id: uuid.UUID) -> Response:
    """A message: its text, an optional photo or PDF (through storage), and the message it answers."""
    form = _form(page)
    reply_to = _uuid(form.get("reply_to"))
    upload = form.get("file")
    try:
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(CHAT_FILE_LIMIT + 1)
            text = _text(page, "text")
            name = upload.filename
            await page.submit(
                lambda: ChatService(page.uow).send_file(project_id, data, name, text, reply_to=reply_to)
            )
        else:
            body = form_model(ChatSendIn, form, fields=("text",))
            await page.submit(lambda: ChatService(page.uow).send(project_id, body.text, reply_to))
    except FormError as exc:
        return await _chat_page(
            page, project_id, FormState.failed("chat", form, exc), exc.status, reply_to=reply_to
        )
    return page.redirect(f"/market/projects/{project_id}/chat#compose")


@router.get("/market/projects/{project_id}/chat/messages/{message_id}")
async def chat_message(page: SignedInPage, project_id: uuid.UUID, message_id: uuid.UUID) -> Response:
    """One message as the conversation shows it (``<li>``): what the chat page's script adds when the
    WebSocket announces a message (404 once it is deleted for the viewer)."""
    chat = ChatService(page.uow)
    message = await chat.message(project_id, message_id)
    project = await ProjectService(page.uow).get(project_id)
    html = page.fragment(
        "marketplace/chat_message.html",
        msg=message,
        p=project,
        parents=await _parents(chat, project_id, [message]),
        **_common(),
    )
    return page.finish(HTMLResponse(html))


@router.get("/market/projects/{project_id}/chat/messages/{message_id}/attachments/{index}")
async def chat_attachment(
    page: SignedInPage, project_id: uuid.UUID, message_id: uuid.UUID, index: Index
) -> Response:
    return await _download(page, lambda: ChatService(page.uow).attachment(project_id, message_id, index))


@router.post("/market/projects/{project_id}/chat/messages/{message_id}/delete")
async def delete_message(page: SignedInPage, project_id: uuid.UUID, message_id: uuid.UUID) -> Response:
    """Deletes the message for the viewer's side only; the row goes once both sides deleted it."""
    return await _in_place(
        page,
        f"/market/projects/{project_id}/chat",
        lambda: ChatService(page.uow).delete(project_id, message_id),
        _("The message was deleted for you. The other side still sees it until they delete it too."),
    )


# --- providers: search and the public profile --------------------------------------------------------------------
@router.get("/market/providers")
async def providers(
    page: SignedInPage,
    q: Annotated[str | None, Query(max_length=200)] = None,
    service: Annotated[str | None, Query(max_length=50)] = None,
    city: Annotated[str | None, Query(max_length=100)] = None,
    cursor: CursorQuery = None,
) -> Response:
    categories = await _categories(page)
    codes = {code for code, _label in categories}
    items, next_cursor = await ProviderService(page.uow).search(
        query=q.strip() if q and q.strip() else None,
        service=service if service in codes else None,
        city=city.strip() if city and city.strip() else None,
        district=None,
        min_rating=None,
        provider_type=None,
        limit=20,
        cursor=cursor,
    )
    return page.render(
        "marketplace/providers.html",
        providers=items,
        next_cursor=next_cursor,
        q=q or "",
        service=service or "",
        city=city or "",
        categories=categories,
        **_common(),
    )


@router.get("/market/providers/{provider_id}")
async def provider_page(page: SignedInPage, provider_id: uuid.UUID, cursor: CursorQuery = None) -> Response:
    provider = await ProviderService(page.uow).get(provider_id)
    portfolio = await PortfolioService(page.uow).of_provider(provider_id)
    ratings = RatingService(page.uow)
    reviews, next_cursor = await ratings.of_provider(
        provider_id, PageParams(limit=10, cursor=cursor), query=None, featured=False
    )
    # The viewer's own reviews get no "helpful" button (the parties of a review do not vote on it).
    mine_rated, _more = await ProjectService(page.uow).mine(PageParams(limit=100), "requester", None, None)
    return page.render(
        "marketplace/provider.html",
        my_projects={p.id for p in mine_rated if p.provider_id == provider_id},
        provider=provider,
        portfolio=portfolio,
        reviews=reviews,
        next_cursor=next_cursor,
        summary=await ratings.summary(provider_id),
        mine=provider.user_id == page.user_id,
        **_common(),
    )


@router.post("/market/ratings/{rating_id}/helpful")
async def vote_helpful(page: SignedInPage, rating_id: uuid.UUID) -> Response:
    rating = await RatingService(page.uow).get(rating_id)
    helpful = _text(page, "helpful", 10) != "false"
    return await _in_place(
        page,
        f"/market/providers/{rating.provider_id}#reviews",
        lambda: RatingService(page.uow).vote(rating_id, helpful),
        _("Thank you: your vote was counted.") if helpful else _("Your vote was taken back."),
    )


@router.get("/market/portfolio/{item_id}/images/{index}")
async def portfolio_image(page: SignedInPage, item_id: uuid.UUID, index: Index) -> Response:
    return await _download(page, lambda: PortfolioService(page.uow).image(item_id, index))


# --- the provider's side -----------------------------------------------------------------------------------------
async def _my_profile(page: Page) -> ProviderOut | None:
    try:
        return await ProviderService(page.uow).mine()
    except Problem as exc:
        if exc.code == "provider_profile_required":
            return None
        raise


@router.get("/business")
async def provider_home(page: SignedInPage, cursor: CursorQuery = None) -> Response:
    profile = await _my_profile(page)
    matching: list[Any] = []
    next_cursor = None
    quotes: list[Any] = []
    projects: list[Any] = []
    unread: dict[uuid.UUID, int] = {}
    if profile is not None:
        if profile.is_verified:
            matching, next_cursor = await RequestService(page.uow).matching(
                PageParams(limit=20, cursor=cursor), None
            )
        quotes, _more = await QuoteService(page.uow).mine(PageParams(limit=10), None, None)
        projects, _more = await ProjectService(page.uow).mine(PageParams(limit=10), "provider", None, None)
        unread = {u.project_id: u.unread for u in await ChatService(page.uow).unread()}
    return page.render(
        "marketplace/provider_home.html",
        profile=profile,
        matching=matching,
        next_cursor=next_cursor,
        quotes=quotes,
        projects=projects,
        unread=unread,
        **_common(),
    )


async def _profile_form(page: Page, form: FormState = NO_FORM, status: int = 200) -> Response:
    profile = await _my_profile(page)
    areas = list(profile.coverage_areas) if profile else []
    return page.render(
        "marketplace/profile_edit.html",
        status=status,
        profile=profile,
        categories=await _categories(page),
        provider_types=_labels(PROVIDER_TYPE_LABELS),
        areas=areas,
        rows=range(max(COVERAGE_ROWS, len(areas) + 1)),
        form=form,
    )


@router.get("/business/profile")
async def edit_profile(page: SignedInPage) -> Response:
    return await _profile_form(page)


@router.post("/business/profile")
async def save_profile(page: SignedInPage) -> Response:
    """``PUT /providers/me`` from the form: what the form does not edit (certifications, the service centre
    and radius, the company) is sent as it is, so saving keeps it."""
    form = _form(page)
    current = await _my_profile(page)
    areas = []
    for i in range(max(COVERAGE_ROWS, len(current.coverage_areas) + 1 if current else 0)):
        city = _text(page, f"area-{i}-city", 100)
        districts = _text(page, f"area-{i}-districts", 5000) or ""
        if city:
            areas.append({"city": city, "districts": [d.strip() for d in districts.split(",") if d.strip()]})
    kept: dict[str, Any] = {"coverage_areas": areas}
    if current is not None:
        kept["certifications"] = [
            c.model_dump(mode="json", exclude={"valid"}, exclude_none=True) for c in current.certifications
        ]
        if current.service_center is not None and current.service_radius_km is not None:
            kept["service_center"] = current.service_center.model_dump(mode="json")
            kept["service_radius_km"] = str(current.service_radius_km)
        if current.organization_id is not None:
            kept["organization_id"] = str(current.organization_id)
    try:
        data = form_model(
            ProviderIn,
            form,
            fields=(
                "provider_type",
                "business_name",
                "description",
                "services_offered",
                "license_number",
                "years_of_experience",
                "contact_phone",
                "website",
            ),
            lists=("services_offered",),
            extra=kept,
        )
        _out, created = await page.submit(lambda: ProviderService(page.uow).put_mine(data))
    except FormError as exc:
        return await _profile_form(page, FormState.failed("profile", form, exc), exc.status)
    return page.redirect(
        "/business",
        flash=_("Your provider profile was created. An admin verifies it before it appears in search.")
        if created
        else _("Your provider profile was saved."),
    )


async def _portfolio_page(page: Page, form: FormState = NO_FORM, status: int = 200) -> Response:
    profile = await _my_profile(page)
    items = await PortfolioService(page.uow).of_provider(profile.id) if profile else []
    return page.render(
        "marketplace/portfolio.html",
        status=status,
        profile=profile,
        items=items,
        categories=await _categories(page),
        form=form,
    )


@router.get("/business/portfolio")
async def portfolio(page: SignedInPage) -> Response:
    return await _portfolio_page(page)


@router.post("/business/portfolio")
@body_limit(PORTFOLIO_IMAGES * UPLOAD_LIMIT + MB)
async def add_portfolio_item(page: SignedInPage) -> Response:
    form = _form(page)
    try:
        fields = form_model(
            PortfolioPatch,
            form,
            fields=("title", "description", "project_type", "project_date", "location", "is_featured"),
            checkboxes=("is_featured",),
        )
        uploads = [u for u in form.getlist("images") if isinstance(u, UploadFile) and u.filename]
        if not uploads:
            raise FormError(_("Check the highlighted fields."), {"images": _("Add at least one photo.")})
        if len(uploads) > PORTFOLIO_IMAGES:
            raise FormError(
                _("Check the highlighted fields."),
                {"images": _("Add at most %(n)s photos at a time.", n=PORTFOLIO_IMAGES)},
            )
        files: list[tuple[bytes, str | None, str | None]] = [
            (await u.read(UPLOAD_LIMIT + 1), u.filename, None) for u in uploads
        ]
        await page.submit(lambda: PortfolioService(page.uow).create(None, fields, files))
    except FormError as exc:
        return await _portfolio_page(page, FormState.failed("portfolio", form, exc), exc.status)
    return page.redirect(
        "/business/portfolio", flash=_("“%(title)s” was added to your portfolio.", title=fields.title)
    )


@router.post("/market/portfolio/{item_id}/delete")
async def delete_portfolio_item(page: SignedInPage, item_id: uuid.UUID) -> Response:
    return await _in_place(
        page,
        "/business/portfolio",
        lambda: PortfolioService(page.uow).delete(item_id),
        _("The portfolio item was removed."),
    )


async def _reviews_page(
    page: Page, cursor: str | None, form: FormState = NO_FORM, status: int = 200
) -> Response:
    profile = await _my_profile(page)
    reviews: list[Any] = []
    next_cursor = None
    if profile is not None:
        reviews, next_cursor = await RatingService(page.uow).of_provider(
            profile.id, PageParams(limit=20, cursor=cursor), query=None, featured=False
        )
    return page.render(
        "marketplace/reviews.html",
        status=status,
        profile=profile,
        reviews=reviews,
        next_cursor=next_cursor,
        form=form,
        **_common(),
    )


@router.get("/business/reviews")
async def my_reviews(page: SignedInPage, cursor: CursorQuery = None) -> Response:
    return await _reviews_page(page, cursor)


@router.post("/market/ratings/{rating_id}/response")
async def respond(page: SignedInPage, rating_id: uuid.UUID) -> Response:
    form = _form(page)
    text = _text(page, "text", 5000)
    try:
        if not text:
            raise FormError(_("Check the highlighted fields."), {"text": _("This field is required.")})
        await page.submit(lambda: RatingService(page.uow).respond(rating_id, text))
    except FormError as exc:
        return await _reviews_page(
            page, None, FormState.failed(f"response-{rating_id}", form, exc), exc.status
        )
    return page.redirect("/business/reviews", flash=_("Your answer is published with the review."))


# --- admin -------------------------------------------------------------------------------------------------------
@router.get("/market/admin")
async def admin_home(page: SignedInPage) -> Response:
    admin = MarketAdminService(page.uow)
    return page.render(
        "marketplace/admin.html",
        pending=await admin.providers_to_verify(50),
        disputed=await admin.disputed_projects(50),
        **_common(),
    )


@router.post("/market/admin/providers/{provider_id}/verify")
async def verify_provider(page: SignedInPage, provider_id: uuid.UUID) -> Response:
    verified = _text(page, "verified", 10) != "false"
    target = safe_next(_text(page, "next", 2000), "/market/admin")
    return await _in_place(
        page,
        target,
        lambda: ProviderService(page.uow).verify(provider_id, verified),
        _("The provider is verified and now appears in search.")
        if verified
        else _("The provider's verification was withdrawn."),
    )


# --- panels ------------------------------------------------------------------------------------------------------
async def device_panel(page: Page, device: DeviceOut) -> Markup | None:
    if not page.can(device.home_id, "member") or page.role not in HOMEOWNER_ROLES:
        return None
    return page.fragment("marketplace/device_panel.html", device=device)


async def dashboard_panel(page: Page, _subject: object) -> Markup | None:
    """Quotes waiting for the homeowner's decision and the projects under way (nothing when there are none)."""
    if page.role not in HOMEOWNER_ROLES:
        return None
    waiting, _more = await RequestService(page.uow).mine(PageParams(limit=5), RequestStatus.quotes_received)
    projects, _more = await ProjectService(page.uow).mine(PageParams(limit=20), "requester", None, None)
    active = [p for p in projects if p.status in (ProjectStatus.scheduled, ProjectStatus.in_progress)][:5]
    if not waiting and not active:
        return None
    return page.fragment("marketplace/dashboard_panel.html", waiting=waiting, active=active, **_common())


pages = Pages.of(
    __file__,
    "marketplace",
    router=router,
    nav=(
        NavItem(N_("Services"), "/market", order=35, roles=HOMEOWNER_ROLES),
        NavItem(N_("My business"), "/business", order=36, roles=PROVIDER_ROLES),
        NavItem(N_("Marketplace"), "/market/admin", order=70, roles=ADMIN_ROLES),
    ),
    panels=(Panel("device", device_panel, order=30), Panel("dashboard", dashboard_panel, order=40)),
    messages=MESSAGES,
)

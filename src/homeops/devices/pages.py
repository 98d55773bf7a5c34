"""Devices in the browser: the list with filters (home, status, category, room, text) and the exact-serial
search, adding a device (catalog model picker, or free text), editing it, and the device page — details and
warranty, the serial on demand, its manuals in seed 000 Query 2 order (upload, open at a page, search within
them) and the replacement chain. Maintenance and troubleshooting add their sections through the "device"
panel slot. Every action is a ``DeviceService`` / ``DeviceManualService`` / ``ManualService`` call."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query, Response
from markupsafe import Markup
from starlette.datastructures import UploadFile

from homeops.catalog.service import CatalogService
from homeops.core.pagination import PageParams
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
from homeops.devices.models import DeviceStatus
from homeops.devices.schemas import DeviceIn, DeviceOut, DevicePatch
from homeops.devices.service import DeviceManualService, DeviceService, ModerationQueueService
from homeops.homes.service import HomeService
from homeops.identity.web import SignedInPage
from homeops.manuals.models import ManualType
from homeops.manuals.pages import QueueView, render_queue
from homeops.manuals.schemas import ManualMeta
from homeops.manuals.service import ManualService

router = page_router()
Text = Annotated[str | None, Query(max_length=200)]

STATUS_LABELS = {
    DeviceStatus.active: N_("Active"),
    DeviceStatus.inactive: N_("Inactive"),
    DeviceStatus.archived: N_("Archived"),
    DeviceStatus.replaced: N_("Replaced"),
    DeviceStatus.removed: N_("Removed"),
}
MANUAL_TYPE_LABELS = {
    ManualType.user: N_("User manual"),
    ManualType.troubleshooting: N_("Troubleshooting guide"),
    ManualType.installation: N_("Installation guide"),
    ManualType.service: N_("Service manual"),
    ManualType.parts: N_("Parts list"),
    ManualType.quick_start: N_("Quick start"),
    ManualType.warranty: N_("Warranty"),
    ManualType.other: N_("Other"),
}
MANUAL_STATUS_LABELS = {
    "pending": N_("Waiting to be processed"),
    "processing": N_("Processing"),
    "ready": N_("Ready"),
    "failed": N_("Could not be read"),
}
MESSAGES = {
    "device_not_found": N_("This device does not exist or you cannot see it."),
    "room_not_in_home": N_("Choose a room of this device's home."),
    "unknown_category": N_("Choose one of the categories."),
    "model_not_found": N_("This catalog model does not exist."),
    "device_not_in_home": N_("The replaced device must be in the same home."),
    "manual_not_found": N_("This manual does not exist or you cannot see it."),
    "empty_file": N_("The file is empty."),
    "file_too_large": N_("The file is too large."),
    "unsupported_media_type": N_("Only PDF manuals are accepted."),
    "home_required": N_("Choose the home this manual is for."),
    "link_not_found": N_("This manual is not linked to the device."),
}


def _labels(mapping: dict[Any, str]) -> list[tuple[str, str]]:
    return [(str(key), _(label)) for key, label in mapping.items()]


async def _categories(page: Page) -> list[tuple[str, str]]:
    return [(c.code, c.label) for c in await CatalogService(page.uow).categories()]


async def _my_homes(page: Page) -> list[Any]:
    homes, _more = await HomeService(page.uow).list_mine(PageParams(limit=200))
    return homes


# --- the list -------------------------------------------------------------------------------------------------
@router.get("/devices")
async def device_list(
    page: SignedInPage,
    home: uuid.UUID | None = None,
    status: DeviceStatus | None = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    room: uuid.UUID | None = None,
    q: Text = None,
    serial: Annotated[str | None, Query(max_length=100)] = None,
    cursor: CursorQuery = None,
) -> Response:
    service = DeviceService(page.uow)
    devices, next_cursor = await service.search(
        PageParams(limit=25, cursor=cursor),
        home_id=home,
        status=status,
        category=category or None,
        room_id=room,
        serial=serial.strip() or None if serial else None,
        text=q,
    )
    homes = await _my_homes(page)
    rooms = await HomeService(page.uow).list_rooms(home) if home else []
    filtered = any(v for v in (home, status, category, room, q, serial))
    return page.render(
        "devices/list.html",
        devices=devices,
        next_cursor=next_cursor,
        homes=homes,
        home_names={h.id: h.name for h in homes},
        rooms=rooms,
        categories=await _categories(page),
        statuses=_labels(STATUS_LABELS),
        status_labels=STATUS_LABELS,
        filters={
            "home": home,
            "status": status,
            "category": category,
            "room": room,
            "q": q,
            "serial": serial,
        },
        filtered=filtered,
    )


# --- add a device ---------------------------------------------------------------------------------------------
async def _new_device_page(
    page: Page, home_id: uuid.UUID, form: FormState = NO_FORM, status: int = 200
) -> Response:
    home = await HomeService(page.uow).get(home_id)
    params = page.request.query_params
    model_q = (params.get("model_q") or "").strip()[:200]
    results: list[Any] = []
    if model_q:
        catalog = CatalogService(page.uow)
        results, _more = await catalog.list_models(
            PageParams(limit=10), manufacturer=None, category=None, model_number=None, q=model_q
        )
        if not results:  # the words match no name or model number: perhaps it is the manufacturer's name
            results, _more = await catalog.list_models(
                PageParams(limit=10), manufacturer=model_q, category=None, model_number=None, q=None
            )
    chosen = None
    model_id = form.value("model_id", params.get("model_id") or "")
    if model_id:
        try:
            chosen = await CatalogService(page.uow).get_model(uuid.UUID(str(model_id)))
        except ValueError:
            chosen = None
    if chosen is not None and not form.failed_:
        name = chosen.product_name or f"{chosen.manufacturer} {chosen.model_number}"
        form = FormState("device", {"nickname": name, "category": chosen.category})
    replaces = params.get("replaces") or form.value("replaces_device_id", "")
    replaced = None
    if replaces:
        try:
            replaced = await DeviceService(page.uow).get(uuid.UUID(str(replaces)))
        except ValueError:
            replaced = None
    return page.render(
        "devices/new.html",
        status=status,
        home=home,
        form=form,
        model_q=model_q,
        results=results,
        chosen=chosen,
        replaced=replaced,
        rooms=await HomeService(page.uow).list_rooms(home_id),
        categories=await _categories(page),
    )


@router.get("/homes/{home_id}/devices/new")
async def new_device(page: SignedInPage, home_id: uuid.UUID) -> Response:
    return await _new_device_page(page, home_id)


_DEVICE_FIELDS = (
    "nickname",
    "room_id",
    "category",
    "serial_number",
    "location_detail",
    "purchase_date",
    "purchase_price",
    "installation_date",
    "warranty_start",
    "warranty_end",
    "notes",
    "firmware_version",
)


@router.post("/homes/{home_id}/devices")
async def create_device(page: SignedInPage, home_id: uuid.UUID) -> Response:
    assert page.form is not None
    fields = [*_DEVICE_FIELDS, "replaces_device_id"]
    fields += ["model_id"] if page.form.get("model_id") else ["manufacturer", "model_number"]
    try:
        data = form_model(DeviceIn, page.form, fields=fields)
        device = await page.submit(lambda: DeviceService(page.uow).create(home_id, data))
    except FormError as exc:
        return await _new_device_page(page, home_id, FormState.failed("device", page.form, exc), exc.status)
    return page.redirect(f"/devices/{device.id}", flash=_("“%(name)s” was added.", name=device.nickname))


# --- edit -----------------------------------------------------------------------------------------------------
async def _edit_page(
    page: Page, device_id: uuid.UUID, form: FormState = NO_FORM, status: int = 200
) -> Response:
    device = await DeviceService(page.uow).get(device_id)
    return page.render(
        "devices/edit.html",
        status=status,
        device=device,
        form=form,
        rooms=await HomeService(page.uow).list_rooms(device.home_id),
        categories=await _categories(page),
        statuses=_labels(STATUS_LABELS),
    )


@router.get("/devices/{device_id}/edit")
async def edit_device_form(page: SignedInPage, device_id: uuid.UUID) -> Response:
    return await _edit_page(page, device_id)


@router.post("/devices/{device_id}/edit")
async def edit_device(page: SignedInPage, device_id: uuid.UUID) -> Response:
    assert page.form is not None
    clearable = tuple(f for f in _DEVICE_FIELDS if f not in ("nickname", "serial_number"))
    try:
        patch = form_model(
            DevicePatch,
            page.form,
            fields=(*_DEVICE_FIELDS, "status"),
            blank_as_null=clearable,
            keep_blank=("nickname",),
        )
        await page.submit(lambda: DeviceService(page.uow).update(device_id, patch))
    except FormError as exc:
        return await _edit_page(page, device_id, FormState.failed("device", page.form, exc), exc.status)
    return page.redirect(f"/devices/{device_id}", flash=_("The device was saved."))


@router.post("/devices/{device_id}/delete")
async def delete_device(page: SignedInPage, device_id: uuid.UUID) -> Response:
    service = DeviceService(page.uow)
    device = await service.get(device_id)
    await service.delete(device_id)
    return page.redirect(f"/homes/{device.home_id}", flash=_("“%(name)s” was deleted.", name=device.nickname))


# --- the device page ------------------------------------------------------------------------------------------
async def _chain(service: DeviceService, device: DeviceOut) -> tuple[list[DeviceOut], list[DeviceOut]]:
    """The devices this one replaced (oldest first) and those that replaced it (newest last), 10 each way."""
    before: list[DeviceOut] = []
    after: list[DeviceOut] = []
    current = device
    while current.replaces_device_id is not None and len(before) < 10:
        current = await service.get(current.replaces_device_id)
        before.insert(0, current)
    current = device
    while current.replaced_by_device_id is not None and len(after) < 10:
        current = await service.get(current.replaced_by_device_id)
        after.append(current)
    return before, after


async def render_device_page(
    page: Page, device_id: uuid.UUID, form: FormState = NO_FORM, status: int = 200
) -> Response:
    """The device page; ``form``: a form of it (or of a panel on it) that failed, shown with its messages."""
    page.state = form
    service = DeviceService(page.uow)
    device = await service.get(device_id)
    links = DeviceManualService(page.uow)
    manuals = await links.manuals(device_id)
    q = (page.request.query_params.get("q") or "").strip()[:300]
    hits = None
    if len(q) >= 2:
        scope = await links.manual_scope(device_id)
        hits = await ManualService(page.uow).search(q, scope=scope, limit=10)
    before, after = await _chain(service, device)
    today = page.uow.today((await HomeService(page.uow).get(device.home_id)).timezone)
    return page.render(
        "devices/device.html",
        status=status,
        device=device,
        manuals=manuals,
        processing=any(m.status in ("pending", "processing") for m in manuals),
        q=q,
        hits=hits,
        before=before,
        after=after,
        today=today,
        warranty_days=(device.warranty_end - today).days if device.warranty_end else None,
        show_serial=page.request.query_params.get("serial") == "show",
        form=form,
        status_labels=STATUS_LABELS,
        manual_types=_labels(MANUAL_TYPE_LABELS),
        manual_type_labels=MANUAL_TYPE_LABELS,
        manual_status_labels=MANUAL_STATUS_LABELS,
        panels=await page.panels("device", device),
    )


@router.get("/devices/{device_id}")
async def device_page(page: SignedInPage, device_id: uuid.UUID) -> Response:
    return await render_device_page(page, device_id)


@router.post("/devices/{device_id}/manuals")
async def upload_manual(page: SignedInPage, device_id: uuid.UUID) -> Response:
    """Uploads a PDF for this device's home and links it to the device (a duplicate links the existing one)."""
    assert page.form is not None
    device = await DeviceService(page.uow).get(device_id)
    upload = page.form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise FormError(_("Check the highlighted fields."), {"file": _("Choose a PDF file.")})
        meta = form_model(
            ManualMeta,
            page.form,
            fields=("manual_type", "title", "language", "version"),
            extra={
                "manufacturer": device.manufacturer or _("Unknown manufacturer"),
                "model_numbers": [device.model_number] if device.model_number else [],
            },
        )
        max_bytes = page.settings.max_manual_upload_mb * 1024 * 1024
        data = await upload.read(max_bytes + 1)
        library = ManualService(page.uow)

        async def store() -> Any:
            target = await library.target(device.home_id, None)
            uploaded = await library.upload(data, upload.filename or "manual.pdf", meta, max_bytes, target)
            await DeviceManualService(page.uow).link(device_id, uploaded.manual.id)
            return uploaded

        uploaded = await page.submit(store)
    except FormError as exc:
        return await render_device_page(
            page, device_id, FormState.failed("manual", page.form, exc), exc.status
        )
    message = (
        _("The manual was uploaded; it is being processed and will be searchable in a moment.")
        if uploaded.created
        else _("This manual was already in the library; it is now linked to the device.")
    )
    return page.redirect(f"/devices/{device_id}#manuals", flash=message)


@router.post("/devices/{device_id}/manuals/{manual_id}/unlink")
async def unlink_manual(page: SignedInPage, device_id: uuid.UUID, manual_id: uuid.UUID) -> Response:
    await DeviceManualService(page.uow).unlink(device_id, manual_id)
    return page.redirect(f"/devices/{device_id}#manuals", flash=_("The manual was unlinked from the device."))


# --- panels -----------------------------------------------------------------------------------------------------
async def home_devices_panel(page: Page, home: Any) -> Markup:
    devices, more = await DeviceService(page.uow).search(PageParams(limit=10), home_id=home.id)
    return page.fragment(
        "devices/panel_home.html", home=home, devices=devices, more=more, status_labels=STATUS_LABELS
    )


async def warranty_panel(page: Page, _subject: object) -> Markup:
    expiring = await DeviceService(page.uow).warranty_expiring(60)
    return page.fragment("devices/panel_warranty.html", expiring=expiring[:10], total=len(expiring))


async def moderation_panel(page: Page, view: QueueView) -> Markup:
    """The manual library's moderation queue (support staff's page of ``homeops.manuals.pages``): it counts
    links to devices, so the devices domain fetches it."""
    items, next_cursor = await ModerationQueueService(page.uow).queue(
        PageParams(limit=view.page_size, cursor=view.cursor), most_linked=view.order == "most_linked"
    )
    return render_queue(page, view, items, next_cursor)


pages = Pages.of(
    __file__,
    "devices",
    router=router,
    nav=(NavItem(N_("Devices"), "/devices", order=20),),
    panels=(
        Panel("home", home_devices_panel, order=10),
        Panel("dashboard", warranty_panel, order=40),
        Panel("moderation", moderation_panel),
    ),
    messages=MESSAGES,
)

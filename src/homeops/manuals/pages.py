"""The manual library's pages: opening a manual (at a cited page) from any page that lists or cites one, and
the moderation queue of support staff (support and admin users, ``SupportPage``) at ``/support/manuals``:
unverified household uploads and reported manuals, newest or most-linked first, each with its reports'
reasons, to verify, hide or delete (``ManualModeration`` does each and audits it).

The queue counts each manual's links to devices, which belong to the devices domain: the queue itself is the
``"moderation"`` panel that ``homeops.devices.pages`` puts on this page (subject: ``QueueView``), rendered with
``manuals/_queue.html``; the actions are here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import Query, Response
from markupsafe import Markup

from homeops.core.web import (
    N_,
    NO_FORM,
    CursorQuery,
    FormError,
    FormState,
    NavItem,
    Page,
    Pages,
    _,
    form_model,
    page_router,
)
from homeops.identity.support import SUPPORT_NAV_ROLES, SupportPage
from homeops.identity.web import SignedInPage
from homeops.manuals.moderation import ManualModeration
from homeops.manuals.schemas import HideIn, QueueItem
from homeops.manuals.service import ManualService

router = page_router()
QUEUE_PATH = "/support/manuals"
Order = Literal["newest", "most_linked"]

MESSAGES = {
    "already_in_library": N_(
        "The shared library already holds this file. Hide or delete this copy instead of verifying it."
    ),
    "moderators_only": N_("Only support staff moderate the shared library; report the manual instead."),
}
VISIBILITY_LABELS = {
    "household": N_("Household upload"),
    "shared": N_("Shared library"),
    "hidden": N_("Hidden"),
}


@dataclass(frozen=True)
class QueueView:
    """What the moderation queue's panel shows: the order and the page (keyset cursor)."""

    order: Order
    cursor: str | None
    page_size: int = 20


def render_queue(page: Page, view: QueueView, items: list[QueueItem], next_cursor: str | None) -> Markup:
    """The queue's items as the moderation page shows them (for the panel that fetches them)."""
    return page.fragment(
        "manuals/_queue.html",
        view=view,
        items=items,
        next_cursor=next_cursor,
        visibility_labels=VISIBILITY_LABELS,
    )


@router.get("/manuals/{manual_id}/open")
async def open_manual(
    page: SignedInPage,
    manual_id: uuid.UUID,
    at: Annotated[int | None, Query(alias="page", ge=1, le=100_000)] = None,
) -> Response:
    """A redirect to a short-lived signed URL of the PDF, shown in the browser at ``page`` (``#page=N``, which
    PDF viewers follow)."""
    download = await ManualService(page.uow).download(manual_id, inline=True)
    url = download.url
    parts = urlsplit(url)
    if parts.netloc == page.request.url.netloc:
        url = parts.path + (
            f"?{parts.query}" if parts.query else ""
        )  # our own file route: stay on this origin
    if at is not None:
        url += f"#page={at}"
    return page.finish(Response(status_code=303, headers={"Location": url}))


# --- moderation (support and admin staff) ---------------------------------------------------------------------
async def _queue_page(
    page: Page, order: Order, cursor: str | None, form: FormState = NO_FORM, status: int = 200
) -> Response:
    page.state = form  # the panel shows the failed form's message next to its manual
    view = QueueView(order, cursor)
    return page.render(
        "manuals/support_queue.html",
        status=status,
        order=order,
        queue=await page.panels("moderation", view),
        form=form,
    )


@router.get(QUEUE_PATH)
async def moderation_queue(
    page: SupportPage, order: Order = "newest", cursor: CursorQuery = None
) -> Response:
    return await _queue_page(page, order, cursor)


def _back(page: Page) -> tuple[Order, str | None]:
    """The queue's order and page the form was sent from (its hidden fields)."""
    assert page.form is not None
    order = page.form.get("order")
    cursor = page.form.get("cursor")
    return (
        "most_linked" if order == "most_linked" else "newest",
        cursor if isinstance(cursor, str) and cursor and len(cursor) <= 512 else None,
    )


def _queue_url(page: Page, order: Order, cursor: str | None) -> str:
    return page.url(QUEUE_PATH, order=order if order != "newest" else None, cursor=cursor) + "#queue"


@router.post(QUEUE_PATH + "/{manual_id}/verify")
async def verify_manual(page: SupportPage, manual_id: uuid.UUID) -> Response:
    order, cursor = _back(page)
    try:
        manual = await page.submit(lambda: ManualModeration(page.uow).verify(manual_id))
    except FormError as exc:
        return await _queue_page(
            page, order, cursor, FormState.failed(f"moderate-{manual_id}", page.form, exc), exc.status
        )
    title = manual.title or manual.file_name
    return page.redirect(
        _queue_url(page, order, cursor),
        flash=_("“%(title)s” is verified: it is in the shared library now.", title=title),
    )


@router.post(QUEUE_PATH + "/{manual_id}/hide")
async def hide_manual(page: SupportPage, manual_id: uuid.UUID) -> Response:
    assert page.form is not None
    order, cursor = _back(page)
    try:
        data = form_model(HideIn, page.form, fields=("reason",))
        manual = await page.submit(lambda: ManualModeration(page.uow).hide(manual_id, data.reason))
    except FormError as exc:
        return await _queue_page(
            page, order, cursor, FormState.failed(f"moderate-{manual_id}", page.form, exc), exc.status
        )
    title = manual.title or manual.file_name
    return page.redirect(
        _queue_url(page, order, cursor),
        flash=_("“%(title)s” is hidden: only support staff see it now.", title=title),
    )


@router.post(QUEUE_PATH + "/{manual_id}/delete")
async def delete_manual(page: SupportPage, manual_id: uuid.UUID) -> Response:
    order, cursor = _back(page)
    try:
        await page.submit(lambda: ManualModeration(page.uow).delete(manual_id))
    except FormError as exc:
        return await _queue_page(
            page, order, cursor, FormState.failed(f"moderate-{manual_id}", page.form, exc), exc.status
        )
    return page.redirect(_queue_url(page, order, cursor), flash=_("The manual was deleted."))


pages = Pages.of(
    __file__,
    "manuals",
    router=router,
    nav=(NavItem(N_("Moderation"), QUEUE_PATH, order=72, roles=SUPPORT_NAV_ROLES),),
    messages=MESSAGES,
)

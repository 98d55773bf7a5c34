"""Notifications in the browser: the list (all or unread, keyset pages), mark read, mark all read, delete;
the unread count on the dashboard."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response
from markupsafe import Markup

from homeops.core.pagination import PageParams
from homeops.core.web import N_, NavItem, Page, Pages, Panel, _, ngettext, page_router
from homeops.core.web.page import safe_next
from homeops.identity.web import SignedInPage
from homeops.notifications.service import NotificationService

router = page_router()
MESSAGES = {"notification_not_found": N_("This notification no longer exists.")}
UNREAD_SHOWN = 99  # the dashboard counts up to this many ("99+")


@router.get("/notifications")
async def notifications(
    page: SignedInPage, unread: bool = False, cursor: Annotated[str | None, Query(max_length=512)] = None
) -> Response:
    items, next_cursor = await NotificationService(page.uow).list_mine(
        PageParams(limit=25, cursor=cursor), unread
    )
    return page.render("notifications/list.html", items=items, next_cursor=next_cursor, unread=unread)


def _back(page: Page) -> str:
    assert page.form is not None
    return safe_next(str(page.form.get("next") or ""), "/notifications")


@router.post("/notifications/{notification_id}/read")
async def read(page: SignedInPage, notification_id: uuid.UUID) -> Response:
    await NotificationService(page.uow).read(notification_id)
    return page.redirect(_back(page))


@router.post("/notifications/read-all")
async def read_all(page: SignedInPage) -> Response:
    count = await NotificationService(page.uow).read_all()
    done = ngettext("%(num)s notification marked as read.", "%(num)s notifications marked as read.", count)
    return page.redirect(_back(page), flash=done if count else None)


@router.post("/notifications/{notification_id}/delete")
async def delete(page: SignedInPage, notification_id: uuid.UUID) -> Response:
    await NotificationService(page.uow).delete(notification_id)
    return page.redirect(_back(page), flash=_("The notification was deleted."))


async def unread_panel(page: Page, _subject: object) -> Markup:
    items, more = await NotificationService(page.uow).list_mine(PageParams(limit=UNREAD_SHOWN), True)
    return page.fragment(
        "notifications/panel_unread.html", count=len(items), more=more is not None, latest=items[:3]
    )


pages = Pages.of(
    __file__,
    "notifications",
    router=router,
    nav=(NavItem(N_("Notifications"), "/notifications", order=50),),
    panels=(Panel("dashboard", unread_panel, order=5),),
    messages=MESSAGES,
)

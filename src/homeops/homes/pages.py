"""Homes in the browser: my homes (create one), a home with its rooms and members (owner/admin manage them),
and the "home" slot that higher domains fill (devices lists the home's devices there)."""

from __future__ import annotations

import uuid
from functools import cache
from zoneinfo import available_timezones

from fastapi import Response
from markupsafe import Markup

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
from homeops.homes.models import HomeRole
from homeops.homes.schemas import Address, HomeIn, HomePatch, MemberIn, RoomIn
from homeops.homes.service import HomeService
from homeops.identity.web import SignedInPage

router = page_router()

MESSAGES = {
    "room_exists": N_("A room with this name already exists in this home."),
    "room_not_found": N_("This room no longer exists."),
    "user_not_found": N_("No active account has this email. Ask them to create an account first."),
    "already_member": N_("This person is already a member of the home."),
    "cannot_remove_owner": N_("The owner cannot be removed from their home."),
    "member_not_found": N_("This person is not a member of the home."),
}

ROLE_LABELS = {
    HomeRole.owner: N_("Owner"),
    HomeRole.admin: N_("Admin"),
    HomeRole.member: N_("Member"),
    HomeRole.guest: N_("Guest"),
}


@cache
def timezones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def _default_zone(page: Page) -> str:
    return "Asia/Riyadh" if page.locale == "ar" else "UTC"


# --- my homes -------------------------------------------------------------------------------------------------
async def _homes_page(
    page: Page, cursor: str | None, form: FormState = NO_FORM, status: int = 200
) -> Response:
    homes, next_cursor = await HomeService(page.uow).list_mine(PageParams(limit=25, cursor=cursor))
    return page.render(
        "homes/list.html",
        status=status,
        homes=homes,
        next_cursor=next_cursor,
        form=form,
        zones=timezones(),
        default_zone=_default_zone(page),
        role_labels=ROLE_LABELS,
    )


@router.get("/homes")
async def my_homes(page: SignedInPage, cursor: CursorQuery = None) -> Response:
    return await _homes_page(page, cursor)


@router.post("/homes")
async def create_home(page: SignedInPage) -> Response:
    assert page.form is not None
    try:
        address = form_model(Address, page.form, fields=("city", "country"))
        data = form_model(HomeIn, page.form, fields=("name", "timezone"), extra={"address": address})
        home = await page.submit(lambda: HomeService(page.uow).create(data))
    except FormError as exc:
        return await _homes_page(page, None, FormState.failed("new-home", page.form, exc), exc.status)
    return page.redirect(f"/homes/{home.id}", flash=_("Your home was created. Add its rooms and devices."))


# --- one home -------------------------------------------------------------------------------------------------
async def _home_page(
    page: Page, home_id: uuid.UUID, form: FormState = NO_FORM, status: int = 200
) -> Response:
    service = HomeService(page.uow)
    home = await service.get(home_id)
    rooms = await service.list_rooms(home_id)
    members = await service.list_members(home_id)
    return page.render(
        "homes/home.html",
        status=status,
        home=home,
        rooms=rooms,
        members=members,
        form=form,
        zones=timezones(),
        role_labels=ROLE_LABELS,
        invite_roles=[
            (r.value, _(ROLE_LABELS[r])) for r in (HomeRole.member, HomeRole.guest, HomeRole.admin)
        ],
        panels=await page.panels("home", home),
    )


@router.get("/homes/{home_id}")
async def home(page: SignedInPage, home_id: uuid.UUID) -> Response:
    return await _home_page(page, home_id)


@router.post("/homes/{home_id}/edit")
async def edit_home(page: SignedInPage, home_id: uuid.UUID) -> Response:
    assert page.form is not None
    try:
        patch = form_model(HomePatch, page.form, fields=("name", "timezone"), keep_blank=("name",))
        await page.submit(lambda: HomeService(page.uow).update(home_id, patch))
    except FormError as exc:
        return await _home_page(page, home_id, FormState.failed("edit-home", page.form, exc), exc.status)
    return page.redirect(f"/homes/{home_id}", flash=_("The home was saved."))


@router.post("/homes/{home_id}/rooms")
async def add_room(page: SignedInPage, home_id: uuid.UUID) -> Response:
    assert page.form is not None
    try:
        data = form_model(RoomIn, page.form, fields=("name", "room_type", "floor"))
        room = await page.submit(lambda: HomeService(page.uow).create_room(home_id, data))
    except FormError as exc:
        return await _home_page(page, home_id, FormState.failed("add-room", page.form, exc), exc.status)
    return page.redirect(f"/homes/{home_id}#rooms", flash=_("Room “%(name)s” added.", name=room.name))


@router.post("/homes/{home_id}/rooms/{room_id}/delete")
async def delete_room(page: SignedInPage, home_id: uuid.UUID, room_id: uuid.UUID) -> Response:
    await HomeService(page.uow).delete_room(room_id)
    return page.redirect(f"/homes/{home_id}#rooms", flash=_("The room was removed."))


@router.post("/homes/{home_id}/members")
async def add_member(page: SignedInPage, home_id: uuid.UUID) -> Response:
    assert page.form is not None
    try:
        data = form_model(MemberIn, page.form, fields=("email", "role"))
        member = await page.submit(lambda: HomeService(page.uow).add_member(home_id, data))
    except FormError as exc:
        return await _home_page(page, home_id, FormState.failed("add-member", page.form, exc), exc.status)
    return page.redirect(
        f"/homes/{home_id}#members", flash=_("%(name)s is now a member of the home.", name=member.full_name)
    )


@router.post("/homes/{home_id}/members/{user_id}/remove")
async def remove_member(page: SignedInPage, home_id: uuid.UUID, user_id: uuid.UUID) -> Response:
    await HomeService(page.uow).remove_member(home_id, user_id)
    if user_id == page.user_id:
        return page.redirect("/homes", flash=_("You left the home."))
    return page.redirect(f"/homes/{home_id}#members", flash=_("The member was removed."))


# --- the dashboard's panel --------------------------------------------------------------------------------------
async def homes_panel(page: Page, _subject: object) -> Markup:
    homes, more = await HomeService(page.uow).list_mine(PageParams(limit=6))
    return page.fragment("homes/panel_homes.html", homes=homes, more=more, role_labels=ROLE_LABELS)


pages = Pages.of(
    __file__,
    "homes",
    router=router,
    nav=(NavItem(N_("Homes"), "/homes", order=10),),
    panels=(Panel("dashboard", homes_panel, order=10),),
    messages=MESSAGES,
)

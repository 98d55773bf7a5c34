"""Page dependencies: the browser's session cookie authenticated like a bearer token, and the page's unit of
work — the same one the API's routes get (``homeops.identity.deps``), so pages call the same services under the
same row security.

The cookie (``homeops.core.web.security``) is verified in Python (signature, expiry), then
``homeops_begin(session, user)`` goes out pipelined with ``BEGIN``: the session must be live, and the
transaction acts as the user with the stored role and memberships. A cookie whose session has ended is cleared.

* ``SignedInPage``: a signed-in user, else a redirect to the sign-in page (back here afterwards).
* ``AnyPage``: signed in or not (no database work when signed out: ``page.uow`` is unavailable then).
* ``AnonymousPage``: signed in or not, always with a unit of work (anonymous when signed out): sign-in,
  registration.
* ``AdminPage``: a signed-in platform admin; anyone else signed in gets 403 ``role_required`` (the services
  and the row policies check again).

Form posts are CSRF-checked by ``PageRoute`` before the dependency runs; ``page.form`` is the parsed form.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from homeops.core.actor import Actor
from homeops.core.context import get_context, open_connection
from homeops.core.errors import Forbidden
from homeops.core.tenancy import UserRole
from homeops.core.uow import UnitOfWork
from homeops.core.web import Page, SignInRequired
from homeops.core.web import security as web_security
from homeops.core.web.page import UNSAFE_METHODS
from homeops.identity.repository import establish_identity


def _unit(request: Request, actor: Actor) -> UnitOfWork:
    ctx = get_context(request)
    state = request.app.state
    return UnitOfWork(
        ctx.orm_session, actor, ctx, state.runtime, state.bus, ctx.after_commit, ctx.durable_ops, ctx.driver
    )


async def _form(request: Request) -> FormData | None:
    return await request.form() if request.method in UNSAFE_METHODS else None


async def _page(request: Request, *, required: bool, always_uow: bool) -> Page:
    settings = request.app.state.settings
    form = await _form(request)
    cookie = web_security.read_session(settings, request)
    if cookie is not None:
        driver = await open_connection(request, begin=False)
        actor = await establish_identity(driver, cookie.session_id, cookie.user_id)
        if actor is not None:
            ctx = get_context(request)
            ctx.user_id, ctx.session_id, ctx.role = actor.user_id, actor.session_id, actor.role
            return Page(request, uow=_unit(request, actor), actor=actor, form=form)
        # The session ended (signed out elsewhere, password changed, revoked): forget the cookie.
        page = Page(request, uow=_unit(request, Actor.anonymous()), form=form)
        page.clear_cookie(web_security.SESSION_COOKIE)
        if required:
            raise SignInRequired()
        return page
    if required:
        Page(request, form=form)
        raise SignInRequired()
    if always_uow:
        await open_connection(request)
        return Page(request, uow=_unit(request, Actor.anonymous()), form=form)
    return Page(request, form=form)


async def signed_in_page(request: Request) -> Page:
    return await _page(request, required=True, always_uow=True)


async def any_page(request: Request) -> Page:
    return await _page(request, required=False, always_uow=False)


async def anonymous_page(request: Request) -> Page:
    return await _page(request, required=False, always_uow=True)


SignedInPage = Annotated[Page, Depends(signed_in_page)]
AnyPage = Annotated[Page, Depends(any_page)]
AnonymousPage = Annotated[Page, Depends(anonymous_page)]


async def admin_page(request: Request) -> Page:
    page = await _page(request, required=True, always_uow=True)
    if page.actor is None or page.actor.role is not UserRole.admin:
        raise Forbidden("Your role does not allow this.", code="role_required")
    return page


AdminPage = Annotated[Page, Depends(admin_page)]

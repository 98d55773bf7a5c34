"""The identity pages: sign-in, registration, sign-out, the dashboard (filled by the domains' "dashboard"
panels), profile, password and language. They call ``IdentityService`` like the API does; the browser gets a
session cookie (``homeops.core.web.security``), never a token."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Query, Response

from homeops.core.errors import Problem
from homeops.core.pagination import PageParams
from homeops.core.tenancy import UserRole
from homeops.core.web import (
    N_,
    NO_FORM,
    FormError,
    FormState,
    NavItem,
    Page,
    Pages,
    _,
    form_model,
    i18n,
    page_router,
)
from homeops.core.web import security as web_security
from homeops.core.web.page import safe_next
from homeops.identity.admin import UserAdminService
from homeops.identity.schemas import (
    LoginIn,
    PasswordChangeIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    RegisterIn,
    UserPatch,
    VerifyEmailIn,
)
from homeops.identity.service import IdentityService
from homeops.identity.web import AdminPage, AnonymousPage, AnyPage, SignedInPage

router = page_router()

MESSAGES = {
    "invalid_credentials": N_("The email or password is incorrect."),
    "login_throttled": N_("Too many failed sign-in attempts. Wait a few minutes and try again."),
    "email_taken": N_("An account with this email already exists. Sign in instead."),
    "wrong_password": N_("The current password is incorrect."),
    "password_reused": N_("The new password must differ from the current one."),
    "username_taken": N_("That username is taken."),
    "invalid_token": N_("Your session has ended. Sign in again."),
    "already_verified": N_("Your email address is already confirmed."),
    "invalid_account_token": N_("This link is invalid, has expired or was already used."),
    "email_not_verified": N_("Confirm your email address first: use the link in the email we sent you."),
    "registration_throttled": N_("Too many accounts were created from here. Try again later."),
    "resend_throttled": N_("We sent you an email recently. Wait a little before asking again."),
    "password_reset_throttled": N_("Too many password reset requests. Try again later."),
    "user_not_found": N_("This account does not exist."),
    "cannot_change_own_account": N_("You cannot deactivate or reactivate your own account."),
}
ADMIN_ROLES = frozenset({UserRole.admin.value})
ROLE_LABELS = {
    UserRole.homeowner: N_("Homeowner"),
    UserRole.provider: N_("Service provider"),
    UserRole.technician: N_("Technician"),
    UserRole.manager: N_("Manager"),
    UserRole.office_staff: N_("Office staff"),
    UserRole.government: N_("Government officer"),
    UserRole.support: N_("Support"),
    UserRole.admin: N_("Administrator"),
}


def _start_session(page: Page, response: Response) -> Response:
    """The session cookie of the session the unit of work just opened (login)."""
    actor = page.uow.actor
    assert actor.user_id is not None and actor.session_id is not None
    expires = page.uow.now() + timedelta(days=page.settings.refresh_token_days)
    token = web_security.issue_session_token(page.settings, actor.user_id, actor.session_id, expires)
    web_security.set_session_cookie(response, page.request, token, expires)
    return response


async def _remember_locale(page: Page) -> None:
    """After sign-in: the user's stored language becomes this browser's."""
    user = await IdentityService(page.uow).me()
    code = (user.preferences or {}).get("locale")
    if isinstance(code, str) and code in i18n.LOCALES:
        page.add_cookie(i18n.LOCALE_COOKIE, code, max_age=365 * 24 * 3600, http_only=False)


# --- sign-in ------------------------------------------------------------------------------------------------
def _sign_in_page(page: Page, form: FormState = NO_FORM, status: int = 200) -> Response:
    return page.render(
        "identity/sign_in.html",
        status=status,
        form=form,
        next=safe_next(page.request.query_params.get("next")),
    )


@router.get("/sign-in")
async def sign_in_form(page: AnyPage) -> Response:
    if page.signed_in:
        return page.redirect(safe_next(page.request.query_params.get("next")))
    return _sign_in_page(page)


@router.post("/sign-in")
async def sign_in(page: AnonymousPage) -> Response:
    assert page.form is not None
    target = safe_next(str(page.form.get("next") or ""))
    try:
        data = form_model(LoginIn, page.form)
        await page.submit(lambda: IdentityService(page.uow).login(data.email, data.password))
        await _remember_locale(page)
    except FormError as exc:
        if not exc.fields:
            exc.fields = {}
        response = _sign_in_page(page, FormState.failed("sign-in", page.form, exc), exc.status)
        cause = exc.__cause__
        if isinstance(cause, Problem) and "Retry-After" in cause.headers:
            response.headers["Retry-After"] = cause.headers["Retry-After"]
        return response
    return _start_session(page, page.redirect(target))


# --- registration --------------------------------------------------------------------------------------------
@router.get("/register")
async def register_form(page: AnyPage) -> Response:
    if page.signed_in:
        return page.redirect("/")
    return page.render("identity/register.html", form=NO_FORM)


@router.post("/register")
async def register(page: AnonymousPage) -> Response:
    assert page.form is not None
    service = IdentityService(page.uow)
    try:
        data = form_model(RegisterIn, page.form)
        await page.submit(lambda: service.register(data))
    except FormError as exc:
        form = FormState.failed("register", page.form, exc)
        return page.render("identity/register.html", status=exc.status, form=form)
    preferences: dict[str, Any] = {"locale": page.locale}
    try:
        await page.submit(lambda: service.login(data.email, data.password))
        await page.submit(lambda: service.update_me(UserPatch(preferences=preferences)))
    except FormError as exc:
        # The account exists; signing in is refused for now (e.g. it must be verified first).
        message = exc.message or _("Your account was created. Sign in to continue.")
        return page.redirect("/sign-in", flash=message, kind="info")
    page.add_cookie(i18n.LOCALE_COOKIE, page.locale, max_age=365 * 24 * 3600, http_only=False)
    welcome = _("Welcome to HomeOps! Start by creating your home.")
    return _start_session(page, page.redirect("/homes", flash=welcome))


# --- sign-out ------------------------------------------------------------------------------------------------
@router.post("/sign-out")
async def sign_out(page: SignedInPage) -> Response:
    await IdentityService(page.uow).logout()
    page.clear_cookie(web_security.SESSION_COOKIE)
    return page.redirect("/sign-in", flash=_("You are signed out."), kind="info")


# --- dashboard -----------------------------------------------------------------------------------------------
@router.get("/")
async def dashboard(page: SignedInPage) -> Response:
    return page.render("identity/dashboard.html", panels=await page.panels("dashboard"))


# --- profile, password, language -------------------------------------------------------------------------------
async def _profile_page(page: Page, form: FormState = NO_FORM, status: int = 200) -> Response:
    user = await IdentityService(page.uow).me()
    return page.render("identity/profile.html", status=status, user=user, form=form)


@router.get("/profile")
async def profile(page: SignedInPage) -> Response:
    return await _profile_page(page)


@router.post("/profile")
async def update_profile(page: SignedInPage) -> Response:
    assert page.form is not None
    try:
        patch = form_model(
            UserPatch,
            page.form,
            fields=("full_name", "phone"),
            blank_as_null=("phone",),
            keep_blank=("full_name",),
        )
        await page.submit(lambda: IdentityService(page.uow).update_me(patch))
    except FormError as exc:
        return await _profile_page(page, FormState.failed("profile", page.form, exc), exc.status)
    return page.redirect("/profile", flash=_("Your profile was saved."))


@router.post("/profile/password")
async def change_password(page: SignedInPage) -> Response:
    assert page.form is not None
    try:
        data = form_model(PasswordChangeIn, page.form)
        if data.new_password != str(page.form.get("confirm_password") or ""):
            raise FormError(
                _("Check the highlighted fields."), {"confirm_password": _("The two new passwords differ.")}
            )
        revoked = await page.submit(lambda: IdentityService(page.uow).change_password(data))
    except FormError as exc:
        return await _profile_page(page, FormState.failed("password", page.form, exc), exc.status)
    message = _("Your password was changed.")
    if revoked:
        message += " " + _("Your other sessions were signed out.")
    return page.redirect("/profile", flash=message)


@router.post("/language")
async def change_language(page: AnyPage) -> Response:
    assert page.form is not None
    code = str(page.form.get("locale") or "")
    if code not in i18n.LOCALES:
        raise FormError(_("Choose one of the options."), status=422)
    if page.signed_in:
        service = IdentityService(page.uow)
        user = await service.me()
        preferences = {**(user.preferences or {}), "locale": code}
        await service.update_me(UserPatch(preferences=preferences))
    page.add_cookie(i18n.LOCALE_COOKIE, code, max_age=365 * 24 * 3600, http_only=False)
    i18n.set_locale(code)
    return page.redirect(safe_next(str(page.form.get("next") or "/")))


# --- e-mail verification and password reset (the links of the account e-mails) ---------------------------------------
@router.get("/verify-email")
async def verify_email_form(page: AnyPage) -> Response:
    token = (page.request.query_params.get("token") or "")[:256]
    return page.render("identity/verify_email.html", form=NO_FORM, token=token)


@router.post("/verify-email")
async def verify_email(page: AnonymousPage) -> Response:
    assert page.form is not None
    try:
        data = form_model(VerifyEmailIn, page.form)
        await page.submit(lambda: IdentityService(page.uow).verify_email(data.token))
    except FormError as exc:
        form = FormState.failed("verify", page.form, exc)
        token = str(page.form.get("token") or "")[:256]
        return page.render("identity/verify_email.html", status=exc.status, form=form, token=token)
    return page.redirect(
        "/" if page.signed_in else "/sign-in", flash=_("Thank you: your email address is confirmed.")
    )


@router.post("/verify-email/resend")
async def resend_verification(page: SignedInPage) -> Response:
    try:
        await page.submit(lambda: IdentityService(page.uow).resend_verification())
    except FormError as exc:
        return page.redirect("/profile", flash=exc.message or "", kind="error")
    return page.redirect("/profile", flash=_("We sent you a new confirmation email."))


@router.get("/password-reset")
async def password_reset_form(page: AnyPage) -> Response:
    return page.render("identity/password_reset.html", form=NO_FORM, sent=False)


@router.post("/password-reset")
async def password_reset(page: AnonymousPage) -> Response:
    assert page.form is not None
    try:
        data = form_model(PasswordResetIn, page.form)
        await page.submit(lambda: IdentityService(page.uow).request_password_reset(data.email))
    except FormError as exc:
        form = FormState.failed("reset", page.form, exc)
        return page.render("identity/password_reset.html", status=exc.status, form=form, sent=False)
    return page.render("identity/password_reset.html", form=NO_FORM, sent=True)


@router.get("/password-reset/confirm")
async def password_reset_confirm_form(page: AnyPage) -> Response:
    token = (page.request.query_params.get("token") or "")[:256]
    return page.render("identity/password_reset_confirm.html", form=NO_FORM, token=token)


@router.post("/password-reset/confirm")
async def password_reset_confirm(page: AnonymousPage) -> Response:
    assert page.form is not None
    token = str(page.form.get("token") or "")[:256]
    try:
        data = form_model(PasswordResetConfirmIn, page.form)
        if data.new_password != str(page.form.get("confirm_password") or ""):
            raise FormError(
                _("Check the highlighted fields."), {"confirm_password": _("The two new passwords differ.")}
            )
        await page.submit(
            lambda: IdentityService(page.uow).confirm_password_reset(data.token, data.new_password)
        )
    except FormError as exc:
        form = FormState.failed("reset-confirm", page.form, exc)
        return page.render("identity/password_reset_confirm.html", status=exc.status, form=form, token=token)
    page.clear_cookie(web_security.SESSION_COOKIE)
    return page.redirect("/sign-in", flash=_("Your password was changed. Sign in with the new one."))


# --- administration: users (admins only) -----------------------------------------------------------------------
USERS_PER_PAGE = 25


@router.get("/admin/users")
async def admin_users(
    page: AdminPage,
    q: Annotated[str | None, Query(max_length=200)] = None,
    role: Annotated[str | None, Query(max_length=20)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    # The form sends its blank options too ("any role"): blank is no filter, anything unknown a 400.
    text_query = (q or "").strip() or None
    if role and role not in UserRole.__members__:
        raise Problem("Unknown role.", status=400)
    if status and status not in ("active", "inactive"):
        raise Problem("Unknown status.", status=400)
    role_filter = UserRole(role) if role else None
    active = None if not status else status == "active"
    users, next_cursor = await UserAdminService(page.uow).search(
        PageParams(limit=USERS_PER_PAGE, cursor=cursor),
        text_query=text_query,
        role=role_filter,
        active=active,
    )
    filtered = any((text_query, role_filter, status))
    return page.render(
        "identity/admin_users.html",
        users=users,
        next_cursor=next_cursor,
        filters={"q": text_query, "role": role_filter, "status": status or None},
        filtered=filtered,
        roles=[(r.value, _(label)) for r, label in ROLE_LABELS.items()],
        role_labels=ROLE_LABELS,
    )


@router.get("/admin/users/{user_id}")
async def admin_user(
    page: AdminPage, user_id: uuid.UUID, back: Annotated[str | None, Query(max_length=2000)] = None
) -> Response:
    user = await UserAdminService(page.uow).get(user_id)
    return page.render(
        "identity/admin_user.html",
        user=user,
        role_labels=ROLE_LABELS,
        is_self=user.id == page.user_id,
        back=safe_next(back, "/admin/users"),
    )


async def _set_active(page: Page, user_id: uuid.UUID, active: bool) -> Response:
    assert page.form is not None
    back = safe_next(str(page.form.get("next") or ""), f"/admin/users/{user_id}")
    try:
        user = await page.submit(lambda: UserAdminService(page.uow).set_active(user_id, active))
    except FormError as exc:
        return page.redirect(back, flash=exc.message or _("Some values are not valid."), kind="error")
    if active:
        message = _("%(email)s can sign in again.", email=user.email)
    else:
        message = _("%(email)s is deactivated and signed out everywhere.", email=user.email)
    return page.redirect(back, flash=message)


@router.post("/admin/users/{user_id}/deactivate")
async def admin_deactivate_user(page: AdminPage, user_id: uuid.UUID) -> Response:
    return await _set_active(page, user_id, False)


@router.post("/admin/users/{user_id}/reactivate")
async def admin_reactivate_user(page: AdminPage, user_id: uuid.UUID) -> Response:
    return await _set_active(page, user_id, True)


pages = Pages.of(
    __file__,
    "identity",
    router=router,
    nav=(
        NavItem(N_("Dashboard"), "/", order=0),
        NavItem(N_("Users"), "/admin/users", order=900, roles=ADMIN_ROLES),
    ),
    messages=MESSAGES,
)

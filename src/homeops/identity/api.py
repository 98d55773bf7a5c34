from __future__ import annotations

import json

from fastapi import APIRouter, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from homeops.core.openapi import errors
from homeops.identity.deps import AnonymousUow, OwnProfile, ThrottledAnonymousUow, Uow
from homeops.identity.schemas import (
    AcceptedOut,
    LoginIn,
    PasswordChangeIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    RefreshIn,
    RegisterIn,
    TokenOut,
    UserOut,
    UserPatch,
    VerifyEmailIn,
)
from homeops.identity.service import IdentityService

auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
users_router = APIRouter(prefix="/api/v1/users", tags=["users"])

_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginIn.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "username": {"type": "string", "description": "The account's email"},
                        "password": {"type": "string", "format": "password"},
                        "grant_type": {"type": "string", "enum": ["password"]},
                    },
                }
            },
        },
    }
}


async def _read_login(request: Request) -> LoginIn:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            return LoginIn(email=str(form.get("username") or ""), password=str(form.get("password") or ""))
        raw = await request.body()
        try:
            payload = json.loads(raw or b"null")
        except ValueError as exc:  # not JSON, or not UTF-8
            raise RequestValidationError(
                [{"type": "json_invalid", "loc": ("body",), "msg": str(exc)}]
            ) from exc
        return LoginIn.model_validate(payload)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        ) from exc


@auth_router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
@errors(429)
async def register(body: RegisterIn, uow: ThrottledAnonymousUow) -> UserOut:
    """Creates a homeowner account (sign in with `/auth/login` at once) and e-mails a verification link.
    Throttled per client address: 429 `registration_throttled` with `Retry-After`."""
    user = await IdentityService(uow).register(body)
    return UserOut.model_validate(user)


@auth_router.post("/login", response_model=TokenOut, openapi_extra=_LOGIN_BODY)
@errors(401, 429)
async def login(request: Request, uow: ThrottledAnonymousUow) -> TokenOut:
    """Email + password → an access token (short-lived JWT) and a rotating refresh token.

    Accepts JSON `{email, password}` or the OAuth2 password form (`username`, `password`), so the
    "Authorize" button of the interactive docs works. Repeated failures are throttled per email and client
    address (429 `login_throttled` with `Retry-After`; see docs/security.md, "Sign-in throttling").
    """
    data = await _read_login(request)
    return await IdentityService(uow).login(data.email, data.password)


@auth_router.post("/refresh", response_model=TokenOut)
@errors(401)
async def refresh(body: RefreshIn, uow: AnonymousUow) -> TokenOut:
    """Exchanges a refresh token for a new pair; the token used stops working. Presenting a token that was
    already exchanged ends the whole session (401 `refresh_token_reused`), except for the one exchanged in the
    last few seconds (401 `refresh_token_superseded`: a concurrent refresh of the same client won)."""
    return await IdentityService(uow).refresh(body.refresh_token)


@auth_router.post("/verify-email", status_code=status.HTTP_204_NO_CONTENT)
async def verify_email(body: VerifyEmailIn, uow: AnonymousUow) -> None:
    """Confirms the account's e-mail address with the token from the verification e-mail (single use)."""
    await IdentityService(uow).verify_email(body.token)


@auth_router.post("/verify-email/resend", status_code=status.HTTP_202_ACCEPTED, response_model=AcceptedOut)
@errors(429)
async def resend_verification(uow: Uow) -> AcceptedOut:
    """E-mails a new verification link to the signed-in user (throttled: 429 `resend_throttled`; 409
    `already_verified`)."""
    await IdentityService(uow).resend_verification()
    return AcceptedOut(detail="A verification e-mail is on its way.")


@auth_router.post("/password-reset", status_code=status.HTTP_202_ACCEPTED, response_model=AcceptedOut)
@errors(429)
async def request_password_reset(body: PasswordResetIn, uow: AnonymousUow) -> AcceptedOut:
    """E-mails a password-reset link if an account has this address. The answer is the same whether or not it
    has: it never tells who is registered. Throttled per client address and per email."""
    await IdentityService(uow).request_password_reset(body.email)
    return AcceptedOut(detail="If an account uses this address, a password-reset e-mail is on its way.")


@auth_router.post("/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT)
async def confirm_password_reset(body: PasswordResetConfirmIn, uow: AnonymousUow) -> None:
    """Sets a new password with the token from the e-mail (single use) and signs out every session."""
    await IdentityService(uow).confirm_password_reset(body.token, body.new_password)


@auth_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(uow: Uow) -> None:
    """Revokes the current session: its refresh token and access tokens stop working."""
    await IdentityService(uow).logout()


@users_router.get("/me", response_model=UserOut)
async def get_me(read: OwnProfile) -> UserOut:
    """The signed-in user's profile (one round trip to the database: identity and row in one message)."""
    return await IdentityService.own_profile(read.driver, read.session_id, read.user_id)


@users_router.patch("/me", response_model=UserOut)
async def patch_me(body: UserPatch, uow: Uow) -> UserOut:
    return UserOut.model_validate(await IdentityService(uow).update_me(body))


@users_router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
@errors(403)
async def change_password(body: PasswordChangeIn, uow: Uow) -> None:
    """Changes the password and signs out every other session."""
    await IdentityService(uow).change_password(body)

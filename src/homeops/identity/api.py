from __future__ import annotations

import json

from fastapi import APIRouter, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from homeops.identity.deps import AnonymousUow, OwnProfile, Uow
from homeops.identity.schemas import (
    LoginIn,
    PasswordChangeIn,
    RefreshIn,
    RegisterIn,
    TokenOut,
    UserOut,
    UserPatch,
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
        except json.JSONDecodeError as exc:
            raise RequestValidationError(
                [{"type": "json_invalid", "loc": ("body",), "msg": str(exc)}]
            ) from exc
        return LoginIn.model_validate(payload)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        ) from exc


@auth_router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def register(body: RegisterIn, uow: AnonymousUow) -> UserOut:
    user = await IdentityService(uow).register(body)
    return UserOut.model_validate(user)


@auth_router.post("/login", response_model=TokenOut, openapi_extra=_LOGIN_BODY)
async def login(request: Request, uow: AnonymousUow) -> TokenOut:
    """Email + password → an access token (short-lived JWT) and a rotating refresh token.

    Accepts JSON `{email, password}` or the OAuth2 password form (`username`, `password`), so the
    "Authorize" button of the interactive docs works.
    """
    data = await _read_login(request)
    return await IdentityService(uow).login(data.email, data.password)


@auth_router.post("/refresh", response_model=TokenOut)
async def refresh(body: RefreshIn, uow: AnonymousUow) -> TokenOut:
    """Exchanges a refresh token for a new pair; the token used stops working."""
    return await IdentityService(uow).refresh(body.refresh_token)


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
async def change_password(body: PasswordChangeIn, uow: Uow) -> None:
    """Changes the password and signs out every other session."""
    await IdentityService(uow).change_password(body)

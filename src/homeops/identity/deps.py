"""FastAPI dependencies: the request's database session, the settings and the signed-in user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.config import Settings
from homeops.core.context import RequestContext, get_context, open_session
from homeops.core.errors import Forbidden
from homeops.identity.models import UserRole
from homeops.identity.service import CurrentUser, IdentityService, InvalidToken

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DbSession = Annotated[AsyncSession, Depends(open_session)]
Ctx = Annotated[RequestContext, Depends(get_context)]
AppSettings = Annotated[Settings, Depends(get_settings_dep)]


async def current_user(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    ctx: Ctx,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> CurrentUser:
    if not token:
        raise InvalidToken("Sign in: this endpoint needs a bearer token.", code="unauthorized")
    return await IdentityService(session, settings, ctx).authenticate(token)


Auth = Annotated[CurrentUser, Depends(current_user)]


def require_roles(*roles: UserRole):  # type: ignore[no-untyped-def]
    async def _check(user: Auth) -> CurrentUser:
        if user.role not in roles:
            raise Forbidden("Your role does not allow this.", code="role_required")
        return user

    return _check


AdminUser = Annotated[CurrentUser, Depends(require_roles(UserRole.admin))]

"""FastAPI dependencies: the signed-in actor and the unit of work every route's service runs in.

The authenticated path costs one round trip to the database before the route's own statements: the access
token is verified in Python (signature, expiry), then ``homeops_begin(session, user)`` is sent pipelined with
``BEGIN``; it checks that the session is live, reads the stored role and memberships, and sets the
transaction's row-security identity. Everything after runs under that identity.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from homeops.core.actor import Actor
from homeops.core.config import Settings
from homeops.core.context import get_context, open_connection
from homeops.core.errors import Forbidden, Unauthorized
from homeops.core.openapi import errors
from homeops.core.security import TokenError, decode_access_token
from homeops.core.tenancy import UserRole
from homeops.core.uow import UnitOfWork
from homeops.identity.repository import establish_identity


class InvalidToken(Unauthorized):
    code, title = "invalid_token", "Invalid or expired token"


async def _authenticate(request: Request, token: str | None) -> Actor:
    if not token:
        raise InvalidToken("Sign in: this endpoint needs a bearer token.", code="unauthorized")
    settings: Settings = request.app.state.settings
    try:
        claims = decode_access_token(settings, token)
    except TokenError as exc:
        raise InvalidToken("The access token is invalid or expired.") from exc
    driver = await open_connection(request, begin=False)
    actor = await establish_identity(driver, claims.session_id, claims.user_id)
    if actor is None:
        raise InvalidToken("The session has ended. Sign in again.")
    ctx = get_context(request)
    ctx.user_id, ctx.session_id, ctx.role = actor.user_id, actor.session_id, actor.role
    return actor


def _uow(request: Request, actor: Actor) -> UnitOfWork:
    ctx = get_context(request)
    state = request.app.state
    return UnitOfWork(
        ctx.orm_session, actor, ctx, state.runtime, state.bus, ctx.after_commit, ctx.durable_ops, ctx.driver
    )


class _BearerUnitOfWork(OAuth2PasswordBearer):
    """The OAuth2 bearer scheme (so OpenAPI documents it) that also authenticates and returns the unit of work:
    one dependency for the whole authenticated path."""

    async def __call__(self, request: Request) -> UnitOfWork:  # type: ignore[override]
        authorization = request.headers.get("authorization")
        scheme, _, token = (authorization or "").partition(" ")
        actor = await _authenticate(request, token if scheme.lower() == "bearer" else None)
        return _uow(request, actor)


# One security scheme in the document for both (the same bearer token).
get_uow = _BearerUnitOfWork(tokenUrl="/api/v1/auth/login", auto_error=False, scheme_name="BearerToken")


class _BearerProfile(OAuth2PasswordBearer):
    """The same bearer scheme for ``GET /users/me``, which reads the caller's row in the identity's own message
    (``own_profile_in_one_message``): the verified claims and the request's connection, no transaction yet."""

    async def __call__(self, request: Request) -> OwnProfileRead:  # type: ignore[override]
        authorization = request.headers.get("authorization")
        scheme, _, token = (authorization or "").partition(" ")
        if not token or scheme.lower() != "bearer":
            raise InvalidToken("Sign in: this endpoint needs a bearer token.", code="unauthorized")
        try:
            claims = decode_access_token(request.app.state.settings, token)
        except TokenError as exc:
            raise InvalidToken("The access token is invalid or expired.") from exc
        driver = await open_connection(request, begin=False)
        ctx = get_context(request)
        ctx.user_id, ctx.session_id = claims.user_id, claims.session_id
        return OwnProfileRead(driver, claims.session_id, claims.user_id)


@dataclass(frozen=True)
class OwnProfileRead:
    driver: psycopg.AsyncConnection[Any]
    session_id: uuid.UUID
    user_id: uuid.UUID


OwnProfile = Annotated[
    OwnProfileRead,
    Depends(_BearerProfile(tokenUrl="/api/v1/auth/login", auto_error=False, scheme_name="BearerToken")),
]


async def current_actor(uow: Annotated[UnitOfWork, Depends(get_uow)]) -> Actor:
    return uow.actor


async def get_anonymous_uow(request: Request) -> UnitOfWork:
    """For the routes that establish an identity themselves (register, login, refresh) or need none."""
    await open_connection(request)
    return _uow(request, Actor.anonymous())


@errors(429)  # the services that use it throttle (documented on every route that depends on it)
async def get_unbegun_anonymous_uow(request: Request) -> UnitOfWork:
    """Like ``get_anonymous_uow``, but the request's transaction is not open yet: the service first runs its
    throttle in short transactions of its own on the same connection (committed at once, whatever the request's
    outcome), then opens it (``identity.repository.begin``)."""
    await open_connection(request, begin=False)
    return _uow(request, Actor.anonymous())


Uow = Annotated[UnitOfWork, Depends(get_uow)]
AnonymousUow = Annotated[UnitOfWork, Depends(get_anonymous_uow)]
ThrottledAnonymousUow = Annotated[UnitOfWork, Depends(get_unbegun_anonymous_uow)]
CurrentActor = Annotated[Actor, Depends(current_actor)]


def require_roles(*roles: UserRole) -> Callable[..., Awaitable[UnitOfWork]]:
    @errors(403)
    async def _check(uow: Uow) -> UnitOfWork:
        if uow.actor.role not in roles:
            raise Forbidden("Your role does not allow this.", code="role_required")
        return uow

    return _check


AdminUow = Annotated[UnitOfWork, Depends(require_roles(UserRole.admin))]

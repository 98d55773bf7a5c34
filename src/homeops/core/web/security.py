"""The browser's credentials: the session cookie, CSRF tokens and signed flash messages.

**Session cookie** (``homeops_session``: HttpOnly, SameSite=Lax, Secure over https, Path=/): a token signed with
a key derived from the JWT secret, holding the ``user_sessions`` row (``sid``), the user (``sub``) and the
session's own expiry. It is *not* an API access token (``typ`` "web", another key) and never the refresh token
(the browser is never given one). Each page request verifies the signature in Python, then the database checks
that the session is live and sets the transaction's identity — ``homeops_begin(session, user)``, exactly as for
a bearer token — so signing out, a password change or an operator's revocation ends the cookie at once.

**CSRF**: every form carries ``csrf_token``, an HMAC of the session id (signed in) or of a random pre-session
cookie (``homeops_csrf``, signed out: sign-in and registration forms). ``PageRoute`` checks it on every
POST/PUT/PATCH/DELETE page request before the handler runs, together with ``Origin``/``Sec-Fetch-Site``:
a cross-site request, a missing or a wrong token answers 403 and changes nothing.

**Flash**: a one-shot message for the page after a redirect (``homeops_flash``), signed so that nobody but the
server can put text on a page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import Response

from homeops.core.config import Settings

SESSION_COOKIE = "homeops_session"
ANON_COOKIE = "homeops_csrf"
FLASH_COOKIE = "homeops_flash"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_ALGORITHM = "HS256"


def _key(settings: Settings, purpose: str) -> bytes:
    root = settings.secret("jwt_secret").encode()
    return hmac.new(root, f"homeops-web-{purpose}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class WebSession:
    user_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: datetime


def issue_session_token(
    settings: Settings, user_id: uuid.UUID, session_id: uuid.UUID, expires_at: datetime
) -> str:
    payload = {
        "sub": str(user_id),
        "sid": str(session_id),
        "typ": "web",
        "iat": int(datetime.now(UTC).timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(payload, _key(settings, "session"), algorithm=_ALGORITHM)


def read_session(settings: Settings, request: Request) -> WebSession | None:
    """The session the cookie names, if its signature and expiry hold (liveness is the database's to say)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 2048:
        return None
    try:
        payload = jwt.decode(
            token,
            _key(settings, "session"),
            algorithms=[_ALGORITHM],
            options={"require": ["sub", "sid", "exp"]},
        )
        if payload.get("typ") != "web":
            return None
        return WebSession(
            uuid.UUID(payload["sub"]), uuid.UUID(payload["sid"]), datetime.fromtimestamp(payload["exp"], UTC)
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        return None


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    *,
    max_age: int | None,
    http_only: bool = True,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=http_only,
        samesite="lax",
        secure=is_https(request),
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=is_https(request))


def set_session_cookie(response: Response, request: Request, token: str, expires_at: datetime) -> None:
    max_age = max(0, int((expires_at - datetime.now(UTC)).total_seconds()))
    set_cookie(response, request, SESSION_COOKIE, token, max_age=max_age)


# --- CSRF ---------------------------------------------------------------------------------------------------
def csrf_binding(settings: Settings, request: Request) -> str | None:
    """What this browser's CSRF token is bound to: its signed session, else its pre-session cookie."""
    session = read_session(settings, request)
    if session is not None:
        return f"s:{session.session_id}"
    anon = request.cookies.get(ANON_COOKIE)
    if anon and 16 <= len(anon) <= 128:
        return f"a:{anon}"
    return None


def csrf_token_for(settings: Settings, binding: str) -> str:
    digest = hmac.new(_key(settings, "csrf"), binding.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_anonymous_id() -> str:
    return secrets.token_urlsafe(24)


def csrf_valid(settings: Settings, request: Request, submitted: str | None) -> bool:
    binding = csrf_binding(settings, request)
    if binding is None or not submitted:
        return False
    return hmac.compare_digest(csrf_token_for(settings, binding), submitted)


def same_origin(request: Request) -> bool:
    """False for a request a browser marks as cross-site (``Sec-Fetch-Site``) or whose ``Origin`` is another
    site than the one it was sent to."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin != "null"
    host = request.headers.get("host") or request.url.netloc
    _scheme, _sep, rest = origin.partition("://")
    return rest.rstrip("/") == host


# --- flash --------------------------------------------------------------------------------------------------
def sign_flash(settings: Settings, message: str, kind: str) -> str:
    body = base64.urlsafe_b64encode(json.dumps([kind, message[:500]]).encode()).decode().rstrip("=")
    sig = hmac.new(_key(settings, "flash"), body.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{body}.{sig}"


def read_flash(settings: Settings, request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or len(raw) > 4096 or "." not in raw:
        return None
    body, _sep, sig = raw.rpartition(".")
    expected = hmac.new(_key(settings, "flash"), body.encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(expected, sig):
        return None
    try:
        kind, message = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, TypeError):
        return None
    return {"kind": str(kind), "message": str(message)}

"""RFC 9457 problem details: every error the API returns is ``application/problem+json`` with a stable code."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from psycopg import errors as pg_errors
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://homeops.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """An error with a stable machine-readable ``code``; raised by services, rendered by the handlers."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.detail = detail
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if title is not None:
            self.title = title
        self.headers = headers or {}
        self.extra = extra
        super().__init__(detail or self.title)


class NotFound(Problem):
    status, code, title = 404, "not_found", "Not found"


class Conflict(Problem):
    status, code, title = 409, "conflict", "Conflict"


class Forbidden(Problem):
    status, code, title = 403, "forbidden", "Forbidden"


class Unauthorized(Problem):
    status, code, title = 401, "unauthorized", "Not authenticated"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class TooManyRequests(Problem):
    status, code, title = 429, "too_many_requests", "Too many requests"


class UnprocessableEntity(Problem):
    status, code, title = 422, "validation_error", "Validation error"


def problem_response(
    request: Request | None,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + code, "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Not authenticated"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_error", "Validation error"),
    429: ("too_many_requests", "Too many requests"),
}


def _clean_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        item = {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
        out.append(item)
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.code, exc.title, exc.detail, headers=exc.headers, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem_response(
                request, 400, "malformed_json", "Malformed JSON", "The request body is not valid JSON."
            )
        return problem_response(
            request,
            422,
            "validation_error",
            "Validation error",
            "The request does not match the expected schema.",
            errors=_clean_errors(list(errors)),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:
            # Starlette names the methods of the first route of the path only: every route of it counts.
            allow = ", ".join(allowed_methods(request.app.router.routes, request.scope))
            if request.method == "OPTIONS":
                return Response(status_code=204, headers={"Allow": allow})
            headers = {**(headers or {}), "Allow": allow}
            detail = f"{request.method} is not allowed here; allowed: {allow}."
        return problem_response(request, exc.status_code, code, title, detail, headers=headers)

    @app.exception_handler(DBAPIError)
    async def _db(request: Request, exc: DBAPIError) -> JSONResponse:
        orig = exc.orig
        if isinstance(orig, pg_errors.InsufficientPrivilege):
            # Row-level security (or a column grant) refused what the service did not catch first.
            log.warning("database refused: %s", orig)
            return problem_response(request, 403, "forbidden", "Forbidden", "Not allowed.")
        if isinstance(orig, pg_errors.UniqueViolation):
            return problem_response(
                request, 409, "conflict", "Conflict", "A record with these values exists."
            )
        if isinstance(orig, pg_errors.ForeignKeyViolation):
            return problem_response(
                request, 409, "conflict", "Conflict", "A referenced record does not exist."
            )
        if isinstance(orig, pg_errors.CheckViolation | pg_errors.DataError):
            # A value the database refuses (a check, a length, a number or date out of range, text it cannot
            # store): bad input the schemas did not catch — a 422, never a 500.
            log.warning("database refused a value: %s", type(orig).__name__)
            return problem_response(request, 422, "validation_error", "Validation error", "Invalid value.")
        log.exception("database error", exc_info=exc)
        return problem_response(request, 500, "internal_error", "Internal server error")

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem_response(request, 500, "internal_error", "Internal server error")


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route of the request's path answers (plus OPTIONS), for ``Allow``."""
    methods: set[str] = set()
    for route in routes:
        route_methods = getattr(route, "methods", None)
        if not route_methods:
            continue
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            methods.update(route_methods)
    if methods:
        methods.add("OPTIONS")
    return sorted(methods)

"""What every route gets without asking, installed once over the whole app (:func:`harden_routes`):

* **UUID paths.** A path parameter typed ``uuid.UUID`` is matched by the ``uuid`` convertor, so a static sibling
  (``/devices/warranty-expiring`` beside ``/devices/{device_id}``) is never swallowed by it: a wrong method on
  the static path is a 405, and a non-UUID segment is a 404.
* **Body limits.** A request body larger than ``HOMEOPS_MAX_REQUEST_BODY_KB`` (default 1 MB) is a 413
  problem+json, refused from ``Content-Length`` before it is read, or while it streams. A route that takes
  larger bodies (uploads) declares its own limit with :func:`body_limit`.
* **Text is text.** A NUL character (or an unpaired surrogate) in any string a request carries — path and query
  parameters, JSON strings and object keys at any depth, form text fields (not file contents) — is a 422
  problem+json before the route runs: PostgreSQL cannot store it. ``NaN``/``Infinity`` (which Python's JSON
  parser accepts) are a 422 too.
* **Media types.** A body in a media type the route does not document is a 415 problem+json.
* **405 and OPTIONS.** A method a path does not have answers 405 with an ``Allow`` header listing every method
  of every route of that path; ``OPTIONS`` answers 204 with the same ``Allow`` (:func:`homeops.core.errors.allowed_methods`).
"""

from __future__ import annotations

import copy
import math
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, request_response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from homeops.core.errors import problem_response

if TYPE_CHECKING:
    from homeops.core.config import Settings

MB = 1024 * 1024
F = TypeVar("F", bound=Callable[..., Any])
_LIMIT_ATTRIBUTE = "__homeops_body_limit__"
BodyLimit = int | Callable[["Settings"], int]


def body_limit(limit: BodyLimit) -> Callable[[F], F]:
    """Declares a route's request-body limit in bytes (an int, or a function of the settings), instead of
    ``HOMEOPS_MAX_REQUEST_BODY_KB``. Put it *below* the route decorator::

        @router.post("/manuals")
        @body_limit(lambda s: s.max_manual_upload_mb * MB + MB)  # the file plus the form's other fields
        async def upload_manual(...): ...
    """

    def mark(func: F) -> F:
        setattr(func, _LIMIT_ATTRIBUTE, limit)
        return func

    return mark


def route_body_limit(route: APIRoute, settings: Settings) -> int:
    declared: BodyLimit | None = getattr(route.endpoint, _LIMIT_ATTRIBUTE, None)
    native: int | None = getattr(route, "max_body_size", None)  # FastAPI's own route option, if used
    if declared is None and native is not None:
        declared = native
    if declared is None:
        return settings.max_request_body_kb * 1024
    return declared(settings) if callable(declared) else declared


class PayloadTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body may take at most {limit} bytes.")


# --- the installation ----------------------------------------------------------------------------------------


def harden_routes(app: FastAPI, settings: Settings) -> None:
    """Applies the module's rules to every route of ``app`` (call it once all routes are added). The domain
    routers' route objects are shared by every app built in the process (``homeops.app._add_routes``), so
    each app gets its own copies: the limits come from its settings."""
    routes = app.router.routes
    for index, original in enumerate(routes):
        if isinstance(original, APIRoute):
            route = copy.copy(original)
            routes[index] = route
            _uuid_convertors(route)
            guard = _InputGuard(route)
            handler = guard.wrap(route.get_route_handler())
            route.app = _BodyLimit(request_response(handler), route_body_limit(route, settings))


def iter_dependants(dependant: Dependant) -> Iterator[Dependant]:
    """The route's dependant and every dependency under it (each once)."""
    seen: set[int] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(current.dependencies)


def _uuid_convertors(route: APIRoute) -> None:
    names = {
        p.name
        for d in iter_dependants(route.dependant)
        for p in d.path_params
        if p.field_info.annotation is uuid.UUID
    }
    path = route.path
    for name in names:
        path = path.replace("{" + name + "}", "{" + name + ":uuid}")
    if path != route.path:
        route.path = path
        route.path_regex, route.path_format, route.param_convertors = compile_path(path)


# --- body limits ---------------------------------------------------------------------------------------------


class _BodyLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    break
                if declared > limit:
                    # Refused before a byte is read.
                    response = problem_response(
                        Request(scope),
                        413,
                        "payload_too_large",
                        "Payload too large",
                        f"The request body may take at most {limit} bytes.",
                        headers={"Connection": "close"},
                    )
                    await response(scope, receive, send)
                    return
                break
        total = 0

        async def counted() -> Message:
            nonlocal total
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > limit:
                    raise PayloadTooLarge(limit)
            return message

        await self.app(scope, counted, send)


# --- input checks --------------------------------------------------------------------------------------------

_JSON_MEDIA = "application/json"
_FORM_MEDIA = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _may_have_bad_json(body: bytes) -> bool:
    """An escape (``\\u…``: a NUL or a lone surrogate, maybe), ``NaN`` or ``Infinity`` somewhere in the body. Each
    multi-byte search is preceded by its first byte's (memchr, ~100× faster on CPython): a 1 MB telemetry
    batch without any of them is cleared in microseconds instead of milliseconds."""
    return (
        (b"\\" in body and b"\\u" in body)
        or (b"N" in body and b"NaN" in body)
        or (b"I" in body and b"Infinity" in body)
    )


def _media_type(request: Request) -> str | None:
    value = request.headers.get("content-type")
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower()


def _is_json(media: str | None) -> bool:
    return (
        media is not None
        and media.startswith("application/")
        and (media == _JSON_MEDIA or media.endswith("+json"))
    )


class _InputGuard:
    """The NUL / surrogate / NaN / media-type checks of one route, run before FastAPI's own handler (which reads
    the same cached body, JSON and form)."""

    def __init__(self, route: APIRoute) -> None:
        self.route = route
        body_field = route.body_field
        extra_body = (route.openapi_extra or {}).get("requestBody", {}).get("content", {})
        self.reads_body = body_field is not None or bool(extra_body)
        if body_field is not None and isinstance(body_field.field_info, params.Form):
            media = {"multipart/form-data", "application/x-www-form-urlencoded"}
            if isinstance(body_field.field_info, params.File) or _has_files(route):
                media = {"multipart/form-data"}
        elif body_field is not None:
            media = {_JSON_MEDIA}
        else:
            media = set(extra_body)
        self.media = frozenset(media)
        # Only the documented API says which media types and query parameters it takes; pages may post and
        # link what browsers do.
        self.check_media = route.include_in_schema and bool(self.media)
        self.query_names: frozenset[str] | None = None
        if route.include_in_schema:
            self.query_names = frozenset(
                p.alias for p in get_flat_params(route.dependant) if isinstance(p.field_info, params.Query)
            )

    def wrap(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            errors = [*self._parameter_errors(request)]
            if self.reads_body and request.method in _BODY_METHODS:
                errors.extend(await self._body_errors(request))
            if errors:
                raise RequestValidationError(errors)
            return await handler(request)

        return guarded

    def _parameter_errors(self, request: Request) -> Iterator[dict[str, Any]]:
        for name, value in request.path_params.items():
            if isinstance(value, str) and (problem := _bad_text(value)):
                yield _error(("path", name), problem)
        query = request.scope.get("query_string", b"")
        if not query:
            return
        if self.query_names is not None:
            for name in request.query_params:
                if name not in self.query_names:
                    yield {
                        "type": "extra_forbidden",
                        "loc": ("query", name.replace("\x00", "\\u0000")),
                        "msg": "Unknown query parameter",
                        "input": None,
                    }
        if b"%00" in query or b"\x00" in query:
            for name, value in request.query_params.multi_items():
                if problem := _bad_text(name) or _bad_text(value):
                    yield _error(("query", name), problem)

    async def _body_errors(self, request: Request) -> list[dict[str, Any]]:
        media = _media_type(request)
        if _is_json(media):
            if self.check_media and not any(_is_json(m) for m in self.media):
                raise HTTPException(415, f"This operation takes {', '.join(sorted(self.media))}.")
            body = await request.body()
            if not _may_have_bad_json(body):
                return []
            try:
                data = await request.json()
            except ValueError:
                return []  # malformed JSON: FastAPI's own 400
            return list(_json_errors(data, ("body",)))
        if media in _FORM_MEDIA:
            if self.check_media and media not in self.media:
                raise HTTPException(415, f"This operation takes {', '.join(sorted(self.media))}.")
            form = await request.form()
            return [
                _error(("body", key), problem)
                for key, value in form.multi_items()
                if not isinstance(value, UploadFile) and (problem := _bad_text(key) or _bad_text(value))
            ]
        if self.check_media and media not in self.media and (await request.body()):
            raise HTTPException(415, f"This operation takes {', '.join(sorted(self.media))}.")
        return []


def _has_files(route: APIRoute) -> bool:
    return any(isinstance(p.field_info, params.File) for p in route.dependant.body_params)


def _bad_text(value: str) -> str | None:
    if "\x00" in value:
        return "nul"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "surrogate"
    return None


_MESSAGES = {
    "nul": ("string_nul", "Text may not contain the NUL character (\\u0000)"),
    "surrogate": ("string_unicode", "Text may not contain unpaired surrogates"),
    "number": ("finite_number", "Input should be a finite number"),
}


def _error(loc: tuple[Any, ...], problem: str) -> dict[str, Any]:
    kind, msg = _MESSAGES[problem]
    return {"type": kind, "loc": loc, "msg": msg, "input": None}


def _json_errors(value: Any, loc: tuple[Any, ...]) -> Iterator[dict[str, Any]]:
    if isinstance(value, str):
        if problem := _bad_text(value):
            yield _error(loc, problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            if problem := _bad_text(key):
                yield _error(
                    (*loc, key.replace("\x00", "\\u0000").encode("utf-8", "replace").decode()), problem
                )
            else:
                yield from _json_errors(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_errors(item, (*loc, index))
    elif isinstance(value, float) and not math.isfinite(value):
        yield _error(loc, "number")


# --- 405 and OPTIONS -----------------------------------------------------------------------------------------

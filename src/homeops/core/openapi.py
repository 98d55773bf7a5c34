"""The OpenAPI document is the contract: every error an operation can answer is in it, as
``application/problem+json`` with one shared ``Problem`` schema, and the interactive docs work offline.

:func:`install_openapi` replaces FastAPI's document with one post-processed from the routes:

* **401** for operations that take a bearer token; **403** for those whose role or tenant role decides (a role
  dependency, a path parameter or a referenced object), **404** for operations with path parameters or bodies
  and queries that reference objects by id, **400** for bodies (malformed JSON) and cursors, **409** for every
  write (uniqueness, references, state), **413/415** for bodies, **422** for anything with input.
* A route (or a dependency it uses) adds what it answers besides that with :func:`errors` — e.g. 429 where it
  throttles, 403 where a role dependency decides — or FastAPI's ``responses={...}``; either way the answer is
  documented as a Problem.
* Nullability follows what the server accepts: a field typed ``NonNull[...]`` has no ``null`` and no
  ``default: null``.

:func:`install_docs` serves Swagger UI and ReDoc from the assets of an installed package (``fastapi-offline``),
under ``/docs/assets``: the pages load nothing from elsewhere.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from homeops.core.errors import PROBLEM_MEDIA_TYPE
from homeops.core.routing import iter_dependants

F = TypeVar("F", bound=Callable[..., Any])
_ERRORS_ATTRIBUTE = "__homeops_errors__"

DESCRIPTIONS = {
    400: "Malformed request: the body is not valid JSON, or a cursor or another token is not one the server "
    "issued.",
    401: "Not signed in, or the credentials or token are invalid or expired.",
    403: "Signed in, but the caller's role (or the role in the home or organization) does not allow this.",
    404: "Not found — or not visible to the caller (another household's objects are never revealed).",
    409: "Conflicts with the current state (a duplicate, a reference still in use, a state that does not "
    "allow it).",
    410: "Gone (an expired link).",
    413: "The request body is too large.",
    415: "The body's media type is not one this operation takes.",
    422: "The input does not match the schema (`errors` names each field), or a value is not allowed.",
    429: "Too many requests: wait the number of seconds in `Retry-After`.",
    503: "A service the API needs is unavailable.",
}
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
# What the server's e-mail validation refuses beyond the syntax: special-use domains (RFC 6761 and friends).
EMAIL_PATTERN = r"^[^@\s]+@(?!(?:[^@]*\.)?(?:arpa|invalid|local|localhost|onion|test)\.?$)[^@\s]+\.[^@\s.]+$"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details. `code` is stable and machine-readable; `type` is "
    "`https://homeops.dev/problems/<code>`. Some problems carry more members (e.g. `retry_after`).",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
    },
    "additionalProperties": True,
}
VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ValidationProblem",
    "description": "A Problem whose `errors` (when the schema was not met) name each field: `loc` is its path "
    "(`body`, `query`, `path` first), `type` the kind of error.",
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["loc", "msg", "type"],
                        "properties": {
                            "loc": {
                                "type": "array",
                                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                            },
                            "msg": {"type": "string"},
                            "type": {"type": "string"},
                        },
                    },
                }
            },
        },
    ],
}


def errors(*statuses: int) -> Callable[[F], F]:
    """Declares error statuses a route (or a dependency) answers beyond those derived from its shape. Put it
    below the route decorator::

        @router.post("/auth/login")
        @errors(401, 429)
        async def login(...): ...
    """

    def mark(func: F) -> F:
        setattr(func, _ERRORS_ATTRIBUTE, (*getattr(func, _ERRORS_ATTRIBUTE, ()), *statuses))
        return func

    return mark


def _declared(route: APIRoute) -> set[int]:
    found = set(getattr(route.endpoint, _ERRORS_ATTRIBUTE, ()))
    for dependant in iter_dependants(route.dependant):
        found.update(getattr(dependant.call, _ERRORS_ATTRIBUTE, ()))
    return found


# --- the document ----------------------------------------------------------------------------------------


def install_openapi(app: FastAPI) -> None:
    """``app.openapi()`` answers the post-processed document (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = contract(spec, app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def contract(spec: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """The error responses, the Problem schemas and the nullability fixes, applied to ``spec`` (in place)."""
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ValidationProblem"] = VALIDATION_PROBLEM_SCHEMA
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        item = spec["paths"].get(route.path_format, {})
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is not None:
                _document_errors(operation, route, method.lower(), schemas)
    for name in ("HTTPValidationError", "ValidationError"):
        if not _referenced(spec, f"#/components/schemas/{name}"):
            schemas.pop(name, None)
    for node in _schema_nodes(spec):
        if node.get("format") == "email":
            node.setdefault("pattern", EMAIL_PATTERN)
    for name in _multipart_bodies(spec):
        _no_null_in_forms(schemas.get(name, {}))
    for schema in schemas.values():
        _drop_null_defaults(schema)
        for prop in _properties(schema):
            if _is_file(prop):
                prop.setdefault("minLength", 1)  # every upload refuses an empty file (422 empty_file)
        _form_rules(schema)
    return spec


def _multipart_bodies(spec: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            content = (
                (operation.get("requestBody") or {}).get("content", {}) if isinstance(operation, dict) else {}
            )
            ref = content.get("multipart/form-data", {}).get("schema", {}).get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                names.add(ref.rsplit("/", 1)[1])
    return names


def _no_null_in_forms(schema: dict[str, Any]) -> None:
    """A form field is there or not; it cannot be null (``null`` would arrive as the text "null")."""
    for prop in (schema.get("properties") or {}).values():
        branches = prop.get("anyOf")
        if isinstance(branches, list) and {"type": "null"} in branches:
            rest = [b for b in branches if b != {"type": "null"}]
            del prop["anyOf"]
            if len(rest) == 1:
                prop.update(rest[0])
            else:
                prop["anyOf"] = rest
            if prop.get("default", 0) is None:
                del prop["default"]


# Form fields of which one must be given, under either name (a deprecated alias beside its new name).
ONE_OF_FIELDS = (("manufacturer", "brand"),)
# Form fields that are never given together (a manual is a household's upload or a partner's publication).
NOT_TOGETHER_FIELDS = (("home_id", "organization_id"),)


def _is_file(prop: dict[str, Any]) -> bool:
    return prop.get("contentMediaType") == "application/octet-stream" or prop.get("format") == "binary"


def _form_rules(schema: dict[str, Any]) -> None:
    """What a multipart form cannot say with FastAPI's parameters: a required list of files holds at least one
    (an empty list is the same form as no field), and one of two alias fields must be there."""
    props = schema.get("properties")
    if not isinstance(props, dict):
        return
    required = set(schema.get("required", ()))
    for name, prop in props.items():
        if name in required and prop.get("type") == "array" and _is_file(prop.get("items", {})):
            prop.setdefault("minItems", 1)
    for pair in ONE_OF_FIELDS:
        if all(field in props for field in pair) and not required & set(pair):
            schema.setdefault("anyOf", [{"required": [field]} for field in pair])
    for pair in NOT_TOGETHER_FIELDS:
        if all(field in props for field in pair):
            schema.setdefault("not", {"required": list(pair)})


def _document_errors(
    operation: dict[str, Any], route: APIRoute, method: str, schemas: dict[str, Any]
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    body = operation.get("requestBody")
    statuses = _declared(route) | {int(code) for code in responses if code.isdigit() and int(code) >= 400}
    authenticated = bool(operation.get("security"))
    references = any(p.get("in") == "path" for p in parameters) or any(
        p.get("in") == "query" and _mentions_uuid(p.get("schema", {}), schemas) for p in parameters
    )
    if body is not None:
        references = references or any(
            _mentions_uuid(media.get("schema", {}), schemas) for media in body.get("content", {}).values()
        )
        statuses |= {400, 413, 415, 422}
    if parameters:
        statuses.add(422)
    if any(p.get("name") == "cursor" for p in parameters):
        statuses.add(400)
    if authenticated:
        statuses.add(401)
        if references:
            statuses.add(403)
    if references:
        statuses.add(404)
    if method in WRITE_METHODS:
        statuses.add(409)
    for status in sorted(statuses):
        existing = responses.get(str(status), {})
        response: dict[str, Any] = {
            "description": existing.get("description")
            if existing.get("description") not in (None, "", "Validation Error", "Successful Response")
            else DESCRIPTIONS.get(status, "Error."),
            "content": {
                PROBLEM_MEDIA_TYPE: {
                    "schema": {
                        "$ref": "#/components/schemas/"
                        + ("ValidationProblem" if status == 422 else "Problem")
                    }
                }
            },
        }
        if status == 401:
            response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        elif status == 429:
            response["headers"] = {"Retry-After": {"schema": {"type": "string"}}}
        responses[str(status)] = response
    operation["responses"] = dict(sorted(responses.items(), key=lambda kv: (not kv[0].isdigit(), kv[0])))


def _mentions_uuid(schema: dict[str, Any], schemas: dict[str, Any], depth: int = 0) -> bool:
    """Whether a schema has a UUID at its top level (a property or an item, through refs and unions)."""
    if depth > 4 or not isinstance(schema, dict):
        return False
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return _mentions_uuid(schemas.get(ref.rsplit("/", 1)[1], {}), schemas, depth + 1)
    if schema.get("format") == "uuid":
        return True
    children = [*schema.get("anyOf", ()), *schema.get("oneOf", ()), *schema.get("allOf", ())]
    children += list(schema.get("properties", {}).values())
    if isinstance(schema.get("items"), dict):
        children.append(schema["items"])
    return any(_mentions_uuid(child, schemas, depth + 1) for child in children)


def _referenced(node: Any, ref: str) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == ref or any(_referenced(v, ref) for v in node.values())
    if isinstance(node, list):
        return any(_referenced(v, ref) for v in node)
    return False


def _allows_null(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "null" or (isinstance(schema.get("type"), list) and "null" in schema["type"]):
        return True
    if "$ref" in schema or "allOf" in schema:
        return False
    return any(_allows_null(s) for s in (*schema.get("anyOf", ()), *schema.get("oneOf", ())))


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    """``default: null`` on a property whose schema has no null (a ``NonNull`` field) is dropped: leaving the
    field out is how a client says "unchanged"."""
    for prop in _properties(schema):
        if "default" in prop and prop["default"] is None and not _allows_null(prop):
            del prop["default"]


def _schema_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _schema_nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schema_nodes(value)


def _properties(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            yield prop


# --- the docs pages --------------------------------------------------------------------------------------

ASSETS_URL = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` with their assets served by the app itself."""
    static = importlib.resources.files("fastapi_offline").joinpath("static")
    app.mount(ASSETS_URL, StaticFiles(directory=str(static)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} — API",
            oauth2_redirect_url=root + redirect_url,
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            # No validator badge: it would send the document to an outside service.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} — API",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

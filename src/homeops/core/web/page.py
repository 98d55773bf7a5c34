"""Pages: the registry of every domain's pages, the per-request ``Page``, rendering, errors and static files.

The conventions (docs/architecture.md, "Pages"):

* A domain declares ``pages = ("homeops.<domain>.pages:pages",)`` in its ``domain.py``; ``pages`` is a
  ``Pages`` with the domain's ``page_router()``, its ``templates/`` folder (template names are prefixed by the
  domain's name: ``"devices/list.html"``), navigation entries, panels and messages for its problem codes.
* A page route depends on ``SignedInPage`` / ``AnyPage`` / ``AnonymousPage`` (``homeops.identity.web``): the
  session cookie is authenticated exactly like a bearer token (``homeops_begin``) and the route gets a ``Page``
  with ``page.uow`` — the unit of work the API's routes get — and calls the same services.
* ``page_router()`` makes routes of ``PageRoute``: CSRF and origin checks on every unsafe method, problems
  rendered as HTML pages, no OpenAPI entries.
* Panels let a domain put a section on a lower domain's page without the lower one importing it
  (``Panel("device", render)`` of maintenance on the device page of devices; ``"dashboard"``, ``"home"``).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, PrefixLoader, StrictUndefined
from markupsafe import Markup
from psycopg import errors as pg_errors
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from homeops.core.errors import Problem
from homeops.core.tenancy import HomeRole, home_role_at_least
from homeops.core.web import i18n, security
from homeops.core.web.forms import NO_FORM, FormError, FormState, problem_fields
from homeops.core.web.i18n import N_, _

if TYPE_CHECKING:
    from homeops.core.actor import Actor
    from homeops.core.config import Settings
    from homeops.core.uow import UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")

CORE_DIR = Path(__file__).resolve().parent
CursorQuery = Annotated[str | None, Query(max_length=512)]
"""The ``cursor`` query parameter of a paged list page (the keyset cursor a previous page gave)."""
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SIGN_IN_PATH = "/sign-in"
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": _CSP,
}

PanelRender = Callable[["Page", Any], Awaitable[Markup | None]]


@dataclass(frozen=True)
class NavItem:
    """A link of the main navigation. ``label`` is a msgid (``N_("Devices")``); ``roles``: the platform roles
    that see it (None: every signed-in user); ``active``: the path prefix that marks it current."""

    label: str
    href: str
    order: int = 100
    roles: frozenset[str] | None = None
    active: str | None = None


@dataclass(frozen=True)
class Panel:
    """A section a domain adds to a page of another (``slot``): ``render(page, subject)`` returns its HTML
    (``page.fragment(...)``) or None to show nothing. Slots: "dashboard" (subject None), "home" (a HomeOut),
    "device" (a DeviceOut), "moderation" (a ``homeops.manuals.pages.QueueView``)."""

    slot: str
    render: PanelRender
    order: int = 100


@dataclass(frozen=True)
class Pages:
    name: str
    router: APIRouter | None = None
    templates: Path | None = None
    static: Path | None = None
    nav: Sequence[NavItem] = ()
    panels: Sequence[Panel] = ()
    # Problem codes of this domain → a msgid shown instead of the (English) detail.
    messages: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, module_file: str, name: str, **kwargs: Any) -> Pages:
        """The pages of the domain whose ``pages.py`` is ``module_file`` (its ``templates/`` and ``static/``
        folders beside it, when they exist)."""
        here = Path(module_file).resolve().parent
        templates = here / "templates"
        static = here / "static"
        return cls(
            name=name,
            templates=templates if templates.is_dir() else None,
            static=static if static.is_dir() else None,
            **kwargs,
        )


class SignInRequired(Exception):
    """The page needs a signed-in user (answered with a redirect to the sign-in page)."""


# Messages of the codes every page may meet (the domains add theirs in ``Pages.messages``).
_COMMON_MESSAGES = {
    "home_not_found": N_("This home does not exist or you are not a member of it."),
    "insufficient_home_role": N_("Your role in this home does not allow this."),
    "role_required": N_("Your role does not allow this."),
    "forbidden": N_("You are not allowed to do this."),
    "validation_error": N_("Some values are not valid."),
    "invalid_cursor": N_("This page link is no longer valid. Start from the first page."),
    "csrf_failed": N_("The form expired or did not come from this site. Reload the page and try again."),
}
_STATUS_MESSAGES = {
    400: N_("The request was not understood."),
    401: N_("Sign in to continue."),
    403: N_("You are not allowed to do this."),
    404: N_("This page does not exist, or you cannot see it."),
    409: N_("This conflicts with the current state. Reload the page and try again."),
    413: N_("The file is too large."),
    415: N_("This type of file is not accepted."),
    422: N_("Some values are not valid."),
    429: N_("Too many attempts. Wait a little and try again."),
    500: N_("Something went wrong on our side. Try again later."),
}


_SOMETHING_WRONG = N_("Something went wrong")


class WebRegistry:
    """Every domain's pages, merged: routers, the template environment, navigation, panels, messages and
    static folders. One per app (``app.state.web``)."""

    def __init__(self, settings: Settings, pages: Sequence[Pages]) -> None:
        self.settings = settings
        self.pages = list(pages)
        names = [p.name for p in self.pages]
        if len(set(names)) != len(names) or "core" in names:
            raise ValueError(f"page sets need distinct names other than 'core': {names}")
        loaders: dict[str, FileSystemLoader] = {"core": FileSystemLoader(CORE_DIR / "templates")}
        self.static_dirs: dict[str, Path] = {"core": CORE_DIR / "static"}
        for p in self.pages:
            if p.templates is not None:
                loaders[p.name] = FileSystemLoader(p.templates)
            if p.static is not None:
                self.static_dirs[p.name] = p.static
        self.env = Environment(
            loader=PrefixLoader(loaders),
            autoescape=True,
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n", "jinja2.ext.loopcontrols"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        gettext_, ngettext_, pgettext_, npgettext_ = i18n.JINJA_CALLABLES
        self.env.install_gettext_callables(  # type: ignore[attr-defined]
            gettext_, ngettext_, newstyle=True, pgettext=pgettext_, npgettext=npgettext_
        )
        self.env.filters.update(i18n.FILTERS)
        self.env.filters["highlight"] = highlight
        self.env.globals.update(static=self.static_url, locales=i18n.LOCALES, csrf_field=security.CSRF_FIELD)
        self.nav = sorted((n for p in self.pages for n in p.nav), key=lambda n: n.order)
        self.panels: dict[str, list[Panel]] = {}
        for p in self.pages:
            for panel in p.panels:
                self.panels.setdefault(panel.slot, []).append(panel)
        for slot in self.panels.values():
            slot.sort(key=lambda panel: panel.order)
        self.messages: dict[str, str] = dict(_COMMON_MESSAGES)
        for p in self.pages:
            self.messages.update(p.messages)
        self._hashes: dict[str, str] = {}

    def routers(self) -> Iterator[APIRouter]:
        for p in self.pages:
            if p.router is not None:
                yield p.router
        yield static_router

    # --- static files ---------------------------------------------------------------------------------
    def static_file(self, path: str) -> Path | None:
        prefix, _sep, rest = path.partition("/")
        root = self.static_dirs.get(prefix)
        if root is None or not rest:
            return None
        target = (root / rest).resolve()
        if not target.is_relative_to(root.resolve()) or not target.is_file():
            return None
        return target

    def static_hash(self, path: str) -> str:
        digest = self._hashes.get(path)
        if digest is None:
            target = self.static_file(path)
            digest = hashlib.sha256(target.read_bytes()).hexdigest()[:12] if target else "0"
            self._hashes[path] = digest
        return digest

    def static_url(self, path: str) -> str:
        """``/static/core/app.css?v=<content hash>``: cached for a year, a new URL when the file changes."""
        return f"/static/{path}?v={self.static_hash(path)}"


def highlight(snippet: str) -> Markup:
    """A search snippet (``<mark>`` around the matches, as the database's headline marks them) as HTML: everything
    escaped, then only those two tags given back."""
    escaped = str(Markup.escape(snippet))
    return Markup(escaped.replace("&lt;mark&gt;", "<mark>").replace("&lt;/mark&gt;", "</mark>"))


def registry(request: Request) -> WebRegistry:
    web: WebRegistry = request.app.state.web
    return web


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go to after a form (never another site: no scheme, no ``//``, no backslash)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 2000:
        return default
    return value


class Page:
    """One page request: who asks (``actor``, None when signed out), in which language, its unit of work,
    the submitted form, and how to answer (``render``, ``fragment``, ``redirect``)."""

    def __init__(
        self,
        request: Request,
        *,
        uow: UnitOfWork | None = None,
        actor: Actor | None = None,
        form: FormData | None = None,
    ) -> None:
        self.request = request
        self.web = registry(request)
        self.settings = self.web.settings
        self._uow = uow
        self.actor = actor if actor is not None and actor.is_user else None
        self.form = form
        self._cookies: list[Callable[[Response], None]] = []
        self.locale = self._negotiate()
        i18n.set_locale(self.locale)
        self._csrf: str | None = None
        # The form that failed, when a page is rendered again after a submission (panels read it too).
        self.state: FormState = NO_FORM
        request.state.page = self

    # --- who and where ----------------------------------------------------------------------------------
    def _negotiate(self) -> str:
        chosen = self.request.cookies.get(i18n.LOCALE_COOKIE)
        if chosen is not None and chosen in i18n.LOCALES:
            return chosen
        return i18n.negotiate(self.request.headers.get("accept-language")) or i18n.DEFAULT_LOCALE

    @property
    def uow(self) -> UnitOfWork:
        if self._uow is None:
            raise RuntimeError(
                "this page has no unit of work (use a page dependency of homeops.identity.web)"
            )
        return self._uow

    @property
    def signed_in(self) -> bool:
        return self.actor is not None

    @property
    def user_id(self) -> uuid.UUID:
        if self.actor is None or self.actor.user_id is None:
            raise SignInRequired()
        return self.actor.user_id

    @property
    def role(self) -> str | None:
        return self.actor.role.value if self.actor is not None and self.actor.role is not None else None

    @property
    def direction(self) -> str:
        return i18n.direction(self.locale)

    def home_role(self, home_id: uuid.UUID) -> HomeRole | None:
        return self.actor.home_role(home_id) if self.actor is not None else None

    def can(self, home_id: uuid.UUID, need: str | HomeRole = HomeRole.member) -> bool:
        """Whether the viewer's role in the home is at least ``need`` (to show or hide a control; the service
        decides)."""
        return home_role_at_least(self.home_role(home_id), HomeRole(need))

    @property
    def path(self) -> str:
        query = self.request.url.query
        return self.request.url.path + (f"?{query}" if query else "")

    def url(self, path: str, **params: Any) -> str:
        """``path`` with the non-empty ``params`` as its query string (lists repeat the key)."""
        pairs: list[tuple[str, str]] = []
        for key, value in params.items():
            values = value if isinstance(value, list | tuple) else [value]
            pairs.extend((key, str(v)) for v in values if v is not None and v != "")
        return path + ("?" + urlencode(pairs) if pairs else "")

    def with_params(self, **params: Any) -> str:
        """The current page's URL with ``params`` replaced (None removes one): filters and "next page" links."""
        current: dict[str, Any] = {}
        for key in self.request.query_params:
            current[key] = self.request.query_params.getlist(key)
        for key, value in params.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        return self.url(self.request.url.path, **current)

    # --- CSRF ---------------------------------------------------------------------------------------------
    @property
    def csrf_token(self) -> str:
        """The token of this browser's forms: bound to the signed-in session, else to the pre-session cookie
        (created here when missing)."""
        if self._csrf is None:
            if self.actor is not None and self.actor.session_id is not None:
                binding = f"s:{self.actor.session_id}"
            else:
                anon = self.request.cookies.get(security.ANON_COOKIE)
                if not anon or not 16 <= len(anon) <= 128:
                    anon = security.new_anonymous_id()
                    self.add_cookie(security.ANON_COOKIE, anon, max_age=30 * 24 * 3600)
                binding = f"a:{anon}"
            self._csrf = security.csrf_token_for(self.settings, binding)
        return self._csrf

    # --- answers ------------------------------------------------------------------------------------------
    def add_cookie(self, name: str, value: str, *, max_age: int | None, http_only: bool = True) -> None:
        self._cookies.append(
            lambda r: security.set_cookie(r, self.request, name, value, max_age=max_age, http_only=http_only)
        )

    def clear_cookie(self, name: str) -> None:
        self._cookies.append(lambda r: security.clear_cookie(r, self.request, name))

    def on_response(self, apply: Callable[[Response], None]) -> None:
        self._cookies.append(apply)

    def finish(self, response: Response) -> Response:
        for apply in self._cookies:
            apply(response)
        self._cookies.clear()
        for key, value in PAGE_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    def context(self, **ctx: Any) -> dict[str, Any]:
        return {
            "page": self,
            "nav": self.nav(),
            "lang": self.locale,
            "dir": self.direction,
            **ctx,
        }

    def nav(self) -> list[NavItem]:
        if not self.signed_in:
            return []
        role = self.role
        return [n for n in self.web.nav if n.roles is None or (role is not None and role in n.roles)]

    def is_active(self, item: NavItem) -> bool:
        prefix = item.active or item.href
        path = self.request.url.path
        return (
            path == prefix if prefix == "/" else path == prefix or path.startswith(prefix.rstrip("/") + "/")
        )

    def render(self, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        form = ctx.get("form")
        if isinstance(form, FormState) and form.failed_ and not self.state.failed_:
            self.state = form
        flash = security.read_flash(self.settings, self.request)
        if flash is not None:
            self.clear_cookie(security.FLASH_COOKIE)
        html = self.web.env.get_template(template).render(self.context(flash=flash, **ctx))
        return self.finish(HTMLResponse(html, status_code=status))  # type: ignore[return-value]

    def fragment(self, template: str, **ctx: Any) -> Markup:
        """A template rendered to HTML for a panel or a part of a page."""
        return Markup(self.web.env.get_template(template).render(self.context(**ctx)))

    async def panels(self, slot: str, subject: Any = None) -> list[Markup]:
        out = []
        for panel in self.web.panels.get(slot, ()):
            html = await panel.render(self, subject)
            if html:
                out.append(html)
        return out

    def redirect(self, url: str, *, flash: str | None = None, kind: str = "success") -> Response:
        """303 to a local ``url`` (after a form: the browser GETs it), with a one-shot message."""
        response = RedirectResponse(safe_next(url), status_code=303)
        if flash:
            value = security.sign_flash(self.settings, flash, kind)
            self.on_response(
                lambda r: security.set_cookie(r, self.request, security.FLASH_COOKIE, value, max_age=60)
            )
        return self.finish(response)

    # --- running a form's action ----------------------------------------------------------------------------
    def problem_message(self, exc: Problem) -> str:
        msgid = self.web.messages.get(exc.code)
        if msgid is not None:
            return _(msgid)
        if self.locale == i18n.DEFAULT_LOCALE and exc.detail:
            return exc.detail
        return _(_STATUS_MESSAGES.get(exc.status, _STATUS_MESSAGES[400]))

    @asynccontextmanager
    async def attempt(self) -> AsyncIterator[None]:
        """A savepoint around a service call: if it fails, what it did is undone and the transaction stays
        usable, so the page can be rendered again with the error (the request still rolls back, status ≥ 400)."""
        uow = self.uow
        audited, hooks = len(uow.audit.audit), len(uow.after_commit)
        nested = await uow.session.begin_nested()
        try:
            yield
        except BaseException:
            await nested.rollback()
            # What the failed call recorded goes with it (its durable records stay: they are meant to).
            del uow.audit.audit[audited:]
            del uow.after_commit[hooks:]
            raise
        else:
            await nested.commit()

    async def submit(
        self, action: Callable[[], Awaitable[T]], messages: Mapping[str, str] | None = None
    ) -> T:
        """Runs a service call (in ``attempt``); its problem becomes a ``FormError`` for the page to show the form
        again with it — except "not allowed" (403) and "not found" (404), answered with an error page.
        ``messages``: this page's own msgids for some problem codes (codes several domains share)."""
        try:
            async with self.attempt():
                return await action()
        except Problem as exc:
            if exc.status in (403, 404):
                raise  # not something the form can fix: the page says so (PageRoute renders it)
            msgid = (messages or {}).get(exc.code)
            message = _(msgid) if msgid is not None else self.problem_message(exc)
            raise FormError(message, problem_fields(exc), status=exc.status) from exc

    def error(self, status: int, title: str, message: str) -> HTMLResponse:
        return self.render("core/error.html", status=status, title=title, message=message)


# --- the route class of every page ------------------------------------------------------------------------
def _error_page(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    page = getattr(request.state, "page", None)
    if not isinstance(page, Page):
        page = Page(request)
    titles = {
        401: N_("Sign in"),
        403: N_("Not allowed"),
        404: N_("Not found"),
        409: N_("Conflict"),
        429: N_("Too many attempts"),
    }
    response = page.error(status, _(titles.get(status, _SOMETHING_WRONG)), message)
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            response.headers[key] = value
    return response


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method in UNSAFE_METHODS:
        target = request.headers.get("referer", "/")
        target = target.split(request.url.netloc, 1)[-1] if request.url.netloc in target else "/"
    url = SIGN_IN_PATH + ("?" + urlencode({"next": safe_next(target)}) if target not in ("/", "") else "")
    response = RedirectResponse(url, status_code=303)
    page = getattr(request.state, "page", None)
    if isinstance(page, Page):
        return page.finish(response)  # e.g. the cookie of an ended session is cleared
    for key, value in PAGE_HEADERS.items():
        response.headers.setdefault(key, value)
    return response


class PageRoute(APIRoute):
    """A page: CSRF-checked when unsafe, errors answered as HTML."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                if request.method == "GET":
                    drop_blank_query(request)
                if request.method in UNSAFE_METHODS and not await csrf_ok(request):
                    log.warning("refused a page form without a valid CSRF token: %s", request.url.path)
                    return _error_page(request, 403, _(_COMMON_MESSAGES["csrf_failed"]))
                return await handler(request)
            except SignInRequired:
                return sign_in_redirect(request)
            except FormError as exc:
                return _error_page(request, exc.status, exc.message or _(_STATUS_MESSAGES[exc.status]))
            except Problem as exc:
                page = getattr(request.state, "page", None)
                message = page.problem_message(exc) if isinstance(page, Page) else _(_STATUS_MESSAGES[400])
                if exc.status == 401:
                    return sign_in_redirect(request)
                return _error_page(request, exc.status, message, exc.headers)
            except RequestValidationError:
                return _error_page(request, 400, _(_STATUS_MESSAGES[400]))
            except DBAPIError as exc:
                if isinstance(exc.orig, pg_errors.InsufficientPrivilege):
                    return _error_page(request, 403, _(_STATUS_MESSAGES[403]))
                if isinstance(exc.orig, pg_errors.UniqueViolation | pg_errors.ForeignKeyViolation):
                    return _error_page(request, 409, _(_STATUS_MESSAGES[409]))
                log.exception("database error on a page", exc_info=exc)
                return _error_page(request, 500, _(_STATUS_MESSAGES[500]))
            except Exception as exc:
                log.exception("unhandled error on a page", exc_info=exc)
                return _error_page(request, 500, _(_STATUS_MESSAGES[500]))

        return route


def drop_blank_query(request: Request) -> None:
    """On a page, a blank query parameter is a missing one: a filter form's "any" option sends ``status=``
    (with or without scripts), which must mean "no filter", not an invalid status."""
    raw: bytes = request.scope.get("query_string", b"")
    if b"=" not in raw:
        return
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    kept = [(key, value) for key, value in pairs if value.strip()]
    if len(kept) != len(pairs):
        request.scope["query_string"] = urlencode(kept).encode("ascii")
        for cached in ("_query_params", "_url"):
            request.__dict__.pop(cached, None)


async def csrf_ok(request: Request) -> bool:
    settings = registry(request).settings
    if not security.same_origin(request):
        return False
    submitted = request.headers.get(security.CSRF_HEADER)
    if not submitted:
        try:
            form = await request.form()
        except Exception:  # noqa: BLE001 - an unreadable body is refused like a missing token
            return False
        value = form.get(security.CSRF_FIELD)
        submitted = value if isinstance(value, str) else None
    return security.csrf_valid(settings, request, submitted)


def page_router() -> APIRouter:
    """The router of a domain's pages (``PageRoute``, left out of the OpenAPI document)."""
    return APIRouter(route_class=PageRoute, include_in_schema=False)


# --- static files --------------------------------------------------------------------------------------------
static_router = APIRouter(include_in_schema=False)


@static_router.get("/static/{path:path}", name="static")
async def static_file(request: Request, path: str, v: str | None = None) -> Response:
    web = registry(request)
    target = web.static_file(path)
    if target is None:
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    cache = (
        "public, max-age=31536000, immutable" if v and v == web.static_hash(path) else "public, max-age=300"
    )
    return FileResponse(target, headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})


def install_web(app: FastAPI, settings: Settings, pages: Sequence[Pages]) -> WebRegistry:
    """The web interface on ``app``: the registry (``app.state.web``) and HTML answers to browsers for unknown
    paths outside the API. Returns the registry; its ``routers()`` are added by the app."""
    web = WebRegistry(settings, pages)
    app.state.web = web
    api_handler = app.exception_handlers.get(StarletteHTTPException)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        wants_html = "text/html" in request.headers.get("accept", "")
        if wants_html and not request.url.path.startswith("/api/") and exc.status_code in (404, 405):
            return _error_page(
                request, exc.status_code, _(_STATUS_MESSAGES.get(exc.status_code, _STATUS_MESSAGES[404]))
            )
        assert api_handler is not None
        response: Response = await api_handler(request, exc)  # type: ignore[misc]
        return response

    app.add_exception_handler(StarletteHTTPException, http_error)
    return web

"""Route dispatch by path prefix: a request is matched against the routes that can match it, not all of them.

Starlette (and FastAPI's router) try every route in order until one matches fully: with ~350 routes on one flat
list, a page or a marketplace route at the end paid ~0.4 ms of regular-expression matching per request before
any work (``/api/v1/devices/{id}/manuals``, route 84: 93 µs). Each route's path begins with literal segments
(``/api/v1/devices`` of ``/api/v1/devices/{device_id}/manuals``); a request can only match a route whose literal
segments (up to the first three) equal its own, so the routes are grouped by those segments once, in their
original order, and a request tries only its group (the routes with that prefix, with a shorter prefix of it,
or with none: mounts at the root, host routes, paths that start with a parameter).

Behaviour is unchanged by construction: when a route of the group matches fully, it is the first route of the
whole list that does (every route before it that is not in the group cannot match), and the request is
dispatched by the same router code over the group; anything else — no full match (404, 405, the trailing-slash
redirect), lifespan, a route list changed since — goes to the router's own scan of every route.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.routing import APIRouter
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

DEPTH = 3  # literal segments that key a group (``/api/v1/<domain>``)


def literal_prefix(route: BaseRoute) -> tuple[str, ...]:
    """The route's leading literal path segments (at most ``DEPTH``); () for a route without a path."""
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return ()
    prefix: list[str] = []
    for segment in path.split("/")[1 : DEPTH + 1]:
        if "{" in segment:
            break
        prefix.append(segment)
    return tuple(prefix)


class PrefixDispatch:
    """The router's dispatch (its ``middleware_stack``) through the prefix groups; see the module."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._built_for: tuple[int, int] | None = None
        self._groups: dict[tuple[str, ...], tuple[Sequence[BaseRoute], APIRouter]] = {}

    def _build(self) -> None:
        routes = list(self.router.routes)
        prefixes = [literal_prefix(r) for r in routes]
        known = {p[:n] for p in prefixes for n in range(len(p) + 1)} | {()}
        groups: dict[tuple[str, ...], tuple[Sequence[BaseRoute], APIRouter]] = {}
        for key in known:
            members = [r for r, p in zip(routes, prefixes, strict=True) if key[: len(p)] == p]
            group = APIRouter(redirect_slashes=self.router.redirect_slashes)
            group.routes.extend(members)
            if hasattr(self.router, "form_limits"):
                group.form_limits = self.router.form_limits
            groups[key] = (tuple(members), group)
        self._groups = groups
        self._built_for = (id(self.router.routes), len(self.router.routes))

    def group(self, path: str) -> tuple[Sequence[BaseRoute], APIRouter]:
        """The routes that can match ``path`` (in the router's order) and a router over exactly them."""
        if self._built_for != (id(self.router.routes), len(self.router.routes)):
            self._build()
        segments = path.split("/")[1 : DEPTH + 1]
        for n in range(len(segments), 0, -1):
            found = self._groups.get(tuple(segments[:n]))
            if found is not None:
                return found
        return self._groups[()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            candidates, group = self.group(get_route_path(scope))
            for route in candidates:
                match, _ = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self.router)  # url_for and the app see the whole router
                    await group.app(scope, receive, send)
                    return
        await self.router.app(scope, receive, send)


def install_prefix_dispatch(app: FastAPI) -> None:
    """Dispatches ``app``'s requests through :class:`PrefixDispatch` (when its router has no middleware of its
    own, which the dispatch would bypass: then it keeps the plain scan)."""
    router = app.router
    if router.middleware_stack == router.app:
        router.middleware_stack = PrefixDispatch(router)

"""Prefix dispatch (``homeops.core.dispatch``) picks, for every route of the app, the route the plain scan picks."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from starlette.routing import Match

from homeops.core.dispatch import PrefixDispatch, literal_prefix

SAMPLES = {"uuid": str(uuid.UUID(int=7)), "int": "3", "path": "a/b.txt", "str": "sample", "float": "1.5"}


def _sample_path(route_path: str) -> str:
    out = []
    for segment in route_path.split("/"):
        while "{" in segment:
            start, end = segment.index("{"), segment.index("}")
            name = segment[start + 1 : end]
            kind = name.split(":", 1)[1] if ":" in name else "str"
            segment = segment[:start] + SAMPLES.get(kind, "sample") + segment[end + 1 :]
        out.append(segment)
    return "/".join(out)


def _first_full(routes, scope):  # type: ignore[no-untyped-def]
    for route in routes:
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


def test_every_route_is_found_in_its_group(client: TestClient) -> None:
    router = client.app.router  # type: ignore[attr-defined]
    dispatch = router.middleware_stack
    assert isinstance(dispatch, PrefixDispatch)
    checked = 0
    for route in router.routes:
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        methods = sorted(getattr(route, "methods", None) or {"GET"})
        kind = "websocket" if type(route).__name__.startswith("WebSocket") else "http"
        for method in methods:
            sample = _sample_path(path) or "/"
            scope = {"type": kind, "path": sample, "root_path": "", "method": method, "headers": []}
            candidates, _group = dispatch.group(sample)
            assert _first_full(candidates, scope) is _first_full(router.routes, scope), (method, sample)
            checked += 1
    assert checked > 300


def test_literal_prefix() -> None:
    class R:
        def __init__(self, path: str) -> None:
            self.path = path

    assert literal_prefix(R("/api/v1/devices/{device_id}/manuals")) == ("api", "v1", "devices")
    assert literal_prefix(R("/homes/{home_id}")) == ("homes",)
    assert literal_prefix(R("/{page}")) == ()
    assert literal_prefix(R("/static")) == ("static",)
    assert literal_prefix(object()) == ()  # type: ignore[arg-type]


def test_misses_still_get_the_routers_answers(client: TestClient) -> None:
    # 404 (no route), 405 (a route of another method), and an unknown prefix all answer as before.
    assert client.get("/api/v1/no-such-domain/x").status_code == 404
    assert client.get("/definitely/not/a/page/at/all").status_code == 404
    r = client.delete("/healthz")
    assert r.status_code == 405 and "GET" in r.headers.get("allow", "")
    assert client.get("/healthz").status_code == 200

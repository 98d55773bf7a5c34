"""Bad input is never a 500 (issue 9 §2): NUL characters, loose types, oversized bodies and JSON fields, route
shadowing — each a clear 4xx problem+json, and nothing written."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from psycopg import sql

from homeops.core.schemas import StrictIn
from tests.conftest import ApiUser, assert_problem

NUL = "a\u0000b"


def _counts(owner_conn: psycopg.Connection) -> dict[str, int]:
    """Rows of every table the app writes, but the audit trail (a failed write is audited on purpose)."""
    tables = [
        r[0]
        for r in owner_conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "AND c.relname NOT IN ('audit_logs', 'alembic_version', 'jobs') ORDER BY 1"
        ).fetchall()
    ]
    counts = sql.SQL(", ").join(
        sql.SQL("(SELECT count(*) FROM {})").format(sql.Identifier(t)) for t in tables
    )
    row = owner_conn.execute(sql.SQL("SELECT ") + counts).fetchone()
    assert row is not None
    return dict(zip(tables, row, strict=True))


def _nul_errors(response: Any) -> list[dict[str, Any]]:
    body = assert_problem(response, 422, "validation_error")
    return [e for e in body["errors"] if e["type"] == "string_nul"]


# --- NUL ---------------------------------------------------------------------------------------------------


def test_the_issue_repros_answer_422(
    client: TestClient, make_user: Callable[..., ApiUser], owner_conn
) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    before = _counts(owner_conn)
    r = client.post("/api/v1/homes", json={"name": NUL}, headers=user.headers)
    assert _nul_errors(r)[0]["loc"] == ["body", "name"]
    r = client.get("/api/v1/manufacturers?q=%00", headers=user.headers)
    assert _nul_errors(r)[0]["loc"] == ["query", "q"]
    r = client.post("/api/v1/auth/login", json={"email": f"{NUL}@example.com", "password": "x" * 12})
    assert _nul_errors(r)[0]["loc"] == ["body", "email"]
    r = client.post("/api/v1/auth/login", data={"username": f"{NUL}@example.com", "password": "x" * 12})
    assert _nul_errors(r)[0]["loc"] == ["body", "username"]
    r = client.post(
        "/api/v1/auth/register",
        json={"email": "nul@example.com", "password": "correct-horse-battery", "full_name": NUL},
    )
    assert _nul_errors(r)
    # In an object key, at any depth of a free-form JSON field.
    r = client.patch("/api/v1/users/me", json={"preferences": {"a": [{NUL: 1}]}}, headers=user.headers)
    assert _nul_errors(r)[0]["loc"][:4] == ["body", "preferences", "a", 0]
    # Unpaired surrogates and NaN are refused the same way (PostgreSQL stores neither).
    r = client.post(
        "/api/v1/homes",
        content=b'{"name": "a\\ud800b"}',
        headers={**user.headers, "content-type": "application/json"},
    )
    assert assert_problem(r, 422)["errors"][0]["type"] == "string_unicode"
    r = client.patch(
        "/api/v1/users/me",
        content=b'{"preferences": {"x": NaN}}',
        headers={**user.headers, "content-type": "application/json"},
    )
    assert assert_problem(r, 422)["errors"][0]["type"] == "finite_number"
    assert _counts(owner_conn) == before


def test_nul_in_a_path_parameter(client: TestClient, make_staff: Callable[[str], ApiUser]) -> None:
    admin = make_staff("admin")
    r = client.get("/api/v1/settings/a%00b", headers=admin.headers)
    assert _nul_errors(r)[0]["loc"] == ["path", "key"]
    # A NUL in a path nothing matches is a 404 (and the audit row of a failed write still stores).
    assert_problem(client.post("/api/v1/homes%00", json={}, headers=admin.headers), 404)


def test_file_contents_may_hold_nul_bytes(
    client: TestClient, make_user: Callable[..., ApiUser], make_home: Callable[..., dict[str, Any]]
) -> None:
    """Only text is checked: an uploaded file is bytes (here a PNG, which has NULs in its header)."""
    user = make_user()
    home = make_home(user)
    device = client.post(
        f"/api/v1/homes/{home['id']}/devices", json={"nickname": "Boiler"}, headers=user.headers
    )
    event = client.post(
        f"/api/v1/devices/{device.json()['id']}/service-events",
        json={"event_type": "repair"},
        headers=user.headers,
    ).json()
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
    r = client.post(
        f"/api/v1/service-events/{event['id']}/attachments",
        files={"file": ("receipt.png", png, "image/png")},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text


def _api_routes(client: TestClient) -> Iterator[APIRoute]:
    for route in client.app.router.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and route.include_in_schema:
            yield route


def _concrete(path: str) -> str:
    """A path with every parameter filled: UUIDs for UUID parameters, text for the others."""
    path = re.sub(r"\{[^}:]+:uuid\}", str(uuid.uuid4()), path)
    path = re.sub(r"\{[^}:]+:int\}", "0", path)
    return re.sub(r"\{[^}]+\}", "x", path)


def _string_inputs() -> list[tuple[str, str, str]]:
    """(method, path, where) for every documented operation and every kind of string input it takes: a JSON
    body, a form, a query, a path parameter that is not a UUID."""
    from homeops import domains
    from homeops.core.routing import _InputGuard

    out = []
    for router in domains.routers():
        for route in router.routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            guard = _InputGuard(route)
            text_params = [p for p in route.dependant.path_params if p.field_info.annotation is not uuid.UUID]
            for method in sorted(route.methods):
                if guard.reads_body and "application/json" in guard.media:
                    out.append((method, route.path, "json"))
                if guard.reads_body and guard.media & _FORMS:
                    out.append((method, route.path, "form"))
                if guard.query_names:
                    out.append((method, route.path, "query"))
                if text_params:
                    out.append((method, route.path, "path"))
    return out


_FORMS = {"multipart/form-data", "application/x-www-form-urlencoded"}
_NUL_USER: dict[str, ApiUser] = {}


def _nul_request(client: TestClient, user: ApiUser, method: str, path: str, where: str) -> Any:
    route = next(r for r in _api_routes(client) if r.path_format == path and method in r.methods)
    url = _concrete(route.path)
    kwargs: dict[str, Any] = {"headers": user.headers}
    if where == "json":
        kwargs["json"] = {"probe": NUL, "nested": [{"deeper": NUL}]}
    elif where == "form":
        if "multipart/form-data" in _media(route):
            kwargs["files"] = {"file": ("f.bin", b"\x00binary\x00", "application/octet-stream")}
        kwargs["data"] = {"probe": NUL}
    elif where == "query":
        url += f"?{min(_query_names(route))}=a%00b"
    else:
        url = re.sub(r"/x(?=/|$|\.)", "/a%00b", url, count=1)
    return client.request(method, url, **kwargs)


@pytest.mark.parametrize(("method", "path", "where"), _string_inputs())
def test_every_string_input_refuses_nul(
    client: TestClient, make_user: Callable[..., ApiUser], method: str, path: str, where: str
) -> None:
    """The check runs before the route (its dependencies, its service): a 422 naming the NUL means the
    operation did not run."""
    user = _NUL_USER.setdefault("user", make_user("nul"))
    r = _nul_request(client, user, method, path, where)
    assert _nul_errors(r), (method, path, where, r.text)


def test_a_sweep_of_nuls_writes_nothing(
    client: TestClient, make_user: Callable[..., ApiUser], owner_conn: psycopg.Connection
) -> None:
    user = make_user("sweep")
    before = _counts(owner_conn)
    for method, path, where in _string_inputs():
        assert _nul_request(client, user, method, path, where).status_code == 422
    assert _counts(owner_conn) == before


def _media(route: APIRoute) -> frozenset[str]:
    from homeops.core.routing import _InputGuard

    return _InputGuard(route).media


def _query_names(route: APIRoute) -> frozenset[str]:
    from homeops.core.routing import _InputGuard

    return _InputGuard(route).query_names or frozenset()


def test_unknown_query_parameters_are_422(client: TestClient, make_user: Callable[..., ApiUser]) -> None:
    user = make_user()
    body = assert_problem(client.get("/api/v1/homes?limt=5", headers=user.headers), 422)
    assert body["errors"][0] == {
        "loc": ["query", "limt"],
        "msg": "Unknown query parameter",
        "type": "extra_forbidden",
    }


# --- strict types ------------------------------------------------------------------------------------------


@pytest.fixture
def device(client: TestClient, make_user: Callable[..., ApiUser], make_home: Callable[..., dict[str, Any]]):  # type: ignore[no-untyped-def]
    user = make_user()
    home = make_home(user)
    room = client.post(
        f"/api/v1/homes/{home['id']}/rooms", json={"name": "Cellar"}, headers=user.headers
    ).json()
    r = client.post(
        f"/api/v1/homes/{home['id']}/devices",
        json={
            "nickname": "Boiler",
            "room_id": room["id"],  # a UUID as JSON has it
            "purchase_date": "2024-02-29",  # a date
            "purchase_price": "1234.5",  # a decimal string …
        },
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["room_id"] == room["id"] and body["purchase_date"] == "2024-02-29"
    assert Decimal(body["purchase_price"]) == Decimal("1234.50")
    return user, body


def test_booleans_and_numeric_strings_are_not_numbers(client: TestClient, device, owner_conn) -> None:  # type: ignore[no-untyped-def]
    user, dev = device
    url = f"/api/v1/devices/{dev['id']}/maintenance-schedules"
    base = {"task_name": "Descale", "interval_unit": "months"}
    before = _counts(owner_conn)
    for bad in (
        {"interval": True},
        {"interval": "3"},
        {"interval": 2.5},
        {"interval": 3, "lead_days": False},
    ):
        r = client.post(url, json={**base, **bad}, headers=user.headers)
        assert assert_problem(r, 422, "validation_error")["errors"], bad
    for bad_flag in (1, "true", "yes"):
        r = client.post(url, json={**base, "interval": 3, "reminder_enabled": bad_flag}, headers=user.headers)
        assert_problem(r, 422, "validation_error")
    assert _counts(owner_conn) == before
    # The number of JSON Schema: 3 and 3.0 are the same integer; dates as strings; amounts as numbers too.
    r = client.post(
        url,
        json={**base, "interval": 3.0, "next_due": "2030-01-31", "estimated_cost": 19.999},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["interval"] == 3 and r.json()["next_due"] == "2030-01-31"
    assert Decimal(r.json()["estimated_cost"]) == Decimal("20.00")
    r = client.patch(f"/api/v1/devices/{dev['id']}", json={"purchase_price": True}, headers=user.headers)
    assert_problem(r, 422, "validation_error")
    r = client.patch(f"/api/v1/devices/{dev['id']}", json={"purchase_price": 99.5}, headers=user.headers)
    assert r.status_code == 200 and Decimal(r.json()["purchase_price"]) == Decimal("99.50")


def test_strict_input_models_keep_json_spellings() -> None:
    class Probe(StrictIn):
        id: uuid.UUID
        day: date
        at: datetime
        amount: Decimal
        ratio: float

    uid = uuid.uuid4()
    probe = Probe.model_validate(
        {"id": str(uid), "day": "2024-02-29", "at": "2024-02-29T12:30:00Z", "amount": "12.34", "ratio": 1}
    )
    assert probe.id == uid and probe.day == date(2024, 2, 29) and probe.at.hour == 12
    assert probe.amount == Decimal("12.34") and probe.ratio == 1.0
    for bad in ({"ratio": True}, {"ratio": "1.5"}):
        with pytest.raises(ValueError):
            Probe.model_validate(
                {"id": str(uid), "day": "2024-02-29", "at": "2024-02-29T12:30:00Z", "amount": 1, **bad}
            )


def test_preferences_null_and_oversized_json_fields(client: TestClient, device, make_staff) -> None:  # type: ignore[no-untyped-def]
    user, dev = device
    assert (
        client.patch(
            "/api/v1/users/me", json={"preferences": {"theme": "dark"}}, headers=user.headers
        ).status_code
        == 200
    )
    assert_problem(client.patch("/api/v1/users/me", json={"preferences": None}, headers=user.headers), 422)
    big = {"blob": "x" * 16_400}
    body = assert_problem(
        client.patch("/api/v1/users/me", json={"preferences": big}, headers=user.headers), 422
    )
    assert body["errors"][0]["type"] == "json_too_large"
    assert client.get("/api/v1/users/me", headers=user.headers).json()["preferences"] == {"theme": "dark"}
    for field in ("features", "specifications"):
        r = client.patch(f"/api/v1/devices/{dev['id']}", json={field: big}, headers=user.headers)
        assert assert_problem(r, 422)["errors"][0]["type"] == "json_too_large"
    admin = make_staff("admin")
    r = client.post(
        "/api/v1/settings",
        json={"setting_key": f"t.big{uuid.uuid4().hex[:6]}", "setting_type": "json", "value": big},
        headers=admin.headers,
    )
    assert assert_problem(r, 422)["errors"][0]["type"] == "json_too_large"


# --- body limits -------------------------------------------------------------------------------------------


def test_bodies_over_the_limit_are_413(
    client: TestClient, make_user: Callable[..., ApiUser], owner_conn
) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    before = _counts(owner_conn)
    huge = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    r = client.post(
        "/api/v1/homes", content=huge, headers={**user.headers, "content-type": "application/json"}
    )
    assert_problem(r, 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 65_536
        yield b'"}'

    r = client.post(
        "/api/v1/homes", content=chunks(), headers={**user.headers, "content-type": "application/json"}
    )
    assert_problem(r, 413, "payload_too_large")
    assert _counts(owner_conn) == before


def test_the_limit_is_a_setting_and_uploads_declare_their_own(
    settings: Any, test_db: Any, runtime: Any, make_user: Callable[..., ApiUser], make_home
) -> None:  # type: ignore[no-untyped-def]
    from homeops.app import create_app
    from homeops.core.routing import route_body_limit

    small = settings.model_copy(update={"max_request_body_kb": 2})
    app = create_app(small, test_db.app, runtime=runtime)
    with TestClient(app) as c:
        r = c.post(
            "/api/v1/auth/register", json={"email": "a@example.com", "password": "p" * 3000, "full_name": "A"}
        )
        assert_problem(r, 413, "payload_too_large")
    limits = {
        (r.path, m): route_body_limit(r, small)
        for r in app.router.routes
        if isinstance(r, APIRoute)
        for m in r.methods
    }
    assert limits[("/api/v1/homes", "POST")] == 2048
    assert limits[("/api/v1/service-events/{event_id:uuid}/attachments", "POST")] > 20 * 1024 * 1024
    assert limits[("/api/v1/assistant/media", "POST")] > 200 * 1024 * 1024
    assert limits[("/api/v1/manuals", "POST")] >= settings.max_manual_upload_mb * 1024 * 1024


def test_a_body_in_an_undocumented_media_type_is_415(
    client: TestClient, make_user: Callable[..., ApiUser]
) -> None:
    user = make_user()
    r = client.post(
        "/api/v1/homes", content=b"name=x", headers={**user.headers, "content-type": "text/plain"}
    )
    assert_problem(r, 415, "unsupported_media_type")
    r = client.post("/api/v1/homes", data={"name": "x"}, headers=user.headers)
    assert_problem(r, 415, "unsupported_media_type")


# --- 405, OPTIONS and shadowing ----------------------------------------------------------------------------


def test_static_siblings_are_not_swallowed(client: TestClient, make_user: Callable[..., ApiUser]) -> None:
    user = make_user()
    r = client.patch("/api/v1/devices/warranty-expiring", json={}, headers=user.headers)
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET, OPTIONS"
    r = client.delete("/api/v1/notifications/read-all", headers=user.headers)
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "OPTIONS, POST"


def _methods_by_path(client: TestClient) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for route in client.app.router.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and route.path.startswith("/api/"):
            out.setdefault(route.path, set()).update(route.methods)
    return out


def test_options_and_405_name_every_method_of_every_path(client: TestClient) -> None:
    """Over every API path: OPTIONS is a 204 whose Allow lists the methods of all routes of the path, and a
    method the path lacks is a 405 with the same Allow. (A concrete path may also match a parametrised sibling,
    e.g. ``/settings/public`` and ``/settings/{key}``: the Allow is the union of what matches.)"""
    for path, methods in _methods_by_path(client).items():
        url = _concrete(path)
        matching = {m for p, ms in _methods_by_path(client).items() if _matches(p, url) for m in ms}
        expected = ", ".join(sorted(matching | {"OPTIONS"}))
        r = client.options(url)
        assert r.status_code == 204, (path, r.text)
        assert r.headers["allow"] == expected, path
        missing = next(m for m in ("PUT", "PATCH", "DELETE", "POST", "GET") if m not in matching)
        r = client.request(missing, url)
        assert r.status_code == 405, (missing, path, r.text)
        assert r.headers["allow"] == expected, path
        assert methods <= matching


def _matches(template: str, url: str) -> bool:
    from starlette.routing import compile_path

    regex, _, _ = compile_path(template)
    return regex.match(url) is not None

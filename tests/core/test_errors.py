"""Bad input: a clear problem+json answer, and nothing written."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from tests.conftest import ApiUser, assert_problem


def _count_homes(owner_conn: psycopg.Connection, user: ApiUser) -> int:
    return owner_conn.execute("SELECT count(*) FROM homes WHERE owner_id = %s", (user.id,)).fetchone()[0]


def test_malformed_json_is_400(client: TestClient, make_user, owner_conn) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    r = client.post(
        "/api/v1/homes",
        content=b'{"name": "x",',
        headers={**user.headers, "content-type": "application/json"},
    )
    assert_problem(r, 400, "malformed_json")
    assert _count_homes(owner_conn, user) == 0


def test_unknown_field_wrong_type_bad_timezone_oversize(client: TestClient, make_user, owner_conn) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    cases = [
        {"name": "Home", "colour": "red"},  # unknown field
        {"name": 42},  # wrong type
        {"name": "Home", "timezone": "Mars/Olympus_Mons"},  # not an IANA zone
        {"name": "Home", "timezone": "utc+2"},
        {"name": "x" * 201},  # oversize
        {"name": "Home", "address": {"postal_code": "1" * 21}},
        {"name": "   "},  # blank after trimming
    ]
    for body in cases:
        r = client.post("/api/v1/homes", json=body, headers=user.headers)
        problem = assert_problem(r, 422, "validation_error")
        assert problem["errors"], body
    assert _count_homes(owner_conn, user) == 0


def test_bad_path_parameter_and_unknown_route(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    # UUID path parameters are matched by the uuid convertor: another segment is no such resource.
    assert_problem(client.get("/api/v1/homes/not-a-uuid", headers=user.headers), 404, "not_found")
    assert_problem(client.get("/api/v1/nope", headers=user.headers), 404, "not_found")
    assert_problem(client.put("/api/v1/homes", headers=user.headers), 405, "method_not_allowed")


def test_bad_cursor_and_limit(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    assert_problem(client.get("/api/v1/homes?cursor=garbage", headers=user.headers), 400, "invalid_cursor")
    assert_problem(client.get("/api/v1/homes?limit=0", headers=user.headers), 422, "validation_error")
    assert_problem(client.get("/api/v1/homes?limit=100000", headers=user.headers), 422, "validation_error")


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 200 and r.json()["database"] == "ok"
    assert r.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
    assert generated != "bad id with spaces" and len(generated) == 32


def test_openapi_is_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/v1/auth/login",
        "/api/v1/homes/{home_id}/members",
        "/api/v1/audit-logs",
        "/api/v1/settings/public",
    ):
        assert path in spec["paths"]
    login_body = spec["paths"]["/api/v1/auth/login"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= set(login_body)
    assert client.get("/docs").status_code == 200

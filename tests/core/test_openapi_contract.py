"""The OpenAPI document is the contract (issue 9 §3): every error an operation answers is documented as a
problem+json Problem, nullability and enums say what the server accepts, and the docs pages work offline."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ApiUser, assert_problem

PROBLEM_REFS = {"#/components/schemas/Problem", "#/components/schemas/ValidationProblem"}
METHODS = ("get", "post", "put", "patch", "delete")


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, m, item[m]) for path, item in spec["paths"].items() for m in METHODS if m in item]


def test_every_error_is_a_documented_problem(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"Problem", "ValidationProblem"} <= set(schemas)
    assert "HTTPValidationError" not in schemas  # FastAPI's application/json 422 is gone
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status", "code"}
    for path, method, op in _operations(spec):
        errors = {int(code): r for code, r in op["responses"].items() if int(code) >= 400}
        for code, response in errors.items():
            assert set(response["content"]) == {"application/problem+json"}, (method, path, code)
            assert response["content"]["application/problem+json"]["schema"]["$ref"] in PROBLEM_REFS
            assert response["description"]
        label = f"{method.upper()} {path}"
        if op.get("security"):
            assert 401 in errors, label
        if any(p["in"] == "path" for p in op.get("parameters", ())):
            assert 404 in errors, label
        if "requestBody" in op:
            assert {400, 413, 415, 422} <= set(errors), label
        if op.get("parameters"):
            assert 422 in errors, label
        if method != "get":
            assert 409 in errors, label


def test_route_level_declarations(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    def codes(path: str, method: str) -> set[int]:
        return {int(c) for c in spec["paths"][path][method]["responses"]}

    assert {401, 429} <= codes("/api/v1/auth/login", "post")  # wrong password; throttled
    assert 403 in codes("/api/v1/audit-logs", "get")  # an admin-only route (a role dependency)
    assert 403 in codes("/api/v1/users/me/password", "post")  # the current password is wrong
    assert 403 not in codes("/api/v1/users/me", "get")  # one's own profile: no role decides
    assert {403, 410} <= codes("/api/v1/files/{key}", "get")  # bad signature; expired link
    assert 503 in codes("/healthz", "get")
    login = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]["429"]
    assert "Retry-After" in login["headers"]


def test_the_real_answers_match_the_documented_ones(
    client: TestClient, make_user: Callable[..., ApiUser]
) -> None:
    """A few answers of each kind, compared with what the document lists for their operation."""
    spec = client.get("/openapi.json").json()
    user = make_user()
    other = make_user()
    home = client.post("/api/v1/homes", json={"name": "Mine"}, headers=user.headers).json()
    answers = [
        (
            "patch",
            "/api/v1/homes/{home_id}",
            client.patch(f"/api/v1/homes/{home['id']}", json={"name": 1}, headers=user.headers),
        ),
        ("get", "/api/v1/homes/{home_id}", client.get(f"/api/v1/homes/{home['id']}", headers=other.headers)),
        ("get", "/api/v1/homes/{home_id}", client.get(f"/api/v1/homes/{home['id']}")),
        (
            "post",
            "/api/v1/homes",
            client.post(
                "/api/v1/homes", content=b"{", headers={**user.headers, "content-type": "application/json"}
            ),
        ),
        (
            "post",
            "/api/v1/homes",
            client.post(
                "/api/v1/homes", content=b"x", headers={**user.headers, "content-type": "text/plain"}
            ),
        ),
        ("get", "/api/v1/audit-logs", client.get("/api/v1/audit-logs", headers=user.headers)),
    ]
    for method, path, response in answers:
        documented = spec["paths"][path][method]["responses"]
        assert str(response.status_code) in documented, (method, path, response.status_code)
        assert response.headers["content-type"].startswith("application/problem+json")


def test_nullability_and_enums_say_what_the_server_accepts(
    client: TestClient, make_user: Callable[..., ApiUser], make_home: Callable[..., dict[str, Any]]
) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    room_name = schemas["RoomPatch"]["properties"]["name"]
    assert room_name.get("type") == "string" and "anyOf" not in room_name and "default" not in room_name
    assert "null" in str(schemas["RoomPatch"]["properties"]["notes"])  # a nullable column stays nullable
    invites = [s for n, s in schemas.items() if n.endswith("schemas__MemberIn")]  # homes', organizations'
    assert len(invites) == 2
    for invite in invites:
        assert invite["properties"]["role"]["enum"] and "owner" not in invite["properties"]["role"]["enum"]
    # … and the server agrees.
    user = make_user()
    home = make_home(user)
    room = client.post(
        f"/api/v1/homes/{home['id']}/rooms", json={"name": "Hall"}, headers=user.headers
    ).json()
    assert_problem(
        client.patch(f"/api/v1/rooms/{room['id']}", json={"name": None}, headers=user.headers), 422
    )
    r = client.patch(f"/api/v1/rooms/{room['id']}", json={"notes": None}, headers=user.headers)
    assert r.status_code == 200 and r.json()["name"] == "Hall"
    r = client.post(
        f"/api/v1/homes/{home['id']}/members",
        json={"email": user.email, "role": "owner"},
        headers=user.headers,
    )
    assert_problem(r, 422)
    # Amounts: a number or a decimal string, and the spec says which strings.
    price = schemas["DeviceIn"]["properties"]["purchase_price"]
    assert "pattern" in str(price) and "number" in str(price)


def test_docs_load_nothing_from_elsewhere(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        r = client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", r.text)
        urls += re.findall(r"""url\s*:\s*["']([^"']+)["']""", r.text)
        assert urls, page
        for url in urls:
            assert url.startswith("/"), (page, url)  # same origin: no CDN
        assert not re.search(r"https?://", r.text.replace("http://www.w3.org", "")), page
        for asset in (u for u in urls if u.startswith("/docs/assets/")):
            got = client.get(asset)
            assert got.status_code == 200 and len(got.content) > 1000, asset
    js = client.get("/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"]
    assert "SwaggerUIBundle" in js.text[:5000]
    assert client.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")
    assert client.get("/docs/oauth2-redirect").status_code == 200

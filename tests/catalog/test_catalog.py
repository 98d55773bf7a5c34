from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.conftest import assert_problem


def _name(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def test_manufacturers_are_unique_case_insensitively(client: TestClient, make_staff, make_user) -> None:  # type: ignore[no-untyped-def]
    admin, user = make_staff("admin"), make_user()
    name = _name("Daikin")
    r = client.post(
        "/api/v1/manufacturers",
        json={"name": name, "website": "https://www.daikin.com"},
        headers=admin.headers,
    )
    assert r.status_code == 201
    assert_problem(
        client.post("/api/v1/manufacturers", json={"name": name.upper()}, headers=admin.headers),
        409,
        "manufacturer_exists",
    )
    # Every signed-in user reads; only admins write.
    assert client.get(f"/api/v1/manufacturers/{r.json()['id']}", headers=user.headers).json()["name"] == name
    assert_problem(client.post("/api/v1/manufacturers", json={"name": _name("X")}, headers=user.headers), 403)
    assert_problem(
        client.patch(f"/api/v1/manufacturers/{r.json()['id']}", json={"website": "x"}, headers=user.headers),
        403,
    )
    patched = client.patch(
        f"/api/v1/manufacturers/{r.json()['id']}",
        json={"support_phone": "+1 800 555 0100"},
        headers=admin.headers,
    )
    assert patched.json()["support_phone"] == "+1 800 555 0100"
    assert_problem(client.get("/api/v1/manufacturers"), 401)


def test_factory_specifications_in_one_request(client: TestClient, make_staff, make_user) -> None:  # type: ignore[no-untyped-def]
    admin, user = make_staff("admin"), make_user()
    maker = _name("Daikin")
    body = {
        "manufacturer": maker,
        "model_number": "FTXS12WVJU9",
        "product_name": "Wall-mounted heat pump",
        "category": "mini_split",
        "electrical_specs": {"voltage": 208.0, "amp_draw_nominal": 17.8, "phase": 1},
        "physical_specs": {"filter_size": "16x25x4", "weight_lbs": 205.0},
    }
    created = client.post("/api/v1/models", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    assert_problem(
        client.post("/api/v1/models", json={**body, "model_number": "ftxs12wvju9"}, headers=admin.headers),
        409,
        "model_exists",
    )
    r = client.get(
        f"/api/v1/models?manufacturer={maker.lower()}&model_number=ftxs12wvju9", headers=user.headers
    )
    items = r.json()["items"]
    assert len(items) == 1
    assert items[0]["manufacturer"] == maker and items[0]["electrical_specs"]["amp_draw_nominal"] == 17.8
    assert items[0]["physical_specs"]["filter_size"] == "16x25x4"
    # Category filters include children; full-text over names.
    by_parent = client.get(f"/api/v1/models?category=hvac&manufacturer={maker}", headers=user.headers).json()[
        "items"
    ]
    assert [m["id"] for m in by_parent] == [created.json()["id"]]
    assert client.get(f"/api/v1/models?q=wall%20heat&manufacturer={maker}", headers=user.headers).json()[
        "items"
    ]
    assert not client.get(f"/api/v1/models?q=refrigerator&manufacturer={maker}", headers=user.headers).json()[
        "items"
    ]


def test_model_problems_and_templates(client: TestClient, make_staff, make_user) -> None:  # type: ignore[no-untyped-def]
    admin, user = make_staff("admin"), make_user()
    model = client.post(
        "/api/v1/models",
        json={"manufacturer": _name("Peerless"), "model_number": "8AE20G", "category": "fire_pump"},
        headers=admin.headers,
    ).json()
    mid = model["id"]
    low = {
        "problem_description": "Packing leak",
        "symptoms": ["dripping"],
        "severity": "low",
        "frequency": "common",
    }
    crit = {
        "problem_description": "Pump fails to start",
        "symptoms": ["no start", "breaker trips"],
        "error_codes": ["E1"],
        "root_cause": "Seized bearing",
        "solution": "Replace bearing",
        "severity": "critical",
        "frequency": "occasional",
        "estimated_repair_cost": "$400-$900",
    }
    for p in (low, crit):
        assert client.post(f"/api/v1/models/{mid}/problems", json=p, headers=admin.headers).status_code == 201
    assert_problem(client.post(f"/api/v1/models/{mid}/problems", json=low, headers=user.headers), 403)
    assert_problem(
        client.post(
            f"/api/v1/models/{mid}/problems", json={**low, "severity": "apocalyptic"}, headers=admin.headers
        ),
        422,
    )
    t = client.post(
        f"/api/v1/models/{mid}/maintenance-templates",
        json={"task_name": "Churn test", "interval": 1, "interval_unit": "weeks", "estimated_cost": 0},
        headers=admin.headers,
    )
    assert t.status_code == 201
    detail = client.get(f"/api/v1/models/{mid}", headers=user.headers).json()
    assert [p["severity"] for p in detail["problems"]] == ["critical", "low"]
    assert detail["maintenance_templates"][0]["task_name"] == "Churn test"
    assert_problem(client.get(f"/api/v1/models/{uuid.uuid4()}", headers=user.headers), 404, "model_not_found")


def test_bad_catalog_input(client: TestClient, make_staff) -> None:  # type: ignore[no-untyped-def]
    admin = make_staff("admin")
    assert_problem(
        client.post(
            "/api/v1/models",
            json={"manufacturer": _name("M"), "model_number": "X1", "category": "teleporter"},
            headers=admin.headers,
        ),
        422,
        "unknown_category",
    )
    assert_problem(
        client.post("/api/v1/models", json={"model_number": "X1", "category": "oven"}, headers=admin.headers),
        422,
    )
    assert_problem(
        client.post(
            "/api/v1/models",
            json={
                "manufacturer": _name("M"),
                "model_number": "X1",
                "category": "oven",
                "year_introduced": 1200,
            },
            headers=admin.headers,
        ),
        422,
    )
    cats = {c["code"]: c for c in client.get("/api/v1/categories", headers=admin.headers).json()}
    assert (
        cats["sprinkler_head"]["parent_code"] == "fire_safety"
        and cats["thermostat"]["domain"] == "smart_home"
    )

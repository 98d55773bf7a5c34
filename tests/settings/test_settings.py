from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.conftest import assert_problem


def test_public_settings_need_no_auth_and_show_only_public(client: TestClient, make_staff) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/settings/public")
    assert r.status_code == 200
    by_key = {s["setting_key"]: s for s in r.json()}
    assert by_key["maintenance_mode"]["value"] is False
    assert by_key["max_image_upload_size_mb"]["value"] == 10
    assert "ai_model_version" not in by_key and "notification_email_enabled" not in by_key
    admin = make_staff("admin")
    assert {
        s["setting_key"] for s in client.get("/api/v1/settings/public", headers=admin.headers).json()
    } == set(by_key)


def test_seed_settings_exist(client: TestClient, make_staff) -> None:  # type: ignore[no-untyped-def]
    admin = make_staff("admin")
    keys = {s["setting_key"] for s in client.get("/api/v1/settings", headers=admin.headers).json()}
    assert {
        "ai_model_version",
        "max_image_upload_size_mb",
        "quote_validity_days",
        "request_expiry_days",
        "maintenance_mode",
        "featured_providers_count",
        "notification_email_enabled",
        "min_rating_for_featured",
    } <= keys


def test_admin_crud_with_validation(client: TestClient, make_staff, owner_conn) -> None:  # type: ignore[no-untyped-def]
    admin = make_staff("admin")
    key = f"test.limit_{uuid.uuid4().hex[:8]}"
    body = {
        "setting_key": key,
        "setting_type": "number",
        "value": 5,
        "is_public": True,
        "validation_rules": {"min": 1, "max": 10, "integer": True},
    }
    created = client.post("/api/v1/settings", json=body, headers=admin.headers)
    assert created.status_code == 201 and created.json()["value"] == 5
    assert_problem(client.post("/api/v1/settings", json=body, headers=admin.headers), 409, "setting_exists")

    for bad in (11, 0, 2.5, "five", True):
        assert_problem(
            client.patch(f"/api/v1/settings/{key}", json={"value": bad}, headers=admin.headers),
            422,
            "invalid_setting_value",
        )
    assert (
        owner_conn.execute(
            "SELECT setting_value FROM system_settings WHERE setting_key = %s", (key,)
        ).fetchone()[0]
        == "5"
    )

    ok = client.patch(f"/api/v1/settings/{key}", json={"value": 7}, headers=admin.headers)
    assert (
        ok.status_code == 200 and ok.json()["value"] == 7 and ok.json()["last_modified_by"] == str(admin.id)
    )
    assert {s["setting_key"]: s["value"] for s in client.get("/api/v1/settings/public").json()}[key] == 7

    bad_type = {"setting_key": f"x.{uuid.uuid4().hex[:6]}", "setting_type": "boolean", "value": "yes"}
    assert_problem(
        client.post("/api/v1/settings", json=bad_type, headers=admin.headers), 422, "invalid_setting_value"
    )
    assert_problem(
        client.post("/api/v1/settings", json={**bad_type, "setting_type": "colour"}, headers=admin.headers),
        422,
    )

    assert client.delete(f"/api/v1/settings/{key}", headers=admin.headers).status_code == 204
    assert_problem(client.get(f"/api/v1/settings/{key}", headers=admin.headers), 404, "setting_not_found")


def test_non_admins_cannot_manage_settings(client: TestClient, make_user, make_staff) -> None:  # type: ignore[no-untyped-def]
    for user in (make_user(), make_staff("support"), make_staff("technician")):
        assert_problem(client.get("/api/v1/settings", headers=user.headers), 403)
        assert_problem(
            client.patch("/api/v1/settings/maintenance_mode", json={"value": True}, headers=user.headers), 403
        )
        assert_problem(
            client.post(
                "/api/v1/settings",
                json={"setting_key": "a.b", "setting_type": "string", "value": "x"},
                headers=user.headers,
            ),
            403,
        )
    assert {s["setting_key"]: s["value"] for s in client.get("/api/v1/settings/public").json()}[
        "maintenance_mode"
    ] is False

"""`homeops serve` runs the worker inside the API process: an upload becomes `ready` without any other step."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from homeops.app import create_app
from tests.conftest import PgTestDatabase
from tests.manuals.conftest import pdf_for, unique_brand


def test_served_app_processes_uploads_in_the_background(
    settings, test_db: PgTestDatabase, make_user, make_home
) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings, test_db.app, worker_url=test_db.worker)  # as `homeops serve`: the worker role
    with TestClient(app, client=("203.0.113.10", 1)) as client:
        user = make_user()
        make_home(user)  # the upload is for the user's only home
        brand = unique_brand()
        r = client.post(
            "/api/v1/manuals",
            files={"file": ("m.pdf", pdf_for(brand), "application/pdf")},
            data={"brand": brand, "model_numbers": ["B-1"]},
            headers=user.headers,
        )
        assert r.status_code == 201
        deadline = time.monotonic() + 15
        status = r.json()["status"]
        while status != "ready" and time.monotonic() < deadline:
            time.sleep(0.1)
            status = client.get(f"/api/v1/manuals/{r.json()['id']}", headers=user.headers).json()["status"]
        assert status == "ready"

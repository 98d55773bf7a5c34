"""One name for one concept (issue 7): ``manufacturer`` everywhere; the manuals API's old ``brand`` is a
deprecated alias for one release (accepted on input, still emitted on output)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.conftest import captured_sql
from tests.manuals.conftest import pdf_for, unique_brand


def test_manufacturer_on_uploads_listing_and_output(client: TestClient, make_user, make_home) -> None:  # type: ignore[no-untyped-def]
    user, maker = make_user(), unique_brand()
    make_home(user)
    r = client.post(
        "/api/v1/manuals",
        files={"file": ("m.pdf", pdf_for(maker), "application/pdf")},
        data={"manufacturer": maker, "model_numbers": ["N-1"]},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    manual = r.json()
    assert manual["manufacturer"] == maker and manual["brand"] == maker  # the old name, still emitted
    old_name = client.post(
        "/api/v1/manuals",
        files={"file": ("o.pdf", pdf_for(maker + "x"), "application/pdf")},
        data={"brand": maker, "model_numbers": ["N-2"]},
        headers=user.headers,
    )
    assert old_name.status_code == 201 and old_name.json()["manufacturer"] == maker
    for param in ("manufacturer", "brand"):
        listed = client.get(f"/api/v1/manuals?{param}={maker.lower()}", headers=user.headers).json()["items"]
        assert {m["id"] for m in listed} == {manual["id"], old_name.json()["id"]}
        assert all(m["manufacturer"] == m["brand"] == maker for m in listed)


def test_the_old_name_is_marked_deprecated_in_the_schema(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    manual_out = spec["components"]["schemas"]["ManualOut"]["properties"]
    assert manual_out["brand"]["deprecated"] is True and "deprecated" not in manual_out["manufacturer"]
    listing = {p["name"]: p for p in spec["paths"]["/api/v1/manuals"]["get"]["parameters"]}
    assert listing["brand"].get("deprecated") is True and not listing["manufacturer"].get("deprecated")
    assert (
        "/api/v1/manuals/search" in spec["paths"] and "/api/v1/devices/{device_id}/manuals" in spec["paths"]
    )
    assert spec["paths"]["/api/v1/manuals/search"]["get"]["tags"] == ["manuals"]


def test_a_device_written_from_the_manuals_api_is_accepted(
    client: TestClient,
    make_user,
    make_home,
    upload,  # type: ignore[no-untyped-def]
    drain,
) -> None:
    """A client reads a manual, then registers the device it describes with the names it just read
    (``brand``): 422 before issue 7, now the deprecated alias of ``manufacturer``."""
    user, maker = make_user(), unique_brand()
    home = make_home(user)
    manual = upload(user, pdf_for(maker), brand=maker, model_numbers=["B-7"]).json()
    drain()
    read = client.get(f"/api/v1/manuals/{manual['id']}", headers=user.headers).json()
    r = client.post(
        f"/api/v1/homes/{home['id']}/devices",
        json={"nickname": "Boiler", "brand": read["brand"], "model_number": read["model_numbers"][0]},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["manufacturer"] == maker and r.json()["manual_count"] == 1
    new_name = client.post(
        f"/api/v1/homes/{home['id']}/devices",
        json={"nickname": "Boiler 2", "manufacturer": read["manufacturer"], "model_number": "B-7"},
        headers=user.headers,
    )
    assert new_name.status_code == 201 and new_name.json()["manual_count"] == 1


def test_query2_is_one_statement(client: TestClient, make_user, make_home, upload, drain) -> None:  # type: ignore[no-untyped-def]
    """The device's visibility and its manuals in one statement, narrowed to the caller's homes (no
    membership sub-select): the access check adds none."""
    user, maker = make_user(), unique_brand()
    home = make_home(user)
    device = client.post(
        f"/api/v1/homes/{home['id']}/devices",
        json={"nickname": "Oven", "manufacturer": maker, "model_number": "Q-2"},
        headers=user.headers,
    ).json()
    bare = client.post(
        f"/api/v1/homes/{home['id']}/devices", json={"nickname": "Bare"}, headers=user.headers
    ).json()
    for kind in ("service", "user"):
        upload(user, pdf_for(f"{maker}{kind}"), brand=maker, model_numbers=["Q-2"], manual_type=kind)
    drain()
    with captured_sql(client) as statements:
        r = client.get(f"/api/v1/devices/{device['id']}/manuals", headers=user.headers)
    assert r.status_code == 200 and [m["manual_type"] for m in r.json()] == ["user", "service"]
    touching = [s for s in statements if "devices" in s and "home_members" not in s]
    assert len(touching) == 1 and "device_manuals" in touching[0], statements
    assert not [s for s in statements if "FROM home_members" in s or "FROM homes" in s], statements
    assert client.get(f"/api/v1/devices/{bare['id']}/manuals", headers=user.headers).json() == []
    assert client.get(f"/api/v1/devices/{uuid.uuid4()}/manuals", headers=user.headers).status_code == 404

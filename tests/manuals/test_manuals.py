from __future__ import annotations

import uuid

import psycopg
from fastapi.testclient import TestClient

from tests.conftest import as_user, assert_problem, captured_sql
from tests.manuals.conftest import manual_pages, pdf_for, unique_brand
from tests.pdf_writer import CORRUPT_PDF, make_encrypted_pdf, make_pdf


def _count(owner_conn: psycopg.Connection, brand: str) -> int:
    return owner_conn.execute(
        "SELECT count(*) FROM manuals WHERE lower(brand) = lower(%s)", (brand,)
    ).fetchone()[0]


def test_upload_process_and_download(
    client: TestClient, make_user, make_home, upload, drain, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    user, brand = make_user(), unique_brand()
    home = make_home(user)
    pdf = pdf_for(brand)
    r = upload(user, pdf, brand=brand, model_numbers=["zx-100, ZX-200"], title="Heater manual")
    assert r.status_code == 201, r.text
    manual = r.json()
    assert manual["status"] == "pending" and manual["duplicate_level"] is None
    assert manual["model_numbers"] == ["ZX-100", "ZX-200"] and manual["page_count"] == 3
    # For the user's only home: a household upload, unverified.
    assert (manual["visibility"], manual["home_id"], manual["provenance"]) == (
        "household",
        home["id"],
        "household",
    )
    assert manual["source"] == "household" and manual["verified_at"] is None
    assert drain() >= 1
    ready = client.get(f"/api/v1/manuals/{manual['id']}", headers=user.headers).json()
    assert ready["status"] == "ready" and ready["indexed"] is True and ready["processed_at"]
    pages = [
        (r[0], r[1], str(r[2]))
        for r in owner_conn.execute(
            "SELECT DISTINCT page, visibility::text, home_id FROM manual_chunks WHERE manual_id = %s ORDER BY 1",
            (manual["id"],),
        )
    ]
    # Each passage carries the manual's visibility and home (its row policy reads them).
    assert pages == [(1, "household", home["id"]), (2, "household", home["id"]), (3, "household", home["id"])]
    link = client.get(f"/api/v1/manuals/{manual['id']}/download", headers=user.headers).json()
    assert link["expires_in"] == 900 and "sig=" in link["url"]
    path = link["url"].split("://", 1)[1].split("/", 1)[1]
    got = client.get("/" + path)
    assert got.status_code == 200 and got.content == pdf
    assert "attachment" in got.headers["content-disposition"]
    assert client.get("/" + path.replace("sig=", "sig=0")).status_code == 403


def test_three_dedup_levels_and_near_misses(
    client: TestClient, make_user, make_home, upload, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    """Within what the home sees (its own uploads here): the same bytes, then the same text answer the existing
    manual (200, nothing stored); the composite key with other content is reported and the file is kept."""
    alice, bob, brand = make_user(), make_user(), unique_brand()
    home = make_home(alice)
    client.post(
        f"/api/v1/homes/{home['id']}/members",
        json={"email": bob.email, "role": "member"},
        headers=alice.headers,
    )
    first = upload(alice, pdf_for(brand), brand=brand, model_numbers=["ZX-100"], version="2.0").json()

    same_bytes = upload(bob, pdf_for(brand), brand=brand, model_numbers=["ZX-100"], version="2.0")
    assert same_bytes.status_code == 200
    assert same_bytes.json()["id"] == first["id"] and same_bytes.json()["duplicate_level"] == "file_hash"

    resaved = pdf_for(brand, variant=1)  # other bytes, same text
    assert resaved != pdf_for(brand)
    r = upload(bob, resaved, brand="another brand", model_numbers=["OTHER"])
    assert (
        r.status_code == 200
        and r.json()["id"] == first["id"]
        and r.json()["duplicate_level"] == "content_hash"
    )

    other_text = make_pdf(["Completely different wording about the ZX-100 heater."])
    r = upload(bob, other_text, brand=brand.lower(), model_numbers=["zx-100", "ZX-300"], version="2.0")
    # Kept (nothing uploaded is lost), and the similar manual is named with its provenance.
    assert r.status_code == 201 and r.json()["id"] != first["id"], r.text
    assert r.json()["duplicate_level"] == "composite"
    assert r.json()["duplicate_of"] == {
        "id": first["id"],
        "title": first["title"],
        "source": "household",
        "provenance": "household",
    }

    # Same brand and model, but another version or another type: new manuals, nothing to report.
    v3 = upload(
        bob,
        make_pdf(["Version three text for the heater."]),
        brand=brand,
        model_numbers=["ZX-100"],
        version="3.0",
    )
    svc = upload(
        bob,
        make_pdf(["Service manual text for technicians."]),
        brand=brand,
        model_numbers=["ZX-100"],
        version="2.0",
        manual_type="service",
    )
    other_model = upload(
        bob, make_pdf(["A manual for another model."]), brand=brand, model_numbers=["QQ-9"], version="2.0"
    )
    assert (v3.status_code, svc.status_code, other_model.status_code) == (201, 201, 201)
    assert {
        v3.json()["duplicate_level"],
        svc.json()["duplicate_level"],
        other_model.json()["duplicate_level"],
    } == {None}
    assert _count(owner_conn, brand) == 5


def test_bad_uploads(client: TestClient, make_user, make_home, upload, owner_conn) -> None:  # type: ignore[no-untyped-def]
    user, brand = make_user(), unique_brand()
    # An upload is for a home: none yet, or several and none named, is a 422 that stores nothing.
    assert_problem(upload(user, pdf_for(brand), brand=brand), 422, "home_required")
    make_home(user)
    other = make_home(user, name="Cabin")
    assert_problem(upload(user, pdf_for(brand), brand=brand), 422, "home_required")
    stranger = make_home(make_user(), name="Not mine")
    assert_problem(upload(user, pdf_for(brand), brand=brand, home_id=stranger["id"]), 404, "home_not_found")
    assert_problem(
        upload(user, pdf_for(brand), brand=brand, home_id=other["id"], organization_id=str(uuid.uuid4())),
        422,
        "home_or_organization",
    )
    assert_problem(upload(user, pdf_for(brand), brand=brand, home_id="not-a-uuid"), 422)
    user_home = {"home_id": other["id"]}
    assert_problem(upload(user, b"hello, not a pdf", brand=brand, **user_home), 415, "unsupported_media_type")
    assert_problem(upload(user, b"", brand=brand, **user_home), 422, "empty_file")
    assert_problem(
        upload(user, pdf_for(brand), brand=brand, manual_type="novel", **user_home), 422, "validation_error"
    )
    assert_problem(
        upload(user, pdf_for(brand), brand=brand, year="nineteen", **user_home), 422, "validation_error"
    )
    assert_problem(
        upload(user, pdf_for(brand), brand=brand, category="spaceship", **user_home), 422, "unknown_category"
    )
    assert_problem(upload(user, pdf_for(brand), brand="", **user_home), 422)
    no_auth = client.post(
        "/api/v1/manuals", files={"file": ("m.pdf", pdf_for(brand), "application/pdf")}, data={"brand": brand}
    )
    assert_problem(no_auth, 401)
    assert _count(owner_conn, brand) == 0


def test_corrupt_and_encrypted_pdfs_fail_cleanly(
    client: TestClient, make_user, make_home, upload, drain
) -> None:  # type: ignore[no-untyped-def]
    user, brand = make_user(), unique_brand()
    make_home(user)
    corrupt = upload(user, CORRUPT_PDF + brand.encode(), brand=brand, model_numbers=["C-1"]).json()
    locked = upload(user, make_encrypted_pdf(manual_pages(brand)), brand=brand, model_numbers=["E-1"]).json()
    drain()
    for manual, reason in ((corrupt, "corrupt"), (locked, "encrypted")):
        after = client.get(f"/api/v1/manuals/{manual['id']}", headers=user.headers).json()
        assert (after["status"], after["failure_reason"], after["indexed"]) == ("failed", reason, False)
    failed = client.get(f"/api/v1/manuals?brand={brand}&status=failed", headers=user.headers).json()["items"]
    assert len(failed) == 2


def test_search_finds_the_right_page(client: TestClient, make_user, make_home, upload, drain) -> None:  # type: ignore[no-untyped-def]
    user, brand = make_user(), unique_brand()
    home = make_home(user)
    phrase = f"thermocouple{uuid.uuid4().hex[:6]}"
    pages = [
        "Introduction and safety.",
        "Installation steps for the unit.",
        f"If the pilot light goes out, clean the {phrase} and check the gas valve.",
    ]
    m = upload(user, make_pdf(pages), brand=brand, model_numbers=["S-1"], title="Searchable").json()
    other = upload(
        user, make_pdf(["Nothing relevant here at all."]), brand=brand, model_numbers=["S-2"]
    ).json()
    drain()
    r = client.get(f"/api/v1/manuals/search?q={phrase}", headers=user.headers)
    body = r.json()
    assert r.status_code == 200 and body["mode"] == "fulltext" and "embedder" in body["note"]
    assert [(h["manual_id"], h["page"], h["title"]) for h in body["items"]] == [(m["id"], 3, "Searchable")]
    assert f"<mark>{phrase}</mark>" in body["items"][0]["snippet"] and body["items"][0]["score"] > 0
    assert body["items"][0]["source"] == "household"  # the home's own upload, not the verified library

    # Scoped to a device: only that device's manuals.
    device = client.post(
        f"/api/v1/homes/{home['id']}/devices",
        json={"nickname": "Heater", "manufacturer": brand, "model_number": "S-2"},
        headers=user.headers,
    ).json()
    assert device["manual_count"] == 1  # auto-linked at creation to the S-2 manual
    scoped = client.get(
        f"/api/v1/manuals/search?q={phrase}&device_id={device['id']}", headers=user.headers
    ).json()
    assert scoped["items"] == []
    assert (
        client.get(
            f"/api/v1/manuals/search?q=relevant&device_id={device['id']}", headers=user.headers
        ).json()["items"][0]["manual_id"]
        == other["id"]
    )
    assert_problem(client.get("/api/v1/manuals/search?q=x", headers=user.headers), 422)


def test_auto_link_both_ways_and_query2_order(
    client: TestClient, make_user, make_home, upload, drain
) -> None:  # type: ignore[no-untyped-def]
    user, brand = make_user(), unique_brand()
    home = make_home(user)
    device = client.post(
        f"/api/v1/homes/{home['id']}/devices",
        json={"nickname": "Washer", "manufacturer": brand, "model_number": "W-1"},
        headers=user.headers,
    ).json()
    assert device["manual_count"] == 0
    kinds = ["service", "installation", "troubleshooting", "user", "parts"]
    for kind in kinds:  # uploaded after the device: linked by the processing job
        r = upload(
            user,
            make_pdf([f"{kind} manual for {brand}"]),
            brand=brand,
            model_numbers=["w-1"],
            manual_type=kind,
        )
        assert r.status_code == 201
    drain()
    manuals = client.get(f"/api/v1/devices/{device['id']}/manuals", headers=user.headers).json()
    assert [m["manual_type"] for m in manuals] == [
        "user",
        "troubleshooting",
        "installation",
        "service",
        "parts",
    ]
    assert all(m["auto_linked"] for m in manuals)
    listed = client.get(f"/api/v1/homes/{home['id']}/devices", headers=user.headers).json()["items"][0]
    assert listed["manual_count"] == 5 and set(listed["manual_types"]) == set(kinds)

    # Manual link / unlink.
    extra = upload(user, make_pdf([f"Energy label {brand}"]), brand="Else", model_numbers=["E"]).json()
    assert (
        client.post(f"/api/v1/devices/{device['id']}/manuals/{extra['id']}", headers=user.headers).status_code
        == 201
    )
    assert (
        client.post(f"/api/v1/devices/{device['id']}/manuals/{extra['id']}", headers=user.headers).status_code
        == 200
    )
    assert (
        client.delete(
            f"/api/v1/devices/{device['id']}/manuals/{extra['id']}", headers=user.headers
        ).status_code
        == 204
    )
    assert_problem(
        client.delete(f"/api/v1/devices/{device['id']}/manuals/{extra['id']}", headers=user.headers),
        404,
        "link_not_found",
    )


def test_links_are_private_to_the_home(
    client: TestClient, make_user, make_staff, make_home, upload, drain, app_conn
) -> None:  # type: ignore[no-untyped-def]
    alice, bob, support, brand = make_user(), make_user(), make_staff("support"), unique_brand()
    home = make_home(alice)
    device = client.post(
        f"/api/v1/homes/{home['id']}/devices",
        json={"nickname": "Secret fridge", "manufacturer": brand, "model_number": "F-1"},
        headers=alice.headers,
    ).json()
    m = upload(support, pdf_for(brand), brand=brand, model_numbers=["F-1"]).json()  # the shared library
    assert (m["visibility"], m["provenance"], m["source"]) == ("shared", "staff", "verified")
    drain()
    # Bob sees the shared manual but not Alice's device, its links or its serial.
    assert client.get(f"/api/v1/manuals/{m['id']}", headers=bob.headers).status_code == 200
    assert_problem(client.get(f"/api/v1/devices/{device['id']}/manuals", headers=bob.headers), 404)
    assert_problem(client.post(f"/api/v1/devices/{device['id']}/manuals/{m['id']}", headers=bob.headers), 404)
    assert_problem(
        client.delete(f"/api/v1/devices/{device['id']}/manuals/{m['id']}", headers=bob.headers), 404
    )
    assert_problem(
        client.get(f"/api/v1/manuals/search?q=thermocouple&device_id={device['id']}", headers=bob.headers),
        404,
    )
    with app_conn.transaction():
        as_user(app_conn, bob.id)
        assert (
            app_conn.execute(
                "SELECT count(*) FROM device_manuals WHERE device_id = %s", (device["id"],)
            ).fetchone()[0]
            == 0
        )
        assert app_conn.execute("SELECT count(*) FROM manuals WHERE id = %s", (m["id"],)).fetchone()[0] == 1
    with app_conn.transaction():
        as_user(app_conn, None)  # not signed in: the shared library is visible, the links stay private
        assert app_conn.execute("SELECT count(*) FROM manuals WHERE id = %s", (m["id"],)).fetchone()[0] == 1
        assert app_conn.execute("SELECT count(*) FROM device_manuals").fetchone()[0] == 0


def test_query1_is_one_statement(client: TestClient, make_user, make_home) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    home = make_home(user)
    for i in range(3):
        client.post(f"/api/v1/homes/{home['id']}/devices", json={"nickname": f"D{i}"}, headers=user.headers)
    with captured_sql(client) as statements:
        r = client.get("/api/v1/devices?status=active", headers=user.headers)
    assert r.status_code == 200 and len(r.json()["items"]) == 3
    touching_devices = [s for s in statements if "FROM devices" in s]
    assert len(touching_devices) == 1, statements
    assert "device_manuals" in touching_devices[0] and "array_agg" in touching_devices[0]

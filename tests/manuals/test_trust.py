"""The manual library's trust model (issue 9 §1), from the attacker's side.

User B (self-registered, unverified) uploads a "service bulletin" for the Zeta FR-9 that tells the reader to
call a number and pay by gift card. It must never reach user A's household — A's device list (manual_count,
seed Query 2), A's search, A's troubleshooting suggestions, A's assistant chat — neither before nor after
de-duplication (A uploading the same or a similar file; B uploading after A), nor at the SQL level as the API's
role; once support staff verify it, it is part of the shared library and does reach A.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import ApiUser, as_user, assert_problem
from tests.manuals.conftest import pdf_for
from tests.pdf_writer import make_pdf

SCAM = "URGENT service bulletin: the compressor must be re-registered. Call 555-0100 and pay by gift card."
CHATS = "/api/v1/assistant/sessions"
SESSIONS = "/api/v1/troubleshooting-sessions"
QUEUE = "/api/v1/moderation/manuals"


def scam_pdf(tag: str, variant: int = 0) -> bytes:
    return make_pdf(
        [f"{tag} FR-9 official service bulletin.", f"{SCAM} Gift card refrigerator compressor {tag}."],
        title=f"Official {tag} bulletin",
        variant=variant,
    )


def _device(client: TestClient, user: ApiUser, home: dict, brand: str, name: str = "Fridge") -> dict:
    r = client.post(
        f"/api/v1/homes/{home['id']}/devices",
        json={"nickname": name, "manufacturer": brand, "model_number": "FR-9"},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


def _b_uploads(upload, user: ApiUser, brand: str, pdf: bytes | None = None) -> dict:  # type: ignore[no-untyped-def]
    r = upload(
        user,
        pdf or scam_pdf(brand),
        brand=brand,
        model_numbers=["FR-9"],
        manual_type="service",
        version="9",
        title=f"Official {brand} bulletin",
    )
    assert r.status_code in (200, 201), r.text
    return r.json()


def _reaches(
    client: TestClient, user: ApiUser, devices: list[dict], manual_id: str, by_text: bool = True
) -> dict[str, Any]:
    """Where ``manual_id`` shows up for ``user``: every path by which a manual reaches a household (``by_text``:
    the scam's phone number in a reply counts too — unless the user holds a copy of that text themselves)."""
    found: dict[str, Any] = {}
    listed = client.get("/api/v1/devices", headers=user.headers).json()["items"]
    mine = {d["id"] for d in devices}
    found["manual_count"] = sum(d["manual_count"] for d in listed if d["id"] in mine)
    found["query2"] = [
        m["id"]
        for d in devices
        for m in client.get(f"/api/v1/devices/{d['id']}/manuals", headers=user.headers).json()
        if m["id"] == manual_id
    ]
    hits = client.get("/api/v1/manuals/search?q=gift card compressor", headers=user.headers).json()["items"]
    found["search"] = [h for h in hits if h["manual_id"] == manual_id]
    for d in devices:
        scoped = client.get(
            f"/api/v1/manuals/search?q=gift card&device_id={d['id']}", headers=user.headers
        ).json()["items"]
        found["search"] += [h for h in scoped if h["manual_id"] == manual_id]
    library = client.get("/api/v1/manuals?limit=200", headers=user.headers).json()["items"]
    found["library"] = [m["id"] for m in library if m["id"] == manual_id]
    found["get"] = client.get(f"/api/v1/manuals/{manual_id}", headers=user.headers).status_code
    found["download"] = client.get(f"/api/v1/manuals/{manual_id}/download", headers=user.headers).status_code
    found["suggestions"], found["chat"] = [], []
    for d in devices:
        session = client.post(
            SESSIONS,
            json={"device_id": d["id"], "issue_summary": "Compressor bulletin: do I pay by gift card?"},
            headers=user.headers,
        )
        assert session.status_code == 201, session.text
        body = session.json()
        found["suggestions"] += [
            p for p in body["suggestions"]["passages"] if p["manual_id"] == manual_id
        ] + (
            [body["conversation"][0]["content"]]
            if by_text and "555-0100" in body["conversation"][0]["content"]
            else []
        )
        chat = client.post(CHATS, json={"device_id": d["id"]}, headers=user.headers).json()
        reply = client.post(
            f"{CHATS}/{chat['id']}/messages",
            json={"content": "Should I call and pay by gift card for the compressor?"},
            headers=user.headers,
        ).json()["assistant_message"]
        found["chat"] += [c for c in reply["metadata"]["citations"] if c["manual_id"] == manual_id]
        if by_text and "555-0100" in reply["content"]:
            found["chat"].append(reply["content"])
    nowhere = client.post(CHATS, json={"title": "General"}, headers=user.headers).json()
    general = client.post(
        f"{CHATS}/{nowhere['id']}/messages", json={"content": "gift card compressor"}, headers=user.headers
    ).json()["assistant_message"]
    found["chat"] += [c for c in general["metadata"]["citations"] if c["manual_id"] == manual_id]
    return found


NOWHERE = {
    "manual_count": 0,
    "query2": [],
    "search": [],
    "library": [],
    "get": 404,
    "download": 404,
    "suggestions": [],
    "chat": [],
}


def _sql_sees(conn: psycopg.Connection, user_id: uuid.UUID, manual_id: str, b_home: str) -> dict[str, int]:
    """What the API's role, with ``user_id``'s identity, can read of the manual — directly, and through the
    index-backed functions even when it names B's home itself."""
    with conn.transaction():
        as_user(conn, user_id)
        out = {
            table: conn.execute(
                f"SELECT count(*) FROM {table} WHERE manual_id = %s", (manual_id,)
            ).fetchone()[0]
            for table in ("manual_chunks", "device_manuals", "manual_reports")
        }
        out["manuals"] = conn.execute("SELECT count(*) FROM manuals WHERE id = %s", (manual_id,)).fetchone()[
            0
        ]
        out["all_manuals_of_b"] = conn.execute(
            "SELECT count(*) FROM manuals WHERE home_id = %s", (b_home,)
        ).fetchone()[0]
        out["passages"] = conn.execute(
            "SELECT count(*) FROM homeops_manual_passages('gift card', NULL, ARRAY[%s]::uuid[], 50) "
            "WHERE manual_id = %s",
            (b_home, manual_id),
        ).fetchone()[0]
        out["scoped_passages"] = conn.execute(
            "SELECT count(*) FROM homeops_manual_passages('gift card', ARRAY[%s]::uuid[], ARRAY[%s]::uuid[], 50)",
            (manual_id, b_home),
        ).fetchone()[0]
    return out


def _has_vectors(owner_conn: psycopg.Connection) -> bool:
    return bool(owner_conn.execute("SELECT to_regclass('manual_chunk_embeddings') IS NOT NULL").fetchone()[0])


def test_a_households_upload_never_reaches_another_household(
    client: TestClient, make_user, make_staff, make_home, upload, drain, app_conn, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    a, b, brand = make_user("a"), make_user("b"), f"Zeta{uuid.uuid4().hex[:6]}"
    a_home, b_home = make_home(a, "A's flat"), make_home(b, "B's flat")
    before = _device(client, a, a_home, brand, "A's fridge")  # exists before the upload: the worker links
    b_fridge = _device(client, b, b_home, brand, "B's fridge")
    scam = _b_uploads(upload, b, brand)
    assert (scam["visibility"], scam["home_id"], scam["source"]) == ("household", b_home["id"], "household")
    drain()
    after = _device(client, a, a_home, brand, "A's new fridge")  # created after: the device's auto-link
    assert after["manual_count"] == 0

    assert _reaches(client, a, [before, after], scam["id"]) == NOWHERE
    # B's own household does get it, saying it is B's own unverified upload.
    mine = client.get(f"/api/v1/devices/{b_fridge['id']}/manuals", headers=b.headers).json()
    assert [(m["id"], m["source"], m["auto_linked"]) for m in mine] == [(scam["id"], "household", True)]

    # At the SQL level, as the API's role with A's identity: nothing, even naming B's home to the functions.
    seen = _sql_sees(app_conn, a.id, scam["id"], b_home["id"])
    assert seen == dict.fromkeys(seen, 0), seen
    if _has_vectors(owner_conn):
        with app_conn.transaction():
            as_user(app_conn, a.id)
            assert (
                app_conn.execute(
                    "SELECT count(*) FROM manual_chunk_embeddings WHERE manual_id = %s", (scam["id"],)
                ).fetchone()[0]
                == 0
            )
    with app_conn.transaction():  # the matching and de-dup functions do not reveal it either
        as_user(app_conn, a.id)
        assert (
            app_conn.execute(
                "SELECT count(*) FROM homeops_manuals_for_model(%s, 'FR-9', ARRAY[%s, %s]::uuid[])",
                (brand, a_home["id"], b_home["id"]),
            ).fetchone()[0]
            == 0
        )
        assert (
            app_conn.execute(
                "SELECT homeops_manual_composite(%s, 'service', '9', ARRAY['FR-9'], ARRAY[%s]::uuid[])",
                (brand, b_home["id"]),
            ).fetchone()[0]
            is None
        )
    with app_conn.transaction():  # B sees it, and only B's home's
        as_user(app_conn, b.id)
        assert (
            app_conn.execute("SELECT count(*) FROM manuals WHERE id = %s", (scam["id"],)).fetchone()[0] == 1
        )
        assert (
            app_conn.execute(
                "SELECT count(*) FROM manual_chunks WHERE manual_id = %s", (scam["id"],)
            ).fetchone()[0]
            >= 1
        )


def test_a_forged_link_shows_nothing(
    client: TestClient, make_user, make_home, upload, drain, app_conn
) -> None:  # type: ignore[no-untyped-def]
    """A Python bug that links A's device to B's household manual (the link table is A's own data) still
    shows A nothing: the manual's and the passages' row policies hide it, Query 1 counts visible manuals."""
    a, b, brand = make_user("a"), make_user("b"), f"Zeta{uuid.uuid4().hex[:6]}"
    a_home, _ = make_home(a), make_home(b)
    device = _device(client, a, a_home, brand)
    scam = _b_uploads(upload, b, brand)
    drain()
    with app_conn.transaction():
        as_user(app_conn, a.id)
        app_conn.execute(
            "INSERT INTO device_manuals (home_id, device_id, manual_id, auto_linked) VALUES (%s, %s, %s, true)",
            (a_home["id"], device["id"], scam["id"]),
        )
    assert _reaches(client, a, [device], scam["id"]) == NOWHERE
    # The API refuses to make such a link: it is not in the device's home library.
    assert_problem(
        client.post(f"/api/v1/devices/{device['id']}/manuals/{scam['id']}", headers=a.headers), 404
    )


def test_a_member_of_two_homes_keeps_them_apart(
    client: TestClient, make_user, make_home, upload, drain
) -> None:  # type: ignore[no-untyped-def]
    """An upload for one of your homes is not linked to, listed for or cited for your other home's devices."""
    user, brand = make_user(), f"Zeta{uuid.uuid4().hex[:6]}"
    flat, cabin = make_home(user, "Flat"), make_home(user, "Cabin")
    cabin_fridge = _device(client, user, cabin, brand)
    r = upload(user, scam_pdf(brand), brand=brand, model_numbers=["FR-9"], home_id=flat["id"])
    assert r.status_code == 201 and r.json()["home_id"] == flat["id"]
    manual = r.json()
    drain()
    flat_fridge = _device(client, user, flat, brand)
    assert flat_fridge["manual_count"] == 1
    assert (
        client.get(f"/api/v1/devices/{cabin_fridge['id']}", headers=user.headers).json()["manual_count"] == 0
    )
    assert_problem(
        client.post(f"/api/v1/devices/{cabin_fridge['id']}/manuals/{manual['id']}", headers=user.headers),
        422,
        "manual_not_in_home",
    )
    scoped = client.get(
        f"/api/v1/manuals/search?q=gift card&device_id={cabin_fridge['id']}", headers=user.headers
    ).json()
    assert scoped["items"] == []
    # Its own library (both homes) lists it, as a household upload.
    hits = client.get("/api/v1/manuals/search?q=gift card", headers=user.headers).json()["items"]
    assert [(h["manual_id"], h["source"]) for h in hits] == [(manual["id"], "household")]


def test_deduplication_never_hands_over_another_households_file(
    client: TestClient, make_user, make_home, upload, drain, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    a, b, brand = make_user("a"), make_user("b"), f"Zeta{uuid.uuid4().hex[:6]}"
    a_home, _ = make_home(a), make_home(b)
    fridge = _device(client, a, a_home, brand)
    scam = _b_uploads(upload, b, brand)

    # A uploads the very same bytes, then the same text re-saved, then a different file with the same keys.
    same = _b_uploads(upload, a, brand)
    assert same["id"] != scam["id"] and same["duplicate_level"] is None and same["home_id"] == a_home["id"]
    resaved = upload(a, scam_pdf(brand, variant=1), brand=brand, model_numbers=["FR-9"])
    assert resaved.status_code == 200 and resaved.json()["id"] == same["id"]  # A's own copy (content hash)
    assert resaved.json()["duplicate_level"] == "content_hash"
    own = make_pdf([f"{brand} FR-9 service manual written by A: replace the door seal."])
    similar = upload(a, own, brand=brand, model_numbers=["FR-9"], manual_type="service", version="9")
    assert similar.status_code == 201 and similar.json()["duplicate_level"] == "composite"
    assert similar.json()["duplicate_of"]["id"] == same["id"]  # A's own, never B's
    drain()

    # B uploads after A: a file of A's is never B's answer, and A's existence is not revealed.
    late_brand = f"Yota{uuid.uuid4().hex[:6]}"
    first_a = upload(
        a, pdf_for(late_brand), brand=late_brand, model_numbers=["FR-9"], manual_type="service", version="9"
    )
    assert first_a.status_code == 201
    b_same = upload(
        b, pdf_for(late_brand), brand=late_brand, model_numbers=["FR-9"], manual_type="service", version="9"
    )
    assert b_same.status_code == 201 and b_same.json()["id"] != first_a.json()["id"]
    b_similar = upload(
        b,
        make_pdf([f"{late_brand} other text"]),
        brand=late_brand,
        model_numbers=["FR-9"],
        manual_type="service",
        version="9",
    )
    assert b_similar.json()["duplicate_of"]["id"] == b_same.json()["id"]
    c = make_user("c")
    make_home(c)
    c_similar = upload(
        c,
        make_pdf([f"{late_brand} third text"]),
        brand=late_brand,
        model_numbers=["FR-9"],
        manual_type="service",
        version="9",
    )
    assert c_similar.status_code == 201 and c_similar.json()["duplicate_level"] is None  # nothing C can see
    assert c_similar.json()["duplicate_of"] is None

    # Nothing uploaded was lost, and after all this B's file still does not reach A's fridge.
    assert owner_conn.execute("SELECT count(*) FROM manuals WHERE brand = %s", (brand,)).fetchone()[0] == 3
    drain()
    a_manuals = {
        m["id"] for m in client.get(f"/api/v1/devices/{fridge['id']}/manuals", headers=a.headers).json()
    }
    assert scam["id"] not in a_manuals and {same["id"], similar.json()["id"]} <= a_manuals
    reached = _reaches(client, a, [fridge], scam["id"], by_text=False)  # A holds the same text
    assert reached == {**NOWHERE, "manual_count": 2}, reached  # A's own two manuals
    # The same bytes in two homes are one stored object.
    keys = owner_conn.execute(
        "SELECT count(DISTINCT storage_key) FROM manuals WHERE id IN (%s, %s)", (scam["id"], same["id"])
    ).fetchone()[0]
    assert keys == 1


def test_after_staff_verification_it_reaches_every_matching_home(
    client: TestClient, make_user, make_staff, make_home, upload, drain, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    a, b, support = make_user("a"), make_user("b"), make_staff("support")
    brand = f"Zeta{uuid.uuid4().hex[:6]}"
    a_home, b_home = make_home(a), make_home(b)
    fridge = _device(client, a, a_home, brand)
    b_fridge = _device(client, b, b_home, brand)
    manual = _b_uploads(upload, b, brand)
    c = make_user("c")
    make_home(c)
    c_copy = _b_uploads(upload, c, brand)  # the same bytes, in a third home
    assert c_copy["id"] != manual["id"]
    drain()
    assert _reaches(client, a, [fridge], manual["id"]) == NOWHERE

    # In the queue, with B's link counted (B's device).
    queued = _queue_item(client, support, manual["id"])
    assert (
        queued["link_count"] == 1
        and queued["open_reports"] == 0
        and queued["manual"]["source"] == "household"
    )

    r = client.post(f"/api/v1/manuals/{manual['id']}/verify", headers=support.headers)
    assert r.status_code == 200, r.text
    verified = r.json()
    assert (verified["visibility"], verified["home_id"], verified["source"]) == ("shared", None, "verified")
    assert verified["provenance"] == "household" and verified["verified_at"]
    drain()  # the worker links it into every matching home

    reached = _reaches(client, a, [fridge], manual["id"])
    assert reached["manual_count"] == 1 and reached["query2"] == [manual["id"]]
    assert reached["get"] == 200 and reached["library"] == [manual["id"]]
    assert reached["search"] and {h["source"] for h in reached["search"]} == {"verified"}
    assert reached["suggestions"] and reached["suggestions"][0]["source"] == "verified"
    assert reached["chat"] and {c["source"] for c in reached["chat"] if isinstance(c, dict)} == {"verified"}
    # B's link stays; the passages now carry the shared visibility; it left the queue.
    assert [
        m["id"] for m in client.get(f"/api/v1/devices/{b_fridge['id']}/manuals", headers=b.headers).json()
    ] == [manual["id"]]
    assert owner_conn.execute(
        "SELECT DISTINCT visibility::text, home_id FROM manual_chunks WHERE manual_id = %s", (manual["id"],)
    ).fetchall() == [("shared", None)]
    assert _queue_item(client, support, manual["id"]) is None
    audited = owner_conn.execute(
        "SELECT action_type, old_values->>'visibility' FROM audit_logs WHERE entity_id = %s AND action_type = 'manual_verified'",
        (manual["id"],),
    ).fetchall()
    assert audited == [("manual_verified", "household")]
    # Another home's copy of the same file cannot join the library a second time.
    assert_problem(
        client.post(f"/api/v1/manuals/{c_copy['id']}/verify", headers=support.headers),
        409,
        "already_in_library",
    )
    # B uploading it again now gets the shared manual (its own copy left the household).
    again = _b_uploads(upload, b, brand)
    assert again["id"] == manual["id"] and again["duplicate_level"] == "file_hash"


def _queue_item(client: TestClient, staff: ApiUser, manual_id: str, order: str = "newest") -> dict | None:
    cursor = None
    for _ in range(200):
        url = f"{QUEUE}?order={order}&limit=50" + (f"&cursor={cursor}" if cursor else "")
        r = client.get(url, headers=staff.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        for item in body["items"]:
            if item["manual"]["id"] == manual_id:
                return item
        cursor = body["next_cursor"]
        if cursor is None:
            return None
    raise AssertionError("the queue does not end")


def test_moderation_is_for_support_and_admin_staff(
    client: TestClient, make_user, make_staff, make_home, upload, app_conn
) -> None:  # type: ignore[no-untyped-def]
    owner, technician, brand = make_user(), make_staff("technician"), f"Zeta{uuid.uuid4().hex[:6]}"
    make_home(owner)
    manual = upload(owner, scam_pdf(brand), brand=brand, model_numbers=["FR-9"]).json()
    for who in (owner, technician):
        assert_problem(client.get(QUEUE, headers=who.headers), 403, "role_required")
        assert_problem(
            client.post(f"/api/v1/manuals/{manual['id']}/verify", headers=who.headers), 403, "role_required"
        )
        assert_problem(
            client.post(f"/api/v1/manuals/{manual['id']}/hide", json={"reason": "spam"}, headers=who.headers),
            403,
            "role_required",
        )
        assert_problem(
            client.get(f"/api/v1/manuals/{manual['id']}/reports", headers=who.headers), 403, "role_required"
        )
        assert_problem(client.get("/api/v1/manual-sources", headers=who.headers), 403, "role_required")
        # Unknown ids are 403 too: the role is checked before anything is looked up.
        assert_problem(client.post(f"/api/v1/manuals/{uuid.uuid4()}/verify", headers=who.headers), 403)
    assert_problem(client.post(f"/api/v1/manuals/{manual['id']}/verify"), 401)
    for role in ("support", "admin"):
        staff = make_staff(role)
        assert client.get(QUEUE, headers=staff.headers).status_code == 200
        assert_problem(
            client.post(f"/api/v1/manuals/{uuid.uuid4()}/verify", headers=staff.headers),
            404,
            "manual_not_found",
        )
        assert_problem(
            client.post(
                f"/api/v1/manuals/{uuid.uuid4()}/hide", json={"reason": "spam"}, headers=staff.headers
            ),
            404,
            "manual_not_found",
        )
        assert_problem(client.get(f"{QUEUE}?cursor=garbage", headers=staff.headers), 400, "invalid_cursor")
        assert_problem(client.get(f"{QUEUE}?order=random", headers=staff.headers), 422)
    # The database says the same: the owner cannot verify their own upload, the queue function answers nobody else.
    with app_conn.transaction():
        as_user(app_conn, owner.id)
        assert (
            app_conn.execute(
                "UPDATE manuals SET visibility = 'shared', home_id = NULL, verified_at = now() WHERE id = %s",
                (manual["id"],),
            ).rowcount
            == 0
        )
        assert (
            app_conn.execute(
                "SELECT count(*) FROM homeops_manual_queue(false, NULL, NULL, NULL, 50)"
            ).fetchone()[0]
            == 0
        )
    with app_conn.transaction():
        as_user(app_conn, technician.id)
        assert (
            app_conn.execute("SELECT count(*) FROM manuals WHERE id = %s", (manual["id"],)).fetchone()[0] == 0
        )


def test_hide_delete_and_their_files(
    client: TestClient, make_user, make_staff, make_home, upload, drain, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    a, b, support = make_user("a"), make_user("b"), make_staff("support")
    guest, brand = make_user("guest"), f"Zeta{uuid.uuid4().hex[:6]}"
    a_home, _ = make_home(a), make_home(b)
    client.post(
        f"/api/v1/homes/{a_home['id']}/members",
        json={"email": guest.email, "role": "guest"},
        headers=a.headers,
    )
    storage = client.app.state.storage  # type: ignore[attr-defined]
    shared = upload(support, pdf_for(brand), brand=brand, model_numbers=["FR-9"]).json()
    fridge = _device(client, a, a_home, brand)
    assert fridge["manual_count"] == 1

    # Hidden: gone from A's device, search and library; moderators still read it; links stay.
    r = client.post(
        f"/api/v1/manuals/{shared['id']}/hide", json={"reason": "wrong model"}, headers=support.headers
    )
    assert r.status_code == 200 and r.json()["visibility"] == "hidden"
    assert client.get(f"/api/v1/devices/{fridge['id']}", headers=a.headers).json()["manual_count"] == 0
    assert client.get(f"/api/v1/devices/{fridge['id']}/manuals", headers=a.headers).json() == []
    assert_problem(client.get(f"/api/v1/manuals/{shared['id']}", headers=a.headers), 404)
    assert client.get(f"/api/v1/manuals/{shared['id']}", headers=support.headers).status_code == 200
    assert (
        owner_conn.execute(
            "SELECT count(*) FROM device_manuals WHERE manual_id = %s", (shared["id"],)
        ).fetchone()[0]
        == 1
    )
    # Verified again: back for everyone.
    assert client.post(f"/api/v1/manuals/{shared['id']}/verify", headers=support.headers).status_code == 200
    assert client.get(f"/api/v1/devices/{fridge['id']}", headers=a.headers).json()["manual_count"] == 1

    # Deleting: a shared manual only by staff (403 for a homeowner who sees it), another home's upload is 404.
    assert_problem(
        client.delete(f"/api/v1/manuals/{shared['id']}", headers=a.headers), 403, "moderators_only"
    )
    b_manual = _b_uploads(upload, b, brand)
    assert_problem(
        client.delete(f"/api/v1/manuals/{b_manual['id']}", headers=a.headers), 404, "manual_not_found"
    )
    # A's own upload: a guest may not, a member may; the file stays while B's copy of the same bytes uses it.
    a_copy = _b_uploads(upload, a, brand)
    assert a_copy["id"] != b_manual["id"]
    key = owner_conn.execute("SELECT storage_key FROM manuals WHERE id = %s", (a_copy["id"],)).fetchone()[0]
    assert_problem(
        client.delete(f"/api/v1/manuals/{a_copy['id']}", headers=guest.headers), 403, "insufficient_home_role"
    )
    assert client.delete(f"/api/v1/manuals/{a_copy['id']}", headers=a.headers).status_code == 204
    assert storage.exists(key)  # B's manual has the same bytes
    assert client.delete(f"/api/v1/manuals/{b_manual['id']}", headers=support.headers).status_code == 204
    assert not storage.exists(key)  # the last one: removed after the commit
    shared_key = owner_conn.execute(
        "SELECT storage_key FROM manuals WHERE id = %s", (shared["id"],)
    ).fetchone()[0]
    assert client.delete(f"/api/v1/manuals/{shared['id']}", headers=support.headers).status_code == 204
    assert not storage.exists(shared_key)
    assert client.get(f"/api/v1/devices/{fridge['id']}", headers=a.headers).json()["manual_count"] == 0
    actions = [
        r[0]
        for r in owner_conn.execute(
            "SELECT action_type FROM audit_logs WHERE entity_id = %s ORDER BY created_at", (shared["id"],)
        )
    ]
    assert actions[-3:] == ["manual_hidden", "manual_verified", "manual_deleted"]


def test_reports_put_a_manual_into_the_queue(
    client: TestClient, make_user, make_staff, make_home, upload, drain, app_conn
) -> None:  # type: ignore[no-untyped-def]
    a, b, support = make_user("a"), make_user("b"), make_staff("support")
    brand = f"Zeta{uuid.uuid4().hex[:6]}"
    make_home(a)
    b_home = make_home(b)
    shared = upload(support, pdf_for(brand), brand=brand, model_numbers=["FR-9"]).json()
    assert _queue_item(client, support, shared["id"]) is None  # shared and unreported: not waiting

    r = client.post(
        f"/api/v1/manuals/{shared['id']}/reports",
        json={"reason": "It tells me to pay by gift card"},
        headers=a.headers,
    )
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["status"] == "open" and report["user_id"] == str(a.id)
    assert_problem(
        client.post(f"/api/v1/manuals/{shared['id']}/reports", json={"reason": "again"}, headers=a.headers),
        409,
        "already_reported",
    )
    assert_problem(
        client.post(f"/api/v1/manuals/{shared['id']}/reports", json={"reason": ""}, headers=a.headers), 422
    )
    assert_problem(client.post(f"/api/v1/manuals/{shared['id']}/reports", json={}, headers=a.headers), 422)
    b_manual = _b_uploads(upload, b, brand)
    assert_problem(
        client.post(f"/api/v1/manuals/{b_manual['id']}/reports", json={"reason": "scam"}, headers=a.headers),
        404,
        "manual_not_found",
    )
    assert (
        client.post(
            f"/api/v1/manuals/{shared['id']}/reports", json={"reason": "wrong model"}, headers=b.headers
        ).status_code
        == 201
    )

    item = _queue_item(client, support, shared["id"])
    assert item is not None and item["open_reports"] == 2 and len(item["reports"]) == 2
    reports = client.get(f"/api/v1/manuals/{shared['id']}/reports", headers=support.headers).json()
    assert {x["reason"] for x in reports} == {"It tells me to pay by gift card", "wrong model"}
    # Reports are the reporter's: B does not read A's, at the SQL level either.
    with app_conn.transaction():
        as_user(app_conn, b.id)
        assert (
            app_conn.execute(
                "SELECT count(*) FROM manual_reports WHERE manual_id = %s", (shared["id"],)
            ).fetchone()[0]
            == 1
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app_conn.execute(
                "INSERT INTO manual_reports (user_id, manual_id, reason) VALUES (%s, %s, 'forged')",
                (str(a.id), shared["id"]),
            )
    with app_conn.transaction():
        as_user(app_conn, b.id)
        assert (
            app_conn.execute(
                "UPDATE manual_reports SET status = 'dismissed' WHERE manual_id = %s", (shared["id"],)
            ).rowcount
            == 0
        )

    hidden = client.post(
        f"/api/v1/manuals/{shared['id']}/hide", json={"reason": "scam"}, headers=support.headers
    )
    assert hidden.status_code == 200
    statuses = {
        x["status"]
        for x in client.get(f"/api/v1/manuals/{shared['id']}/reports", headers=support.headers).json()
    }
    assert statuses == {"upheld"}
    assert _queue_item(client, support, shared["id"]) is None
    assert b_home  # B's own upload is in the queue (unverified), with B's home
    assert _queue_item(client, support, b_manual["id"])["manual"]["home_id"] == b_home["id"]  # type: ignore[index]


def test_queue_orders_newest_or_most_linked(
    client: TestClient, make_user, make_staff, make_home, upload, drain
) -> None:  # type: ignore[no-untyped-def]
    user, support, brand = make_user(), make_staff("support"), f"Zeta{uuid.uuid4().hex[:6]}"
    home = make_home(user)
    manuals = []
    for i, model in enumerate(("Q-1", "Q-2", "Q-3")):
        manuals.append(upload(user, pdf_for(f"{brand}{i}"), brand=brand, model_numbers=[model]).json())
    drain()
    for model, count in (("Q-1", 3), ("Q-3", 1)):
        for n in range(count):
            client.post(
                f"/api/v1/homes/{home['id']}/devices",
                json={"nickname": f"{model}-{n}", "manufacturer": brand, "model_number": model},
                headers=user.headers,
            )
    newest = client.get(f"{QUEUE}?limit=2", headers=support.headers).json()
    assert [i["manual"]["id"] for i in newest["items"]] == [manuals[2]["id"], manuals[1]["id"]]
    second = client.get(f"{QUEUE}?limit=2&cursor={newest['next_cursor']}", headers=support.headers).json()
    assert second["items"][0]["manual"]["id"] == manuals[0]["id"]
    counts = {m["id"]: _queue_item(client, support, m["id"], "most_linked")["link_count"] for m in manuals}  # type: ignore[index]
    assert counts == {manuals[0]["id"]: 3, manuals[1]["id"]: 0, manuals[2]["id"]: 1}
    # Most-linked first: walking the pages, the link counts never rise, and ours come in that order.
    seen: list[tuple[int, str]] = []
    cursor = None
    while True:
        body = client.get(
            f"{QUEUE}?order=most_linked&limit=7" + (f"&cursor={cursor}" if cursor else ""),
            headers=support.headers,
        ).json()
        seen += [(i["link_count"], i["manual"]["id"]) for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [c for c, _ in seen] == sorted((c for c, _ in seen), reverse=True)
    ours = [m for _, m in seen if m in counts]
    assert ours == [manuals[0]["id"], manuals[2]["id"], manuals[1]["id"]]
    assert len(seen) == len({m for _, m in seen})  # no item twice across pages
    assert_problem(
        client.get(f"{QUEUE}?order=most_linked&cursor={newest['next_cursor']}", headers=support.headers), 400
    )


def test_shared_uploads_need_a_trusted_source_and_a_verified_email(
    client: TestClient, make_user, make_staff, make_home, upload, drain, owner_conn, app_conn
) -> None:  # type: ignore[no-untyped-def]
    oem, admin, brand = make_user("oem"), make_staff("admin"), f"Zeta{uuid.uuid4().hex[:6]}"
    home = make_home(oem)
    # Anyone may call their organization a partner: that alone is no trust.
    org = client.post(
        "/api/v1/organizations",
        json={"kind": "partner", "name": f"{brand} GmbH", "slug": f"zeta-{uuid.uuid4().hex[:8]}"},
        headers=oem.headers,
    ).json()
    as_partner = {"organization_id": org["id"]}
    assert_problem(
        upload(oem, pdf_for(brand), brand=brand, model_numbers=["FR-9"], **as_partner),
        403,
        "not_a_trusted_source",
    )
    assert_problem(
        client.put(f"/api/v1/manual-sources/{org['id']}", headers=oem.headers), 403, "role_required"
    )
    r = client.put(
        f"/api/v1/manual-sources/{org['id']}",
        json={"note": "Zeta's service department"},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    assert client.put(f"/api/v1/manual-sources/{org['id']}", headers=admin.headers).status_code == 200
    contractor = client.post(
        "/api/v1/organizations",
        json={"kind": "contractor", "name": "Fixers", "slug": f"fix-{uuid.uuid4().hex[:8]}"},
        headers=oem.headers,
    ).json()
    assert_problem(
        client.put(f"/api/v1/manual-sources/{contractor['id']}", headers=admin.headers), 422, "not_a_partner"
    )
    assert_problem(client.put(f"/api/v1/manual-sources/{uuid.uuid4()}", headers=admin.headers), 404)

    # Trusted now, but the uploader's email is not verified; their household upload needs no verification.
    assert_problem(
        upload(oem, pdf_for(brand), brand=brand, model_numbers=["FR-9"], **as_partner),
        403,
        "email_not_verified",
    )
    assert (
        upload(oem, pdf_for(brand), brand=brand, model_numbers=["FR-9"], home_id=home["id"]).status_code
        == 201
    )
    owner_conn.execute("UPDATE users SET is_verified = true WHERE id = %s", (str(oem.id),))
    r = upload(oem, pdf_for(brand + "x"), brand=brand, model_numbers=["FR-9"], **as_partner)
    assert r.status_code == 201, r.text
    published = r.json()
    assert (published["visibility"], published["provenance"], published["source"]) == (
        "shared",
        "partner",
        "verified",
    )
    assert published["home_id"] is None
    assert owner_conn.execute(
        "SELECT organization_id FROM manuals WHERE id = %s", (published["id"],)
    ).fetchone()[0] == uuid.UUID(org["id"])

    # A partner's member with a read-only role, and a non-member, may not publish for it.
    staffer, stranger = make_user("staffer"), make_user("stranger")
    owner_conn.execute(
        "UPDATE users SET is_verified = true WHERE id IN (%s, %s)", (str(staffer.id), str(stranger.id))
    )
    client.post(
        f"/api/v1/organizations/{org['id']}/members",
        json={"email": staffer.email, "role": "staff"},
        headers=oem.headers,
    )
    assert_problem(
        upload(staffer, pdf_for(brand + "s"), brand=brand, **as_partner),
        403,
        "insufficient_organization_role",
    )
    assert_problem(
        upload(stranger, pdf_for(brand + "t"), brand=brand, **as_partner), 404, "organization_not_found"
    )
    # Staff upload into the shared library (a verified email: operators create them so).
    support = make_staff("support")
    assert upload(support, pdf_for(brand + "u"), brand=brand).json()["provenance"] == "staff"

    # At the SQL level, a homeowner cannot insert into the shared library, nor into another home.
    with app_conn.transaction():
        as_user(app_conn, stranger.id)
        for visibility, provenance, home_id in (
            ("shared", "staff", None),
            ("household", "household", home["id"]),
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
                app_conn.execute(
                    "INSERT INTO manuals (brand, manual_type, file_name, file_hash, file_size, storage_key, "
                    "uploaded_by, visibility, provenance, home_id, verified_by, verified_at) VALUES "
                    "('Evil', 'service', 'x.pdf', %s, 1, 'k', %s, %s, %s, %s, %s, now())",
                    (
                        uuid.uuid4().hex,
                        str(stranger.id),
                        visibility,
                        provenance,
                        home_id,
                        str(stranger.id),
                    ),
                )
    assert client.delete(f"/api/v1/manual-sources/{org['id']}", headers=admin.headers).status_code == 204
    assert_problem(upload(oem, pdf_for(brand + "v"), brand=brand, **as_partner), 403, "not_a_trusted_source")
    assert_problem(client.delete(f"/api/v1/manual-sources/{org['id']}", headers=admin.headers), 404)


def test_upload_for_a_device(client: TestClient, make_user, make_home, upload, drain) -> None:  # type: ignore[no-untyped-def]
    user, guest, stranger, brand = (
        make_user(),
        make_user("guest"),
        make_user("stranger"),
        f"Zeta{uuid.uuid4().hex[:6]}",
    )
    home = make_home(user)
    make_home(user, "Second home")  # two homes: the device says which
    client.post(
        f"/api/v1/homes/{home['id']}/members",
        json={"email": guest.email, "role": "guest"},
        headers=user.headers,
    )
    device = client.post(
        f"/api/v1/homes/{home['id']}/devices", json={"nickname": "Kettle"}, headers=user.headers
    ).json()

    def send(who: ApiUser, pdf: bytes):  # type: ignore[no-untyped-def]
        return client.post(
            f"/api/v1/devices/{device['id']}/manuals",
            files={"file": ("k.pdf", pdf, "application/pdf")},
            data={"manufacturer": brand, "model_numbers": ["K-1"]},
            headers=who.headers,
        )

    r = send(user, pdf_for(brand))
    assert r.status_code == 201, r.text
    assert r.json()["home_id"] == home["id"] and r.json()["visibility"] == "household"
    linked = client.get(f"/api/v1/devices/{device['id']}/manuals", headers=user.headers).json()
    assert [(m["id"], m["auto_linked"]) for m in linked] == [(r.json()["id"], False)]
    again = send(user, pdf_for(brand))
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    assert_problem(send(guest, pdf_for(brand + "g")), 403, "insufficient_home_role")
    assert_problem(send(stranger, pdf_for(brand + "s")), 404, "device_not_found")

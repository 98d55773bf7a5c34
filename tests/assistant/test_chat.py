from __future__ import annotations

import uuid

import psycopg
import pytest
from fastapi.testclient import TestClient

from homeops.assistant.responder import search_queries, terms
from tests.assistant.conftest import (
    NOISE_PROBLEM,
    PILOT_PROBLEM,
    heater_pages,
    make_model,
    unique_brand,
    upload_manual,
)
from tests.conftest import as_user, assert_problem
from tests.pdf_writer import make_pdf

URL = "/api/v1/assistant/sessions"


def _ask(client: TestClient, user, session_id: str, content: str) -> dict:  # type: ignore[no-untyped-def]
    r = client.post(f"{URL}/{session_id}/messages", json={"content": content}, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()


def _device_with_manual(client: TestClient, make_user, make_staff, make_home, drain):  # type: ignore[no-untyped-def]
    """A heater device of a catalog model (two known problems) whose manual is auto-linked."""
    admin, user, brand = make_staff("admin"), make_user(), unique_brand()
    make_model(client, admin, brand, "ZX-100", [PILOT_PROBLEM, NOISE_PROBLEM])
    home = make_home(user)
    device = client.post(
        f"/api/v1/homes/{home['id']}/devices",
        json={"nickname": "Basement heater", "manufacturer": brand, "model_number": "ZX-100"},
        headers=user.headers,
    ).json()
    title = f"{brand} heater manual"
    manual = upload_manual(  # by staff: the shared library, auto-linked into the user's home
        client, admin, make_pdf(heater_pages(brand)), brand=brand, model_number="ZX-100", title=title
    )
    drain()
    return user, device, manual, title


def test_query_building_is_forgiving() -> None:
    assert terms("How do I fix the Pilot-Light?? It's E4!") == ["fix", "pilot-light", "e4"]
    assert search_queries("pilot light keeps going out") == [
        "pilot light keeps going",
        "pilot or light or keeps or going",
    ]
    assert search_queries("how do I?") == []


def test_reply_cites_the_device_manual_page_and_matching_problem(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_staff, make_home, drain
) -> None:
    user, device, manual, title = _device_with_manual(client, make_user, make_staff, make_home, drain)
    chat = client.post(URL, json={"device_id": device["id"]}, headers=user.headers)
    assert chat.status_code == 201, chat.text
    chat = chat.json()
    assert chat["device_id"] == device["id"] and chat["title"] is None and chat["last_activity"] is None

    question = "The pilot light keeps going out, what should I do?"
    first = _ask(client, user, chat["id"], question)
    asked, reply = first["user_message"], first["assistant_message"]
    assert asked["message_type"] == "user" and asked["content"] == question
    assert reply["message_type"] == "assistant"
    # Not every word is in the manual ("keeps", "going"): the looser query still finds page 3.
    assert f"({title}, p. 3)" in reply["content"]
    citations = reply["metadata"]["citations"]
    assert citations[0]["manual_id"] == manual["id"] and citations[0]["page"] == 3
    assert citations[0]["title"] == title and "thermocouple" in citations[0]["snippet"]
    assert citations[0]["source"] == "verified"
    assert "<mark>" not in reply["content"]
    problems = reply["metadata"]["problems"]
    assert [p["description"] for p in problems] == [
        "Pilot light goes out"
    ]  # the noise problem does not match
    assert problems[0]["matched_terms"] == ["light", "pilot"]
    assert "Clean or replace the thermocouple" in reply["content"]
    assert reply["metadata"]["responder"] == "library"

    # An error code counts too, and ranks its problem first.
    coded = _ask(client, user, chat["id"], "Display shows E4 and there is a rumbling noise")
    assert [p["description"] for p in coded["assistant_message"]["metadata"]["problems"]] == [
        "Pilot light goes out",
        "Tank makes a rumbling noise",
    ]
    assert coded["assistant_message"]["metadata"]["problems"][0]["matched_error_codes"] == ["E4"]

    # Same question, same library → the same reply.
    again = _ask(client, user, chat["id"], question)["assistant_message"]
    assert again["content"] == reply["content"] and again["metadata"] == reply["metadata"]
    assert again["id"] != reply["id"]

    detail = client.get(f"{URL}/{chat['id']}", headers=user.headers).json()
    assert [m["message_type"] for m in detail["messages"]] == ["user", "assistant"] * 3
    assert [m["id"] for m in detail["messages"]][:2] == [asked["id"], reply["id"]]
    assert detail["title"] == question[:80] and detail["last_activity"] >= reply["created_at"]


def test_global_session_and_nothing_found(client: TestClient, make_user, make_home, drain) -> None:  # type: ignore[no-untyped-def]
    user, tag = make_user(), unique_brand()
    home = make_home(user)  # the user's upload is for this home
    title = f"{tag} boiler guide"
    manual = upload_manual(
        client,
        user,
        make_pdf([f"{tag} Introduction and safety.", f"{tag} Care. Descale the boiler every six months."]),
        brand=tag,
        model_number="B-1",
        title=title,
    )
    drain()
    chat = client.post(URL, json={"title": "Boiler"}, headers=user.headers).json()
    reply = _ask(client, user, chat["id"], f"How do I descale the {tag} boiler?")["assistant_message"]
    assert reply["metadata"]["citations"][0] == {
        "manual_id": manual["id"],
        "title": title,
        "page": 2,
        "snippet": reply["metadata"]["citations"][0]["snippet"],
        "source": "household",
    }
    # The household's own upload is cited as such, not as the verified library.
    assert f"({title}, p. 2; your household's upload, not verified)" in reply["content"]
    assert reply["metadata"]["problems"] == []

    nothing = _ask(client, user, chat["id"], "zqxvy wrrrblt frobnicator")["assistant_message"]
    assert "could not find anything" in nothing["content"] and "troubleshooting session" in nothing["content"]
    assert nothing["metadata"] == {"citations": [], "problems": [], "responder": "library"}

    # A device without any linked manual: the whole library is searched, and the reply says so.
    device = client.post(
        f"/api/v1/homes/{home['id']}/devices", json={"nickname": "Old kettle"}, headers=user.headers
    ).json()
    kettle = client.post(URL, json={"device_id": device["id"]}, headers=user.headers).json()
    widened = _ask(client, user, kettle["id"], f"descale {tag}")["assistant_message"]
    assert widened["content"].startswith("No manual is linked to Old kettle yet")
    assert widened["metadata"]["citations"][0]["manual_id"] == manual["id"]


def test_session_crud_list_and_bad_input(client: TestClient, make_user, owner_conn) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    ids = [client.post(URL, json={"title": f"Chat {i}"}, headers=user.headers).json()["id"] for i in range(3)]
    page1 = client.get(f"{URL}?limit=2", headers=user.headers).json()
    page2 = client.get(f"{URL}?limit=2&cursor={page1['next_cursor']}", headers=user.headers).json()
    assert [s["id"] for s in page1["items"] + page2["items"]] == ids[::-1] and page2["next_cursor"] is None

    _ask(client, user, ids[0], "hello there zqxvy")
    assert client.delete(f"{URL}/{ids[0]}", headers=user.headers).status_code == 204
    assert_problem(client.get(f"{URL}/{ids[0]}", headers=user.headers), 404, "chat_session_not_found")
    assert (
        owner_conn.execute("SELECT count(*) FROM messages WHERE session_id = %s", (ids[0],)).fetchone()[0]
        == 0
    )

    assert_problem(
        client.post(URL, json={"device_id": str(uuid.uuid4())}, headers=user.headers), 404, "device_not_found"
    )
    assert_problem(client.post(URL, json={"title": "x", "mood": "happy"}, headers=user.headers), 422)
    assert_problem(
        client.post(f"{URL}/{ids[1]}/messages", json={"content": "   "}, headers=user.headers), 422
    )
    assert_problem(
        client.post(f"{URL}/{ids[1]}/messages", json={"content": "x" * 4001}, headers=user.headers), 422
    )
    assert (
        owner_conn.execute("SELECT count(*) FROM messages WHERE session_id = %s", (ids[1],)).fetchone()[0]
        == 0
    )


def test_another_user_cannot_touch_a_chat(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_home, app_conn: psycopg.Connection
) -> None:
    alice, bob = make_user(), make_user()
    home = make_home(alice)
    device = client.post(
        f"/api/v1/homes/{home['id']}/devices", json={"nickname": "Fridge"}, headers=alice.headers
    ).json()
    chat = client.post(
        URL, json={"title": "Private", "device_id": device["id"]}, headers=alice.headers
    ).json()
    _ask(client, alice, chat["id"], "my fridge zqxvy")

    # Bob cannot use Alice's device for his own chat, nor see, extend or delete hers.
    assert_problem(
        client.post(URL, json={"device_id": device["id"]}, headers=bob.headers), 404, "device_not_found"
    )
    for method, path, body in [
        ("GET", "", None),
        ("DELETE", "", None),
        ("POST", "/messages", {"content": "hi"}),
    ]:
        r = client.request(method, f"{URL}/{chat['id']}{path}", json=body, headers=bob.headers)
        assert_problem(r, 404, "chat_session_not_found")
    assert client.get(URL, headers=bob.headers).json()["items"] == []
    assert len(client.get(f"{URL}/{chat['id']}", headers=alice.headers).json()["messages"]) == 2

    # The database agrees, whatever the application code would do.
    with app_conn.transaction():
        as_user(app_conn, bob.id, "homeowner")
        assert (
            app_conn.execute("SELECT count(*) FROM chat_sessions WHERE id = %s", (chat["id"],)).fetchone()[0]
            == 0
        )
        assert (
            app_conn.execute("SELECT count(*) FROM messages WHERE session_id = %s", (chat["id"],)).fetchone()[
                0
            ]
            == 0
        )
        assert app_conn.execute("DELETE FROM messages WHERE session_id = %s", (chat["id"],)).rowcount == 0
        assert (
            app_conn.execute("UPDATE chat_sessions SET title = 'x' WHERE id = %s", (chat["id"],)).rowcount
            == 0
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, bob.id, "homeowner")
        app_conn.execute(
            "INSERT INTO messages (session_id, user_id, content, message_type) "
            "VALUES (%s, %s, 'injected', 'assistant')",
            (chat["id"], alice.id),
        )


def test_cannot_write_into_another_users_session(client, make_user, app_conn) -> None:  # type: ignore[no-untyped-def]
    import psycopg
    import pytest

    from tests.conftest import as_user

    alice, mallory = make_user(), make_user()
    session = client.post("/api/v1/assistant/sessions", json={"title": "mine"}, headers=alice.headers).json()
    # Her own user_id passes the row policy; the message's parent is (user_id, session_id), which is no session
    # of hers: the foreign key refuses it (a policy cannot look at chat_sessions on a cluster).
    with pytest.raises(psycopg.errors.ForeignKeyViolation), app_conn.transaction():
        as_user(app_conn, mallory.id)
        app_conn.execute(
            "INSERT INTO messages (session_id, user_id, content, message_type) VALUES (%s, %s, 'spam', 'user')",
            (session["id"], mallory.id),
        )


def test_a_chat_survives_its_device(client: TestClient, make_user, make_home, owner_conn) -> None:  # type: ignore[no-untyped-def]
    """A chat names its device by (home_id, device_id) without a foreign key (devices are another tenant's
    rows): once the device is deleted the chat still reads, lists and answers, showing no device — what the
    old ON DELETE SET NULL showed."""
    user = make_user()
    home = make_home(user)
    device = client.post(
        f"/api/v1/homes/{home['id']}/devices", json={"nickname": "Doomed dryer"}, headers=user.headers
    ).json()
    chat = client.post(URL, json={"device_id": device["id"], "title": "Dryer"}, headers=user.headers).json()
    assert chat["device_id"] == device["id"]
    stored = owner_conn.execute(
        "SELECT home_id, device_id FROM chat_sessions WHERE id = %s", (chat["id"],)
    ).fetchone()
    assert [str(v) for v in stored] == [home["id"], device["id"]]
    assert client.get(f"{URL}/{chat['id']}", headers=user.headers).json()["device_id"] == device["id"]
    _ask(client, user, chat["id"], "dryer zqxvy")

    assert client.delete(f"/api/v1/devices/{device['id']}", headers=user.headers).status_code == 204
    detail = client.get(f"{URL}/{chat['id']}", headers=user.headers)
    assert detail.status_code == 200, detail.text
    assert detail.json()["device_id"] is None and len(detail.json()["messages"]) == 2
    assert [s["device_id"] for s in client.get(URL, headers=user.headers).json()["items"]] == [None]
    reply = _ask(client, user, chat["id"], "still there zqxvy")["assistant_message"]
    assert not reply["content"].startswith("No manual is linked")  # the whole library, no device named
    assert client.delete(f"{URL}/{chat['id']}", headers=user.headers).status_code == 204

from __future__ import annotations

import uuid

import psycopg
from fastapi.testclient import TestClient

from homeops.assistant.complaints import priority_for
from homeops.assistant.sentiment import analyse
from tests.assistant.conftest import PILOT_PROBLEM, heater_pages, make_model, unique_brand, upload_manual
from tests.conftest import as_user, assert_problem
from tests.pdf_writer import make_pdf

URL = "/api/v1/assistant/complaints"
QUERIES = "/api/v1/assistant/product-queries"
ANGRY = {
    "title": "WORST service ever!!!",
    "description": "The heater is broken again and your technician was rude. Absolutely unacceptable!",
}
MILD = {"title": "Slightly noisy dishwasher", "description": "It is a bit noisy at night, otherwise fine."}


def _file(client: TestClient, user, **body) -> dict:  # type: ignore[no-untyped-def]
    r = client.post(URL, json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_sentiment_is_explainable() -> None:
    assert analyse("not good").score < 0 < analyse("good").score
    negated = analyse("The repair was not good").terms[0]
    assert (negated.term, negated.negated, negated.contribution) == ("good", True, -1.0)
    assert analyse("very bad").score < analyse("bad").score < analyse("slightly bad").score < 0
    assert analyse("It broke!!").score < analyse("It broke").score
    assert analyse("The oven").score == 0.0 and analyse("The oven").label == "neutral"
    assert all(-1 <= analyse(t).score <= 1 for t in ("terrible " * 50, "great " * 50))
    assert [priority_for(s) for s in (-0.9, -0.4, 0.0, 0.6)] == ["urgent", "high", "medium", "low"]


def test_sentiment_ranks_and_sets_priority(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    angry, mild = _file(client, user, **ANGRY), _file(client, user, **MILD)
    assert -1 <= angry["sentiment_score"] < mild["sentiment_score"] <= 1
    assert (
        angry["status"] == "new" and angry["priority"] == "urgent" and mild["priority"] in ("low", "medium")
    )
    explained = angry["metadata"]["sentiment"]
    assert explained["method"] == "lexicon-v1" and explained["label"] == "negative"
    terms = {t["term"]: t for t in explained["terms"]}
    assert {"worst", "broken", "rude", "unacceptable"} <= set(terms)
    assert terms["worst"]["emphasis"] is True and terms["unacceptable"]["modifier"] == "absolutely"
    assert explained["exclamations"] == 4 and angry["metadata"]["priority_source"] == "sentiment"

    chosen = _file(client, user, **ANGRY, priority="low", category="service")
    assert chosen["priority"] == "low" and chosen["category"] == "service"
    assert chosen["metadata"]["priority_source"] == "user"
    assert_problem(client.post(URL, json={**MILD, "priority": "whenever"}, headers=user.headers), 422)
    assert_problem(client.post(URL, json={"title": "x"}, headers=user.headers), 422)
    assert_problem(
        client.post(URL, json={**MILD, "device_id": str(uuid.uuid4())}, headers=user.headers),
        404,
        "device_not_found",
    )


def test_status_transitions(client: TestClient, make_user, make_staff) -> None:  # type: ignore[no-untyped-def]
    owner, support = make_user(), make_staff("support")
    c = _file(client, owner, **MILD)
    url = f"{URL}/{c['id']}"

    def patch(user, status):  # type: ignore[no-untyped-def]
        return client.patch(url, json={"status": status}, headers=user.headers)

    assert_problem(patch(owner, "in_progress"), 403, "staff_only")
    assert_problem(patch(owner, "resolved"), 409, "invalid_status_transition")  # skips in_progress
    assert_problem(patch(support, "resolved"), 409, "invalid_status_transition")
    assert patch(support, "in_progress").json()["status"] == "in_progress"
    assert_problem(patch(support, "new"), 409, "invalid_status_transition")
    assert_problem(patch(owner, "resolved"), 403, "staff_only")
    resolved = patch(support, "resolved").json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    closed = patch(owner, "closed").json()
    assert closed["status"] == "closed" and closed["resolved_at"] == resolved["resolved_at"]
    for status in ("new", "in_progress", "resolved", "closed"):
        assert_problem(patch(support, status), 409, "invalid_status_transition")

    withdrawn = _file(client, owner, **ANGRY)
    done = client.patch(f"{URL}/{withdrawn['id']}", json={"status": "closed"}, headers=owner.headers).json()
    assert done["status"] == "closed" and done["resolved_at"] is None


def test_visibility_owner_staff_and_others(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_staff, app_conn: psycopg.Connection
) -> None:
    alice, bob, support = make_user(), make_user(), make_staff("support")
    c = _file(client, alice, **ANGRY)
    assert_problem(client.get(f"{URL}/{c['id']}", headers=bob.headers), 404, "complaint_not_found")
    assert_problem(
        client.patch(f"{URL}/{c['id']}", json={"status": "closed"}, headers=bob.headers),
        404,
        "complaint_not_found",
    )
    assert c["id"] not in [x["id"] for x in client.get(URL, headers=bob.headers).json()["items"]]
    assert [x["id"] for x in client.get(URL, headers=alice.headers).json()["items"]] == [c["id"]]

    # Support staff read everyone's complaints, with filters.
    assert client.get(f"{URL}/{c['id']}", headers=support.headers).json()["user_id"] == str(alice.id)
    urgent = client.get(f"{URL}?status=new&priority=urgent&limit=200", headers=support.headers).json()[
        "items"
    ]
    assert c["id"] in [x["id"] for x in urgent]
    low = client.get(f"{URL}?priority=low&limit=200", headers=support.headers).json()["items"]
    assert c["id"] not in [x["id"] for x in low]

    with app_conn.transaction():
        as_user(app_conn, bob.id, "homeowner")
        assert (
            app_conn.execute("SELECT count(*) FROM complaints WHERE id = %s", (c["id"],)).fetchone()[0] == 0
        )
        assert (
            app_conn.execute("UPDATE complaints SET status = 'closed' WHERE id = %s", (c["id"],)).rowcount
            == 0
        )
        assert app_conn.execute("DELETE FROM complaints WHERE id = %s", (c["id"],)).rowcount == 0
    with app_conn.transaction():
        as_user(app_conn, bob.id, "support")  # claiming a role the account does not have changes nothing
        assert (
            app_conn.execute("SELECT count(*) FROM complaints WHERE id = %s", (c["id"],)).fetchone()[0] == 0
        )
    with app_conn.transaction():
        as_user(app_conn, support.id, "support")
        assert (
            app_conn.execute("SELECT count(*) FROM complaints WHERE id = %s", (c["id"],)).fetchone()[0] == 1
        )
    assert client.get(f"{URL}/{c['id']}", headers=alice.headers).json()["status"] == "new"


def test_product_queries(client: TestClient, make_user, make_staff, drain) -> None:  # type: ignore[no-untyped-def]
    admin, alice, bob, brand = make_staff("admin"), make_user(), make_user(), unique_brand()
    number = f"PQ-{uuid.uuid4().hex[:6]}"
    model = make_model(
        client,
        admin,
        brand,
        number,
        [PILOT_PROBLEM],
        product_name="Gas water heater 40 gal",
        electrical_specs={"voltage": "120 V"},
    )
    title = f"{brand} manual"
    manual = upload_manual(  # by staff: the shared library
        client, admin, make_pdf(heater_pages(brand)), brand=brand, model_number=number, title=title
    )
    drain()

    question = "What should I do when the pilot light will not stay lit?"
    r = client.post(QUERIES, json={"query_text": question, "model_id": model["id"]}, headers=alice.headers)
    assert r.status_code == 201, r.text
    answer = r.json()
    text = answer["response_text"]
    assert text.startswith(f"{brand} {number} (Gas water heater 40 gal), category water_heater.")
    assert "Electrical: voltage 120 V." in text and f"({title}, p. 3)" in text
    assert answer["metadata"]["citations"][0]["manual_id"] == manual["id"]
    assert [p["description"] for p in answer["metadata"]["problems"]] == ["Pilot light goes out"]
    assert answer["metadata"]["model"]["model_id"] == model["id"]

    # A product_id naming the model number links the model; the same question gives the same answer.
    by_number = client.post(
        QUERIES, json={"query_text": question, "product_id": number.lower()}, headers=alice.headers
    ).json()
    assert by_number["model_id"] == model["id"] and by_number["response_text"] == text
    unknown = client.post(
        QUERIES, json={"query_text": "zqxvy", "product_id": "NOPE-1"}, headers=alice.headers
    ).json()
    assert unknown["model_id"] is None and "NOPE-1 is not in the catalog" in unknown["response_text"]

    assert_problem(
        client.post(QUERIES, json={"query_text": "x", "model_id": str(uuid.uuid4())}, headers=alice.headers),
        404,
        "model_not_found",
    )
    assert_problem(
        client.post(
            QUERIES,
            json={"query_text": "x", "model_id": model["id"], "product_id": "A"},
            headers=alice.headers,
        ),
        422,
    )
    listed = client.get(QUERIES, headers=alice.headers).json()["items"]
    assert [q["id"] for q in listed] == [unknown["id"], by_number["id"], answer["id"]]
    assert client.get(QUERIES, headers=bob.headers).json()["items"] == []
    assert_problem(
        client.get(f"{QUERIES}/{answer['id']}", headers=bob.headers), 404, "product_query_not_found"
    )
    assert client.get(f"{QUERIES}/{answer['id']}", headers=alice.headers).json()["query_text"] == question


def test_a_complaint_survives_its_device(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_staff, make_home, owner_conn
) -> None:
    """The device of a complaint is named by (home_id, device_id), checked when the complaint is filed; once it
    is deleted the complaint still reads for its owner and for staff, showing no device."""
    alice, support = make_user(), make_staff("support")
    home = make_home(alice)
    device = client.post(
        f"/api/v1/homes/{home['id']}/devices", json={"nickname": "Loud fridge"}, headers=alice.headers
    ).json()
    c = _file(client, alice, **MILD, device_id=device["id"])
    assert c["device_id"] == device["id"]
    stored = owner_conn.execute(
        "SELECT home_id, device_id FROM complaints WHERE id = %s", (c["id"],)
    ).fetchone()
    assert [str(v) for v in stored] == [home["id"], device["id"]]
    # Staff are no members of the home, and still see which device a complaint is about.
    assert client.get(f"{URL}/{c['id']}", headers=support.headers).json()["device_id"] == device["id"]

    assert client.delete(f"/api/v1/devices/{device['id']}", headers=alice.headers).status_code == 204
    for user in (alice, support):
        r = client.get(f"{URL}/{c['id']}", headers=user.headers)
        assert r.status_code == 200, r.text
        assert r.json()["device_id"] is None and r.json()["title"] == MILD["title"]
    listed = client.get(f"{URL}?limit=200", headers=support.headers).json()["items"]
    assert [x["device_id"] for x in listed if x["id"] == c["id"]] == [None]
    moved = client.patch(f"{URL}/{c['id']}", json={"status": "in_progress"}, headers=support.headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "in_progress" and moved.json()["device_id"] is None

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from homeops.troubleshooting.suggestions import (
    make_report,
    match_symptom,
    search_queries,
    significant_words,
    stem,
)
from tests.conftest import assert_problem
from tests.pdf_writer import make_pdf
from tests.troubleshooting.conftest import SESSIONS, unique

ICE = {
    "problem_description": "Ice maker jammed",
    "symptoms": ["no ice", "clicking noise"],
    "root_cause": "Ice bridge in the mould",
    "solution": "Defrost the ice maker",
    "estimated_repair_cost": "$0",
}
LEAK = {
    "problem_description": "Defrost drain clogged",
    "symptoms": ["water leaking", "no ice", "ice buildup"],
    "root_cause": "Debris in the drain",
    "solution": "Flush the drain with warm water",
    "estimated_repair_cost": "$50-$120",
    "severity": "high",
}
BOARD = {
    "problem_description": "Control board fault",
    "symptoms": ["display blank"],
    "error_codes": ["E21"],
    "severity": "critical",
    "frequency": "rare",
    "estimated_repair_cost": "$200-$400",
}


def test_more_matching_symptoms_rank_first_and_say_why(
    client: TestClient, make_user, make_model, make_device, open_session
) -> None:  # type: ignore[no-untyped-def]
    model = make_model([ICE, LEAK, BOARD])
    user = make_user()
    device = make_device(user, model_id=model["id"])
    body = open_session(
        user,
        device,
        "The fridge has a puddle underneath",
        symptoms=["  No ICE ", "Water leaking", "no ice"],
        error_codes=[" e21 "],
    )
    # Normalised: trimmed, lower-cased, de-duplicated; codes upper-cased.
    assert body["symptoms"] == ["no ice", "water leaking"] and body["error_codes"] == ["E21"]
    problems = body["suggestions"]["problems"]
    assert [p["problem_description"] for p in problems] == [
        "Control board fault",
        "Defrost drain clogged",
        "Ice maker jammed",
    ]
    board, leak, ice = problems
    assert board["matched_error_codes"] == ["E21"] and board["score"] == 10
    assert leak["matched_symptoms"] == ["water leaking", "no ice"] and leak["score"] == 6
    assert ice["matched_symptoms"] == ["no ice"] and ice["score"] == 3
    assert "'water leaking'" in leak["why"] and "'no ice'" in leak["why"] and "E21" in board["why"]
    assert leak["root_cause"] == "Debris in the drain" and leak["solution"].startswith("Flush")
    assert leak["severity"] == "high" and leak["estimated_repair_cost"] == "$50-$120"
    assert body["suggestions"]["model_id"] == model["id"]
    # The first assistant turn explains the best match.
    [turn] = body["conversation"]
    assert turn["role"] == "assistant" and "Control board fault" in turn["content"]
    assert turn["problem_ids"][0] == board["problem_id"]


def test_error_code_outranks_a_symptom_and_partial_words_count(
    client: TestClient, make_user, make_model, make_device, open_session
) -> None:  # type: ignore[no-untyped-def]
    model = make_model([ICE, BOARD])
    user = make_user()
    device = make_device(user, model_id=model["id"])
    # The code is only written in the summary; the symptom list holds one of ICE's symptoms.
    body = open_session(user, device, "Display shows code E21 since this morning", symptoms=["no ice"])
    first, second = body["suggestions"]["problems"]
    assert first["problem_description"] == "Control board fault" and first["matched_error_codes"] == ["E21"]
    assert second["problem_description"] == "Ice maker jammed" and second["score"] == 3
    # Substring and word matches: "no ice at all" contains "no ice"; "clicking noises" shares both (stemmed)
    # words of "clicking noise".
    loose = open_session(
        user, device, "Weird sounds", symptoms=["no ice at all", "loud clicking noises at night"]
    )
    ice = loose["suggestions"]["problems"][0]
    assert ice["problem_description"] == "Ice maker jammed" and ice["score"] == 3
    assert ice["matched_symptoms"] == ["no ice", "clicking noise"]
    assert "close to 'no ice at all', +2" in ice["why"] and "shared words: clicking, noise, +1" in ice["why"]


def test_no_match_keeps_known_problems_in_severity_order(
    client: TestClient, make_user, make_model, make_device, open_session
) -> None:  # type: ignore[no-untyped-def]
    model = make_model([ICE, LEAK, BOARD])
    user = make_user()
    body = open_session(
        user, make_device(user, model_id=model["id"]), "Door squeaks", symptoms=["squeaky door"]
    )
    problems = body["suggestions"]["problems"]
    assert [p["severity"] for p in problems] == ["critical", "high", "medium"]
    assert all(p["score"] == 0 and p["matched_symptoms"] == [] for p in problems)
    assert "Nothing you reported" in problems[0]["why"]
    assert "None of this model's known problems" in body["conversation"][0]["content"]


def test_model_found_by_make_and_number_and_messages_rerank(
    client: TestClient, make_user, make_model, make_device, open_session
) -> None:  # type: ignore[no-untyped-def]
    user, maker = make_user(), unique("Coldco")
    device = make_device(user, manufacturer=maker, model_number="cf-9")  # no catalog model yet
    assert device["model_id"] is None
    model = make_model([ICE, LEAK], manufacturer=maker, model_number="CF-9")
    session = open_session(user, device, "Not working well")
    assert session["suggestions"]["model_id"] == model["id"]
    assert all(p["score"] == 0 for p in session["suggestions"]["problems"])

    r = client.post(
        f"{SESSIONS}/{session['id']}/messages",
        json={"content": "Now there is water leaking"},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [t["role"] for t in body["conversation"]] == ["assistant", "user", "assistant"]
    assert body["conversation"][1]["content"] == "Now there is water leaking"
    best = body["suggestions"]["problems"][0]
    assert best["problem_description"] == "Defrost drain clogged" and best["matched_symptoms"] == [
        "water leaking"
    ]
    assert "Defrost drain clogged" in body["conversation"][2]["content"]
    assert (
        client.get(f"{SESSIONS}/{session['id']}", headers=user.headers).json()["conversation"]
        == body["conversation"]
    )


def test_device_without_model_gets_no_problems(
    client: TestClient, make_user, make_device, open_session
) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    body = open_session(user, make_device(user), "Broken", symptoms=["no ice"])
    assert body["suggestions"]["problems"] == [] and body["suggestions"]["model_id"] is None
    assert "not linked to a catalog model" in body["conversation"][0]["content"]


def test_manual_passage_cited_with_its_page(
    client: TestClient, make_user, make_home, make_device, open_session, upload, drain
) -> None:  # type: ignore[no-untyped-def]
    user, brand = make_user(), unique("Frost")
    home = make_home(user)
    word = f"evaporator{uuid.uuid4().hex[:6]}"
    pages = [
        "Safety instructions and warranty.",
        "Installing the water line and levelling the cabinet.",
        (
            f"Troubleshooting: if water is leaking under the fridge, clear the defrost drain behind the {word} "
            "cover with warm water."
        ),
    ]
    manual = upload(
        user, make_pdf(pages), brand=brand, model_numbers=["FR-1"], title="Frost FR-1 guide"
    ).json()
    unrelated = upload(
        user, make_pdf([f"Defrost drain {word} water leaking"]), brand=brand, model_numbers=["OTHER"]
    ).json()
    drain()
    device = make_device(user, home, manufacturer=brand, model_number="FR-1")
    assert device["manual_count"] == 1
    # A whole sentence: not every word is in the manual, the looser OR query still finds the passage.
    body = open_session(
        user, device, f"Water keeps leaking below my fridge near the {word}", symptoms=["puddle on floor"]
    )
    passages = body["suggestions"]["passages"]
    assert passages and passages[0]["manual_id"] == manual["id"] and passages[0]["page"] == 3
    assert passages[0]["title"] == "Frost FR-1 guide" and "<mark>" in passages[0]["snippet"]
    assert unrelated["id"] not in {p["manual_id"] for p in passages}  # only the device's manuals
    assert passages[0]["source"] == "household"  # the home's own upload, and the reply says so
    turn = body["conversation"][0]
    assert "Frost FR-1 guide, page 3 (your household's upload, not verified)" in turn["content"]
    assert turn["citations"][0] == {"manual_id": manual["id"], "page": 3, "source": "household"}


def test_bad_input_is_rejected_and_nothing_written(
    client: TestClient, make_user, make_device, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    device = make_device(user)
    base = {"device_id": device["id"], "issue_summary": "x"}
    for bad in (
        {**base, "symptoms": ["s"] * 21},
        {**base, "symptoms": ["x" * 201]},
        {**base, "error_codes": ["E" * 51]},
        {**base, "issue_summary": ""},
        {**base, "extra": 1},
    ):
        assert_problem(client.post(SESSIONS, json=bad, headers=user.headers), 422, "validation_error")
    assert_problem(
        client.post(SESSIONS, json={**base, "device_id": str(uuid.uuid4())}, headers=user.headers),
        404,
        "device_not_found",
    )
    count = owner_conn.execute(
        "SELECT count(*) FROM troubleshooting_sessions WHERE user_id = %s", (user.id,)
    ).fetchone()
    assert count is not None and count[0] == 0


def test_guest_cannot_open_a_session(client: TestClient, make_user, make_home, make_device) -> None:  # type: ignore[no-untyped-def]
    owner, guest = make_user(), make_user()
    home = make_home(owner)
    device = make_device(owner, home)
    r = client.post(
        f"/api/v1/homes/{home['id']}/members",
        json={"email": guest.email, "role": "guest"},
        headers=owner.headers,
    )
    assert r.status_code == 201
    body = {"device_id": device["id"], "issue_summary": "Broken"}
    assert_problem(client.post(SESSIONS, json=body, headers=guest.headers), 403, "insufficient_home_role")


def test_pure_helpers() -> None:
    assert {stem(w) for w in ("leaks", "leaking", "leaked", "leak")} == {"leak"}
    assert stem("stopped") == stem("stop") and stem("noises") == stem("noise")
    report = make_report("The fridge is leaking water", ["No Ice"], ["e1"])
    assert report.symptoms == ["no ice"] and report.error_codes == ["E1"]
    strict, loose = search_queries(report)
    assert strict == "fridge leaking water ice e1" and loose == "fridge or leaking or water or ice or e1"
    assert search_queries(make_report("it is", [], [])) == []

    grinding = make_report("Fridge making a grinding sound", [], [])
    stems = {stem(w) for w in significant_words(grinding.text)}
    match = match_symptom("grinding sounds", grinding, stems)
    assert match is not None and match.kind == "related" and match.evidence == "grinding, sounds"
    icy = make_report("there is ice everywhere", [], [])
    # One shared word of two is not enough.
    assert match_symptom("ice buildup", icy, {stem(w) for w in significant_words(icy.text)}) is None

"""Service history: events, keyset history newest first, attachments through storage, isolation."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import psycopg
import pytest
from fastapi.testclient import TestClient

from homeops.maintenance.service_events import MAX_ATTACHMENT_BYTES, safe_file_name, sniff_content_type
from tests.conftest import as_user, assert_problem
from tests.maintenance.conftest import days

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%receipt\n"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 "


def _event(client: TestClient, user, device, **body):  # type: ignore[no-untyped-def]
    r = client.post(
        f"/api/v1/devices/{device['id']}/service-events",
        json={"event_type": "repair", **body},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_sniffing_and_safe_names() -> None:
    assert [sniff_content_type(x) for x in (PNG, PDF, HEIC, WEBP, b"\xff\xd8\xff\xe0", b"hello")] == [
        "image/png",
        "application/pdf",
        "image/heic",
        "image/webp",
        "image/jpeg",
        None,
    ]
    assert safe_file_name("../../etc/pass wd.pdf") == "pass_wd.pdf"
    assert safe_file_name("C:\\x\\reçu été.png") == "re_u_t_.png"
    assert safe_file_name("...") == "file" and safe_file_name(None) == "file"


def test_events_and_history(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_home, make_device
) -> None:
    user = make_user()
    device = make_device(user, make_home(user))
    old = _event(
        client,
        user,
        device,
        event_date=days(-30),
        description="Compressor",
        technician="ACME",
        cost=250,
        warranty_covered=True,
        parts_replaced=[{"name": "Relay"}],
        notes="noisy",
    )
    assert (
        old["event_type"],
        old["cost"],
        old["warranty_covered"],
        old["parts_replaced"],
        old["user_id"],
    ) == ("repair", "250.00", True, [{"name": "Relay"}], str(user.id))
    mid = _event(client, user, device, event_type="inspection", event_date=days(-10))
    new_a = _event(client, user, device, event_type="cleaning")
    new_b = _event(client, user, device, event_type="installation")
    url = f"/api/v1/devices/{device['id']}/history"
    page1 = client.get(f"{url}?limit=2", headers=user.headers).json()
    page2 = client.get(f"{url}?limit=2&cursor={page1['next_cursor']}", headers=user.headers).json()
    ids = [e["id"] for e in page1["items"] + page2["items"]]
    assert ids == [new_b["id"], new_a["id"], mid["id"], old["id"]]  # newest date first, then newest created
    assert page2["next_cursor"] is None
    assert_problem(client.get(f"{url}?cursor=garbage", headers=user.headers), 400, "invalid_cursor")
    assert client.get(f"/api/v1/service-events/{old['id']}", headers=user.headers).json()["notes"] == "noisy"

    create = f"/api/v1/devices/{device['id']}/service-events"
    for bad in (
        {"event_type": "exorcism"},
        {"event_type": "repair", "event_date": days(2)},
        {"event_type": "repair", "cost": -1},
        {"event_type": "repair", "user_id": str(user.id)},
    ):
        assert_problem(client.post(create, json=bad, headers=user.headers), 422)
    assert len(client.get(url, headers=user.headers).json()["items"]) == 4


def test_attachments(  # type: ignore[no-untyped-def]
    client: TestClient, make_user, make_home, make_device, add_member
) -> None:
    owner, guest, stranger = make_user(), make_user(), make_user()
    home = make_home(owner)
    add_member(owner, home, guest, "guest")
    device = make_device(owner, home)
    ev = _event(client, owner, device)
    url = f"/api/v1/service-events/{ev['id']}/attachments"
    r = client.post(url, files={"file": ("receipt June.pdf", PDF, "application/pdf")}, headers=owner.headers)
    assert r.status_code == 201, r.text
    r = client.post(
        url, files={"file": ("photo.heic", HEIC, "application/octet-stream")}, headers=owner.headers
    )
    attachments = r.json()["attachments"]
    assert [(a["index"], a["file_name"], a["content_type"], a["size"]) for a in attachments] == [
        (0, "receipt June.pdf", "application/pdf", len(PDF)),
        (1, "photo.heic", "image/heic", len(HEIC)),
    ]
    # Refused: wrong type (whatever the client claims), too large, a guest, another household.
    assert_problem(
        client.post(url, files={"file": ("x.png", b"<html>", "image/png")}, headers=owner.headers),
        415,
        "unsupported_media_type",
    )
    big = PNG + b"\x00" * MAX_ATTACHMENT_BYTES
    assert_problem(
        client.post(url, files={"file": ("big.png", big, "image/png")}, headers=owner.headers), 413
    )
    assert_problem(client.post(url, files={"file": ("p.png", PNG, "image/png")}, headers=guest.headers), 403)
    assert_problem(
        client.post(url, files={"file": ("p.png", PNG, "image/png")}, headers=stranger.headers), 404
    )
    assert (
        len(client.get(f"/api/v1/service-events/{ev['id']}", headers=owner.headers).json()["attachments"])
        == 2
    )

    # Download: a signed URL (guests read too) that serves the stored bytes.
    dl = client.get(f"{url}/0/download", headers=guest.headers)
    assert dl.status_code == 200, dl.text
    assert dl.json()["expires_in"] == 900
    signed = urlsplit(dl.json()["url"])
    assert f"/api/v1/files/service-events/{home['id']}/{ev['id']}/" in signed.path
    assert signed.path.endswith("-receipt_June.pdf")
    file = client.get(f"{signed.path}?{signed.query}")
    assert file.status_code == 200 and file.content == PDF
    assert file.headers["content-type"].startswith("application/pdf")
    assert_problem(client.get(f"{url}/5/download", headers=owner.headers), 404, "attachment_not_found")
    assert_problem(client.get(f"{url}/0/download", headers=stranger.headers), 404, "service_event_not_found")


def test_other_households_cannot_see_events(
    client: TestClient,
    make_user,
    make_home,
    make_device,  # type: ignore[no-untyped-def]
    app_conn,
) -> None:
    owner, stranger = make_user(), make_user()
    device = make_device(owner, make_home(owner))
    ev = _event(client, owner, device)
    assert_problem(client.get(f"/api/v1/service-events/{ev['id']}", headers=stranger.headers), 404)
    assert_problem(client.get(f"/api/v1/devices/{device['id']}/history", headers=stranger.headers), 404)
    assert_problem(
        client.post(
            f"/api/v1/devices/{device['id']}/service-events",
            json={"event_type": "repair"},
            headers=stranger.headers,
        ),
        404,
    )
    assert_problem(client.get(f"/api/v1/service-events/{uuid.uuid4()}", headers=owner.headers), 404)
    with app_conn.transaction():
        as_user(app_conn, stranger.id)
        assert (
            app_conn.execute(
                "SELECT count(*) FROM service_events WHERE device_id = %s", (device["id"],)
            ).fetchone()[0]
            == 0
        )
        assert app_conn.execute("UPDATE service_events SET cost = 0 WHERE id = %s", (ev["id"],)).rowcount == 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
        as_user(app_conn, stranger.id)
        app_conn.execute(
            "INSERT INTO service_events (device_id, home_id, event_type, event_date) "
            "VALUES (%s, %s, 'repair', current_date)",
            (device["id"], device["home_id"]),
        )

"""Links the API hands out (signed downloads, the calendar feed) point where the client reached the server when
HOMEOPS_PUBLIC_BASE_URL is unset — not at 127.0.0.1:8000 — and proxy headers count only from trusted proxies."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from homeops.core import urls
from homeops.core.config import Settings
from tests.conftest import ApiUser, live_session

PDF = b"%PDF-1.4\n%receipt\n"
OTHER = "http://homeops.lan:8123"  # another host and port than the test client's http://testserver


@pytest.fixture
def attachment(client: TestClient, make_user, make_home, make_device) -> Iterator[tuple[ApiUser, str]]:  # type: ignore[no-untyped-def]
    user = make_user()
    device = make_device(user, make_home(user))
    ev = client.post(
        f"/api/v1/devices/{device['id']}/service-events", json={"event_type": "repair"}, headers=user.headers
    ).json()
    url = f"/api/v1/service-events/{ev['id']}/attachments"
    r = client.post(url, files={"file": ("receipt.pdf", PDF, "application/pdf")}, headers=user.headers)
    assert r.status_code == 201, r.text
    yield user, f"{url}/0/download"


def _download_url(client: TestClient, user: ApiUser, path: str, **kwargs: object) -> str:
    r = client.get(path, headers={**user.headers, **kwargs.pop("headers", {})}, **kwargs)  # type: ignore[arg-type]
    assert r.status_code == 200, r.text
    return str(r.json()["url"])


def _calendar_url(client: TestClient, user: ApiUser, base: str = "", **headers: str) -> str:
    r = client.post(f"{base}/api/v1/calendar/token", headers={**user.headers, **headers})
    assert r.status_code == 201, r.text
    return str(r.json()["url"])


def test_links_follow_the_address_the_client_used(client: TestClient, attachment, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert settings.public_base_url is None
    user, download = attachment
    # The test client's own base URL…
    first = _download_url(client, user, download)
    assert first.startswith("http://testserver/api/v1/files/service-events/")
    assert _calendar_url(client, user).startswith("http://testserver/api/v1/calendar/")
    # …and another host and port: each client gets links that work for it.
    second = _download_url(client, user, OTHER + download)
    assert second.startswith(f"{OTHER}/api/v1/files/service-events/")
    calendar = _calendar_url(client, user, OTHER)
    assert calendar.startswith(f"{OTHER}/api/v1/calendar/") and calendar.endswith(".ics")
    # The links work (the signature does not cover the host).
    signed = urlsplit(second)
    assert client.get(f"{signed.path}?{signed.query}").content == PDF
    assert client.get(urlsplit(calendar).path).status_code == 200


def test_a_configured_public_url_wins(  # type: ignore[no-untyped-def]
    client: TestClient, attachment, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "public_base_url", "https://homeops.example.org/")
    user, download = attachment
    assert _calendar_url(client, user, OTHER).startswith("https://homeops.example.org/api/v1/calendar/")
    # Local storage was built with no fixed base (the setting was unset at start-up): the request's origin.
    assert _download_url(client, user, download).startswith("http://testserver/")


def test_proxy_headers_count_only_from_trusted_proxies(  # type: ignore[no-untyped-def]
    client: TestClient, attachment, settings: Settings, monkeypatch: pytest.MonkeyPatch, owner_conn
) -> None:
    user, download = attachment
    forwarded = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "homes.example.com",
        "X-Forwarded-For": "192.0.2.99",
    }
    # Not configured: the headers are ignored (anyone can send them).
    assert _calendar_url(client, user, **forwarded).startswith("http://testserver/")
    assert _download_url(client, user, download, headers=forwarded).startswith("http://testserver/")
    # The test client's address (203.0.113.7) configured as a proxy: believed.
    monkeypatch.setattr(settings, "trusted_proxies", "203.0.113.0/24, 10.0.0.1")
    assert _calendar_url(client, user, **forwarded).startswith("https://homes.example.com/api/v1/calendar/")
    assert _download_url(client, user, download, headers=forwarded).startswith("https://homes.example.com/")
    # …and the client address behind it is the one sign-in throttling and the audit see.
    r = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}, headers=forwarded
    )
    assert r.status_code == 200
    ip = owner_conn.execute(
        "SELECT host(ip_address) FROM user_sessions WHERE id = %s", (live_session(user.id),)
    ).fetchone()[0]
    assert ip == "192.0.2.99"


def test_resolve() -> None:
    def origin(
        headers: dict[bytes, bytes], trusted: str = "", client: str = "10.0.0.1", server=("10.0.0.5", 8000)
    ):  # type: ignore[no-untyped-def]
        scope = {"scheme": "http", "client": (client, 1234), "server": server, "root_path": ""}
        return urls.resolve(scope, headers, trusted)

    assert origin({b"host": b"example.org:8080"}).base_url == "http://example.org:8080"
    assert origin({b"host": b"example.org:80"}).base_url == "http://example.org"
    assert origin({}).base_url == "http://10.0.0.5:8000"  # no Host: the socket
    assert origin({b"host": b"bad host/<x>"}).base_url == "http://10.0.0.5:8000"  # not a host: the socket
    assert origin({b"host": b"[::1]:9000"}).base_url == "http://[::1]:9000"
    assert origin({b"host": b"evil.example"}).server_base_url == "http://10.0.0.5:8000"  # e-mails: never Host
    chain = {b"x-forwarded-for": b"198.51.100.1, 203.0.113.50, 10.0.0.2", b"host": b"a.example"}
    assert origin(chain).client_ip == "10.0.0.1"  # untrusted peer: its own address
    # Trusted peer and trusted hop 10.0.0.2: the client is the right-most untrusted address.
    assert origin(chain, "10.0.0.0/24").client_ip == "203.0.113.50"
    assert origin({b"x-forwarded-for": b"nonsense"}, "10.0.0.0/24").client_ip == "10.0.0.1"
    assert origin({b"x-forwarded-proto": b"gopher"}, "10.0.0.0/24").base_url.startswith("http://")
    assert urls.public_base_url() == urls.DEFAULT_BASE_URL  # outside a request

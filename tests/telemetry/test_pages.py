"""The telemetry pages over HTTP, as a browser without scripts uses them: points ingested with a token show on
the home's "Energy & sensors" dashboard and on the device page (each chart with the table of its values), ingest
tokens are created (shown once), listed without their secret, rotated and revoked from the pages; another
household gets 404, a guest manages nothing, forms without a valid CSRF token write nothing."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.conftest import ApiUser
from tests.telemetry.conftest import Household, device_token, hour, invite_guest, iso, rollup, run_jobs, send
from tests.web.conftest import Browser, browser, csrf_of  # noqa: F401  (fixture)

_TOKEN_RE = re.compile(r'id="new-token" type="text" readonly value="(hit_[^"]+)"')


def _fill(client: TestClient, h: Household, make_worker: Any) -> datetime:
    """Temperatures every 10 minutes for 4 hours and an energy meter for the first device, rolled up and
    scored; returns the first hour."""
    dev = h.devices[0]
    token = device_token(client, h, dev)
    base = hour(datetime.now(UTC)) - timedelta(hours=5)
    points = [
        {"metric": "temperature", "ts": iso(base + timedelta(minutes=10 * i)), "value": 20 + i / 4}
        for i in range(24)
    ]
    points.append({"metric": "humidity", "ts": iso(base), "value": 41.5})
    assert send(client, token, "telemetry", points).status_code == 200
    readings = [
        {"ts": iso(base + timedelta(minutes=30 * i)), "energy_kwh": 1000 + i * 0.25} for i in range(9)
    ]
    assert send(client, token, "energy", readings).status_code == 200
    rollup(make_worker)
    run_jobs(make_worker, "telemetry.health")
    return base


def _new_token(html: str) -> str:
    found = _TOKEN_RE.search(html)
    assert found, "the page does not show the new token"
    return found.group(1)


def _tokens(owner_conn: psycopg.Connection, home_id: str) -> list[tuple[Any, ...]]:
    return owner_conn.execute(
        "SELECT id, device_id, name, revoked_at FROM ingest_tokens WHERE home_id = %s ORDER BY created_at",
        (home_id,),
    ).fetchall()


def test_the_dashboard_and_the_device_page_show_what_was_ingested(
    browser: Browser,  # noqa: F811
    client: TestClient,
    household: Callable[..., Household],
    make_worker: Any,
) -> None:
    h = household(devices=2)
    _fill(client, h, make_worker)
    browser.sign_in(h.user)

    r = browser.get(f"/homes/{h.home_id}/telemetry")
    assert r.status_code == 200, r.text
    page = r.text
    assert "<h1>Energy & sensors</h1>" in page
    # The charts: uPlot from the installed package, our script, the data beside each chart — and the tables.
    assert "/static/uplot/uPlot.iife.js?v=" in page and "/static/telemetry/charts.js?v=" in page
    for chart in ("energy-chart", "temperature-chart"):
        assert f'id="{chart}" data-chart' in page and f'id="{chart}-data"' in page
    assert "https://" not in page.split("<main", 1)[1].split("</main>", 1)[0]  # no CDN
    # Temperatures: 15-minute averages of the last 24 h (20.0 and 20.25 → 20.1; 25.75 is the newest).
    assert "15-minute averages" in page
    assert '<td class="num">20.1</td>' in page and '<td class="num">25.8</td>' in page
    # Energy: 8 half-hours of 0.25 kWh = 2 kWh in the week, per day and device.
    assert "2.00 kWh from" in page and "Sensor 0" in page
    # Device health with its factors.
    assert 'aria-label="Health of Sensor 0"' in page and "Reporting: 100%" in page
    assert "Errors (24 h): 100%" in page and "Not scored yet" in page  # Sensor 1 never reported

    # The ranges read the raw points, the hourly or the daily statistics.
    for range_, label in (
        ("7d", "hourly averages, from the hourly statistics"),
        ("30d", "6-hour averages"),
        ("1y", "daily averages, from the daily statistics"),
        ("nonsense", "15-minute averages"),
    ):
        r = browser.get(f"/homes/{h.home_id}/telemetry?range={range_}")
        assert r.status_code == 200 and label in r.text, range_

    device = f"/devices/{h.devices[0]['id']}"
    r = browser.get(device)
    assert r.status_code == 200
    page = r.text
    assert 'id="telemetry"' in page and 'id="device-chart" data-chart' in page
    assert "every reading" in page and '<td class="num">25.75</td>' in page  # raw points, newest
    assert ">Temperature<" in page and ">Humidity<" in page
    r = browser.get(f"{device}?metric=humidity&range=7d")
    assert "hourly averages" in r.text and '<td class="num">41.5</td>' in r.text
    r = browser.get(f"{device}?metric=temperature&range=1y")
    assert "daily averages" in r.text
    r = browser.get(f"{device}?metric=no-such-metric")  # an unknown metric: the first one is shown
    assert r.status_code == 200 and 'id="device-chart-data"' in r.text

    # A device that never reported says so; the home page has the summary and the tokens.
    r = browser.get(f"/devices/{h.devices[1]['id']}")
    assert "No readings yet" in r.text and "device-chart" not in r.text
    r = browser.get(f"/homes/{h.home_id}")
    assert 'id="energy-sensors"' in r.text and f'href="/homes/{h.home_id}/telemetry"' in r.text
    assert 'id="ingest-tokens"' in r.text and "Device: Sensor 0" in r.text

    # uPlot's files are served by the app from the package.
    r = client.get("/static/uplot/uPlot.iife.js")
    assert r.status_code == 200 and "uPlot" in r.text[:400]
    assert client.get("/static/uplot/uPlot.min.css").status_code == 200


def test_tokens_are_created_shown_once_rotated_and_revoked(
    browser: Browser,  # noqa: F811
    client: TestClient,
    household: Callable[..., Household],
    owner_conn: psycopg.Connection,
) -> None:
    h = household()
    browser.sign_in(h.user)
    device = f"/devices/{h.devices[0]['id']}"
    point = [{"metric": "temperature", "ts": iso(datetime.now(UTC) - timedelta(minutes=1)), "value": 21.0}]

    r = browser.post_form(device, f"{device}/ingest-tokens", {"name": "Porch sensor"})
    assert r.status_code == 200, r.text
    secret = _new_token(r.text)
    assert "it is shown only once" in r.text and 'data-copy="#new-token"' in r.text
    assert r.headers["cache-control"] == "no-store"
    assert send(client, secret, "telemetry", point).status_code == 200
    # Listed afterwards without the secret (its first characters tell it apart).
    page = browser.get(device).text
    assert "Porch sensor" in page and secret not in page and secret[:10] + "…" in page
    [(token_id, device_id, name, revoked)] = _tokens(owner_conn, h.home_id)
    assert str(device_id) == h.devices[0]["id"] and name == "Porch sensor" and revoked is None

    # Rotating shows the new secret once; the old one stops working.
    r = browser.post_form(device, f"/ingest-tokens/{token_id}/rotate", {})
    assert r.status_code == 200, r.text
    rotated = _new_token(r.text)
    assert rotated != secret
    assert send(client, secret, "telemetry", point).status_code == 401
    assert send(client, rotated, "telemetry", point).status_code == 200

    # Revoking goes back to where it was asked from (a local path only).
    r = browser.post_form(device, f"/ingest-tokens/{token_id}/revoke", {"next": f"{device}#ingest-tokens"})
    assert r.status_code == 303 and r.headers["location"] == f"{device}#ingest-tokens"
    assert send(client, rotated, "telemetry", point).status_code == 401
    page = browser.get(device).text
    assert "1 revoked token is not listed." in page and "Porch sensor" not in page
    r = browser.post_form(device, f"/ingest-tokens/{token_id}/revoke", {"next": "https://evil.example/"})
    assert r.status_code == 404  # already revoked
    [(_id, _dev, _name, revoked)] = _tokens(owner_conn, h.home_id)
    assert revoked is not None

    # A home token, from the home's token page; a bad name is a clear 422 and writes nothing.
    tokens_page = f"/homes/{h.home_id}/ingest-tokens"
    r = browser.post_form(tokens_page, tokens_page, {"name": "x" * 101})
    assert r.status_code == 422 and 'aria-invalid="true"' in r.text
    assert len(_tokens(owner_conn, h.home_id)) == 1
    r = browser.post_form(f"/homes/{h.home_id}", tokens_page, {"name": "Zigbee hub"})
    assert r.status_code == 200
    hub = _new_token(r.text)
    assert "Any device of the home" in r.text
    item = {"device_id": h.devices[0]["id"], **point[0], "ts": iso(datetime.now(UTC))}
    assert send(client, hub, "telemetry", [item]).status_code == 200
    assert hub not in browser.get(f"/homes/{h.home_id}").text
    [_device_token, (hub_id, hub_device, _n, _r)] = _tokens(owner_conn, h.home_id)
    assert hub_device is None
    r = browser.post_form(tokens_page, f"/ingest-tokens/{hub_id}/rotate", {})
    assert r.status_code == 200 and _new_token(r.text) != hub and "<h1>Ingest tokens</h1>" in r.text


def test_another_household_gets_404_and_changes_nothing(
    browser: Browser,  # noqa: F811
    client: TestClient,
    household: Callable[..., Household],
    make_user: Callable[..., ApiUser],
    owner_conn: psycopg.Connection,
) -> None:
    h = household()
    secret = device_token(client, h, h.devices[0])
    [(token_id, *_rest)] = _tokens(owner_conn, h.home_id)
    mallory = make_user("mallory")
    browser.sign_in(mallory)
    device = f"/devices/{h.devices[0]['id']}"
    for url in (f"/homes/{h.home_id}/telemetry", f"/homes/{h.home_id}/ingest-tokens", device):
        r = browser.get(url)
        assert r.status_code == 404, url
        assert "<html" in r.text and secret[:10] not in r.text
    for action in (
        f"{device}/ingest-tokens",
        f"/homes/{h.home_id}/ingest-tokens",
        f"/ingest-tokens/{token_id}/rotate",
        f"/ingest-tokens/{token_id}/revoke",
        f"/ingest-tokens/{uuid.uuid4()}/revoke",
    ):
        r = browser.post_form("/", action, {"name": "stolen"})
        assert r.status_code == 404, action
    assert [(t[0], t[3]) for t in _tokens(owner_conn, h.home_id)] == [(token_id, None)]
    point = [{"metric": "temperature", "ts": iso(datetime.now(UTC)), "value": 1.0}]
    assert send(client, secret, "telemetry", point).status_code == 200  # the token still works


def test_a_guest_sees_the_readings_but_manages_no_token(
    browser: Browser,  # noqa: F811
    client: TestClient,
    household: Callable[..., Household],
    make_user: Callable[..., ApiUser],
    make_worker: Any,
    owner_conn: psycopg.Connection,
) -> None:
    h = household()
    _fill(client, h, make_worker)
    guest = invite_guest(client, h, make_user)
    [(token_id, *_rest)] = _tokens(owner_conn, h.home_id)
    browser.sign_in(guest)
    device = f"/devices/{h.devices[0]['id']}"
    dashboard = browser.get(f"/homes/{h.home_id}/telemetry").text
    assert 'id="temperature-chart"' in dashboard and "/ingest-tokens" not in dashboard
    for url in (device, f"/homes/{h.home_id}"):
        page = browser.get(url).text
        assert 'id="ingest-tokens"' not in page and "Create token" not in page and "/rotate" not in page
    page = browser.get(device).text
    assert 'id="device-chart"' in page
    r = browser.get(f"/homes/{h.home_id}/ingest-tokens")
    assert r.status_code == 200 and "Only members of this home manage its ingest tokens." in r.text
    # Forcing the forms anyway: refused, nothing written.
    for action in (f"{device}/ingest-tokens", f"/homes/{h.home_id}/ingest-tokens"):
        r = browser.post_form(device, action, {"name": "guest token"})
        assert r.status_code == 403, action
        assert "Your role in this home does not allow this." in r.text
    for action in (f"/ingest-tokens/{token_id}/rotate", f"/ingest-tokens/{token_id}/revoke"):
        r = browser.post_form(device, action, {})
        assert r.status_code == 404, action  # a guest does not even see the home's tokens
    tokens = _tokens(owner_conn, h.home_id)
    assert len(tokens) == 1 and tokens[0][3] is None


def test_token_forms_need_the_csrf_token_and_this_site(
    browser: Browser,  # noqa: F811
    household: Callable[..., Household],
    owner_conn: psycopg.Connection,
) -> None:
    h = household()
    browser.sign_in(h.user)
    device = f"/devices/{h.devices[0]['id']}"
    token = csrf_of(browser.get(device).text)
    r = browser.client.post(f"{device}/ingest-tokens", data={"name": "no csrf"}, follow_redirects=False)
    assert r.status_code == 403 and "The form expired" in r.text
    r = browser.client.post(
        f"{device}/ingest-tokens", data={"name": "forged", "csrf_token": "x" * 43}, follow_redirects=False
    )
    assert r.status_code == 403
    r = browser.client.post(
        f"/homes/{h.home_id}/ingest-tokens",
        data={"name": "cross-site", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert _tokens(owner_conn, h.home_id) == []
    r = browser.client.post(
        f"{device}/ingest-tokens", data={"name": "fine", "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 200 and len(_tokens(owner_conn, h.home_id)) == 1

"""The device's records on the device page, as a browser without scripts uses it: the current state in the
Readings panel, the error log (newest first, severity as text, a minimum-severity filter, "Older" keyset pages)
and the newest connectivity samples; another household gets 404 and sees none of it, a guest reads it all. Then
the same page in a real browser (Chromium), with screenshots at desktop and phone widths, English and Arabic."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from homeops.telemetry.pages import ERROR_LOG_ROWS as ROWS
from tests.conftest import TEST_PASSWORD, ApiUser
from tests.telemetry.conftest import Household, device_token, invite_guest, iso, send
from tests.web.conftest import (  # noqa: F401  (fixtures)
    DESKTOP,
    PHONE,
    Browser,
    LiveServer,
    axe_check,
    browser,
    chromium,
    context,
    live_server,
    shoot,
    sign_in_page,
)

SEVERITIES = ("debug", "info", "warning", "error", "critical")
ERRORS = 30  # three pages of the device page (ROWS = 10)
_CODE_RE = re.compile(r'<code class="error-code"><bdi>([^<]*)</bdi></code>')
_OLDER_RE = re.compile(r'<a href="([^"]*)#error-log" data-swap="#error-log" rel="next">Older entries</a>')
_SAMPLE_RE = re.compile(r'<tr>\s*<th scope="row"><time datetime="([^"]+)">')


def _fill(client: TestClient, h: Household) -> dict[str, Any]:
    """Temperatures, states (off, then heating twice), ``ERRORS`` error log entries a minute apart (severities in turn) and
    connectivity samples (four in the last hours, one two days old) for the first device."""
    token = device_token(client, h, h.devices[0])
    now = datetime.now(UTC).replace(microsecond=0)
    states = [
        {"ts": iso(now - timedelta(hours=3)), "state": "off"},
        {"ts": iso(now - timedelta(hours=2)), "state": "heating"},
        {"ts": iso(now - timedelta(hours=1)), "state": "heating", "attributes": {"target": 21}},
    ]
    assert send(client, token, "states", states).status_code == 200
    points = [
        {"metric": "temperature", "ts": iso(now - timedelta(minutes=20 * i)), "value": 21 + i / 10}
        for i in range(9)
    ]
    assert send(client, token, "telemetry", points).status_code == 200
    base = now - timedelta(hours=2)
    errors = [
        {
            "ts": iso(base + timedelta(minutes=i)),
            "code": f"E{i:02d}",
            "severity": SEVERITIES[i % 5],
            **({"message": f"Fault <b>{i}</b>"} if i % 4 else {}),
            **({"context": {"sensor": "t1", "value": i}} if i == ERRORS - 1 else {}),
        }
        for i in range(ERRORS)
    ]
    assert send(client, token, "errors", errors).status_code == 200
    samples = [
        {
            "ts": iso(now - timedelta(minutes=30 * i)),
            "rssi_dbm": -60 - i,
            "latency_ms": 20.5 + i,
            "packet_loss_pct": 0.5 * i,
            "connected": i != 2,
        }
        for i in range(4)
    ] + [{"ts": iso(now - timedelta(days=2)), "rssi_dbm": -99, "connected": False}]
    assert send(client, token, "network", samples).status_code == 200
    return {"errors": errors, "samples": samples}


def _codes(page: str) -> list[str]:
    return _CODE_RE.findall(page)


def _older(page: str) -> str | None:
    found = _OLDER_RE.search(page)
    return html.unescape(found.group(1)) if found else None


def _newest_first(errors: list[dict[str, Any]], at_least: str = "debug") -> list[str]:
    kept = [e for e in errors if SEVERITIES.index(e["severity"]) >= SEVERITIES.index(at_least)]
    return [e["code"] for e in reversed(kept)]


def test_the_device_page_shows_the_state_the_error_log_and_connectivity(
    browser: Browser,  # noqa: F811
    client: TestClient,
    household: Callable[..., Household],
) -> None:
    h = household(devices=2)
    filled = _fill(client, h)
    browser.sign_in(h.user)
    device = f"/devices/{h.devices[0]['id']}"
    r = browser.get(device)
    assert r.status_code == 200, r.text
    page = r.text

    # The current state, in the Readings panel, since it changed (not since the newest report).
    readings = page.split('id="telemetry"', 1)[1].split("</section>", 1)[0]
    assert 'id="device-state"' in readings and '<span class="badge badge-info">heating</span>' in readings
    since = (datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)).isoformat()
    assert "since <bdi><time" in readings
    assert re.search(r'since <bdi><time datetime="([^"]+)"', readings).group(1)[:16] == since[:16]  # type: ignore[union-attr]

    # The error log: newest first, one page, the severity as text, the message escaped.
    codes = _newest_first(filled["errors"])
    assert ROWS == 10 and _codes(page) == codes[:ROWS]
    log = page.split('id="error-log"', 1)[1].split("</section>", 1)[0]
    assert (
        '<span class="visually-hidden">Severity: </span><span class="badge badge-danger">Critical</span>'
        in log
    )
    assert '<span class="badge badge-neutral">Debug</span>' in log
    assert "Fault &lt;b&gt;23&lt;/b&gt;" in log and "<b>23</b>" not in log
    assert "No message" in log  # E28, E24, … have none
    assert '<pre class="prewrap" dir="ltr">{\n  "sensor": "t1",' in log  # the context, as JSON
    assert "Newest entries" not in log

    # "Older": the next pages by the cursor the service gave, then none.
    older = _older(page)
    assert older and "error_cursor=" in older
    second = browser.get(older).text
    assert _codes(second) == codes[ROWS : 2 * ROWS] and "Newest entries" in second
    older = _older(second)
    assert older
    third = browser.get(older).text
    assert _codes(third) == codes[2 * ROWS :]
    assert _older(third) is None and "Newest entries" in third
    assert 'id="device-state"' in third and 'id="connectivity"' in third  # the rest of the page is there

    # The filter by minimum severity: links, the chosen one marked, paging within it.
    assert f'href="{device}?min_severity=error#error-log"' in page
    r = browser.get(f"{device}?min_severity=error")
    errors = _newest_first(filled["errors"], "error")
    assert len(errors) == 12 and _codes(r.text) == errors[:ROWS]
    assert (
        'min_severity=error#error-log" data-swap="#error-log" aria-current="true">Errors and above<' in r.text
    )
    older = _older(r.text)
    assert older and "min_severity=error" in older
    assert _codes(browser.get(older).text) == errors[ROWS:]
    r = browser.get(f"{device}?min_severity=critical")
    assert _codes(r.text) == _newest_first(filled["errors"], "critical")[:ROWS]
    assert {"E29", "E24"} <= set(_codes(r.text)) and "E28" not in _codes(r.text)
    r = browser.get(f"{device}?min_severity=fatal")  # not a severity: every entry
    assert r.status_code == 200 and _codes(r.text) == codes[:ROWS]
    # A cursor that is not one the service gave: the first page, saying so.
    r = browser.get(f"{device}?error_cursor=bm90LWEtY3Vyc29y")
    assert r.status_code == 200 and _codes(r.text) == codes[:ROWS]
    assert "This page link is no longer valid; the newest entries are shown." in r.text

    # Connectivity: the samples of the last 24 hours, newest first, only the columns with values.
    net = page.split('id="connectivity"', 1)[1].split("</section>", 1)[0]
    shown = [datetime.fromisoformat(t) for t in _SAMPLE_RE.findall(net)]
    assert shown == [datetime.fromisoformat(s["ts"]) for s in filled["samples"][:4]]
    assert ">Signal (dBm)<" in net and ">Latency (ms)<" in net and ">Packet loss (%)<" in net
    assert ">Link quality<" not in net  # no sample has one
    assert '<td class="num"><bdi dir="ltr">-61</bdi></td>' in net and ">21.5</bdi></td>" in net
    assert ">1.5</bdi></td>" in net and ">Online<" in net
    assert net.count('<span class="badge badge-success">Yes</span>') == 3
    assert net.count('<span class="badge badge-danger">No</span>') == 1
    assert "-99" not in net  # two days old

    # A device without records: empty states, no state line.
    other = browser.get(f"/devices/{h.devices[1]['id']}").text
    assert 'id="device-state"' not in other
    assert "No errors logged" in other and "No connectivity samples" in other
    assert (
        "No entries at this severity" in browser.get(f"/devices/{h.devices[1]['id']}?min_severity=error").text
    )


def test_another_household_gets_404_and_a_guest_reads_the_records(
    browser: Browser,  # noqa: F811
    client: TestClient,
    household: Callable[..., Household],
    make_user: Callable[..., ApiUser],
) -> None:
    h = household()
    filled = _fill(client, h)
    device = f"/devices/{h.devices[0]['id']}"
    codes = _newest_first(filled["errors"])

    browser.sign_in(make_user("mallory"))
    for url in (device, f"{device}?min_severity=error", f"{device}?error_cursor=bm90LWEtY3Vyc29y"):
        r = browser.get(url)
        assert r.status_code == 404, url
        assert "<html" in r.text
        assert not _codes(r.text) and "heating" not in r.text and "Fault" not in r.text
        assert 'id="error-log"' not in r.text and 'id="connectivity"' not in r.text

    browser.switch_to(invite_guest(client, h, make_user))
    page = browser.get(device).text
    assert '<span class="badge badge-info">heating</span>' in page
    assert _codes(page) == codes[:ROWS] and 'id="connectivity"' in page and '<bdi dir="ltr">-61</bdi>' in page
    older = _older(page)
    assert older and _codes(browser.get(older).text) == codes[ROWS : 2 * ROWS]
    assert 'id="ingest-tokens"' not in page  # a guest still manages no token


# --- in a real browser ------------------------------------------------------------------------------------------
def _fits_at_phone_width(page: Any) -> None:
    """At 390 px the connectivity table and the error log need no sideways scrolling."""
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(150)
    for box in ("#connectivity .table-wrap", "#error-log"):
        wide, room = page.evaluate(
            f"() => [document.querySelector('{box}').scrollWidth, document.querySelector('{box}').clientWidth]"
        )
        assert wide <= room, (box, wide, room)
    page.set_viewport_size(DESKTOP)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_device_records_in_a_browser_at_desktop_and_phone_widths(
    chromium: Any,  # noqa: F811
    context: Any,  # noqa: F811
    live_server: LiveServer,  # noqa: F811
    client: TestClient,
    household: Callable[..., Household],
) -> None:
    from playwright.sync_api import expect

    h = household(tag="records")
    _fill(client, h)
    device = f"/devices/{h.devices[0]['id']}"
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "favicon.ico" not in msg.text and "404 (Not Found)" not in msg.text
            else None
        ),
    )
    sign_in_page(page, h.user.email)
    page.goto(device)
    expect(page.locator("#device-state")).to_contain_text("heating")
    log = page.locator("#error-log")
    expect(log.locator(".error-code").first).to_have_text("E29")
    expect(log.locator(".error-code")).to_have_count(ROWS)
    expect(page.locator("#connectivity tbody tr")).to_have_count(4)
    axe_check(page, "device page with records")
    page.locator("#error-log").scroll_into_view_if_needed()
    shoot(page, "telemetry-device-records", settle_ms=150)
    _fits_at_phone_width(page)

    # With scripts, the filter and "Older" replace the error log in place (and the address follows).
    log.get_by_role("link", name="Errors and above").click()
    expect(log.get_by_role("link", name="Errors and above")).to_have_attribute("aria-current", "true")
    expect(log.locator(".error-code").first).to_have_text("E29")
    expect(log.locator(".error-code").nth(1)).to_have_text("E28")
    expect(log.locator(".error-code").nth(2)).to_have_text("E24")
    assert "min_severity=error" in page.url
    log.get_by_role("link", name="Older entries").click()
    expect(log.locator(".error-code")).to_have_count(2)
    expect(log.locator(".error-code").first).to_have_text("E04")
    assert "error_cursor=" in page.url and "min_severity=error" in page.url
    log.get_by_role("link", name="All").click()
    expect(log.locator(".error-code")).to_have_count(ROWS)
    log.get_by_role("link", name="Older entries").click()
    expect(log.locator(".error-code").first).to_have_text("E19")
    expect(log.get_by_role("link", name="Newest entries")).to_be_visible()
    assert "error_cursor=" in page.url
    assert not errors, errors

    # Right to left (Arabic), at phone width too.
    ar = chromium.new_context(base_url=live_server.url, viewport=DESKTOP, locale="ar")
    try:
        rtl = ar.new_page()
        rtl.goto("/sign-in")
        rtl.locator("input[name=email]").fill(h.user.email)
        rtl.locator("input[name=password]").fill(TEST_PASSWORD)
        rtl.locator("form[action='/sign-in'] button[type=submit]").click()
        rtl.wait_for_url(re.compile(r"/(\?.*)?$"))
        rtl.goto(device)
        assert rtl.locator("html").get_attribute("dir") == "rtl"
        expect(rtl.locator("#connectivity tbody tr")).to_have_count(4)
        rtl.locator("#error-log").scroll_into_view_if_needed()
        shoot(rtl, "telemetry-device-records-ar", settle_ms=150)
        _fits_at_phone_width(rtl)
    finally:
        ar.close()


def test_a_platform_admin_outside_the_home_sees_the_device_page_without_its_records(
    browser: Browser,  # noqa: F811
    client: TestClient,
    household: Callable[..., Household],
    make_staff: Callable[[str], ApiUser],
) -> None:
    """Telemetry is the household's (``telemetry.access``): an admin who is not in the home gets the device page
    without the telemetry panel, not a 404 and not the records."""
    h = household()
    _fill(client, h)
    browser.sign_in(make_staff("admin"))
    r = browser.get(f"/devices/{h.devices[0]['id']}")
    assert r.status_code == 200, r.text
    assert 'id="telemetry"' not in r.text and 'id="error-log"' not in r.text and not _codes(r.text)
    assert "heating" not in r.text and 'id="connectivity"' not in r.text

"""Issue 11, the chat page in real time: the page's script (``/static/marketplace/chat.js``) opens the project's
WebSocket with the page's session cookie, so a message sent in one browser appears in the other without a
reload; replies, a photo and "delete for me" in the page. The cookie handshake is refused with a foreign
``Origin`` or without the page's CSRF token (a plain WebSocket client, as a hijacking page's script would be);
the bearer token still works without an ``Origin``. Screenshots: ``test-artifacts/screenshots/marketplace-
chat-live-*``.

Locally without Chromium the browser test skips (see tests/web/conftest.py); the handshake tests run anyway."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import TEST_PASSWORD, ApiUser
from tests.marketplace.conftest import Market
from tests.web.conftest import DESKTOP, LiveServer, axe_check, shoot, sign_in_page

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def market(
    client: TestClient, make_user: Callable[..., ApiUser], make_staff: Callable[[str], ApiUser]
) -> Market:
    return Market(client, make_user, make_staff)


def _signed_in(live: LiveServer, user: ApiUser, chat_path: str) -> tuple[str, str]:
    """Signs ``user`` in on the live server as a browser would: (the Cookie header, the chat page's CSRF)."""
    with httpx.Client(base_url=live.url, follow_redirects=False) as http:
        page = http.get("/sign-in", headers={"Accept": "text/html"})
        token = _CSRF.search(page.text)
        assert token
        r = http.post(
            "/sign-in", data={"csrf_token": token.group(1), "email": user.email, "password": TEST_PASSWORD}
        )
        assert r.status_code == 303, r.text
        chat = http.get(chat_path, headers={"Accept": "text/html"})
        assert chat.status_code == 200
        csrf = re.search(r'data-csrf="([^"]+)"', chat.text) or _CSRF.search(chat.text)
        assert csrf
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        return cookie, csrf.group(1)


def _ws(live: LiveServer, project_id: str) -> str:
    return live.url.replace("http://", "ws://", 1) + f"/api/v1/projects/{project_id}/chat/ws"


async def _handshake(url: str, **kwargs: Any) -> dict[str, Any]:
    async with connect(url, open_timeout=10, **kwargs) as ws:
        ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
        return {"ready": ready, "subprotocol": ws.subprotocol}


def _refused(url: str, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as caught:
        asyncio.run(_handshake(url, **kwargs))
    return int(caught.value.response.status_code)


def test_cookie_handshake_needs_the_apps_origin_and_the_pages_csrf(
    live_server: LiveServer, market: Market
) -> None:
    owner, _pro, project = market.project()
    pid = project["id"]
    cookie, csrf = _signed_in(live_server, owner, f"/market/projects/{pid}/chat")
    url = _ws(live_server, pid)
    own = live_server.url

    # From the app's own page: accepted, answered with the "csrf" subprotocol.
    opened = asyncio.run(
        _handshake(url, origin=own, additional_headers={"Cookie": cookie}, subprotocols=["csrf", csrf])
    )
    assert opened["subprotocol"] == "csrf"
    assert opened["ready"]["type"] == "ready" and opened["ready"]["side"] == "requester"

    # Cross-site WebSocket hijacking: the browser sends the cookie to a foreign page's handshake too.
    assert (
        _refused(
            url,
            origin="https://evil.example",
            additional_headers={"Cookie": cookie},
            subprotocols=["csrf", csrf],
        )
        == 403
    )
    # Another port of the same host is another origin.
    other_port = re.sub(r":\d+$", ":1", own)
    assert (
        _refused(url, origin=other_port, additional_headers={"Cookie": cookie}, subprotocols=["csrf", csrf])
        == 403
    )
    assert (
        _refused(url, origin="null", additional_headers={"Cookie": cookie}, subprotocols=["csrf", csrf])
        == 403
    )
    # No Origin at all (not a browser page): refused for a cookie.
    assert _refused(url, additional_headers={"Cookie": cookie}, subprotocols=["csrf", csrf]) == 403
    # Marked cross-site by the browser.
    assert (
        _refused(
            url,
            origin=own,
            additional_headers={"Cookie": cookie, "Sec-Fetch-Site": "cross-site"},
            subprotocols=["csrf", csrf],
        )
        == 403
    )
    # The right origin without the page's CSRF token, or with a wrong one.
    assert _refused(url, origin=own, additional_headers={"Cookie": cookie}) == 403
    assert (
        _refused(url, origin=own, additional_headers={"Cookie": cookie}, subprotocols=["csrf", "x" * 43])
        == 403
    )
    # Another user's cookie on this project: its row security refuses it.
    stranger = market.make_user("stranger")
    s_cookie, s_csrf = _signed_in(live_server, stranger, "/market")
    assert (
        _refused(url, origin=own, additional_headers={"Cookie": s_cookie}, subprotocols=["csrf", s_csrf])
        == 403
    )

    # The bearer token needs no Origin (it is not sent by the browser on its own).
    opened = asyncio.run(_handshake(url, additional_headers=owner.headers))
    assert opened["ready"]["type"] == "ready" and opened["subprotocol"] is None


def _photo(path: Path) -> Path:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 90, 160)).save(out, format="JPEG")
    path.write_bytes(out.getvalue())
    return path


def test_two_browsers_chat_live(context: Any, other_context: Any, market: Market, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    owner, pro, project = market.project()
    chat_path = f"/market/projects/{project['id']}/chat"

    home = context.new_page()
    home.on("dialog", lambda dialog: dialog.accept())
    sign_in_page(home, owner.email)
    home.goto(chat_path)
    shop = other_context.new_page()
    shop.on("dialog", lambda dialog: dialog.accept())
    sign_in_page(shop, pro.email)
    shop.goto(chat_path)
    # Both pages hold their socket (the script says so).
    expect(home.locator("#chat[data-live='true']")).to_have_count(1)
    expect(shop.locator("#chat[data-live='true']")).to_have_count(1)
    expect(home.get_by_text("Live: new messages appear here")).to_be_visible()
    navigations: list[str] = []
    shop.on(
        "framenavigated", lambda frame: navigations.append(frame.url) if frame == shop.main_frame else None
    )

    # The homeowner sends over the socket; the provider's page shows it without a reload.
    home.get_by_label("Your message").fill("Can you come on Sunday?")
    home.get_by_role("button", name="Send").click()
    expect(home.locator(".chat").get_by_text("Can you come on Sunday?")).to_be_visible()
    expect(home.get_by_label("Your message")).to_have_value("")
    expect(shop.locator(".chat").get_by_text("Can you come on Sunday?")).to_be_visible(timeout=10_000)

    # The provider answers it as a reply; the homeowner sees the reply and its quote, live.
    first = shop.locator(".chat li", has_text="Can you come on Sunday?")
    first.get_by_role("link", name=re.compile("^Reply")).click()
    expect(shop.locator("#reply-banner")).to_be_visible()
    expect(shop.locator("#reply-text")).to_have_text("Can you come on Sunday?")
    shop.get_by_label("Your message").fill("Yes, at 10 in the morning.")
    shop.get_by_role("button", name="Send").click()
    answer = home.locator(".chat li", has_text="Yes, at 10 in the morning.")
    expect(answer).to_be_visible(timeout=10_000)
    expect(answer.locator(".reply-to")).to_contain_text("In reply to You")
    expect(shop.locator("#reply-banner")).to_be_hidden()
    # The homeowner's page read it: the provider's message gets its "Read" mark, live.
    expect(
        shop.locator(".chat li", has_text="Yes, at 10 in the morning.").locator(".read-mark")
    ).to_have_text(re.compile("Read"), timeout=10_000)
    assert navigations == [], navigations  # no reload on the provider's side

    # A photo goes as a form post (the page reloads for its sender); the other side sees it live.
    home.get_by_label("Your message").fill("Here is the leak")
    home.get_by_label("Attach a photo or a PDF (optional)").set_input_files(
        str(_photo(tmp_path / "leak.jpg"))
    )
    home.get_by_role("button", name="Send").click()
    photo = shop.locator(".chat li", has_text="Here is the leak").get_by_role("img", name="leak.jpg")
    expect(photo).to_be_visible(timeout=10_000)
    shop.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=photo.element_handle())
    expect(home.locator("#chat[data-live='true']")).to_have_count(1)
    axe_check(shop, "chat-live")
    shoot(shop, "marketplace-chat-live")

    # Delete for me: gone from the provider's page, still on the homeowner's.
    question = shop.locator(".chat li", has=shop.locator(".text", has_text="Can you come on Sunday?"))
    question.get_by_role("button", name=re.compile("^Delete for me")).click()
    expect(shop.get_by_text("The message was deleted for you.")).to_be_visible()
    expect(shop.locator(".chat .text", has_text="Can you come on Sunday?")).to_have_count(0)
    expect(shop.get_by_text("In reply to a message that is no longer shown.")).to_be_visible()
    home.wait_for_timeout(1000)
    expect(home.locator(".chat .text", has_text="Can you come on Sunday?")).to_be_visible()
    shoot(home, "marketplace-chat-live-homeowner")

    # The same conversation in Arabic (right to left), live again after the language switch.
    home.get_by_label("Language", exact=True).select_option("ar")
    home.wait_for_function("document.documentElement.dir === 'rtl'")
    expect(home.locator("#chat[data-live='true']")).to_have_count(1, timeout=10_000)
    expect(home.locator(".chat .text", has_text="Yes, at 10 in the morning.")).to_be_visible()
    shoot(home, "marketplace-chat-live-homeowner-ar")


def test_without_javascript_the_form_still_posts(
    chromium: Any, live_server: LiveServer, market: Market
) -> None:
    from playwright.sync_api import expect

    owner, _pro, project = market.project()
    ctx = chromium.new_context(
        base_url=live_server.url, viewport=DESKTOP, locale="en-US", java_script_enabled=False
    )
    ctx.set_default_timeout(15_000)
    try:
        page = ctx.new_page()
        sign_in_page(page, owner.email)
        page.goto(f"/market/projects/{project['id']}/chat")
        expect(page.locator("#chat-live")).to_be_hidden()
        page.get_by_label("Your message").fill("Sent without the script")
        page.get_by_role("button", name="Send").click()
        expect(page.locator(".chat").get_by_text("Sent without the script")).to_be_visible()
        page.locator(".chat li", has_text="Sent without the script").get_by_role(
            "link", name=re.compile("^Reply")
        ).click()
        expect(page.locator("#reply-banner")).to_be_visible()
        page.get_by_label("Your message").fill("And a reply")
        page.get_by_role("button", name="Send").click()
        expect(page.locator(".chat li", has_text="And a reply").locator(".reply-to")).to_contain_text(
            "In reply to You"
        )
    finally:
        ctx.close()

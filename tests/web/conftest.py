"""Helpers of the web interface's tests: a cookie-carrying client, sign-in, forms with their CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import TEST_PASSWORD, ApiUser

_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF_RE.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


class Browser:
    """The shared test client as one browser: its cookies are this browser's (cleared between tests)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def get(self, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("headers", {"Accept": "text/html"})
        return self.client.get(url, follow_redirects=kwargs.pop("follow", True), **kwargs)

    def post_form(
        self, page_url: str, action: str, data: dict[str, Any], *, files: Any = None, follow: bool = False
    ) -> Any:
        """Posts ``data`` to ``action`` with the CSRF token of the form on ``page_url`` (as a browser would)."""
        token = csrf_of(self.get(page_url).text)
        return self.client.post(
            action, data={"csrf_token": token, **data}, files=files, follow_redirects=follow
        )

    def sign_in(self, user: ApiUser, password: str = TEST_PASSWORD) -> Any:
        r = self.post_form("/sign-in", "/sign-in", {"email": user.email, "password": password})
        assert r.status_code == 303, r.text
        return r

    def switch_to(self, user: ApiUser) -> Browser:
        """This browser, signed in as ``user`` (whoever was signed in before is forgotten)."""
        self.client.cookies.clear()
        self.sign_in(user)
        return self


@pytest.fixture
def browser(client: TestClient) -> Iterator[Browser]:
    client.cookies.clear()
    try:
        yield Browser(client)
    finally:
        client.cookies.clear()


@pytest.fixture
def signed_in(browser: Browser, make_user: Callable[..., ApiUser]) -> Callable[..., tuple[Browser, ApiUser]]:
    def _make(tag: str = "web") -> tuple[Browser, ApiUser]:
        user = make_user(tag)
        browser.sign_in(user)
        return browser, user

    return _make


# --- a real server and a real browser (tests/web/test_browser.py) ----------------------------------------------
import os
import re as _re
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path

CHROMIUM = os.environ.get("HOMEOPS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@dataclass
class Mailbox:
    """What a local SMTP server (aiosmtpd) received."""

    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def wait_for(self, to: str, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if to in str(message["To"]):
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no e-mail to {to}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    mailbox: Mailbox


@pytest.fixture(scope="module")
def live_server(settings: Any, test_db: Any) -> Iterator[LiveServer]:
    """The app on a real port (uvicorn in a thread) against the test database, with its background worker (manuals
    are processed) and e-mail going to a local SMTP server. Module-scoped: its worker takes queued jobs, which
    other modules' tests run themselves."""
    import uvicorn
    from aiosmtpd.controller import Controller

    from homeops import domains
    from homeops.app import create_app

    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    live_settings = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port})
    runtime = domains.build_runtime(live_settings)
    app = create_app(live_settings, test_db.app, worker_url=test_db.worker, runtime=runtime)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", mailbox)
    finally:
        server.should_exit = True
        thread.join(30)
        smtp.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (Playwright's own browser download is not used). Module-scoped:
    Playwright's sync API keeps an event loop running in this thread while it is started, and the other tests
    run their workers with ``asyncio.run``."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium` (CI does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -e '.[test]'")
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


TOKEN_IN_MAIL = _re.compile(r"\b[0-9]{1,11}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}\b")


# --- what every browser test module shares ---------------------------------------------------------------

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _browser_context(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    ctx = chromium.new_context(base_url=live_server.url, viewport=DESKTOP, locale="en-US")
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def context(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    """A fresh browser context on the live server (English, desktop size)."""
    yield from _browser_context(chromium, live_server)


@pytest.fixture
def other_context(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    """A second, separate browser context (another person at another browser, e.g. the other side of a chat)."""
    yield from _browser_context(chromium, live_server)


def shoot(page: Any, name: str, *, settle_ms: int = 0) -> None:
    """Full-page screenshots at desktop and phone widths (``settle_ms``: let the layout follow the width)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        if settle_ms:
            page.wait_for_timeout(settle_ms)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def axe_check(page: Any, name: str) -> None:
    """axe-core on the page as it is: no serious or critical violations."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: {bad}"


def sign_in_page(page: Any, email: str, password: str = TEST_PASSWORD) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(_re.compile(r"/(\?.*)?$"))

"""Sign-in with a cookie session on the API's ``user_sessions``; CSRF on every form; sign-out ends the session."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from homeops.core.web import PageRoute
from homeops.core.web.security import ANON_COOKIE, SESSION_COOKIE
from tests.conftest import TEST_PASSWORD, ApiUser
from tests.web.conftest import Browser, csrf_of


def _set_cookie_headers(response) -> list[str]:  # type: ignore[no-untyped-def]
    return response.headers.get_list("set-cookie")


def test_sign_in_sets_an_http_only_lax_session_cookie_and_no_token(
    browser: Browser, make_user: Callable[..., ApiUser]
) -> None:
    user = make_user("cookie")
    r = browser.sign_in(user)
    cookies = _set_cookie_headers(r)
    session = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in session and "SameSite=lax" in session and "Path=/" in session
    assert "Secure" not in session  # served over http here
    value = session.split(";")[0].split("=", 1)[1]
    assert user.refresh_token not in " ".join(cookies)
    # The cookie is not an API credential, and the API does not read cookies.
    api = browser.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {value}"})
    assert api.status_code == 401
    assert browser.client.get("/api/v1/users/me").status_code == 401
    assert browser.get("/").status_code == 200


def test_the_cookie_is_secure_over_https(browser: Browser, make_user: Callable[..., ApiUser]) -> None:
    user = make_user("https")
    page = browser.client.get("https://testserver/sign-in")
    token = csrf_of(page.text)
    r = browser.client.post(
        "https://testserver/sign-in",
        data={"csrf_token": token, "email": user.email, "password": TEST_PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    session = next(c for c in _set_cookie_headers(r) if c.startswith(f"{SESSION_COOKIE}="))
    assert "Secure" in session


def test_signed_out_pages_redirect_to_sign_in_and_back(
    browser: Browser, make_user: Callable[..., ApiUser]
) -> None:
    r = browser.get("/devices?status=active", follow=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/sign-in?next=%2Fdevices%3Fstatus%3Dactive"
    user = make_user("next")
    page = browser.get(r.headers["location"])
    r = browser.client.post(
        "/sign-in",
        data={
            "csrf_token": csrf_of(page.text),
            "email": user.email,
            "password": TEST_PASSWORD,
            "next": "/devices",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/devices"


def test_next_never_leaves_the_site(browser: Browser, make_user: Callable[..., ApiUser]) -> None:
    user = make_user("open-redirect")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        page = browser.get("/sign-in")
        r = browser.client.post(
            "/sign-in",
            data={
                "csrf_token": csrf_of(page.text),
                "email": user.email,
                "password": TEST_PASSWORD,
                "next": target,
            },
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/", target
        browser.client.cookies.clear()


def test_wrong_password_shows_the_message_and_counts_towards_throttling(
    browser: Browser, make_user: Callable[..., ApiUser]
) -> None:
    user = make_user("wrong")
    r = browser.post_form("/sign-in", "/sign-in", {"email": user.email, "password": "not-the-password"})
    assert r.status_code == 401
    assert "The email or password is incorrect." in r.text
    assert 'value="' + user.email + '"' in r.text  # what was typed stays
    statuses = []
    for _attempt in range(12):
        r = browser.post_form("/sign-in", "/sign-in", {"email": user.email, "password": "not-the-password"})
        statuses.append(r.status_code)
        if r.status_code == 429:
            break
    assert statuses[-1] == 429, statuses
    assert "Retry-After" in r.headers
    assert "Too many failed sign-in attempts" in r.text


def test_sign_out_ends_the_session_for_a_replayed_cookie(
    browser: Browser, make_user: Callable[..., ApiUser], owner_conn: psycopg.Connection
) -> None:
    user = make_user("signout")
    browser.sign_in(user)
    cookie = browser.client.cookies.get(SESSION_COOKIE)
    assert cookie
    r = browser.post_form("/", "/sign-out", {})
    assert r.status_code == 303 and r.headers["location"] == "/sign-in"
    assert any(c.startswith(f'{SESSION_COOKIE}=""') or "Max-Age=0" in c for c in _set_cookie_headers(r))
    revoked = owner_conn.execute(
        "SELECT count(*) FROM user_sessions WHERE user_id = %s AND revoked_reason = 'logout'", (str(user.id),)
    ).fetchone()
    assert revoked is not None and revoked[0] == 1
    browser.client.cookies.clear()
    browser.client.cookies.set(SESSION_COOKIE, cookie)  # an attacker replaying the old cookie
    r = browser.get("/", follow=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")


def test_register_signs_in_and_keeps_the_language(browser: Browser) -> None:
    email = f"web-{uuid.uuid4().hex[:10]}@example.com"
    page = browser.get("/register", headers={"Accept": "text/html", "Accept-Language": "ar,en;q=0.5"})
    assert '<html lang="ar" dir="rtl">' in page.text
    r = browser.client.post(
        "/register",
        data={
            "csrf_token": csrf_of(page.text),
            "email": email,
            "password": TEST_PASSWORD,
            "full_name": "Noura",
        },
        headers={"Accept-Language": "ar"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/homes"
    me = browser.get("/profile")
    assert me.status_code == 200 and email in me.text
    assert '<html lang="ar" dir="rtl">' in me.text
    taken = browser.client.post(
        "/register",
        data={
            "csrf_token": csrf_of(me.text),
            "email": email,
            "password": TEST_PASSWORD,
            "full_name": "Again",
        },
        follow_redirects=False,
    )
    assert taken.status_code in (303, 409)  # signed in already: sent on; else the problem is shown


def test_register_shows_field_errors_and_writes_nothing(
    browser: Browser, owner_conn: psycopg.Connection
) -> None:
    email = f"short-{uuid.uuid4().hex[:10]}@example.com"
    r = browser.post_form("/register", "/register", {"email": email, "password": "short", "full_name": ""})
    assert r.status_code == 422
    assert 'aria-invalid="true"' in r.text
    assert "Enter at least 10 characters." in r.text
    assert "This field is required." in r.text
    row = owner_conn.execute("SELECT count(*) FROM users WHERE email = %s", (email,)).fetchone()
    assert row is not None and row[0] == 0


# --- CSRF ------------------------------------------------------------------------------------------------------
def test_a_form_without_or_with_a_wrong_token_is_refused_and_changes_nothing(
    signed_in: Callable[..., tuple[Browser, ApiUser]], owner_conn: psycopg.Connection
) -> None:
    browser, _user = signed_in("csrf")
    name = f"CSRF {uuid.uuid4().hex[:6]}"
    for data in ({"name": name}, {"name": name, "csrf_token": "forged"}, {"name": name, "csrf_token": ""}):
        r = browser.client.post("/homes", data=data, follow_redirects=False)
        assert r.status_code == 403, r.text
        assert "The form expired or did not come from this site" in r.text
    # A valid token, but the request comes from another site.
    token = csrf_of(browser.get("/homes").text)
    r = browser.client.post(
        "/homes", data={"name": name, "csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert r.status_code == 403
    r = browser.client.post(
        "/homes", data={"name": name, "csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert r.status_code == 403
    count = owner_conn.execute("SELECT count(*) FROM homes WHERE name = %s", (name,)).fetchone()
    assert count is not None and count[0] == 0
    # The same form with its token goes through.
    r = browser.client.post("/homes", data={"name": name, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303


def test_a_token_is_bound_to_its_session(
    client: TestClient, browser: Browser, make_user: Callable[..., ApiUser]
) -> None:
    alice, bob = make_user("csrf-a"), make_user("csrf-b")
    browser.sign_in(alice)
    alices_token = csrf_of(browser.get("/homes").text)
    browser.client.cookies.clear()
    browser.sign_in(bob)
    r = browser.client.post(
        "/homes", data={"name": "Bound", "csrf_token": alices_token}, follow_redirects=False
    )
    assert r.status_code == 403
    # Signed out, the sign-in form's token is bound to the pre-session cookie.
    browser.client.cookies.clear()
    page = browser.get("/sign-in")
    assert browser.client.cookies.get(ANON_COOKIE)
    browser.client.cookies.set(ANON_COOKIE, "x" * 32)
    r = browser.client.post(
        "/sign-in",
        data={"csrf_token": csrf_of(page.text), "email": alice.email, "password": TEST_PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 403


def test_every_unsafe_page_route_checks_csrf(
    client: TestClient, signed_in: Callable[..., tuple[Browser, ApiUser]]
) -> None:
    browser, _user = signed_in("csrf-all")
    checked = 0
    for route in client.app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, APIRoute) or not isinstance(route, PageRoute):
            continue
        for method in route.methods - {"GET", "HEAD"}:
            path = route.path_format
            for name in route.param_convertors:
                path = path.replace("{" + name + "}", str(uuid.uuid4()))
            r = browser.client.request(method, path, data={"x": "1"}, follow_redirects=False)
            assert r.status_code == 403, (method, path, r.status_code)
            checked += 1
    assert checked >= 30


@pytest.mark.parametrize(
    "path", ["/", "/homes", "/devices", "/troubleshooting", "/notifications", "/profile"]
)
def test_pages_are_not_cached_and_framing_is_denied(
    signed_in: Callable[..., tuple[Browser, ApiUser]], path: str
) -> None:
    browser, _user = signed_in("headers")
    r = browser.get(path)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "script-src 'self'" in r.headers["content-security-policy"]

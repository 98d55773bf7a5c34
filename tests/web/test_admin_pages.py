"""The admin pages over HTTP (users, audit log, system settings): only admins see or use them — a homeowner and a
support user are refused every page and every action, and nothing changes; an admin searches and pages through
the accounts, deactivates one (signed out everywhere, cannot sign in) and reactivates it, filters and pages
through the audit log and opens an entry, and edits settings (a bad value is shown next to the field and nothing
is saved; a good one is saved and audited)."""

from __future__ import annotations

import html as html_lib
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import TEST_PASSWORD, ApiUser, as_user
from tests.web.conftest import Browser, csrf_of

ADMIN_PAGES = ("/admin/users", "/admin/audit", "/admin/settings")


def _errors(text: str) -> list[str]:
    return [html_lib.unescape(e) for e in re.findall(r'class="field-error"[^>]*>([^<]+)<', text)]


def _flash(text: str) -> str:
    found = re.search(r'class="flash flash-\w+">([^<]+)<', text)
    return html_lib.unescape(found.group(1)) if found else ""


def _nav(text: str) -> str:
    found = re.findall(r'<nav class="mainnav".*?</nav>', text, re.DOTALL)
    return found[0] if found else ""


def _setting(client: TestClient, admin: ApiUser, **fields: Any) -> dict[str, Any]:
    body = {
        "setting_key": f"test.admin_pages_{uuid.uuid4().hex[:10]}",
        "setting_type": "number",
        "value": 5,
        "category": "testing",
        "description": "A setting of the admin pages' tests",
        "validation_rules": {"min": 1, "max": 10, "integer": True},
        **fields,
    }
    r = client.post("/api/v1/settings", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    return r.json()


ACCOUNT_CHANGES = ("user_deactivated", "user_reactivated")


def _audit(client: TestClient, admin: ApiUser, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/audit-logs", params={"limit": 200, **params}, headers=admin.headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def _active(owner_conn: psycopg.Connection, user_id: uuid.UUID) -> bool:
    row = owner_conn.execute("SELECT is_active FROM users WHERE id = %s", (user_id,)).fetchone()
    assert row is not None
    return bool(row[0])


def _stored(owner_conn: psycopg.Connection, key: str) -> str | None:
    row = owner_conn.execute(
        "SELECT setting_value FROM system_settings WHERE setting_key = %s", (key,)
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


# --- who may --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["homeowner", "support"])
def test_homeowners_and_support_are_refused_every_admin_page_and_action(
    who: str,
    browser: Browser,
    client: TestClient,
    make_user: Callable[..., ApiUser],
    make_staff: Callable[[str], ApiUser],
    owner_conn: psycopg.Connection,
) -> None:
    admin = make_staff("admin")
    setting = _setting(client, admin)
    target = make_user("target")
    entry = _audit(client, admin, entity_id=setting["id"])[0]
    caller = make_user("caller") if who == "homeowner" else make_staff("support")
    browser.sign_in(caller)
    audited_before = _audit(client, admin, user_id=str(caller.id))

    home = browser.get("/")
    assert home.status_code == 200
    for label in ("Users", "Audit log", "Settings"):
        assert f">{label}<" not in _nav(home.text)
    for url in (
        *ADMIN_PAGES,
        f"/admin/users/{target.id}",
        f"/admin/users?q={target.email}",
        f"/admin/audit/{entry['id']}",
        f"/admin/audit?entity_id={setting['id']}",
    ):
        r = browser.get(url)
        assert r.status_code in (403, 404), (url, r.status_code)
        assert f">{target.email}<" not in r.text and f">{setting['setting_key']}<" not in r.text
    token = csrf_of(home.text)
    for action, data in (
        (f"/admin/users/{target.id}/deactivate", {}),
        (f"/admin/users/{admin.id}/deactivate", {}),
        (f"/admin/users/{target.id}/reactivate", {}),
        (f"/admin/settings/{setting['setting_key']}", {"value": "7"}),
    ):
        r = client.post(action, data={"csrf_token": token, **data}, follow_redirects=False)
        assert r.status_code in (403, 404), (action, r.status_code)

    assert _active(owner_conn, target.id) and _active(owner_conn, admin.id)
    assert _stored(owner_conn, setting["setting_key"]) == "5"
    assert client.get("/api/v1/users/me", headers=target.headers).status_code == 200  # still signed in
    # Each refused write is recorded as refused (the request's audit), and nothing else.
    known = {e["id"] for e in audited_before}
    refused = [e for e in _audit(client, admin, user_id=str(caller.id)) if e["id"] not in known]
    assert sorted(e["action_type"] for e in refused) == [
        "admin_deactivate_user",
        "admin_deactivate_user",
        "admin_reactivate_user",
        "update_setting",
    ]
    assert all(e["response_status"] == 403 and not e["new_values"] for e in refused)
    assert not [
        e for e in _audit(client, admin, entity_id=str(target.id)) if e["action_type"] in ACCOUNT_CHANGES
    ]


def test_signed_out_visitors_are_sent_to_sign_in(browser: Browser) -> None:
    for url in ADMIN_PAGES:
        r = browser.get(url, follow=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/sign-in"), url


def test_only_a_live_admin_may_search_or_change_an_accounts_activation_in_the_database(
    app_conn: psycopg.Connection, make_user: Callable[..., ApiUser], make_staff: Callable[[str], ApiUser]
) -> None:
    """What a bug in the pages could try: the database function checks the caller itself."""
    victim = make_user("victim")
    for caller in (make_user("caller"), make_staff("support")):
        with app_conn.transaction():
            as_user(app_conn, caller.id)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app_conn.execute("SELECT homeops_set_user_active(%s, false)", (victim.id,))
    for caller in (make_user("searcher"), make_staff("support")):  # support reads accounts, not this search
        with app_conn.transaction():
            as_user(app_conn, caller.id)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app_conn.execute("SELECT homeops_admin_find_users('victim', NULL, NULL, NULL, NULL, 10)")
    admin = make_staff("admin")
    with app_conn.transaction():
        as_user(app_conn, admin.id)
        found = app_conn.execute(
            "SELECT homeops_admin_find_users(%s, NULL, NULL, NULL, NULL, 10)", (victim.email,)
        ).fetchall()
        assert found == [(victim.id,)]
    with app_conn.transaction():
        as_user(app_conn, admin.id)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # never their own account
            app_conn.execute("SELECT homeops_set_user_active(%s, false)", (admin.id,))
    with app_conn.transaction():
        as_user(app_conn, admin.id)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # and never the column itself
            app_conn.execute("UPDATE users SET is_active = false WHERE id = %s", (victim.id,))


# --- users --------------------------------------------------------------------------------------------------------
def test_an_admin_searches_and_pages_through_the_accounts(
    browser: Browser, make_staff: Callable[[str], ApiUser], owner_conn: psycopg.Connection
) -> None:
    tag = f"pager{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC) - timedelta(days=1)
    emails = [f"{tag}-{i:02d}@example.com" for i in range(27)]
    with owner_conn.transaction():
        for i, email in enumerate(emails):
            owner_conn.execute(
                "INSERT INTO users (email, full_name, created_at) VALUES (%s, %s, %s)",
                (email, f"Pager Person {i:02d}", start + timedelta(minutes=i)),
            )
    admin = make_staff("admin")
    browser.sign_in(admin)

    first = browser.get(f"/admin/users?q={tag}")
    assert first.status_code == 200
    nav = _nav(first.text)
    assert ">Users<" in nav and ">Audit log<" in nav and ">Settings<" in nav
    shown = re.findall(rf"{tag}-(\d\d)@example.com", first.text)
    assert list(dict.fromkeys(shown)) == [f"{i:02d}" for i in range(26, 1, -1)]  # newest first, 25
    following = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert following
    second = browser.get(html_lib.unescape(following.group(1)))
    assert list(dict.fromkeys(re.findall(rf"{tag}-(\d\d)@example.com", second.text))) == ["01", "00"]
    assert 'rel="next"' not in second.text and "First page" in second.text

    exact = browser.get(f"/admin/users?q={emails[3].upper()}")
    assert list(dict.fromkeys(re.findall(rf"{tag}-(\d\d)@example.com", exact.text))) == ["03"]
    by_name = browser.get("/admin/users", params={"q": "pager person 1", "status": "active", "role": ""})
    assert f"{tag}-10@example.com" in by_name.text and f"{tag}-09@example.com" not in by_name.text
    assert "No account matches these filters" in browser.get("/admin/users", params={"q": "%_*"}).text
    assert "No account matches these filters" in browser.get("/admin/users", params={"q": f"x{tag}"}).text
    deactivated = browser.get("/admin/users", params={"q": tag, "status": "inactive"})
    assert "No account matches these filters" in deactivated.text
    admins = browser.get("/admin/users", params={"q": admin.email.split("@")[0], "role": "admin"})
    assert admin.email in admins.text and "You</span>" in admins.text
    assert browser.get("/admin/users?role=wizard").status_code == 400
    assert browser.get("/admin/users?cursor=not-a-cursor").status_code == 400


def test_an_admin_deactivates_an_account_which_then_cannot_sign_in(
    browser: Browser,
    client: TestClient,
    make_user: Callable[..., ApiUser],
    make_staff: Callable[[str], ApiUser],
    owner_conn: psycopg.Connection,
) -> None:
    user = make_user("deactivated", full_name="Samir Deactivated")
    admin = make_staff("admin")
    browser.sign_in(admin)
    listing = f"/admin/users?q={user.email}"
    page = browser.get(listing)
    assert user.email in page.text and "Samir Deactivated" in page.text

    r = browser.post_form(listing, f"/admin/users/{user.id}/deactivate", {"next": listing})
    assert r.status_code == 303 and r.headers["location"] == listing
    after = browser.get(listing)
    assert _flash(after.text) == f"{user.email} is deactivated and signed out everywhere."
    assert "Deactivated</span>" in after.text and "Reactivate" in after.text
    assert not _active(owner_conn, user.id)
    # Signed out everywhere, and signing in is refused (the API and the sign-in page).
    assert client.get("/api/v1/users/me", headers=user.headers).status_code == 401
    refused = client.post("/api/v1/auth/login", json={"email": user.email, "password": TEST_PASSWORD})
    assert refused.status_code == 401
    entries = [
        e for e in _audit(client, admin, entity_id=str(user.id)) if e["action_type"] in ACCOUNT_CHANGES
    ]
    assert [(e["action_type"], e["user_id"], e["old_values"], e["new_values"]) for e in entries] == [
        ("user_deactivated", str(admin.id), {"is_active": True}, {"is_active": False})
    ]

    detail = browser.get(f"/admin/users/{user.id}")
    assert "This account is deactivated" in detail.text
    r = browser.post_form(f"/admin/users/{user.id}", f"/admin/users/{user.id}/reactivate", {})
    assert r.status_code == 303
    assert _flash(browser.get(r.headers["location"]).text) == f"{user.email} can sign in again."
    assert _active(owner_conn, user.id)
    assert (
        client.post("/api/v1/auth/login", json={"email": user.email, "password": TEST_PASSWORD}).status_code
        == 200
    )
    changes = _audit(client, admin, entity_id=str(user.id))
    assert [e["action_type"] for e in changes if e["action_type"] in ACCOUNT_CHANGES] == [
        "user_reactivated",
        "user_deactivated",
    ]

    # Their own account: refused with a message, nothing changes; an unknown account is a 404.
    r = browser.post_form(f"/admin/users/{admin.id}", f"/admin/users/{admin.id}/deactivate", {})
    assert r.status_code == 303
    assert _flash(browser.get(r.headers["location"]).text) == (
        "You cannot deactivate or reactivate your own account."
    )
    assert _active(owner_conn, admin.id)
    assert browser.get(f"/admin/users/{uuid.uuid4()}").status_code == 404
    r = browser.post_form("/admin/users", f"/admin/users/{uuid.uuid4()}/deactivate", {})
    assert r.status_code == 404
    assert not [
        e for e in _audit(client, admin, entity_id=str(admin.id)) if e["action_type"] in ACCOUNT_CHANGES
    ]


def test_a_deactivated_user_signed_in_in_a_browser_is_signed_out(
    browser: Browser, make_user: Callable[..., ApiUser], make_staff: Callable[[str], ApiUser]
) -> None:
    admin, user = make_staff("admin"), make_user("browsing")
    browser.sign_in(user)
    assert browser.get("/profile").status_code == 200
    user_cookies = dict(browser.client.cookies)
    browser.client.cookies.clear()
    browser.sign_in(admin)
    r = browser.post_form("/admin/users", f"/admin/users/{user.id}/deactivate", {})
    assert r.status_code == 303
    browser.client.cookies.clear()
    browser.client.cookies.update(user_cookies)
    r = browser.get("/profile", follow=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")
    browser.client.cookies.clear()
    signed_in = browser.post_form("/sign-in", "/sign-in", {"email": user.email, "password": TEST_PASSWORD})
    assert signed_in.status_code == 401 and "The email or password is incorrect." in signed_in.text


# --- the audit log ------------------------------------------------------------------------------------------------
def test_an_admin_filters_and_pages_through_the_audit_log(
    browser: Browser, client: TestClient, make_staff: Callable[[str], ApiUser]
) -> None:
    admin = make_staff("admin")
    setting = _setting(client, admin)
    for value in [*range(1, 11)] * 3 + [2, 3]:  # 32 updates
        r = client.patch(
            f"/api/v1/settings/{setting['setting_key']}", json={"value": value}, headers=admin.headers
        )
        assert r.status_code == 200, r.text
    browser.sign_in(admin)

    everything = browser.get("/admin/audit")
    assert everything.status_code == 200 and "Newest first" in everything.text
    url = f"/admin/audit?action_type=setting_updated&entity_id={setting['id']}&user={admin.email}"
    first = browser.get(url)
    assert first.status_code == 200
    ids = re.findall(r'href="/admin/audit/([0-9a-f-]{36})', first.text)
    assert len(ids) == 30
    following = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert following
    second = browser.get(html_lib.unescape(following.group(1)))
    more = re.findall(r'href="/admin/audit/([0-9a-f-]{36})', second.text)
    assert len(more) == 2 and not set(more) & set(ids) and 'rel="next"' not in second.text
    api = [e["id"] for e in _audit(client, admin, action_type="setting_updated", entity_id=setting["id"])]
    assert ids + more == api  # newest first, as the API pages it

    created = browser.get(
        f"/admin/audit?entity_type=system_setting&entity_id={setting['id']}&action_type=setting_created"
    )
    assert len(re.findall(r'href="/admin/audit/[0-9a-f-]{36}', created.text)) == 1
    today = datetime.now(UTC).date()
    in_range = browser.get(f"{url}&since={today - timedelta(days=1)}&until={today}")
    assert len(re.findall(r'href="/admin/audit/[0-9a-f-]{36}', in_range.text)) == 30
    later = browser.get(f"{url}&since={today + timedelta(days=1)}")
    assert "No entry matches these filters" in later.text
    by_id = browser.get(f"/admin/audit?user={admin.id}&entity_id={setting['id']}")
    assert len(re.findall(r'href="/admin/audit/[0-9a-f-]{36}', by_id.text)) == 30

    bad = browser.get("/admin/audit?entity_id=nope&since=2026-13-01&user=nobody-here@example.com")
    assert bad.status_code == 422
    assert _errors(bad.text) == [
        "No account has this email address.",
        "Enter an id such as 3f2b…, as shown on an entry.",
        "Enter a valid date.",
    ]
    backwards = browser.get(f"/admin/audit?since={today}&until={today - timedelta(days=2)}")
    assert backwards.status_code == 422
    assert _errors(backwards.text) == ["The end date must not be before the start date."]

    # One entry: its old and new values (the newest update set 3 over 2).
    entry = browser.get(f"/admin/audit/{ids[0]}")
    assert entry.status_code == 200
    row = re.search(
        r"<code>value</code>.*?<td><code>([^<]*)</code></td>\s*<td><code>([^<]*)</code>",
        entry.text,
        re.DOTALL,
    )
    assert row and row.groups() == ("2", "3")
    assert admin.email in entry.text and "PATCH /api/v1/settings/" in entry.text
    assert browser.get(f"/admin/audit/{uuid.uuid4()}").status_code == 404


# --- settings -------------------------------------------------------------------------------------------------------
def test_an_admin_edits_settings_bad_values_are_shown_and_not_saved(
    browser: Browser, client: TestClient, make_staff: Callable[[str], ApiUser], owner_conn: psycopg.Connection
) -> None:
    admin = make_staff("admin")
    number = _setting(client, admin)
    switch = _setting(client, admin, setting_type="boolean", value=False, validation_rules=None)
    blob = _setting(client, admin, setting_type="json", value={"a": 1}, validation_rules=None)
    choice = _setting(
        client, admin, setting_type="string", value="low", validation_rules={"choices": ["low", "high"]}
    )
    browser.sign_in(admin)
    listing = browser.get("/admin/settings?category=testing")
    assert listing.status_code == 200
    assert (
        f'<label for="setting-{number["setting_key"].replace(".", "-").replace("_", "-")}-value">'
        in listing.text
    )
    assert "A whole number from 1 to 10." in listing.text

    def post(key: str, value: str) -> Any:
        return browser.post_form(
            "/admin/settings", f"/admin/settings/{key}", {"value": value, "category": "testing"}
        )

    for setting, value, message in (
        (number, "50", "Must be at most 10."),
        (number, "0", "Must be at least 1."),
        (number, "2.5", "Expected a whole number."),
        (number, "many", "Enter a number."),
        (number, "", "This field is required."),
        (switch, "maybe", "Choose one of the options."),
        (blob, "{not json", "This is not valid JSON."),
        (blob, '"a string"', "Expected a JSON object or array."),
        (choice, "medium", "Must be one of ['low', 'high']."),
    ):
        r = post(setting["setting_key"], value)
        assert r.status_code == 422, (value, r.status_code)
        assert _errors(r.text) == [message], value
        assert f"“{setting['setting_key']}” was not saved." in html_lib.unescape(r.text)
        if setting is number:  # what was typed is shown again
            assert f'name="value" type="text" value="{html_lib.escape(value)}"' in r.text
    assert _stored(owner_conn, number["setting_key"]) == "5"
    assert _stored(owner_conn, switch["setting_key"]) == "false"
    assert _stored(owner_conn, blob["setting_key"]) == '{"a":1}'
    assert not _audit(client, admin, action_type="setting_updated", entity_id=number["id"])

    for setting, value, stored in (
        (number, "7", "7"),
        (switch, "true", "true"),
        (blob, '{"b": [1, 2]}', '{"b":[1,2]}'),
        (choice, "high", "high"),
    ):
        r = post(setting["setting_key"], value)
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith("/admin/settings?category=testing#setting-")
        assert _flash(browser.get(r.headers["location"]).text) == f"“{setting['setting_key']}” was saved."
        assert _stored(owner_conn, setting["setting_key"]) == stored
    entries = _audit(client, admin, action_type="setting_updated", entity_id=number["id"])
    assert [(e["user_id"], e["old_values"], e["new_values"]) for e in entries] == [
        (str(admin.id), {"value": "5"}, {"value": "7"})
    ]
    page = browser.get("/admin/settings?category=testing").text
    assert re.search(r'id="setting-[^"]*-value" name="value" type="text" value="7"', page)

    assert post("no.such_setting", "1").status_code == 404
    with owner_conn.transaction():
        owner_conn.execute(
            "UPDATE system_settings SET is_editable = false WHERE setting_key = %s", (number["setting_key"],)
        )
    locked = post(number["setting_key"], "8")
    assert locked.status_code == 409
    assert "was not saved. This setting cannot be changed here." in html_lib.unescape(locked.text)
    assert _stored(owner_conn, number["setting_key"]) == "7"


def test_the_admin_pages_render_right_to_left_in_arabic(
    browser: Browser, client: TestClient, make_staff: Callable[[str], ApiUser]
) -> None:
    admin = make_staff("admin")
    setting = _setting(client, admin)
    browser.sign_in(admin)
    r = browser.post_form("/", "/language", {"locale": "ar", "next": "/admin/users"})
    assert r.status_code == 303
    entry = _audit(client, admin, entity_id=setting["id"])[0]
    for url in (*ADMIN_PAGES, f"/admin/users/{admin.id}", f"/admin/audit/{entry['id']}"):
        page = browser.get(url)
        assert page.status_code == 200, url
        assert '<html lang="ar" dir="rtl">' in page.text, url
    bad = browser.post_form("/admin/settings", f"/admin/settings/{setting['setting_key']}", {"value": "50"})
    assert bad.status_code == 422 and len(_errors(bad.text)) == 1

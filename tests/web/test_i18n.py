"""Every user-facing message of the pages is in every catalog and translated, placeholders intact; the
catalogs compile from the .po files shipped in the package (no build step); Arabic pages are right-to-left."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from homeops.core.web import i18n
from tests.conftest import ApiUser
from tests.web.conftest import Browser

ROOT = Path(__file__).resolve().parents[2]
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _extracted() -> set[str | tuple[str, str]]:
    """The messages ``pybabel extract -F babel.cfg`` finds (the same mapping, read from babel.cfg)."""
    method_map = [
        ("src/homeops/**/pages.py", "python"),
        ("src/homeops/core/web/**.py", "python"),
        ("src/homeops/identity/web.py", "python"),
        ("src/homeops/**/templates/**.html", "jinja2"),
    ]
    options = {"src/homeops/**/templates/**.html": {"extensions": "jinja2.ext.i18n,jinja2.ext.loopcontrols"}}
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=method_map, options_map=options
    ):
        found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def test_babel_cfg_is_the_mapping_the_test_uses() -> None:
    cfg = (ROOT / "babel.cfg").read_text()
    for pattern in (
        "[python: src/homeops/**/pages.py]",
        "[python: src/homeops/core/web/**.py]",
        "[python: src/homeops/identity/web.py]",
        "[jinja2: src/homeops/**/templates/**.html]",
    ):
        assert pattern in cfg


def test_every_message_is_translated_into_arabic() -> None:
    messages = _extracted()
    assert len(messages) > 400
    with (i18n.LOCALE_DIR / "ar" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale="ar")
    missing, empty, fuzzy, broken = [], [], [], []
    for message in messages:
        key = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(key)
        if entry is None:
            missing.append(key)
            continue
        if entry.fuzzy:
            fuzzy.append(key)
        translations = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if not all(translations):
            empty.append(key)
        wanted = set(_PLACEHOLDER.findall(key))
        for text in translations:
            used = set(_PLACEHOLDER.findall(text or ""))
            if used - wanted - {"num"}:
                broken.append(key)
    assert not missing, f"not in the Arabic catalog (run the update in babel.cfg): {missing}"
    assert not empty, f"untranslated: {empty}"
    assert not fuzzy, f"fuzzy: {fuzzy}"
    assert not broken, f"placeholders not in the message: {broken}"
    assert catalog.num_plurals == 6


def test_the_template_is_current() -> None:
    """``messages.pot`` lists what the code says (the base of ``pybabel update``)."""
    with (i18n.LOCALE_DIR / "messages.pot").open("rb") as f:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    extracted = {m if isinstance(m, str) else m[0] for m in _extracted()}
    assert extracted == template, {"new": sorted(extracted - template), "gone": sorted(template - extracted)}


def test_the_catalogs_load_from_the_package_and_format_by_locale() -> None:
    from datetime import date

    i18n.set_locale("ar")
    try:
        assert i18n.gettext("Sign in") == "تسجيل الدخول"
        assert i18n.ngettext("%(num)s day left", "%(num)s days left", 3) == "بقيت 3 أيام"
        assert "ديسمبر" in i18n.fmt_date(date(2026, 12, 2))
    finally:
        i18n.set_locale("en")
    assert i18n.gettext("Sign in") == "Sign in"
    assert i18n.fmt_date(date(2026, 12, 2)) == "Dec 2, 2026"
    assert i18n.fmt_money(1234.5) == "1,234.50"


def test_accept_language_chooses_for_signed_out_pages(browser: Browser) -> None:
    ar = browser.get(
        "/sign-in", headers={"Accept": "text/html", "Accept-Language": "fr;q=0.9, ar-SA;q=0.8"}
    ).text
    assert '<html lang="ar" dir="rtl">' in ar and "تسجيل الدخول" in ar
    en = browser.get("/sign-in", headers={"Accept": "text/html", "Accept-Language": "de, en;q=0.5"}).text
    assert '<html lang="en" dir="ltr">' in en


def test_negotiation() -> None:
    assert i18n.negotiate("ar-SA,ar;q=0.9,en;q=0.8") == "ar"
    assert i18n.negotiate("en-GB, ar;q=0.2") == "en"
    assert i18n.negotiate("fr, de") is None
    assert i18n.negotiate("ar;q=0, en;q=0.1") == "en"
    assert i18n.negotiate(None) is None


def test_an_arabic_dashboard_is_right_to_left(signed_in: Callable[..., tuple[Browser, ApiUser]]) -> None:
    browser, _user = signed_in("rtl")
    browser.post_form("/", "/language", {"locale": "ar", "next": "/"})
    html = browser.get("/").text
    assert '<html lang="ar" dir="rtl">' in html
    assert "لوحة المعلومات" in html and "منازلي" in html
    assert "Dashboard" not in html.split("<main", 1)[1]

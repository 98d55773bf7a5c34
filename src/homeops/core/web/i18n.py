"""Languages of the web interface: gettext catalogs (Babel), the request's locale, localised dates and numbers.

* Every user-facing string goes through ``gettext``: ``_("…")`` in Python (``from homeops.core.web import _``),
  ``{{ _("…") }}`` / ``{% trans %}`` in templates; module-level strings are marked with ``N_("…")`` and
  translated where they are shown.
* The catalogs are ``homeops/locale/<lang>/LC_MESSAGES/messages.po`` (one for the whole package), compiled in
  memory when the process starts — nothing is built at install time, so ``pip install -e .`` is enough.
  ``tests/web/test_i18n.py`` checks that every message of the code and templates is in every catalog and
  translated. How to update them: docs/architecture.md, "Pages".
* The request's locale: the user's choice (``users.preferences["locale"]``, copied to the ``homeops_locale``
  cookie at sign-in and by the language switcher), else ``Accept-Language``, else English.
"""

from __future__ import annotations

import gettext as _gettext
import io
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

LOCALE_DIR = Path(__file__).resolve().parent.parent.parent / "locale"
DOMAIN = "messages"


@dataclass(frozen=True)
class LocaleInfo:
    code: str
    name: str  # in its own language
    direction: str  # "ltr" | "rtl"


LOCALES: Mapping[str, LocaleInfo] = {
    "en": LocaleInfo("en", "English", "ltr"),
    "ar": LocaleInfo("ar", "العربية", "rtl"),
}
DEFAULT_LOCALE = "en"
LOCALE_COOKIE = "homeops_locale"


@cache
def translations(code: str) -> _gettext.NullTranslations:
    """The catalog of ``code``, compiled from its .po file once per process (English: the msgids)."""
    po = LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"
    if code == DEFAULT_LOCALE or not po.is_file():
        return _gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=code)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


_CURRENT: ContextVar[str] = ContextVar("homeops_web_locale", default=DEFAULT_LOCALE)


def current_locale() -> str:
    return _CURRENT.get()


def set_locale(code: str) -> None:
    """The locale of the rest of this request (each request runs in its own context)."""
    _CURRENT.set(code if code in LOCALES else DEFAULT_LOCALE)


def gettext(message: str, **variables: Any) -> str:
    """``message`` in the request's language; ``%(name)s`` placeholders filled from ``variables``."""
    text = translations(_CURRENT.get()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    text = translations(_CURRENT.get()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


_ = gettext


def N_(message: str) -> str:
    """Marks a module-level string for extraction; translate it where it is shown (``_(label)``)."""
    return message


# Jinja's newstyle gettext formats the result itself: these return the bare translation.
def _jinja_gettext(message: str) -> str:
    return translations(_CURRENT.get()).gettext(message)


def _jinja_ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_CURRENT.get()).ngettext(singular, plural, n)


def _jinja_pgettext(context: str, message: str) -> str:
    return translations(_CURRENT.get()).pgettext(context, message)


def _jinja_npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(_CURRENT.get()).npgettext(context, singular, plural, n)


JINJA_CALLABLES = (_jinja_gettext, _jinja_ngettext, _jinja_pgettext, _jinja_npgettext)


def negotiate(accept_language: str | None) -> str | None:
    """The best of ``LOCALES`` for an ``Accept-Language`` header (None when it names none of them)."""
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary in LOCALES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else None


def direction(code: str) -> str:
    return LOCALES.get(code, LOCALES[DEFAULT_LOCALE]).direction


# --- formatting (templates: ``d|date``, ``dt|datetime(tz)``, ``n|number``, ``x|money``, ``p|percent``) -----
@cache
def _babel_locale(code: str) -> Locale:
    return Locale.parse(code)


def fmt_date(value: date | datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    code = _CURRENT.get()
    # English "medium" is "Dec 2, 2026"; Arabic "medium" is numeric, its "long" names the month.
    style = "long" if fmt == "medium" and code == "ar" else fmt
    return format_date(value, format=style, locale=_babel_locale(code))


def fmt_datetime(value: datetime | None, tz: str | None = None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    zone = ZoneInfo(tz) if tz else ZoneInfo("UTC")
    code = _CURRENT.get()
    text = format_datetime(value, format=fmt, tzinfo=zone, locale=_babel_locale(code))
    return text if tz else f"{text} UTC"


def fmt_time(value: datetime | None, tz: str | None = None, fmt: str = "short") -> str:
    """The time of day of ``value`` in ``tz`` (UTC when not given), in the request's language."""
    if value is None:
        return ""
    zone = ZoneInfo(tz) if tz else ZoneInfo("UTC")
    return format_time(value, format=fmt, tzinfo=zone, locale=_babel_locale(_CURRENT.get()))


def fmt_number(value: float | Decimal | None, digits: int | None = None) -> str:
    if value is None:
        return ""
    pattern = None if digits is None else "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(value, format=pattern, locale=_babel_locale(_CURRENT.get()))


def fmt_money(value: Decimal | float | None) -> str:
    """An amount with two decimals (the platform stores no currency; shown as a plain localised number)."""
    return fmt_number(value, 2)


def fmt_percent(value: float | None) -> str:
    if value is None:
        return ""
    return format_percent(value, locale=_babel_locale(_CURRENT.get()))


FILTERS = {
    "date": fmt_date,
    "datetime": fmt_datetime,
    "number": fmt_number,
    "money": fmt_money,
    "percent": fmt_percent,
}

"""The web interface's domain-free foundation: server-rendered pages (Jinja2) from the same FastAPI app.

What a domain's ``pages.py`` uses is re-exported here; the conventions are in docs/architecture.md ("Pages").
``homeops.identity.web`` authenticates page requests (the session cookie) and builds their unit of work.
"""

from homeops.core.web.forms import NO_FORM, FormError, FormState, form_model, form_values
from homeops.core.web.i18n import N_, _, gettext, ngettext
from homeops.core.web.page import (
    CursorQuery,
    NavItem,
    Page,
    PageRoute,
    Pages,
    Panel,
    SignInRequired,
    WebRegistry,
    install_web,
    page_router,
    safe_next,
)

__all__ = [
    "NO_FORM",
    "N_",
    "CursorQuery",
    "FormError",
    "FormState",
    "NavItem",
    "Page",
    "PageRoute",
    "Pages",
    "Panel",
    "SignInRequired",
    "WebRegistry",
    "_",
    "form_model",
    "form_values",
    "gettext",
    "install_web",
    "ngettext",
    "page_router",
    "safe_next",
]

"""The notifications domain's process resource: the SMTP mailer (none when e-mail is not configured)."""

from __future__ import annotations

from typing import Any

from homeops.core.config import Settings
from homeops.core.runtime import Runtime
from homeops.notifications.email import Mailer

MAILER = "notifications.mailer"


def resources(settings: Settings) -> dict[str, Any]:
    return {MAILER: Mailer.from_settings(settings)}


def mailer_of(runtime: Runtime) -> Mailer | None:
    """The SMTP mailer, or None when e-mail is not configured (HOMEOPS_SMTP_HOST unset)."""
    mailer: Mailer | None = runtime.resource(MAILER)
    return mailer

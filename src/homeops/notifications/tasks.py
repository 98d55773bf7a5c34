"""Background jobs of the notifications domain (registered on import; see homeops.core.jobs) and the
worker's e-mail configuration."""

from __future__ import annotations

from dataclasses import dataclass

from homeops.core.config import Settings, get_settings
from homeops.notifications.email import Mailer


@dataclass
class NotificationRuntime:
    """Set once per worker process by :func:`configure`; unset, the environment's settings are used."""

    configured: bool = False
    mailer: Mailer | None = None


runtime = NotificationRuntime()


def configure(settings: Settings) -> None:
    runtime.mailer = Mailer.from_settings(settings)
    runtime.configured = True


def current_mailer() -> Mailer | None:
    """The SMTP mailer, or None when e-mail is not configured (HOMEOPS_SMTP_HOST unset)."""
    if not runtime.configured:
        configure(get_settings())
    return runtime.mailer

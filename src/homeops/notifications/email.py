"""E-mail delivery through SMTP (optional: only when ``HOMEOPS_SMTP_HOST`` is set).

The standard library's smtplib runs in a worker thread; one connection serves a batch. Failures are
results, never exceptions: the caller records them.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from anyio import to_thread

from homeops.core.config import Settings

TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    body: str


@dataclass(frozen=True)
class Delivery:
    sent: bool
    at: datetime
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        if self.sent:
            return {"sent": True, "sent_at": self.at.isoformat()}
        return {"sent": False, "attempted_at": self.at.isoformat(), "reason": self.reason}


def _one_line(value: str) -> str:
    return " ".join(value.split())  # no header injection through titles


class Mailer:
    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str = "homeops@localhost",
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls, self.timeout = username, password, starttls, timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer | None:
        if not settings.smtp_host:
            return None
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=password,
            starttls=settings.smtp_starttls,
        )

    def _message(self, email: OutgoingEmail) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = _one_line(email.to)
        msg["Subject"] = _one_line(email.subject)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain="homeops")
        msg.set_content(email.body)
        return msg

    def send_batch(self, emails: list[OutgoingEmail]) -> list[Delivery]:
        """Blocking: sends each message over one connection; one result per message, in order."""
        if not emails:
            return []
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            failed = Delivery(False, datetime.now(UTC), f"connect: {type(exc).__name__}: {exc}"[:300])
            return [failed] * len(emails)
        results: list[Delivery] = []
        try:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username and self.password:
                smtp.login(self.username, self.password)
            for email in emails:
                try:
                    smtp.send_message(self._message(email))
                    results.append(Delivery(True, datetime.now(UTC)))
                except (OSError, ValueError, smtplib.SMTPException) as exc:
                    results.append(Delivery(False, datetime.now(UTC), f"{type(exc).__name__}: {exc}"[:300]))
        except (OSError, smtplib.SMTPException) as exc:
            reason = f"session: {type(exc).__name__}: {exc}"[:300]
            results += [Delivery(False, datetime.now(UTC), reason)] * (len(emails) - len(results))
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        return results

    async def send(self, emails: list[OutgoingEmail]) -> list[Delivery]:
        return await to_thread.run_sync(self.send_batch, emails)

"""What the notifications domain does when lower domains report something (declared in
``notifications/domain.py``): the account e-mails of the identity domain, sent once its transaction commits."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from homeops.core.events import DomainEvent, Handler
from homeops.core.uow import UnitOfWork
from homeops.identity.events import AccountEmailRequested, PasswordResetRequested, VerificationEmailRequested
from homeops.notifications.email import OutgoingEmail
from homeops.notifications.tasks import mailer_of

log = logging.getLogger(__name__)


def _valid_until(event: AccountEmailRequested) -> str:
    return event.expires_at.strftime("%Y-%m-%d %H:%M UTC")


def verification_email(event: AccountEmailRequested) -> OutgoingEmail:
    body = (
        f"Hello {event.full_name},\n\n"
        "please confirm that this is your e-mail address for HomeOps. Your confirmation token "
        f"(single use, valid until {_valid_until(event)}):\n\n"
        f"{event.token}\n\n"
        "To confirm, send it to HomeOps (the HomeOps app does this for you):\n\n"
        f"  POST {event.base_url}/api/v1/auth/verify-email\n"
        f'  {{"token": "{event.token}"}}\n\n'
        "If you did not create a HomeOps account, ignore this e-mail.\n"
    )
    return OutgoingEmail(event.email, "Confirm your e-mail address for HomeOps", body)


def password_reset_email(event: AccountEmailRequested) -> OutgoingEmail:
    body = (
        f"Hello {event.full_name},\n\n"
        "someone (hopefully you) asked to reset the password of your HomeOps account. Your reset token "
        f"(single use, valid until {_valid_until(event)}):\n\n"
        f"{event.token}\n\n"
        "To choose a new password, send it to HomeOps:\n\n"
        f"  POST {event.base_url}/api/v1/auth/password-reset/confirm\n"
        f'  {{"token": "{event.token}", "new_password": "<your new password>"}}\n\n'
        "This signs out every device. If you did not ask for it, ignore this e-mail: your password stays as "
        "it is.\n"
    )
    return OutgoingEmail(event.email, "Reset your HomeOps password", body)


async def _send_after_commit(
    uow: UnitOfWork, email: OutgoingEmail, kind: str, event: AccountEmailRequested
) -> None:
    mailer = mailer_of(uow.runtime)
    extra = {"kind": kind, "user_id": str(event.user_id)}
    if mailer is None:
        log.warning("account e-mail not sent: e-mail is not configured (HOMEOPS_SMTP_HOST)", extra=extra)
        return

    async def send() -> None:
        (delivery,) = await mailer.send([email])
        if delivery.sent:
            log.info("account e-mail sent", extra=extra)
        else:
            log.warning("account e-mail failed", extra={**extra, "reason": delivery.reason})

    uow.on_commit(send)


async def on_verification_requested(uow: UnitOfWork, event: VerificationEmailRequested) -> None:
    await _send_after_commit(uow, verification_email(event), "verify_email", event)


async def on_password_reset_requested(uow: UnitOfWork, event: PasswordResetRequested) -> None:
    await _send_after_commit(uow, password_reset_email(event), "password_reset", event)


SUBSCRIPTIONS: Mapping[type[DomainEvent], Sequence[Handler]] = {
    VerificationEmailRequested: [on_verification_requested],
    PasswordResetRequested: [on_password_reset_requested],
}

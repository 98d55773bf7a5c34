"""Checks other domains make about the acting user's account."""

from __future__ import annotations

from homeops.core.errors import Forbidden
from homeops.core.uow import UnitOfWork
from homeops.identity.repository import UserRepository


class EmailNotVerified(Forbidden):
    code, title = "email_not_verified", "E-mail address not verified"


async def require_verified_email(uow: UnitOfWork) -> None:
    """403 ``email_not_verified`` unless the signed-in user confirmed their e-mail address.

    For what reaches other people (uploads into the shared library, marketplace listings, public reports):
    an unverified account manages its own households, nothing more. One indexed read of the caller's own row;
    the system actor (jobs, commands) passes."""
    if uow.actor.kind == "system":
        return
    if not await UserRepository(uow.session).is_verified(uow.actor.require_user_id()):
        raise EmailNotVerified(
            "Confirm your e-mail address first (see the e-mail we sent, or POST /api/v1/auth/verify-email/resend)."
        )

"""The marketplace's background jobs (run by the worker as ``homeops_worker``):

| job | acts as | touches |
|---|---|---|
| ``marketplace.expire`` (hourly) | the system | open requests past ``expires_at`` → ``expired`` (and their pending quotes); pending quotes past their validity → ``expired``; notifications to the homeowner |
| ``marketplace.service_events`` | the homeowner (``act_for``) | a completed project's devices: one repair event each in the service history (maintenance domain), under the homeowner's row policies |
| ``marketplace.notify`` | the system | notifications after a status change or an unread chat message (``notify.py``) |

The diagnostic images and old project chats are removed by the daily retention job (``homeops.retention``),
through ``homeops.marketplace.retention``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from homeops.core.jobs import JobContext, registry
from homeops.marketplace import notify as _notify  # noqa: F401  (registers marketplace.notify)
from homeops.marketplace.notify import Note, queue_notes
from homeops.marketplace.projects import SERVICE_EVENTS, record_service_events
from homeops.marketplace.repository import QuoteRepository, RequestRepository

log = logging.getLogger("homeops.marketplace")

EXPIRE = "marketplace.expire"


async def expire(job: JobContext) -> dict[str, int]:
    uow = job.uow()
    now = job.runtime.clock.now()
    requests = await RequestRepository(job.session).expire_due(now)
    quotes = QuoteRepository(job.session)
    of_requests = await quotes.expire_of_requests([(r, i) for r, i, _ in requests])
    expired_quotes = await quotes.expire_due(now)
    notes = [
        Note(
            requester_id,
            "service_request_expired",
            f"Request expired: {title}",
            "No quote was accepted in time. Post it again if you still need help.",
            "service_request",
            request_id,
            f"/api/v1/service-requests/{request_id}",
        )
        for requester_id, request_id, title in requests
    ] + [
        Note(
            q.provider_user_id,
            "quote_expired",
            "Your quote expired",
            "Its validity ended before the homeowner accepted it.",
            "quote",
            q.id,
            f"/api/v1/quotes/{q.id}",
        )
        for q in expired_quotes
    ]
    await queue_notes(uow, notes)
    counts = {"requests_expired": len(requests), "quotes_expired": of_requests + len(expired_quotes)}
    log.info("marketplace expiry", extra=counts)
    return counts


@registry.periodic(EXPIRE, every_seconds=3600)
async def expire_task(job: JobContext, payload: dict[str, Any]) -> None:
    await expire(job)


@registry.task(SERVICE_EVENTS, max_attempts=5, retry_backoff_seconds=60)
async def service_events_task(job: JobContext, payload: dict[str, Any]) -> None:
    requester_id = uuid.UUID(payload["requester_id"])
    uow = await job.act_for(requester_id)
    if uow is None:
        return  # the homeowner's account is gone
    await record_service_events(uow, requester_id, uuid.UUID(payload["project_id"]))

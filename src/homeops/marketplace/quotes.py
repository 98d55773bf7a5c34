"""Quotes and accepting one (seed 002 ``quotes``; Scenario 1 steps 4–5).

* A verified provider whose services and coverage match an open request quotes once (one live quote per
  provider per request); the cost is > 0 and itemised, the lines add up to the total (checked here and by a
  database constraint), validity from ``quote_validity_days``. The insert goes through
  ``homeops_submit_quote`` — the same rule as what a provider may see — which also counts the quote on the
  request (``quotes_count``, ``open → quotes_received``) and updates the provider's response time.
* Quotes are immutable once submitted (a trigger): the provider withdraws and resubmits instead. The
  requester rejects with a reason. Expired quotes (a job) cannot be accepted.
* **Accepting is one transaction on one shard**: the request is locked by its full key, then the quote; the
  quote becomes ``accepted``, every other pending quote ``rejected`` ("another quote was accepted"), the
  request ``provider_selected`` with its selected quote and provider, and the project is inserted (unique per
  request and per quote). Two concurrent accepts of two quotes of one request queue on the request's lock:
  the second finds it no longer open (409), so there is exactly one project and one accepted quote.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import errors as pg_errors
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict
from homeops.core.pagination import PageParams, decode_cursor, encode_cursor
from homeops.core.uow import UnitOfWork
from homeops.marketplace.chat import post_system_message, quote_accepted_event
from homeops.marketplace.common import (
    NotYourSide,
    ProviderNotVerified,
    QuoteNotFound,
    ServiceRequestNotFound,
    acting_provider,
    load_by_id,
    problem_from_database,
    setting_int,
    side_of,
)
from homeops.marketplace.models import (
    OPEN_STATUSES,
    ChatSide,
    Project,
    Quote,
    QuoteStatus,
    RequestStatus,
    ServiceRequest,
)
from homeops.marketplace.notify import Note, queue_notes
from homeops.marketplace.providers import card
from homeops.marketplace.repository import (
    ProjectRepository,
    ProviderRepository,
    QuoteRepository,
    RequestRepository,
)
from homeops.marketplace.schemas import ProjectOut, QuoteIn, QuoteOut, RejectIn

DEFAULT_VALIDITY_DAYS = 14
ANOTHER_ACCEPTED = "Another quote was accepted."


class QuoteNotPending(Conflict):
    code, title = "quote_not_pending", "The quote is no longer pending"


class QuoteExpired(Conflict):
    code, title = "quote_expired", "The quote has expired"


class AlreadyQuoted(Conflict):
    code, title = "already_quoted", "You already quoted on this request"


class RequestNotOpen(Conflict):
    code, title = "service_request_closed", "The request is no longer open"


async def quotes_out(uow: UnitOfWork, quotes: list[Quote]) -> list[QuoteOut]:
    profiles = await ProviderRepository(uow.session).by_ids([q.provider_id for q in quotes])
    out = []
    for q in quotes:
        data: dict[str, Any] = {c.key: getattr(q, c.key) for c in Quote.__table__.columns}
        profile = profiles.get(q.provider_id)
        data["provider"] = card(profile) if profile is not None else None
        out.append(QuoteOut.model_validate(data))
    return out


class QuoteService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.quotes = QuoteRepository(uow.session)
        self.requests = RequestRepository(uow.session)

    async def submit(self, request_id: uuid.UUID, data: QuoteIn) -> QuoteOut:
        profile = await acting_provider(self.uow, data.provider_id, write=True)
        if not profile.is_verified:
            raise ProviderNotVerified("Only verified providers quote; an admin verifies your profile first.")
        values = data.model_dump(mode="json", exclude={"provider_id"})
        values["estimated_cost"] = data.estimated_cost
        values["validity_period_days"] = await setting_int(
            self.uow, "quote_validity_days", DEFAULT_VALIDITY_DAYS
        )
        try:
            quote = await self.quotes.submit(request_id, profile.id, values)
        except DBAPIError as exc:
            if isinstance(exc.orig, pg_errors.UniqueViolation):
                raise AlreadyQuoted("Withdraw your quote first to submit a new one.") from exc
            problem = problem_from_database(exc)
            if problem is not None:
                raise problem from exc
            raise
        self.uow.record(
            AuditEntry(
                "quote_submitted",
                "quote",
                quote.id,
                new_values={"request_id": str(request_id), "estimated_cost": str(data.estimated_cost)},
            )
        )
        await queue_notes(
            self.uow,
            [
                Note(
                    quote.requester_id,
                    "new_quote_received",
                    f"New quote from {profile.business_name}",
                    f"{profile.business_name} quoted {data.estimated_cost} for your request.",
                    "quote",
                    quote.id,
                    f"/api/v1/service-requests/{request_id}/quotes",
                )
            ],
        )
        return (await quotes_out(self.uow, [quote]))[0]

    async def of_request(self, request_id: uuid.UUID) -> list[QuoteOut]:
        """The requester (and admins): every quote, oldest first; a provider: its own (row security shows no
        other provider's), 404 unless it may see the request."""
        me = self.uow.actor.require_user_id()
        requester = await self.uow.session.scalar(
            select(ServiceRequest.requester_id).where(
                ServiceRequest.requester_id == me, ServiceRequest.id == request_id
            )
        )
        if requester is None and self.uow.actor.is_admin:
            requester = await self.uow.session.scalar(
                select(ServiceRequest.requester_id).where(ServiceRequest.id == request_id)
            )
        if requester is not None:
            return await quotes_out(self.uow, await self.quotes.of_request(requester, request_id))
        rows = list(
            await self.uow.session.scalars(
                select(Quote).where(Quote.request_id == request_id).order_by(Quote.submitted_at, Quote.id)
            )
        )
        mine = [q for q in rows if side_of(self.uow, q) is ChatSide.provider]
        if mine:
            return await quotes_out(self.uow, mine)
        from homeops.marketplace.requests import RequestService

        await RequestService(self.uow).get(request_id)  # 404 unless the provider may see the request
        return []

    async def get(self, quote_id: uuid.UUID) -> QuoteOut:
        quote = await load_by_id(self.uow, Quote, quote_id, not_found=QuoteNotFound)
        return (await quotes_out(self.uow, [quote]))[0]

    async def mine(
        self, page: PageParams, status: QuoteStatus | None, provider_id: uuid.UUID | None
    ) -> tuple[list[QuoteOut], str | None]:
        profile = await acting_provider(self.uow, provider_id, write=False)
        rows = await self.quotes.of_provider(profile.id, status, page.limit, decode_cursor(page.cursor))
        items = rows[: page.limit]
        cursor = (
            encode_cursor(items[-1].submitted_at, items[-1].id) if len(rows) > page.limit and items else None
        )
        return await quotes_out(self.uow, items), cursor

    async def _requester_quote(self, quote_id: uuid.UUID) -> Quote:
        quote = await load_by_id(self.uow, Quote, quote_id, not_found=QuoteNotFound)
        if quote.requester_id != self.uow.actor.user_id:
            if side_of(self.uow, quote) is not None:
                raise NotYourSide("The homeowner accepts or rejects quotes.")
            raise QuoteNotFound()
        return quote

    async def accept(self, quote_id: uuid.UUID) -> ProjectOut:
        me = self.uow.actor.require_user_id()
        found = await self._requester_quote(quote_id)
        # Lock order: the request, then the quote (withdrawals lock the quote only; no cycle).
        request = await self.requests.lock(me, found.request_id)
        if request is None:
            raise ServiceRequestNotFound()
        quote = await self.quotes.lock(me, quote_id)
        if quote is None:
            raise QuoteNotFound()
        if request.status not in OPEN_STATUSES:
            raise RequestNotOpen(
                f"The request is {request.status.value.replace('_', ' ')}: a quote was already accepted or it closed."
            )
        if quote.status is not QuoteStatus.pending:
            raise QuoteNotPending(f"The quote is {quote.status.value}.")
        now = self.uow.now()
        if quote.expires_at <= now:
            raise QuoteExpired("This quote's validity has ended; ask the provider for a new one.")
        quote.status = QuoteStatus.accepted
        quote.accepted_at = now
        await self.quotes.save()
        rejected = await self.quotes.reject_pending(me, request.id, ANOTHER_ACCEPTED, now, except_id=quote.id)
        request.status = RequestStatus.provider_selected
        request.selected_quote_id = quote.id
        request.selected_provider_id = quote.provider_id
        request.selected_provider_user_id = quote.provider_user_id
        request.selected_provider_org_id = quote.provider_org_id
        request.selected_at = now
        await self.requests.save()
        project = await ProjectRepository(self.uow.session).add(
            Project(
                requester_id=me,
                id=uuid.uuid4(),
                request_id=request.id,
                quote_id=quote.id,
                provider_id=quote.provider_id,
                provider_user_id=quote.provider_user_id,
                provider_org_id=quote.provider_org_id,
                home_id=request.home_id,
                device_ids=list(request.device_ids or []),
                project_title=request.problem_title,
                project_description=quote.proposed_solution or request.problem_description,
                agreed_cost=quote.estimated_cost,
                warranty_months=quote.warranty_period_months,
                scheduled_start_date=request.preferred_service_date,
            )
        )
        await post_system_message(
            self.uow,
            project,
            ChatSide.requester,
            quote_accepted_event(quote.estimated_cost),
        )
        self.uow.record(
            AuditEntry(
                "quote_accepted",
                "quote",
                quote.id,
                new_values={
                    "project_id": str(project.id),
                    "request_id": str(request.id),
                    "rejected": len(rejected),
                },
            )
        )
        self.uow.record(
            AuditEntry("project_created", "project", project.id, new_values={"quote_id": str(quote.id)})
        )
        notes = [
            Note(
                quote.provider_user_id,
                "quote_accepted",
                f"Your quote was accepted: {request.problem_title}",
                "The homeowner accepted your quote. The project is scheduled; the address and contact are now visible.",
                "project",
                project.id,
                f"/api/v1/projects/{project.id}",
                priority="high",
            )
        ] + [
            Note(
                r.provider_user_id,
                "quote_rejected",
                f"Quote not selected: {request.problem_title}",
                ANOTHER_ACCEPTED,
                "quote",
                r.id,
                f"/api/v1/quotes/{r.id}",
            )
            for r in rejected
        ]
        await queue_notes(self.uow, notes)
        from homeops.marketplace.projects import project_out

        return await project_out(self.uow, project)

    async def reject(self, quote_id: uuid.UUID, data: RejectIn) -> QuoteOut:
        found = await self._requester_quote(quote_id)
        quote = await self.quotes.lock(found.requester_id, quote_id)
        if quote is None:
            raise QuoteNotFound()
        if quote.status is not QuoteStatus.pending:
            raise QuoteNotPending(f"The quote is {quote.status.value}.")
        quote.status = QuoteStatus.rejected
        quote.rejection_reason = data.reason
        quote.rejected_at = self.uow.now()
        await self.quotes.save()
        self.uow.record(AuditEntry("quote_rejected", "quote", quote.id, new_values={"reason": data.reason}))
        await queue_notes(
            self.uow,
            [
                Note(
                    quote.provider_user_id,
                    "quote_rejected",
                    "Your quote was declined",
                    data.reason or "The homeowner declined your quote.",
                    "quote",
                    quote.id,
                    f"/api/v1/quotes/{quote.id}",
                )
            ],
        )
        return (await quotes_out(self.uow, [quote]))[0]

    async def withdraw(self, quote_id: uuid.UUID) -> QuoteOut:
        found = await load_by_id(self.uow, Quote, quote_id, not_found=QuoteNotFound)
        side = side_of(self.uow, found, write=True)
        if side is not ChatSide.provider:
            if side_of(self.uow, found) is not None:
                raise NotYourSide("The provider withdraws its quote.")
            raise QuoteNotFound()
        quote = await self.quotes.lock(found.requester_id, quote_id)
        if quote is None:
            raise QuoteNotFound()
        if quote.status is not QuoteStatus.pending:
            raise QuoteNotPending(f"The quote is {quote.status.value}.")
        quote.status = QuoteStatus.withdrawn
        quote.withdrawn_at = self.uow.now()
        await self.quotes.save()
        self.uow.record(AuditEntry("quote_withdrawn", "quote", quote.id))
        await queue_notes(
            self.uow,
            [
                Note(
                    quote.requester_id,
                    "quote_withdrawn",
                    "A quote was withdrawn",
                    "A provider withdrew its quote on your request.",
                    "quote",
                    quote.id,
                    f"/api/v1/service-requests/{quote.request_id}/quotes",
                )
            ],
        )
        return (await quotes_out(self.uow, [quote]))[0]

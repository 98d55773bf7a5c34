"""Every marketplace query. Requester-side rows are read and locked by their full key ``(requester_id, id)``
(one shard on a cluster); a row found by its id alone (a provider or an admin opening it) is one index probe per
shard. The provider-side visibility of open requests, the quote insert and the aggregates go through the
``SECURITY DEFINER`` functions of migration p014 (see ``homeops.marketplace.models``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, and_, delete, func, literal, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from homeops.core.context import WROTE
from homeops.core.database import rows_affected
from homeops.core.repository import Repository, keyset
from homeops.marketplace.models import (
    OPEN_STATUSES,
    ChatMessage,
    ChatSide,
    Diagnostic,
    PortfolioItem,
    Project,
    ProjectStatus,
    ProviderProfile,
    Quote,
    QuoteStatus,
    Rating,
    RatingVote,
    RequestStatus,
    ServiceCategory,
    ServiceRequest,
)

CHAT_CHANNEL = "homeops_chat"

Cursor = tuple[datetime, uuid.UUID] | None


S = TypeVar("S", bound=Select[Any])


def _fresh(stmt: S) -> S:
    return stmt.execution_options(populate_existing=True)


def mark_written(session: AsyncSession) -> None:
    """A read that wrote through a function (a request view counted): the request's transaction must commit."""
    session.sync_session.info[WROTE] = True


class CategoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active(self) -> list[ServiceCategory]:
        stmt = (
            select(ServiceCategory).where(ServiceCategory.is_active).order_by(ServiceCategory.display_order)
        )
        return list(await self.session.scalars(stmt))

    async def known(self, codes: Sequence[str]) -> set[str]:
        if not codes:
            return set()
        stmt = select(ServiceCategory.code).where(
            ServiceCategory.code.in_(list(codes)), ServiceCategory.is_active
        )
        return set(await self.session.scalars(stmt))


# What a provider card shows (``schemas.ProviderCardOut``) and the search's keyset needs.
_CARD_COLUMNS = (
    "id, provider_type, business_name, description, services_offered, coverage_areas, years_of_experience, "
    "average_rating, total_ratings, total_projects, completion_rate, response_time_hours, is_verified, is_featured"
)


class ProviderRepository(Repository[ProviderProfile]):
    model = ProviderProfile

    async def by_user(self, user_id: uuid.UUID, *, lock: bool = False) -> ProviderProfile | None:
        stmt = select(ProviderProfile).where(ProviderProfile.user_id == user_id)
        return await self.session.scalar(_fresh(stmt.with_for_update() if lock else stmt))

    async def of_companies(self, org_ids: Sequence[uuid.UUID]) -> list[ProviderProfile]:
        if not org_ids:
            return []
        stmt = select(ProviderProfile).where(ProviderProfile.organization_id.in_(list(org_ids)))
        return list(await self.session.scalars(stmt.order_by(ProviderProfile.created_at)))

    async def by_ids(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ProviderProfile]:
        if not ids:
            return {}
        rows = await self.session.scalars(select(ProviderProfile).where(ProviderProfile.id.in_(set(ids))))
        return {p.id: p for p in rows}

    async def search(
        self,
        *,
        query: str | None,
        service: str | None,
        city: str | None,
        district: str | None,
        min_rating: Decimal | None,
        provider_type: str | None,
        after: tuple[bool, Decimal, uuid.UUID] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """The public directory search (``homeops_search_providers``: verified only, its indexes): the cards'
        columns only, as plain rows (no entity per result: a page is 50 profiles with their search vectors)."""
        stmt = text(
            f"SELECT {_CARD_COLUMNS} FROM homeops_search_providers(:q, :svc, :city, :district, :min_rating, "
            "CAST(:ptype AS provider_type), :a_featured, :a_rating, :a_id, :limit)"
        )
        params = {
            "q": query,
            "svc": service,
            "city": city,
            "district": district,
            "min_rating": min_rating,
            "ptype": provider_type,
            "a_featured": after[0] if after else None,
            "a_rating": after[1] if after else None,
            "a_id": after[2] if after else None,
            "limit": limit,
        }
        result = await self.session.execute(stmt, params)
        return [dict(row) for row in result.mappings()]

    async def become_provider(self) -> str:
        return str(await self.session.scalar(text("SELECT homeops_become_provider()")))

    async def refresh_stats(self, provider_id: uuid.UUID) -> None:
        """Recomputes the provider's aggregates from their source rows (under its row lock), in this
        transaction; loaded copies of the profile are stale afterwards."""
        await self.session.execute(text("SELECT homeops_refresh_provider_stats(:p)"), {"p": provider_id})

    async def publish_portfolio(self, provider_id: uuid.UUID, public: bool) -> None:
        await rows_affected(
            self.session,
            update(PortfolioItem)
            .where(PortfolioItem.provider_id == provider_id)
            .values(provider_public=public),
        )


class PortfolioRepository(Repository[PortfolioItem]):
    model = PortfolioItem

    async def of_provider(self, provider_id: uuid.UUID) -> list[PortfolioItem]:
        stmt = (
            select(PortfolioItem)
            .where(PortfolioItem.provider_id == provider_id)
            .order_by(
                PortfolioItem.is_featured.desc(),
                PortfolioItem.display_order,
                PortfolioItem.created_at,
                PortfolioItem.id,
            )
        )
        return list(await self.session.scalars(stmt))

    async def count(self, provider_id: uuid.UUID) -> int:
        stmt = select(func.count()).select_from(PortfolioItem).where(PortfolioItem.provider_id == provider_id)
        return int(await self.session.scalar(stmt) or 0)

    async def lock(self, item_id: uuid.UUID) -> PortfolioItem | None:
        return await self.get_for_update(item_id)


class DiagnosticRepository(Repository[Diagnostic]):
    model = Diagnostic

    async def get_own(self, user_id: uuid.UUID, diagnostic_id: uuid.UUID) -> Diagnostic | None:
        stmt = select(Diagnostic).where(Diagnostic.user_id == user_id, Diagnostic.id == diagnostic_id)
        return await self.session.scalar(_fresh(stmt))

    async def mine(self, user_id: uuid.UUID, limit: int, after: Cursor) -> list[Diagnostic]:
        stmt = keyset(
            select(Diagnostic).where(Diagnostic.user_id == user_id),
            limit,
            after,
            Diagnostic.created_at,
            Diagnostic.id,
        )
        return list(await self.session.scalars(stmt))

    async def images_older_than(self, cutoff: datetime) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
        """(Worker.) Diagnostics whose image is still stored and older than ``cutoff``."""
        rows = await self.session.execute(
            select(Diagnostic.user_id, Diagnostic.id, Diagnostic.image_key).where(
                Diagnostic.image_key.is_not(None), Diagnostic.created_at < cutoff
            )
        )
        return [(u, i, k) for u, i, k in rows.all() if k is not None]

    async def forget_images(self, keys: Sequence[tuple[uuid.UUID, uuid.UUID]], at: datetime) -> int:
        count = 0
        for user_id, diagnostic_id in keys:
            count += await rows_affected(
                self.session,
                update(Diagnostic)
                .where(Diagnostic.user_id == user_id, Diagnostic.id == diagnostic_id)
                .values(image_key=None, image_deleted_at=at),
            )
        return count


class RequestRepository(Repository[ServiceRequest]):
    model = ServiceRequest

    async def visible(self, request_id: uuid.UUID) -> ServiceRequest | None:
        """The row if the policies show it (the requester, the selected provider, admins)."""
        return await self.get(request_id)

    async def lock(self, requester_id: uuid.UUID, request_id: uuid.UUID) -> ServiceRequest | None:
        stmt = select(ServiceRequest).where(
            ServiceRequest.requester_id == requester_id, ServiceRequest.id == request_id
        )
        return await self.session.scalar(_fresh(stmt.with_for_update()))

    async def mine(
        self, requester_id: uuid.UUID, status: RequestStatus | None, limit: int, after: Cursor
    ) -> list[ServiceRequest]:
        stmt = select(ServiceRequest).where(ServiceRequest.requester_id == requester_id)
        if status is not None:
            stmt = stmt.where(ServiceRequest.status == status)
        stmt = keyset(stmt, limit, after, ServiceRequest.created_at, ServiceRequest.id)
        return list(await self.session.scalars(stmt))

    async def provider_view(
        self, request_id: uuid.UUID, provider_id: uuid.UUID, *, count_view: bool
    ) -> dict[str, Any] | None:
        """One request as the provider sees it (``homeops_provider_request``), counting its first view."""
        result = await self.session.execute(
            text("SELECT * FROM homeops_provider_request(:r, :p, :count)"),
            {"r": request_id, "p": provider_id, "count": count_view},
        )
        row = result.mappings().first()
        if count_view:
            mark_written(self.session)
        return dict(row) if row is not None else None

    async def matching(self, provider_id: uuid.UUID, limit: int, after: Cursor) -> list[dict[str, Any]]:
        """The provider's matching open requests, newest first (``homeops_matching_requests``)."""
        result = await self.session.execute(
            text("SELECT * FROM homeops_matching_requests(:p, :after_ts, :after_id, :limit)"),
            {
                "p": provider_id,
                "after_ts": after[0] if after else None,
                "after_id": after[1] if after else None,
                "limit": limit + 1,
            },
        )
        return [dict(r) for r in result.mappings().all()]

    async def expire_due(self, now: datetime) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
        """(Worker.) Open requests past their expiry become ``expired``; returns (requester, id, title)."""
        stmt = (
            update(ServiceRequest)
            .where(ServiceRequest.status.in_(OPEN_STATUSES), ServiceRequest.expires_at <= now)
            .values(status=RequestStatus.expired)
            .returning(ServiceRequest.requester_id, ServiceRequest.id, ServiceRequest.problem_title)
        )
        rows = await (await self.session.connection()).execute(stmt)
        return [(r, i, t) for r, i, t in rows.all()]


class QuoteRepository(Repository[Quote]):
    model = Quote

    async def submit(self, request_id: uuid.UUID, provider_id: uuid.UUID, values: dict[str, Any]) -> Quote:
        """Inserts through ``homeops_submit_quote`` (the verified/matching rule, the request's counters) and
        returns the new row as that function's owner read it (``homeops_submit_quote_row``): on a cluster the
        API role may not read placements the owner wrote earlier in the same transaction."""
        stmt = select(Quote).from_statement(
            text(
                "SELECT * FROM homeops_submit_quote_row(:request, :provider, :cost, CAST(:breakdown AS jsonb), "
                ":duration, :assessment, :solution, :materials, :warranty, :terms, :validity, "
                "CAST(:attachments AS jsonb))"
            )
        )
        result = await self.session.execute(
            stmt,
            {
                "request": request_id,
                "provider": provider_id,
                "cost": values["estimated_cost"],
                "breakdown": json.dumps(values["cost_breakdown"]),
                "duration": values.get("estimated_duration_days"),
                "assessment": values.get("technical_assessment"),
                "solution": values.get("proposed_solution"),
                "materials": values.get("materials_included", True),
                "warranty": values.get("warranty_period_months"),
                "terms": values.get("terms_and_conditions"),
                "validity": values["validity_period_days"],
                "attachments": json.dumps(values.get("attachments", [])),
            },
        )
        quote: Quote = result.scalar_one()
        return quote

    async def lock(self, requester_id: uuid.UUID, quote_id: uuid.UUID) -> Quote | None:
        stmt = select(Quote).where(Quote.requester_id == requester_id, Quote.id == quote_id)
        return await self.session.scalar(_fresh(stmt.with_for_update()))

    async def of_request(
        self, requester_id: uuid.UUID, request_id: uuid.UUID, provider_ids: Sequence[uuid.UUID] | None = None
    ) -> list[Quote]:
        stmt = select(Quote).where(Quote.requester_id == requester_id, Quote.request_id == request_id)
        if provider_ids is not None:
            stmt = stmt.where(Quote.provider_id.in_(list(provider_ids)))
        return list(await self.session.scalars(_fresh(stmt.order_by(Quote.submitted_at, Quote.id))))

    async def of_provider(
        self, provider_id: uuid.UUID, status: QuoteStatus | None, limit: int, after: Cursor
    ) -> list[Quote]:
        stmt = select(Quote).where(Quote.provider_id == provider_id)
        if status is not None:
            stmt = stmt.where(Quote.status == status)
        if after is not None:
            stmt = stmt.where(tuple_(Quote.submitted_at, Quote.id) < tuple_(*after))
        stmt = stmt.order_by(Quote.submitted_at.desc(), Quote.id.desc()).limit(limit + 1)
        return list(await self.session.scalars(stmt))

    async def reject_pending(
        self,
        requester_id: uuid.UUID,
        request_id: uuid.UUID,
        reason: str,
        at: datetime,
        *,
        except_id: uuid.UUID | None,
    ) -> list[Quote]:
        """Every other pending quote of the request ``rejected`` with ``reason``; returns them."""
        conditions = [
            Quote.requester_id == requester_id,
            Quote.request_id == request_id,
            Quote.status == QuoteStatus.pending,
        ]
        if except_id is not None:
            conditions.append(Quote.id != except_id)
        stmt = (
            update(Quote)
            .where(*conditions)
            .values(status=QuoteStatus.rejected, rejection_reason=reason, rejected_at=at)
            .returning(Quote)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return list(await self.session.scalars(stmt))

    async def expire_due(self, now: datetime) -> list[Quote]:
        """(Worker.) Pending quotes past their validity (or of a request that is no longer open) expire."""
        stmt = (
            update(Quote)
            .where(Quote.status == QuoteStatus.pending, Quote.expires_at <= now)
            .values(status=QuoteStatus.expired)
            .returning(Quote)
            .execution_options(synchronize_session=False)
        )
        return list(await self.session.scalars(stmt))

    async def expire_of_requests(self, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> int:
        count = 0
        for requester_id, request_id in keys:
            count += await rows_affected(
                self.session,
                update(Quote)
                .where(
                    Quote.requester_id == requester_id,
                    Quote.request_id == request_id,
                    Quote.status == QuoteStatus.pending,
                )
                .values(status=QuoteStatus.expired),
            )
        return count


class ProjectRepository(Repository[Project]):
    model = Project

    async def lock(self, requester_id: uuid.UUID, project_id: uuid.UUID) -> Project | None:
        stmt = select(Project).where(Project.requester_id == requester_id, Project.id == project_id)
        return await self.session.scalar(_fresh(stmt.with_for_update()))

    async def by_key(self, requester_id: uuid.UUID, project_id: uuid.UUID) -> Project | None:
        stmt = select(Project).where(Project.requester_id == requester_id, Project.id == project_id)
        return await self.session.scalar(_fresh(stmt))

    async def of_requester(
        self, requester_id: uuid.UUID, status: ProjectStatus | None, limit: int, after: Cursor
    ) -> list[Project]:
        stmt = select(Project).where(Project.requester_id == requester_id)
        if status is not None:
            stmt = stmt.where(Project.status == status)
        return list(await self.session.scalars(keyset(stmt, limit, after, Project.created_at, Project.id)))

    async def of_provider(
        self, provider_id: uuid.UUID, status: ProjectStatus | None, limit: int, after: Cursor
    ) -> list[Project]:
        stmt = select(Project).where(Project.provider_id == provider_id)
        if status is not None:
            stmt = stmt.where(Project.status == status)
        return list(await self.session.scalars(keyset(stmt, limit, after, Project.created_at, Project.id)))

    async def rating_id(self, requester_id: uuid.UUID, project_id: uuid.UUID) -> uuid.UUID | None:
        stmt = select(Rating.id).where(Rating.requester_id == requester_id, Rating.project_id == project_id)
        return await self.session.scalar(stmt)


class ChatRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, message: ChatMessage) -> ChatMessage:
        """Inserts the message and announces it (``NOTIFY``, delivered when the transaction commits) to every
        API process serving the conversation."""
        self.session.add(message)
        await self.session.flush()
        await self.announce(message.project_id, message.requester_id, "message", message.id)
        return message

    async def announce(
        self, project_id: uuid.UUID, requester_id: uuid.UUID, kind: str, message_id: uuid.UUID | None
    ) -> None:
        payload = json.dumps(
            {
                "p": str(project_id),
                "r": str(requester_id),
                "k": kind,
                "m": str(message_id) if message_id else None,
            }
        )
        await self.session.execute(select(func.pg_notify(literal(CHAT_CHANNEL), literal(payload))))

    async def get(self, requester_id: uuid.UUID, message_id: uuid.UUID) -> ChatMessage | None:
        stmt = select(ChatMessage).where(
            ChatMessage.requester_id == requester_id, ChatMessage.id == message_id
        )
        return await self.session.scalar(_fresh(stmt))

    async def lock(self, requester_id: uuid.UUID, message_id: uuid.UUID) -> ChatMessage | None:
        stmt = select(ChatMessage).where(
            ChatMessage.requester_id == requester_id, ChatMessage.id == message_id
        )
        return await self.session.scalar(_fresh(stmt.with_for_update()))

    @staticmethod
    def _hidden_for(side: ChatSide) -> Any:
        return (
            ChatMessage.deleted_by_requester
            if side is ChatSide.requester
            else ChatMessage.deleted_by_provider
        )

    async def history(
        self, requester_id: uuid.UUID, project_id: uuid.UUID, side: ChatSide | None, limit: int, after: Cursor
    ) -> list[ChatMessage]:
        """Newest first; what the caller's side deleted is left out (admins see everything)."""
        stmt = select(ChatMessage).where(
            ChatMessage.requester_id == requester_id, ChatMessage.project_id == project_id
        )
        if side is not None and side is not ChatSide.system:
            stmt = stmt.where(self._hidden_for(side).is_(False))
        stmt = keyset(stmt, limit, after, ChatMessage.created_at, ChatMessage.id)
        return list(await self.session.scalars(stmt))

    async def mark_read(
        self,
        requester_id: uuid.UUID,
        project_id: uuid.UUID,
        reader: ChatSide,
        at: datetime,
        up_to: datetime | None,
    ) -> int:
        """The messages the other side sent that the reader's side has not read (up to ``up_to``)."""
        conditions = [
            ChatMessage.requester_id == requester_id,
            ChatMessage.project_id == project_id,
            ChatMessage.is_read.is_(False),
            ChatMessage.sender_side
            == (ChatSide.provider if reader is ChatSide.requester else ChatSide.requester),
        ]
        if up_to is not None:
            conditions.append(ChatMessage.created_at <= up_to)
        return await rows_affected(
            self.session, update(ChatMessage).where(*conditions).values(is_read=True, read_at=at)
        )

    async def unread(self, requester_id: uuid.UUID, project_id: uuid.UUID, reader: ChatSide) -> int:
        sender = ChatSide.provider if reader is ChatSide.requester else ChatSide.requester
        stmt = (
            select(func.count())
            .select_from(ChatMessage)
            .where(
                ChatMessage.requester_id == requester_id,
                ChatMessage.project_id == project_id,
                ChatMessage.is_read.is_(False),
                ChatMessage.sender_side == sender,
                self._hidden_for(reader).is_(False),
            )
        )
        return int(await self.session.scalar(stmt) or 0)

    async def unread_as_requester(self, requester_id: uuid.UUID) -> dict[uuid.UUID, int]:
        stmt = (
            select(ChatMessage.project_id, func.count())
            .where(
                ChatMessage.requester_id == requester_id,
                ChatMessage.is_read.is_(False),
                ChatMessage.sender_side == ChatSide.provider,
                ChatMessage.deleted_by_requester.is_(False),
            )
            .group_by(ChatMessage.project_id)
        )
        return {p: int(n) for p, n in (await self.session.execute(stmt)).all()}

    async def unread_as_provider(
        self, user_id: uuid.UUID, org_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, int]:
        who = ChatMessage.provider_user_id == user_id
        if org_ids:
            who = or_(who, ChatMessage.provider_org_id.in_(list(org_ids)))
        stmt = (
            select(ChatMessage.project_id, func.count())
            .where(
                who,
                ChatMessage.is_read.is_(False),
                ChatMessage.sender_side == ChatSide.requester,
                ChatMessage.deleted_by_provider.is_(False),
            )
            .group_by(ChatMessage.project_id)
        )
        return {p: int(n) for p, n in (await self.session.execute(stmt)).all()}

    async def delete_for(self, message: ChatMessage, side: ChatSide) -> bool:
        """Marks the message deleted for ``side``; the row goes once both sides deleted it. True: gone."""
        if side is ChatSide.requester:
            message.deleted_by_requester = True
        else:
            message.deleted_by_provider = True
        await self.session.flush()
        if message.deleted_by_requester and message.deleted_by_provider:
            await rows_affected(
                self.session,
                delete(ChatMessage).where(
                    ChatMessage.requester_id == message.requester_id, ChatMessage.id == message.id
                ),
            )
            return True
        return False

    async def is_unread(self, requester_id: uuid.UUID, message_id: uuid.UUID) -> bool:
        """(Worker.) Whether the message still exists unread (the offline notification's condition)."""
        stmt = select(ChatMessage.is_read).where(
            ChatMessage.requester_id == requester_id, ChatMessage.id == message_id
        )
        value = await self.session.scalar(stmt)
        return value is False

    @staticmethod
    def old_chats(cutoff: datetime) -> Any:
        """Messages of projects completed before ``cutoff`` (same shard: joined by the full key)."""
        return (
            select(literal(1))
            .where(
                Project.requester_id == ChatMessage.requester_id,
                Project.id == ChatMessage.project_id,
                Project.status == ProjectStatus.completed,
                Project.completed_at < cutoff,
            )
            .exists()
        )


class RatingRepository(Repository[Rating]):
    model = Rating

    async def lock(self, requester_id: uuid.UUID, rating_id: uuid.UUID) -> Rating | None:
        stmt = select(Rating).where(Rating.requester_id == requester_id, Rating.id == rating_id)
        return await self.session.scalar(_fresh(stmt.with_for_update()))

    async def of_provider(
        self, provider_id: uuid.UUID, *, query: str | None, featured: bool, limit: int, after: Cursor
    ) -> list[Rating]:
        stmt = select(Rating).where(Rating.provider_id == provider_id)
        if featured:
            stmt = stmt.where(Rating.is_featured.is_(True))
        if query:
            stmt = stmt.where(
                Rating.search_vector.op("@@")(func.websearch_to_tsquery(literal("english"), query))
            )
        return list(await self.session.scalars(keyset(stmt, limit, after, Rating.created_at, Rating.id)))

    async def summary(self, provider_id: uuid.UUID) -> dict[str, Any]:
        r = Rating
        dims = ("overall", "quality", "timeliness", "professionalism", "value", "communication")
        columns = [func.count().label("total")]
        columns += [func.count().filter(r.overall_rating == n).label(f"s{n}") for n in range(1, 6)]
        columns += [func.round(func.avg(getattr(r, f"{d}_rating")), 2).label(d) for d in dims]
        columns += [
            func.round(
                100  # an integer: 100.0 would be a double, and round(double, int) does not exist
                * func.count().filter(r.would_recommend.is_(True))
                / func.nullif(func.count().filter(r.would_recommend.is_not(None)), 0),
                1,
            ).label("recommend")
        ]
        row = (await self.session.execute(select(*columns).where(r.provider_id == provider_id))).one()
        return dict(row._mapping)

    async def trend(self, provider_id: uuid.UUID, since: datetime) -> list[tuple[date, int, Decimal]]:
        """Ratings per calendar month (UTC) since ``since``: the month, how many, their average overall rating."""
        month = func.date_trunc(literal("month"), func.timezone(literal("UTC"), Rating.created_at))
        stmt = (
            select(month.label("month"), func.count(), func.round(func.avg(Rating.overall_rating), 2))
            .where(Rating.provider_id == provider_id, Rating.created_at >= since)
            .group_by(month)
            .order_by(month)
        )
        return [(m.date(), int(n), avg) for m, n, avg in (await self.session.execute(stmt)).all()]

    async def vote(self, requester_id: uuid.UUID, rating_id: uuid.UUID, helpful: bool) -> int:
        result = await self.session.execute(
            text("SELECT homeops_rating_vote(:r, :id, :h)"),
            {"r": requester_id, "id": rating_id, "h": helpful},
        )
        return int(result.scalar_one())

    async def my_votes(self, user_id: uuid.UUID, rating_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        if not rating_ids:
            return set()
        stmt = select(RatingVote.rating_id).where(
            and_(RatingVote.user_id == user_id, RatingVote.rating_id.in_(list(rating_ids)))
        )
        return set(await self.session.scalars(stmt))

"""Ratings and reviews (seed 002 ``ratings``; Scenario 1 step 7).

One rating per project (unique), only after completion, only by the homeowner; six 1–5 dimensions, a title, a
text, would-recommend. Editable for 30 days and answered once by the provider — both enforced by the ratings
trigger (the service answers first with a clear 409). Helpful votes are one per user
(``homeops_rating_vote``). Admins feature reviews. Reviews are public: a provider's list (featured first
optional, full-text search) and its rating distribution. Every change recomputes the provider's aggregates
(``homeops_refresh_provider_stats``) right after it committed, in a transaction of its own
(``common.refresh_provider_stats``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg import errors as pg_errors
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, Forbidden
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.uow import UnitOfWork
from homeops.identity.models import User
from homeops.marketplace.common import (
    NotYourSide,
    ProjectNotFound,
    ProviderNotFound,
    RatingNotFound,
    load_by_id,
    problem_from_database,
    refresh_provider_stats,
    side_of,
)
from homeops.marketplace.models import ChatSide, Project, ProjectStatus, Rating
from homeops.marketplace.notify import Note, queue_notes
from homeops.marketplace.repository import ProjectRepository, ProviderRepository, RatingRepository
from homeops.marketplace.schemas import RatingIn, RatingOut, RatingPatch, ReviewSummaryOut, ReviewTrendPoint

EDIT_WINDOW = timedelta(days=30)
DIMENSIONS = ("overall", "quality", "timeliness", "professionalism", "value", "communication")


class AlreadyRated(Conflict):
    code, title = "already_rated", "This project is already rated"


class ProjectNotCompleted(Conflict):
    code, title = "project_not_completed", "Only a completed project is rated"


class EditWindowClosed(Conflict):
    code, title = "rating_edit_window_closed", "The rating can no longer be changed"


class AlreadyAnswered(Conflict):
    code, title = "already_answered", "The provider already answered this review"


def rating_out(rating: Rating) -> RatingOut:
    data: dict[str, Any] = {c.key: getattr(rating, c.key) for c in Rating.__table__.columns}
    data["editable_until"] = rating.created_at + EDIT_WINDOW
    return RatingOut.model_validate(data)


def reviewer_name(full_name: str | None) -> str:
    """ "Sara A." — the first name and the initial of the last."""
    parts = (full_name or "").split()
    if not parts:
        return "A homeowner"
    return (parts[0] + (f" {parts[-1][0]}." if len(parts) > 1 else ""))[:100]


class RatingService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.repo = RatingRepository(uow.session)
        self.providers = ProviderRepository(uow.session)

    def _translate(self, exc: DBAPIError) -> Exception:
        return problem_from_database(exc) or exc

    async def create(self, project_id: uuid.UUID, data: RatingIn) -> RatingOut:
        me = self.uow.actor.require_user_id()
        found = await load_by_id(self.uow, Project, project_id, not_found=ProjectNotFound)
        if found.requester_id != me:
            if side_of(self.uow, found) is not None:
                raise NotYourSide("The homeowner rates the project.")
            raise ProjectNotFound()
        project = await ProjectRepository(self.uow.session).lock(me, project_id)
        if project is None:
            raise ProjectNotFound()
        if project.status is not ProjectStatus.completed:
            raise ProjectNotCompleted(f"The project is {project.status.value.replace('_', ' ')}.")
        if await ProjectRepository(self.uow.session).rating_id(me, project.id) is not None:
            raise AlreadyRated()
        name = await self.uow.session.scalar(select(User.full_name).where(User.id == me))
        try:
            rating = await self.repo.add(
                Rating(
                    requester_id=me,
                    id=uuid.uuid4(),
                    project_id=project.id,
                    provider_id=project.provider_id,
                    provider_user_id=project.provider_user_id,
                    provider_org_id=project.provider_org_id,
                    reviewer_name=reviewer_name(name),
                    **data.model_dump(),
                )
            )
        except DBAPIError as exc:
            if isinstance(exc.orig, pg_errors.UniqueViolation):
                raise AlreadyRated() from exc
            raise
        await refresh_provider_stats(self.uow, project.provider_id)
        self.uow.record(
            AuditEntry("rating_created", "rating", rating.id, new_values=data.model_dump(mode="json"))
        )
        await queue_notes(
            self.uow,
            [
                Note(
                    project.provider_user_id,
                    "rating_received",
                    f"New {data.overall_rating}★ review: {project.project_title}",
                    data.review_title or (data.review_text or "")[:200] or "You received a rating.",
                    "rating",
                    rating.id,
                    f"/api/v1/ratings/{rating.id}",
                )
            ],
        )
        return rating_out(rating)

    async def get(self, rating_id: uuid.UUID) -> RatingOut:
        return rating_out(await load_by_id(self.uow, Rating, rating_id, not_found=RatingNotFound))

    async def _locked(self, rating_id: uuid.UUID) -> Rating:
        found = await load_by_id(self.uow, Rating, rating_id, not_found=RatingNotFound)
        rating = await self.repo.lock(found.requester_id, rating_id)
        if rating is None:
            raise RatingNotFound()
        return rating

    async def update(self, rating_id: uuid.UUID, patch: RatingPatch) -> RatingOut:
        rating = await self._locked(rating_id)
        if rating.requester_id != self.uow.actor.user_id:
            raise NotYourSide("Only the reviewer changes a review.")
        if self.uow.now() > rating.created_at + EDIT_WINDOW:
            raise EditWindowClosed("A rating can be changed for 30 days after it was given.")
        changes = patch.model_dump(exclude_unset=True)
        old = {k: getattr(rating, k) for k in changes}
        for key, value in changes.items():
            setattr(rating, key, value)
        try:
            await self.repo.save()
        except DBAPIError as exc:
            raise self._translate(exc) from exc
        await refresh_provider_stats(self.uow, rating.provider_id)
        self.uow.record(
            AuditEntry(
                "rating_updated",
                "rating",
                rating.id,
                old_values=old,
                new_values=patch.model_dump(mode="json", exclude_unset=True),
            )
        )
        return rating_out(rating)

    async def respond(self, rating_id: uuid.UUID, text: str) -> RatingOut:
        rating = await self._locked(rating_id)
        if side_of(self.uow, rating, write=True) is not ChatSide.provider:
            raise NotYourSide("The rated provider answers its reviews.")
        if rating.response_from_provider is not None:
            raise AlreadyAnswered("A review is answered once.")
        rating.response_from_provider = text
        rating.response_at = self.uow.now()
        rating.response_by = self.uow.actor.user_id
        try:
            await self.repo.save()
        except DBAPIError as exc:
            raise self._translate(exc) from exc
        self.uow.record(AuditEntry("rating_answered", "rating", rating.id))
        await queue_notes(
            self.uow,
            [
                Note(
                    rating.requester_id,
                    "rating_answered",
                    "The provider answered your review",
                    text[:300],
                    "rating",
                    rating.id,
                    f"/api/v1/ratings/{rating.id}",
                )
            ],
        )
        return rating_out(rating)

    async def vote(self, rating_id: uuid.UUID, helpful: bool) -> RatingOut:
        found = await load_by_id(self.uow, Rating, rating_id, not_found=RatingNotFound)
        if side_of(self.uow, found) is not None:
            raise Forbidden("The parties of a review do not vote on it.", code="own_review")
        count = await self.repo.vote(found.requester_id, rating_id, helpful)
        # Not read again: on a cluster the API role may not read the placement the function's owner just
        # wrote in this transaction; the function returns the new count.
        return rating_out(found).model_copy(update={"helpful_count": count})

    async def feature(self, rating_id: uuid.UUID, featured: bool) -> RatingOut:
        rating = await self._locked(rating_id)
        rating.is_featured = featured
        await self.repo.save()
        self.uow.record(
            AuditEntry("rating_featured" if featured else "rating_unfeatured", "rating", rating.id)
        )
        return rating_out(rating)

    async def of_provider(
        self, provider_id: uuid.UUID, page: PageParams, *, query: str | None, featured: bool
    ) -> tuple[list[RatingOut], str | None]:
        if await self.providers.get(provider_id) is None:
            raise ProviderNotFound()
        rows = await self.repo.of_provider(
            provider_id, query=query, featured=featured, limit=page.limit, after=decode_cursor(page.cursor)
        )
        items, cursor = build_page(rows, page.limit, key=lambda r: (r.created_at, r.id))
        return [rating_out(r) for r in items], cursor

    async def summary(self, provider_id: uuid.UUID) -> ReviewSummaryOut:
        if await self.providers.get(provider_id) is None:
            raise ProviderNotFound()
        row = await self.repo.summary(provider_id)
        recommend = row.get("recommend")
        now = self.uow.now().astimezone(UTC)
        months_back = now.year * 12 + now.month - 1 - 11  # this month and the eleven before it
        since = datetime(months_back // 12, months_back % 12 + 1, 1, tzinfo=UTC)
        trend = await self.repo.trend(provider_id, since)
        return ReviewSummaryOut(
            total=int(row["total"]),
            distribution={f"{n}": int(row[f"s{n}"]) for n in range(5, 0, -1)},
            averages={d: row[d] for d in DIMENSIONS},
            would_recommend_pct=Decimal(str(recommend)) if recommend is not None else None,
            trend=[ReviewTrendPoint(month=m, count=n, average=avg) for m, n, avg in trend],
        )

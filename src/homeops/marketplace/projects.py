"""Projects (seed 002 ``projects``; Scenario 1 step 6).

Workflow (enforced here with clear answers, and by the database's trigger):

```
scheduled → in_progress → completed          (the provider starts; either side completes)
scheduled / in_progress → cancelled          (either side)
scheduled / in_progress / completed → disputed   (either side, with a reason)
disputed → scheduled / in_progress / completed / cancelled   (a platform admin, with a resolution)
```

Completion records the actual cost (a different cost needs a reason — a database constraint), the completion
date and the warranty (from that date, for the quote's warranty months), and — when the request was for a
home's devices — queues ``marketplace.service_events``: acting as the homeowner, the worker writes a repair
into each device's service history through the maintenance domain (linking back to the project). Every change
posts a system message in the project chat and notifies the other party after the commit. The provider's
aggregates (total projects, completion rate) are recomputed right after the commit, in a transaction of its own
(``common.refresh_provider_stats``).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from anyio import to_thread
from sqlalchemy import select

from homeops.core.audit import AuditEntry
from homeops.core.errors import Forbidden, UnprocessableEntity
from homeops.core.jobs import enqueue
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.schemas import DownloadOut
from homeops.core.storage import signed_download
from homeops.core.uow import UnitOfWork
from homeops.maintenance.service_events import safe_file_name, sniff_content_type
from homeops.marketplace.chat import post_system_message, status_changed_event, system_event_english
from homeops.marketplace.common import (
    FileNotFoundProblem,
    InvalidTransition,
    NotYourSide,
    PayloadTooLarge,
    ProjectNotFound,
    UnsupportedMedia,
    acting_provider,
    load_by_id,
    max_image_bytes,
    refresh_provider_stats,
    side_of,
    store,
)
from homeops.marketplace.images import sanitize_image
from homeops.marketplace.models import ChatSide, Project, ProjectStatus, ProviderProfile
from homeops.marketplace.notify import Note, queue_notes
from homeops.marketplace.providers import card
from homeops.marketplace.repository import ProjectRepository, ProviderRepository
from homeops.marketplace.schemas import (
    ProjectFileOut,
    ProjectOut,
    ProjectPatch,
    ProjectStatusIn,
    WorkNoteOut,
)

SERVICE_EVENTS = "marketplace.service_events"
PHASES = ("before", "during", "after", "documents")
MAX_FILES_PER_PHASE = 30
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
S = ProjectStatus
# (from, to) → who: "provider", "either", "admin"
TRANSITIONS: dict[tuple[ProjectStatus, ProjectStatus], str] = {
    (S.scheduled, S.in_progress): "provider",
    (S.in_progress, S.completed): "either",
    (S.scheduled, S.cancelled): "either",
    (S.in_progress, S.cancelled): "either",
    (S.scheduled, S.disputed): "either",
    (S.in_progress, S.disputed): "either",
    (S.completed, S.disputed): "either",
    **{(S.disputed, to): "admin" for to in (S.scheduled, S.in_progress, S.completed, S.cancelled)},
}


def _files(items: list[dict[str, Any]] | None) -> list[ProjectFileOut]:
    return [
        ProjectFileOut(
            index=i,
            caption=f.get("caption"),
            content_type=f["content_type"],
            size=f["size"],
            uploaded_at=f.get("uploaded_at"),
        )
        for i, f in enumerate(items or [])
    ]


async def project_out(
    uow: UnitOfWork, project: Project, provider: ProviderProfile | None = None
) -> ProjectOut:
    if provider is None:
        provider = (await ProviderRepository(uow.session).by_ids([project.provider_id])).get(
            project.provider_id
        )
    side = side_of(uow, project)
    data: dict[str, Any] = {c.key: getattr(project, c.key) for c in Project.__table__.columns}
    data.update(
        provider=card(provider) if provider is not None else None,
        work_notes=[WorkNoteOut.model_validate(n) for n in project.work_notes or []],
        before_images=_files(project.before_images),
        during_images=_files(project.during_images),
        after_images=_files(project.after_images),
        documents=_files(project.documents),
        my_side="admin" if side is None else side.value,
        rating_id=await ProjectRepository(uow.session).rating_id(project.requester_id, project.id),
    )
    return ProjectOut.model_validate(data)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


class ProjectService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.repo = ProjectRepository(uow.session)
        self.providers = ProviderRepository(uow.session)

    async def get(self, project_id: uuid.UUID) -> ProjectOut:
        return await project_out(
            self.uow, await load_by_id(self.uow, Project, project_id, not_found=ProjectNotFound)
        )

    async def mine(
        self,
        page: PageParams,
        as_: Literal["requester", "provider"],
        status: ProjectStatus | None,
        provider_id: uuid.UUID | None,
    ) -> tuple[list[ProjectOut], str | None]:
        after = decode_cursor(page.cursor)
        if as_ == "provider":
            profile = await acting_provider(self.uow, provider_id, write=False)
            rows = await self.repo.of_provider(profile.id, status, page.limit, after)
        else:
            rows = await self.repo.of_requester(self.uow.actor.require_user_id(), status, page.limit, after)
        items, cursor = build_page(rows, page.limit, key=lambda p: (p.created_at, p.id))
        return [await project_out(self.uow, p) for p in items], cursor

    async def _locked(self, project_id: uuid.UUID) -> tuple[Project, ChatSide | None]:
        project = await load_by_id(self.uow, Project, project_id, not_found=ProjectNotFound, lock=True)
        side = side_of(self.uow, project, write=True)
        if side is None and not self.uow.actor.is_admin:
            if side_of(self.uow, project) is not None:
                raise NotYourSide("Your role in the provider's company does not allow this.")
            raise ProjectNotFound()
        return project, side

    async def change_status(self, project_id: uuid.UUID, data: ProjectStatusIn) -> ProjectOut:
        project, side = await self._locked(project_id)
        old, new = project.status, data.status
        who = TRANSITIONS.get((old, new))
        if who is None:
            raise InvalidTransition(f"A {old.value} project cannot become {new.value}.")
        if who == "admin" and not self.uow.actor.is_admin:
            raise Forbidden("Only a platform admin resolves a dispute.", code="admin_required")
        if who == "provider" and side is not ChatSide.provider:
            raise NotYourSide("The provider starts the work.")
        if who == "either" and side is None:
            raise Forbidden("Only the homeowner or the provider do this.", code="not_a_party")
        now, today = self.uow.now(), self.uow.today()
        note = data.note
        if new is S.in_progress and old is S.scheduled:
            project.actual_start_date = today
            project.started_at = now
        if new is S.completed:
            actual = (
                data.actual_cost
                if data.actual_cost is not None
                else project.actual_cost or project.agreed_cost
            )
            if actual != project.agreed_cost and not (
                data.cost_difference_reason or project.cost_difference_reason
            ):
                raise UnprocessableEntity(
                    "The actual cost differs from the agreed one: say why (cost_difference_reason).",
                    code="cost_difference_reason_required",
                )
            project.actual_cost = actual
            if data.cost_difference_reason:
                project.cost_difference_reason = data.cost_difference_reason
            if project.actual_completion_date is None:
                project.actual_completion_date = today
                project.completed_at = now
            if project.warranty_months:
                project.warranty_start_date = project.actual_completion_date
                project.warranty_end_date = _add_months(
                    project.actual_completion_date, project.warranty_months
                )
        if new is S.cancelled:
            project.cancellation_reason = note
            project.cancelled_by = self.uow.actor.user_id
        if new is S.disputed:
            if not note:
                raise UnprocessableEntity("Say what the dispute is about (note).", code="note_required")
            project.disputed_from = old
            project.dispute_reason = note
            project.dispute_opened_by = self.uow.actor.user_id
            project.dispute_opened_at = now
        if old is S.disputed:
            if not note:
                raise UnprocessableEntity("Record the resolution (note).", code="note_required")
            project.disputed_from = None
            project.dispute_resolution = note
            project.dispute_resolved_at = now
        project.status = new
        await self.repo.save()
        if new in (S.completed, S.cancelled) or old in (S.completed, S.cancelled) or old is S.disputed:
            await refresh_provider_stats(self.uow, project.provider_id)
        if (
            new is S.completed
            and project.home_id is not None
            and project.device_ids
            and not project.service_events
        ):
            await enqueue(
                self.uow.session,
                SERVICE_EVENTS,
                {"requester_id": str(project.requester_id), "project_id": str(project.id)},
                dedupe_key=f"{SERVICE_EVENTS}:{project.id}",
            )
        actor_side = side if side is not None else ChatSide.system
        await post_system_message(
            self.uow, project, actor_side, status_changed_event(actor_side, old, new, note)
        )
        text = system_event_english(status_changed_event(actor_side, old, new, None))  # the notifications'
        self.uow.record(
            AuditEntry(
                "project_status_changed",
                "project",
                project.id,
                old_values={"status": old.value},
                new_values={
                    "status": new.value,
                    "note": note,
                    "actual_cost": str(project.actual_cost) if project.actual_cost else None,
                },
            )
        )
        recipients = {
            ChatSide.requester: [project.provider_user_id],
            ChatSide.provider: [project.requester_id],
        }.get(actor_side, [project.requester_id, project.provider_user_id])
        title = f"Project {new.value.replace('_', ' ')}: {project.project_title}"
        message = text if new is not S.completed else text + " You can now rate the work."
        await queue_notes(
            self.uow,
            [
                Note(
                    user_id,
                    "project_status_changed",
                    title,
                    message if user_id == project.requester_id else text,
                    "project",
                    project.id,
                    f"/api/v1/projects/{project.id}",
                    priority="high" if new in (S.disputed, S.cancelled) else "normal",
                )
                for user_id in recipients
            ],
        )
        return await project_out(self.uow, project)

    async def update(self, project_id: uuid.UUID, patch: ProjectPatch) -> ProjectOut:
        project, side = await self._locked(project_id)
        changes = patch.model_dump(exclude_unset=True)
        if "payment_status" in changes and side is not ChatSide.provider:
            raise NotYourSide("The provider records payments.")
        if "citizen_satisfaction" in changes:
            if side is not ChatSide.requester:
                raise NotYourSide("The homeowner says how satisfied they are.")
            if project.status is not S.completed:
                raise InvalidTransition("Satisfaction is given once the project is completed.")
        if {"scheduled_start_date", "scheduled_end_date"} & changes.keys() and project.status not in (
            S.scheduled,
            S.in_progress,
        ):
            raise InvalidTransition("Only an open project is (re)scheduled.")
        start = changes.get("scheduled_start_date", project.scheduled_start_date)
        end = changes.get("scheduled_end_date", project.scheduled_end_date)
        if start and end and end < start:
            raise UnprocessableEntity("scheduled_end_date is before scheduled_start_date.")
        old = {k: str(getattr(project, k)) if getattr(project, k) is not None else None for k in changes}
        for key, value in changes.items():
            setattr(project, key, value)
        await self.repo.save()
        self.uow.record(
            AuditEntry(
                "project_updated",
                "project",
                project.id,
                old_values=old,
                new_values=patch.model_dump(mode="json", exclude_unset=True),
            )
        )
        return await project_out(self.uow, project)

    async def add_note(self, project_id: uuid.UUID, note: str, images: list[bytes]) -> ProjectOut:
        """A timestamped work note (with photos, kept with the "during" images)."""
        project, side = await self._locked(project_id)
        if side is None:
            raise Forbidden("Only the homeowner or the provider add notes.", code="not_a_party")
        indexes = [await self._add_file(project, "during", data, None, None) for data in images]
        project.work_notes = [
            *(project.work_notes or []),
            {
                "timestamp": self.uow.now().isoformat(),
                "author": side.value,
                "author_id": str(self.uow.actor.user_id),
                "note": note,
                "images": indexes,
            },
        ]
        await self.repo.save()
        self.uow.record(AuditEntry("project_note_added", "project", project.id))
        return await project_out(self.uow, project)

    async def add_file(
        self, project_id: uuid.UUID, phase: str, data: bytes, file_name: str | None, caption: str | None
    ) -> ProjectOut:
        project, side = await self._locked(project_id)
        if side is None:
            raise Forbidden("Only the homeowner or the provider add photos.", code="not_a_party")
        if phase == "documents" and side is not ChatSide.provider:
            raise NotYourSide("The provider adds the technical report and certificates.")
        await self._add_file(project, phase, data, file_name, caption)
        await self.repo.save()
        self.uow.record(AuditEntry("project_file_added", "project", project.id, new_values={"phase": phase}))
        return await project_out(self.uow, project)

    async def _add_file(
        self, project: Project, phase: str, data: bytes, file_name: str | None, caption: str | None
    ) -> int:
        if phase not in PHASES:
            raise UnprocessableEntity(f"phase is one of {', '.join(PHASES)}.")
        attribute = f"{phase}_images" if phase != "documents" else "documents"
        current = list(getattr(project, attribute) or [])
        if len(current) >= MAX_FILES_PER_PHASE:
            raise UnprocessableEntity(
                f"At most {MAX_FILES_PER_PHASE} files per phase.", code="too_many_files"
            )
        if phase == "documents":
            if len(data) > MAX_DOCUMENT_BYTES:
                raise PayloadTooLarge("Documents are limited to 20 MB.")
            content_type = sniff_content_type(data)
            if content_type not in ("application/pdf", "image/jpeg", "image/png"):
                raise UnsupportedMedia("Reports and certificates are PDF, JPEG or PNG.")
            stored = data
            if content_type != "application/pdf":
                limit = await max_image_bytes(self.uow)
                clean = await to_thread.run_sync(lambda: sanitize_image(data, max_bytes=limit))
                stored, content_type = clean.data, clean.content_type
            ext = (
                "pdf"
                if content_type == "application/pdf"
                else content_type.split("/")[1].replace("jpeg", "jpg")
            )
        else:
            limit = await max_image_bytes(self.uow)
            clean = await to_thread.run_sync(lambda: sanitize_image(data, max_bytes=limit))
            stored, content_type, ext = clean.data, clean.content_type, clean.extension
        key = f"projects/{project.requester_id}/{project.id}/{phase}/{uuid.uuid4().hex}-{safe_file_name(file_name)}.{ext}"
        current.append(
            {
                "key": key,
                "caption": (caption or "")[:255] or None,
                "content_type": content_type,
                "size": len(stored),
                "uploaded_at": self.uow.now().isoformat(),
                "uploaded_by": str(self.uow.actor.user_id),
            }
        )
        setattr(project, attribute, current)
        await store(self.uow, key, stored, content_type)
        return len(current) - 1

    async def file(self, project_id: uuid.UUID, phase: str, index: int) -> DownloadOut:
        project = await load_by_id(self.uow, Project, project_id, not_found=ProjectNotFound)
        if phase not in PHASES:
            raise FileNotFoundProblem()
        items = getattr(project, f"{phase}_images" if phase != "documents" else "documents") or []
        if not 0 <= index < len(items):
            raise FileNotFoundProblem()
        item = items[index]
        return await signed_download(
            self.uow.runtime.storage,
            item["key"],
            filename=item["key"].rsplit("/", 1)[-1],
            content_type=item["content_type"],
        )


async def record_service_events(
    uow: UnitOfWork, requester_id: uuid.UUID, project_id: uuid.UUID
) -> list[dict[str, Any]]:
    """(The worker, acting as the homeowner.) One repair event per device of a completed project in the
    device's service history, linking back to the project; devices gone (or a home left) are skipped."""
    from homeops.core.errors import Problem
    from homeops.maintenance.models import ServiceEvent, ServiceEventType
    from homeops.maintenance.repository import home_timezone
    from homeops.maintenance.schemas import ServiceEventIn
    from homeops.maintenance.service_events import ServiceEventService

    repo = ProjectRepository(uow.session)
    project = await repo.lock(requester_id, project_id)
    if project is None or project.status is not S.completed or project.home_id is None:
        return []
    provider = (await ProviderRepository(uow.session).by_ids([project.provider_id])).get(project.provider_id)
    today = uow.today(await home_timezone(uow.session, project.home_id))
    when = min(project.actual_completion_date or today, today)
    single = len(project.device_ids) == 1
    recorded: list[dict[str, Any]] = []
    events = ServiceEventService(uow)
    for device_id in project.device_ids:
        existing = await uow.session.scalar(
            select(ServiceEvent.id).where(
                ServiceEvent.home_id == project.home_id,
                ServiceEvent.device_id == device_id,
                ServiceEvent.source_type == "marketplace_project",
                ServiceEvent.source_id == project.id,
            )
        )
        if existing is not None:
            recorded.append({"device_id": str(device_id), "service_event_id": str(existing)})
            continue
        cost_note = (
            "" if single else f" (project total {project.actual_cost}, {len(project.device_ids)} devices)"
        )
        try:
            out = await events.create(
                device_id,
                ServiceEventIn(
                    event_type=ServiceEventType.repair,
                    event_date=when,
                    description=f"{project.project_title} — marketplace project"[:5000],
                    technician=(provider.business_name if provider else "Marketplace provider")[:200],
                    cost=project.actual_cost if single else None,
                    notes=(
                        f"Recorded from marketplace project {project.id}{cost_note}. "
                        f"Warranty until {project.warranty_end_date}."
                        if project.warranty_end_date
                        else f"Recorded from marketplace project {project.id}{cost_note}."
                    )[:5000],
                ),
                source=("marketplace_project", project.id),
            )
        except Problem:
            continue  # the device is gone or the homeowner left the home
        recorded.append({"device_id": str(device_id), "service_event_id": str(out.id)})
    project.service_events = recorded
    await repo.save()
    return recorded

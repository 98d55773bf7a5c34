"""Complaints (seed 003 ``complaints``): a sentiment score from an explainable lexicon, a priority derived
from it unless the user chose one, and the status workflow new → in_progress → resolved → closed.

Homeowners see their own complaints; support staff (support, technician, manager, admin) see and work on
everyone's (RLS enforces the same). Staff move a complaint to ``in_progress`` and ``resolved``; the owner
or staff may close it (withdrawing it before it is resolved, or confirming the resolution).
"""

from __future__ import annotations

import uuid

from homeops.assistant import sentiment
from homeops.assistant.models import Complaint, ComplaintStatus
from homeops.assistant.repository import ComplaintRepository, device_key, devices_present
from homeops.assistant.schemas import ComplaintIn, ComplaintOut, ComplaintPatch
from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, Forbidden, NotFound
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.tenancy import STAFF_ROLES, HomeRole
from homeops.core.uow import UnitOfWork
from homeops.devices.models import Device
from homeops.devices.service import DeviceNotFound
from homeops.homes.access import load_in_home
from homeops.troubleshooting.models import Priority

__all__ = ["STAFF_ROLES", "ComplaintNotFound", "ComplaintService", "priority_for"]

TRANSITIONS: dict[ComplaintStatus, frozenset[ComplaintStatus]] = {
    ComplaintStatus.new: frozenset({ComplaintStatus.in_progress, ComplaintStatus.closed}),
    ComplaintStatus.in_progress: frozenset({ComplaintStatus.resolved, ComplaintStatus.closed}),
    ComplaintStatus.resolved: frozenset({ComplaintStatus.closed}),
    ComplaintStatus.closed: frozenset(),
}
STAFF_ONLY = frozenset({ComplaintStatus.in_progress, ComplaintStatus.resolved})

# Sentiment score → priority when the user did not choose one (the angrier, the sooner).
PRIORITY_BANDS: tuple[tuple[float, Priority], ...] = (
    (-0.6, Priority.urgent),
    (-0.25, Priority.high),
    (0.25, Priority.medium),
)


class ComplaintNotFound(NotFound):
    code, title = "complaint_not_found", "Complaint not found"


def priority_for(score: float) -> Priority:
    for upper, priority in PRIORITY_BANDS:
        if score <= upper:
            return priority
    return Priority.low


class ComplaintService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        self.complaints = ComplaintRepository(uow.session)

    @property
    def is_staff(self) -> bool:
        return self.uow.actor.is_staff

    async def _out(self, complaints: list[Complaint]) -> list[ComplaintOut]:
        """The complaints as the API shows them: a device deleted since (or that the reader may no longer see:
        neither a member of its home nor staff) is shown as none, as the old ``ON DELETE SET NULL`` did."""
        present = await devices_present(self.session, (device_key(c) for c in complaints))
        out = []
        for complaint in complaints:
            shown = ComplaintOut.model_validate(complaint)
            if complaint.device_id is not None and device_key(complaint) not in present:
                shown = shown.model_copy(update={"device_id": None})
            out.append(shown)
        return out

    async def create(self, data: ComplaintIn) -> ComplaintOut:
        home_id = None
        if data.device_id is not None:
            device, _ = await load_in_home(
                self.uow, Device, data.device_id, HomeRole.guest, not_found=DeviceNotFound
            )
            home_id = device.home_id
        mood = sentiment.analyse(f"{data.title}. {data.description}")
        priority = data.priority or priority_for(mood.score)
        complaint = await self.complaints.add(
            Complaint(
                user_id=self.uow.actor.require_user_id(),
                home_id=home_id,
                device_id=data.device_id,
                title=data.title,
                description=data.description,
                category=data.category,
                priority=priority,
                status=ComplaintStatus.new,
                sentiment_score=mood.score,
                metadata_={
                    "sentiment": mood.explain(),
                    "priority_source": "user" if data.priority else "sentiment",
                },
            )
        )
        self.uow.record(
            AuditEntry(
                "complaint_created",
                "complaint",
                complaint.id,
                new_values={"title": data.title, "priority": priority.value, "sentiment_score": mood.score},
            )
        )
        return ComplaintOut.model_validate(complaint)

    async def _complaint(self, complaint_id: uuid.UUID, *, lock: bool = False) -> Complaint:
        """The caller's complaint by its full key (one shard); staff (RLS: everyone's) look the owner up first
        when they lock it on a cluster, where a lock must name the shard."""
        if not self.is_staff:
            found = await self.complaints.by_key(self.uow.actor.require_user_id(), complaint_id, lock=lock)
        elif lock and self.uow.runtime.distributed:
            owner = await self.complaints.owner_of(complaint_id)
            found = await self.complaints.by_key(owner, complaint_id, lock=True) if owner else None
        else:
            found = await self.complaints.visible(complaint_id, lock=lock)
        if found is None:
            raise ComplaintNotFound()
        return found

    async def get(self, complaint_id: uuid.UUID) -> ComplaintOut:
        [shown] = await self._out([await self._complaint(complaint_id)])
        return shown

    async def search(
        self, page: PageParams, status: ComplaintStatus | None, priority: Priority | None
    ) -> tuple[list[ComplaintOut], str | None]:
        owner = None if self.is_staff else self.uow.actor.require_user_id()
        rows = await self.complaints.search(owner, status, priority, page.limit, decode_cursor(page.cursor))
        items, cursor = build_page(rows, page.limit, key=lambda c: (c.created_at, c.id))
        return await self._out(items), cursor

    async def update(self, complaint_id: uuid.UUID, patch: ComplaintPatch) -> ComplaintOut:
        complaint = await self._complaint(complaint_id, lock=True)
        old, new = complaint.status, patch.status
        if new not in TRANSITIONS[old]:
            raise Conflict(
                f"A {old.value} complaint cannot become {new.value}.", code="invalid_status_transition"
            )
        if new in STAFF_ONLY and not self.is_staff:
            raise Forbidden(f"Only support staff can mark a complaint {new.value}.", code="staff_only")
        if (
            complaint.user_id != self.uow.actor.user_id and not self.is_staff
        ):  # defence in depth; RLS hides these
            raise ComplaintNotFound()
        await self.complaints.set_status(complaint, new)
        self.uow.record(
            AuditEntry(
                "complaint_status_changed",
                "complaint",
                complaint.id,
                old_values={"status": old.value},
                new_values={"status": new.value},
            )
        )
        [shown] = await self._out([complaint])
        return shown

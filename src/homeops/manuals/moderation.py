"""Moderation of the manual library by support/admin staff: verify (a household upload joins the shared
library and is linked into every matching home), hide, delete (its file removed after the commit, unless
another manual still uses it), the reports users file, and the partner organizations trusted to publish into
the shared library (admins). Every action is audited.

The queue of manuals waiting for a moderator counts each manual's links to devices, which are the devices
domain's: that route lives in ``homeops.devices.api`` and hands the queue's rows to :meth:`queue_items`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from anyio import to_thread

from homeops.core.access import check_home_role, load_visible
from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, Forbidden, UnprocessableEntity
from homeops.core.jobs import enqueue
from homeops.core.tenancy import HomeRole, OrgKind
from homeops.core.uow import UnitOfWork
from homeops.manuals.models import Manual, ManualTrustedSource, ManualVisibility, ReportStatus
from homeops.manuals.repository import ManualRepository
from homeops.manuals.schemas import ManualOut, QueueItem, ReportOut, TrustedSourceOut
from homeops.manuals.service import ManualNotFound, is_moderator
from homeops.manuals.tasks import PROCESS_MANUAL
from homeops.organizations.repository import OrganizationRepository
from homeops.organizations.service import OrganizationNotFound

REPORTS_PER_ITEM = 5


class ModeratorsOnly(Forbidden):
    code, title = "moderators_only", "Only support staff moderate the shared library"


class ManualModeration:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        self.manuals = ManualRepository(uow.session)

    async def _locked(self, manual_id: uuid.UUID) -> Manual:
        manual = await self.manuals.locked(manual_id)
        if manual is None:
            raise ManualNotFound()
        return manual

    # --- verify, hide, delete -----------------------------------------------------------------------
    async def verify(self, manual_id: uuid.UUID) -> ManualOut:
        """The manual joins the shared library (it leaves its household: ``home_id`` NULL) and is linked into
        every matching home by the worker; open reports are dismissed. Verifying a shared manual only
        dismisses its reports."""
        manual = await self._locked(manual_id)
        old = {"visibility": manual.visibility.value, "home_id": _str(manual.home_id)}
        now, me = self.uow.now(), self.uow.actor.user_id
        if manual.visibility is not ManualVisibility.shared:
            if (copy := await self.manuals.shared_copy(manual)) is not None:
                raise Conflict(
                    "The shared library already holds this file; delete or hide this copy instead.",
                    code="already_in_library",
                    manual_id=str(copy),
                )
            manual.visibility, manual.home_id = ManualVisibility.shared, None
            manual.verified_by, manual.verified_at = me, now
            await self.manuals.save()
            await self.manuals.set_scope(manual.id, ManualVisibility.shared, None)
            # Linking crosses homes: the worker does it as the system (a separate key from processing's, so
            # a processing job that is just finishing cannot swallow it; linking twice changes nothing).
            await enqueue(
                self.session,
                PROCESS_MANUAL,
                {"manual_id": manual.id, "link": True},
                dedupe_key=f"manual-link:{manual.id}",
            )
        dismissed = await self.manuals.resolve_reports(manual.id, ReportStatus.dismissed, me, now)
        self.uow.record(
            AuditEntry(
                "manual_verified",
                "manual",
                manual.id,
                old_values=old,
                new_values={"visibility": "shared", "home_id": None, "reports_dismissed": dismissed},
            )
        )
        return ManualOut.model_validate(manual)

    async def hide(self, manual_id: uuid.UUID, reason: str) -> ManualOut:
        """Nobody but moderators sees the manual any more (its links stay, unshown); open reports upheld."""
        manual = await self._locked(manual_id)
        old = manual.visibility
        if old is not ManualVisibility.hidden:
            manual.visibility = ManualVisibility.hidden
            await self.manuals.save()
            await self.manuals.set_scope(manual.id, ManualVisibility.hidden, manual.home_id)
        upheld = await self.manuals.resolve_reports(
            manual.id, ReportStatus.upheld, self.uow.actor.user_id, self.uow.now()
        )
        self.uow.record(
            AuditEntry(
                "manual_hidden",
                "manual",
                manual.id,
                old_values={"visibility": old.value},
                new_values={"visibility": "hidden", "reason": reason, "reports_upheld": upheld},
            )
        )
        return ManualOut.model_validate(manual)

    async def delete(self, manual_id: uuid.UUID) -> None:
        """Moderators delete any manual; a home's members delete their household's own uploads. Links,
        passages and reports go with it; the stored file after the commit, unless another manual (the same
        bytes uploaded for another home) still uses it."""
        if is_moderator(self.uow):
            manual = await self._locked(manual_id)
        else:  # the row policy lets members delete their home's uploads (not lock them: that is an update)
            manual = await load_visible(self.uow, Manual, manual_id, not_found=ManualNotFound)
            if manual.visibility is not ManualVisibility.household or manual.home_id is None:
                raise ModeratorsOnly(
                    "Only support staff remove manuals of the shared library; report it instead."
                )
            check_home_role(
                self.uow, manual.home_id, self.uow.actor.home_role(manual.home_id), HomeRole.member
            )
        in_use = await self.manuals.file_in_use(manual.storage_key, manual.id)
        await self.manuals.delete_by_id(manual.id)
        if not in_use:
            storage, key = self.uow.runtime.storage, manual.storage_key

            async def remove_file() -> None:
                await to_thread.run_sync(storage.delete, key)

            self.uow.on_commit(remove_file)
        self.uow.record(
            AuditEntry(
                "manual_deleted",
                "manual",
                manual.id,
                old_values={
                    "title": manual.title,
                    "brand": manual.brand,
                    "visibility": manual.visibility.value,
                    "home_id": _str(manual.home_id),
                    "file_hash": manual.file_hash,
                    "file_removed": not in_use,
                },
            )
        )

    # --- reports and the queue ------------------------------------------------------------------------
    async def reports(self, manual_id: uuid.UUID, limit: int = 100) -> list[ReportOut]:
        await self._manual(manual_id)
        return [ReportOut.model_validate(r) for r in await self.manuals.reports_of(manual_id, limit)]

    async def _manual(self, manual_id: uuid.UUID) -> Manual:
        return await load_visible(self.uow, Manual, manual_id, not_found=ManualNotFound)

    async def queue_items(self, rows: Sequence[dict[str, Any]]) -> list[QueueItem]:
        """The queue's rows (``manual_id``, ``links``, ``open_reports``, ``last_reported_at``, in order) as
        items with their manuals and most recent reports."""
        ids = [r["manual_id"] for r in rows]
        manuals = await self.manuals.by_ids(ids)
        recent = await self.manuals.recent_reports(ids, REPORTS_PER_ITEM)
        return [
            QueueItem(
                manual=ManualOut.model_validate(manuals[r["manual_id"]]),
                link_count=r["links"],
                open_reports=r["open_reports"],
                last_reported_at=r["last_reported_at"],
                reports=[ReportOut.model_validate(x) for x in recent.get(r["manual_id"], [])],
            )
            for r in rows
            if r["manual_id"] in manuals  # deleted since
        ]

    # --- trusted sources (admins) ---------------------------------------------------------------------
    async def trust(self, organization_id: uuid.UUID, note: str | None) -> tuple[TrustedSourceOut, bool]:
        """Lists a partner organization as a trusted source: its members (technician and above, with a
        verified email) then publish straight into the shared library."""
        org = await OrganizationRepository(self.session).live(organization_id)
        if org is None:
            raise OrganizationNotFound()
        if org.kind is not OrgKind.partner:
            raise UnprocessableEntity(
                "Only partner organizations (OEMs) are trusted sources of manuals.", code="not_a_partner"
            )
        existing = await self.manuals.trusted_source(organization_id)
        if existing is not None:
            return TrustedSourceOut.model_validate(existing), False
        source = await self.manuals.add_trusted_source(
            ManualTrustedSource(organization_id=organization_id, granted_by=self.uow.actor.user_id, note=note)
        )
        self.uow.record(
            AuditEntry("manual_source_trusted", "organization", organization_id, new_values={"note": note})
        )
        return TrustedSourceOut.model_validate(source), True

    async def untrust(self, organization_id: uuid.UUID) -> None:
        if not await self.manuals.untrust(organization_id):
            raise OrganizationNotFound("This organization is not a trusted source of manuals.")
        self.uow.record(AuditEntry("manual_source_untrusted", "organization", organization_id))

    async def trusted_sources(self) -> list[TrustedSourceOut]:
        return [TrustedSourceOut.model_validate(s) for s in await self.manuals.trusted_sources()]


def _str(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)

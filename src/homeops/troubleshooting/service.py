"""Troubleshooting sessions: open with ranked suggestions, converse, resolve or abandon, escalate to a ticket.

Sessions are private to the user who opened them (RLS); staff may read them but only the owner changes
them. Mutations lock the row (``FOR UPDATE``, by its full key on a cluster), so concurrent messages, patches
and escalations serialise. A session lives in its device's home (its key, home_id first): the history search
lists the caller's sessions in the homes they belong to; one of a home they left is still theirs by its id.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError

from homeops.catalog.models import ProblemSeverity
from homeops.core.access import home_filter
from homeops.core.audit import AuditEntry
from homeops.core.errors import Conflict, Forbidden, NotFound
from homeops.core.pagination import PageParams, build_page, decode_cursor
from homeops.core.patch import apply_patch, reject_nulls
from homeops.core.tenancy import HomeRole
from homeops.core.uow import UnitOfWork
from homeops.devices.models import Device
from homeops.devices.service import DeviceNotFound
from homeops.homes.access import HomeNotFound, load_in_home, load_owned, load_visible, require_home
from homeops.troubleshooting.models import Priority, ServiceTicket, SessionStatus, TroubleshootingSession
from homeops.troubleshooting.repository import SessionRepository, TicketRepository
from homeops.troubleshooting.schemas import (
    EscalateIn,
    MessageIn,
    SessionIn,
    SessionOut,
    SessionPatch,
    SessionSummaryOut,
    Suggestions,
    TicketOut,
)
from homeops.troubleshooting.suggestions import (
    Report,
    SuggestionEngine,
    assistant_turn,
    make_report,
    user_turn,
)
from homeops.troubleshooting.tickets import announce_new_ticket

MAX_TURNS = 200
_TRANSITIONS = {SessionStatus.open: {SessionStatus.resolved, SessionStatus.abandoned}}
_RATEABLE = {SessionStatus.resolved, SessionStatus.abandoned}
_PRIORITY_FOR = {
    ProblemSeverity.critical: Priority.urgent,
    ProblemSeverity.high: Priority.high,
    ProblemSeverity.medium: Priority.medium,
    ProblemSeverity.low: Priority.low,
}


class SessionNotFound(NotFound):
    code, title = "session_not_found", "Troubleshooting session not found"


class NotSessionOwner(Forbidden):
    code, title = "not_session_owner", "Only the user who opened the session may change it"


class InvalidTransition(Conflict):
    code, title = "invalid_transition", "Invalid status transition"


class AlreadyEscalated(Conflict):
    code, title = "already_escalated", "Session already escalated"


class SessionNotOpen(Conflict):
    code, title = "session_not_open", "Session is not open"


class TroubleshootingService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        self.sessions = SessionRepository(uow.session)
        self.tickets = TicketRepository(uow.session)
        self.engine = SuggestionEngine(uow.session)

    # --- access and presentation --------------------------------------------------------------------
    async def _owned(self, session_id: uuid.UUID) -> TroubleshootingSession:
        """The caller's own session, locked; staff who can read it get 403, everyone else 404."""
        return await load_owned(
            self.uow, TroubleshootingSession, session_id, not_found=SessionNotFound, not_owner=NotSessionOwner
        )

    async def _out(self, row: TroubleshootingSession, device: Device | None = None) -> SessionOut:
        nickname: str | None
        if device is not None:
            nickname, model_number = device.nickname, device.model_number
        else:
            nickname, model_number = await self.sessions.device_labels(row.home_id, row.device_id)
        return SessionOut.model_validate(
            {
                **_columns(row),
                "device_nickname": nickname,
                "model_number": model_number,
                "conversation": row.conversation,
                "suggestions": row.suggestions or {},
            }
        )

    async def _suggest(self, row: TroubleshootingSession, report: Report) -> Suggestions:
        device = await self.sessions.device(row.home_id, row.device_id)
        if device is not None:
            model_id = await self.engine.model_id_for(device)
        else:  # the owner left the home: keep the model found when the session was opened
            stored_model = (row.suggestions or {}).get("model_id")
            model_id = uuid.UUID(stored_model) if stored_model else None
        return await self.engine.build(row.home_id, row.device_id, model_id, report, self.uow.now())

    # --- use cases ----------------------------------------------------------------------------------
    async def create(self, data: SessionIn) -> SessionOut:
        device, _ = await load_in_home(
            self.uow, Device, data.device_id, HomeRole.member, not_found=DeviceNotFound
        )
        report = make_report(data.issue_summary, data.symptoms, data.error_codes)
        now = self.uow.now()
        model_id = await self.engine.model_id_for(device)
        suggestions = await self.engine.build(device.home_id, device.id, model_id, report, now)
        row = await self.sessions.add(
            TroubleshootingSession(
                user_id=self.uow.actor.require_user_id(),
                device_id=device.id,
                home_id=device.home_id,
                issue_summary=data.issue_summary,
                symptoms=data.symptoms,
                error_codes=data.error_codes,
                conversation=[assistant_turn(suggestions, now)],
                suggestions=suggestions.model_dump(mode="json"),
            )
        )
        self.uow.record(
            AuditEntry(
                "troubleshooting_session_created",
                "troubleshooting_session",
                row.id,
                new_values={
                    **data.model_dump(mode="json"),
                    "suggested_problem_ids": _problem_ids(suggestions),
                },
            )
        )
        return await self._out(row, device)

    async def get(self, session_id: uuid.UUID) -> SessionOut:
        return await self._out(
            await load_visible(self.uow, TroubleshootingSession, session_id, not_found=SessionNotFound)
        )

    async def search(
        self,
        page: PageParams,
        *,
        symptoms: list[str],
        status: SessionStatus | None,
        device_id: uuid.UUID | None,
    ) -> tuple[list[SessionSummaryOut], str | None]:
        me, homes = self.uow.actor.require_user_id(), home_filter(self.uow, TroubleshootingSession.home_id)
        if homes is None:  # no home: no session to list (each session is in one of its owner's homes)
            return [], None
        rows = await self.sessions.search(
            user_id=me,
            homes=homes,
            symptoms=symptoms,
            status=status,
            device_id=device_id,
            limit=page.limit,
            after=decode_cursor(page.cursor),
        )
        items, cursor = build_page(rows, page.limit, key=lambda r: (r["created_at"], r["id"]))
        return [SessionSummaryOut.model_validate(dict(r)) for r in items], cursor

    async def add_message(self, session_id: uuid.UUID, data: MessageIn) -> SessionOut:
        row = await self._owned(session_id)
        if row.status is not SessionStatus.open:
            raise SessionNotOpen(f"The session is {row.status.value}; messages go to open sessions only.")
        if len(row.conversation) + 2 > MAX_TURNS:
            raise Conflict(
                f"A session holds at most {MAX_TURNS} turns; open a new one.", code="conversation_too_long"
            )
        said = [str(t.get("content", "")) for t in row.conversation if t.get("role") == "user"]
        report = make_report(row.issue_summary, row.symptoms, row.error_codes, [*said, data.content])
        suggestions = await self._suggest(row, report)
        now = self.uow.now()
        row.conversation = [*row.conversation, user_turn(data.content, now), assistant_turn(suggestions, now)]
        row.suggestions = suggestions.model_dump(mode="json")
        await self.sessions.save()
        # The message text stays in the session (deleted by retention); the audit row records only its size.
        self.uow.record(
            AuditEntry(
                "troubleshooting_message_added",
                "troubleshooting_session",
                row.id,
                new_values={
                    "chars": len(data.content),
                    "turns": len(row.conversation),
                    "suggested_problem_ids": _problem_ids(suggestions),
                },
            )
        )
        return await self._out(row)

    async def update(self, session_id: uuid.UUID, patch: SessionPatch) -> SessionOut:
        row = await self._owned(session_id)
        changes = patch.model_dump(exclude_unset=True)
        reject_nulls(changes, ("status",))
        target: SessionStatus = changes.get("status", row.status)
        if "status" in changes and target not in _TRANSITIONS.get(row.status, set()):
            hint = " Use POST …/escalate to escalate." if target is SessionStatus.escalated else ""
            raise InvalidTransition(f"A session cannot go from {row.status.value} to {target.value}.{hint}")
        if changes.get("user_satisfaction") is not None and target not in _RATEABLE:
            raise InvalidTransition("Rate a session once it is resolved or abandoned.")
        if changes.get("resolution") is not None and target not in _RATEABLE:
            raise InvalidTransition("A resolution is recorded when the session is resolved or abandoned.")
        old, new = apply_patch(row, changes)
        if "status" in changes and target is SessionStatus.resolved:
            row.resolved_at = self.uow.now()
        await self.sessions.save()
        self.uow.record(
            AuditEntry(
                "troubleshooting_session_updated",
                "troubleshooting_session",
                row.id,
                old_values=_jsonable(old),
                new_values=_jsonable(new),
            )
        )
        return await self._out(row)

    async def escalate(self, session_id: uuid.UUID, data: EscalateIn) -> TicketOut:
        row = await self._owned(session_id)
        if (
            row.status is SessionStatus.escalated
            or await self.tickets.for_session(row.home_id, row.id) is not None
        ):
            raise AlreadyEscalated("This session already has a service ticket.")
        if row.status is not SessionStatus.open:
            raise InvalidTransition(f"A {row.status.value} session cannot be escalated.")
        try:
            await require_home(self.uow, row.home_id, HomeRole.member)
        except HomeNotFound as exc:
            raise Forbidden(
                "You are no longer a member of this device's home.", code="not_home_member"
            ) from exc
        priority = data.priority or _priority_from(row.suggestions or {})
        try:
            async with self.session.begin_nested():
                ticket = await self.tickets.add(
                    ServiceTicket(
                        user_id=row.user_id,
                        device_id=row.device_id,
                        home_id=row.home_id,
                        session_id=row.id,
                        priority=priority,
                        summary=row.issue_summary,
                        symptoms=row.symptoms,
                        error_codes=row.error_codes,
                    )
                )
        except IntegrityError as exc:  # the unique index on session_id: a concurrent escalation won
            raise AlreadyEscalated("This session already has a service ticket.") from exc
        await announce_new_ticket(self.session, ticket)
        row.status = SessionStatus.escalated
        note = f"Escalated to support: service ticket {ticket.id} (priority {priority.value})."
        row.conversation = [
            *row.conversation,
            {"role": "system", "content": note, "at": self.uow.now().isoformat()},
        ]
        await self.sessions.save()
        self.uow.record(
            AuditEntry(
                "service_ticket_created",
                "service_ticket",
                ticket.id,
                new_values={
                    "session_id": str(row.id),
                    "priority": priority.value,
                    "device_id": str(row.device_id),
                },
            )
        )
        self.uow.record(
            AuditEntry(
                "troubleshooting_session_escalated",
                "troubleshooting_session",
                row.id,
                old_values={"status": SessionStatus.open.value},
                new_values={"status": row.status.value, "ticket_id": str(ticket.id)},
            )
        )
        return TicketOut.model_validate(ticket)


def _columns(row: TroubleshootingSession) -> dict[str, Any]:
    names = (
        "id",
        "user_id",
        "device_id",
        "home_id",
        "issue_summary",
        "symptoms",
        "error_codes",
        "status",
        "resolution",
        "resolved_at",
        "user_satisfaction",
        "created_at",
        "updated_at",
    )
    return {n: getattr(row, n) for n in names}


def _problem_ids(suggestions: Suggestions) -> list[str]:
    return [str(p.problem_id) for p in suggestions.problems if p.score > 0]


def _priority_from(stored: dict[str, Any]) -> Priority:
    """The best-matching problem's severity decides (critical → urgent); no match → medium."""
    matched = [p for p in Suggestions.model_validate(stored).problems if p.score > 0]
    return _PRIORITY_FOR[matched[0].severity] if matched else Priority.medium


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.value if isinstance(v, SessionStatus) else v for k, v in values.items()}

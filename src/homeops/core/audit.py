"""The audit recorder services write to. Who acts is in the ``Actor``; *where from* (request id, method,
URL, client address) is here. The API's request context is one; the CLI and jobs construct their own.

Entries recorded with ``record`` are written in the caller's transaction (kept only if it commits);
``record_durable`` entries are written even when the work fails (a failed login, a refused mutation).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass
class AuditEntry:
    action_type: str
    entity_type: str | None = None
    entity_id: uuid.UUID | None = None
    description: str | None = None
    old_values: dict[str, Any] | None = None
    new_values: dict[str, Any] | None = None
    user_id: uuid.UUID | None = None
    error_message: str | None = None


@dataclass
class AuditRecorder:
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    method: str = "SYSTEM"
    url: str = ""
    ip: str | None = None
    user_agent: str | None = None
    user_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    started: float = field(default_factory=time.perf_counter)
    audit: list[AuditEntry] = field(default_factory=list)
    durable_audit: list[AuditEntry] = field(default_factory=list)

    @classmethod
    def for_command(cls, what: str, *, method: str = "CLI", user_agent: str | None = None) -> AuditRecorder:
        """A recorder for work that is not an HTTP request (``homeops …`` commands, jobs)."""
        return cls(method=method, url=what, user_agent=user_agent)

    @property
    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    def record(self, entry: AuditEntry) -> None:
        """Audit row written in the caller's own transaction (kept only if it commits)."""
        self.audit.append(entry)

    def record_durable(self, entry: AuditEntry) -> None:
        """Audit row written even when the work fails."""
        self.durable_audit.append(entry)

    def take(self) -> list[AuditEntry]:
        """The pending in-transaction entries, emptied (for callers that write them themselves)."""
        entries, self.audit = self.audit, []
        return entries


AuditWriter = Callable[[AsyncSession, AuditRecorder, int, list[AuditEntry]], Awaitable[None]]

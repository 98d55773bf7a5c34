"""Domain events: how one domain reacts to another without importing it.

A domain publishes facts about itself (``DeviceCreated``, ``ManualReady``) with ``await uow.publish(event)``;
domains *above* it in the dependency order subscribe in their ``domain.py``. Handlers run in the publisher's
transaction, in registration order, before the publisher continues: a handler's writes commit or roll back
with the publisher's. A handler whose work is slow or may fail on its own enqueues a job instead (the job is
then committed with the transaction, an outbox). Events are plain frozen dataclasses named in the past tense.

The allowed dependency directions are written in ``docs/architecture.md`` and checked by import-linter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar


class DomainEvent:
    """Base class of every event (subclasses are ``@dataclass(frozen=True)``)."""


E = TypeVar("E", bound=DomainEvent)
# A handler takes the publisher's unit of work (``homeops.core.uow.UnitOfWork``, which publishes through this
# bus: typed here as Any so the two modules do not import each other) and the event.
Handler = Callable[[Any, Any], Awaitable[None]]


class EventBus:
    def __init__(self, subscriptions: Iterable[Mapping[type[DomainEvent], Sequence[Handler]]] = ()) -> None:
        self._handlers: dict[type[DomainEvent], list[Handler]] = {}
        for mapping in subscriptions:
            for event_type, handlers in mapping.items():
                self._handlers.setdefault(event_type, []).extend(handlers)

    def subscribe(self, event_type: type[E], handler: Callable[[Any, E], Awaitable[None]]) -> None:
        self._handlers.setdefault(event_type, []).append(handler)

    def handlers(self, event_type: type[DomainEvent]) -> list[Handler]:
        return list(self._handlers.get(event_type, ()))

    async def publish(self, uow: Any, event: DomainEvent) -> None:
        for handler in self._handlers.get(type(event), ()):
            await handler(uow, event)

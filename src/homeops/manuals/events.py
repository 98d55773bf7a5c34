"""Facts the manual library publishes (``await uow.publish(...)``); higher domains subscribe in their
``handlers.py`` (devices links a ready manual to the matching devices of its home, or of every home)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from homeops.core.events import DomainEvent


@dataclass(frozen=True)
class ManualReady(DomainEvent):
    """A manual was processed (text extracted, indexed) and is ready to read, or it joined the shared library
    (staff verified it); published by the processing task inside its transaction (as the system: the
    subscribers may cross homes)."""

    manual_id: uuid.UUID
    brand: str  # the manufacturer's name as given on upload
    model_numbers: tuple[str, ...]  # upper-cased, trimmed
    home_id: uuid.UUID | None = None  # a household upload's home (link there only); None: the shared library

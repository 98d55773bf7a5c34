"""What the API, the worker and commands share for their lifetime: settings, storage, the field cipher, the
clock, and resources the domains contribute (an embedder, a mailer, a transcriber …).

Built once per process by ``homeops.domains.build_runtime``; passed to services through the unit of work
and to jobs through their ``JobContext``. No module-level state: tests build their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from homeops.core.clock import Clock, SystemClock
from homeops.core.config import Settings
from homeops.core.security import FieldCipher
from homeops.core.storage import Storage


@dataclass
class Runtime:
    settings: Settings
    storage: Storage
    cipher: FieldCipher
    clock: Clock = field(default_factory=SystemClock)
    resources: dict[str, Any] = field(default_factory=dict)
    # The database is a Citus coordinator (detected at start-up): some statements take another shape there.
    distributed: bool = False

    def resource(self, name: str) -> Any:
        """A domain resource by name (``None`` when not configured); domains wrap this in a typed accessor."""
        return self.resources.get(name)

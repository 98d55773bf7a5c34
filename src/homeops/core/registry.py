"""How a domain declares itself: its models, routers, background tasks, event subscriptions, resources and
commands, in one ``domain.py``. The app, the CLI, Alembic and the worker iterate over ``homeops.domains``;
adding a domain is one line there.

References are ``"module:attribute"`` strings, imported when first needed: Alembic loads only the models,
the worker only the tasks, and nothing imports a domain's API to build the schema.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from homeops.core.config import Settings


@dataclass(frozen=True)
class Domain:
    name: str
    # Modules whose import registers tables on ``Base.metadata``.
    models: Sequence[str] = ()
    # "module:attribute" of FastAPI routers, included in this order.
    routers: Sequence[str] = ()
    # "module:attribute" of ``homeops.core.web.Pages``: the domain's HTML pages (a router of page routes, its
    # templates folder, navigation entries, panels it adds to other domains' pages, messages for its error
    # codes), served from the same app at ``/`` (see docs/architecture.md, "Pages").
    pages: Sequence[str] = ()
    # Modules whose import registers tasks on ``homeops.core.jobs.registry``.
    tasks: Sequence[str] = ()
    # "module:attribute" of a mapping {EventClass: [handler, …]}.
    subscriptions: Sequence[str] = ()
    # "module:function": ``(settings) -> {name: resource}``, added to the process runtime.
    resources: str | None = None
    # (command name, "module:typer_app") added to the ``homeops`` command.
    commands: Sequence[tuple[str, str]] = ()
    description: str = ""


def resolve(reference: str) -> Any:
    """Imports ``"package.module:attribute"`` (or a whole module when there is no colon)."""
    module_name, _, attribute = reference.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def import_all(references: Sequence[str]) -> list[Any]:
    return [resolve(r) for r in references]


ResourceFactory = Callable[["Settings"], Mapping[str, Any]]

"""The domains of HomeOps, lowest first. A domain may import the ones above it in this list, never the ones
below (checked by import-linter, see ``docs/architecture.md``); reactions upwards go through domain events.

Adding a domain: write ``homeops/<name>/domain.py`` and add one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from homeops.core.events import EventBus
from homeops.core.registry import Domain, import_all, resolve

if TYPE_CHECKING:
    from fastapi import APIRouter
    from sqlalchemy import MetaData

    from homeops.core.config import Settings
    from homeops.core.runtime import Runtime

DOMAIN_MODULES: tuple[str, ...] = (
    "homeops.identity",
    "homeops.audit",
    "homeops.settings",
    "homeops.notifications",
    "homeops.homes",
    "homeops.organizations",
    "homeops.catalog",
    "homeops.manuals",
    "homeops.devices",
    "homeops.maintenance",
    "homeops.troubleshooting",
    "homeops.assistant",
    "homeops.marketplace",
    "homeops.telemetry",
    "homeops.retention",
)


@cache
def domains() -> tuple[Domain, ...]:
    loaded = []
    for package in DOMAIN_MODULES:
        domain = importlib.import_module(f"{package}.domain").domain
        if not isinstance(domain, Domain):
            raise TypeError(f"{package}.domain.domain is not a Domain")
        loaded.append(domain)
    return tuple(loaded)


def metadata() -> MetaData:
    """``Base.metadata`` with every domain's tables (and the job queue's)."""
    from homeops.core import job_models  # noqa: F401  (the jobs table)
    from homeops.core.models import Base

    for domain in domains():
        import_all(domain.models)
    return Base.metadata


def routers() -> Iterator[APIRouter]:
    for domain in domains():
        yield from import_all(domain.routers)


def pages() -> Iterator[Any]:
    """Every domain's ``homeops.core.web.Pages``, lowest domain first."""
    for domain in domains():
        yield from import_all(domain.pages)


def load_tasks() -> None:
    """Imports every module that registers background tasks."""
    for domain in domains():
        import_all(domain.tasks)


def event_bus() -> EventBus:
    return EventBus(resolve(ref) for domain in domains() for ref in domain.subscriptions)


def resources(settings: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for domain in domains():
        if domain.resources:
            out.update(resolve(domain.resources)(settings))
    return out


def commands() -> Iterator[tuple[str, Any]]:
    for domain in domains():
        for name, ref in domain.commands:
            yield name, resolve(ref)


def build_runtime(settings: Settings) -> Runtime:
    """The process runtime: settings, storage, field cipher, system clock and the domains' resources."""
    from homeops.core.runtime import Runtime
    from homeops.core.security import FieldCipher
    from homeops.core.storage import build_storage

    return Runtime(
        settings=settings,
        storage=build_storage(settings),
        cipher=FieldCipher(settings.secret("field_encryption_key")),
        resources=resources(settings),
    )

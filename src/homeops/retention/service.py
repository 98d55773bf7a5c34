"""Retention: what the seeds ask to delete or archive after a while, with a dry run that changes nothing.

| rule | seed | default |
|---|---|---|
| resolved troubleshooting sessions deleted | 000 | 365 days |
| closed service tickets deleted | 000 | 1095 days |
| active devices with no service event archived | 000 | 730 days |
| chat sessions (and their messages) deleted | 003 | 365 days |
| media files deleted (file and row) | 003 | 182 days |
| diagnostic images deleted (the row stays) | 002 | 90 days |
| project chat messages deleted, counted from the project's completion | 002 | 730 days |
| telemetry partitions dropped whole (raw / hourly / daily roll-ups) | 004 | 90 days / 2 years / 7 years |

Windows come from ``system_settings`` (``retention.*``). Each run is audited with its counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from anyio import to_thread

from homeops.core.audit import AuditEntry
from homeops.core.storage import Storage
from homeops.core.uow import UnitOfWork
from homeops.marketplace import retention as marketplace_retention
from homeops.retention.repository import RetentionRepository
from homeops.telemetry import retention as telemetry_retention

DEFAULT_DAYS = {
    "retention.troubleshooting_days": 365,
    "retention.closed_tickets_days": 1095,
    "retention.device_inactive_days": 730,
    "retention.chat_days": 365,
    "retention.media_days": 182,
    **marketplace_retention.DEFAULT_DAYS,
}


@dataclass
class RetentionReport:
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    windows: dict[str, int] = field(default_factory=dict)
    # Storage objects of deleted rows: removed once the transaction has committed (never before).
    storage_keys: list[str] = field(default_factory=list)


async def run_retention(
    uow: UnitOfWork, *, dry_run: bool, telemetry_partitions: bool = True
) -> RetentionReport:
    """Applies (or, ``dry_run``, counts) every rule in ``uow``'s transaction — as the worker role (the daily
    job: exactly the grants these rules need) or the owner (the command). Windows end at the clock's instant
    (``uow.now()``). A real run records one ``retention_run`` audit entry; the caller removes the files of
    ``storage_keys`` after the commit."""
    repo = RetentionRepository(uow.session)
    configured = await repo.settings("retention.")
    days = {k: int(float(configured.get(k, v))) for k, v in DEFAULT_DAYS.items()}
    now = uow.now()
    cut = {k: now - timedelta(days=v) for k, v in days.items()}
    report = RetentionReport(dry_run=dry_run, windows=days)

    if dry_run:
        report.counts = await repo.planned(cut)
        partitions = await telemetry_retention.drop_expired_partitions(uow.session, now, dry_run=True)
        report.counts[telemetry_retention.REPORT_LINE] = len(partitions)
        return report

    report.counts = {
        "troubleshooting_sessions_deleted": await repo.delete_sessions(cut["retention.troubleshooting_days"]),
        "service_tickets_deleted": await repo.delete_tickets(cut["retention.closed_tickets_days"]),
        "devices_archived": await repo.archive_devices(cut["retention.device_inactive_days"]),
        "chat_sessions_deleted": await repo.delete_chats(cut["retention.chat_days"]),
    }
    report.storage_keys = await repo.delete_media(cut["retention.media_days"])
    report.counts["media_files_deleted"] = len(report.storage_keys)
    images = await marketplace_retention.delete_diagnostic_images(
        uow.session, cut[marketplace_retention.IMAGE_WINDOW], now
    )
    report.counts["diagnostic_images_deleted"] = len(images)
    chats, chat_files = await marketplace_retention.delete_project_chats(
        uow.session, cut[marketplace_retention.CHAT_WINDOW]
    )
    report.counts["project_chat_messages_deleted"] = chats
    report.storage_keys += images + chat_files
    if telemetry_partitions:
        partitions = await telemetry_retention.drop_expired_partitions(uow.session, now, dry_run=False)
        report.counts[telemetry_retention.REPORT_LINE] = len(partitions)
    uow.record(
        AuditEntry(
            "retention_run",
            "system",
            None,
            description="retention policies applied",
            new_values={"counts": report.counts, "windows_days": days},
        )
    )
    return report


async def drop_telemetry_partitions(uow: UnitOfWork) -> int:
    """The telemetry rule alone, audited: the daily job runs it in a transaction of its own, after the other
    rules — the partitions are dropped by the owner's function, and on a Citus cluster the owner may not touch
    placements (of the home group) that the same transaction already changed as the worker role."""
    dropped = len(await telemetry_retention.drop_expired_partitions(uow.session, uow.now(), dry_run=False))
    uow.record(
        AuditEntry(
            "retention_run",
            "system",
            None,
            description="telemetry partitions past their window dropped",
            new_values={"counts": {telemetry_retention.REPORT_LINE: dropped}},
        )
    )
    return dropped


async def delete_objects(storage: Storage, keys: list[str]) -> None:
    """Removes stored files after their rows are gone (idempotent: a missing object is not an error)."""
    for key in keys:
        await to_thread.run_sync(storage.delete, key)

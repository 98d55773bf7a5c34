"""A small RFC 5545 writer: all-day events, escaped text, lines folded at 75 octets, CRLF endings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

PRODID = "-//HomeOps//Maintenance Calendar//EN"
MAX_OCTETS = 75


def escape_text(value: str) -> str:
    """TEXT value escaping (RFC 5545 §3.3.11)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Splits a content line into chunks of at most 75 octets (continuations start with one space),
    never inside a UTF-8 sequence (§3.1)."""
    out: list[str] = []
    current, size, limit = "", 0, MAX_OCTETS
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            out.append(current)
            current, size, limit = "", 0, MAX_OCTETS - 1  # the leading space counts
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


def _date(value: date) -> str:
    return value.strftime("%Y%m%d")


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class AllDayEvent:
    uid: str
    day: date
    summary: str
    stamp: datetime
    description: str | None = None
    location: str | None = None
    categories: tuple[str, ...] = ()
    alarm_days_before: int | None = None


@dataclass
class Calendar:
    name: str
    timezone: str
    events: list[AllDayEvent] = field(default_factory=list)

    def _event_lines(self, e: AllDayEvent) -> list[str]:
        lines = [
            "BEGIN:VEVENT",
            f"UID:{e.uid}",
            f"DTSTAMP:{_utc(e.stamp)}",
            f"LAST-MODIFIED:{_utc(e.stamp)}",
            f"DTSTART;VALUE=DATE:{_date(e.day)}",
            f"DTEND;VALUE=DATE:{_date(e.day + timedelta(days=1))}",
            f"SUMMARY:{escape_text(e.summary)}",
            "TRANSP:TRANSPARENT",
        ]
        if e.description:
            lines.append(f"DESCRIPTION:{escape_text(e.description)}")
        if e.location:
            lines.append(f"LOCATION:{escape_text(e.location)}")
        if e.categories:
            lines.append("CATEGORIES:" + ",".join(escape_text(c) for c in e.categories))
        if e.alarm_days_before:
            lines += [
                "BEGIN:VALARM",
                "ACTION:DISPLAY",
                f"DESCRIPTION:{escape_text(e.summary)}",
                f"TRIGGER:-P{e.alarm_days_before}D",
                "END:VALARM",
            ]
        lines.append("END:VEVENT")
        return lines

    def render(self) -> str:
        lines = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            f"PRODID:{PRODID}",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            f"X-WR-CALNAME:{escape_text(self.name)}",
            f"X-WR-TIMEZONE:{self.timezone}",
            "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
            "X-PUBLISHED-TTL:PT1H",
        ]
        for event in self.events:
            lines += self._event_lines(event)
        lines.append("END:VCALENDAR")
        return "".join(fold(line) + "\r\n" for line in lines)

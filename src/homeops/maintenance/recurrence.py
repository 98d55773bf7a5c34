"""Recurrence arithmetic for maintenance schedules (pure functions, no database).

Invariant kept by every function here: ``next_due == nth_due(series_start, occurrence, interval, unit)``.
Schedule-anchored series count occurrences from their start, so clamped months never drift
(Jan 31 → Feb 28/29 → Mar 31); completion-anchored series restart at each completion.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, timedelta

from homeops.catalog.models import IntervalUnit
from homeops.maintenance.models import RecurrenceAnchor


def add_months(start: date, months: int) -> date:
    """``start`` moved by ``months`` calendar months, clamped to the target month's last day."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last))


def add_interval(start: date, count: int, unit: IntervalUnit) -> date:
    """``start`` + ``count`` units; months and years clamp to the month's end (Feb 29 + 1 year = Feb 28)."""
    if unit is IntervalUnit.days:
        return start + timedelta(days=count)
    if unit is IntervalUnit.weeks:
        return start + timedelta(weeks=count)
    if unit is IntervalUnit.months:
        return add_months(start, count)
    return add_months(start, 12 * count)


def nth_due(series_start: date, occurrence: int, interval: int, unit: IntervalUnit) -> date:
    """The ``occurrence``-th due date of a series (0 is its start), always computed from the start."""
    return add_interval(series_start, occurrence * interval, unit)


@dataclass(frozen=True)
class Recurrence:
    """The recurrence state of one schedule."""

    interval: int
    unit: IntervalUnit
    anchor: RecurrenceAnchor
    series_start: date
    occurrence: int
    next_due: date
    end_date: date | None = None
    is_active: bool = True

    @classmethod
    def starting(
        cls,
        next_due: date,
        interval: int,
        unit: IntervalUnit,
        anchor: RecurrenceAnchor,
        end_date: date | None = None,
    ) -> Recurrence:
        """A new series whose first due date is ``next_due``."""
        return cls(interval, unit, anchor, next_due, 0, next_due, end_date, True)

    def _at(self, series_start: date, occurrence: int) -> Recurrence:
        due = nth_due(series_start, occurrence, self.interval, self.unit)
        ended = self.end_date is not None and due > self.end_date
        return replace(
            self,
            series_start=series_start,
            occurrence=occurrence,
            next_due=due,
            is_active=self.is_active and not ended,
        )

    def after_completion(self, performed_on: date) -> Recurrence:
        """The state once the current due date was completed on ``performed_on``.

        Completion anchor: next due = performed_on + interval (the series restarts at performed_on).
        Schedule anchor: the next occurrence of the series; if the task was done so late that this is on
        or before ``performed_on``, the following occurrences are passed over (they were not missed
        separately: one completion covers them).
        """
        if self.anchor is RecurrenceAnchor.completion:
            return self._at(performed_on, 1)
        occurrence = self.occurrence + 1
        while nth_due(self.series_start, occurrence, self.interval, self.unit) <= performed_on:
            occurrence += 1
        return self._at(self.series_start, occurrence)

    def after_skip(self) -> Recurrence:
        """The state once the current due date was skipped: the next occurrence of the series (for a
        completion-anchored schedule that is the skipped due date + interval, without month drift)."""
        return self._at(self.series_start, self.occurrence + 1)

    def restarted(self, next_due: date | None = None) -> Recurrence:
        """A fresh series from ``next_due`` (default: the current one), e.g. after the interval changed."""
        due = next_due or self.next_due
        return replace(self, series_start=due, occurrence=0, next_due=due)

    def upcoming(self, until: date, limit: int) -> list[date]:
        """The current due date and the projected ones after it, up to ``until`` and ``end_date``."""
        dates: list[date] = []
        occurrence = self.occurrence
        while len(dates) < limit:
            due = nth_due(self.series_start, occurrence, self.interval, self.unit)
            if due > until or (self.end_date is not None and due > self.end_date):
                break
            dates.append(due)
            occurrence += 1
        return dates

"""Recurrence arithmetic (pure): month ends, leap years, both anchors, end dates."""

from __future__ import annotations

from datetime import date

import pytest

from homeops.catalog.models import IntervalUnit
from homeops.maintenance.models import RecurrenceAnchor
from homeops.maintenance.recurrence import Recurrence, add_interval, nth_due

D, W, M, Y = IntervalUnit.days, IntervalUnit.weeks, IntervalUnit.months, IntervalUnit.years
SCHEDULE, COMPLETION = RecurrenceAnchor.schedule, RecurrenceAnchor.completion


@pytest.mark.parametrize(
    ("start", "count", "unit", "expected"),
    [
        (date(2026, 1, 31), 1, M, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, M, date(2028, 2, 29)),  # leap year
        (date(2026, 1, 31), 3, M, date(2026, 4, 30)),
        (date(2026, 3, 31), -1, M, date(2026, 2, 28)),
        (date(2026, 11, 30), 3, M, date(2027, 2, 28)),
        (date(2026, 12, 15), 1, M, date(2027, 1, 15)),
        (date(2028, 2, 29), 1, Y, date(2029, 2, 28)),
        (date(2028, 2, 29), 4, Y, date(2032, 2, 29)),
        (date(2026, 2, 28), 1, D, date(2026, 3, 1)),
        (date(2028, 2, 28), 1, D, date(2028, 2, 29)),
        (date(2026, 12, 29), 1, W, date(2027, 1, 5)),
        (date(2026, 5, 10), 0, M, date(2026, 5, 10)),
    ],
)
def test_add_interval(start: date, count: int, unit: IntervalUnit, expected: date) -> None:
    assert add_interval(start, count, unit) == expected


def _series(
    start: date, interval: int, unit: IntervalUnit, anchor: RecurrenceAnchor, **kw: date
) -> Recurrence:
    return Recurrence.starting(start, interval, unit, anchor, kw.get("end_date"))


@pytest.mark.parametrize(
    ("start", "interval", "unit", "expected"),
    [
        (
            date(2026, 1, 31),
            1,
            M,
            [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31)],
        ),
        (date(2027, 12, 31), 1, M, [date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31)]),
        (
            date(2026, 8, 31),
            6,
            M,
            [date(2027, 2, 28), date(2027, 8, 31), date(2028, 2, 29), date(2028, 8, 31)],
        ),
        (
            date(2028, 2, 29),
            1,
            Y,
            [date(2029, 2, 28), date(2030, 2, 28), date(2031, 2, 28), date(2032, 2, 29)],
        ),
        (date(2026, 1, 1), 2, W, [date(2026, 1, 15), date(2026, 1, 29)]),
    ],
)
def test_schedule_anchor_does_not_drift(
    start: date, interval: int, unit: IntervalUnit, expected: list[date]
) -> None:
    r = _series(start, interval, unit, SCHEDULE)
    seen = []
    for _ in expected:
        r = r.after_completion(performed_on=start)  # done on time (early, even): the series decides
        seen.append(r.next_due)
        assert r.next_due == nth_due(r.series_start, r.occurrence, r.interval, r.unit)
    assert seen == expected


@pytest.mark.parametrize("anchor", [SCHEDULE, COMPLETION])
def test_skip_moves_to_next_occurrence_without_drift(anchor: RecurrenceAnchor) -> None:
    r = _series(date(2026, 1, 31), 1, M, anchor)
    r = r.after_skip()
    assert r.next_due == date(2026, 2, 28)
    r = r.after_skip()
    assert r.next_due == date(2026, 3, 31)  # not Mar 28: counted from the 31st


@pytest.mark.parametrize(
    ("performed_on", "interval", "unit", "expected"),
    [
        (date(2026, 1, 31), 1, M, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, M, date(2028, 2, 29)),
        (date(2026, 3, 10), 3, M, date(2026, 6, 10)),
        (date(2028, 2, 29), 1, Y, date(2029, 2, 28)),
        (date(2026, 12, 30), 10, D, date(2027, 1, 9)),
    ],
)
def test_completion_anchor_counts_from_completion(
    performed_on: date, interval: int, unit: IntervalUnit, expected: date
) -> None:
    r = _series(date(2026, 1, 15), interval, unit, COMPLETION).after_completion(performed_on)
    assert r.next_due == expected
    assert (r.series_start, r.occurrence) == (performed_on, 1)  # series restarted: later math is consistent


def test_completion_anchor_restart_then_skip_keeps_month_end() -> None:
    r = _series(date(2026, 1, 10), 1, M, COMPLETION).after_completion(date(2026, 1, 31))
    assert r.next_due == date(2026, 2, 28)
    assert r.after_skip().next_due == date(2026, 3, 31)


def test_schedule_anchor_late_completion_passes_over_missed_dates() -> None:
    r = _series(date(2026, 1, 31), 1, M, SCHEDULE).after_completion(date(2026, 4, 2))
    assert r.next_due == date(2026, 4, 30)  # Feb 28 and Mar 31 lie before the completion
    early = _series(date(2026, 1, 31), 1, M, SCHEDULE).after_completion(date(2026, 1, 20))
    assert early.next_due == date(2026, 2, 28)


def test_end_date_deactivates_when_next_due_passes_it() -> None:
    r = _series(date(2026, 1, 31), 1, M, SCHEDULE, end_date=date(2026, 3, 31))
    r = r.after_completion(date(2026, 1, 31))
    assert (r.next_due, r.is_active) == (date(2026, 2, 28), True)
    r = r.after_skip()
    assert (r.next_due, r.is_active) == (date(2026, 3, 31), True)  # on the end date: still due
    r = r.after_skip()
    assert r.is_active is False


def test_upcoming_projection_stops_at_horizon_and_end() -> None:
    r = _series(date(2026, 1, 31), 1, M, SCHEDULE, end_date=date(2026, 4, 15))
    assert r.upcoming(date(2026, 12, 31), 100) == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    assert r.upcoming(date(2026, 3, 1), 100) == [date(2026, 1, 31), date(2026, 2, 28)]
    assert len(_series(date(2026, 1, 1), 1, D, SCHEDULE).upcoming(date(2027, 1, 1), 10)) == 10


def test_restart_sets_a_fresh_series() -> None:
    r = _series(date(2026, 1, 31), 1, M, SCHEDULE).after_skip().restarted(date(2026, 5, 31))
    assert (r.series_start, r.occurrence, r.next_due) == (date(2026, 5, 31), 0, date(2026, 5, 31))
    assert r.after_skip().after_skip().next_due == date(2026, 7, 31)

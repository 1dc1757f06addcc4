"""The working-day rule: the one place that decides what a deadline date is.

The brief fixes the rule. A working day is Monday to Friday and not a bank holiday in
the landlord's nation (the `holidays` package, `GB` with subdivision ENG, WLS, SCT or
NIR). Dates are London dates; deadlines fall at 23:59:59 London time and come back as
timezone-aware UTC instants. "Within N working days of X" counts from day 0, which is
X's London date if that is a working day and otherwise the next one.

The engine's timers, the Code check, the inbox and the reports all import this module,
and diagram expressions see its functions through `WorkingCalendar.expression_functions`.
Counts are bounded so that an expression cannot make a call expensive, and every bad
argument raises ValueError.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, cached_property
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "DATE_ONLY_FUNCTIONS",
    "FIRST_YEAR",
    "LAST_YEAR",
    "LONDON",
    "MAX_DAYS",
    "MAX_MONTHS",
    "MAX_WEEKS",
    "MAX_WORKING_DAYS",
    "NATIONS",
    "Instant",
    "WorkingCalendar",
    "calendar_for",
    "end_of_london_day",
    "hours_after",
    "london_date",
    "london_midnight",
]

LONDON = ZoneInfo("Europe/London")
NATIONS: tuple[str, ...] = ("ENG", "WLS", "SCT", "NIR")

FIRST_YEAR: int = holidays.GB.start_year
"""Working days are known from this year: the bank-holiday data starts here."""
LAST_YEAR: int = holidays.GB.end_year
"""Working days are known up to this year: the bank-holiday data stops here."""

MAX_WORKING_DAYS = 1000
MAX_DAYS = 3660
MAX_WEEKS = 520
MAX_MONTHS = 120
MAX_HOURS = 24 * 366

Instant = datetime | date | str
"""An aware datetime, an ISO 8601 string with a UTC offset (or a bare date), or a date."""

_END_OF_DAY = time(23, 59, 59)


def london_date(when: Instant) -> date:
    """The London calendar date of an instant: the date every rule counts from.

    A `date` (or a bare ISO date string) is taken as a London date already. Naive
    datetimes and date-time strings without an offset are refused: which day they
    fall on is a guess.
    """
    if isinstance(when, datetime):
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(
                f"{when.isoformat()} has no UTC offset; give an aware datetime "
                "(stored instants are UTC)"
            )
        try:
            return when.astimezone(LONDON).date()
        except OverflowError:
            raise ValueError(f"{when.isoformat()} is outside the supported dates") from None
    if isinstance(when, date):
        return when
    if isinstance(when, str):
        return london_date(_parse(when))
    raise ValueError(
        "expected an aware datetime, an ISO 8601 string or a date, "
        f"got {type(when).__name__}"
    )


def _parse(text: str) -> datetime | date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date or date-time") from None


def end_of_london_day(day: date) -> datetime:
    """23:59:59 London time on `day`, as a UTC instant: when every deadline falls."""
    try:
        return datetime.combine(day, _END_OF_DAY, tzinfo=LONDON).astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{day.isoformat()} is outside the supported dates") from None


def hours_after(when: Instant, n: int) -> datetime:
    """`n` clock hours after an instant: elapsed time, not the wall clock, so 24 hours from 10:00 on the
    Saturday before the clocks go forward ends at 11:00 London time on the Sunday (Awaab's Law's 24 hours).
    A bare date is refused: hours count from an instant."""
    n = _count(n, MAX_HOURS, "hours")
    instant = _parse(when) if isinstance(when, str) else when
    if not isinstance(instant, datetime):
        raise ValueError("hours are counted from an instant with its time, not a date")
    london_date(instant)    # refuses a naive instant
    return instant.astimezone(UTC) + timedelta(hours=n)


def london_midnight(day: date) -> datetime:
    """00:00 London time on `day`, as a UTC instant: where a London date (and a report's period) starts."""
    try:
        return datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{day.isoformat()} is outside the supported dates") from None


def _count(n: int, limit: int, unit: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"the number of {unit} must be a whole number, got {n!r}")
    if not 0 <= n <= limit:
        raise ValueError(f"the number of {unit} must be between 0 and {limit}, got {n}")
    return n


def _shift(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        raise ValueError(f"{day.isoformat()} + {days} days is outside the supported dates") from None


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (date(year, month + 1, 1) - date(year, month, 1)).days


class _WorkingDays:
    """Every working day of one nation in the supported years, for O(log n) counting."""

    def __init__(self, nation: str) -> None:
        bank_holidays = holidays.country_holidays(
            "GB", subdiv=nation, years=range(FIRST_YEAR, LAST_YEAR + 1)
        )
        self.holidays = frozenset(day.toordinal() for day in bank_holidays)
        first = date(FIRST_YEAR, 1, 1).toordinal()
        last = date(LAST_YEAR, 12, 31).toordinal()
        # date.toordinal() is 1 for Monday 1 January of year 1.
        self.ordinals = [
            o for o in range(first, last + 1)
            if (o - 1) % 7 < 5 and o not in self.holidays
        ]
        self.first, self.last = first, last

    def ordinal_of(self, day: date) -> int:
        ordinal = day.toordinal()
        if not self.first <= ordinal <= self.last:
            raise ValueError(
                f"{day.isoformat()} is outside {FIRST_YEAR}-{LAST_YEAR}, "
                "the years the bank-holiday data covers"
            )
        return ordinal

    def is_working(self, day: date) -> bool:
        ordinal = self.ordinal_of(day)
        return day.weekday() < 5 and ordinal not in self.holidays

    def index_of_day_zero(self, day: date) -> int:
        index = bisect_left(self.ordinals, self.ordinal_of(day))
        if index == len(self.ordinals):
            raise ValueError(f"no working day after {day.isoformat()} before {LAST_YEAR + 1}")
        return index

    def at(self, index: int) -> date:
        if index >= len(self.ordinals):
            raise ValueError(f"the deadline would fall after {LAST_YEAR}, "
                             "beyond the bank-holiday data")
        return date.fromordinal(self.ordinals[index])

    def last_index_on_or_before(self, day: date) -> int:
        return bisect_right(self.ordinals, self.ordinal_of(day)) - 1

    def working_days_before(self, day: date) -> int:
        """How many working days in the supported years come before `day`: the index of its day 0."""
        return bisect_left(self.ordinals, self.ordinal_of(day))


@cache
def _working_days(nation: str) -> _WorkingDays:
    return _WorkingDays(nation)


class WorkingCalendar:
    """The brief's date rules for one nation's bank holidays."""

    def __init__(self, nation: str = "ENG") -> None:
        if nation not in NATIONS:
            raise ValueError(f"unknown nation {nation!r}; expected one of {', '.join(NATIONS)}")
        self.nation = nation

    def __repr__(self) -> str:
        return f"WorkingCalendar({self.nation!r})"

    @cached_property
    def _days(self) -> _WorkingDays:
        return _working_days(self.nation)

    def is_working_day(self, when: Instant) -> bool:
        """Whether `when`'s London date is a working day in this nation."""
        return self._days.is_working(london_date(when))

    def day_zero(self, when: Instant) -> date:
        """The day a working-day count starts from: `when`'s London date, or the next
        working day if that is a weekend or bank holiday."""
        days = self._days
        return days.at(days.index_of_day_zero(london_date(when)))

    def working_days_after(self, when: Instant, n: int) -> datetime:
        """The deadline for "within n working days of `when`": 23:59:59 London time on
        the n-th working day after day 0 (n = 0 gives day 0 itself)."""
        n = _count(n, MAX_WORKING_DAYS, "working days")
        days = self._days
        return end_of_london_day(days.at(days.index_of_day_zero(london_date(when)) + n))

    def days_after(self, when: Instant, n: int) -> datetime:
        """The deadline for "within n days of `when`": 23:59:59 London time on
        `when`'s London date plus n calendar days."""
        n = _count(n, MAX_DAYS, "days")
        return end_of_london_day(_shift(london_date(when), n))

    def weeks_after(self, when: Instant, n: int) -> datetime:
        """23:59:59 London time on `when`'s London date plus n calendar weeks."""
        n = _count(n, MAX_WEEKS, "weeks")
        return end_of_london_day(_shift(london_date(when), 7 * n))

    def months_after(self, when: Instant, n: int) -> datetime:
        """23:59:59 London time on the same day of the month n months after `when`'s
        London date, or on that month's last day if it is shorter (31 Jan + 1 -> 28/29 Feb)."""
        n = _count(n, MAX_MONTHS, "months")
        start = london_date(when)
        years, month0 = divmod(start.month - 1 + n, 12)
        year, month = start.year + years, month0 + 1
        if year > 9999:
            raise ValueError(f"{start.isoformat()} + {n} months is outside the supported dates")
        return end_of_london_day(date(year, month, min(start.day, _days_in_month(year, month))))

    def working_days_between(self, start: Instant, end: Instant) -> int:
        """How many working days `end` is past `start`'s day 0: the inbox's "working
        days left" when `start` is now and `end` a deadline.

        Counts the working days after day 0 up to and including `end`'s London date, so
        `working_days_between(x, working_days_after(x, n)) == n` and a deadline on day 0
        gives 0. If `end`'s date is before day 0 the result is minus the working days
        after `end`'s date up to and including day 0 (a deadline on the working day
        before day 0 gives -1).
        """
        days = self._days
        return (days.last_index_on_or_before(london_date(end))
                - days.index_of_day_zero(london_date(start)))

    def working_days_taken(self, start: Instant, end: Instant) -> int:
        """The least N for which `end` is within N working days of `start`: 0 on day 0, N on the N-th
        working day after it, N + 1 on the weekend or bank holiday after that; negative if `end`'s
        date is before day 0. The reports' "working days to respond" and the checklist's count."""
        between = self.working_days_between(start, end)
        return between if self.is_working_day(end) else between + 1

    def day_numbers(self, first: date, last: date) -> Iterator[tuple[date, int]]:
        """Each date from `first` to `last` with the number of its day 0, counted in working days from
        `first`'s: two dates' numbers differ by the working days between their days 0. This is the
        rule written out as a table, for a query to count working days by subtraction."""
        days = self._days
        origin = days.working_days_before(first)
        day = first
        while day <= last:
            yield day, days.working_days_before(day) - origin
            day += timedelta(days=1)

    def expression_functions(self) -> dict[str, Callable]:
        """The calendar functions diagram expressions see, bound to this nation."""
        return {
            "working_days_after": self.working_days_after,
            "days_after": self.days_after,
            "weeks_after": self.weeks_after,
            "months_after": self.months_after,
            "hours_after": hours_after,
            "is_working_day": self.is_working_day,
            "working_days_between": self.working_days_between,
        }


DATE_ONLY_FUNCTIONS = frozenset({
    "working_days_after", "days_after", "weeks_after", "months_after", "is_working_day", "working_days_between",
})
"""The expression functions that read only the London date of the instants they are given, not the time
of day: two instants on the same London date give the same answer (not so `hours_after`)."""


_calendars: dict[str, WorkingCalendar] = {}


def calendar_for(nation: str = "ENG") -> WorkingCalendar:
    """The shared calendar for a nation, so its bank holidays are loaded once."""
    calendar = _calendars.get(nation)
    if calendar is None:
        calendar = _calendars.setdefault(nation, WorkingCalendar(nation))
    return calendar

"""The working-day rule: properties over many dates, then hand-checked dates.

The expected values in the tables were worked out on a calendar against the `holidays`
package's GB data (ENG, SCT, NIR) and are written as literal instants on purpose.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow_app.rules.calendar import (
    DATE_ONLY_FUNCTIONS,
    LAST_YEAR,
    LONDON,
    MAX_DAYS,
    MAX_MONTHS,
    MAX_WEEKS,
    MAX_WORKING_DAYS,
    NATIONS,
    WorkingCalendar,
    calendar_for,
    hours_after,
    london_date,
    london_midnight,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


@cache
def bank_holidays(nation: str) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv=nation, years=range(1999, 2100)))


def is_working(day: date, nation: str) -> bool:
    """The rule written out plainly, to check the calendar against."""
    return day.weekday() < 5 and day not in bank_holidays(nation)


nations = st.sampled_from(NATIONS)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2090, 12, 31),
    timezones=st.sampled_from(
        [UTC, LONDON, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9, minutes=30))]
    ),
)
working_day_counts = st.integers(0, MAX_WORKING_DAYS)


# Properties


@given(nations, instants, working_day_counts)
def test_working_days_after_ends_a_working_day_in_london(nation, when, n):
    cal = calendar_for(nation)
    due = cal.working_days_after(when, n)
    assert due.tzinfo is UTC
    assert due.astimezone(LONDON).time() == time(23, 59, 59)
    assert is_working(london_date(due), nation)
    assert cal.is_working_day(due)
    # a day ends at 23:59:59 (whole seconds): an instant inside that last second is not after it
    assert due >= when.replace(microsecond=0)


@given(nations, instants, working_day_counts)
def test_working_days_after_counts_exactly_n_working_days_after_day_zero(nation, when, n):
    cal = calendar_for(nation)
    received = london_date(when)
    day_zero = cal.day_zero(when)
    due = london_date(cal.working_days_after(when, n))

    assert is_working(day_zero, nation)
    skipped = (received + timedelta(days=i) for i in range((day_zero - received).days))
    assert not any(is_working(day, nation) for day in skipped)

    after_day_zero = (day_zero + timedelta(days=i) for i in range(1, (due - day_zero).days + 1))
    assert sum(is_working(day, nation) for day in after_day_zero) == n
    assert cal.working_days_between(when, cal.working_days_after(when, n)) == n


@given(nations, instants, working_day_counts, working_day_counts)
def test_more_working_days_never_give_an_earlier_deadline(nation, when, a, b):
    cal = calendar_for(nation)
    low, high = sorted((a, b))
    if low == high:
        assert cal.working_days_after(when, low) == cal.working_days_after(when, high)
    else:
        assert cal.working_days_after(when, low) < cal.working_days_after(when, high)


@given(nations, instants, instants, st.integers(0, 60))
def test_a_later_receipt_never_gives_an_earlier_deadline(nation, a, b, n):
    cal = calendar_for(nation)
    earlier, later = sorted((a, b))
    assert cal.working_days_after(earlier, n) <= cal.working_days_after(later, n)


@given(nations, instants, instants)
def test_working_days_between_matches_a_plain_count(nation, start, end):
    cal = calendar_for(nation)
    day_zero, last = cal.day_zero(start), london_date(end)
    if last >= day_zero:
        span = (day_zero + timedelta(days=i) for i in range(1, (last - day_zero).days + 1))
        expected = sum(is_working(day, nation) for day in span)
    else:
        span = (last + timedelta(days=i) for i in range(1, (day_zero - last).days + 1))
        expected = -sum(is_working(day, nation) for day in span)
    assert cal.working_days_between(start, end) == expected


@given(nations, instants, st.integers(0, MAX_DAYS))
def test_days_after_is_exactly_n_london_dates_on(nation, when, n):
    due = calendar_for(nation).days_after(when, n)
    assert due.tzinfo is UTC
    assert london_date(due) == london_date(when) + timedelta(days=n)
    assert due.astimezone(LONDON).time() == time(23, 59, 59)


@given(instants, st.integers(0, MAX_WEEKS))
def test_weeks_after_is_seven_days_a_week(when, n):
    cal = calendar_for()
    assert cal.weeks_after(when, n) == cal.days_after(when, 7 * n)


@given(instants, st.integers(0, MAX_MONTHS))
def test_months_after_keeps_the_day_of_month_or_clamps_to_the_last(when, n):
    start = london_date(when)
    due = calendar_for().months_after(when, n)
    end = london_date(due)
    assert (end.year - start.year) * 12 + end.month - start.month == n
    assert end.day == start.day or (end.day < start.day and (end + timedelta(days=1)).day == 1)
    assert due.astimezone(LONDON).time() == time(23, 59, 59)


# Hand-checked dates

WORKING_DAYS_AFTER = [
    # Christmas 2026 (ENG): Fri 25 Dec, Sat 26 Dec with Mon 28 Dec substitute, Fri 1 Jan.
    ("ENG", "2026-12-23T16:30:00+00:00", 0, "2026-12-23T23:59:59+00:00"),
    ("ENG", "2026-12-23T16:30:00+00:00", 5, "2027-01-04T23:59:59+00:00"),
    ("ENG", "2026-12-23T16:30:00+00:00", 10, "2027-01-11T23:59:59+00:00"),
    ("ENG", "2026-12-23T16:30:00+00:00", 20, "2027-01-25T23:59:59+00:00"),
    ("ENG", "2026-12-25T10:00:00+00:00", 0, "2026-12-29T23:59:59+00:00"),
    ("ENG", "2026-12-25T10:00:00+00:00", 5, "2027-01-06T23:59:59+00:00"),
    ("ENG", "2026-12-26T10:00:00+00:00", 5, "2027-01-06T23:59:59+00:00"),
    ("ENG", "2026-12-28T10:00:00+00:00", 5, "2027-01-06T23:59:59+00:00"),
    # Christmas 2027 falls on a weekend: substitutes Mon 27 and Tue 28 Dec.
    ("ENG", "2027-12-24T10:00:00+00:00", 1, "2027-12-29T23:59:59+00:00"),
    # Easter 2027: Good Friday 26 Mar, Easter Monday 29 Mar; BST from Sun 28 Mar.
    ("ENG", "2027-03-25T09:00:00+00:00", 0, "2027-03-25T23:59:59+00:00"),
    ("ENG", "2027-03-25T09:00:00+00:00", 5, "2027-04-05T22:59:59+00:00"),
    ("ENG", "2027-03-25T09:00:00+00:00", 10, "2027-04-12T22:59:59+00:00"),
    ("ENG", "2027-03-26T09:00:00+00:00", 5, "2027-04-06T22:59:59+00:00"),
    ("ENG", "2027-03-26T09:00:00+00:00", 10, "2027-04-13T22:59:59+00:00"),
    # Early May bank holiday 2027: Mon 3 May.
    ("ENG", "2027-04-30T14:00:00+00:00", 1, "2027-05-04T22:59:59+00:00"),
    ("ENG", "2027-04-30T14:00:00+00:00", 5, "2027-05-10T22:59:59+00:00"),
    ("ENG", "2027-05-03T09:00:00+00:00", 5, "2027-05-11T22:59:59+00:00"),
    # BST ends Sun 25 Oct 2026: Friday's end is 22:59:59 UTC, Monday's 23:59:59 UTC.
    ("ENG", "2026-10-23T09:00:00+00:00", 0, "2026-10-23T22:59:59+00:00"),
    ("ENG", "2026-10-23T09:00:00+00:00", 1, "2026-10-26T23:59:59+00:00"),
    # 23:30 UTC on Tue 1 June 2027 is 00:30 on Wed 2 June in London.
    ("ENG", "2027-06-01T23:30:00+00:00", 0, "2027-06-02T22:59:59+00:00"),
    ("ENG", "2027-06-01T20:00:00-04:00", 0, "2027-06-02T22:59:59+00:00"),
    # Scotland: 2 Jan 2027 (Sat) is a holiday, substituted Mon 4 Jan; no Easter Monday;
    # St Andrew's Day Mon 30 Nov 2026. England, Wales and Northern Ireland differ.
    ("SCT", "2026-12-23T16:30:00+00:00", 5, "2027-01-05T23:59:59+00:00"),
    ("SCT", "2027-03-25T09:00:00+00:00", 5, "2027-04-02T22:59:59+00:00"),
    ("SCT", "2026-11-27T10:00:00+00:00", 1, "2026-12-01T23:59:59+00:00"),
    ("ENG", "2026-11-27T10:00:00+00:00", 1, "2026-11-30T23:59:59+00:00"),
    ("WLS", "2026-11-27T10:00:00+00:00", 1, "2026-11-30T23:59:59+00:00"),
    # Northern Ireland: St Patrick's Day Wed 17 Mar 2027.
    ("NIR", "2027-03-16T10:00:00+00:00", 1, "2027-03-18T23:59:59+00:00"),
    ("ENG", "2027-03-16T10:00:00+00:00", 1, "2027-03-17T23:59:59+00:00"),
]


@pytest.mark.parametrize("nation, received, n, expected", WORKING_DAYS_AFTER)
def test_working_days_after_on_hand_checked_dates(nation, received, n, expected):
    due = calendar_for(nation).working_days_after(received, n)
    assert due == utc(expected)
    assert due.tzinfo is UTC
    assert calendar_for(nation).working_days_after(utc(received), n) == due


DAYS_AFTER = [
    # BST ends Sun 25 Oct 2026 and Sun 31 Oct 2027, starts Sun 28 Mar 2027.
    ("2026-10-23T09:00:00+00:00", 1, "2026-10-24T22:59:59+00:00"),
    ("2026-10-23T09:00:00+00:00", 2, "2026-10-25T23:59:59+00:00"),
    ("2027-03-26T09:00:00+00:00", 1, "2027-03-27T23:59:59+00:00"),
    ("2027-03-26T09:00:00+00:00", 2, "2027-03-28T22:59:59+00:00"),
    ("2027-10-29T09:00:00+00:00", 1, "2027-10-30T22:59:59+00:00"),
    ("2027-10-29T09:00:00+00:00", 2, "2027-10-31T23:59:59+00:00"),
    ("2027-06-01T23:30:00+00:00", 0, "2027-06-02T22:59:59+00:00"),
    ("2026-12-23T16:30:00+00:00", 10, "2027-01-02T23:59:59+00:00"),
]


@pytest.mark.parametrize("received, n, expected", DAYS_AFTER)
def test_days_after_on_hand_checked_dates(received, n, expected):
    assert calendar_for().days_after(received, n) == utc(expected)


@pytest.mark.parametrize("received, n, expected", [
    ("2027-01-31T12:00:00+00:00", 1, "2027-02-28T23:59:59+00:00"),
    ("2028-01-31T12:00:00+00:00", 1, "2028-02-29T23:59:59+00:00"),
    ("2026-08-31T12:00:00+00:00", 2, "2026-10-31T23:59:59+00:00"),
    ("2026-08-31T12:00:00+00:00", 1, "2026-09-30T22:59:59+00:00"),
    ("2026-12-15T12:00:00+00:00", 12, "2027-12-15T23:59:59+00:00"),
    ("2026-05-31T23:30:00+00:00", 1, "2026-07-01T22:59:59+00:00"),
])
def test_months_after_on_hand_checked_dates(received, n, expected):
    assert calendar_for().months_after(received, n) == utc(expected)


def test_weeks_after_crosses_the_clock_change():
    assert calendar_for().weeks_after("2026-10-20T09:00:00+00:00", 1) == utc(
        "2026-10-27T23:59:59+00:00"
    )


@pytest.mark.parametrize("nation, when, expected", [
    ("ENG", "2026-12-23T16:30:00+00:00", True),
    ("ENG", "2026-12-25T10:00:00+00:00", False),
    ("ENG", "2026-12-28T10:00:00+00:00", False),
    ("ENG", "2027-01-04T10:00:00+00:00", True),
    ("SCT", "2027-01-04T10:00:00+00:00", False),
    ("ENG", "2027-03-29T10:00:00+01:00", False),
    ("SCT", "2027-03-29T10:00:00+01:00", True),
    ("ENG", "2026-11-30T10:00:00+00:00", True),
    ("SCT", "2026-11-30T10:00:00+00:00", False),
    ("ENG", "2027-06-04T12:00:00+00:00", True),
    ("ENG", "2027-06-04T23:30:00+00:00", False),
    ("ENG", date(2027, 5, 3), False),
    ("ENG", "2027-05-04", True),
])
def test_is_working_day_on_hand_checked_dates(nation, when, expected):
    assert calendar_for(nation).is_working_day(when) is expected


@pytest.mark.parametrize("start, end, expected", [
    ("2026-12-23T16:30:00+00:00", "2027-01-04T23:59:59+00:00", 5),
    ("2026-12-23T16:30:00+00:00", "2026-12-23T23:59:59+00:00", 0),
    ("2027-01-04T09:00:00+00:00", "2026-12-23T16:30:00+00:00", -5),
    ("2026-12-26T10:00:00+00:00", "2026-12-29T12:00:00+00:00", 0),
    ("2026-12-26T10:00:00+00:00", "2026-12-28T12:00:00+00:00", -1),
    ("2026-12-26T10:00:00+00:00", "2026-12-24T12:00:00+00:00", -1),
    ("2026-12-26T10:00:00+00:00", "2026-12-23T12:00:00+00:00", -2),
])
def test_working_days_between_on_hand_checked_dates(start, end, expected):
    assert calendar_for().working_days_between(start, end) == expected


def test_london_date_of_a_summer_evening_in_utc_is_the_next_day():
    assert london_date("2027-06-01T23:30:00+00:00") == date(2027, 6, 2)
    assert london_date(utc("2027-06-01T22:59:59+00:00")) == date(2027, 6, 1)
    assert london_date("2026-12-23T23:30:00Z") == date(2026, 12, 23)
    assert london_date(date(2027, 6, 1)) == date(2027, 6, 1)


def test_a_date_is_taken_as_that_london_date():
    cal = calendar_for()
    assert cal.working_days_after(date(2026, 12, 23), 5) == utc("2027-01-04T23:59:59+00:00")
    assert cal.working_days_after("2026-12-23", 5) == utc("2027-01-04T23:59:59+00:00")
    assert cal.day_zero(date(2026, 12, 25)) == date(2026, 12, 29)


# Refusals


@pytest.mark.parametrize("when", [
    datetime(2026, 12, 23, 16, 30),
    "2026-12-23T16:30:00",
    "2026-12-23 16:30",
])
def test_a_time_without_an_offset_is_refused(when):
    with pytest.raises(ValueError, match="no UTC offset"):
        calendar_for().working_days_after(when, 5)


@pytest.mark.parametrize("when", ["next tuesday", "", 1766507400, None])
def test_something_that_is_not_a_time_is_refused(when):
    with pytest.raises(ValueError):
        calendar_for().days_after(when, 1)


@pytest.mark.parametrize("function, n", [
    ("working_days_after", -1),
    ("working_days_after", MAX_WORKING_DAYS + 1),
    ("days_after", MAX_DAYS + 1),
    ("weeks_after", MAX_WEEKS + 1),
    ("months_after", MAX_MONTHS + 1),
    ("months_after", -1),
    ("working_days_after", True),
    ("days_after", 1.0),
    ("days_after", "5"),
])
def test_counts_out_of_bounds_are_refused(function, n):
    with pytest.raises(ValueError, match="number of"):
        getattr(calendar_for(), function)("2026-12-23T16:30:00+00:00", n)


def test_counts_at_the_bounds_are_accepted():
    cal = calendar_for()
    when = "2026-12-23T16:30:00+00:00"
    assert cal.working_days_after(when, MAX_WORKING_DAYS).year == 2030
    assert cal.days_after(when, MAX_DAYS) == utc("2036-12-30T23:59:59+00:00")
    assert cal.months_after(when, MAX_MONTHS) == utc("2036-12-23T23:59:59+00:00")


def test_a_deadline_beyond_the_bank_holiday_data_is_refused():
    with pytest.raises(ValueError, match=str(LAST_YEAR)):
        calendar_for().working_days_after(date(LAST_YEAR, 12, 1), 100)


def test_an_unknown_nation_is_refused():
    with pytest.raises(ValueError, match="unknown nation"):
        WorkingCalendar("GB")
    with pytest.raises(ValueError, match="unknown nation"):
        calendar_for("eng")


# Wiring


def test_calendar_for_shares_one_instance_per_nation():
    assert calendar_for("SCT") is calendar_for("SCT")
    assert calendar_for() is calendar_for("ENG")
    assert calendar_for("SCT").nation == "SCT"


def test_expression_functions_are_the_documented_names_bound_to_the_nation():
    functions = calendar_for("SCT").expression_functions()
    assert set(functions) == {
        "working_days_after", "days_after", "weeks_after", "months_after",
        "is_working_day", "working_days_between", "hours_after",
    }
    assert functions["working_days_after"]("2026-12-23T16:30:00+00:00", 5) == utc(
        "2027-01-05T23:59:59+00:00"
    )


@pytest.mark.parametrize("day", [date(2026, 1, 1), date(2026, 3, 28), date(2026, 3, 29), date(2026, 10, 25),
                                 date(2026, 12, 24)])
def test_the_date_only_functions_give_one_answer_all_day(day):
    functions = calendar_for("ENG").expression_functions()
    early, late = (datetime.combine(day, time(h, 30), LONDON) for h in (0, 23))
    for name in DATE_ONLY_FUNCTIONS:
        function = functions[name]
        if name == "is_working_day":
            assert function(early) == function(late)
        elif name == "working_days_between":
            other = utc("2026-06-01T12:00:00+00:00")
            assert function(early, other) == function(late, other)
            assert function(other, early) == function(other, late)
        else:
            assert all(function(early, n) == function(late, n) for n in (0, 1, 5, 20)), name
    assert "hours_after" not in DATE_ONLY_FUNCTIONS
    assert functions["hours_after"](early, 1) != functions["hours_after"](late, 1)


def test_hours_are_elapsed_clock_hours_across_both_clock_changes():
    # Sat 27 March 2027 10:15 GMT + 24 h = Sun 28 March 10:15Z, 11:15 BST on the wall clock; Sat 30 October
    # 2027 10:00 BST (09:00Z) + 24 h = Sun 31 October 09:00Z, 09:00 GMT.
    assert hours_after("2027-03-27T10:15:00+00:00", 24) == utc("2027-03-28T10:15:00+00:00")
    assert hours_after(utc("2027-10-30T09:00:00+00:00"), 24) == utc("2027-10-31T09:00:00+00:00")
    for refused in ("2027-03-27", "2027-03-27T10:15:00"):
        with pytest.raises(ValueError):
            hours_after(refused, 24)
    with pytest.raises(ValueError):
        hours_after("2027-03-27T10:15:00+00:00", -1)


# --- the rule as the reports count it -------------------------------------------------------------

def test_london_midnight_is_the_start_of_the_london_date_in_utc():
    assert london_midnight(date(2027, 1, 4)) == datetime(2027, 1, 4, 0, 0, tzinfo=UTC)       # GMT
    assert london_midnight(date(2027, 7, 1)) == datetime(2027, 6, 30, 23, 0, tzinfo=UTC)     # BST
    assert london_midnight(date(2027, 3, 28)) == datetime(2027, 3, 28, 0, 0, tzinfo=UTC)     # clocks go forward at 01:00
    assert london_date(london_midnight(date(2027, 10, 31))) == date(2027, 10, 31)
    assert london_date(london_midnight(date(2027, 10, 31)) - timedelta(seconds=1)) == date(2027, 10, 30)


def test_working_days_taken_counts_to_the_working_day_a_response_falls_on():
    eng = calendar_for("ENG")
    received = datetime(2026, 12, 23, 16, 30, tzinfo=UTC)   # Wednesday; 25, 26 (28 in lieu) Dec and 1 Jan are holidays
    assert eng.working_days_taken(received, received) == 0
    assert eng.working_days_taken(received, datetime(2026, 12, 24, 12, 0, tzinfo=UTC)) == 1
    assert eng.working_days_taken(received, datetime(2026, 12, 25, 12, 0, tzinfo=UTC)) == 2   # a holiday counts as the next working day
    assert eng.working_days_taken(received, datetime(2027, 1, 4, 23, 0, tzinfo=UTC)) == 5    # Mon 4 Jan, 23:00 GMT
    assert eng.working_days_taken(received, datetime(2027, 1, 5, 9, 0, tzinfo=UTC)) == 6
    assert eng.working_days_taken(received, datetime(2026, 12, 22, 9, 0, tzinfo=UTC)) == -1


@given(st.dates(date(2001, 1, 1), date(2099, 12, 31)), st.integers(0, 60), st.sampled_from(NATIONS))
def test_a_deadline_n_working_days_after_is_taken_in_n(day, n, nation):
    calendar = calendar_for(nation)
    assert calendar.working_days_taken(day, calendar.working_days_after(day, n)) == n


@given(st.dates(date(2001, 1, 1), date(2099, 11, 30)), st.integers(0, 40), st.sampled_from(NATIONS))
def test_day_numbers_differ_by_the_working_days_between(first, span, nation):
    calendar = calendar_for(nation)
    numbers = dict(calendar.day_numbers(first, first + timedelta(days=span)))
    assert len(numbers) == span + 1 and numbers[first] == 0
    for day, number in numbers.items():
        assert number == calendar.working_days_taken(first, day)
    assert all(numbers[d + timedelta(days=1)] - numbers[d] == int(calendar.is_working_day(d))
               for d in numbers if d + timedelta(days=1) in numbers)

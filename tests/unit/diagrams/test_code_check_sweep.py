"""A timer's sweep over receipt instants: an expression that reads the receipt instant only through the
calendar's London-date functions is worked out once a London date, with the same result; expressions that
differ only in which recorded date they read share one."""
from __future__ import annotations

from datetime import date

import pytest

from workflow_app.diagrams.code_check.timers import evaluate_deadline, reads_dates_only, receipt_blind, sweep_instants
from workflow_app.diagrams.expressions import RestrictedEnvironment
from workflow_app.rules.calendar import calendar_for

RECEIPT = frozenset({"received_at", "acknowledged_at"})


@pytest.mark.parametrize("expression", [
    "working_days_after(acknowledged_at, 10 + stage1_extension_days)",
    "working_days_after(last_update_at or acknowledged_at, update_interval_days)",
    "working_days_after(days_after(received_at, 1) if urgent else received_at, 5)",
    "months_after(received_at, 12)",
    "working_days_after(received_at, 5 if is_working_day(received_at) else 6)",
])
def test_an_expression_reading_the_instant_through_date_functions_counts_by_date(expression):
    assert reads_dates_only(expression, RECEIPT)


@pytest.mark.parametrize("expression", [
    "hours_after(received_at, 24)",                                   # the time of day counts
    "working_days_after(received_at, 5 if received_at.hour < 12 else 6)",
    "received_at",
    "working_days_after(received_at + stage1_gap, 5)",
    "working_days_after(min(received_at, acknowledged_at), 5)",
    "working_days_after((chosen := received_at), 5)",
    "working_days_after(received_at if received_at.hour else acknowledged_at, 5)",
])
def test_an_expression_reading_the_instant_otherwise_does_not(expression):
    assert not reads_dates_only(expression, RECEIPT)


@pytest.mark.parametrize("expression, data", [
    ("working_days_after(acknowledged_at, 10 + stage1_extension_days)", {"stage1_extension_days": 10}),
    ("working_days_after(received_at, 5 if is_working_day(received_at) else 6)", {}),
    ("days_after(received_at, 8)", {}),
    ("working_days_after(received_at, 100000000)", {}),                # fails: the first day it fails on
    ("working_days_after(last_update_at or received_at, interval)", {"last_update_at": None, "interval": 20}),
])
def test_the_sweep_by_date_gives_the_sweep_of_every_instant(expression, data):
    calendar = calendar_for("ENG")
    environment = RestrictedEnvironment(calendar.expression_functions())
    instants = sweep_instants(date(2026, 1, 1), 120)

    def contexts(instant):
        return {**data, "received_at": instant, "acknowledged_at": instant}
    assert reads_dates_only(expression, RECEIPT)
    by_date = evaluate_deadline(expression, contexts, environment, calendar, instants, by_date=True)
    assert by_date == evaluate_deadline(expression, contexts, environment, calendar, instants)
    assert by_date.working_days is not None or by_date.failure is not None


def test_expressions_that_differ_only_in_which_recorded_date_they_read_share_a_sweep():
    stage1 = "working_days_after(last_update_at or stage1_responded_at, update_interval_days)"
    stage2 = "working_days_after(last_update_at or stage2_responded_at, update_interval_days)"
    both = frozenset({"last_update_at", "stage1_responded_at", "stage2_responded_at"})
    assert receipt_blind(stage1, both) == receipt_blind(stage2, both) is not None
    # Not when a name that differs is not the receipt instant, nor when the expression binds names itself.
    assert receipt_blind(stage1, frozenset({"stage1_responded_at"})) == \
        receipt_blind(stage2, frozenset({"stage2_responded_at"}))
    assert receipt_blind(stage1, frozenset({"stage1_responded_at"})) != receipt_blind(stage2, frozenset())
    assert receipt_blind("(lambda a: working_days_after(a, 5))(b)", frozenset({"a", "b"})) is None
    assert receipt_blind(stage1, both) == receipt_blind(stage1, both)      # the kept tree is not changed

"""Deadlines worked out by evaluating each timer's own expression over a sweep of receipt dates."""
from __future__ import annotations

import ast
import contextlib
import copy
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from workflow_app.diagrams.code_check.facts import EXPLORE_AT, MISSING, RECEIPT, Token, freeze
from workflow_app.diagrams.code_check.reading import exact, expression_tree, names_read
from workflow_app.diagrams.definitions import Element
from workflow_app.diagrams.expressions import RestrictedEnvironment
from workflow_app.rules.calendar import DATE_ONLY_FUNCTIONS, FIRST_YEAR, LAST_YEAR, LONDON, WorkingCalendar, london_date


@dataclass
class DeadlineResult:
    """A timer's due time on the worst day of the sweep, in working days from day 0."""

    working_days: int | None = None
    worst_day: date | None = None
    failure: str | None = None
    failure_day: date | None = None


SWEEP_ROOM = timedelta(days=2 * 366)
"""The sweep ends this long before the calendar's last day, so that deadlines from its last
receipt dates (extensions, windows, reviews months later) still fall within the bank-holiday data."""


def sweep_instants(start: date | None = None, days: int = 400) -> list[datetime]:
    """Receipt instants to try: every day for `days` days from `start` (1 January of this
    year by default), just after and just before midnight London time, so a date taken in
    UTC instead of London time shows up. The days are kept within the calendar's years: a
    deadline that fails only for a date the calendar cannot count is no fault of the diagram."""
    earliest, latest = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31) - SWEEP_ROOM
    days = max(1, min(days, (latest - earliest).days + 1))
    first = start or date(datetime.now(LONDON).year, 1, 1)
    first = min(max(first, earliest), latest - timedelta(days=days - 1))
    instants = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        instants.append(datetime.combine(day, time(0, 30), LONDON))
        instants.append(datetime.combine(day, time(23, 30), LONDON))
    return instants


def evaluate_deadline(expression: str, contexts, environment: RestrictedEnvironment,
                       calendar: WorkingCalendar, instants: Sequence[datetime], *,
                       by_date: bool = False) -> DeadlineResult:
    """The worst due time over the instants. `by_date`: the expression's due time is the same for every
    receipt instant on a London date (`reads_dates_only`), and so is the count of working days to it:
    an instant on the same date as the one before adds nothing."""
    result = DeadlineResult()
    last_date = None
    for instant in instants:
        if by_date:
            day = london_date(instant)
            if day == last_date:
                continue
            last_date = day
        try:
            due = environment.evaluate(expression, contexts(instant))
            if isinstance(due, str):
                due = datetime.fromisoformat(due)
            if not isinstance(due, datetime) or due.tzinfo is None:
                raise ValueError(f"it gives {due!r}, not a date and time with a UTC offset")
            days = calendar.working_days_between(instant, due)
        except Exception as error:  # reported as a finding, naming the day it failed on
            if result.failure is None:
                result.failure, result.failure_day = _explain_error(error), london_date(instant)
            continue
        if result.working_days is None or days > result.working_days:
            result.working_days, result.worst_day = days, london_date(instant)
    return result


@lru_cache(maxsize=256)
def reads_dates_only(expression: str, receipt: frozenset[str]) -> bool:
    """Whether an expression reads the receipt instant (the names in `receipt`) only as an argument of the
    calendar functions that read nothing but its London date (`DATE_ONLY_FUNCTIONS`): given to one directly,
    or as what an `or`, `and` or `... if ... else ...` given to one can give (an instant is always true)."""
    tree = expression_tree(expression)
    if tree is None:
        return False
    given: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.NamedExpr):
            return False
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in DATE_ONLY_FUNCTIONS:
            given += [*node.args, *(k.value for k in node.keywords)]
    as_dates: set[int] = set()
    while given:
        node = given.pop()
        as_dates.add(id(node))
        if isinstance(node, ast.BoolOp):
            given += node.values
        elif isinstance(node, ast.IfExp):
            given += [node.body, node.orelse]
    return all(id(node) in as_dates for node in ast.walk(tree)
               if isinstance(node, ast.Name) and node.id in receipt)


@lru_cache(maxsize=256)
def receipt_blind(expression: str, receipt: frozenset[str]) -> str | None:
    """The expression with each name in `receipt` read as one and the same name: equal for two expressions
    that differ only in which of those names they read. None when the expression binds names of its own
    (a lambda, a comprehension, `:=`), which such a renaming could confuse."""
    tree = copy.deepcopy(expression_tree(expression))
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.NamedExpr)):
            return None
        if isinstance(node, ast.Name) and node.id in receipt:
            node.id = "<receipt>"
    return ast.dump(tree)


def _explain_error(error: Exception) -> str:
    if isinstance(error, NameError):
        match = re.search(r"'(\w+)'", str(error))
        return f"it reads {match.group(1) if match else 'a value'}, which the case does not have yet on this path"
    return str(error) or type(error).__name__


class TimerSweep:
    """A timer armed on a path: its due time over the sweep, on the case data the path has."""

    def _deadline(self, token: Token, element: Element) -> DeadlineResult:
        """A timer's sweep, shared by the timers and paths it cannot tell apart: the same element (or
        expression) on case data with the same values, those that vary with the receipt day worked out
        the same way (`Token.worked_out`). A timer reading a value worked out from a recorded date is
        swept by replaying the path's history on each receipt day; otherwise recorded dates are the
        receipt instant and the rest keep their values."""
        names = names_read(element.timer_expression)
        values = {n: token.ctx.get(n, MISSING) for n in names}
        worked_out = token.worked_out
        replayed = any(worked_out.get(n, RECEIPT) != RECEIPT for n in names)
        if replayed:
            how = tuple((n, ("worked out", worked_out[n]) if n in worked_out else
                         "<missing>" if v is MISSING else exact(v)) for n, v in sorted(values.items()))
            shared = all(v is not None for _, v in how)
            group = (element.id, "replay", how if shared else token.recipe)
        else:
            group = (element.id, tuple(sorted((n, freeze(v)) for n, v in values.items())))
        self._group = group
        if group not in self.results:
            expression = element.timer_expression or ""
            # Another timer with the same expression on the same case data has the same sweep.
            same: tuple | None
            alike: tuple | None = None
            if replayed:
                contexts = self._replayer(token.recipe)
                same = (expression, "replay", how) if shared else None
            else:
                fixed = {n: v for n, v in values.items() if v is not MISSING}
                receipt = frozenset(n for n, v in fixed.items() if isinstance(v, datetime) and v == EXPLORE_AT)

                def contexts(instant: datetime, fixed=fixed, receipt=receipt) -> dict[str, Any]:
                    return {n: (instant if n in receipt else v) for n, v in fixed.items()}
                data = tuple((n, "<receipt>" if isinstance(v, datetime) and v == EXPLORE_AT else exact(v))
                             for n, v in sorted(fixed.items()))
                same = None if any(v is None for _, v in data) else (expression, data)
                # The same expression but for which recorded dates it reads (all of them the receipt instant)
                # gives the same due times; its failures may name them, so only a sweep without one is shared.
                blind = receipt_blind(expression, receipt) if same is not None else None
                alike = None if blind is None else (blind, tuple((n, v) for n, v in data if n not in receipt))
            swept = self.sweeps.get(same) if same is not None else None
            if swept is None and alike is not None:
                swept = self.sweeps.get(alike)
            if swept is None:
                by_date = not replayed and reads_dates_only(expression, receipt)
                swept = evaluate_deadline(expression, contexts, self.environment, self.calendar, self.instants,
                                          by_date=by_date)
                if same is not None:
                    self.sweeps[same] = swept
                if alike is not None and swept.failure is None:
                    self.sweeps[alike] = swept
            self.results[group] = dataclasses.replace(swept)
        return self.results[group]

    def _replayer(self, recipe: tuple):
        """The case data on another receipt day: the path's answers, dates and scripts again."""
        def contexts(instant: datetime) -> dict[str, Any]:
            ctx: dict[str, Any] = {"reference": "XX-2026-000001", "landlord": self.landlord}
            for kind, detail in recipe:
                if kind == "data":
                    ctx.update(dict(detail))
                elif kind == "stamp":
                    ctx[detail] = instant
                else:
                    with contextlib.suppress(Exception):
                        self.environment.execute(detail, ctx)
            return ctx
        return contexts

"""The answers tried for a user task's form: every choice a gateway, script or timer could react to."""
from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any

from workflow_app.diagrams.code_check.extensions import AGREEMENT
from workflow_app.diagrams.code_check.facts import EXPLORE_AT, Candidate
from workflow_app.diagrams.code_check.process_graph import Node, ProcessGraph
from workflow_app.diagrams.code_check.reading import compared_constants, exact, feel_names
from workflow_app.diagrams.forms import Field, Form
from workflow_app.rules.calendar import LONDON

UNBOUNDED_ANSWER = 200
"""Tried for a number field without a maximum: far beyond any Code timescale."""
MAX_COMBINATIONS = 200  # answers tried per form before trying one field at a time


def _date_candidates(subtype: str) -> list[Candidate]:
    """Dates tried for a date field: within and beyond the Code's 12 months, and in the future."""
    day = EXPLORE_AT.date()
    tried: list[tuple[date, float]] = [(day - timedelta(days=1), 0.03)]
    tried += [(_months_before(day, months), float(months)) for months in (1, 3, 5, 6, 7, 9, 11)]
    tried.append((_months_before(day, 12) + timedelta(days=2), 11.9))
    tried += [(_months_before(day, months), float(months)) for months in (13, 24)]
    tried += [(day + timedelta(days=30), -1.0), (day + timedelta(days=365), -12.0)]
    if subtype == "datetime":
        return [Candidate(datetime.combine(d, time(12, 0), LONDON).isoformat(), m) for d, m in tried]
    return [Candidate(d.isoformat(), m) for d, m in tried]


def _months_before(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 - months, 12)
    year, month = day.year + year, month + 1
    try:
        return date(year, month, day.day)
    except ValueError:
        return date(year, month, 28)


def _bound(bound: Any, scope: Mapping[str, Any]) -> float | None:
    if bound is None or isinstance(bound, (int, float)):
        return bound
    try:
        value = bound.evaluate(scope)
        return None if isinstance(value, bool) or value is None else float(value)
    except Exception:  # a bound that cannot be worked out here is treated as open
        return None


def _hidden(f: Field, scope: Mapping[str, Any]) -> bool:
    try:
        return any(expression.evaluate(scope) is True for expression in f.hide)
    except Exception:
        return False


def _product(choices: list[tuple[Field, list[Candidate | None]]]) -> list[dict[str, Candidate]]:
    """Every combination of the candidates, or one field at a time when there are too many."""
    size = 1
    for _, values in choices:
        size *= max(len(values), 1)
    if size <= MAX_COMBINATIONS:
        return [{f.key: c for (f, _), c in zip(choices, values, strict=True) if c is not None}
                for values in itertools.product(*[v or [None] for _, v in choices])]
    first = {f.key: v[0] for f, v in choices if v and v[0] is not None}
    combinations = [first]
    for f, values in choices:
        for candidate in values[1:]:
            answer = {k: v for k, v in first.items() if k != f.key}
            if candidate is not None:
                answer[f.key] = candidate
            combinations.append(answer)
    return combinations


class Answers:
    """The sets of answers tried for a user task's form: every choice a gateway, script or timer
    could react to, numbers at their bounds (worked out on the case data) and either side of any
    number a condition compares them with, dates within and beyond 12 months."""

    def __init__(self, graph: ProcessGraph) -> None:
        self.graph = graph
        read: set[str] = set()
        for node in graph.nodes.values():
            read |= graph.reads(node)
        for form in graph.forms.values():
            read |= {f.key for f in form.fields if AGREEMENT.search(f.key)}
            for f in form.fields:               # answers another answer's bounds depend on
                for bound in (f.min, f.max):
                    read |= feel_names(bound)
        self.read = read
        self._edges: dict[str, set[float]] = {}
        self._tried: dict[tuple, tuple[Mapping[str, Candidate], ...]] = {}
        self._reads: dict[str, tuple[str, ...] | None] = {}

    def __call__(self, node: Node, ctx: Mapping[str, Any]) -> Sequence[Mapping[str, Candidate]]:
        """The answers tried at a user task on this case data: worked out once per task and identical
        case data (many paths reach a task with the same data and different facts), and shared, so
        read-only."""
        read = self._form_reads(node)
        data = tuple((k, exact(ctx[k])) for k in read if k in ctx) if read is not None else \
            tuple(sorted((k, exact(v)) for k, v in ctx.items()))
        if any(v is None for _, v in data):
            return self._answers(node, ctx)
        key = (node.id, data)
        if key not in self._tried:
            self._tried[key] = tuple(MappingProxyType(answer) for answer in self._answers(node, ctx))
        return self._tried[key]

    def _form_reads(self, node: Node) -> tuple[str, ...] | None:
        """The case data a task's answers depend on: what its form's `conditional.hide` and bounds read
        (None when a bound or condition is not one whose names can be read)."""
        if node.id not in self._reads:
            form = self.graph.forms.get(node.element.form_ref or "")
            names: set[str] | None = set()
            for f in form.fields if form is not None else ():
                for expression in (*f.hide, f.min, f.max):
                    if expression is None or isinstance(expression, (int, float)):
                        continue
                    if getattr(expression, "tree", None) is None:
                        names = None
                        break
                    names |= feel_names(expression)
                if names is None:
                    break
            self._reads[node.id] = None if names is None else tuple(sorted(names))
        return self._reads[node.id]

    def _answers(self, node: Node, ctx: Mapping[str, Any]) -> list[dict[str, Candidate]]:
        form = self.graph.forms.get(node.element.form_ref or "")
        if form is None:
            return [{}]
        fields = [f for f in form.fields if f.key in self.read]
        numbers = [f for f in fields if f.type == "number"]
        others = [(f, self._candidates(f)) for f in fields if f.type != "number"]
        combinations: list[dict[str, Candidate]] = []
        for answer in _product(others):
            scope = {**ctx, **{k: c.value for k, c in answer.items()}}
            choices = []
            for f in numbers:
                if _hidden(f, scope):
                    continue
                values = self._numbers(f, scope)
                if not values and f.required:
                    break  # the form would accept no number here: this way of answering is impossible
                choices.append((f, values + ([] if f.required else [None])))
            else:
                combinations += [{**answer, **more} for more in _product(choices)]
        unique: dict[tuple, dict[str, Candidate]] = {}
        for answer in combinations:
            scope = {**ctx, **{k: c.value for k, c in answer.items()}}
            visible = {k: c for k, c in answer.items() if not _hidden(form.field(k), scope)}
            unique.setdefault(tuple(sorted((k, repr(c.value)) for k, c in visible.items())), visible)
        return list(unique.values())

    @staticmethod
    def _candidates(f: Field) -> list[Candidate | None]:
        absent: list[Candidate | None] = [] if f.required else [None]
        if f.options and f.type in ("checklist", "taglist"):
            return [Candidate([])] + [Candidate([v]) for v in f.options]
        if f.options:
            return [Candidate(v) for v in f.options] + absent
        if f.type == "checkbox":
            return [Candidate(True), Candidate(False)]
        if f.type == "datetime":
            return [*_date_candidates(f.subtype or "date"), *absent]
        return [Candidate("(text)"), *absent]

    def _numbers(self, f: Field, scope: Mapping[str, Any]) -> list[Candidate]:
        low, high = _bound(f.min, scope), _bound(f.max, scope)
        low = 0 if low is None else low
        if high is not None and high < low:
            return []
        values = {low, low + UNBOUNDED_ANSWER if high is None else high}
        if f.key not in self._edges:
            self._edges[f.key] = compared_constants(self.graph.conditions, f.key)
        for c in self._edges[f.key]:
            values.update(v for v in (c - 1, c, c + 1) if v >= low and (high is None or v <= high))
        return [Candidate(int(v) if float(v).is_integer() else v) for v in sorted(values)]


def option_labels(form: Form, key: str) -> list[str]:
    labels: list[str] = []

    def walk(components: Any) -> None:
        for component in components or []:
            if isinstance(component, dict):
                if component.get("key") == key:
                    labels.extend(str(v.get("label", "")) for v in component.get("values") or []
                                  if isinstance(v, Mapping))
                walk(component.get("components"))

    walk(form.source.get("components"))
    return labels

"""The Complaint Handling Code check: what a landlord's diagram does, held against the Code.

The engine's checks (`definitions.find_problems`) say whether a diagram can run; this
module says whether what it runs meets the Housing Ombudsman's Complaint Handling Code
(2024). It reads the diagram with its forms, its letter templates and the landlord's
settings, and reports findings, each with the Code provision, a severity (an `error`
the Code forbids, a `warning` the Code allows only with good reason), the element an
analyst must look at, and a plain explanation.

How it reads a diagram: it walks every path through the process the way the engine
would run it, trying the answers each form allows wherever a gateway, script or timer
reads them, and keeps, along each path, the few facts the Code's rules need (the
deadlines armed so far, the letters sent since, whether stage 1 has been answered...).
Two paths that reach the same element with the same case data still to be read and the
same facts have the same future, so only one of them is followed further.

Deadlines are worked out by *evaluating* each timer's own expression with the calendar
functions, over a sweep of receipt dates (at least a year of days, just after and just
before midnight, so weekends, bank holidays, Christmas and the clock changes all count),
with every date the case has recorded so far set to day 0, and measuring the working
days from day 0 to the due time. Nothing is read out of the expression's text. The
sweep stays within the calendar's years, and a due time that cannot be worked out for
some receipt day is an engine error: the engine would fail on such a complaint too.

Rules that judge what the diagram does rather than what it is called:
- the Code's acknowledgement clocks (6.2, 6.11) run wherever a complaint waits: from
  receipt until the element the `stage1_acknowledge` timer is attached to completes, and
  from an escalation request (a message after stage 1 is answered that leads into stage
  2) until stage 2 is acknowledged, every wait state has that timer on itself, on a
  subprocess around it, or among an event-based gateway's own events;
- a stage 2 deadline counts from the request or from something recorded since (6.11,
  6.14), never only from earlier dates such as the stage 1 response;
- after the stage 2 final response, a user task whose answers a gateway reads to choose
  between different outcomes, or that leads to a further response, is a third stage (5.3).

What the check needs a diagram to carry beyond the engine's conventions is in
docs/diagram-conventions.md, "Code check".
"""
from __future__ import annotations

import ast
import itertools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from lxml import etree

from workflow_app.rules.calendar import FIRST_YEAR, LAST_YEAR, LONDON, WorkingCalendar, calendar_for, london_date
from workflow_app.diagrams.definitions import ACTIVITY_TAGS, Element, find_problems, read_elements
from workflow_app.diagrams.graph import DiagramError, Graph as Diagram, Problem, read_graph, read_xml
from workflow_app.diagrams.expressions import RestrictedEnvironment
from workflow_app.rules.regime import HOUSING_OMBUDSMAN, Limit
from workflow_app.rules.vocabulary import ACKNOWLEDGE_KEYS, RESPONSE_KEYS, STAGE2_KEYS
from workflow_app.diagrams.forms import Field, Form

ERROR = "error"
WARNING = "warning"
ENGINE = "engine"
"""The `provision` of a finding that is not about the Code: the diagram cannot run as it is."""


# --- the Code's limits: one home -------------------------------------------------------------

CODE_LIMITS = HOUSING_OMBUDSMAN.limits
COMPLETION_PROVISIONS = HOUSING_OMBUDSMAN.completion_provisions
ACCEPTANCE_MONTHS = HOUSING_OMBUDSMAN.acceptance_months

UNLIMITED_WORKING_DAYS = 100
"""A deadline this far out in the sweep's worst case is taken as having no limit at all."""

UNBOUNDED_ANSWER = 200
"""Tried for a number field without a maximum: far beyond any Code timescale."""

WAIT_TAGS = frozenset({"userTask", "manualTask", "receiveTask", "intermediateCatchEvent", "eventBasedGateway"})
"""Where a complaint waits for someone or something: the places a Code clock must be running."""

# The words the check recognises; docs/diagram-conventions.md lists them for analysts.
EXTRA_STAGE = re.compile(
    r"\b(stage[\s_-]*(0|zero|nought)|informal[\s_-]*(complaints?|stage|resolution)|quick[\s_-]*fix(es)?"
    r"|pre[\s_-]*formal|first[\s_-]*tier)\b", re.IGNORECASE)
THIRD_STAGE = re.compile(r"\b(stage[\s_-]*(3|three|iii|4|four)|third[\s_-]*stage|final[\s_-]*appeal)\b",
                         re.IGNORECASE)
REFUSAL_OUTCOME = re.compile(r"(refus|exclu|declin|not[_-]?accept|reject)", re.IGNORECASE)
NO_LETTER_NEEDED_OUTCOME = re.compile(r"(withdraw|duplicate|merged|not[_-]?a[_-]?complaint|service[_-]?request)",
                                      re.IGNORECASE)
RESIDENT_REASONS = re.compile(
    r"(reasons?[\s_]*(for|why|of)?[\s_]*(the[\s_]*)?(asking[\s_]*for[\s_]*(a[\s_]*)?)?"
    r"(review|escalat\w*|dissatisf\w*|unhapp\w*|stage[\s_]*(2|two))"
    r"|(review|escalat\w*|dissatisf\w*|stage[\s_]*(2|two))[\s_]*reasons?)",
    re.IGNORECASE)
NO_REASONS = re.compile(
    r"((\bno|without|fail\w*[\s_]*to[\s_]*(give|provide|state)|not[\s_]*(give|provide|state)\w*)"
    r"[\s_]*(any[\s_]*|specific[\s_]*|the[\s_]*)*reasons?"
    r"|reasons?[\s_]*(not[\s_]*(given|provided|stated)|missing|absent))",
    re.IGNORECASE)
TIME_LIMIT = re.compile(r"(over|more[\s_]*than|older[\s_]*than|after|beyond|exceed\w*)[\s_]*(\d+)[\s_]*"
                        r"(months?|years?|weeks?|days?)", re.IGNORECASE)
ACCEPTING = re.compile(r"^(?!.*\bnot[\s_-]*accept).*\baccept", re.IGNORECASE)
AGREEMENT = re.compile(r"agree", re.IGNORECASE)
AGREED_PROPERTY = ("extension", "agreed")
"""The extension property marking where the resident agrees a longer extension."""


# --- findings ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """One thing the check found: the provision, error or warning, the element, and why."""

    provision: str
    severity: str
    element_id: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"provision": self.provision, "severity": self.severity,
                "element_id": self.element_id, "message": self.message}

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


def _provision_order(provision: str) -> tuple:
    if provision == ENGINE:
        return (0,)
    return (1, *[int(part) if part.isdigit() else 0 for part in provision.split(".")])


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    unique = list(dict.fromkeys(findings))
    return sorted(unique, key=lambda f: (f.severity != ERROR, _provision_order(f.provision),
                                         f.element_id or "", f.message))


def code_errors(findings: Iterable[Finding]) -> list[Finding]:
    """The Code errors (not the engine's): deploying with these needs an acknowledgement."""
    return [f for f in findings if f.is_error and f.provision != ENGINE]


# --- reading expressions ------------------------------------------------------------------------

def _tree(source: str | None) -> ast.AST | None:
    if not source:
        return None
    try:
        return ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        try:
            return ast.parse(source)
        except SyntaxError:
            return None


def _names_read(source: str | None) -> frozenset[str]:
    tree = _tree(source)
    if tree is None:
        return frozenset()
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))


def _words_in(source: str | None) -> set[str]:
    """Names, attributes and text constants in an expression: what it is about."""
    tree = _tree(source)
    words: set[str] = set()
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Name):
            words.add(node.id)
        elif isinstance(node, ast.Attribute):
            words.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            words.add(node.value)
    return words


def _compared_constants(sources: Iterable[str], key: str) -> set[float]:
    """Numbers a field is compared with in conditions: the edges worth trying answers at."""
    found: set[float] = set()
    for source in sources:
        tree = _tree(source)
        for node in ast.walk(tree) if tree is not None else ():
            if not isinstance(node, ast.Compare):
                continue
            parts = [node.left, *node.comparators]
            if any(isinstance(p, ast.Name) and p.id == key for p in parts):
                found.update(p.value for p in parts if isinstance(p, ast.Constant)
                             and isinstance(p.value, (int, float)) and not isinstance(p.value, bool))
    return found


def _feel_names(expression: Any) -> set[str]:
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, tuple) and node:
            if node[0] == "name" and isinstance(node[1], tuple):
                names.add(node[1][0])
                return
            for part in node[1:]:
                walk(part)

    walk(getattr(expression, "tree", None))
    return names


# --- the diagram as a graph ---------------------------------------------------------------------

@dataclass(frozen=True)
class Flow:
    id: str
    source: str
    target: str
    condition: str | None
    name: str


@dataclass
class Node:
    element: Element
    scope: str                                   # the process or subprocess it sits in
    outgoing: list[Flow] = field(default_factory=list)
    boundaries: list[str] = field(default_factory=list)
    default: str | None = None
    event: str | None = None                     # timer, message, error, signal, ...
    message: str | None = None                   # the message's name
    called: str | None = None                    # a call activity's process

    @property
    def id(self) -> str:
        return self.element.id

    @property
    def tag(self) -> str:
        return self.element.tag

    @property
    def letter(self) -> str | None:
        return self.element.properties.get("letter") or None


class Graph:
    """Sequence flows, boundary events and scopes: what the walk follows."""

    def __init__(self, diagram: Diagram, elements: Mapping[str, Element], forms: Mapping[str, Form]) -> None:
        self.elements = elements
        self.forms = forms
        self.nodes: dict[str, Node] = {}
        self.flows: dict[str, Flow] = {}
        self.starts: dict[str, list[str]] = defaultdict(list)
        messages = diagram.messages
        for element in elements.values():
            found = diagram.by_id.get(element.id)
            if found is None:
                continue
            node = Node(element, found.parent, default=found.default)
            for kind in ("timer", "message", "error", "signal", "escalation", "conditional",
                         "terminate", "compensate", "link", "cancel"):
                definition = found.event(kind)
                if definition is not None:
                    node.event = kind
                    ref = definition.message_ref
                    node.message = messages.get(ref, ref) if kind == "message" and ref else None
                    break
            if element.tag == "callActivity":
                node.called = found.called
            self.nodes[element.id] = node
            if element.tag == "startEvent":
                self.starts[node.scope].append(element.id)
        for written in diagram.flows:
            flow = Flow(written.id, written.source, written.target, written.condition or None,
                        (written.name or "").strip())
            self.flows[flow.id] = flow
            if flow.source in self.nodes and flow.target in self.nodes:
                self.nodes[flow.source].outgoing.append(flow)
        for node in self.nodes.values():
            if node.element.attached_to in self.nodes:
                self.nodes[node.element.attached_to].boundaries.append(node.id)
        self.clocks = {n: self._clocks(node) for n, node in self.nodes.items()}
        self.acknowledgers = {key: frozenset(n.element.attached_to for n in self.nodes.values()
                                             if n.element.deadline_key == key and n.event == "timer"
                                             and n.element.attached_to in self.nodes)
                              for key in ACKNOWLEDGE_KEYS.values()}
        self.scripts = {node.id: (node.script or "") for node in diagram.of("scriptTask")}
        self.main_process = diagram.main_process
        self.conditions = [f.condition for f in self.flows.values() if f.condition]
        self._guarded: dict[str, frozenset[str]] = {}
        self.key_reads: dict[str, frozenset[str]] = defaultdict(frozenset)
        for node in self.nodes.values():
            if node.element.deadline_key:
                self.key_reads[node.element.deadline_key] |= _names_read(node.element.timer_expression)
        self.live = self._liveness()
        self._outcomes: dict[str, frozenset[str]] = {}
        self._deciders: dict[str, list[str]] = {}
        self.cyclic_reach = self._cyclic_reach()

    def node(self, element_id: str) -> Node:
        return self.nodes[element_id]

    def _clocks(self, node: Node) -> frozenset[str]:
        """The deadline keys whose timers run while a complaint waits at an element: its boundary
        timers, and an event-based gateway's (or a timer event's) own."""
        timers = [self.nodes[b] for b in node.boundaries]
        if node.tag == "eventBasedGateway":
            timers += [self.nodes[f.target] for f in node.outgoing]
        if node.tag == "intermediateCatchEvent":
            timers.append(node)
        return frozenset(t.element.deadline_key for t in timers if t.event == "timer" and t.element.deadline_key)

    def waits(self, node: Node) -> bool:
        return node.tag in WAIT_TAGS and node.event != "link"

    def outcomes(self, element_id: str) -> frozenset[str]:
        """The outcomes of the end events a path from this element can still reach."""
        if element_id not in self._outcomes:
            self._outcomes[element_id] = frozenset(
                self.nodes[m].element.properties["outcome"] for m in self.reach[element_id] | {element_id}
                if self.nodes[m].tag == "endEvent" and self.nodes[m].element.properties.get("outcome"))
        return self._outcomes[element_id]

    def outcome_deciders(self, task_id: str) -> list[str]:
        """The gateways after a user task that read its answers to choose between different outcomes."""
        if task_id not in self._deciders:
            form = self.forms.get(self.elements[task_id].form_ref or "")
            answers = {f.key for f in form.fields if f.readonly is not True and f.disabled is not True} \
                if form is not None else set()
            deciders = []
            for gateway in sorted(self.reach[task_id]) if answers else ():
                node = self.nodes[gateway]
                if node.tag not in ("exclusiveGateway", "inclusiveGateway"):
                    continue
                read = set().union(*[_names_read(f.condition) for f in node.outgoing]) if node.outgoing else set()
                if read & answers and len({self.outcomes(f.target) for f in node.outgoing}) > 1:
                    deciders.append(gateway)
            self._deciders[task_id] = deciders
        return self._deciders[task_id]

    def guarded_by(self, key: str) -> frozenset[str]:
        """The activities a timer with this deadline key is attached to, and what they enclose."""
        if key not in self._guarded:
            guarded = {n.element.attached_to for n in self.nodes.values()
                       if n.element.deadline_key == key and n.element.attached_to}
            enclosed = {n.id for n in self.nodes.values() if set(n.element.enclosing) & guarded}
            self._guarded[key] = frozenset(guarded | enclosed)
        return self._guarded[key]

    def responders(self, stage: str) -> frozenset[str]:
        """The activities that give a stage's response: those its response deadline guards."""
        return frozenset(e for e in self.guarded_by(RESPONSE_KEYS[stage])
                         if self.elements[e].tag in ("userTask", "subProcess", "callActivity", "transaction"))

    def successors(self, node: Node) -> list[str]:
        following = [f.target for f in node.outgoing]
        following += [t for b in node.boundaries for t in (f.target for f in self.nodes[b].outgoing)]
        following += self.starts.get(node.id, []) + self.starts.get(node.called or "", [])
        if not node.outgoing or node.tag == "endEvent":
            parent = self.nodes.get(node.scope)
            if parent is not None:
                following += [f.target for f in parent.outgoing]
        return following

    def reads(self, node: Node) -> set[str]:
        """The case data an element reads: conditions, scripts, timers, its form's FEEL."""
        names = set().union(*[_names_read(f.condition) for f in node.outgoing]) if node.outgoing else set()
        names |= _names_read(node.element.timer_expression)
        names |= set().union(*[_names_read(self.nodes[b].element.timer_expression) for b in node.boundaries]) \
            if node.boundaries else set()
        if node.tag == "scriptTask":
            names |= _names_read(self.scripts.get(node.id))
        if node.tag == "eventBasedGateway":
            for f in node.outgoing:
                names |= _names_read(self.nodes[f.target].element.timer_expression)
        form = self.forms.get(node.element.form_ref or "") if node.tag == "userTask" else None
        for f in form.fields if form is not None else ():
            for bound in (f.min, f.max):
                names |= _feel_names(bound) - set(form.keys)
        return names

    def writes(self, node: Node) -> set[str]:
        """The case data an element always sets when it completes (a script's assignments, its
        timestamp, a message's arrival, a form's required fields that are never hidden)."""
        names = set()
        if node.tag == "scriptTask":
            tree = _tree(self.scripts.get(node.id))
            names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)} \
                if tree is not None else set()
        if node.element.properties.get("timestamp"):
            names.add(node.element.properties["timestamp"])
        if node.event == "message":
            names.add(f"{node.message or node.id}_at")
        form = self.forms.get(node.element.form_ref or "") if node.tag == "userTask" else None
        for f in form.fields if form is not None else ():
            if f.required and not f.hide and f.readonly is False and f.disabled is False:
                names.add(f.key)
        return names

    def _liveness(self) -> dict[str, frozenset[str]]:
        """For each element, the case data it, or anything after it, may read before it is set again."""
        reads = {n: self.reads(node) for n, node in self.nodes.items()}
        writes = {n: self.writes(node) for n, node in self.nodes.items()}
        boundary_targets = {n: {f.target for b in node.boundaries for f in self.nodes[b].outgoing}
                            for n, node in self.nodes.items()}
        following = {n: [s for s in self.successors(node) if s in self.nodes] for n, node in self.nodes.items()}
        live: dict[str, set[str]] = {n: set(reads[n]) for n in self.nodes}
        changed = True
        while changed:
            changed = False
            for n in self.nodes:
                before = len(live[n])
                for s in following[n]:
                    later = live[s] if s in boundary_targets[n] else live[s] - writes[n]
                    live[n] |= later
                changed |= len(live[n]) != before
        return {n: frozenset(v) for n, v in live.items()}

    def _cyclic_reach(self) -> dict[str, frozenset[str]]:
        """For each element, the elements on loops it can still reach (whose visit counts matter)."""
        following = {n: [s for s in self.successors(node) if s in self.nodes] for n, node in self.nodes.items()}
        reach: dict[str, set[str]] = {}
        for n in self.nodes:
            seen, stack = set(), list(following[n])
            while stack:
                m = stack.pop()
                if m not in seen:
                    seen.add(m)
                    stack.extend(following[m])
            reach[n] = seen
        cyclic = {n for n in self.nodes if n in reach[n]}
        code_timers = {n for n, node in self.nodes.items()
                       if any(self.nodes[b].element.deadline_key in CODE_LIMITS for b in node.boundaries)}
        self.visit_cap = {n: MAX_VISITS if n in cyclic and any(t in reach[n] and n in reach[t] for t in code_timers)
                          else MAX_VISITS - 1 for n in self.nodes}
        self.keys_ahead = {n: frozenset(self.nodes[m].element.deadline_key for m in reach[n] | {n}
                                        for m in [m, *self.nodes[m].boundaries]
                                        if self.nodes[m].element.deadline_key) for n in self.nodes}
        self.reach = {n: frozenset(r) for n, r in reach.items()}
        self.stage2_ahead = {n: any(self.elements[m].stage == "2" for m in reach[n] | {n}) for n in self.nodes}
        answering = self.responders("1") | self.responders("2")
        self.responses_ahead = {n: bool((reach[n] | {n}) & answering) for n in self.nodes}
        return {n: frozenset((reach[n] | {n}) & cyclic) for n in self.nodes}


def main_process(diagram: etree._Element | Diagram) -> str | None:
    """The process a complaint runs (None unless exactly one executable process is called by nothing)."""
    return (diagram if isinstance(diagram, Diagram) else read_graph(diagram)).main_process


# --- answers tried for forms ----------------------------------------------------------------------

EXPLORE_AT = datetime(2026, 3, 4, 12, 0, tzinfo=LONDON)
"""The instant every recorded date is set to while paths are walked (day 0)."""

MAX_VISITS = 3          # times one path may pass the same element: enough to see a repeated extension
MAX_STEPS = 200_000     # elements entered over all paths, so a tangled diagram cannot hang the check
MAX_COMBINATIONS = 200  # answers tried per form before trying one field at a time


@dataclass(frozen=True)
class Candidate:
    """A value tried for a form field, with what it stands for (months before receipt, for a date)."""

    value: Any
    months_before: float | None = None


class _Stamp:
    def __repr__(self) -> str:
        return "<day 0>"


STAMP = _Stamp()
_MISSING = object()


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
        return [{f.key: c for (f, _), c in zip(choices, values) if c is not None}
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


class _Answers:
    """The sets of answers tried for a user task's form: every choice a gateway, script or timer
    could react to, numbers at their bounds (worked out on the case data) and either side of any
    number a condition compares them with, dates within and beyond 12 months."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        read: set[str] = set()
        for node in graph.nodes.values():
            read |= graph.reads(node)
        for form in graph.forms.values():
            read |= {f.key for f in form.fields if AGREEMENT.search(f.key)}
            for f in form.fields:               # answers another answer's bounds depend on
                for bound in (f.min, f.max):
                    read |= _feel_names(bound)
        self.read = read
        self._edges: dict[str, set[float]] = {}

    def __call__(self, node: Node, ctx: Mapping[str, Any]) -> list[dict[str, Candidate]]:
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
        return [Candidate("(text)")] + absent

    def _numbers(self, f: Field, scope: Mapping[str, Any]) -> list[Candidate]:
        low, high = _bound(f.min, scope), _bound(f.max, scope)
        low = 0 if low is None else low
        if high is not None and high < low:
            return []
        values = {low, low + UNBOUNDED_ANSWER if high is None else high}
        if f.key not in self._edges:
            self._edges[f.key] = _compared_constants(self.graph.conditions, f.key)
        for c in self._edges[f.key]:
            values.update(v for v in (c - 1, c, c + 1) if v >= low and (high is None or v <= high))
        return [Candidate(int(v) if float(v).is_integer() else v) for v in sorted(values)]


# --- deadlines over a sweep of dates ----------------------------------------------------------

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


def _evaluate_deadline(expression: str, contexts, environment: RestrictedEnvironment,
                       calendar: WorkingCalendar, instants: Sequence[datetime]) -> DeadlineResult:
    result = DeadlineResult()
    for instant in instants:
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


def _explain_error(error: Exception) -> str:
    if isinstance(error, NameError):
        match = re.search(r"'(\w+)'", str(error))
        return f"it reads {match.group(1) if match else 'a value'}, which the case does not have yet on this path"
    return str(error) or type(error).__name__


# --- letters -------------------------------------------------------------------------------

class _ProbeCase(dict):
    """Case data for rendering a letter template: every field exists and is remembered."""

    def __init__(self) -> None:
        super().__init__()
        self.accessed: set[str] = set()

    def __missing__(self, key: str) -> str:
        self.accessed.add(str(key))
        return f"[{key}]"

    def __contains__(self, key: object) -> bool:
        self.accessed.add(str(key))
        return True

    def get(self, key: str, default: Any = None) -> Any:
        return self[key]


@dataclass
class LetterContent:
    """What a letter template says when rendered: its text and the case fields it uses."""

    template: str
    found: bool
    text: str = ""
    fields: frozenset[str] = frozenset()

    def mentions(self, words: re.Pattern[str], fields: re.Pattern[str] | None = None) -> bool:
        if words.search(self.text):
            return True
        return fields is not None and any(fields.search(f) for f in self.fields)


class Letters:
    """The landlord's letter templates, each rendered once with probe data to see what it says."""

    def __init__(self, folder: Path | None, landlord: Any | None) -> None:
        self.folder = folder
        self.landlord = landlord
        self._seen: dict[str, LetterContent] = {}

    def content(self, template: str) -> LetterContent:
        if template not in self._seen:
            self._seen[template] = self._read(template)
        return self._seen[template]

    def _read(self, template: str) -> LetterContent:
        if self.folder is None or not (self.folder / f"{template}.html").is_file():
            return LetterContent(template, False)
        from workflow_app.casework.engine import letter_environment
        from workflow_app.casework.models import Complaint
        source = (self.folder / f"{template}.html").read_text(encoding="utf-8", errors="replace")
        case = _ProbeCase()
        complaint = Complaint(reference="XX-2026-000001", landlord=getattr(self.landlord, "slug", "landlord"),
                              received_at=EXPLORE_AT, channel="email", category="other",
                              summary="[complaint summary]", resident={"name": "[resident]"},
                              stage="1", status="open")
        environment = letter_environment(self.folder)
        try:
            html = environment.get_template(f"{template}.html").render(
                complaint=complaint, landlord=self.landlord, case=case)
            fields = set(case.accessed)
        except Exception:  # a template that cannot render on probe data is judged on its source
            html = source
            fields = set(re.findall(r"case(?:\.|\[['\"])(\w+)", source))
        if "complaint.summary" in source:
            fields.add("complaint_summary")
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
        return LetterContent(template, True, text, frozenset(fields))

    def has_ombudsman_details(self, template: str) -> bool:
        """Whether the letter gives the Ombudsman's contact details from the landlord's settings."""
        content = self.content(template)
        if not content.found:
            return False
        ombudsman = getattr(self.landlord, "ombudsman", None) or {}
        details = [_normalise(ombudsman[k]) for k in ("phone", "email", "website") if ombudsman.get(k)]
        if details:
            flat = _normalise(content.text)
            return any(detail in flat for detail in details)
        return "ombudsman" in content.text.lower() and \
            bool(re.search(r"(\d{4} ?\d{3} ?\d{4}|www\.|@|https?://)", content.text))


def _normalise(text: str) -> str:
    return re.sub(r"[\s/]+", "", re.sub(r"^https?://", "", text.lower()))


COMPLETION_ITEMS: dict[str, tuple[str, re.Pattern[str], re.Pattern[str] | None]] = {
    "stage": ("the complaint stage", re.compile(r"\bstage\b", re.I), None),
    "definition": ("the complaint definition", re.compile(r"(your complaint (is|was) about|we understand|"
                                                          r"our understanding|you (told|asked|complained))", re.I),
                   re.compile(r"definition|understanding|complaint_summary", re.I)),
    "decision": ("the decision on the complaint", re.compile(r"\b(upheld|decision|outcome|decided)\b", re.I),
                 re.compile(r"decision|outcome|upheld", re.I)),
    "reasons": ("the reasons for the decision", re.compile(r"\b(reasons?|because)\b", re.I),
                re.compile(r"reason|explanation|finding", re.I)),
    "remedy": ("any remedy offered", re.compile(r"(remed|put (things|this|it|matters) right|compensation|"
                                                r"apolog|goodwill|redress)", re.I),
               re.compile(r"remed|compensat|redress|put_right|apolog|goodwill", re.I)),
    "actions": ("any outstanding actions", re.compile(r"(outstanding|\bactions?\b|what (we|will) (do|happen))", re.I),
                re.compile(r"outstanding|action", re.I)),
    "escalate": ("how to escalate to stage 2", re.compile(r"(escalat|stage (2|two)|next stage|review)", re.I),
                 re.compile(r"escalat", re.I)),
}
COMPLETION_WANTED = {"1": ("stage", "definition", "decision", "reasons", "remedy", "actions", "escalate"),
                     "2": ("stage", "definition", "decision", "reasons", "remedy", "actions", "ombudsman")}


# --- facts kept along a path --------------------------------------------------------------------

OMBUDSMAN_SENT = frozenset({"<a letter with the Ombudsman's details>"})


@dataclass
class _Deadline:
    """A Code deadline key's first arming on a path, and what has happened since."""

    group: tuple
    days: int | None
    timer_id: str = ""
    extensions: int = 0
    agreed: bool = False
    letters: frozenset[str] = frozenset()


class _Facts:
    """What a path has done so far that the rules still need; two paths with equal facts, at the
    same element with the same case data still to be read, have the same future."""

    __slots__ = ("deadlines", "anchors", "answered1", "decision_letters", "dates", "date_decisions",
                 "reasons", "pending", "closer1", "awaiting", "in2", "request", "unclocked2", "final_response",
                 "after_final")

    def __init__(self) -> None:
        self.deadlines: dict[str, _Deadline] = {}
        self.anchors: dict[str, frozenset[str]] = {"stage1_acknowledge": frozenset()}
        self.answered1 = False                       # stage 1 answered (or stage 2 entered)
        self.decision_letters: frozenset[str] = frozenset()
        self.dates: dict[str, Candidate] = {}
        self.date_decisions: frozenset[tuple] = frozenset()
        self.reasons: frozenset[str] = frozenset()   # gateways that decided on the resident's reasons
        self.pending: dict[str, tuple[str, frozenset[str]]] = {}  # stage -> (responder, letters since)
        self.closer1: str | None = None              # the task whose response closed stage 1 on this path
        self.awaiting: frozenset[str] = frozenset()  # acknowledgement keys whose clock must run while waiting
        self.in2 = False                             # the last element with a stage was in stage 2
        self.request: frozenset[str] | None = None   # dates recorded since the escalation request (and its own)
        self.unclocked2: frozenset[str] | None = None  # waits since a possible request with no stage 2 clock
        self.final_response: str | None = None       # the stage 2 responder whose response is final so far
        self.after_final: frozenset[str] = frozenset()  # user tasks since that final response

    def copy(self) -> _Facts:
        other = _Facts.__new__(_Facts)
        other.deadlines = {k: _Deadline(d.group, d.days, d.timer_id, d.extensions, d.agreed, d.letters)
                           for k, d in self.deadlines.items()}
        other.anchors = dict(self.anchors)
        other.answered1 = self.answered1
        other.decision_letters = self.decision_letters
        other.dates = dict(self.dates)
        other.date_decisions = self.date_decisions
        other.reasons = self.reasons
        other.pending = dict(self.pending)
        other.closer1 = self.closer1
        other.awaiting = self.awaiting
        other.in2 = self.in2
        other.request = self.request
        other.unclocked2 = self.unclocked2
        other.final_response = self.final_response
        other.after_final = self.after_final
        return other

    def key(self) -> tuple:
        return (tuple(sorted((k, d.group, min(d.extensions, 2), d.agreed, d.letters)
                             for k, d in self.deadlines.items())),
                tuple(sorted(self.anchors.items())), self.answered1, self.decision_letters,
                tuple(sorted((k, c.value) for k, c in self.dates.items())), self.date_decisions,
                self.reasons, tuple(sorted(self.pending.items())), self.closer1, tuple(sorted(self.awaiting)),
                self.in2, _sorted_or_none(self.request), _sorted_or_none(self.unclocked2), self.final_response,
                tuple(sorted(self.after_final)))


def _sorted_or_none(names: frozenset[str] | None) -> tuple[str, ...] | None:
    return None if names is None else tuple(sorted(names))


@dataclass
class _Token:
    node: str
    ctx: dict[str, Any]
    facts: _Facts
    stack: tuple[str, ...]
    visits: dict[str, int]
    recipe: tuple = ()      # the answers, dates and scripts so far, to rebuild the case data on another day

    def branch(self, node: str | None = None, ctx: dict | None = None) -> _Token:
        return _Token(node or self.node, dict(self.ctx if ctx is None else ctx), self.facts.copy(), self.stack,
                      dict(self.visits), self.recipe)


@dataclass
class _Extension:
    """A Code deadline armed again later on a path: an extension (or a new date after missing it)."""

    timer_id: str
    base_days: int
    days: int
    worst_day: date | None
    number: int
    agreed: bool


# --- the check ---------------------------------------------------------------------------------

class CodeCheck:
    """Walks a diagram's paths and applies the Code's rules along them."""

    def __init__(self, graph: Graph, letters: Letters, calendar: WorkingCalendar,
                 environment: RestrictedEnvironment, instants: Sequence[datetime], landlord: str) -> None:
        self.graph = graph
        self.letters = letters
        self.calendar = calendar
        self.environment = environment
        self.instants = instants
        self.landlord = landlord
        self.answers = _Answers(graph)
        self.findings: list[Finding] = []
        self.results: dict[tuple, DeadlineResult] = {}
        self.extensions: dict[str, list[_Extension]] = defaultdict(list)
        self.steps = 0
        self.paths = 0
        self.cut_short = False
        self._reported: set[tuple] = set()
        self._options_read: set[str] = set()
        self.separations: set[tuple[str, str]] = set()   # (stage 2 response task, the task that answered stage 1)

    # --- reporting -------------------------------------------------------------------------

    def add(self, provision: str, severity: str, element_id: str | None, message: str,
            once: tuple | None = None) -> None:
        if once is not None:
            if once in self._reported:
                return
            self._reported.add(once)
        self.findings.append(Finding(provision, severity, element_id, message))

    def name(self, element_id: str | None) -> str:
        element = self.graph.elements.get(element_id or "")
        if element is None:
            return "the diagram"
        return f"'{element.name}'" if element.name != element.id else element.id

    # --- walking -----------------------------------------------------------------------------

    def run(self) -> None:
        seen: set[tuple] = set()
        for start in self.graph.starts.get(self.graph.main_process, []):
            ctx = {"reference": "XX-2026-000001", "landlord": self.landlord, "received_at": EXPLORE_AT}
            facts = _Facts()
            if self.graph.acknowledgers["stage1_acknowledge"]:
                facts.awaiting = frozenset({"stage1_acknowledge"})
            pending = [_Token(start, ctx, facts, (), {}, (("stamp", "received_at"),))]
            while pending:
                token = pending.pop()
                key = self._memo_key(token)
                if key in seen:
                    continue
                seen.add(key)
                self.steps += 1
                if self.steps > MAX_STEPS:
                    self.cut_short = True
                    return
                pending.extend(reversed(self._step(token)))
        for key, seen_extensions in self.extensions.items():
            self._judge_extensions(key, seen_extensions)
        self._judge_separation()

    def _memo_key(self, token: _Token) -> tuple:
        ahead = self.graph.keys_ahead.get(token.node, frozenset())
        facts = token.facts
        for key in [k for k in facts.deadlines if k not in ahead]:
            del facts.deadlines[key]     # no timer with this key can be armed again from here
        for key in [k for k in facts.anchors if k not in ahead]:
            del facts.anchors[key]
        for key, stamps in facts.anchors.items():
            facts.anchors[key] = stamps & self.graph.key_reads.get(key, frozenset())
        if "stage2_response" not in ahead:
            facts.closer1 = None
        if not self.graph.stage2_ahead.get(token.node, False):
            facts.unclocked2 = None
        if facts.request is not None:
            read = frozenset().union(*[self.graph.key_reads.get(k, frozenset()) for k in STAGE2_KEYS if k in ahead])
            facts.request = facts.request & read if read else None
        if not self.graph.responses_ahead.get(token.node, False):
            facts.after_final = frozenset()
        live = self.graph.live.get(token.node, frozenset())
        ctx = tuple(sorted((n, _freeze(token.ctx[n])) for n in live if n in token.ctx))
        loops = self.graph.cyclic_reach.get(token.node, frozenset())
        visits = tuple(sorted((n, c) for n, c in token.visits.items() if n in loops))
        return token.node, token.stack, ctx, visits, token.facts.key()

    def _step(self, token: _Token) -> list[_Token]:
        node = self.graph.node(token.node)
        count = token.visits.get(node.id, 0) + 1
        if count > self.graph.visit_cap[node.id]:
            self._cut(token)
            return []
        token.visits[node.id] = count
        self._enter(token, node)
        if self.graph.waits(node):
            self._waiting(token, node)
        if node.tag in ACTIVITY_TAGS:
            for boundary in node.boundaries:
                if self.graph.node(boundary).event == "timer":
                    self._arm(token, boundary)
            successors = []
            for boundary in node.boundaries:
                fired = token.branch()
                successors += self._boundary(fired, self.graph.node(boundary))
            inner = self.graph.starts.get(node.id) or self.graph.starts.get(node.called or "") \
                if node.tag in ("subProcess", "transaction", "callActivity") else None
            if inner:
                for start in inner:
                    entering = token.branch(start)
                    entering.stack = token.stack + (node.id,)
                    successors.append(entering)
            else:
                for done in self._perform(token, node):
                    successors += self._leave(done, node)
            return successors
        if node.tag in ("exclusiveGateway", "inclusiveGateway"):
            return self._decide(token, node)
        if node.tag == "eventBasedGateway":
            return self._race(token, node)
        if node.tag == "intermediateCatchEvent":
            self._catch(token, node)
        return self._leave(token, node)

    def _perform(self, token: _Token, node: Node) -> list[_Token]:
        """The ways an activity can complete: a script runs, a user task is answered."""
        if node.tag == "scriptTask":
            script = self.graph.scripts.get(node.id)
            if script:
                after = dict(token.ctx)
                try:
                    self.environment.execute(script, after)
                    token.ctx = after
                except Exception:  # the engine would stop here too; the engine's checks judge scripts
                    pass
                token.recipe += (("script", script),)
            return [token]
        if node.tag != "userTask":
            return [token]
        done = []
        for answers in self.answers(node, token.ctx):
            answered = token.branch()
            answered.ctx.update({k: c.value for k, c in answers.items()})
            answered.recipe += (("data", tuple(sorted((k, c.value) for k, c in answers.items()))),)
            self._answered(answered, node, answers)
            done.append(answered)
        return done

    def _leave(self, token: _Token, node: Node) -> list[_Token]:
        """An element completes: its timestamp and letter, then its outgoing flows (or its scope ends)."""
        stamp = node.element.properties.get("timestamp")
        if stamp:
            self._stamp(token, stamp)
        self._completed(token, node)
        if node.letter:
            self._letter(token, node)
        top = not token.stack
        if (node.tag == "endEvent" and node.event == "terminate" and top) or (top and not node.outgoing):
            self._end(token, node)
            return []
        if token.stack and (node.tag == "endEvent" or not node.outgoing):
            parent = self.graph.node(token.stack[-1])
            token.stack = token.stack[:-1]
            return self._leave(token, parent)
        if len(node.outgoing) == 1:
            token.node = node.outgoing[0].target
            return [token]
        return [token.branch(flow.target) for flow in node.outgoing]

    def _boundary(self, token: _Token, boundary: Node) -> list[_Token]:
        if not boundary.element.interrupting:
            # A side path: the activity goes on, and so does the clock that runs on it.
            token.facts.awaiting -= self._running(token, self.graph.node(boundary.element.attached_to))
        self._enter(token, boundary)
        if boundary.event == "message":
            self._message(token, boundary)
        return self._leave(token, boundary)

    def _catch(self, token: _Token, node: Node) -> None:
        if node.event == "timer":
            self._arm(token, node.id)
        elif node.event == "message":
            self._message(token, node)

    def _decide(self, token: _Token, node: Node) -> list[_Token]:
        """Gateways: each flow whose condition holds, or cannot be decided from the data tried."""
        chosen: list[Flow] = []
        names: set[str] = set()
        definite = True
        default = None
        for flow in node.outgoing:
            if flow.id == node.default or flow.condition is None:
                if flow.id == node.default or len(node.outgoing) == 1:
                    default = flow
                else:
                    chosen.append(flow)
                continue
            names |= _names_read(flow.condition)
            try:
                holds = bool(self.environment.evaluate(flow.condition, token.ctx))
            except Exception:  # a value the check cannot know here: either way is possible
                holds = None
            if holds is None:
                definite = False
                chosen.append(flow)
            elif holds:
                chosen.append(flow)
                if node.tag == "exclusiveGateway" and definite:
                    break
        if default is not None and (not chosen or not definite):
            chosen.append(default)
        tokens = []
        for flow in chosen:
            taken = token.branch(flow.target) if len(chosen) > 1 else token
            taken.node = flow.target
            self._branched(taken, node, flow, frozenset(names), definite)
            self._completed(taken, node)
            tokens.append(taken)
        return tokens

    def _race(self, token: _Token, node: Node) -> list[_Token]:
        """An event-based gateway: its timers are armed together, then each event may come first."""
        targets = [self.graph.node(f.target) for f in node.outgoing]
        for target in targets:
            if target.event == "timer":
                self._arm(token, target.id)
        self._completed(token, node)
        tokens = []
        for target in targets:
            count = token.visits.get(target.id, 0) + 1
            if count > self.graph.visit_cap[target.id]:
                continue
            first = token.branch(target.id)
            first.visits[target.id] = count
            self._enter(first, target)
            if target.event == "message":
                self._message(first, target)
            tokens += self._leave(first, target)
        return tokens

    # --- what happens on a path, and the rules that watch it ----------------------------------

    def _stamp(self, token: _Token, name: str) -> None:
        token.ctx[name] = EXPLORE_AT
        token.recipe += (("stamp", name),)
        facts = token.facts
        facts.anchors = {k: v | {name} for k, v in facts.anchors.items()}
        if facts.request is not None:
            facts.request |= {name}

    def _enter(self, token: _Token, node: Node) -> None:
        facts, stage = token.facts, node.element.stage
        if stage == "2":
            if not facts.answered1:
                facts.answered1 = True
                facts.dates, facts.date_decisions = {}, frozenset()
            if "stage2_acknowledge" not in facts.anchors:
                facts.anchors["stage2_acknowledge"] = frozenset()
        elif stage == "1":
            facts.anchors.pop("stage2_acknowledge", None)
        if node.tag == "userTask":
            for pending_stage, (responder, letters) in list(facts.pending.items()):
                if node.id in self.graph.responders(pending_stage) and stage == pending_stage:
                    del facts.pending[pending_stage]            # back to the response: an extension
                elif stage not in (None, pending_stage):
                    del facts.pending[pending_stage]
                    self._close_stage(facts, pending_stage, responder, letters)
            if facts.closer1 is not None and node.id in self.graph.responders("2"):
                self.separations.add((node.id, facts.closer1))
        if not self._catches_message(node):
            self._stage_clocks(facts, node)
        if facts.final_response is not None:
            self._after_final(facts, node)

    @staticmethod
    def _catches_message(node: Node) -> bool:
        return node.event == "message" and node.tag in ("intermediateCatchEvent", "boundaryEvent")

    def _stage_clocks(self, facts: _Facts, node: Node) -> None:
        """The escalation's clock: it runs once a path enters stage 2 after the request, and the
        waits between the request and stage 2 are judged then. A return to stage 1, or closure,
        shows the message was not an escalation."""
        stage = node.element.stage
        if stage == "2" and not facts.in2:
            facts.in2 = True
            if facts.unclocked2 is not None:
                for wait in sorted(facts.unclocked2):
                    self._unclocked(wait, "stage2_acknowledge")
                facts.unclocked2 = None
                if self.graph.acknowledgers["stage2_acknowledge"]:
                    facts.awaiting |= {"stage2_acknowledge"}
        elif stage in ("pre", "1", "post"):
            facts.in2 = False
            facts.request = facts.unclocked2 = None
            facts.awaiting -= {"stage2_acknowledge"}

    def _running(self, token: _Token, node: Node) -> frozenset[str]:
        """The deadline keys whose timers run while the path waits at an element: its own, and
        those on the subprocesses around it."""
        return self.graph.clocks[node.id].union(*[self.graph.clocks[s] for s in token.stack])

    def _waiting(self, token: _Token, node: Node) -> None:
        """6.2 and 6.11: wherever a complaint waits before it is acknowledged, the acknowledgement's
        timer runs; between an escalation request and stage 2 the waits are kept to judge later."""
        facts = token.facts
        running = self._running(token, node)
        for key in sorted(facts.awaiting - running):
            self._unclocked(node.id, key)
        if facts.unclocked2 is not None and "stage2_acknowledge" not in running:
            facts.unclocked2 |= {node.id}

    def _unclocked(self, element_id: str, key: str) -> None:
        limit = CODE_LIMITS[key]
        when, start = ("before it is acknowledged", "receipt") if key == "stage1_acknowledge" else \
            ("between the escalation request and the stage 2 acknowledgement", "the request")
        self.add(limit.provision, ERROR, element_id,
                 f"the complaint can wait at {self.name(element_id)} {when}, but no {key} timer runs there (on "
                 f"it, on a subprocess around it, or among its own events): the Code's {limit.working_days} "
                 f"working days run from {limit.starts}, and nothing counts them while the complaint waits here; "
                 f"put the timer on a subprocess around everything from {start} to the acknowledgement",
                 once=("clock", key, element_id))

    def _after_final(self, facts: _Facts, node: Node) -> None:
        """5.3: after the stage 2 final response, a user task whose answers choose the outcome, or
        that leads to a further response, is a third stage whatever it is called."""
        final = self.name(facts.final_response)
        if node.id in self.graph.responders("1") | self.graph.responders("2"):
            for task in sorted(facts.after_final):
                self.add("5.3", ERROR, task,
                         f"{self.name(task)} comes after the stage 2 final response ({final}) and leads to a further "
                         f"response at {self.name(node.id)}: that is a third complaint stage; the Code allows "
                         "exactly two", once=("5.3-again", task))
            facts.final_response, facts.after_final = None, frozenset()
        elif node.tag == "userTask":
            for gateway in self.graph.outcome_deciders(node.id)[:1]:
                outcomes = sorted(set().union(*[self.graph.outcomes(f.target)
                                                for f in self.graph.node(gateway).outgoing]))
                self.add("5.3", ERROR, node.id,
                         f"{self.name(node.id)} comes after the stage 2 final response ({final}), and "
                         f"{self.name(gateway)} reads its answers to choose the outcome ({', '.join(outcomes)}): a "
                         "review that can change the outcome after the final response is a third complaint stage; "
                         "the Code allows exactly two", once=("5.3-decides", node.id))
            facts.after_final |= {node.id}

    def _completed(self, token: _Token, node: Node) -> None:
        facts = token.facts
        if node.tag == "userTask" and node.element.stage != "post":
            facts.decision_letters = frozenset()        # letters from here on answer this decision
        if node.id in self.graph.guarded_by("stage1_acknowledge"):
            facts.anchors["stage1_response"] = frozenset()
        if node.id in self.graph.guarded_by("stage2_acknowledge"):
            facts.anchors["stage2_response"] = frozenset()
        for key in ACKNOWLEDGE_KEYS.values():
            if node.id in self.graph.acknowledgers[key]:
                facts.awaiting -= {key}
        if node.id in self.graph.responders("2"):
            facts.final_response, facts.after_final = node.id, frozenset()
        for stage in ("1", "2"):
            if node.id in self.graph.responders(stage):
                facts.pending[stage] = (node.id, frozenset())
                if stage == "1" and not facts.answered1:
                    facts.answered1 = True
                    facts.dates, facts.date_decisions = {}, frozenset()

    def _letter(self, token: _Token, node: Node) -> None:
        facts, template = token.facts, node.letter
        sent = OMBUDSMAN_SENT if self.letters.has_ombudsman_details(template) else frozenset({template})
        for deadline in facts.deadlines.values():
            if deadline.letters != OMBUDSMAN_SENT:
                deadline.letters = sent if sent == OMBUDSMAN_SENT else deadline.letters | sent
        facts.decision_letters |= {template}
        facts.pending = {s: (r, letters | {template}) for s, (r, letters) in facts.pending.items()}

    def _message(self, token: _Token, node: Node) -> None:
        name = node.message or node.id
        self._stamp(token, f"{name}_at")
        facts = token.facts
        facts.anchors["stage2_acknowledge"] = frozenset()
        if facts.answered1:
            # New information after the stage 1 response reopens the investigation (Harrogate 5.2.3): a stage 1
            # response deadline armed from here may count from its arrival.
            facts.anchors["stage1_response"] = frozenset()
        if AGREEMENT.search(name):
            self._agreement(facts)
        for stage, (responder, letters) in list(facts.pending.items()):
            del facts.pending[stage]
            self._close_stage(facts, stage, responder, letters)
        if facts.answered1 and not facts.in2:       # an escalation request, if stage 2 follows
            facts.request, facts.unclocked2 = frozenset({f"{name}_at"}), frozenset()
        self._stage_clocks(facts, node)

    def _close_stage(self, facts: _Facts, stage: str, responder: str, letters: frozenset[str]) -> None:
        if stage == "1":
            facts.closer1 = responder
        self._judge_completion(stage, responder, letters)

    def _agreement(self, facts: _Facts) -> None:
        for deadline in facts.deadlines.values():
            deadline.agreed = True

    def _answered(self, token: _Token, node: Node, answers: Mapping[str, Candidate]) -> None:
        facts = token.facts
        if any(AGREEMENT.search(k) and _truthy(c.value) for k, c in answers.items()):
            self._agreement(facts)
        if not facts.answered1:
            facts.dates.update({k: c for k, c in answers.items() if c.months_before is not None})
        else:
            self._reasons_options(node)

    def _branched(self, token: _Token, gateway: Node, flow: Flow, names: frozenset[str], definite: bool) -> None:
        facts = token.facts
        if AGREEMENT.search(flow.name) and not re.search(r"\b(not|no)\b", flow.name, re.I):
            self._agreement(facts)
        if not facts.answered1:
            if definite:
                decided = {(gateway.id, n, facts.dates[n].value, facts.dates[n].months_before)
                           for n in names if n in facts.dates}
                facts.date_decisions |= decided
            return
        conditions = [f.condition for f in gateway.outgoing if f.condition]
        words = set(names).union(*[_words_in(c) for c in conditions]) if conditions else set(names)
        about = sorted(w for w in words if self._about_reasons(w))
        chosen = sorted(n for n in names if n in token.ctx and NO_REASONS.search(str(token.ctx[n])))
        if about or chosen:
            self.add("6.12", ERROR, gateway.id,
                     f"{self.name(gateway.id)} decides a stage 2 request on the resident's reasons "
                     f"({', '.join(about or chosen)}); residents must not be required to explain why they escalate",
                     once=("6.12", gateway.id))
            facts.reasons |= {gateway.id}

    def _about_reasons(self, word: str) -> bool:
        if RESIDENT_REASONS.search(word) or NO_REASONS.search(word):
            return True
        return any(RESIDENT_REASONS.search(f.label or "") for form in self.graph.forms.values()
                   for f in form.fields if f.key == word)

    def _arm(self, token: _Token, timer_id: str) -> None:
        """A timer is armed: its due time over the sweep, against the Code's limit for its key."""
        element = self.graph.elements[timer_id]
        key = element.deadline_key
        result = self._deadline(token, element)
        if result.failure is not None:
            # The engine would fail in the same way for complaints received that day: not deployable.
            self.add(ENGINE, ERROR, timer_id,
                     f"the due time of {self.name(timer_id)} cannot be worked out for a complaint received on "
                     f"{result.failure_day:%a %d %b %Y}: {result.failure}", once=("fail", timer_id))
        facts = token.facts
        if key not in CODE_LIMITS:
            return
        limit = CODE_LIMITS[key]
        late = sorted(_names_read(element.timer_expression) & facts.anchors.get(key, frozenset()))
        for name in late:
            self.add(limit.provision, ERROR, timer_id,
                     f"{self.name(timer_id)} counts from {name}, which is recorded after {limit.starts}; the Code "
                     f"counts from {limit.starts}, so this deadline can fall any number of days too late",
                     once=("late-start", timer_id, name))
        if key in STAGE2_KEYS and facts.request is not None:
            self._judge_stage2_start(token, timer_id, limit)
        if facts.pending.get(limit.stage) is not None and key == RESPONSE_KEYS.get(limit.stage):
            del facts.pending[limit.stage]                      # the response was put off: an extension
        days = result.working_days
        deadline = facts.deadlines.get(key)
        if deadline is None or key.endswith("acknowledge"):
            if deadline is None:
                facts.deadlines[key] = _Deadline(self._group, days, timer_id)
            if days is not None and days > limit.working_days:
                self.add(limit.provision, ERROR, timer_id,
                         f"{self.name(timer_id)} falls due up to {days} working days after {limit.starts} (e.g. "
                         f"for a complaint received on {result.worst_day:%a %d %b %Y}); the Code allows "
                         f"{limit.working_days}", once=("limit", timer_id))
            return
        deadline.extensions += 1
        if deadline.days is None or days is None or days <= deadline.days:
            return
        self._extension_letters(timer_id, limit, deadline.letters)
        self.extensions[key].append(_Extension(deadline.timer_id, deadline.days, days, result.worst_day,
                                               min(deadline.extensions, 2), deadline.agreed))

    def _judge_stage2_start(self, token: _Token, timer_id: str, limit: Limit) -> None:
        """6.11 and 6.14: a stage 2 deadline counts from the escalation request or something recorded
        since; counted only from earlier dates it could fall due before the request it answers."""
        recorded = {detail for kind, detail in token.recipe if kind == "stamp"}
        dates = sorted(_names_read(self.graph.elements[timer_id].timer_expression) & recorded)
        if dates and not set(dates) & token.facts.request:
            self.add(limit.provision, ERROR, timer_id,
                     f"{self.name(timer_id)} counts only from {', '.join(dates)}, recorded before the escalation "
                     f"request on this path; the Code counts from {limit.starts}, so this deadline could fall due "
                     "before the request it answers, or run out while the resident is still within the time "
                     "allowed to escalate", once=("early-start", timer_id))

    def _deadline(self, token: _Token, element: Element) -> DeadlineResult:
        names = _names_read(element.timer_expression)
        values = {n: token.ctx.get(n, _MISSING) for n in names}
        derived = any(isinstance(v, datetime) and v != EXPLORE_AT for v in values.values())
        if derived:
            group = (element.id, "replay", token.recipe)
        else:
            group = (element.id, tuple(sorted((n, _freeze(v)) for n, v in values.items())))
        self._group = group
        if group not in self.results:
            if derived:
                contexts = self._replayer(token.recipe)
            else:
                fixed = {n: v for n, v in values.items() if v is not _MISSING}

                def contexts(instant: datetime, fixed=fixed) -> dict[str, Any]:
                    return {n: (instant if isinstance(v, datetime) and v == EXPLORE_AT else v)
                            for n, v in fixed.items()}
            self.results[group] = _evaluate_deadline(element.timer_expression or "", contexts, self.environment,
                                                     self.calendar, self.instants)
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
                    try:
                        self.environment.execute(detail, ctx)
                    except Exception:
                        pass
            return ctx
        return contexts

    def _cut(self, token: _Token) -> None:
        self.paths += 1

    def _end(self, token: _Token, node: Node) -> None:
        """The process ends: refusals explained (2.4, 5.11), not for an issue's age (2.3), letters sent."""
        self.paths += 1
        facts = token.facts
        outcome = node.element.properties.get("outcome") or ""
        refused = bool(REFUSAL_OUTCOME.search(outcome))
        if refused:
            self._judge_refusal(node, facts)
        for stage, (responder, letters) in facts.pending.items():
            if not (refused or NO_LETTER_NEEDED_OUTCOME.search(outcome)):
                self._judge_completion(stage, responder, letters)

    # --- judgements -----------------------------------------------------------------------

    def _judge_refusal(self, end: Node, facts: _Facts) -> None:
        escalation = facts.answered1
        provision = "5.11" if escalation else "2.4"
        what = "escalation to stage 2" if escalation else "the complaint"
        letters = sorted(facts.decision_letters)
        if not any(self.letters.has_ombudsman_details(t) for t in letters):
            if not letters:
                message = (f"a path refuses {what} at {self.name(end.id)} without a letter: the resident must be "
                           "told the reasons in writing and of the right to take the decision to the Ombudsman")
            else:
                message = (f"a path refuses {what} at {self.name(end.id)} with letter "
                           f"{', '.join(repr(t) for t in letters)}, which does not give the Ombudsman's contact "
                           "details (the right to take the refusal to the Ombudsman)")
            self.add(provision, ERROR, end.id, message, once=("refusal", end.id))
        for gateway, name, value, months in sorted(facts.date_decisions):
            if 0 <= months < ACCEPTANCE_MONTHS:
                age = f"{months:.0f} months" if months >= 1 else "days"
                self.add("2.3", ERROR, gateway,
                         f"{self.name(gateway)} leads to a refusal ({self.name(end.id)}) for an issue only {age} "
                         f"before the complaint ({name} = {value}); the Code requires complaints raised within "
                         f"{ACCEPTANCE_MONTHS} months of the issue to be accepted", once=("2.3", gateway))
        for gateway in sorted(facts.reasons):
            self.add("5.11", ERROR, gateway,
                     f"{self.name(gateway)} can refuse escalation ({self.name(end.id)}) depending on the "
                     "resident's reasons; a lack of reasons is not a valid reason to refuse escalation",
                     once=("5.11", gateway))

    def _reasons_options(self, node: Node) -> None:
        """A stage 2 form offering "no reasons given" as a ground for refusing the request."""
        if node.id in self._options_read:
            return
        self._options_read.add(node.id)
        form = self.graph.forms.get(node.element.form_ref or "")
        for f in form.fields if form is not None else ():
            texts = [str(v) for v in f.options] + _option_labels(form, f.key)
            hit = next((t for t in texts if NO_REASONS.search(t)), None)
            if hit is None:
                continue
            self.add("5.11", ERROR, node.id,
                     f"{self.name(node.id)} offers '{hit}' ({form.id}.{f.key}) as a ground at stage 2; escalation "
                     "must not be refused because the resident gave no reasons", once=("5.11-option", node.id, f.key))
            self.add("6.12", ERROR, node.id,
                     f"{self.name(node.id)} expects the resident's reasons for escalating ('{hit}'); residents "
                     "must not be required to explain why they escalate", once=("6.12", node.id))

    def _extension_letters(self, timer_id: str, limit: Limit, letters: frozenset[str]) -> None:
        """6.5 and 6.16: an extension is explained in writing, with the Ombudsman's details."""
        if not letters:
            self.add(limit.ombudsman_provision, ERROR, timer_id,
                     f"the extension that moves {self.name(timer_id)} sends no letter: the resident must be told "
                     "the new date, the reasons and the Ombudsman's contact details", once=("ext-letter", timer_id))
            return
        if letters == OMBUDSMAN_SENT or any(self.letters.has_ombudsman_details(t) for t in letters):
            return
        for template in sorted(letters):
            found = self.letters.content(template).found
            why = "does not give the Ombudsman's contact details" if found else "is not in the letters folder"
            self.add(limit.ombudsman_provision, ERROR, timer_id,
                     f"the letter '{template}' sent with the extension of {self.name(timer_id)} {why}",
                     once=("ext-ombudsman", timer_id, template))

    def _judge_extensions(self, key: str, seen: list[_Extension]) -> None:
        """6.4 and 6.15: how far extensions of a deadline reach without the resident's agreement,
        reported on the timer first armed for it.

        The worst reach after one extension and after two are compared: when two reach
        further than any one, the extension can be repeated without limit.
        """
        limit = CODE_LIMITS[key]
        allowed = limit.working_days + limit.extension_days
        worst: dict[int, _Extension] = {}
        for extension in seen:
            if not extension.agreed and (extension.number not in worst
                                         or extension.days > worst[extension.number].days):
                worst[extension.number] = extension
        if not worst:
            return
        reach = max(worst.values(), key=lambda e: e.days)
        timer_id = reach.timer_id
        name = self.name(timer_id)
        if reach.days > UNLIMITED_WORKING_DAYS:
            self.add(limit.extension_provision, ERROR, timer_id,
                     f"an extension of {name} has no upper limit and needs no agreement with the resident; the "
                     f"Code allows at most {limit.extension_days} more working days ({allowed} from {limit.starts}) "
                     "without good reason")
        elif 1 in worst and 2 in worst and worst[2].days > worst[1].days and reach.days > allowed:
            self.add(limit.extension_provision, ERROR, timer_id,
                     f"{name} can be extended again and again without the resident's agreement ({worst[1].days} "
                     f"working days from {limit.starts} after one extension, {worst[2].days} after two); the Code "
                     f"allows at most {limit.extension_days} more working days without good reason")
        elif reach.days > allowed:
            self.add(limit.extension_provision, WARNING, timer_id,
                     f"an extension of {name} can run to {reach.days} working days from {limit.starts} (e.g. for a "
                     f"complaint received on {reach.worst_day:%a %d %b %Y}), {reach.days - reach.base_days} more "
                     f"than the first deadline, without the resident's agreement; the Code allows more than "
                     f"{limit.extension_days} extra working days ({allowed} in all) only with good reason, "
                     "explained to the resident")

    def _judge_separation(self) -> None:
        """6.13: on every path into stage 2, the stage 2 response task is kept from whoever gave the
        stage 1 response on that path (its separate_from names that task)."""
        missing: dict[str, list[str]] = defaultdict(list)
        for task, closer in sorted(self.separations):
            element = self.graph.elements[task]
            if closer not in element.separate_from and self.graph.elements[closer].tag == "userTask":
                missing[task].append(closer)
        for task, closers in missing.items():
            self.add("6.13", ERROR, task,
                     f"{self.name(task)} (the stage 2 response) can be assigned to whoever gave the stage 1 "
                     f"response at {', '.join(self.name(c) for c in closers)}: add {', '.join(closers)} to its "
                     "separate_from property")
        for task in sorted({t for t, _ in self.separations}):
            unknown = sorted(set(self.graph.elements[task].separate_from) - set(self.graph.elements))
            if unknown:
                self.add("6.13", ERROR, task, f"{self.name(task)}'s separate_from names {', '.join(unknown)}, "
                                              "which are not in the diagram")

    def _judge_completion(self, stage: str, responder: str, letters: frozenset[str]) -> None:
        """6.9 and 6.19: the letter closing a stage says everything the Code lists."""
        provision = COMPLETION_PROVISIONS[stage]
        if not letters:
            self.add(provision, ERROR, responder,
                     f"no letter is sent when stage {stage} is completed after {self.name(responder)}: the Code "
                     "requires the outcome in writing", once=("completion-none", responder))
            return
        found = [t for t in sorted(letters) if self.letters.content(t).found]
        for template in sorted(letters - set(found)):
            self.add(provision, ERROR, responder,
                     f"the stage {stage} completion letter '{template}' is not in the landlord's letters folder",
                     once=("completion-missing", template))
        if not found:
            return
        best = min(found, key=lambda t: len(self._missing_items(t, stage)))
        missing = self._missing_items(best, stage)
        if missing:
            self.add(provision, ERROR, responder,
                     f"the stage {stage} completion letter '{best}' does not state {', '.join(missing)}",
                     once=("completion-content", best, stage))

    def _missing_items(self, template: str, stage: str) -> list[str]:
        content = self.letters.content(template)
        missing = []
        for item in COMPLETION_WANTED[stage]:
            if item == "ombudsman":
                if not self.letters.has_ombudsman_details(template):
                    missing.append("the Ombudsman's contact details and the right to refer the complaint")
                continue
            label, words, fields = COMPLETION_ITEMS[item]
            if not content.mentions(words, fields):
                missing.append(label)
        return missing


def _freeze(value: Any) -> Any:
    if value is _MISSING:
        return "<missing>"
    if isinstance(value, datetime):
        return "<day 0>" if value == EXPLORE_AT else value.isoformat()
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set)):
        return tuple(_freeze(v) for v in value)
    return value


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "no", "false", "none", "(text)")
    return bool(value)


def _option_labels(form: Form, key: str) -> list[str]:
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


# --- rules read straight from the diagram ---------------------------------------------------------

def _names_findings(diagram: Diagram, elements: Mapping[str, Element],
                    forms: Mapping[str, Form]) -> list[Finding]:
    """5.2 and 5.3: an extra named stage ("stage 0", "informal complaint") or a third stage."""
    findings = []
    for node in diagram.elements:
        if node.tag in ("textAnnotation", "documentation", "definitions", "message", "sequenceFlow"):
            continue
        owner = node.id
        texts = [node.name or ""]
        element = elements.get(owner or "")
        if element is not None:
            texts += [element.properties.get("outcome", "")]
            form = forms.get(element.form_ref or "") if element.tag == "userTask" else None
            for f in form.fields if form is not None else ():
                texts += [f.label, *[str(v) for v in f.options], *_option_labels(form, f.key)]
        extra = next((t for t in texts if t and EXTRA_STAGE.search(t)), None)
        if extra:
            findings.append(Finding("5.2", ERROR, owner,
                                    f"'{extra}' names an extra complaint stage; the Code allows no 'stage 0' or "
                                    "'informal complaint' stage: resolve early within stage 1, or record the "
                                    "contact as a service request"))
        third = next((t for t in texts if t and THIRD_STAGE.search(t)), None)
        if third:
            findings.append(Finding("5.3", ERROR, owner,
                                    f"'{third}' names a third complaint stage; the Code allows exactly two"))
    return findings


def _stages_findings(elements: Mapping[str, Element]) -> list[Finding]:
    """6.2, 6.3, 6.10, 6.11, 6.14: both stages exist, each with its acknowledgement and response deadline."""
    keys = {e.deadline_key for e in elements.values() if e.timer_expression is not None}
    stages = {e.stage for e in elements.values() if e.tag == "userTask"}
    findings = []

    def missing(key: str) -> Finding:
        limit = CODE_LIMITS[key]
        return Finding(limit.provision, ERROR, None,
                       f"no timer has the deadline key {key}: the Code's {limit.working_days} working days from "
                       f"{limit.starts} are not enforced")

    findings += [missing(k) for k in ("stage1_acknowledge", "stage1_response") if k not in keys]
    if "2" not in stages and not keys & {"stage2_acknowledge", "stage2_response"}:
        findings.append(Finding("6.10", ERROR, None,
                                "the diagram has no stage 2 (no user task with stage 2): a complaint not resolved "
                                "at stage 1 must be able to progress to stage 2"))
    else:
        findings += [missing(k) for k in ("stage2_acknowledge", "stage2_response") if k not in keys]
    return findings


def _exclusion_wording_findings(graph: Graph) -> list[Finding]:
    """2.3: a ground for refusing a complaint that names a time limit shorter than 12 months.

    The acceptance window is best drawn as a gateway on the date of the issue, which the
    walk evaluates; a refusal ground that only says "over 6 months" is read from its wording.
    """
    findings = []
    for node in graph.nodes.values():
        form = graph.forms.get(node.element.form_ref or "") if node.tag == "userTask" else None
        if form is None or node.element.stage not in (None, "pre", "1"):
            continue
        for f in form.fields:
            for text in [str(v) for v in f.options] + _option_labels(form, f.key):
                match = TIME_LIMIT.search(text)
                if not match or ACCEPTING.search(text):
                    continue
                number, unit = int(match.group(2)), match.group(3).lower()
                months = number * {"y": 12, "m": 1, "w": 12 / 52, "d": 12 / 365}[unit[0]]
                if months < ACCEPTANCE_MONTHS:
                    findings.append(Finding(
                        "2.3", ERROR, node.id,
                        f"'{node.element.name}' offers '{text}' ({form.id}.{f.key}) as a ground for not accepting "
                        f"a complaint; the Code requires complaints raised within {ACCEPTANCE_MONTHS} months of "
                        "the issue (or of the resident becoming aware of it) to be accepted"))
                    break
            else:
                continue
            break
    return findings


# --- entry points -------------------------------------------------------------------------------

def check_code(xml: bytes | str, forms: Mapping[str, Form] | None = None, *, landlord: Any | None = None,
               letters_dir: Path | None = None, sweep_start: date | None = None,
               sweep_days: int = 400) -> list[Finding]:
    """Every finding on a diagram: the engine's problems (provision "engine") and the Code's.

    `landlord` is the landlord's settings (`landlords.Landlord`: its nation's bank holidays
    and the Ombudsman's details its letters must give); `letters_dir` holds its letter
    templates. Without them the check uses England's bank holidays and looks for the
    Ombudsman by name in letters.
    """
    forms = dict(forms or {})
    try:
        root = read_xml(xml)
    except DiagramError as error:
        return [_engine(p) for p in error.problems]
    diagram = read_graph(root)
    elements = read_elements(diagram)
    findings = [_engine(p) for p in find_problems(root, elements, forms)]
    findings += _names_findings(diagram, elements, forms)
    graph = Graph(diagram, elements, forms)
    if graph.main_process is None or not graph.starts.get(graph.main_process):
        findings.append(Finding(ENGINE, ERROR, None, "the diagram needs exactly one executable process "
                                                     "with a start event"))
        return sort_findings(findings)
    findings += _stages_findings(elements) + _exclusion_wording_findings(graph)
    calendar = calendar_for(getattr(landlord, "nation", "ENG"))
    check = CodeCheck(graph, Letters(letters_dir, landlord), calendar,
                      RestrictedEnvironment(calendar.expression_functions()),
                      sweep_instants(sweep_start, sweep_days), getattr(landlord, "slug", "landlord"))
    check.run()
    if check.cut_short:
        check.add(ENGINE, WARNING, None, f"the diagram has too many paths to follow them all (more than "
                                         f"{MAX_STEPS:,} steps); the Code check read only part of it")
    return sort_findings(findings + check.findings)


def _engine(problem: Problem) -> Finding:
    return Finding(ENGINE, ERROR, problem.element_id, problem.reason)


def check_file(path: Path, forms: Mapping[str, Form] | None = None, *, sweep_start: date | None = None,
               sweep_days: int = 400) -> list[Finding]:
    """Check a diagram file, with its landlord's settings and letters when it sits in a landlord's folder."""
    from workflow_app.rules.landlords import SettingsError, load_landlord
    landlord, findings = None, []
    folder = path.parent
    if (folder / "landlord.toml").is_file():
        try:
            landlord = load_landlord(folder)
        except SettingsError as error:
            findings.append(Finding(ENGINE, ERROR, None, str(error)))
    letters = folder / "letters"
    return sort_findings(findings + check_code(
        path.read_bytes(), forms, landlord=landlord, letters_dir=letters if letters.is_dir() else None,
        sweep_start=sweep_start, sweep_days=sweep_days))

"""What a path has done so far that the rules still need, and the token that carries it."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from workflow_app.rules.calendar import LONDON

EXPLORE_AT = datetime(2026, 3, 4, 12, 0, tzinfo=LONDON)
"""The instant every recorded date is set to while paths are walked (day 0)."""
MISSING = object()
RECEIPT = 0
"""How a recorded date is worked out on any receipt day: it is that day's receipt instant (`Token.worked_out`)."""


@dataclass(frozen=True)
class Candidate:
    """A value tried for a form field, with what it stands for (months before receipt, for a date)."""

    value: Any
    months_before: float | None = None


@dataclass
class Deadline:
    """A Code deadline key's first arming on a path, and what has happened since."""

    group: tuple
    days: int | None
    timer_id: str = ""
    extensions: int = 0
    agreed: bool = False
    letters: frozenset[str] = frozenset()


class Facts:
    """What a path has done so far that the rules still need; two paths with equal facts, at the
    same element with the same case data still to be read, have the same future."""

    __slots__ = (
        "after_final",
        "anchors",
        "answered1",
        "awaiting",
        "closer1",
        "date_decisions",
        "dates",
        "deadlines",
        "decision_letters",
        "final_response",
        "in2",
        "intervals_due",
        "pending",
        "reasons",
        "request",
        "unclocked2",
    )

    def __init__(self) -> None:
        self.deadlines: dict[str, Deadline] = {}
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
        self.intervals_due: frozenset[str] = frozenset()  # agreed extensions beyond the timescales awaiting updates

    def copy(self) -> Facts:
        other = Facts.__new__(Facts)
        other.deadlines = {k: Deadline(d.group, d.days, d.timer_id, d.extensions, d.agreed, d.letters)
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
        other.intervals_due = self.intervals_due
        return other

    def key(self) -> tuple:
        return (tuple(sorted((k, d.group, min(d.extensions, 2), d.agreed, d.letters)
                             for k, d in self.deadlines.items())),
                tuple(sorted(self.anchors.items())), self.answered1, self.decision_letters,
                tuple(sorted((k, c.value) for k, c in self.dates.items())), self.date_decisions,
                self.reasons, tuple(sorted(self.pending.items())), self.closer1, tuple(sorted(self.awaiting)),
                self.in2, _sorted_or_none(self.request), _sorted_or_none(self.unclocked2), self.final_response,
                tuple(sorted(self.after_final)), tuple(sorted(self.intervals_due)))


def _sorted_or_none(names: frozenset[str] | None) -> tuple[str, ...] | None:
    return None if names is None else tuple(sorted(names))


@dataclass
class Token:
    node: str
    ctx: dict[str, Any]
    facts: Facts
    stack: tuple[str, ...]
    visits: dict[str, int]
    recipe: tuple = ()      # the answers, dates and scripts so far, to rebuild the case data on another day
    worked_out: dict[str, int] = field(default_factory=dict)
    """The case data a timer may read (`ProcessGraph.timed`) that may hold another value when the path is
    replayed on another receipt day (the recorded dates, what scripts worked out from them), each by how it
    is worked out: the same number, the same value on every receipt day (`RECEIPT` for a recorded date).
    Replaced, never changed in place: branches share it."""

    def branch(self, node: str | None = None, ctx: dict | None = None) -> Token:
        return Token(node or self.node, dict(self.ctx if ctx is None else ctx), self.facts.copy(), self.stack,
                      dict(self.visits), self.recipe, self.worked_out)


@dataclass
class Extension:
    """A Code deadline armed again later on a path: an extension (or a new date after missing it)."""

    timer_id: str
    base_days: int
    days: int
    worst_day: date | None
    number: int
    agreed: bool


_PLAIN = frozenset({str, int, float, bool, type(None)})


def freeze(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if value is MISSING:
        return "<missing>"
    if isinstance(value, datetime):
        return "<day 0>" if value == EXPLORE_AT else value.isoformat()
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set)):
        return tuple(freeze(v) for v in value)
    return value


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "no", "false", "none", "(text)")
    return bool(value)

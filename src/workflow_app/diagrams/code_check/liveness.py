"""The case data a path can still read, told apart by the choices on the forms that decide where it goes.

`ProcessGraph.live` says, for each element, which case data any path from it may read before setting
it again. It cannot see that a form sets a field exactly when the choice that leads to its reader is
made: the extension's days are asked for only when "extend" is chosen, and read only on the way the
gateway after it sends an "extend"; the update interval only when works are outstanding, and read only
where they are. Carried through a loop, such a value kept from an earlier pass multiplies the paths
walked without ever being read again.

Here the same question is answered on the graph paired with the values of the *choices*: form fields
with a fixed set of values (options, a checkbox) that a form's `conditional.hide` reads. A path's choices
so far decide which ways a gateway reading only them can take, and which fields a form sets when
answered (those required and shown, with the choices made on it). Two paths at an element with the
same case data still readable on their choices have the same future; the result is never more than
`ProcessGraph.live`, which is also true of every path.
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from workflow_app.diagrams.code_check.process_graph import Flow, Node, ProcessGraph
from workflow_app.diagrams.code_check.reading import feel_names, names_read
from workflow_app.diagrams.expressions import RestrictedEnvironment
from workflow_app.diagrams.forms import Field, Form


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


UNSET = _Marker("unset")
"""A choice the case data does not hold (yet)."""
UNKNOWN = _Marker("unknown")
"""A choice holding a value the check cannot follow (set by a script, or not one of its options)."""
KEPT = _Marker("kept")
"""A choice left unanswered on a form: the case keeps its earlier value."""

Choices = tuple[Any, ...]       # one value (or UNSET, UNKNOWN) per choice, in `DataLiveness.choices` order
Move = tuple[str, Choices, frozenset[str]]  # to an element, with the choices then, having set these names


class DataLiveness:
    """The case data still readable at an element, on the choices a path has made so far."""

    def __init__(self, graph: ProcessGraph, environment: RestrictedEnvironment, answered: set[str]) -> None:
        """`answered`: the form fields the walk puts in the case data (`forms.Answers.read`)."""
        self.graph = graph
        self.environment = environment
        self.domains = _choice_domains(graph.forms.values(), answered)
        self.choices = tuple(sorted(self.domains))
        self._index = {name: i for i, name in enumerate(self.choices)}
        self._values = {name: {(type(v), v): v for v in domain} for name, domain in self.domains.items()}
        self._reads = {n: graph.reads(node) | self._hide_reads(node) for n, node in graph.nodes.items()}
        self._writes = {n: frozenset(graph.writes(node)) for n, node in graph.nodes.items()}
        self._following = {n: [s for s in graph.successors(node) if s in graph.nodes]
                           for n, node in graph.nodes.items()}
        self._boundary_targets = {n: {f.target for b in node.boundaries for f in graph.nodes[b].outgoing}
                                  for n, node in graph.nodes.items()}
        self._inner = {n: set(graph.starts.get(n, [])) | set(graph.starts.get(node.called or "", []))
                       for n, node in graph.nodes.items()}
        self._bits = {name: 1 << i for i, name in enumerate(sorted(set().union(*self._reads.values())))}
        self._read_bits = {n: self._as_bits(names) for n, names in self._reads.items()}
        self._kept_choices = self._choices_still_read()
        self._live: dict[tuple[str, Choices], int] = {}
        self._names: dict[tuple[str, Choices], tuple[str, ...]] = {}
        self._answered: dict[tuple[str, Choices], list[tuple[Choices, frozenset[str]]]] = {}

    def names(self, node_id: str, ctx: Mapping[str, Any]) -> tuple[str, ...]:
        """The case data still readable from this element on these case data's choices, by name."""
        state = (node_id, self._chosen_at(node_id, ctx))
        names = self._names.get(state)
        if names is None:
            if state not in self._live:
                self._work_out(state)
            live = self._live[state]
            names = self._names[state] = tuple(sorted(n for n in self.graph.live.get(node_id, frozenset())
                                                      if self._bits.get(n, 0) & live))
        return names

    def _chosen_at(self, node_id: str, ctx: Mapping[str, Any]) -> Choices:
        """The choices as the case data hold them, those no path from the element reads set aside."""
        chosen = []
        for name, keep in zip(self.choices, self._kept_choices[node_id], strict=True):
            value = ctx.get(name, UNSET) if keep else UNSET
            if value is not UNSET:
                try:
                    value = self._values[name].get((type(value), value), UNKNOWN)
                except TypeError:   # a value no choice can hold (a list...)
                    value = UNKNOWN
            chosen.append(value)
        return tuple(chosen)

    def _as_bits(self, names) -> int:
        bits = 0
        for name in names:
            bits |= self._bits.get(name, 0)
        return bits

    def _still_read(self, node_id: str, chosen: Choices) -> Choices:
        """The choices with those no path from the element reads before making them again set aside:
        their values cannot change what it reads."""
        kept = self._kept_choices[node_id]
        return tuple(value if keep else UNSET for value, keep in zip(chosen, kept, strict=True))

    def _choices_still_read(self) -> dict[str, tuple[bool, ...]]:
        """For each element, which choices a path from it may read (a gateway's condition, a form's
        `conditional.hide`) before it surely sets them again, on any choices."""
        live: dict[str, set[str]] = {n: set(self._reads[n]) for n in self.graph.nodes}
        changed = True
        while changed:
            changed = False
            for n, following in self._following.items():
                before = len(live[n])
                for s in following:
                    boundary = s in self._boundary_targets[n] or s in self._inner[n]
                    live[n] |= live[s] if boundary else live[s] - self._writes[n]
                changed |= len(live[n]) != before
        return {n: tuple(name in names for name in self.choices) for n, names in live.items()}

    def _work_out(self, first: tuple[str, Choices]) -> None:
        """The readable data of every (element, choices) reachable from `first` not yet known: the moves
        from each, then what each can read, until nothing changes."""
        moves: dict[tuple[str, Choices], list[tuple[tuple[str, Choices], int]]] = {}
        stack = [first]
        while stack:
            state = stack.pop()
            if state in moves or state in self._live:
                continue
            onward = [((target, self._still_read(target, chosen)), ~self._as_bits(written))
                      for target, chosen, written in self._moves(*state)]
            moves[state] = onward
            stack.extend(target for target, _ in onward)
        live = {state: self._read_bits[state[0]] for state in moves}
        live.update(self._live)
        changed = True
        while changed:
            changed = False
            for state, onward in moves.items():
                bits = live[state]
                for target, kept in onward:
                    bits |= live[target] & kept
                if bits != live[state]:
                    live[state] = bits
                    changed = True
        self._live.update((state, live[state]) for state in moves)

    def _moves(self, node_id: str, chosen: Choices) -> list[Move]:
        node = self.graph.node(node_id)
        following = self._following[node_id]
        boundary = self._boundary_targets[node_id]
        moves: list[Move] = [(t, chosen, frozenset()) for t in following if t in boundary]
        after = [t for t in following if t not in boundary or t in {f.target for f in node.outgoing}]
        if node.tag in ("exclusiveGateway", "inclusiveGateway") and node.outgoing:
            return moves + [(f.target, chosen, frozenset()) for f in self._possible_flows(node, chosen)]
        form = self.graph.forms.get(node.element.form_ref or "") if node.tag == "userTask" else None
        if form is None:
            written = self._writes[node_id]
            inner = self._inner[node_id]
            changed = self._unknown(chosen, written)
            return moves + [(t, chosen if t in inner else changed, frozenset() if t in inner else written)
                            for t in after]
        answers = self._answered.get((form.id, chosen))
        if answers is None:
            answers = self._answered[(form.id, chosen)] = self._answers(form, chosen)
        for answered, written in answers:
            moves += [(t, answered, written | self._writes[node_id]) for t in after]
        return moves

    def _possible_flows(self, node: Node, chosen: Choices) -> list[Flow]:
        """The flows a gateway may take on these choices, as the walk decides (`Node.flows_taken`), with a
        condition that reads anything but known choices taken as undecided."""
        return node.flows_taken(lambda condition: self._holds(condition, chosen))[0]

    def _holds(self, condition: str, chosen: Choices) -> bool | None:
        scope = self._scope(names_read(condition), chosen)
        if scope is None:
            return None
        try:
            return bool(self.environment.evaluate(condition, scope))
        except Exception:  # as the walk: a condition that cannot be worked out may go either way
            return None

    def _scope(self, names: set[str] | frozenset[str], chosen: Choices) -> dict[str, Any] | None:
        """The case data an expression reading these names sees, or None when it reads more than known choices."""
        scope = {}
        for name in names:
            i = self._index.get(name)
            if i is None or chosen[i] is UNKNOWN:
                return None
            if chosen[i] is not UNSET:
                scope[name] = chosen[i]
        return scope

    def _answers(self, form: Form, chosen: Choices) -> list[tuple[Choices, frozenset[str]]]:
        """The ways a form can be answered, as the choices after it and the fields it surely sets: every
        value of each choice on it (or none, when not required), as `forms.Answers` tries them."""
        own = [f for f in form.fields if f.key in self._index]
        tried = [[*(_values(f) or ()), *([] if f.required else [KEPT])] for f in own]
        results = []
        for values in itertools.product(*tried):
            before = dict(zip(self.choices, chosen, strict=True))
            scope_choices = dict(before)
            scope_choices.update({f.key: v for f, v in zip(own, values, strict=True) if v is not KEPT})
            after = dict(before)
            for f, value in zip(own, values, strict=True):
                if value is KEPT:
                    continue
                shown = self._shown(f, scope_choices)
                if shown is True:
                    after[f.key] = value
                elif shown is None and after[f.key] is not value:
                    after[f.key] = UNKNOWN
            written = frozenset(f.key for f in form.fields if f.required and f.readonly is False
                                and f.disabled is False and self._shown(f, scope_choices) is True)
            results.append((tuple(after[name] for name in self.choices), written))
        return results

    def _shown(self, f: Field, choices: Mapping[str, Any]) -> bool | None:
        """Whether the form shows a field on these choices (as `forms._hidden` decides), None when its
        `conditional.hide` reads more than known choices."""
        chosen = tuple(choices[name] for name in self.choices)
        for expression in f.hide:
            if self._scope(feel_names(expression), chosen) is None:
                return None
        scope = {k: v for k, v in choices.items() if v is not UNSET and v is not UNKNOWN}
        try:
            return not any(expression.evaluate(scope) is True for expression in f.hide)
        except Exception:  # as the walk: a hide condition that fails shows the field
            return True

    def _hide_reads(self, node: Node) -> set[str]:
        form = self.graph.forms.get(node.element.form_ref or "") if node.tag == "userTask" else None
        return set().union(*[feel_names(e) for f in form.fields for e in f.hide]) & set(self.choices) \
            if form is not None else set()

    def _unknown(self, chosen: Choices, written: frozenset[str]) -> Choices:
        if not written & set(self.choices):
            return chosen
        return tuple(UNKNOWN if name in written else value for name, value in zip(self.choices, chosen, strict=True))


def _choice_domains(forms, answered: set[str]) -> dict[str, tuple[Any, ...]]:
    """The choices: fields a `conditional.hide` reads that the walk answers, with every value they can take
    on any form that has them (a field with no fixed set of values on one of them is no choice)."""
    forms = list(forms)
    hide_reads = {name for form in forms for f in form.fields for e in f.hide for name in feel_names(e)}
    domains: dict[str, tuple[Any, ...] | None] = {}
    for form in forms:
        for f in form.fields:
            if f.key not in hide_reads or f.key not in answered:
                continue
            values = _values(f)
            if f.key in domains:
                known = domains[f.key]
                values = None if known is None or values is None else \
                    known + tuple(v for v in values if v not in known)
            domains[f.key] = values
    return {k: v for k, v in domains.items() if v is not None}


def _values(f: Field) -> tuple[Any, ...] | None:
    if f.type == "checkbox":
        return (True, False)
    if f.options and f.type not in ("checklist", "taglist"):
        return tuple(f.options)
    return None

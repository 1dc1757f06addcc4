"""The diagram as the walk sees it: sequence flows, boundary events and scopes, with what
each element reads and writes, and what lies ahead of it (liveness, reach, loops)."""
from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from lxml import etree

from workflow_app.diagrams.code_check.reading import expression_tree, feel_names, names_read, script_sets
from workflow_app.diagrams.definitions import Element
from workflow_app.diagrams.forms import Form
from workflow_app.diagrams.graph import Graph as Diagram
from workflow_app.diagrams.graph import read_graph
from workflow_app.rules.regime import Limit
from workflow_app.rules.vocabulary import ACKNOWLEDGE_KEYS, RESPONSE_KEYS, DeadlineKey

WAIT_TAGS = frozenset({"userTask", "manualTask", "receiveTask", "intermediateCatchEvent", "eventBasedGateway"})
"""Where a complaint waits for someone or something: the places a Code clock must be running."""

MAX_VISITS = 3          # times one path may pass the same element: enough to see a repeated extension


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

    def flows_taken(self, holds: Callable[[str], bool | None]) -> tuple[list[Flow], bool]:
        """The flows a gateway takes, given whether each condition `holds` (None: it cannot be worked out):
        each that holds or may, an exclusive gateway stopping at the first that surely holds; the default
        when none holds or one was undecided. Also whether every condition was decided. The walk and the
        liveness analysis both choose this way, so what one explores the other accounts for."""
        taken: list[Flow] = []
        definite, default = True, None
        for flow in self.outgoing:
            if flow.id == self.default or flow.condition is None:
                if flow.id == self.default or len(self.outgoing) == 1:
                    default = flow
                else:
                    taken.append(flow)
                continue
            answer = holds(flow.condition)
            if answer is None:
                definite = False
                taken.append(flow)
            elif answer:
                taken.append(flow)
                if self.tag == "exclusiveGateway" and definite:
                    break
        if default is not None and (not taken or not definite):
            taken.append(default)
        return taken, definite


class ProcessGraph:
    """Sequence flows, boundary events and scopes: what the walk follows."""

    def __init__(self, diagram: Diagram, elements: Mapping[str, Element], forms: Mapping[str, Form],
                 limits: Mapping[str, Limit]) -> None:
        self.elements = elements
        self.limits = limits
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
        self._responders: dict[str, frozenset[str]] = {}
        self.key_reads: dict[str, frozenset[str]] = defaultdict(frozenset)
        for node in self.nodes.values():
            if node.element.deadline_key:
                self.key_reads[node.element.deadline_key] |= names_read(node.element.timer_expression)
        self.live = self._liveness()
        self.timed = self._timed()
        self._outcomes: dict[str, frozenset[str]] = {}
        self._deciders: dict[str, list[str]] = {}
        self.cyclic_reach = self._cyclic_reach()
        self.updates_before_response = {stage: self._updates_before_response(stage) for stage in RESPONSE_KEYS}

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
                read = set().union(*[names_read(f.condition) for f in node.outgoing]) if node.outgoing else set()
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
        if stage not in self._responders:
            self._responders[stage] = frozenset(
                e for e in self.guarded_by(RESPONSE_KEYS[stage])
                if self.elements[e].tag in ("userTask", "subProcess", "callActivity", "transaction"))
        return self._responders[stage]

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
        names = set().union(*[names_read(f.condition) for f in node.outgoing]) if node.outgoing else set()
        names |= names_read(node.element.timer_expression)
        names |= set().union(*[names_read(self.nodes[b].element.timer_expression) for b in node.boundaries]) \
            if node.boundaries else set()
        if node.tag == "scriptTask":
            names |= names_read(self.scripts.get(node.id))
        if node.tag == "eventBasedGateway":
            for f in node.outgoing:
                names |= names_read(self.nodes[f.target].element.timer_expression)
        form = self.forms.get(node.element.form_ref or "") if node.tag == "userTask" else None
        for f in form.fields if form is not None else ():
            for bound in (f.min, f.max):
                names |= feel_names(bound) - set(form.keys)
        return names

    def writes(self, node: Node) -> set[str]:
        """The case data an element always sets when it completes (a script's assignments, its
        timestamp, a message's arrival, a form's required fields that are never hidden)."""
        names = set()
        if node.tag == "scriptTask":
            names |= self.script_writes(self.scripts.get(node.id))
        if node.element.properties.get("timestamp"):
            names.add(node.element.properties["timestamp"])
        if node.event == "message":
            names.add(f"{node.message or node.id}_at")
        form = self.forms.get(node.element.form_ref or "") if node.tag == "userTask" else None
        for f in form.fields if form is not None else ():
            if f.required and not f.hide and f.readonly is False and f.disabled is False:
                names.add(f.key)
        return names

    @staticmethod
    def script_writes(script: str | None) -> frozenset[str]:
        """The names a script assigns to."""
        tree = expression_tree(script)
        return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)) \
            if tree is not None else frozenset()

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

    def _timed(self) -> frozenset[str]:
        """The case data a timer's due time may be worked out from: what timers read, and what the scripts
        that set those work them out from."""
        timed = set().union(*[names_read(node.element.timer_expression) for node in self.nodes.values()])
        worked_out = [script_sets(script) for script in self.scripts.values()]
        changed = True
        while changed:
            changed = False
            for sets in worked_out:
                for name, (inputs, _) in sets.items():
                    if name in timed and not inputs <= timed:
                        timed |= inputs
                        changed = True
        return frozenset(timed)

    def _cyclic_reach(self) -> dict[str, frozenset[str]]:
        """For each element, the elements on loops it can still reach (whose visit counts matter).

        A complaint closed at an element that closes it while its process waits on (an intermediate
        throw event with an `outcome`) and reopened by a later event runs the stages' elements again
        once: the way on from there is no loop to count visits around (Great Places' stage 2 request
        after closing)."""
        following = {n: [s for s in self.successors(node) if s in self.nodes] for n, node in self.nodes.items()}
        reach = _reach(following)
        looping = {n: [] if self.closes(node) else following[n] for n, node in self.nodes.items()}
        around = _reach(looping)
        cyclic = {n for n in self.nodes if n in around[n]}
        code_timers = {n for n, node in self.nodes.items()
                       if any(self.nodes[b].element.deadline_key in self.limits for b in node.boundaries)}
        self.visit_cap = {n: MAX_VISITS if n in cyclic and any(t in around[n] and n in around[t] for t in code_timers)
                          else MAX_VISITS - 1 for n in self.nodes}
        self.keys_ahead = {n: frozenset(self.nodes[m].element.deadline_key for m in reach[n] | {n}
                                        for m in [m, *self.nodes[m].boundaries]
                                        if self.nodes[m].element.deadline_key) for n in self.nodes}
        self.reach = {n: frozenset(r) for n, r in reach.items()}
        self.stage2_ahead = {n: any(self.elements[m].stage == "2" for m in reach[n] | {n}) for n in self.nodes}
        answering = self.responders("1") | self.responders("2")
        self.responses_ahead = {n: bool((reach[n] | {n}) & answering) for n in self.nodes}
        self.stage_responses_ahead = {stage: {n: bool((reach[n] | {n}) & self.responders(stage)) for n in self.nodes}
                                      for stage in ("1", "2")}
        return {n: frozenset((around[n] | {n}) & cyclic) for n in self.nodes}

    def _updates_before_response(self, stage: str) -> dict[str, bool]:
        """For each element, whether a path from it can arm an `update_interval` timer before the stage's
        response is given, other than by its response deadline firing (5.9)."""
        key, responders = RESPONSE_KEYS[stage], self.responders(stage)

        def arms_updates(node: Node) -> bool:
            return node.element.deadline_key == DeadlineKey.UPDATE_INTERVAL or any(
                self.nodes[b].element.deadline_key == DeadlineKey.UPDATE_INTERVAL for b in node.boundaries)

        def onward(node: Node) -> list[str]:
            if node.id in responders:
                return []
            missed = {t for b in node.boundaries if self.nodes[b].element.deadline_key == key
                      for t in (f.target for f in self.nodes[b].outgoing)}
            return [n for n in self.successors(node) if n in self.nodes and n not in missed]

        found: dict[str, bool] = {}
        for start in self.nodes:
            seen, stack = set(), [start]
            while stack and not found.get(start):
                n = stack.pop()
                if n in seen:
                    continue
                seen.add(n)
                if found.get(n) or arms_updates(self.nodes[n]):
                    found[start] = True
                stack.extend(onward(self.nodes[n]))
            found.setdefault(start, False)
        return found

    @staticmethod
    def closes(node: Node) -> bool:
        """An element that closes the complaint while its process waits on for an event that reopens it."""
        return node.tag == "intermediateThrowEvent" and bool(node.element.properties.get("outcome"))


def _reach(following: Mapping[str, list[str]]) -> dict[str, set[str]]:
    reach: dict[str, set[str]] = {}
    for n in following:
        seen, stack = set(), list(following[n])
        while stack:
            m = stack.pop()
            if m not in seen:
                seen.add(m)
                stack.extend(following[m])
        reach[n] = seen
    return reach


def main_process(diagram: etree._Element | Diagram) -> str | None:
    """The process a complaint runs (None unless exactly one executable process is called by nothing)."""
    return (diagram if isinstance(diagram, Diagram) else read_graph(diagram)).main_process

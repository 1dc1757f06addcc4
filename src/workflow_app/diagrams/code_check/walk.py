"""Walking every path through the process the way the engine would run it, keeping along each
path the few facts the Code's rules need; two paths with the same future are followed once."""
from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime

from workflow_app.diagrams.code_check.clocks import ClockRules
from workflow_app.diagrams.code_check.extensions import AGREEMENT, ExtensionRules, marker_key
from workflow_app.diagrams.code_check.facts import (
    EXPLORE_AT,
    RECEIPT,
    Candidate,
    Extension,
    Facts,
    Token,
    freeze,
    truthy,
)
from workflow_app.diagrams.code_check.findings import Finding
from workflow_app.diagrams.code_check.forms import Answers
from workflow_app.diagrams.code_check.letters import LetterRules, Letters
from workflow_app.diagrams.code_check.liveness import DataLiveness
from workflow_app.diagrams.code_check.process_graph import Node, ProcessGraph
from workflow_app.diagrams.code_check.reading import exact, names_read, script_names, script_sets
from workflow_app.diagrams.code_check.refusals import NO_LETTER_NEEDED_OUTCOME, REFUSAL_OUTCOME, RefusalRules
from workflow_app.diagrams.code_check.stages import StageRules
from workflow_app.diagrams.code_check.timers import DeadlineResult, TimerSweep
from workflow_app.diagrams.definitions import ACTIVITY_TAGS
from workflow_app.diagrams.expressions import RestrictedEnvironment
from workflow_app.rules.calendar import WorkingCalendar
from workflow_app.rules.regime import Regime
from workflow_app.rules.vocabulary import ACKNOWLEDGE_KEYS, RESPONSE_KEYS, STAGE2_KEYS, DeadlineKey

MAX_STEPS = 200_000     # elements entered over all paths, so a tangled diagram cannot hang the check


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while the paths are walked. The walk makes hundreds of thousands of
    tuples and dicts (case data, memo keys), none in a reference cycle, and keeps thousands in its memo;
    the collector, run every few hundred allocations, went through them again and again: a quarter of a
    cold check. Reference counting frees what the walk drops. The collector is the process's: it is
    turned back on by the walk that found it on."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


class CodeCheck(ClockRules, ExtensionRules, LetterRules, RefusalRules, StageRules, TimerSweep):
    """Walks a diagram's paths and applies the Code's rules along them.

    The rules are mixed in by concern (clocks, extensions, letters, refusals, stages, the timer
    sweep); they read the walk's state (`graph`, `letters`, `regime`...) and report through `add`.
    """

    def __init__(self, graph: ProcessGraph, letters: Letters, calendar: WorkingCalendar,
                 environment: RestrictedEnvironment, instants: Sequence[datetime], landlord: str,
                 regime: Regime) -> None:
        self.graph = graph
        self.regime = regime
        self.letters = letters
        self.calendar = calendar
        self.environment = environment
        self.instants = instants
        self.landlord = landlord
        self.answers = Answers(graph)
        self.findings: list[Finding] = []
        self.results: dict[tuple, DeadlineResult] = {}
        self.sweeps: dict[tuple, DeadlineResult] = {}     # by expression and exact case data (timers.TimerSweep)
        self.extensions: dict[str, list[Extension]] = defaultdict(list)
        self.steps = 0
        self.paths = 0
        self.cut_short = False
        self._reported: set[tuple] = set()
        self._options_read: set[str] = set()
        self._about_reasons_seen: dict[str, bool] = {}    # a word in a condition: about the resident's reasons?
        self._reasons_words: dict[tuple, list[str]] = {}  # a gateway's words about them, by the names it read
        self.liveness = DataLiveness(graph, environment, self.answers.read)
        self._stage2_reads: dict[str, frozenset[str]] = {}
        self._holds: dict[tuple, bool | None] = {}        # a condition on identical case data: holds?
        self._scripts: dict[tuple, dict | None] = {}      # a script on identical case data: what it sets
        self._ways: dict[object, int] = {}                # how a script works a value out (Token.worked_out)
        self._loops = {n: tuple(sorted(loops)) for n, loops in graph.cyclic_reach.items()}   # visits that count
        self.separations: set[tuple[str, str]] = set()   # (stage 2 response task, the task that answered stage 1)
        self._beyond: dict[str, Extension] = {}           # agreed extensions beyond the timescales, by timer (5.9)
        self._intervals_owed: set[str] = set()            # ... whose response was given with no updates agreed

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

    def run(self) -> None:
        with collector_paused():
            self._walk()
        if self.cut_short:
            return
        for key, seen_extensions in self.extensions.items():
            self._judge_extensions(key, seen_extensions)
        self._judge_update_intervals()
        self._judge_separation()

    def _walk(self) -> None:
        seen: set[tuple] = set()
        for start in self.graph.starts.get(self.graph.main_process, []):
            ctx = {"reference": "XX-2026-000001", "landlord": self.landlord, "received_at": EXPLORE_AT}
            facts = Facts()
            if self.graph.acknowledgers["stage1_acknowledge"]:
                facts.awaiting = frozenset({"stage1_acknowledge"})
            worked_out = {"received_at": RECEIPT} if "received_at" in self.graph.timed else {}
            pending = [Token(start, ctx, facts, (), {}, (("stamp", "received_at"),), worked_out)]
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

    def _memo_key(self, token: Token) -> tuple:
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
            read = self._request_reads(token.node, ahead)
            facts.request = facts.request & read if read else None
        if not self.graph.responses_ahead.get(token.node, False):
            facts.after_final = frozenset()
        if facts.intervals_due:
            self._settle_intervals(token.node, facts, ahead)
        data, worked_out = token.ctx, token.worked_out
        ctx = tuple([(n, freeze(data[n]), worked_out.get(n)) for n in self.liveness.names(token.node, data)
                     if n in data])
        counted = token.visits
        visits = tuple([(n, counted[n]) for n in self._loops.get(token.node, ()) if n in counted])
        return token.node, token.stack, ctx, visits, token.facts.key()

    def _settle_intervals(self, node_id: str, facts: Facts, ahead: frozenset[str]) -> None:
        """5.9's markers as soon as their fate is known: once no response task of the stage lies ahead, a
        response already given owes them (updates from here would be on actions after it); with no response
        given and no update timer ahead, nothing can keep or owe them."""
        for stage, key in RESPONSE_KEYS.items():
            if self.graph.stage_responses_ahead[stage].get(node_id, False) \
                    or not any(marker_key(m) == key for m in facts.intervals_due):
                continue
            if stage in facts.pending:
                self._response_given(facts, stage)
            elif DeadlineKey.UPDATE_INTERVAL not in ahead:
                facts.intervals_due = frozenset(m for m in facts.intervals_due if marker_key(m) != key)

    def _request_reads(self, node_id: str, ahead: frozenset[str]) -> frozenset[str]:
        """The dates the stage 2 deadlines still ahead of an element read."""
        read = self._stage2_reads.get(node_id)
        if read is None:
            read = self._stage2_reads[node_id] = frozenset().union(
                *[self.graph.key_reads.get(k, frozenset()) for k in STAGE2_KEYS if k in ahead])
        return read

    def _step(self, token: Token) -> list[Token]:
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
                    entering.stack = (*token.stack, node.id)
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

    def _perform(self, token: Token, node: Node) -> list[Token]:
        """The ways an activity can complete: a script runs, a user task is answered."""
        if node.tag == "scriptTask":
            script = self.graph.scripts.get(node.id)
            if script:
                before = token.ctx
                token.ctx, ran = self._run_script(script, before)
                token.recipe += (("script", script),)
                self._work_out(token, script, before, ran)
            return [token]
        if node.tag != "userTask":
            return [token]
        done = []
        for answers in self.answers(node, token.ctx):
            answered = token.branch()
            answered.ctx.update({k: c.value for k, c in answers.items()})
            answered.recipe += (("data", tuple(sorted((k, c.value) for k, c in answers.items()))),)
            if answers.keys() & answered.worked_out.keys():
                answered.worked_out = {n: w for n, w in answered.worked_out.items() if n not in answers}
            self._answered(answered, node, answers)
            done.append(answered)
        return done

    def _run_script(self, script: str, ctx: dict) -> tuple[dict, bool]:
        """The case data after a script task, and whether it ran (a script that fails leaves them as they
        were). A script sees and changes nothing but the names in it, so what it leaves in them is kept
        for identical values of those."""
        names = script_names(script)
        data = tuple((n, exact(ctx[n]) if n in ctx else "<missing>") for n in names)
        clashes = tuple(sorted(self.environment.functions.keys() & ctx.keys()))   # refused whatever it says
        key = (script, data, clashes) if all(v is not None for _, v in data) else None
        if key is not None and key in self._scripts:
            sets = self._scripts[key]
            return (ctx, False) if sets is None else ({**ctx, **sets}, True)
        after = dict(ctx)
        try:
            self.environment.execute(script, after)
            sets = {n: after[n] for n in names if n in after}     # what it assigns, or changes in place
        except Exception:  # the engine would stop here too; the engine's checks judge scripts
            after, sets = ctx, None
        if key is not None:
            self._scripts[key] = sets
        return after, sets is not None

    def _work_out(self, token: Token, script: str, before: dict, ran: bool) -> None:
        """What a script sets that a timer may read, in `Token.worked_out`: a value worked out from nothing
        that varies with the receipt day is the same on every day; a copy of a value is worked out as that
        value is; any other is known by the script, the name, and what it is worked out from (how those that
        vary are worked out, the values of the rest). A script that failed here may not fail on another
        day, or fail at another line: what it sets is known by the path's whole history."""
        worked_out, timed = token.worked_out, self.graph.timed
        changed: dict[str, int | None] = {}
        history = None if ran else exact(token.recipe)
        for name, (inputs, copied) in script_sets(script).items():
            if name not in timed:
                continue
            if not ran:
                how: object = (script, name, history) if history is not None else object()
            elif copied is not None:
                changed[name] = worked_out.get(copied)
                continue
            else:
                varying = tuple((n, worked_out[n]) for n in sorted(inputs) if n in worked_out)
                if not varying:
                    changed[name] = None
                    continue
                fixed = tuple((n, exact(before[n]) if n in before else "<missing>")
                              for n in sorted(inputs) if n not in worked_out)
                how = (script, name, varying, fixed) if all(v is not None for _, v in fixed) else object()
            changed[name] = self._ways.setdefault(how, len(self._ways) + 1)   # object(): unlike any other
        if any(worked_out.get(n) != way for n, way in changed.items()):
            after = token.ctx
            worked_out = {n: way for n, way in worked_out.items() if n not in changed}
            worked_out.update((n, way) for n, way in changed.items() if way is not None and n in after)
            token.worked_out = worked_out

    def _leave(self, token: Token, node: Node) -> list[Token]:
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
        branches = [token.branch(flow.target) for flow in node.outgoing]
        self._split_pending(branches)
        self._split_intervals(branches)
        return branches

    def _split_pending(self, branches: list[Token]) -> None:
        """Parallel branches after a response: the stage's completion is judged on the branch that carries it
        on. A branch back to a responder put the response off (an extension, the investigation going on beside
        agreed updates); otherwise the branches that can still send a letter carry it."""
        for stage in list(branches[0].facts.pending):
            responders = self.graph.responders(stage)
            reaches_responder = [b for b in branches if ({b.node} | self.graph.reach[b.node]) & responders]
            sends_letter = [b for b in branches
                            if any(self.graph.node(m).letter for m in {b.node} | self.graph.reach[b.node])]
            for carrying in (reaches_responder, sends_letter):
                if carrying:
                    kept = {id(b) for b in carrying}
                    for other in branches:
                        if id(other) not in kept:
                            del other.facts.pending[stage]
                    break

    def _boundary(self, token: Token, boundary: Node) -> list[Token]:
        if not boundary.element.interrupting:
            # A side path: the activity goes on, and so does the clock that runs on it. The stage goes on
            # with the activity too, so the side path ending (a missed deadline recorded) does not complete it.
            token.facts.awaiting -= self._running(token, self.graph.node(boundary.element.attached_to))
            token.facts.pending = {}
        if boundary.event == "timer":
            self._deadline_passed(token.facts, boundary.element.deadline_key)
        self._enter(token, boundary)
        if boundary.event == "message":
            self._message(token, boundary)
        return self._leave(token, boundary)

    def _catch(self, token: Token, node: Node) -> None:
        if node.event == "timer":
            self._arm(token, node.id)
        elif node.event == "message":
            self._message(token, node)

    def _decide(self, token: Token, node: Node) -> list[Token]:
        """Gateways: each flow whose condition holds, or cannot be decided from the data tried."""
        names: set[str] = set()

        def holds(condition: str) -> bool | None:
            read = names_read(condition)
            names.update(read)
            return self._holds_on(condition, read, token.ctx)
        chosen, definite = node.flows_taken(holds)
        tokens = []
        for flow in chosen:
            taken = token.branch(flow.target) if len(chosen) > 1 else token
            taken.node = flow.target
            self._branched(taken, node, flow, frozenset(names), definite)
            self._completed(taken, node)
            tokens.append(taken)
        return tokens

    def _holds_on(self, condition: str, read: frozenset[str], ctx: dict) -> bool | None:
        """Whether a condition holds on the case data (None: it cannot be worked out here). A condition
        reads nothing but the names in it, so its answer is kept for identical values of those."""
        data = tuple(sorted((n, exact(ctx[n]) if n in ctx else "<missing>") for n in read))
        key = (condition, data) if all(v is not None for _, v in data) else None
        if key is not None and key in self._holds:
            return self._holds[key]
        try:
            holds: bool | None = bool(self.environment.evaluate(condition, ctx))
        except Exception:  # a value the check cannot know here: either way is possible
            holds = None
        if key is not None:
            self._holds[key] = holds
        return holds

    def _race(self, token: Token, node: Node) -> list[Token]:
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
            if target.event == "timer":
                self._deadline_passed(first.facts, target.element.deadline_key)
            self._enter(first, target)
            if target.event == "message":
                self._message(first, target)
            tokens += self._leave(first, target)
        return tokens

    def _stamp(self, token: Token, name: str) -> None:
        token.ctx[name] = EXPLORE_AT
        token.recipe += (("stamp", name),)
        if name in self.graph.timed and token.worked_out.get(name) != RECEIPT:
            token.worked_out = {**token.worked_out, name: RECEIPT}
        facts = token.facts
        facts.anchors = {k: v | {name} for k, v in facts.anchors.items()}
        if facts.request is not None:
            facts.request |= {name}

    def _enter(self, token: Token, node: Node) -> None:
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

    def _completed(self, token: Token, node: Node) -> None:
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

    def _message(self, token: Token, node: Node) -> None:
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

    def _close_stage(self, facts: Facts, stage: str, responder: str, letters: frozenset[str]) -> None:
        self._response_given(facts, stage)
        if stage == "1":
            facts.closer1 = responder
        self._judge_completion(stage, responder, letters)

    def _answered(self, token: Token, node: Node, answers: Mapping[str, Candidate]) -> None:
        facts = token.facts
        if any(AGREEMENT.search(k) and truthy(c.value) for k, c in answers.items()):
            self._agreement(facts)
        if not facts.answered1:
            facts.dates.update({k: c for k, c in answers.items() if c.months_before is not None})
        else:
            self._reasons_options(node)

    def _cut(self, token: Token) -> None:
        self.paths += 1

    def _end(self, token: Token, node: Node) -> None:
        """The process ends: refusals explained (2.4, 5.11), not for an issue's age (2.3), letters sent."""
        self.paths += 1
        facts = token.facts
        outcome = node.element.properties.get("outcome") or ""
        refused = bool(REFUSAL_OUTCOME.search(outcome))
        if refused:
            self._judge_refusal(node, facts)
        for stage, (responder, letters) in facts.pending.items():
            self._response_given(facts, stage)
            if not (refused or NO_LETTER_NEEDED_OUTCOME.search(outcome)):
                self._judge_completion(stage, responder, letters)

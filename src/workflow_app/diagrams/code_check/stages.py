"""Exactly two stages (5.2, 5.3, 6.10, 6.13): no extra or third stage, by name or by what it does; both
stages with their deadlines; the stage 2 response kept from whoever answered stage 1."""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping

from workflow_app.diagrams.code_check.facts import Facts
from workflow_app.diagrams.code_check.findings import ERROR, Finding
from workflow_app.diagrams.code_check.forms import option_labels
from workflow_app.diagrams.code_check.process_graph import Node
from workflow_app.diagrams.definitions import Element
from workflow_app.diagrams.forms import Form
from workflow_app.diagrams.graph import Graph as Diagram
from workflow_app.rules.regime import Regime

EXTRA_STAGE = re.compile(
    r"\b(stage[\s_-]*(0|zero|nought)|informal[\s_-]*(complaints?|stage|resolution)|quick[\s_-]*fix(es)?"
    r"|pre[\s_-]*formal|first[\s_-]*tier)\b", re.IGNORECASE)
THIRD_STAGE = re.compile(r"\b(stage[\s_-]*(3|three|iii|4|four)|third[\s_-]*stage|final[\s_-]*appeal)\b",
                         re.IGNORECASE)


def names_findings(diagram: Diagram, elements: Mapping[str, Element],
                    forms: Mapping[str, Form], regime: Regime) -> list[Finding]:
    """5.2 and 5.3: an extra named stage ("stage 0", "informal complaint") or a third stage."""
    findings = []
    extra_rule, third_rule = regime.provision("no_extra_stage"), regime.provision("no_third_stage")
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
                texts += [f.label, *[str(v) for v in f.options], *option_labels(form, f.key)]
        extra = next((t for t in texts if t and EXTRA_STAGE.search(t)), None)
        if extra and extra_rule is not None:
            findings.append(Finding(extra_rule, ERROR, owner,
                                    f"'{extra}' names an extra complaint stage; {regime.short_name} allows no "
                                    "'stage 0' or "
                                    "'informal complaint' stage: resolve early within stage 1, or record the "
                                    "contact as a service request"))
        third = next((t for t in texts if t and THIRD_STAGE.search(t)), None)
        if third and third_rule is not None:
            findings.append(Finding(third_rule, ERROR, owner,
                                    f"'{third}' names a third complaint stage; {regime.short_name} allows exactly "
                                    "two"))
    return findings


def stages_findings(elements: Mapping[str, Element], regime: Regime) -> list[Finding]:
    """6.2, 6.3, 6.10, 6.11, 6.14: both stages exist, each with its acknowledgement and response deadline."""
    keys = {e.deadline_key for e in elements.values() if e.timer_expression is not None}
    stages = {e.stage for e in elements.values() if e.tag == "userTask"}
    findings = []

    def missing(key: str) -> Finding:
        limit = regime.limits[key]
        return Finding(limit.provision, ERROR, None,
                       f"no timer has the deadline key {key}: {regime.short_name}'s {limit.working_days} working "
                       "days from "
                       f"{limit.starts} are not enforced")

    findings += [missing(k) for k in ("stage1_acknowledge", "stage1_response") if k not in keys and k in regime.limits]
    two_stages = regime.provision("two_stages")
    if "2" not in stages and not keys & {"stage2_acknowledge", "stage2_response"}:
        if two_stages is not None:
            findings.append(Finding(two_stages, ERROR, None,
                                    "the diagram has no stage 2 (no user task with stage 2): a complaint not "
                                    "resolved at stage 1 must be able to progress to stage 2"))
    else:
        findings += [missing(k) for k in ("stage2_acknowledge", "stage2_response")
                     if k not in keys and k in regime.limits]
    return findings


class StageRules:
    """What happens after the final response, and who may give the stage 2 response."""

    def _after_final(self, facts: Facts, node: Node) -> None:
        """5.3: after the stage 2 final response, a user task whose answers choose the outcome, or
        that leads to a further response, is a third stage whatever it is called."""
        final = self.name(facts.final_response)
        third_rule = self.regime.provision("no_third_stage")
        if node.id in self.graph.responders("1") | self.graph.responders("2"):
            for task in sorted(facts.after_final) if third_rule is not None else ():
                self.add(third_rule, ERROR, task,
                         f"{self.name(task)} comes after the stage 2 final response ({final}) and leads to a further "
                         f"response at {self.name(node.id)}: that is a third complaint stage; "
                         f"{self.regime.short_name} allows exactly two", once=("no_third_stage-again", task))
            facts.final_response, facts.after_final = None, frozenset()
        elif node.tag == "userTask":
            for gateway in self.graph.outcome_deciders(node.id)[:1] if third_rule is not None else ():
                outcomes = sorted(set().union(*[self.graph.outcomes(f.target)
                                                for f in self.graph.node(gateway).outgoing]))
                self.add(third_rule, ERROR, node.id,
                         f"{self.name(node.id)} comes after the stage 2 final response ({final}), and "
                         f"{self.name(gateway)} reads its answers to choose the outcome ({', '.join(outcomes)}): a "
                         "review that can change the outcome after the final response is a third complaint stage; "
                         f"{self.regime.short_name} allows exactly two", once=("no_third_stage-decides", node.id))
            facts.after_final |= {node.id}

    def _judge_separation(self) -> None:
        """6.13: on every path into stage 2, the stage 2 response task is kept from whoever gave the
        stage 1 response on that path (its separate_from names that task)."""
        provision = self.regime.provision("stage2_by_someone_else")
        if provision is None:
            return
        missing: dict[str, list[str]] = defaultdict(list)
        for task, closer in sorted(self.separations):
            element = self.graph.elements[task]
            if closer not in element.separate_from and self.graph.elements[closer].tag == "userTask":
                missing[task].append(closer)
        for task, closers in missing.items():
            self.add(provision, ERROR, task,
                     f"{self.name(task)} (the stage 2 response) can be assigned to whoever gave the stage 1 "
                     f"response at {', '.join(self.name(c) for c in closers)}: add {', '.join(closers)} to its "
                     "separate_from property")
        for task in sorted({t for t, _ in self.separations}):
            unknown = sorted(set(self.graph.elements[task].separate_from) - set(self.graph.elements))
            if unknown:
                self.add(provision, ERROR, task, f"{self.name(task)}'s separate_from names {', '.join(unknown)}, "
                                              "which are not in the diagram")

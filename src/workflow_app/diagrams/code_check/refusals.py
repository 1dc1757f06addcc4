"""Refusing a complaint or an escalation (2.3, 2.4, 5.11, 6.12): within the acceptance window, in
writing with the Ombudsman's details, and never for want of the resident's reasons."""
from __future__ import annotations

import re

from workflow_app.diagrams.code_check.extensions import AGREEMENT
from workflow_app.diagrams.code_check.facts import Facts, Token
from workflow_app.diagrams.code_check.findings import ERROR, Finding
from workflow_app.diagrams.code_check.forms import option_labels
from workflow_app.diagrams.code_check.process_graph import Flow, Node, ProcessGraph
from workflow_app.diagrams.code_check.reading import words_in
from workflow_app.rules.regime import Regime

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


def exclusion_wording_findings(graph: ProcessGraph, regime: Regime) -> list[Finding]:
    """2.3: a ground for refusing a complaint that names a time limit shorter than the regime's
    acceptance months (12 under the Code).

    The acceptance window is best drawn as a gateway on the date of the issue, which the
    walk evaluates; a refusal ground that only says "over 6 months" is read from its wording.
    """
    findings = []
    provision = regime.provision("acceptance_window")
    if provision is None:
        return findings
    for node in graph.nodes.values():
        form = graph.forms.get(node.element.form_ref or "") if node.tag == "userTask" else None
        if form is None or node.element.stage not in (None, "pre", "1"):
            continue
        for f in form.fields:
            for text in [str(v) for v in f.options] + option_labels(form, f.key):
                match = TIME_LIMIT.search(text)
                if not match or ACCEPTING.search(text):
                    continue
                number, unit = int(match.group(2)), match.group(3).lower()
                months = number * {"y": 12, "m": 1, "w": 12 / 52, "d": 12 / 365}[unit[0]]
                if months < regime.acceptance_months:
                    findings.append(Finding(
                        provision, ERROR, node.id,
                        f"'{node.element.name}' offers '{text}' ({form.id}.{f.key}) as a ground for not accepting "
                        f"a complaint; {regime.short_name} requires complaints raised within "
                        f"{regime.acceptance_months} months of the issue (or of the resident becoming aware of it) "
                        "to be accepted"))
                    break
            else:
                continue
            break
    return findings


class RefusalRules:
    """Gateways that decide on dates or reasons, and the ends that refuse."""

    def _branched(self, token: Token, gateway: Node, flow: Flow, names: frozenset[str], definite: bool) -> None:
        facts = token.facts
        if AGREEMENT.search(flow.name) and not re.search(r"\b(not|no)\b", flow.name, re.I):
            self._agreement(facts)
        if not facts.answered1:
            if definite:
                decided = {(gateway.id, n, facts.dates[n].value, facts.dates[n].months_before)
                           for n in names if n in facts.dates}
                facts.date_decisions |= decided
            return
        about = self._reasons_read(gateway, names)
        chosen = sorted(n for n in names if n in token.ctx and NO_REASONS.search(str(token.ctx[n])))
        provision = self.regime.provision("no_reasons_to_escalate")
        if (about or chosen) and provision is not None:
            self.add(provision, ERROR, gateway.id,
                     f"{self.name(gateway.id)} decides a stage 2 request on the resident's reasons "
                     f"({', '.join(about or chosen)}); residents must not be required to explain why they escalate",
                     once=("no_reasons_to_escalate", gateway.id))
        if about or chosen:
            facts.reasons |= {gateway.id}

    def _reasons_read(self, gateway: Node, names: frozenset[str]) -> list[str]:
        """The words in a gateway's conditions (and the names it read) about the resident's reasons."""
        key = (gateway.id, names)
        if key not in self._reasons_words:
            conditions = [f.condition for f in gateway.outgoing if f.condition]
            words = set(names).union(*[words_in(c) for c in conditions]) if conditions else set(names)
            self._reasons_words[key] = sorted(w for w in words if self._about_reasons(w))
        return self._reasons_words[key]

    def _about_reasons(self, word: str) -> bool:
        if word not in self._about_reasons_seen:
            self._about_reasons_seen[word] = bool(RESIDENT_REASONS.search(word) or NO_REASONS.search(word)) or any(
                RESIDENT_REASONS.search(f.label or "") for form in self.graph.forms.values()
                for f in form.fields if f.key == word)
        return self._about_reasons_seen[word]

    def _judge_refusal(self, end: Node, facts: Facts) -> None:
        escalation = facts.answered1
        provision = self.regime.provision("escalation_not_refused" if escalation else "refusal_explained")
        what = "escalation to stage 2" if escalation else "the complaint"
        letters = sorted(facts.decision_letters)
        if provision is not None and not any(self.letters.has_ombudsman_details(t) for t in letters):
            if not letters:
                message = (f"a path refuses {what} at {self.name(end.id)} without a letter: the resident must be "
                           "told the reasons in writing and of the right to take the decision to the Ombudsman")
            else:
                message = (f"a path refuses {what} at {self.name(end.id)} with letter "
                           f"{', '.join(repr(t) for t in letters)}, which does not give the Ombudsman's contact "
                           "details (the right to take the refusal to the Ombudsman)")
            self.add(provision, ERROR, end.id, message, once=("refusal", end.id))
        acceptance = self.regime.provision("acceptance_window")
        for gateway, name, value, months in sorted(facts.date_decisions):
            if acceptance is not None and 0 <= months < self.regime.acceptance_months:
                age = f"{months:.0f} months" if months >= 1 else "days"
                self.add(acceptance, ERROR, gateway,
                         f"{self.name(gateway)} leads to a refusal ({self.name(end.id)}) for an issue only {age} "
                         f"before the complaint ({name} = {value}); {self.regime.short_name} requires complaints "
                         f"raised within {self.regime.acceptance_months} months of the issue to be accepted",
                         once=("acceptance_window", gateway))
        escalation_rule = self.regime.provision("escalation_not_refused")
        for gateway in sorted(facts.reasons) if escalation_rule is not None else ():
            self.add(escalation_rule, ERROR, gateway,
                     f"{self.name(gateway)} can refuse escalation ({self.name(end.id)}) depending on the "
                     "resident's reasons; a lack of reasons is not a valid reason to refuse escalation",
                     once=("escalation_not_refused", gateway))

    def _reasons_options(self, node: Node) -> None:
        """A stage 2 form offering "no reasons given" as a ground for refusing the request."""
        if node.id in self._options_read:
            return
        self._options_read.add(node.id)
        form = self.graph.forms.get(node.element.form_ref or "")
        for f in form.fields if form is not None else ():
            texts = [str(v) for v in f.options] + option_labels(form, f.key)
            hit = next((t for t in texts if NO_REASONS.search(t)), None)
            if hit is None:
                continue
            escalation_rule = self.regime.provision("escalation_not_refused")
            reasons_rule = self.regime.provision("no_reasons_to_escalate")
            if escalation_rule is not None:
                self.add(escalation_rule, ERROR, node.id,
                         f"{self.name(node.id)} offers '{hit}' ({form.id}.{f.key}) as a ground at stage 2; "
                         "escalation must not be refused because the resident gave no reasons",
                         once=("escalation_not_refused-option", node.id, f.key))
            if reasons_rule is not None:
                self.add(reasons_rule, ERROR, node.id,
                         f"{self.name(node.id)} expects the resident's reasons for escalating ('{hit}'); residents "
                         "must not be required to explain why they escalate", once=("no_reasons_to_escalate", node.id))

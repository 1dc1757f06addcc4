"""The Code's clocks: each timer against its limit, counting from the right event, and running
wherever a complaint waits before it is acknowledged (6.2, 6.3, 6.11, 6.14)."""
from __future__ import annotations

from workflow_app.diagrams.code_check.facts import Deadline, Extension, Facts, Token
from workflow_app.diagrams.code_check.findings import ENGINE, ERROR
from workflow_app.diagrams.code_check.process_graph import Node
from workflow_app.diagrams.code_check.reading import names_read
from workflow_app.rules.regime import Limit
from workflow_app.rules.vocabulary import RESPONSE_KEYS, STAGE2_KEYS, DeadlineKey


class ClockRules:
    """Timers armed and waits entered along a path, held against the Code's limits."""

    def _arm(self, token: Token, timer_id: str) -> None:
        """A timer is armed: its due time over the sweep, against the Code's limit for its key."""
        element = self.graph.elements[timer_id]
        key = element.deadline_key
        if key == DeadlineKey.UPDATE_INTERVAL:
            self._updates_armed(token.facts)
        result = self._deadline(token, element)
        if result.failure is not None:
            # The engine would fail in the same way for complaints received that day: not deployable.
            self.add(ENGINE, ERROR, timer_id,
                     f"the due time of {self.name(timer_id)} cannot be worked out for a complaint received on "
                     f"{result.failure_day:%a %d %b %Y}: {result.failure}", once=("fail", timer_id))
        facts = token.facts
        limits = self.regime.limits
        if key not in limits:
            return
        limit = limits[key]
        code = self.regime.short_name
        late = sorted(names_read(element.timer_expression) & facts.anchors.get(key, frozenset()))
        for name in late:
            self.add(limit.provision, ERROR, timer_id,
                     f"{self.name(timer_id)} counts from {name}, which is recorded after {limit.starts}; "
                     f"{code} counts from {limit.starts}, so this deadline can fall any number of days too late",
                     once=("late-start", timer_id, name))
        if key in STAGE2_KEYS and facts.request is not None:
            self._judge_stage2_start(token, timer_id, limit)
        if facts.pending.get(limit.stage) is not None and key == RESPONSE_KEYS.get(limit.stage):
            del facts.pending[limit.stage]                      # the response was put off: an extension
        days = result.working_days
        deadline = facts.deadlines.get(key)
        if deadline is None or key.endswith("acknowledge"):
            if deadline is None:
                facts.deadlines[key] = Deadline(self._group, days, timer_id)
            if days is not None and days > limit.working_days:
                self.add(limit.provision, ERROR, timer_id,
                         f"{self.name(timer_id)} falls due up to {days} working days after {limit.starts} (e.g. "
                         f"for a complaint received on {result.worst_day:%a %d %b %Y}); {code} allows "
                         f"{limit.working_days}", once=("limit", timer_id))
            return
        deadline.extensions += 1
        if deadline.days is None or days is None or days <= deadline.days:
            return
        self._extension_letters(timer_id, limit, deadline.letters)
        extension = Extension(deadline.timer_id, deadline.days, days, result.worst_day, min(deadline.extensions, 2),
                              deadline.agreed)
        self.extensions[key].append(extension)
        self._beyond_by_agreement(facts, key, extension)

    def _judge_stage2_start(self, token: Token, timer_id: str, limit: Limit) -> None:
        """6.11 and 6.14: a stage 2 deadline counts from the escalation request or something recorded
        since; counted only from earlier dates it could fall due before the request it answers."""
        recorded = {detail for kind, detail in token.recipe if kind == "stamp"}
        dates = sorted(names_read(self.graph.elements[timer_id].timer_expression) & recorded)
        if dates and not set(dates) & token.facts.request:
            self.add(limit.provision, ERROR, timer_id,
                     f"{self.name(timer_id)} counts only from {', '.join(dates)}, recorded before the escalation "
                     f"request on this path; {self.regime.short_name} counts from {limit.starts}, so this deadline "
                     "could fall due before the request it answers, or run out while the resident is still within "
                     "the time allowed to escalate", once=("early-start", timer_id))

    def _stage_clocks(self, facts: Facts, node: Node) -> None:
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

    def _running(self, token: Token, node: Node) -> frozenset[str]:
        """The deadline keys whose timers run while the path waits at an element: its own, and
        those on the subprocesses around it."""
        return self.graph.clocks[node.id].union(*[self.graph.clocks[s] for s in token.stack])

    def _waiting(self, token: Token, node: Node) -> None:
        """6.2 and 6.11: wherever a complaint waits before it is acknowledged, the acknowledgement's
        timer runs; between an escalation request and stage 2 the waits are kept to judge later."""
        facts = token.facts
        running = self._running(token, node)
        for key in sorted(facts.awaiting - running):
            self._unclocked(node.id, key)
        if facts.unclocked2 is not None and "stage2_acknowledge" not in running:
            facts.unclocked2 |= {node.id}

    def _unclocked(self, element_id: str, key: str) -> None:
        limit = self.regime.limits.get(key)
        if limit is None:
            return
        when, start = ("before it is acknowledged", "receipt") if key == "stage1_acknowledge" else \
            ("between the escalation request and the stage 2 acknowledgement", "the request")
        self.add(limit.provision, ERROR, element_id,
                 f"the complaint can wait at {self.name(element_id)} {when}, but no {key} timer runs there (on "
                 f"it, on a subprocess around it, or among its own events): {self.regime.short_name}'s "
                 f"{limit.working_days} working days run from {limit.starts}, and nothing counts them while the "
                 f"complaint waits here; put the timer on a subprocess around everything from {start} to the "
                 "acknowledgement",
                 once=("clock", key, element_id))

"""Extensions of a Code deadline: how far they reach without the resident's agreement, the letter
that explains them (6.4, 6.5, 6.15, 6.16), and the update intervals agreed with the resident when an
agreed extension takes the response beyond the Code's timescales (5.9)."""
from __future__ import annotations

import re

from workflow_app.diagrams.code_check.facts import Extension, Facts
from workflow_app.diagrams.code_check.findings import ERROR, WARNING
from workflow_app.diagrams.code_check.letters import OMBUDSMAN_SENT
from workflow_app.rules.regime import Limit
from workflow_app.rules.vocabulary import RESPONSE_KEYS, DeadlineKey

UNLIMITED_WORKING_DAYS = 100
"""A deadline this far out in the sweep's worst case is taken as having no limit at all."""
AGREEMENT = re.compile(r"agree", re.IGNORECASE)
AGREED_PROPERTY = ("extension", "agreed")
"""The extension property marking where the resident agrees a longer extension."""


def marker_key(marker: str) -> str:
    """The response deadline a 5.9 marker stands for ("stage1_response", or "stage1_response@<timer>" once
    confirmed beyond the Code's timescales by that extension)."""
    return marker.partition("@")[0]


class ExtensionRules:
    """A deadline armed again on a path, judged against the Code's extension limits.

    5.9, the update intervals: the resident's agreement to a longer extension of a response deadline
    leaves a *marker* on the path, named by the deadline's key. When the extension it allows turns out,
    as armed, to reach beyond the Code's timescales (the first deadline and the extension the Code
    allows), the marker is confirmed and names that extension's timer; otherwise it is dropped. A marker
    is kept when an `update_interval` timer is armed after the agreement on the path, or when the path
    splits in parallel and one branch can arm one before the stage's response (the investigation going
    on beside the updates): unless it came by the response deadline being missed, since updates agreed
    only once a date has passed are not intervals agreed for the extension. A confirmed marker still on
    the path when the stage's response is given is owed, and reported. Markers say only what the rule
    needs, so two paths that agreed at different times but have the same future are walked once.
    """

    def _agreed_markers(self, facts: Facts) -> None:
        """The resident agreed a longer extension: mark each response deadline it may move (5.9)."""
        if self.regime.provision("update_intervals") is None:
            return
        for key in facts.deadlines:
            if self.regime.limits.get(key) is not None and self.regime.limits[key].extension_provision is not None:
                facts.intervals_due |= {key}

    def _beyond_by_agreement(self, facts: Facts, key: str, extension: Extension) -> None:
        """An agreed extension was armed: beyond the Code's timescales its markers stand, otherwise they go."""
        marked = frozenset(m for m in facts.intervals_due if marker_key(m) == key)
        if not marked:
            return
        facts.intervals_due -= marked
        limit = self.regime.limits[key]
        if extension.agreed and extension.days > limit.working_days + limit.extension_days:
            facts.intervals_due |= {f"{key}@{extension.timer_id}"}
            known = self._beyond.get(extension.timer_id)
            if known is None or extension.days > known.days:
                self._beyond[extension.timer_id] = extension

    def _updates_armed(self, facts: Facts) -> None:
        """An update_interval timer is armed: it keeps the markers of responses still to come (not updates on
        actions outstanding after a response)."""
        facts.intervals_due = frozenset(m for m in facts.intervals_due
                                        if self.regime.limits[marker_key(m)].stage in facts.pending)

    def _split_intervals(self, branches: list) -> None:
        """Parallel branches: a marker is kept on all of them when one can arm updates before the stage's
        response, the investigation going on beside the updates."""
        for marker in branches[0].facts.intervals_due:
            stage = self.regime.limits[marker_key(marker)].stage
            if any(self.graph.updates_before_response[stage].get(b.node, False) for b in branches):
                for branch in branches:
                    branch.facts.intervals_due -= {marker}

    def _deadline_passed(self, facts: Facts, key: str | None) -> None:
        """The deadline with this key fired on this branch: updates agreed from here are too late for 5.9."""
        facts.intervals_due = frozenset(m for m in facts.intervals_due if marker_key(m) != key)

    def _response_given(self, facts: Facts, stage: str) -> None:
        key = RESPONSE_KEYS[stage]
        given = frozenset(m for m in facts.intervals_due if marker_key(m) == key)
        self._intervals_owed |= {m.partition("@")[2] for m in given if "@" in m}
        facts.intervals_due -= given

    def _judge_update_intervals(self) -> None:
        """5.9: every agreed extension beyond the Code's timescales is followed by agreed update intervals."""
        provision = self.regime.provision("update_intervals")
        code = self.regime.short_name
        for timer_id in sorted(self._intervals_owed):
            extension = self._beyond[timer_id]
            limit = self.regime.limits[self.graph.elements[timer_id].deadline_key]
            reach = "with no upper limit" if extension.days > UNLIMITED_WORKING_DAYS else \
                f"to {extension.days} working days from {limit.starts}"
            self.add(provision, ERROR, extension.timer_id,
                     f"an extension of {self.name(extension.timer_id)} agreed with the resident runs {reach}, beyond "
                     f"{code}'s {limit.working_days + limit.extension_days} working days, but no update intervals are "
                     f"agreed with it: no {DeadlineKey.UPDATE_INTERVAL} timer follows the agreement before the "
                     "response (other than once a response date has passed); when a response falls outside its "
                     "timescales, "
                     f"{code} requires agreeing with the resident suitable intervals for keeping them informed",
                     once=("update-intervals", extension.timer_id))

    def _agreement(self, facts: Facts) -> None:
        for deadline in facts.deadlines.values():
            deadline.agreed = True
        self._agreed_markers(facts)

    def _extension_letters(self, timer_id: str, limit: Limit, letters: frozenset[str]) -> None:
        """6.5 and 6.16: an extension is explained in writing, with the Ombudsman's details (when the
        regime names a provision for it)."""
        if limit.ombudsman_provision is None:
            return
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

    def _judge_extensions(self, key: str, seen: list[Extension]) -> None:
        """6.4 and 6.15: how far extensions of a deadline reach without the resident's agreement,
        reported on the timer first armed for it.

        The worst reach after one extension and after two are compared: when two reach
        further than any one, the extension can be repeated without limit.
        """
        limit = self.regime.limits[key]
        if limit.extension_provision is None:
            return
        code = self.regime.short_name
        allowed = limit.working_days + limit.extension_days
        worst: dict[int, Extension] = {}
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
                     f"an extension of {name} has no upper limit and needs no agreement with the resident; "
                     f"{code} allows at most {limit.extension_days} more working days ({allowed} from {limit.starts}) "
                     "without good reason")
        elif 1 in worst and 2 in worst and worst[2].days > worst[1].days and reach.days > allowed:
            self.add(limit.extension_provision, ERROR, timer_id,
                     f"{name} can be extended again and again without the resident's agreement ({worst[1].days} "
                     f"working days from {limit.starts} after one extension, {worst[2].days} after two); "
                     f"{code} allows at most {limit.extension_days} more working days without good reason")
        elif reach.days > allowed:
            self.add(limit.extension_provision, WARNING, timer_id,
                     f"an extension of {name} can run to {reach.days} working days from {limit.starts} (e.g. for a "
                     f"complaint received on {reach.worst_day:%a %d %b %Y}), {reach.days - reach.base_days} more "
                     f"than the first deadline, without the resident's agreement; {code} allows more than "
                     f"{limit.extension_days} extra working days ({allowed} in all) only with good reason, "
                     "explained to the resident")

"""Extensions of a Code deadline: how far they reach without the resident's agreement, and the
letter that explains them (6.4, 6.5, 6.15, 6.16)."""
from __future__ import annotations

import re

from workflow_app.diagrams.code_check.facts import Extension, Facts
from workflow_app.diagrams.code_check.findings import ERROR, WARNING
from workflow_app.diagrams.code_check.letters import OMBUDSMAN_SENT
from workflow_app.rules.regime import Limit

UNLIMITED_WORKING_DAYS = 100
"""A deadline this far out in the sweep's worst case is taken as having no limit at all."""
AGREEMENT = re.compile(r"agree", re.IGNORECASE)
AGREED_PROPERTY = ("extension", "agreed")
"""The extension property marking where the resident agrees a longer extension."""


class ExtensionRules:
    """A deadline armed again on a path, judged against the Code's extension limits."""

    def _agreement(self, facts: Facts) -> None:
        for deadline in facts.deadlines.values():
            deadline.agreed = True

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

"""The hazard check: a landlord's hazard diagram held against Awaab's Law, as the Code check holds a complaint's.

It reads the diagram's timers and user tasks and reports, with the regulations' citation as the provision:
- a timer whose due time is later than the regulations allow for its step (its deadline key), on any day of
  a sweep of instants (a year and more, just after and just before midnight London time, so weekends, bank
  holidays and both clock changes count). Each timer's own expression is evaluated, with the case date each
  step counts from set to the instant and every later date further on, so a timer counting from a later
  date than the regulations' is found too;
- a timer keyed to no step of the regulations, and a step of the regulations no timer keeps;
- a user task (a step) with no timer on itself or on a subprocess around it, and none it names to work
  towards.

The timescales come from `rules/hazards.py` (the data file of the regulations); the engine's own problems
are reported as in the Code check (provision `engine`).
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

from workflow_app.diagrams.code_check.findings import ENGINE, ERROR, Finding, read_for_check, sort_findings
from workflow_app.diagrams.code_check.timers import sweep_instants
from workflow_app.diagrams.definitions import Element
from workflow_app.diagrams.expressions import RestrictedEnvironment
from workflow_app.diagrams.forms import Form
from workflow_app.rules.calendar import calendar_for
from workflow_app.rules.hazards import HazardLaw, hazard_law

LATER_DATES_STEP = timedelta(days=3)
"""How far apart the sweep sets the case's dates (awareness, then each later one), so a timer counting from a
later date than its step's gives a later due time."""


def hazard_context(law: HazardLaw, start: datetime) -> dict[str, datetime]:
    """The case dates a hazard timer may read: awareness (`received_at`) at `start`, each later date after it."""
    order = ["received_at", *sorted({t.counts_from for t in law.timescales.values()} - {"received_at"})]
    return {name: start + LATER_DATES_STEP * i for i, name in enumerate(order)}


def check_hazard(xml: bytes | str, forms: Mapping[str, Form] | None = None, *, landlord: object | None = None,
                 sweep_start: date | None = None, sweep_days: int = 400, law: HazardLaw | None = None
                 ) -> list[Finding]:
    """Every finding on a hazard diagram: the engine's problems and the regulations'."""
    law = law or hazard_law()
    reading = read_for_check(xml, dict(forms or {}))
    elements, findings = reading.elements, list(reading.engine_findings)
    if reading.diagram is None:
        return findings
    provision = law.citation
    calendar = calendar_for(getattr(landlord, "nation", law.nation))
    environment = RestrictedEnvironment(calendar.expression_functions())
    instants = sweep_instants(sweep_start, sweep_days)
    timers = [e for e in elements.values() if e.timer_expression is not None]
    kept = set()
    for timer in timers:
        timescale = law.timescales.get(timer.deadline_key or "")
        if timescale is None:
            findings.append(Finding(provision, ERROR, timer.id,
                                    f"deadline key {timer.deadline_key!r} is not a step of {law.short_name}: "
                                    f"use one of {', '.join(sorted(law.timescales))}"))
            continue
        kept.add(timescale.key)
        findings += _timer_findings(timer, timescale, law, environment, instants, provision)
    for key in sorted(set(law.timescales) - kept):
        findings.append(Finding(provision, ERROR, None, f"no timer keeps the step '{law.timescales[key].step}' "
                                                        f"({key}: within {law.timescales[key].in_words})"))
    on_element = {t.attached_to for t in timers if t.deadline_key in law.timescales}
    for element in elements.values():
        if element.tag != "userTask":
            continue
        named = [k for k in element.works_towards or () if k in law.timescales]
        if not named and not on_element & {element.id, *element.enclosing}:
            findings.append(Finding(provision, ERROR, element.id,
                                    f"the step '{element.name}' has no timer: every step of a hazard case runs "
                                    f"to one of {law.short_name}'s timescales"))
    return sort_findings(findings)


def _timer_findings(timer: Element, timescale, law: HazardLaw, environment: RestrictedEnvironment,
                    instants: list[datetime], provision: str) -> list[Finding]:
    calendar = calendar_for(law.nation)
    for instant in instants:
        context = hazard_context(law, instant)
        try:
            due = environment.evaluate(timer.timer_expression, context)
            if isinstance(due, str):
                due = datetime.fromisoformat(due)
            if not isinstance(due, datetime) or due.tzinfo is None:
                raise ValueError(f"gave {due!r}, not an instant with its offset")
        except Exception as error:
            return [Finding(ENGINE, ERROR, timer.id, f"the due time cannot be worked out for a case aware at "
                                                     f"{instant.isoformat()}: {error}")]
        allowed = timescale.due(context[timescale.counts_from], calendar)
        if due > allowed:
            return [Finding(provision, ERROR, timer.id,
                            f"'{timer.name}' falls due later than {law.short_name} allows for '{timescale.step}' "
                            f"(within {timescale.in_words}; {timescale.regulation}): for a case aware at "
                            f"{instant.isoformat()} it is due {due.isoformat()}, the regulations' limit is "
                            f"{allowed.isoformat()}")]
    return []

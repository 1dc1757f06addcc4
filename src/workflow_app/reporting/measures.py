"""The figures managers, the governing body and the regulator ask for, computed in SQL.

Every figure is an aggregate the database computes over indexed columns of `complaints`,
`deadlines`, `tasks`, `audit_events` and `report_responses`; Python only shapes the few
rows that come back (a histogram has a few dozen at most). Working days are counted in SQL
against `report_calendar`, the working-day rule of `calendar` written out as day numbers,
so the SQL and the engine's deadlines agree to the day. Each response is measured once,
by `refresh` (an INSERT ... SELECT run after each timer sweep), into `report_responses`,
and the answers the reports count are copied once from each completed form's audit event
into `report_forms` and `report_choices` (`copy_answers`, in the same refresh): a page
never opens the JSON of the audit log. The same refresh copies each complaint that changed
into `report_complaints` (`copy_complaints`: received, closed, answered at stage 1, gone to
stage 2), keeps each measured response's `escalated` in step, and fills in each new
deadline's landlord (`copy_deadline_landlords`), so a landlord-year is counted from indexes
without looking up each complaint's deadlines, responses or landlord.

What each measure counts, for a period of London dates (a reporting year runs from
1 April to 31 March):

- **CH01** (complaints per 1,000 homes, homes from the landlord's settings; until a landlord gives
  the number's source, `homes_source`, the figure says its homes are not confirmed). A *stage 1
  complaint* is one received in the period that reached stage 1 (its stage moved on from
  `pre`), or that was closed before stage 1 with an outcome other than `refused` or
  `withdrawn` (resolved at first contact: the Code has no informal stage, 5.2, so that is a
  stage 1 complaint too). A complaint still waiting for the decision to accept it is not
  counted yet. A *stage 2 complaint* is an escalation received in the period: the moment
  the diagram opened the task its `stage2_acknowledge` timer guards.
- **CH02** (responses within the Code's timescales), over the stage 1 and stage 2
  responses made in the period (a `stageN_response` deadline met in the period). The
  Code counts from the acknowledgement (6.3, 6.14): a response is within the Code's
  timescales when it was sent within 10 working days (stage 1) or 20 (stage 2) of the
  acknowledgement, or, **when the landlord extended the response deadline, within the
  Code's limit for an extension: 10 more (6.4), or 20 more (6.15)**, that is 20 and 40
  working days of the acknowledgement. So an extension within the Code's limit counts as
  within timescale when the response met it; the part of a longer extension beyond the
  Code's limit does not (Brighter Places' exceptional 20 days); and a response late against
  a landlord's own shorter timescale (Harrogate's 10 working days from receipt) but within
  the Code's still counts. A response with no acknowledgement recorded before it is outside.
  "Within N working days of X" is the brief's rule: by 23:59:59 London time on the N-th
  working day after day 0.
- **Acknowledgements on time**: `stageN_acknowledge` deadlines met in the period, on time
  when met by their (the landlord's) due time.
- **Working days to respond**: stage 1 from receipt, stage 2 from the escalation, to the
  response, for responses in the period; the mean and the 90th percentile (nearest rank).
  A response on the day counts 0; one on the N-th working day after day 0 counts N.
- **Resolved at stage 1**: of the complaints closed in the period that had a stage 1
  response, those that never went to stage 2. **Escalation rate**: of the stage 1
  responses in the period, those whose complaint has gone to stage 2 since.
- **Refusals**: complaints closed in the period as `refused` (not accepted) by the
  exclusion reasons recorded, and escalations refused (`review_refused`) by reason.
- **Remedies and compensation**: what the stage 1 and stage 2 response forms completed in
  the period offered (`remedies`, `compensation`); each offer counts at its own stage.
- **Satisfaction**: the satisfaction surveys recorded in the period.

Refusals, remedies, compensation and satisfaction read the copied answers, and the stage 1
resolution and the complaints gone to stage 2 by category the copied complaints, so they
count what `refresh` had copied when it last ran (after each sweep). Acknowledgements and
deadlines stay live: those whose landlord is not yet filled in are counted through their
complaints.
"""
from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    Date,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import ColumnElement

from workflow_app.casework.models import (
    AuditEvent,
    Complaint,
    Deadline,
    DefinitionVersion,
    ReportCalendarDay,
    ReportChoice,
    ReportComplaint,
    ReportForm,
    ReportResponse,
    Task,
)
from workflow_app.rules import clock
from workflow_app.rules.calendar import LONDON, calendar_for, london_date, london_midnight
from workflow_app.rules.landlords import Landlord
from workflow_app.rules.regime import DEFAULT as DEFAULT_REGIME
from workflow_app.rules.regime import Regime, regime_named
from workflow_app.rules.statuses import CaseKind, ComplaintStatus, DeadlineStatus, TaskStatus
from workflow_app.rules.vocabulary import (
    ACKNOWLEDGE_KEYS,
    DUTY_KEYS,
    HAZARD_KEYS,
    RESPONSE_KEYS,
    STAGE_NAMES,
    DeadlineKey,
    deadline_name,
    is_duty,
)

CALENDAR_FIRST_YEAR = 2000
"""Working days are numbered in `report_calendar` from this year (reports before it count nothing)."""

NOT_STAGE1_OUTCOMES = ("refused", "withdrawn")
REFUSAL_FIELDS = {"refused": "exclusion_reasons", "review_refused": "review_refusal_reasons"}
RESPONSE_ELEMENT_KEYS = ("remedies", "compensation")
SATISFIED = ("very_satisfied", "satisfied")
SATISFACTION_LEVELS = ("very_satisfied", "satisfied", "neutral", "dissatisfied", "very_dissatisfied")
OPEN = literal_column(f"'{DeadlineStatus.OPEN}'")
MISSED = literal_column(f"'{DeadlineStatus.MISSED}'")
REMEDIES = ("apology", "acknowledgement", "explanation", "action_on_delay", "reconsidered_decision",
            "amended_record", "financial_remedy", "changed_policy")


# --- periods ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """London dates `first` to `last`, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("a period cannot end before it starts")

    @classmethod
    def reporting_year(cls, year: int) -> Period:
        """The regulator's year starting 1 April `year` (2026 is 1 April 2026 to 31 March 2027)."""
        return cls(date(year, 4, 1), date(year + 1, 3, 31))

    @property
    def starts_at(self) -> datetime:
        return london_midnight(self.first)

    @property
    def ends_at(self) -> datetime:
        """The first instant after the period."""
        return london_midnight(self.last + timedelta(days=1))

    @property
    def label(self) -> str:
        if self == Period.reporting_year(self.first.year):
            return (f"{self.first.year}/{str(self.first.year + 1)[2:]}"
                    f" (1 April {self.first.year} to 31 March {self.first.year + 1})")
        return f"{self.first:%-d %B %Y} to {self.last:%-d %B %Y}"

    @property
    def is_reporting_year(self) -> bool:
        return self == Period.reporting_year(self.first.year)


def reporting_year_of(day: date) -> int:
    """The reporting year (by its first calendar year) a London date falls in."""
    return day.year if day.month >= 4 else day.year - 1


# --- the working-day calendar as a table --------------------------------------------------

def ensure_calendar(sessions, nations: Iterable[str]) -> None:
    """Write the working-day numbers for each nation once (a few tens of thousands of rows)."""
    for nation in sorted(set(nations)):
        with sessions() as session:
            present = session.scalar(select(func.count()).select_from(ReportCalendarDay)
                                     .where(ReportCalendarDay.nation == nation))
        if present:
            continue
        rows = list(_calendar_rows(nation))
        try:
            with sessions.begin() as session:
                for start in range(0, len(rows), 5000):
                    session.execute(insert(ReportCalendarDay), rows[start:start + 5000])
        except IntegrityError:
            pass  # another process wrote it at the same moment
        with sessions.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Without statistics the planner takes the new table for a tiny one and joins it row by row.
                session.execute(text("ANALYZE report_calendar"))


def _calendar_rows(nation: str) -> Iterable[dict[str, Any]]:
    """The calendar's day numbers (`WorkingCalendar.day_numbers`), with each day's number for an
    instant from 23:00 UTC on: in summer time that is already the next London date, so the SQL
    can find an instant's London date from its UTC date and hour alone."""
    numbers = list(calendar_for(nation).day_numbers(date(CALENDAR_FIRST_YEAR, 1, 1), date(2100, 12, 31)))
    for (day, day0), (_, next_day0) in itertools.pairwise(numbers):
        late_is_next_day = london_date(datetime.combine(day, time(23), tzinfo=UTC)) != day
        yield {"nation": nation, "day": day, "day0": day0, "day0_late": next_day0 if late_is_next_day else day0}


class _Days:
    """SQL for "the working-day number of an instant" on this database."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self.postgres = session.get_bind().dialect.name == "postgresql"
        nations = {landlord.slug: landlord.nation for landlord in scope.landlords}
        self.single = len(set(nations.values())) <= 1
        self.nation_of = nations
        self.only = next(iter(nations.values()), "ENG")

    def nation(self, landlord: ColumnElement) -> ColumnElement:
        if self.single:
            return literal(self.only)
        return case(self.nation_of, value=landlord, else_=literal("ENG"))

    def join(self, day, instant: ColumnElement, landlord: ColumnElement) -> ColumnElement:
        # SQLite keeps UTC as 'YYYY-MM-DD HH:MM:SS.ffffff'
        local = cast(func.timezone("Europe/London", instant), Date) if self.postgres else func.substr(instant, 1, 10)
        return and_(day.nation == self.nation(landlord), day.day == local)

    def number(self, day, instant: ColumnElement) -> ColumnElement:
        if self.postgres:
            return day.day0
        return case((func.substr(instant, 12, 2) == "23", day.day0_late), else_=day.day0)


# --- who is reported on -------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """The landlords a report covers (one, or several for an admin)."""

    landlords: tuple[Landlord, ...]

    @property
    def slugs(self) -> list[str]:
        return [landlord.slug for landlord in self.landlords]

    @property
    def regime(self) -> Regime | None:
        """The complaint-handling regime the landlords share (`Landlord.regime`; the default when there
        are none), or None when they work under different ones."""
        regimes = ({landlord.regime.key: landlord.regime for landlord in self.landlords}
                   or {DEFAULT_REGIME: regime_named(DEFAULT_REGIME)})
        return next(iter(regimes.values())) if len(regimes) == 1 else None

    @property
    def response_stages(self) -> tuple[str, ...]:
        """The stages whose responses the landlords' regimes time (the Code's: 1 and 2)."""
        regimes = [landlord.regime for landlord in self.landlords] or [regime_named(DEFAULT_REGIME)]
        return tuple(stage for stage in RESPONSE_KEYS if any(stage in r.response_stages for r in regimes))

    def code_limit(self, stage: str, extended: ColumnElement, landlord: ColumnElement) -> ColumnElement:
        """SQL for the working days a response of the stage may take under its landlord's regime: the
        regime's timescale, or with its most extension when the response deadline was extended."""
        shared = self.regime
        if shared is not None:
            base, extension = shared.response_timescale(stage)
            return case((extended.is_(True), base + extension), else_=base)
        default = regime_named(DEFAULT_REGIME).response_timescale(stage)
        timescales = {landlord.slug: landlord.regime.response_timescale(stage) for landlord in self.landlords}
        extended_days = case({slug: b + e for slug, (b, e) in timescales.items()}, value=landlord,
                             else_=sum(default))
        days = case({slug: b for slug, (b, _) in timescales.items()}, value=landlord, else_=default[0])
        return case((extended.is_(True), extended_days), else_=days)

    @property
    def homes(self) -> int:
        return sum(landlord.homes for landlord in self.landlords)

    @property
    def homes_not_confirmed(self) -> list[str]:
        """The landlords (by name) whose number of homes is still a stand-in: no `homes_source` yet."""
        return [landlord.display_name for landlord in self.landlords if not landlord.homes_confirmed]

    @property
    def name(self) -> str:
        return ", ".join(landlord.display_name for landlord in self.landlords) if len(self.landlords) < 4 \
            else f"{len(self.landlords)} landlords"


def stage2_entry_elements(session: Session, scope: Scope) -> list[str]:
    """The tasks that open stage 2 in the deployed diagrams: those a `stage2_acknowledge` timer guards."""
    from workflow_app.casework.engine import load_definition
    found: set[str] = set()
    for version in session.scalars(select(DefinitionVersion).where(DefinitionVersion.landlord.in_(scope.slugs))):
        for element in load_definition(version).elements.values():
            if element.deadline_key == DeadlineKey.STAGE2_ACKNOWLEDGE and element.attached_to:
                found.add(element.attached_to)
    return sorted(found)


def _share(part: int, whole: int) -> float | None:
    """A percentage to one decimal place, or None when there is nothing to divide."""
    if not whole:
        return None
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP))


def _per_thousand(count: int, homes: int) -> float | None:
    if not homes:
        return None
    return float((Decimal(count) * 1000 / Decimal(homes)).quantize(Decimal("0.01"), ROUND_HALF_UP))


# --- the dashboard ------------------------------------------------------------------------

NO_TASK = "No open task: waiting for the resident, a timer or an event"


def dashboard(session: Session, scope: Scope, now: datetime | None = None) -> dict[str, Any]:
    """Where running complaints stand now, for the live dashboard."""
    now = now or clock.now()
    slugs = scope.slugs
    nation = scope.landlords[0].nation if scope.landlords else "ENG"
    soon = calendar_for(nation).working_days_after(now, 2)

    # Running complaints, open tasks and open or missed deadlines are held by partial indexes, which the
    # database uses only when the query names the same literal status (a bound parameter would hide it).
    running_complaint = Complaint.running_clause()
    other_cases = running_other_cases(session, slugs)
    by_stage = session.execute(
        select(Complaint.landlord, Complaint.stage, func.count())
        .where(Complaint.landlord.in_(slugs), running_complaint, leaving_out(Complaint.id, other_cases))
        .group_by(Complaint.landlord, Complaint.stage)).all()

    open_task = Task.status == OPEN
    work = session.execute(
        select(Task.landlord, Task.element_id, Task.assignee, func.count())
        .where(open_task, Task.landlord.in_(slugs))
        .group_by(Task.landlord, Task.element_id, Task.assignee)).all()
    people = dict(session.execute(
        select(Task.assignee, func.count(distinct(Task.complaint_id)))
        .where(open_task, Task.landlord.in_(slugs)).group_by(Task.assignee)).all())
    with_work = dict(session.execute(
        select(Task.landlord, func.count(distinct(Task.complaint_id)))
        .where(open_task, Task.landlord.in_(slugs), leaving_out(Task.complaint_id, other_cases))
        .group_by(Task.landlord)).all())

    # Deadlines running by key (`Deadline.running_clauses`: open, or missed with the work not done), for
    # running complaints; overdue is `Deadline.overdue`, the one definition the inbox and the API share,
    # and only a duty is overdue or due soon (the hazard clocks are counted apart, `hazards`). An open
    # deadline is always a running complaint's: closing a complaint cancels its open deadlines in the same
    # transaction (`Casework._close`; `workflow-app verify` checks it), so those are read by landlord from a
    # partial index without looking up 100,000 complaints. A missed one is looked up through its complaint.
    open_deadline, missed_deadline = Deadline.running_clauses()
    counted = (select(Deadline.key, func.count(), func.count().filter(Deadline.due_at < now),
                      func.count().filter(Deadline.due_at >= now, Deadline.due_at <= soon),
                      func.count().filter(Deadline.extended.is_(True)))
               .where(Deadline.key.not_in(sorted(HAZARD_KEYS))).group_by(Deadline.key))
    running = and_(Complaint.id == Deadline.complaint_id, Complaint.landlord.in_(slugs), running_complaint)
    deadlines: dict[str, dict[str, int]] = {}
    counting = [(query, True) for query in _landlords_deadlines(counted.where(open_deadline), scope)]
    counting.append((counted.join(Complaint, running).where(missed_deadline), False))
    for query, soon_counts in counting:
        for key, count, overdue, due_soon, extended in session.execute(query):
            duty = is_duty(key)
            entry = deadlines.setdefault(key, {"open": 0, "overdue": 0, "due_soon": 0, "extended": 0})
            entry["open"] += count
            entry["overdue"] += overdue if duty else 0
            entry["due_soon"] += due_soon if duty and soon_counts else 0
            entry["extended"] += extended
    late_work = session.execute(   # open tasks past their due time (`Task.overdue_clause`), where they wait
        select(Task.landlord, Task.element_id, Task.assignee, func.count())
        .where(Task.overdue_clause(now), Task.landlord.in_(slugs))
        .group_by(Task.landlord, Task.element_id, Task.assignee)).all()
    deadlines = {k: v for k, v in deadlines.items() if any(v.values())}

    stages: dict[str, int] = {}
    landlords: dict[str, int] = {}
    for landlord, stage, count in by_stage:
        stages[stage] = stages.get(stage, 0) + count
        landlords[landlord] = landlords.get(landlord, 0) + count

    names = element_names(session, scope)
    several = len(slugs) > 1
    landlord_names = {landlord.slug: landlord.display_name for landlord in scope.landlords}
    elements: dict[tuple[str, str], dict[str, Any]] = {}
    caseload: dict[str | None, dict[str, Any]] = {}
    for landlord, element, assignee, count in work:
        name = names.get((landlord, element), element)
        entry = elements.setdefault((landlord, element), {
            "landlord": landlord, "element_id": element, "count": 0, "overdue": 0,
            "name": f"{landlord_names.get(landlord, landlord)}: {name}" if several else name})
        entry["count"] += count
        person = caseload.setdefault(assignee, {"assignee": assignee, "tasks": 0,
                                                "complaints": people.get(assignee, 0), "overdue": 0})
        person["tasks"] += count
    idle = []   # running complaints with no open task: in a window, or waiting for a timer or an event
    for landlord in slugs:
        count = landlords.get(landlord, 0) - with_work.get(landlord, 0)
        if count > 0:
            idle.append({"landlord": landlord, "element_id": None, "count": count, "overdue": 0,
                         "name": f"{landlord_names.get(landlord, landlord)}: {NO_TASK}" if several else NO_TASK})
    for landlord, element, assignee, count in late_work:
        if (landlord, element) in elements:
            elements[(landlord, element)]["overdue"] += count
        if assignee in caseload:
            caseload[assignee]["overdue"] += count

    return {
        "at": now.isoformat(),
        "due_soon_until": soon.isoformat(),
        "running": sum(stages.values()),
        "by_stage": [{"stage": s, "count": stages[s]} for s in ("pre", "1", "2", "post") if s in stages],
        "by_landlord": [{"landlord": slug, "count": landlords.get(slug, 0)} for slug in slugs],
        "waiting": sorted(elements.values(), key=lambda e: (-e["count"], e["name"])) + idle,
        "deadlines": [{"key": key, **deadlines[key]} for key in sorted(deadlines)],
        "overdue": sum(d["overdue"] for d in deadlines.values()),
        "due_soon": sum(d["due_soon"] for d in deadlines.values()),
        "extended": sum(d["extended"] for d in deadlines.values()),
        "caseload": sorted(caseload.values(), key=lambda p: (p["assignee"] is None, -p["tasks"], p["assignee"] or "")),
        "received": received_comparison(session, scope, now),
        "hazards": hazards(session, scope, now, soon, names,
                           sorted(case_id for case_id, kind in other_cases.items() if kind == CaseKind.HAZARD)),
    }


BEHIND_FIGURES = {"overdue": "Deadlines overdue", "due_soon": "Deadlines due within 2 working days",
                  "waiting": "Complaints waiting at a task", "waiting_overdue": "Overdue work waiting at a task"}
"""The dashboard's figures a manager can open: the rows each counts, one by one."""


def behind_figure(session: Session, scope: Scope, figure: str, key: str | None = None,
                  landlord: str | None = None, element: str | None = None,
                  now: datetime | None = None) -> list[dict[str, Any]]:
    """The rows a dashboard figure counts, each with its complaint's reference, by the same clauses as
    `dashboard`: so a figure and its list always agree. `overdue` and `due_soon` are running duties (of
    one deadline `key`, or all); `waiting` and `waiting_overdue` are open tasks at a diagram element."""
    now = now or clock.now()
    slugs = scope.slugs if landlord is None else [s for s in scope.slugs if s == landlord]
    if figure in ("overdue", "due_soon"):
        nation = scope.landlords[0].nation if scope.landlords else "ENG"
        soon = calendar_for(nation).working_days_after(now, 2)
        opened, missed = Deadline.running_clauses()
        when = (and_(or_(opened, missed), Deadline.due_at < now) if figure == "overdue"
                else and_(opened, Deadline.due_at >= now, Deadline.due_at <= soon))
        query = (select(Complaint.reference, Complaint.landlord, Deadline.key, Deadline.stage, Deadline.due_at,
                        Deadline.extended)
                 .join(Complaint, and_(Complaint.id == Deadline.complaint_id, Complaint.landlord.in_(slugs),
                                       Complaint.running_clause()))
                 .where(when, Deadline.key.in_(sorted(DUTY_KEYS - HAZARD_KEYS))))
        if key:
            query = query.where(Deadline.key == key)
        return [row._asdict() for row in session.execute(query.order_by(Deadline.due_at, Complaint.reference))]
    if figure in ("waiting", "waiting_overdue"):
        open_task = Task.overdue_clause(now) if figure == "waiting_overdue" else Task.status == OPEN
        query = (select(Complaint.reference, Task.landlord, Task.id.label("task_id"), Task.name, Task.assignee,
                        Task.stage, Task.due_at)
                 .join(Complaint, Complaint.id == Task.complaint_id)
                 .where(open_task, Task.landlord.in_(slugs)))
        if element:
            query = query.where(Task.element_id == element)
        return [row._asdict() for row in session.execute(query.order_by(Task.due_at, Complaint.reference))]
    raise ValueError(f"no dashboard figure {figure}")


def not_a_complaint() -> ColumnElement[bool]:
    """A case of another kind than a complaint (a hazard case): `ix_complaints_other_kinds`'s condition, named as a
    literal as a partial index needs, so the database reads the few such cases from that index."""
    return Complaint.kind != literal_column(f"'{CaseKind.COMPLAINT.value}'")


def running_other_cases(session: Session, slugs: Sequence[str]) -> dict[int, str]:
    """These landlords' running cases that are not complaints (hazard cases), id -> kind. They are few, and read
    from their own index with no other condition, so the dashboard can leave their work out of the complaints' by
    id. (Joined or anti-joined instead, SQLite looked up each of 100,000 complaints, or read every open task:
    0.1 to 0.3 s a statement at sector scale; with a condition on status or landlord it may pick another index.)"""
    cases = session.execute(select(Complaint.id, Complaint.kind, Complaint.landlord, Complaint.status)
                            .where(not_a_complaint()))
    return {case_id: kind for case_id, kind, landlord, status in cases
            if landlord in slugs and status == ComplaintStatus.OPEN}


def leaving_out(case_id: ColumnElement[int], cases: Iterable[int]) -> ColumnElement[bool]:
    """Rows of any case but these."""
    cases = sorted(cases)
    return case_id.not_in(cases) if cases else true()


def _complaints_only() -> ColumnElement[bool]:
    """Complaints under the Code, not the hazard cases run beside them (Awaab's Law), which every complaint
    figure leaves out."""
    return Complaint.kind == literal(CaseKind.COMPLAINT.value)


def hazards(session: Session, scope: Scope, now: datetime, soon: datetime,
            names: Mapping[tuple[str, str], str], running: Sequence[int]) -> dict[str, Any]:
    """The `running` hazard cases (Awaab's Law) by step, with their clocks overdue and due soon, for the dashboard:
    their work is looked up by case (`running_other_cases`)."""
    slugs = scope.slugs
    steps: Sequence[Any] = []
    clocks: Sequence[Any] = []
    if running:
        steps = session.execute(
            select(Task.landlord, Task.element_id, func.count(),
                   func.sum(case((Task.due_at < now, 1), else_=0)),
                   func.sum(case((and_(Task.due_at >= now, Task.due_at <= soon), 1), else_=0)))
            .where(Task.status == OPEN, Task.complaint_id.in_(running)).group_by(Task.landlord, Task.element_id)).all()
        clocks = session.execute(
            select(Deadline.key, func.count(), func.sum(case((Deadline.due_at < now, 1), else_=0)),
                   func.sum(case((and_(Deadline.due_at >= now, Deadline.due_at <= soon), 1), else_=0)))
            .where(Deadline.running_clause(), Deadline.complaint_id.in_(running)).group_by(Deadline.key)).all()
    several = len(slugs) > 1
    landlord_names = {landlord.slug: landlord.display_name for landlord in scope.landlords}
    by_step = [{"landlord": landlord, "element_id": element, "count": int(count), "overdue": int(overdue or 0),
                "due_soon": int(due_soon or 0),
                "name": (f"{landlord_names.get(landlord, landlord)}: " if several else "")
                + names.get((landlord, element), element)}
               for landlord, element, count, overdue, due_soon in steps]
    by_key = [{"key": key, "name": deadline_name(key), "running": int(count), "overdue": int(overdue or 0),
               "due_soon": int(due_soon or 0)} for key, count, overdue, due_soon in sorted(clocks)]
    return {"running": len(running), "by_step": sorted(by_step, key=lambda s: (-s["count"], s["name"])),
            "clocks": by_key, "overdue": sum(c["overdue"] for c in by_key),
            "due_soon": sum(c["due_soon"] for c in by_key)}


def element_names(session: Session, scope: Scope) -> dict[tuple[str, str], str]:
    """(landlord, element id) -> name in the newest deployed diagrams (older versions fill the gaps)."""
    from workflow_app.casework.engine import load_definition
    names: dict[tuple[str, str], str] = {}
    for version in session.scalars(select(DefinitionVersion).where(DefinitionVersion.landlord.in_(scope.slugs))
                                   .order_by(DefinitionVersion.id)):
        for element in load_definition(version).elements.values():
            names[(version.landlord, element.id)] = element.name
    return names


def received_comparison(session: Session, scope: Scope, now: datetime) -> list[dict[str, Any]]:
    """Complaints received this week and this month so far, against the same stretch a year before."""
    today = london_date(now)
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    year_ago = now - timedelta(days=364)       # the same weekday a year before
    rows = []
    for label, start, previous_start, previous_end in (
            ("This week", london_midnight(monday), london_midnight(monday) - timedelta(days=364), year_ago),
            ("This month", london_midnight(first), london_midnight(_year_before(first)),
             datetime.combine(_year_before(today), now.astimezone(LONDON).time(), tzinfo=LONDON)
             .astimezone(UTC))):
        current = received_between(session, scope, start, now)
        previous = received_between(session, scope, previous_start, previous_end)
        rows.append({"period": label, "this_year": current, "last_year": previous,
                     "change": current - previous})
    return rows


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def received_between(session: Session, scope: Scope, start: datetime, end: datetime) -> int:
    return session.scalar(select(func.count()).select_from(Complaint).where(
        Complaint.landlord.in_(scope.slugs), Complaint.received_at >= start, Complaint.received_at <= end,
        _complaints_only())) or 0


# --- measuring responses once ---------------------------------------------------------------

REFRESH_WINDOW = timedelta(days=92)
"""A first refresh over years of history measures them a quarter at a time, one transaction each."""
LATE_COMMIT = timedelta(days=1)
"""How far before the newest row already measured or copied a refresh looks again, for transactions
that committed after a later one."""


def refresh(sessions, landlords: Mapping[str, Landlord], everything: bool = False) -> int:
    """Bring the measured figures up to date: measure every response made since the last refresh and
    copy the answers the reports count from every form completed since; returns how many responses
    were measured.

    Runs after each timer sweep (`reporting.projections`), never inside a page view: a
    response is measured once, when its deadline is met, and a report then reads
    `report_responses` instead of joining deadlines, acknowledgements, escalations and the
    calendar for every row; a form's answers are copied once (`copy_answers`), and a report
    reads `report_forms` and `report_choices` instead of the JSON of every audit event. Responses
    met within a day before the newest one measured are looked at again, so a transaction that
    committed late is not missed; `everything` looks at all of them (after loading history
    written with older dates).
    """
    measured = _measure_responses(sessions, landlords, everything)
    copy_answers(sessions, landlords, everything)
    copy_complaints(sessions, landlords, everything)
    copy_deadline_landlords(sessions)
    return measured


def _measure_responses(sessions, landlords: Mapping[str, Landlord], everything: bool) -> int:
    ensure_calendar(sessions, {landlord.nation for landlord in landlords.values()} | {"ENG"})
    scope = Scope(tuple(landlords.values()))
    response_keys = [RESPONSE_KEYS[stage] for stage in scope.response_stages]
    with sessions() as session:
        newest = None
        for slug in ([] if everything else scope.slugs):   # one index lookup per landlord
            latest = session.scalar(select(func.max(ReportResponse.responded_at))
                                    .where(ReportResponse.landlord == slug))
            newest = latest if newest is None or (latest is not None and latest > newest) else newest
        if newest is not None:
            start = newest - LATE_COMMIT
        else:
            start = min((session.scalar(select(func.min(Deadline.met_at)).where(Deadline.key == key))
                         for key in response_keys), key=lambda v: (v is None, v))
        last = max((session.scalar(select(func.max(Deadline.met_at)).where(Deadline.key == key))
                    for key in response_keys), key=lambda v: (v is not None, v))
    if start is None or last is None:
        return 0
    added, postgres = 0, None
    while True:
        until = start + REFRESH_WINDOW
        with sessions.begin() as session:
            postgres = session.get_bind().dialect.name == "postgresql"
            for stage in scope.response_stages:
                source = _measured(session, scope, stage, start, until if until <= last else None)
                statement = _insert_ignoring_duplicates(session, ReportResponse.__table__, source)
                added += max(session.execute(statement).rowcount or 0, 0)
        if until > last:
            break
        start = until
    if added > 10_000 and postgres:
        with sessions.begin() as session:
            session.execute(text("ANALYZE report_responses"))
    return added


def _insert_ignoring_duplicates(session: Session, table, source):
    """INSERT ... SELECT that skips rows already there (a concurrent refresh may have written them)."""
    return (_dialect_insert(session, table).from_select([c.name for c in source.selected_columns], source)
            .on_conflict_do_nothing().execution_options(preserve_rowcount=True))


def _dialect_insert(session: Session, table):
    """The database's own INSERT, which can say what to do ON CONFLICT."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table)


def _measured(session: Session, scope: Scope, stage: str, since: datetime | None, until: datetime | None = None):
    """SELECT one row per response of the stage not yet measured, shaped as `report_responses`."""
    days = _Days(session, scope)
    response, ack, later_ack = aliased(Deadline), aliased(Deadline), aliased(Deadline)
    ack_key = ACKNOWLEDGE_KEYS[stage]
    acknowledged = and_(
        ack.complaint_id == response.complaint_id, ack.key == ack_key, ack.met_at <= response.met_at,
        ~exists().where(later_ack.complaint_id == response.complaint_id, later_ack.key == ack_key,
                        later_ack.met_at > ack.met_at, later_ack.met_at <= response.met_at))
    query = select().select_from(response).join(Complaint, Complaint.id == response.complaint_id) \
        .outerjoin(ack, acknowledged)
    if stage == "1":
        started_at = Complaint.received_at
    else:
        entry, later_entry = aliased(Task), aliased(Task)
        entries = stage2_entry_elements(session, scope) or ["-"]
        query = query.outerjoin(entry, and_(
            entry.complaint_id == response.complaint_id, entry.element_id.in_(entries),
            entry.created_at <= response.met_at,
            ~exists().where(later_entry.complaint_id == response.complaint_id, later_entry.element_id.in_(entries),
                            later_entry.created_at > entry.created_at, later_entry.created_at <= response.met_at)))
        started_at = entry.created_at
    on_ack, on_answer, on_start = aliased(ReportCalendarDay), aliased(ReportCalendarDay), aliased(ReportCalendarDay)
    answered = days.number(on_answer, response.met_at)
    from_ack = answered - days.number(on_ack, ack.met_at)
    from_start = answered - days.number(on_start, started_at)
    limit = scope.code_limit(stage, response.extended, Complaint.landlord)
    query = (query
             .outerjoin(on_answer, days.join(on_answer, response.met_at, Complaint.landlord))
             .outerjoin(on_ack, days.join(on_ack, ack.met_at, Complaint.landlord))
             .outerjoin(on_start, days.join(on_start, started_at, Complaint.landlord))
             .add_columns(
                 response.id.label("deadline_id"), response.complaint_id.label("complaint_id"),
                 Complaint.landlord.label("landlord"), literal(stage).label("stage"),
                 response.met_at.label("responded_at"), ack.met_at.label("acknowledged_at"),
                 started_at.label("started_at"), response.extended.label("extended"),
                 (response.met_at <= response.due_at).label("met_own_deadline"),
                 from_ack.label("days_from_acknowledgement"), from_start.label("days_from_start"),
                 case((and_(ack.met_at.is_not(None), on_answer.day0.is_not(None), from_ack <= limit), True),
                      else_=False).label("within_code"),
                 _has_escalated(response.complaint_id).label("escalated"))
             .where(response.key == RESPONSE_KEYS[stage], response.met_at.is_not(None),
                    ~exists().where(ReportResponse.deadline_id == response.id)))
    if since is not None:
        query = query.where(response.met_at >= since)
    if until is not None:
        query = query.where(response.met_at < until)
    return query


# --- copying the answers reports count, once per completed form ------------------------------

CHOICE_FIELDS = ("remedies", *REFUSAL_FIELDS.values())
"""The multiple-choice answers the reports count: one `report_choices` row per option ticked."""
ANSWERS_CHUNK = 200_000
"""A first copy over years of history reads this many audit event ids per transaction."""


def copy_answers(sessions, landlords: Iterable[str], everything: bool = False) -> int:
    """Copy the answers the reports count from each form completed since the last copy, in SQL;
    returns how many forms had any.

    A completed form is its `task_completed` audit event, which never changes, so each is read
    once: those after the newest event already copied, whatever time they carry (history loaded
    later is copied too), and, for each landlord, those of the day before its newest copied form,
    so an event whose transaction committed after a later one is not missed. An event already
    copied is skipped, so nothing is counted twice, even when two refreshes run at once.
    """
    with sessions() as session:
        copied = None if everything else session.scalar(select(func.max(ReportForm.event_id)))
        last = session.scalar(select(func.max(AuditEvent.id)))
        newest = {} if copied is None else {
            slug: session.scalar(select(func.max(ReportForm.completed_at)).where(ReportForm.landlord == slug))
            for slug in sorted(landlords)}
    if last is None:
        return 0
    added, postgres, start = 0, False, copied or 0
    while start < last:
        until = min(start + ANSWERS_CHUNK, last)
        with sessions.begin() as session:
            postgres = session.get_bind().dialect.name == "postgresql"
            added += _copy_forms(session, and_(AuditEvent.id > start, AuditEvent.id <= until))
        start = until
    recent = [and_(AuditEvent.landlord == slug, AuditEvent.at >= latest - LATE_COMMIT)
              for slug, latest in newest.items() if latest is not None]
    if recent:
        with sessions.begin() as session:
            added += _copy_forms(session, or_(*recent))
    if added > 10_000 and postgres:
        with sessions.begin() as session:
            session.execute(text("ANALYZE report_forms"))
            session.execute(text("ANALYZE report_choices"))
    return added


def _copy_forms(session: Session, events: ColumnElement) -> int:
    """Copy the answers of the completed forms among `events` not copied yet: the options ticked
    first, then the form's row, which marks it as copied (a form with answers only of the first
    kind has a row too)."""
    unread = and_(events, AuditEvent.type == "task_completed",
                  ~exists().where(ReportForm.event_id == AuditEvent.id))
    stage = _json_text(AuditEvent.details, "stage")
    for key in CHOICE_FIELDS:
        options, position = _json_options(session, AuditEvent.details, "data", key)
        source = (select(AuditEvent.id.label("event_id"), literal(key).label("field"),
                         position.label("position"), options.c.value.label("value"),
                         AuditEvent.complaint_id.label("complaint_id"), AuditEvent.landlord.label("landlord"),
                         AuditEvent.at.label("completed_at"), stage.label("stage"))
                  .select_from(AuditEvent).join(options, true()).where(unread))
        session.execute(_insert_ignoring_duplicates(session, ReportChoice.__table__, source))
    compensation = _json_number(AuditEvent.details, "data", "compensation")
    status = _json_text(AuditEvent.details, "data", "survey_status")
    answer = _json_text(AuditEvent.details, "data", "satisfaction")
    form = select(AuditEvent.id.label("event_id"), AuditEvent.complaint_id.label("complaint_id"),
                  AuditEvent.landlord.label("landlord"), AuditEvent.at.label("completed_at"),
                  stage.label("stage"), compensation.label("compensation"), status.label("survey_status"),
                  answer.label("satisfaction"))
    # Two statements, not one with an OR: "has options ticked" on its own is a semi-join the planner answers
    # from the choices' primary key; under an OR it is a subquery per event, which PostgreSQL runs as a scan
    # of every choice for every event once the choices outgrow its hash memory (a first copy of a large
    # history stalled there). The second statement sees the rows the first wrote, so no form is copied twice.
    copied = 0
    for which in (exists().where(ReportChoice.event_id == AuditEvent.id),
                  or_(compensation.is_not(None), status.is_not(None))):
        result = session.execute(_insert_ignoring_duplicates(session, ReportForm.__table__, form.where(unread, which)))
        copied += max(result.rowcount or 0, 0)
    return copied


# --- copying the complaints, again whenever they change ---------------------------------------

COMPLAINT_EVENTS = ("complaint_logged", "closed", "reopened", "deadline_set", "deadline_met")
"""The audit events that can change what `report_complaints` holds of a complaint: logged, closed,
reopened (a stage 2 request after closing), gone to stage 2 (its `stage2_acknowledge` deadline set),
answered at stage 1 (its response deadline met)."""
COMPLAINTS_CHUNK = 50_000
"""A first copy reads this many complaint ids per transaction."""
CHANGED_CHUNK = 500


def copy_complaints(sessions, landlords: Iterable[str], everything: bool = False) -> int:
    """Copy into `report_complaints` every complaint that changed since the last copy (all of them the
    first time), and bring its measured responses' `escalated` into step; returns how many were copied.

    A complaint changed when it has an audit event of `COMPLAINT_EVENTS` after the newest event id the
    last copy had seen; for each landlord, the complaints with such an event in the day before its newest
    are copied again too, so a transaction that committed after a later one is not missed (as
    `copy_answers` does). A complaint copied again replaces its row, so nothing is counted twice.
    Runs after `_measure_responses`, whose rows say whether a complaint had a stage 1 response.
    """
    changed: set[int] = set()
    with sessions() as session:
        copied = None if everything else session.scalar(select(func.max(ReportComplaint.event_id)))
        last = session.scalar(select(func.max(AuditEvent.id))) or 0
        # The first copy (or after upgrading, or `everything`) takes every complaint, a range of ids at a time.
        top = (session.scalar(select(func.max(Complaint.id))) or 0) if copied is None else None
        if copied is not None:
            changed.update(session.scalars(
                select(AuditEvent.complaint_id).where(AuditEvent.id > copied, AuditEvent.id <= last,
                                                      AuditEvent.type.in_(COMPLAINT_EVENTS),
                                                      AuditEvent.complaint_id.is_not(None)).distinct()))
        for slug in ([] if copied is None else sorted(landlords)):
            newest = max((session.scalar(select(func.max(AuditEvent.at)).where(
                AuditEvent.landlord == slug, AuditEvent.type == kind)) for kind in COMPLAINT_EVENTS),
                key=lambda v: (v is not None, v))
            if newest is not None:
                changed.update(session.scalars(
                    select(AuditEvent.complaint_id).where(
                        AuditEvent.landlord == slug, AuditEvent.type.in_(COMPLAINT_EVENTS),
                        AuditEvent.at >= newest - LATE_COMMIT, AuditEvent.complaint_id.is_not(None)).distinct()))
    added, postgres = 0, False
    if top is not None:
        for start in range(0, top, COMPLAINTS_CHUNK):
            with sessions.begin() as session:
                postgres = session.get_bind().dialect.name == "postgresql"
                added += _copy_complaints(session, lambda column, a=start: and_(
                    column > a, column <= a + COMPLAINTS_CHUNK), last)
    ids = sorted(changed)
    for start in range(0, len(ids), CHANGED_CHUNK):
        chunk = ids[start:start + CHANGED_CHUNK]
        with sessions.begin() as session:
            added += _copy_complaints(session, lambda column, chunk=chunk: column.in_(chunk), last)
    if added > 10_000 and postgres:
        with sessions.begin() as session:
            session.execute(text("ANALYZE report_complaints"))
            session.execute(text("ANALYZE report_responses"))
    return added


def _has_escalated(complaint_id: ColumnElement) -> ColumnElement:
    """Whether the complaint has gone to stage 2: a `stage2_acknowledge` deadline was set (whatever became of it)."""
    return exists().where(Deadline.complaint_id == complaint_id, Deadline.key == DeadlineKey.STAGE2_ACKNOWLEDGE)


def _copy_complaints(session: Session, which, last: int) -> int:
    """(Re)copy the complaints whose id `which(column)` selects, and their responses' `escalated`."""
    answered = exists().where(ReportResponse.complaint_id == Complaint.id, ReportResponse.stage == "1")
    source = select(Complaint.id.label("complaint_id"), Complaint.landlord.label("landlord"),
                    Complaint.received_at.label("received_at"), Complaint.category.label("category"),
                    Complaint.status.label("status"), Complaint.closed_at.label("closed_at"),
                    _has_escalated(Complaint.id).label("escalated"), answered.label("stage1_answered"),
                    literal(last).label("event_id")).where(which(Complaint.id), _complaints_only())
    statement = _dialect_insert(session, ReportComplaint.__table__).from_select(
        [c.name for c in source.selected_columns], source)
    statement = statement.on_conflict_do_update(
        index_elements=["complaint_id"],
        set_={name: statement.excluded[name] for name in ("status", "closed_at", "escalated", "stage1_answered",
                                                          "event_id")})
    copied = session.execute(statement.execution_options(preserve_rowcount=True)).rowcount or 0
    escalated = _has_escalated(ReportResponse.complaint_id)
    session.execute(ReportResponse.__table__.update()
                    .where(which(ReportResponse.complaint_id),
                           or_(ReportResponse.escalated.is_(None), ReportResponse.escalated != escalated))
                    .values(escalated=escalated))
    return max(copied, 0)


def copy_deadline_landlords(sessions) -> int:
    """Copy each new deadline's landlord from its complaint (`Deadline.landlord`); returns how many.

    The engine sets it on every deadline it arms; deadlines set before it did are empty until this copy,
    and the reports count those through their complaints, so a figure does not wait for it."""
    with sessions() as session:
        unknown = Deadline.landlord.is_(None)
        first, top = session.execute(select(func.min(Deadline.id), func.max(Deadline.id)).where(unknown)).one()
    if first is None:
        return 0
    landlord = select(Complaint.landlord).where(Complaint.id == Deadline.complaint_id).scalar_subquery()
    copied = 0
    for start in range(first - 1, top, COMPLAINTS_CHUNK * 4):
        with sessions.begin() as session:
            copied += max(session.execute(
                Deadline.__table__.update().where(unknown, Deadline.id > start,
                                                  Deadline.id <= start + COMPLAINTS_CHUNK * 4)
                .values(landlord=landlord).execution_options(preserve_rowcount=True)).rowcount or 0, 0)
    if copied > 10_000:
        with sessions.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("ANALYZE deadlines"))
    return copied


def _json_options(session: Session, column: ColumnElement, *path: str):
    """The options of a JSON list at `path` inside `column`: a table with a column `value`, to join,
    and each option's position in the list (from 0).

    On SQLite a lone value counts as a list of one (as `json_each` reads it); PostgreSQL reads
    only lists."""
    if session.get_bind().dialect.name == "postgresql":
        answer = column[path]
        listed = case((func.json_typeof(answer) == "array", answer))
        options = (func.json_array_elements_text(listed).table_valued("value", with_ordinality="ordinal")
                   .render_derived())
        return options, options.c.ordinal - 1
    options = func.json_each(column, "$." + ".".join(path)).table_valued("key", "value")
    return options, func.coalesce(options.c.key, 0)


def _measured_in(scope: Scope, period: Period) -> ColumnElement:
    return and_(ReportResponse.landlord.in_(scope.slugs), ReportResponse.responded_at >= period.starts_at,
                ReportResponse.responded_at < period.ends_at)


# --- the regulator's measures --------------------------------------------------------------

def _reached_stage1() -> ColumnElement:
    """A complaint's stage only moves on from "pre" at stage 1; one closed at "pre" other than by
    a refusal or a withdrawal was resolved at first contact, which the Code counts as stage 1."""
    return or_(Complaint.stage != "pre",
               and_(Complaint.status == ComplaintStatus.CLOSED, Complaint.outcome.not_in(NOT_STAGE1_OUTCOMES)))


def ch01(session: Session, scope: Scope, period: Period) -> dict[str, Any]:
    """Stage 1 and stage 2 complaints received in the period, and per 1,000 homes, with whether the number
    of homes is every landlord's own (`homes_confirmed`) and, if not, whose is a stand-in."""
    stage1 = session.scalar(select(func.count()).select_from(Complaint).where(
        Complaint.landlord.in_(scope.slugs), Complaint.received_at >= period.starts_at,
        Complaint.received_at < period.ends_at, _reached_stage1(), _complaints_only())) or 0
    stage2 = stage2_received(session, scope, period)
    homes = scope.homes
    stand_ins = scope.homes_not_confirmed
    return {"homes": homes, "stage1": stage1, "stage2": stage2,
            "stage1_per_1000": _per_thousand(stage1, homes), "stage2_per_1000": _per_thousand(stage2, homes),
            "homes_confirmed": not stand_ins, "homes_not_confirmed": stand_ins}


def homes_warning(ch01_figures: Mapping[str, Any]) -> str | None:
    """What every page and export showing CH01 says while a landlord's number of homes is a stand-in."""
    stand_ins = ch01_figures.get("homes_not_confirmed") or []
    if not stand_ins:
        return None
    return (f"The number of homes is not confirmed: {', '.join(stand_ins)} "
            f"{'has' if len(stand_ins) == 1 else 'have'} not yet given {'its' if len(stand_ins) == 1 else 'their'} "
            f"real number, so {ch01_figures['homes']:,} homes is a stand-in and the figures per 1,000 homes are not "
            "fit to publish. The landlord sets its number of homes and where it comes from (homes_source) in its "
            "landlord.toml.")


def stage2_received(session: Session, scope: Scope, period: Period) -> int:
    entries = stage2_entry_elements(session, scope)
    if not entries:
        return 0
    return session.scalar(select(func.count(distinct(Task.complaint_id))).where(
        Task.landlord.in_(scope.slugs), Task.element_id.in_(entries),
        Task.created_at >= period.starts_at, Task.created_at < period.ends_at)) or 0


def ch02(session: Session, scope: Scope, period: Period) -> dict[str, Any]:
    """Stage 1 and stage 2 responses in the period within the Code's timescales (see the module's notes).

    Reads the responses `refresh` measured: call it first."""
    rows = {stage: row for stage, *row in session.execute(
        select(ReportResponse.stage, func.count(),
               func.sum(case((ReportResponse.within_code.is_(True), 1), else_=0)),
               func.sum(case((ReportResponse.extended.is_(True), 1), else_=0)),
               func.sum(case((and_(ReportResponse.within_code.is_(True), ReportResponse.extended.is_(True)), 1),
                             else_=0)),
               func.sum(case((ReportResponse.met_own_deadline.is_(True), 1), else_=0)))
        .where(_measured_in(scope, period)).group_by(ReportResponse.stage))}
    result: dict[str, Any] = {}
    regime = scope.regime
    for stage in scope.response_stages:
        base, extension = regime.response_timescale(stage) if regime else (None, None)
        responded, inside, extended, inside_extended, own = (int(v or 0) for v in rows.get(stage, [0] * 5))
        result[f"stage{stage}"] = {
            "responded": responded, "within": inside, "share": _share(inside, responded),
            "extended": extended, "within_after_extension": inside_extended,
            "outside": responded - inside, "met_own_deadline": own,
            "code_days": base, "code_days_extended": base + extension if regime else None,
        }
    return result


def acknowledgements(session: Session, scope: Scope, period: Period) -> dict[str, Any]:
    """Acknowledgements made in the period, and how many by their due time."""
    result = {}
    for stage in ("1", "2"):
        made, on_time = 0, 0
        for query in _landlords_deadlines(
                select(func.count(), func.sum(case((Deadline.met_at <= Deadline.due_at, 1), else_=0)))
                .where(Deadline.key == ACKNOWLEDGE_KEYS[stage], Deadline.met_at >= period.starts_at,
                       Deadline.met_at < period.ends_at), scope):
            row = session.execute(query).one()
            made, on_time = made + int(row[0] or 0), on_time + int(row[1] or 0)
        result[f"stage{stage}"] = {"acknowledged": made, "on_time": on_time, "late": made - on_time,
                                   "share": _share(on_time, made)}
    return result


def response_times(session: Session, scope: Scope, period: Period) -> dict[str, Any]:
    """Working days from receipt (stage 1) or escalation (stage 2) to the response: mean and 90th percentile."""
    rows = session.execute(
        select(ReportResponse.stage, ReportResponse.days_from_start, func.count())
        .where(_measured_in(scope, period), ReportResponse.days_from_start.is_not(None))
        .group_by(ReportResponse.stage, ReportResponse.days_from_start)
        .order_by(ReportResponse.stage, ReportResponse.days_from_start)).all()
    return {f"stage{stage}": summarise([(int(d), int(n)) for s, d, n in rows if s == stage]) for stage in ("1", "2")}


def summarise(histogram: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """Count, mean (one decimal) and 90th percentile (nearest rank) of a histogram of working days."""
    count = sum(n for _, n in histogram)
    if not count:
        return {"count": 0, "mean": None, "p90": None, "histogram": []}
    total = sum(d * n for d, n in histogram)
    rank = -(-count * 9 // 10)  # ceil(0.9 * count)
    seen, p90 = 0, None
    for d, n in histogram:
        seen += n
        if seen >= rank:
            p90 = d
            break
    mean = float((Decimal(total) / Decimal(count)).quantize(Decimal("0.1"), ROUND_HALF_UP))
    return {"count": count, "mean": mean, "p90": p90,
            "histogram": [{"working_days": d, "count": n} for d, n in histogram]}


def resolution(session: Session, scope: Scope, period: Period) -> dict[str, Any]:
    """Share resolved at stage 1 (of complaints closed in the period) and the escalation rate.

    Reads the complaints and responses `refresh` copied and measured, with whether each went to stage 2."""
    row = session.execute(
        select(func.count(), func.sum(case((ReportComplaint.escalated.is_(False), 1), else_=0)))
        .where(ReportComplaint.landlord.in_(scope.slugs), ReportComplaint.status == ComplaintStatus.CLOSED,
               ReportComplaint.closed_at >= period.starts_at, ReportComplaint.closed_at < period.ends_at,
               ReportComplaint.stage1_answered.is_(True))).one()
    closed, at_stage1 = int(row[0] or 0), int(row[1] or 0)
    row = session.execute(
        select(func.count(distinct(ReportResponse.complaint_id)),
               func.count(distinct(case((ReportResponse.escalated.is_(True), ReportResponse.complaint_id)))))
        .where(_measured_in(scope, period), ReportResponse.stage == "1")).one()
    answered, escalated = int(row[0] or 0), int(row[1] or 0)
    return {"closed_after_stage1": closed, "resolved_at_stage1": at_stage1,
            "resolved_share": _share(at_stage1, closed),
            "stage1_responses": answered, "escalated": escalated, "escalation_rate": _share(escalated, answered)}


def _json_text(column: ColumnElement, *path: str) -> ColumnElement:
    return column[path].as_string() if len(path) > 1 else column[path[0]].as_string()


def _json_number(column: ColumnElement, *path: str) -> ColumnElement:
    return column[path].as_float()


def refusals(session: Session, scope: Scope, period: Period) -> list[dict[str, Any]]:
    """Complaints not accepted, and escalations refused, closed in the period, by the reasons recorded
    on any of their forms (as `copy_answers` copied them)."""
    found = []
    for outcome, key in REFUSAL_FIELDS.items():
        closed = and_(Complaint.landlord.in_(scope.slugs), Complaint.outcome == outcome,
                      Complaint.closed_at >= period.starts_at, Complaint.closed_at < period.ends_at)
        complaints = func.count(distinct(Complaint.id))
        rows = session.execute(
            select(ReportChoice.value, complaints).select_from(Complaint)
            .join(ReportChoice, and_(ReportChoice.complaint_id == Complaint.id, ReportChoice.field == key))
            .where(closed).group_by(ReportChoice.value).order_by(complaints.desc(), ReportChoice.value)).all()
        total = session.scalar(select(func.count()).select_from(Complaint).where(closed)) or 0
        found.append({"outcome": outcome, "field": key, "total": total,
                      "reasons": [{"reason": str(value), "count": count} for value, count in rows]})
    return found


def categories(session: Session, scope: Scope, period: Period) -> list[dict[str, Any]]:
    """Complaints received in the period by category: all, reaching stage 1, escalated, not accepted.

    Those that went to stage 2 are counted from the complaints `refresh` copied, the rest from the
    complaints themselves (as CH01 counts them)."""
    rows = session.execute(
        select(Complaint.category, func.count(),
               func.sum(case((_reached_stage1(), 1), else_=0)),
               func.sum(case((Complaint.outcome == "refused", 1), else_=0)))
        .where(Complaint.landlord.in_(scope.slugs), Complaint.received_at >= period.starts_at,
               Complaint.received_at < period.ends_at, _complaints_only())
        .group_by(Complaint.category).order_by(func.count().desc(), Complaint.category)).all()
    escalated = dict(session.execute(
        select(ReportComplaint.category, func.count())
        .where(ReportComplaint.landlord.in_(scope.slugs), ReportComplaint.received_at >= period.starts_at,
               ReportComplaint.received_at < period.ends_at, ReportComplaint.escalated.is_(True))
        .group_by(ReportComplaint.category)).all())
    return [{"category": c, "received": int(n), "stage1": int(s1 or 0), "stage2": int(escalated.get(c, 0)),
             "refused": int(r or 0)} for c, n, s1, r in rows]


def _completed_in(answers, scope: Scope, period: Period) -> ColumnElement:
    """Answers (`ReportForm` or `ReportChoice`) from forms completed in the period."""
    return and_(answers.landlord.in_(scope.slugs), answers.completed_at >= period.starts_at,
                answers.completed_at < period.ends_at)


def remedies(session: Session, scope: Scope, period: Period) -> dict[str, Any]:
    """Remedies offered and compensation, by stage, in the responses given in the period."""
    totals = {s: {"compensation": 0.0, "with_compensation": 0, "remedies": {}} for s in ("1", "2")}
    amount = ReportForm.compensation
    for s, total, with_money in session.execute(
            select(ReportForm.stage, func.sum(amount), func.sum(case((amount > 0, 1), else_=0)))
            .where(_completed_in(ReportForm, scope, period), ReportForm.stage.in_(["1", "2"]), amount.is_not(None))
            .group_by(ReportForm.stage)).all():
        totals[s]["compensation"] = round(float(total or 0), 2)
        totals[s]["with_compensation"] = int(with_money or 0)
    for s, remedy, count in session.execute(
            select(ReportChoice.stage, ReportChoice.value, func.count())
            .where(_completed_in(ReportChoice, scope, period), ReportChoice.field == "remedies",
                   ReportChoice.stage.in_(["1", "2"]))
            .group_by(ReportChoice.stage, ReportChoice.value)).all():
        totals[s]["remedies"][str(remedy)] = int(count)
    # Both stages list the same remedies in the same order (the Code's, then any other either stage recorded).
    recorded = set(totals["1"]["remedies"]) | set(totals["2"]["remedies"])
    every = (*REMEDIES, *sorted(recorded - set(REMEDIES)))
    for s in totals:
        totals[s]["remedies"] = [{"remedy": r, "count": totals[s]["remedies"].get(r, 0)} for r in every]
    return {"stage1": totals["1"], "stage2": totals["2"],
            "compensation_total": round(totals["1"]["compensation"] + totals["2"]["compensation"], 2)}


def satisfaction(session: Session, scope: Scope, period: Period) -> dict[str, Any]:
    """Satisfaction surveys recorded in the period: replies by answer, and the share satisfied."""
    rows = session.execute(
        select(ReportForm.survey_status, ReportForm.satisfaction, func.count())
        .where(_completed_in(ReportForm, scope, period), ReportForm.survey_status.is_not(None))
        .group_by(ReportForm.survey_status, ReportForm.satisfaction)).all()
    by_status: dict[str, int] = {}
    by_answer: dict[str, int] = {}
    for s, a, n in rows:
        by_status[s] = by_status.get(s, 0) + n
        if s == "completed" and a:
            by_answer[a] = by_answer.get(a, 0) + n
    completed = by_status.get("completed", 0)
    satisfied = sum(by_answer.get(level, 0) for level in SATISFIED)
    return {"surveys": sum(by_status.values()), "completed": completed,
            "no_reply": by_status.get("no_reply", 0), "declined": by_status.get("declined", 0),
            "answers": [{"answer": level, "count": by_answer.get(level, 0)} for level in SATISFACTION_LEVELS],
            "satisfied": satisfied, "satisfied_share": _share(satisfied, completed)}


def deadline_performance(session: Session, scope: Scope, period: Period,
                         keys: Iterable[str] = DUTY_KEYS - HAZARD_KEYS) -> list[dict[str, Any]]:
    """Each duty deadline that fell due in the period: met on time, met late, still outstanding. The complaints'
    duties by default; `HAZARD_KEYS` gives the share of each hazard step (Awaab's Law) met in time."""
    counts: dict[str, list[int]] = {}
    for query in _landlords_deadlines(
            select(Deadline.key, func.count(),
                   func.sum(case((and_(Deadline.met_at.is_not(None), Deadline.met_at <= Deadline.due_at), 1),
                                 else_=0)),
                   func.sum(case((Deadline.met_at > Deadline.due_at, 1), else_=0)),
                   func.sum(case((and_(Deadline.met_at.is_(None), Deadline.status == DeadlineStatus.MISSED), 1),
                                 else_=0)),
                   func.sum(case((Deadline.extended.is_(True), 1), else_=0)))
            .where(Deadline.key.in_(sorted(keys)), Deadline.due_at >= period.starts_at,
                   Deadline.due_at < period.ends_at, Deadline.status != DeadlineStatus.CANCELLED)
            .group_by(Deadline.key), scope):
        for key, *figures in session.execute(query):
            counts[key] = [a + int(b or 0) for a, b in zip(counts.get(key, [0] * 5), figures, strict=True)]
    return [{"key": key, "due": n, "on_time": ok, "late": late, "outstanding": out, "extended": ext,
             "share": _share(ok, n)} for key, (n, ok, late, out, ext) in sorted(counts.items())]


def _landlords_deadlines(query, scope: Scope) -> tuple[Any, Any]:
    """`query` over deadlines, twice: the scope's deadlines whose landlord `refresh` has copied (from an
    index, no complaint looked up), and those it has not yet, through their complaints. Add the two."""
    return (query.where(Deadline.landlord.in_(scope.slugs)),
            query.join(Complaint, Complaint.id == Deadline.complaint_id)
            .where(Deadline.landlord.is_(None), Complaint.landlord.in_(scope.slugs)))


def performance(session: Session, scope: Scope, period: Period) -> dict[str, Any]:
    """Every figure for a period: what the performance page, the CSVs and the annual report show."""
    return {
        "scope": scope.slugs, "period": {"first": period.first.isoformat(), "last": period.last.isoformat(),
                                         "label": period.label},
        "ch01": ch01(session, scope, period),
        "ch02": ch02(session, scope, period),
        "acknowledgements": acknowledgements(session, scope, period),
        "response_times": response_times(session, scope, period),
        "resolution": resolution(session, scope, period),
        "refusals": refusals(session, scope, period),
        "categories": categories(session, scope, period),
        "remedies": remedies(session, scope, period),
        "satisfaction": satisfaction(session, scope, period),
        "deadlines": deadline_performance(session, scope, period),
        "hazard_steps": deadline_performance(session, scope, period, HAZARD_KEYS),
    }


# --- the diagram heatmap ----------------------------------------------------------------------

def diagram_activity(session: Session, scope: Scope, period: Period, user_tasks: Sequence[str]) -> dict[str, Any]:
    """Per diagram element: running complaints waiting there now, and in the period how often it was
    reached (tasks opened, timers fired, letters issued, ends by outcome) and each timer's deadlines missed."""
    slugs = scope.slugs
    running = and_(Complaint.id == Deadline.complaint_id, Complaint.landlord.in_(slugs), Complaint.running_clause())
    waiting: dict[str, int] = {}
    for element, count in session.execute(
            select(Task.element_id, func.count()).where(Task.status == TaskStatus.OPEN, Task.landlord.in_(slugs))
            .group_by(Task.element_id)):
        waiting[element] = waiting.get(element, 0) + count
    for element, count in session.execute(   # a timer the flow waits at (not one on a task): a window
            select(Deadline.element_id, func.count()).join(Complaint, running)
            .where(Deadline.status == DeadlineStatus.OPEN, Deadline.guards.is_(None)).group_by(Deadline.element_id)):
        waiting[element] = waiting.get(element, 0) + count
    in_period = and_(AuditEvent.landlord.in_(slugs), AuditEvent.at >= period.starts_at,
                     AuditEvent.at < period.ends_at)
    reached: dict[str, int] = {}
    if user_tasks:
        for element, count in session.execute(
                select(Task.element_id, func.count()).where(
                    Task.landlord.in_(slugs), Task.element_id.in_(list(user_tasks)),
                    Task.created_at >= period.starts_at, Task.created_at < period.ends_at)
                .group_by(Task.element_id)):
            reached[element] = count
    element = _json_text(AuditEvent.details, "element_id")
    for _kind, element_id, count in session.execute(
            select(AuditEvent.type, element, func.count())
            .where(in_period, AuditEvent.type.in_(["timer_fired", "letter_issued"]))
            .group_by(AuditEvent.type, element)):
        if element_id:
            reached[element_id] = max(reached.get(element_id, 0), count)
    ends = dict(session.execute(
        select(Complaint.outcome, func.count()).where(
            Complaint.landlord.in_(slugs), Complaint.status == ComplaintStatus.CLOSED,
            Complaint.closed_at >= period.starts_at, Complaint.closed_at < period.ends_at)
        .group_by(Complaint.outcome)).all())
    missed = {element_id: {"due": int(due), "missed": int(late or 0)} for element_id, due, late in session.execute(
        select(Deadline.element_id, func.count(), func.sum(case((Deadline.missed.is_(True), 1), else_=0)))
        .join(Complaint, Complaint.id == Deadline.complaint_id)
        .where(Complaint.landlord.in_(slugs), Deadline.key.in_(sorted(DUTY_KEYS)),
               Deadline.due_at >= period.starts_at, Deadline.due_at < period.ends_at,
               Deadline.status != DeadlineStatus.CANCELLED)
        .group_by(Deadline.element_id))}
    return {"waiting": waiting, "reached": reached, "ends": {k: v for k, v in ends.items() if k}, "missed": missed}


# --- tables, for the pages, the CSV exports and the annual report ----------------------------

@dataclass
class Table:
    """One table of figures: shown as HTML, drawn as a chart, exported as CSV."""

    id: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    chart: str | None = None               # "bar" or "pie"
    chart_columns: list[int] = field(default_factory=list)
    note: str | None = None
    warning: str | None = None
    """Said before the figures wherever the table is shown (a figure not to be relied on, and why)."""

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow(["" if v is None else csv_safe(v) for v in row])
        return out.getvalue()


def csv_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


STAGE_LABELS = {stage: STAGE_NAMES[stage] for stage in ("1", "2")}


def tables(report: Mapping[str, Any], labels: Labels | None = None) -> list[Table]:
    """The performance report as tables, in the order the page and the annual report show them."""
    labels = labels or Labels()
    c1, c2 = report["ch01"], report["ch02"]
    homes_figure = "Confirmed" if c1["homes_confirmed"] else "Not confirmed: a stand-in, not the landlord's number"
    out = [
        Table("ch01", "CH01: complaints received per 1,000 homes",
              ["Stage", "Complaints received", "Homes", "Per 1,000 homes", "Number of homes"],
              [["Stage 1", c1["stage1"], c1["homes"], c1["stage1_per_1000"], homes_figure],
               ["Stage 2", c1["stage2"], c1["homes"], c1["stage2_per_1000"], homes_figure]], "bar", [3],
              warning=homes_warning(c1)),
        Table("ch02", "CH02: responses within the Code's timescales",
              ["Stage", "Responses", "Within the Code's timescales", "Share (%)", "Extended",
               "Within after an extension", "Outside", "Met the landlord's own deadline"],
              [[STAGE_LABELS[s], c2[f"stage{s}"]["responded"], c2[f"stage{s}"]["within"], c2[f"stage{s}"]["share"],
                c2[f"stage{s}"]["extended"], c2[f"stage{s}"]["within_after_extension"], c2[f"stage{s}"]["outside"],
                c2[f"stage{s}"]["met_own_deadline"]] for s in ("1", "2")], "bar", [2, 6],
              note="Within the Code's timescales: stage 1 within 10 working days of the acknowledgement, or 20 "
                   "when extended (at most 10 more, Code 6.4); stage 2 within 20, or 40 when extended (at most "
                   "20 more, 6.15). An extension within the Code's limit counts as within timescale when the "
                   "response met it; any part of a longer extension beyond the Code's limit does not."),
    ]
    ack = report["acknowledgements"]
    out.append(Table("acknowledgements", "Acknowledgements on time",
                     ["Stage", "Acknowledged", "On time", "Late", "Share on time (%)"],
                     [[STAGE_LABELS[s], ack[f"stage{s}"]["acknowledged"], ack[f"stage{s}"]["on_time"],
                       ack[f"stage{s}"]["late"], ack[f"stage{s}"]["share"]] for s in ("1", "2")], "bar", [2, 3]))
    times = report["response_times"]
    out.append(Table("response_times", "Working days to respond",
                     ["Stage", "Responses", "Mean working days", "90th percentile working days"],
                     [[STAGE_LABELS[s], times[f"stage{s}"]["count"], times[f"stage{s}"]["mean"],
                       times[f"stage{s}"]["p90"]] for s in ("1", "2")], "bar", [2, 3],
                     note="Stage 1 from receipt, stage 2 from the escalation request, to the response; "
                          "the 90th percentile by nearest rank."))
    spread = sorted({h["working_days"] for s in ("1", "2") for h in times[f"stage{s}"]["histogram"]})
    counts = {s: {h["working_days"]: h["count"] for h in times[f"stage{s}"]["histogram"]} for s in ("1", "2")}
    out.append(Table("response_spread", "Responses by working days taken",
                     ["Working days", "Stage 1 responses", "Stage 2 responses"],
                     [[d, counts["1"].get(d, 0), counts["2"].get(d, 0)] for d in spread], "bar", [1, 2]))
    res = report["resolution"]
    out.append(Table("resolution", "Resolved at stage 1 and escalated",
                     ["Measure", "Complaints", "Of", "Share (%)"],
                     [["Closed after a stage 1 response without going to stage 2", res["resolved_at_stage1"],
                       res["closed_after_stage1"], res["resolved_share"]],
                      ["Stage 1 responses since escalated to stage 2", res["escalated"], res["stage1_responses"],
                       res["escalation_rate"]]]))
    rows = []
    for group in report["refusals"]:
        kind = "Not accepted" if group["outcome"] == "refused" else "Escalation refused"
        for reason in group["reasons"]:
            rows.append([kind, labels.option(group["field"], reason["reason"]), reason["count"]])
        if group["total"] and not group["reasons"]:
            rows.append([kind, "(no reason recorded)", group["total"]])
    out.append(Table("refusals", "Complaints refused, by reason", ["Refusal", "Reason", "Complaints"], rows,
                     "bar", [2], note="A complaint refused for several reasons counts once under each."))
    out.append(Table("categories", "Complaints received, by category",
                     ["Category", "Received", "Reached stage 1", "Went to stage 2", "Not accepted"],
                     [[labels.category(c["category"]), c["received"], c["stage1"], c["stage2"], c["refused"]]
                      for c in report["categories"]], "bar", [1, 2, 3]))
    rem = report["remedies"]
    out.append(Table("remedies", "Remedies offered",
                     ["Remedy", "Stage 1 responses", "Stage 2 responses"],
                     [[labels.option("remedies", a["remedy"]), a["count"], b["count"]]
                      for a, b in zip(rem["stage1"]["remedies"], rem["stage2"]["remedies"], strict=True)],
                     "bar", [1, 2]))
    out.append(Table("compensation", "Compensation offered",
                     ["Stage", "Responses offering money", "Total offered (£)"],
                     [["Stage 1", rem["stage1"]["with_compensation"], rem["stage1"]["compensation"]],
                      ["Stage 2", rem["stage2"]["with_compensation"], rem["stage2"]["compensation"]],
                      ["Both stages", rem["stage1"]["with_compensation"] + rem["stage2"]["with_compensation"],
                       rem["compensation_total"]]],
                     note="Each response's offer counts once, at the stage it was made."))
    sat = report["satisfaction"]
    out.append(Table("satisfaction", "Satisfaction with complaint handling",
                     ["Answer", "Surveys"],
                     [[labels.option("satisfaction", a["answer"]), a["count"]] for a in sat["answers"]]
                     + [["No reply", sat["no_reply"]], ["Declined", sat["declined"]]], "pie", [1],
                     note=f"{sat['satisfied']} of {sat['completed']} completed surveys satisfied "
                          f"({'—' if sat['satisfied_share'] is None else str(sat['satisfied_share']) + '%'})."))
    out.append(Table("deadlines", "Deadlines that fell due",
                     ["Deadline", "Due", "Met on time", "Met late", "Still outstanding", "Extended", "On time (%)"],
                     [[labels.deadline(d["key"]), d["due"], d["on_time"], d["late"], d["outstanding"], d["extended"],
                       d["share"]] for d in report["deadlines"]], "bar", [2, 3, 4]))
    out.append(Table("hazard_steps", "Awaab's Law: hazard steps met in time",
                     ["Step", "Due", "Met in time", "Met late", "Still outstanding", "In time (%)"],
                     [[labels.deadline(d["key"]), d["due"], d["on_time"], d["late"], d["outstanding"], d["share"]]
                      for d in report.get("hazard_steps", [])], "bar", [2, 3, 4],
                     note="Hazard cases beside complaints, each step against the Hazards in Social Housing "
                          "Regulations 2025's timescale (24 clock hours for an emergency; working days and weeks "
                          "for a significant hazard). Not part of the Code's figures above."))
    return out


class Labels:
    """Words for codes: categories, deadline keys and form options (from the deployed forms)."""

    def __init__(self, options: Mapping[str, Mapping[str, str]] | None = None,
                 categories: Mapping[str, str] | None = None) -> None:
        self.options = options or {}
        self.categories = categories or {}

    def option(self, field_key: str, value: str) -> str:
        return self.options.get(field_key, {}).get(value) or value.replace("_", " ").capitalize()

    def category(self, value: str) -> str:
        return self.categories.get(value) or value.replace("_", " ").capitalize()

    @staticmethod
    def deadline(value: str) -> str:
        return deadline_name(value)


def labels_for(session: Session, scope: Scope, categories: Mapping[str, str] | None = None) -> Labels:
    """Option labels from every form deployed for the scope's landlords (newest wins)."""
    options: dict[str, dict[str, str]] = {}
    versions = session.scalars(select(DefinitionVersion).where(DefinitionVersion.landlord.in_(scope.slugs))
                               .order_by(DefinitionVersion.id))
    for version in versions:
        for source in (version.forms or {}).values():
            _collect_options(source.get("components") if isinstance(source, Mapping) else None, options)
    return Labels(options, categories)


def _collect_options(components: Any, options: dict[str, dict[str, str]]) -> None:
    for component in components or []:
        if not isinstance(component, Mapping):
            continue
        values = component.get("values")
        if component.get("key") and isinstance(values, list):
            bucket = options.setdefault(component["key"], {})
            for value in values:
                if isinstance(value, Mapping) and value.get("value") is not None:
                    bucket[str(value["value"])] = str(value.get("label") or value["value"])
        _collect_options(component.get("components"), options)

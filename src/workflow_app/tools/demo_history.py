"""Thirteen months of past complaints for the demo, so the managers' pages have something to show
(and this week's and this month's figures the same days a year before to compare with).

Each past complaint follows a plan (accepted or refused, acknowledged on time or late, extended,
answered late, escalated, how the resident answered the survey) and is worked through the
landlord's own deployed diagram on a virtual clock by the product's services (a
`runner.ComplaintRun`), exactly as caseworkers would: the open tasks are completed with
answers chosen by their form, timers fire as the clock passes them, and escalations arrive
as events. Tasks whose forms it does not know are left open, so a diagram that gains new
steps still gets a history, only a shorter one.

Only landlords whose diagrams use the product's shared forms get a history, and only while they
have no complaint received more than two weeks ago (so running the demo again adds nothing).
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from workflow_app.casework.deployments import latest_version
from workflow_app.casework.engine import load_definition
from workflow_app.casework.models import Complaint, DefinitionVersion, Task, User
from workflow_app.casework.runner import ComplaintRun
from workflow_app.casework.runtime import Runtime
from workflow_app.rules import clock
from workflow_app.rules.calendar import calendar_for
from workflow_app.rules.errors import WorkflowAppError
from workflow_app.rules.roles import Role
from workflow_app.rules.statuses import ComplaintStatus, TaskStatus

COMPLAINTS_PER_LANDLORD = 30
DAYS_BACK = 400
SUMMARIES = {
    "property_condition": "Damp and mould in the bathroom has come back after the repair",
    "complaint_handling": "Nobody replied to my email about the previous complaint",
    "anti_social_behaviour": "Noise from the flat below late at night; reported three times",
    "health_and_safety": "The fire door on the landing does not close",
    "estate_management": "The communal bins have not been emptied for three weeks",
    "charges": "The service charge went up without any explanation",
    "staff_conduct": "The repairs operative was rude and left without finishing",
    "tenancy_and_moving": "My transfer application has not been looked at",
    "other": "The website would not let me report a repair",
}
LESSONS = {
    "property_condition": ("Repeat damp reports were closed without a survey.",
                           "A surveyor visits after the second report."),
    "complaint_handling": ("Emails to the complaints inbox went unanswered over holidays.",
                           "An out-of-office rota for the inbox."),
    "anti_social_behaviour": ("Noise reports were not linked to earlier ones.",
                              "Reports are linked to the address history."),
    "charges": ("The service charge letter did not explain the increase.",
                "Letters show last year's and this year's costs."),
}


@dataclass
class Plan:
    landlord: str
    received_at: datetime
    category: str
    channel: str
    refuse: bool
    informal: bool
    late_acknowledgement: bool
    extend: bool
    late_response: bool
    escalate: bool
    survey: str
    remedies: list[str]
    compensation: int
    extended: bool = False
    escalated: bool = False
    awaiting_review: bool = False
    """Escalated, with its stage 2 review left for the landlord's stage 2 reviewer to do today."""
    awaiting_response: bool = False
    """Acknowledged, with its stage 1 investigation and response left for the landlord's team to do today."""
    reference: str | None = None
    scheduled: set[str] = field(default_factory=set)


def add_history(runtime: Runtime, logger: User, now: datetime | None = None, seed: int = 2026) -> Iterator[str]:
    """Run the past complaints for every eligible landlord without complaints yet; yields progress lines.

    `logger` (who may work every task) logs them and does the work before stage 2; a reviewer of
    its own does stage 2, as the Code's 6.13 requires someone else to.
    """
    now = now or clock.now()
    rng = random.Random(seed)
    with runtime.sessions() as session:
        eligible = []
        for slug in sorted(runtime.landlords):
            version = latest_version(session, slug)     # the complaint process (not the hazard process)
            older = session.scalar(select(func.count()).select_from(Complaint).where(
                Complaint.landlord == slug, Complaint.received_at < now - timedelta(days=14)))
            if version is not None and not older and _uses_shared_forms(version):
                eligible.append(slug)
    if not eligible:
        return
    plans = [_plan(rng, slug, now) for slug in eligible for _ in range(COMPLAINTS_PER_LANDLORD)]
    plans += [_awaiting_review(slug, now) for slug in eligible]
    plans += [_awaiting_response(slug, now) for slug in eligible]
    run = ComplaintRun(runtime, min(p.received_at for p in plans) - timedelta(minutes=1))
    reviewer = run.person("demo.reviewer", [Role.STAGE2_REVIEWER, Role.COMPLAINTS_OFFICER], eligible,
                          "Demo Reviewer (stage 2)")
    director = run.person("demo.director", [Role.MANAGER], eligible, "Demo Director (oversight)")
    with run:
        history = _History(run, plans, (logger, reviewer, director), rng)
        for index, plan in enumerate(plans):
            history.plan(index, plan.received_at, ("log",))
        run.play(now - timedelta(hours=12))
    yield (f"demo history: {history.logged} past complaints worked through their landlords' processes"
           f" ({len(eligible)} of them awaiting a stage 2 review, {len(eligible)} their stage 1 response)")


class _History:
    """The team at work on the planned complaints: each action, then what it leads them to plan next."""

    def __init__(self, run: ComplaintRun, plans: list[Plan], people: tuple[User, User, User],
                 rng: random.Random) -> None:
        self.run, self.plans, self.people, self.rng = run, plans, people, rng
        self.by_reference: dict[str, int] = {}
        self.seen = run.now()
        self.logged = 0

    def plan(self, index: int, when: datetime, action: tuple) -> None:
        self.run.plan(when, lambda: self.do(index, action))

    def do(self, index: int, action: tuple) -> None:
        self.after_timers()
        plan = self.plans[index]
        try:
            _act(self.run, plan, action, self.people, self.rng, lambda when, act: self.plan(index, when, act))
        except WorkflowAppError as error:   # a form or step this history does not know: leave it there
            plan.scheduled.add(f"stuck: {error}")
        if action[0] == "log":
            self.logged += 1
            self.by_reference[plan.reference] = index

    def after_timers(self) -> None:
        """Look at the complaints whose timers opened tasks since last time (an escalation window closing)."""
        runtime = self.run.runtime
        with runtime.sessions() as session:
            references = session.scalars(select(Complaint.reference).join(Task, Task.complaint_id == Complaint.id)
                                         .where(Task.status == TaskStatus.OPEN, Task.created_at > self.seen)
                                         .distinct()).all()
        for reference in references:
            index = self.by_reference.get(reference)
            if index is not None:
                _look(runtime, self.plans[index], self.rng, lambda when, act, i=index: self.plan(i, when, act))
        self.seen = self.run.now()


def _uses_shared_forms(version: DefinitionVersion) -> bool:
    forms = {e.form_ref for e in load_definition(version).elements.values() if e.tag == "userTask"}
    return "acknowledge_complaint" in forms and ("stage1_response" in forms or any(
        f and f.startswith("stage1_response") for f in forms))


def _plan(rng: random.Random, landlord: str, now: datetime) -> Plan:
    received = now - timedelta(days=rng.uniform(20, DAYS_BACK), hours=rng.uniform(0, 8))
    received = received.replace(hour=rng.choice([8, 9, 10, 11, 13, 14, 15, 16]), minute=rng.choice([0, 15, 30, 45]))
    category = rng.choices(list(SUMMARIES), [30, 12, 10, 6, 10, 10, 6, 6, 10])[0]
    refuse = rng.random() < 0.1
    remedies = rng.sample(["apology", "explanation", "action_on_delay", "financial_remedy"], rng.randint(0, 3))
    return Plan(landlord=landlord, received_at=received, category=category,
                channel=rng.choice(["phone", "email", "web", "letter", "in_person"]), refuse=refuse,
                informal=not refuse and rng.random() < 0.1, late_acknowledgement=rng.random() < 0.12,
                extend=rng.random() < 0.18, late_response=rng.random() < 0.15,
                escalate=not refuse and rng.random() < 0.25,
                survey=rng.choice(["very_satisfied", "satisfied", "satisfied", "neutral", "dissatisfied", "no_reply"]),
                remedies=remedies, compensation=rng.choice([50, 75, 100, 250]) if "financial_remedy" in remedies else 0)


def _awaiting_review(landlord: str, now: datetime) -> Plan:
    """A complaint received six weeks ago, answered at stage 1 and escalated, whose stage 2 review is still to do."""
    received = (now - timedelta(days=42)).replace(hour=10, minute=0, second=0, microsecond=0)
    return Plan(landlord=landlord, received_at=received, category="property_condition", channel="phone",
                refuse=False, informal=False, late_acknowledgement=False, extend=False, late_response=False,
                escalate=True, survey="dissatisfied", remedies=["apology"], compensation=0, awaiting_review=True)


def _awaiting_response(landlord: str, now: datetime) -> Plan:
    """A complaint received twelve days ago and acknowledged, whose stage 1 investigation and response are still
    to do (by the landlord's caseworker, or its complaints officer where the policy gives them the response)."""
    received = (now - timedelta(days=12)).replace(hour=11, minute=0, second=0, microsecond=0)
    return Plan(landlord=landlord, received_at=received, category="property_condition",
                channel="email", refuse=False, informal=False, late_acknowledgement=False, extend=False,
                late_response=False, escalate=False, survey="no_reply", remedies=[], compensation=0,
                awaiting_response=True)


def _act(run: ComplaintRun, plan: Plan, action: tuple, people: tuple[User, User, User], rng: random.Random,
         schedule) -> None:
    """One action on a past complaint; the team sends each letter the Code requires as it comes (before
    the next task), those a timer drafted when it next acts. A manager's task (Brighter Places' oversight
    of the stage 2 response) goes to a director who did neither stage's work."""
    runtime = run.runtime
    logger, reviewer, director = people
    if action[0] == "log":
        plan.reference = run.log({
            "landlord": plan.landlord, "received_at": plan.received_at.isoformat(), "channel": plan.channel,
            "category": plan.category, "summary": SUMMARIES[plan.category],
            "resident": {"name": "Demo Resident", "email": "resident@example.org"}}, logger)
    elif action[0] == "complete":
        _, task_id, data = action
        with runtime.sessions() as session:
            status, stage, role = session.execute(select(Task.status, Task.stage, Task.role)
                                                  .where(Task.id == task_id)).one()
        if status != TaskStatus.OPEN:
            return
        person = director if role == Role.MANAGER else reviewer if stage == "2" else logger
        run.complete(plan.reference, task_id, data, person)
    elif action[0] == "event":
        run.event(plan.reference, action[1], logger)
    _look(runtime, plan, rng, schedule)


def _look(runtime: Runtime, plan: Plan, rng: random.Random, schedule) -> None:
    """Schedule what a caseworker would do next on each open task the complaint has."""
    with runtime.sessions() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == plan.reference)).one()
        tasks = session.execute(select(Task.id, Task.element_id, Task.form_id, Task.created_at)
                                .where(Task.complaint_id == complaint.id, Task.status == TaskStatus.OPEN)).all()
        definition = load_definition(complaint.instance.definition_version)
        closed = complaint.status == ComplaintStatus.CLOSED
        stage1_done = session.scalar(select(func.count()).select_from(Task).where(
            Task.complaint_id == complaint.id, Task.stage == "1", Task.form_id.like("stage1_response%"),
            Task.status == TaskStatus.COMPLETED)) or 0
    if closed:
        return
    nation = runtime.landlords[plan.landlord].nation
    calendar = calendar_for(nation)
    now = clock.now()
    for task_id, element_id, form_id, _created_at in tasks:
        if task_id in plan.scheduled:
            continue
        form = definition.forms.get(form_id) if form_id else None
        source = form.source if form else {}
        answer = _answer(plan, element_id, form_id, source, rng)
        if answer is None:
            continue
        working_days, data = answer
        data = {k: v for k, v in data.items() if k in _keys(source)}   # a form refuses fields it does not have
        when = calendar.working_days_after(now, working_days) - timedelta(hours=rng.uniform(4, 9)) \
            if working_days else now + timedelta(minutes=rng.randint(20, 90))
        plan.scheduled.add(task_id)
        schedule(max(when, now + timedelta(minutes=5)), ("complete", task_id, data))
    if stage1_done and plan.escalate and not plan.escalated and "escalation_requested" in definition.messages:
        plan.escalated = True
        schedule(now + timedelta(days=rng.randint(3, 9)), ("event", "escalation_requested"))


def _answer(plan: Plan, element_id: str, form_id: str | None, source: Mapping[str, Any],
            rng: random.Random) -> tuple[int, dict[str, Any]] | None:
    """(working days from now, form data) for a task, or None to leave it open."""
    if form_id is None:
        return None
    if form_id.startswith("exclusion_decision"):
        if plan.refuse:
            reasons = _options(source, "exclusion_reasons")
            return 0, {"complaint_kind": "complaint", "acceptance": "refuse",
                       "exclusion_reasons": [rng.choice(reasons)],
                       "refusal_explanation": "This is outside what our complaints policy covers, as explained."}
        return 0, {"complaint_kind": "complaint", "acceptance": "accept", "clarification_needed": "no"}
    if form_id == "informal_resolution":
        if plan.informal:
            return 0, {"first_contact_result": "quick_fix", "quick_fix_action": "Put right on the call."}
        return 0, {"first_contact_result": "formal"}
    if form_id.startswith("first_contact"):
        return 0, {"contact_kind": "dissatisfaction", "first_contact_result": "formal"}
    if form_id == "acknowledge_complaint":
        return (7 if plan.late_acknowledgement else 1), {
            "complaint_definition": SUMMARIES[plan.category] + "; the resident wants it put right.",
            "outcomes_sought": "The problem fixed and an apology.", "our_responsibility": "The service complained of.",
            "investigator": "Demo Caseworker, complaints team"}
    if form_id.startswith("stage1_response") or form_id in ("colleague_response", "staff_conduct_response"):
        if plan.awaiting_response:
            return None
        if plan.extend and not plan.extended and "stage1_decision" in _keys(source):
            plan.extended = True
            return 8, {"stage1_decision": "extend", "extension_days": 5,
                       "extension_reason": "We are waiting for a contractor's report."}
        days = 12 if plan.late_response else rng.randint(3, 8)
        return days, {"stage1_decision": "respond",
                      "stage1_outcome": rng.choice(["upheld", "partly_upheld", "not_upheld"]),
                      "stage1_findings": "We looked at the records and spoke to the team involved.",
                      "remedies": plan.remedies, "compensation": plan.compensation}
    if form_id == "acknowledge_escalation":
        return 2, {"stage2_definition": "The resident is still unhappy with the stage 1 answer.",
                   "stage2_outcomes_sought": "A better remedy.",
                   "stage2_reviewer_name": "Demo Reviewer, Head of Service"}
    if form_id == "review_request":
        return 1, {"review_decision": "accept", "stage2_definition": "The resident is still unhappy.",
                   "stage2_outcomes_sought": "A better remedy.", "stage2_reviewer_name": "Demo Reviewer"}
    if form_id.startswith("director_oversight"):
        return 1, {"oversight_decision": "approve"}
    if form_id.startswith("stage2_response"):
        if plan.awaiting_review:
            return None
        return rng.randint(8, 16), {
            "stage2_decision": "respond", "stage2_steps_taken": "Read the file and met the resident.",
            "final_outcome": rng.choice(["upheld", "partly_upheld", "not_upheld"]),
            "stage2_findings": "We reviewed every part of the complaint.", "remedies": ["apology"],
            "compensation": 0, "learning": "Escalated complaints need a named contact from day one."}
    if form_id == "satisfaction_survey":
        if plan.survey == "no_reply":
            return 10, {"survey_status": "no_reply"}
        return 5, {"survey_status": "completed", "satisfaction": plan.survey}
    if form_id == "lessons_learnt":
        lesson, improvement = LESSONS.get(plan.category, ("We could have explained our decision sooner.", None))
        data = {"lessons": lesson, "lessons_theme": plan.category,
                "systemic_issue": plan.category == "property_condition"}
        if improvement:
            data["improvement_actions"] = improvement
        return 1, data
    return None


def _keys(source: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()

    def walk(components):
        for c in components or []:
            if isinstance(c, Mapping):
                if c.get("key"):
                    found.add(c["key"])
                walk(c.get("components"))
    walk(source.get("components"))
    return found


def _options(source: Mapping[str, Any], key: str) -> list[str]:
    def walk(components):
        for c in components or []:
            if isinstance(c, Mapping):
                if c.get("key") == key:
                    return [str(v.get("value")) for v in c.get("values") or [] if isinstance(v, Mapping)]
                found = walk(c.get("components"))
                if found:
                    return found
        return None
    return walk(source.get("components")) or ["other"]

"""Try a diagram on a date: one complaint run through it on a virtual clock, by the engine.

The run is a `runner.ComplaintRun`, as `workflow-app simulate`'s is, in a throwaway SQLite
database, so the timeline is what the product would do. Nobody has to write a
scenario: each task is done by a stand-in (on the day it opens, or on its last day), its
form answered the usual way (accept, respond, a formal complaint...), optionally with one
extension of each response as long as the form allows, and an escalation asked for when
the process waits for one.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from workflow_app.casework.deployments import deploy
from workflow_app.casework.engine import load_definition
from workflow_app.casework.models import Complaint, Deadline, Task
from workflow_app.casework.runner import ComplaintRun, scratch_runtime
from workflow_app.diagrams.forms import Field, Form, validate_submission
from workflow_app.rules import clock
from workflow_app.rules.calendar import LONDON, london_date
from workflow_app.rules.errors import WorkflowAppError
from workflow_app.rules.landlords import Landlord
from workflow_app.rules.roles import WORKER_ROLES
from workflow_app.rules.statuses import ComplaintStatus, DeadlineStatus

MAX_STEPS = 60
PREFERRED = ("accept", "respond", "formal", "no", "complaint", "upheld", "not_upheld", "resolved", "yes")
ESCALATION = ("escalat", "review", "stage2", "stage_2")


@dataclass
class TryResult:
    """What happened: the timeline, the complaint at the end, and what to draw on each element."""

    reference: str | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    marks: dict[str, list[str]] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)
    problem: str | None = None


def try_diagram(landlord: Landlord, xml: str, forms: Mapping[str, Form], processes_dir: Path,
                received_at: datetime, *, pace: str = "prompt", escalate: bool = True,
                extend: bool = False) -> TryResult:
    """Run one complaint received at `received_at` through `xml` and report what happened."""
    if received_at.tzinfo is None:
        raise ValueError("received_at needs a time zone")
    with (scratch_runtime(processes_dir, prefix="workflow-app-try-") as runtime,
          ComplaintRun(runtime, received_at, print_letters=False) as run):
        return _run(run, landlord, xml, forms, received_at, pace, escalate, extend)


def _run(run: ComplaintRun, landlord: Landlord, xml: str, forms: Mapping[str, Form], received_at: datetime,
         pace: str, escalate: bool, extend: bool) -> TryResult:
    runtime = run.runtime
    result = TryResult()
    with runtime.sessions.begin() as session:
        version = deploy(session, landlord.slug, xml, forms, "try-it").version
    first, second = (run.person(name, list(WORKER_ROLES), [landlord.slug]) for name in ("try.first", "try.second"))
    definition = load_definition(version)
    try:
        result.reference = run.log({
            "landlord": landlord.slug, "received_at": received_at.isoformat(), "channel": "email",
            "category": "other", "summary": "A complaint to try the process on",
            "resident": {"name": "A Resident", "email": "resident@example.org"}}, first)
    except WorkflowAppError as error:
        result.problem = f"the complaint could not be logged: {error}"
        return result
    extended: set[str] = set()
    escalated = False
    for _ in range(MAX_STEPS):
        body = runtime.complaints.describe(result.reference, first)
        if body["status"] == ComplaintStatus.CLOSED:
            break
        tasks = body["open_tasks"]
        if tasks:
            task = min(tasks, key=lambda t: t["due_at"] or "9999")
            at = run.now()
            if pace == "last_day" and task["due_at"]:
                at = max(at, datetime.fromisoformat(task["due_at"]) - timedelta(minutes=1))
            run.advance_to(at)
            if not run.task_is_open(task["id"]):
                continue
            element = definition.elements[task["element_id"]]
            user = second if element.separate_from else first
            answers = _answers(runtime, result.reference, definition.forms.get(element.form_ref or ""),
                               element.id, extend and element.id not in extended)
            if answers.pop("__extended__", False):
                extended.add(element.id)
            try:
                run.complete(result.reference, task["id"], answers, user)
            except WorkflowAppError as error:
                result.problem = f"'{element.name}' could not be completed with the usual answers: {error}"
                break
            continue
        message = _awaited_message(runtime, result.reference, definition) if escalate and not escalated else None
        if message is not None:
            run.event(result.reference, message, first)
            escalated = escalated or any(word in message for word in ESCALATION)
            continue
        with runtime.sessions() as session:
            complaint = session.scalars(select(Complaint).where(Complaint.reference == result.reference)).one()
            next_due = complaint.instance.next_due_at
        if next_due is None:
            break
        run.advance_to(next_due + timedelta(seconds=1))
    result.timeline = runtime.complaints.history(result.reference, first)
    result.final = runtime.complaints.describe(result.reference, first)
    _marks(runtime, result)
    return result


def _awaited_message(runtime, reference: str, definition) -> str | None:
    """The escalation (or review) the process is waiting for, if it is waiting for one."""
    with runtime.sessions() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        instance = runtime.casework.instance_of(complaint)
    for name in sorted(definition.messages):
        if any(word in name for word in ESCALATION) and instance.waits_for_message(name):
            return name
    return None


def _answers(runtime, reference: str, form: Form | None, element_id: str, extend: bool) -> dict[str, Any]:
    """Answers the form accepts: the usual choice for each question, or one extension."""
    if form is None:
        return {}
    with runtime.sessions() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        context = runtime.casework.instance_of(complaint).data()
    today = london_date(clock.now())
    answers: dict[str, Any] = {}
    extending = False
    for f in form.fields:
        if extend and f.options and "extend" in f.options and f.type in ("radio", "select"):
            answers[f.key] = "extend"
            extending = True
        else:
            value = _usual(f, today)
            if value is not None:
                answers[f.key] = value
    for f in form.fields:
        if f.type == "number":
            low, high = _number_bounds(f, {**context, **answers})
            answers[f.key] = high if extending and high is not None and "extension" in f.key else (low or 0)
    cleaned, errors = validate_submission(form, answers, context, today=today)
    if errors and extending:
        return _answers(runtime, reference, form, element_id, False)
    if errors:  # leave out what the form refuses; the task page would say why
        cleaned, errors = validate_submission(form, {k: v for k, v in answers.items() if k not in errors},
                                              context, today=today)
    if extending and not errors:
        cleaned["__extended__"] = True
    return cleaned


def _usual(f: Field, today: date) -> Any:
    if f.options:
        choice = next((p for p in PREFERRED if p in f.options), f.options[0])
        return [choice] if f.type in ("checklist", "taglist") else choice
    if f.type == "checkbox":
        return False
    if f.type in ("textfield", "textarea"):
        return "As agreed with the resident" if f.required else None
    if f.type == "datetime":
        if (f.subtype or "date") == "date":
            return today.isoformat()
        if f.subtype == "time":
            return "12:00"
        return datetime.combine(today, datetime.min.time().replace(hour=12), LONDON).isoformat()
    return None


def _number_bounds(f: Field, scope: Mapping[str, Any]) -> tuple[float | None, float | None]:
    def value(bound):
        if bound is None or isinstance(bound, (int, float)):
            return bound
        try:
            result = bound.evaluate(scope)
        except Exception:  # a bound the form works out at run time; treated as open here
            return None
        return None if isinstance(result, bool) else result

    def as_int(v):
        return int(v) if v is not None and float(v).is_integer() else v

    low, high = value(f.min), value(f.max)
    return as_int(low), as_int(high)


def _marks(runtime, result: TryResult) -> None:
    """Labels for the diagram: each deadline on its timer, each task's completion on the task."""
    with runtime.sessions() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == result.reference)).one()
        for deadline in session.scalars(select(Deadline).where(Deadline.complaint_id == complaint.id)
                                        .order_by(Deadline.id)):
            state = (DeadlineStatus.MISSED if deadline.missed
                     else DeadlineStatus.MET if deadline.met_at else deadline.status)
            extended = ", extended" if deadline.extended else ""
            result.marks.setdefault(deadline.element_id, []).append(
                f"due {_words(deadline.due_at)} ({state}{extended})")
        for task in session.scalars(select(Task).where(Task.complaint_id == complaint.id).order_by(Task.created_at)):
            if task.completed_at is not None:
                result.marks.setdefault(task.element_id, []).append(f"done {_words(task.completed_at)}")
                result.done.append(task.element_id)


def _words(at: datetime) -> str:
    local = at.astimezone(LONDON)
    return f"{local:%a %d %b %Y %H:%M}"

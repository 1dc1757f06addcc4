"""A hand-built set of complaints, run through the three landlords' real processes on a virtual
clock (a `ComplaintRun`), whose every reported figure has been worked out by hand (tests/integration/test_reporting.py).

Working days: England and Wales bank holidays; 1 January, 26 March (Good Friday) and 29 March
(Easter Monday) 2027 are bank holidays; British Summer Time starts on Sunday 28 March 2027.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import select

from tests.conftest import postgres_url_or_skip
from tests.support import databases
from workflow_app.casework.accounts import create_user
from workflow_app.casework.deployments import deploy, diagram_files, read_forms
from workflow_app.casework.models import Complaint, Task, User
from workflow_app.casework.runner import ComplaintRun
from workflow_app.casework.runtime import Runtime, build_runtime
from workflow_app.diagrams.definitions import cache as definition_cache

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"
FORMS = ROOT / "forms"
START = datetime.fromisoformat("2027-01-04T08:00:00+00:00")
END = datetime.fromisoformat("2027-04-02T12:00:00+00:00")
"""The dashboard's "now": Friday 2 April 2027, a working day."""

ACCEPT = {"complaint_kind": "complaint", "acceptance": "accept"}
ACK = {"complaint_definition": "The bedroom ceiling leaks when it rains.", "outcomes_sought": "A repair.",
       "our_responsibility": "Roof repairs.", "investigator": "Olive, complaints officer"}
ACK2 = {"stage2_definition": "The leak is not fixed.", "stage2_outcomes_sought": "A permanent repair.",
        "stage2_reviewer_name": "Rita, Head of Property"}
LESSONS = {"lessons": "Repeat leaks need a surveyor sooner.", "lessons_theme": "property_condition",
           "improvement_actions": "Surveyor after one failed repair visit."}


def respond1(**extra: Any) -> dict[str, Any]:
    return {"stage1_decision": "respond", "stage1_outcome": "upheld", "stage1_findings": "We were slow.", **extra}


def extend1(days: int) -> dict[str, Any]:
    return {"stage1_decision": "extend", "extension_days": days, "extension_reason": "A report is due."}


def respond2(**extra: Any) -> dict[str, Any]:
    return {"stage2_decision": "respond", "stage2_steps_taken": "read the records", "final_outcome": "upheld",
            "stage2_findings": "The repair should have been escalated.", **extra}


@dataclass
class Story:
    """One complaint: when it arrives and what people do to it, in order."""

    name: str
    landlord: str
    received_at: str
    category: str = "property_condition"
    channel: str = "email"
    steps: list[tuple] = field(default_factory=list)


STORIES = [
    # A: on time, resolved at stage 1. Receipt Mon 4 Jan, response Tue 12 Jan: 6 working days.
    Story("A", "great_places", "2027-01-04T09:00:00+00:00", steps=[
        ("2027-01-04T10:00:00+00:00", "complete", "decide_acceptance", "olive", ACCEPT),
        ("2027-01-05T10:00:00+00:00", "complete", "acknowledge", "olive", ACK),
        ("2027-01-12T10:00:00+00:00", "complete", "stage1_response", "olive", respond1(remedies=["apology"],
                                                                                         compensation=0)),
        ("2027-02-10T10:00:00+00:00", "complete", "satisfaction_survey", "olive",
         {"survey_status": "completed", "satisfaction": "very_satisfied"}),
        ("2027-02-10T11:00:00+00:00", "complete", "lessons_learnt", "olive", LESSONS),
    ]),
    # B: extended by 5 (due Thu 21 -> Thu 28 Jan) and answered on Wed 27 Jan: 14 working days after the
    # acknowledgement (outside 10, inside the Code's 20 for an extension), 15 after receipt. Then stage 2:
    # escalated Mon 1 Feb, acknowledged Tue 2 Feb, final response Fri 26 Feb (18 after the acknowledgement,
    # 19 after the escalation).
    Story("B", "great_places", "2027-01-06T09:00:00+00:00", category="complaint_handling", steps=[
        ("2027-01-06T10:00:00+00:00", "complete", "decide_acceptance", "olive", ACCEPT),
        ("2027-01-07T09:00:00+00:00", "complete", "acknowledge", "olive", ACK),
        ("2027-01-20T09:00:00+00:00", "complete", "stage1_response", "olive", extend1(5)),
        ("2027-01-27T10:00:00+00:00", "complete", "stage1_response", "olive",
         respond1(remedies=["apology", "explanation"], compensation=50)),
        ("2027-02-01T09:00:00+00:00", "event", "escalation_requested"),
        ("2027-02-02T09:00:00+00:00", "complete", "stage2_acknowledge", "rita", ACK2),
        ("2027-02-26T10:00:00+00:00", "complete", "stage2_response", "rita",
         respond2(remedies=["apology", "financial_remedy"], compensation=250,
                  learning="Send repeat leaks to a surveyor after the first failed visit.")),
        ("2027-03-01T10:00:00+00:00", "complete", "satisfaction_survey", "olive",
         {"survey_status": "completed", "satisfaction": "dissatisfied"}),
        ("2027-03-01T11:00:00+00:00", "complete", "lessons_learnt", "olive",
         {"lessons": "Escalations waited for a report.", "lessons_theme": "complaint_handling",
          "systemic_issue": True}),
    ]),
    # C: no extension, due Tue 26 Jan, answered Fri 29 Jan: late on both counts (13 working days after
    # the acknowledgement, 14 after receipt).
    Story("C", "great_places", "2027-01-11T09:00:00+00:00", steps=[
        ("2027-01-11T10:00:00+00:00", "complete", "decide_acceptance", "olive", ACCEPT),
        ("2027-01-12T09:00:00+00:00", "complete", "acknowledge", "olive", ACK),
        ("2027-01-29T10:00:00+00:00", "complete", "stage1_response", "olive", respond1()),
        ("2027-03-01T12:00:00+00:00", "complete", "satisfaction_survey", "olive", {"survey_status": "no_reply"}),
        ("2027-03-01T13:00:00+00:00", "complete", "lessons_learnt", "olive", LESSONS),
    ]),
    # D: not accepted, for two reasons.
    Story("D", "great_places", "2027-01-19T09:00:00+00:00", category="charges", steps=[
        ("2027-01-19T10:00:00+00:00", "complete", "decide_acceptance", "olive", {
            "complaint_kind": "complaint", "acceptance": "refuse",
            "exclusion_reasons": ["over_12_months", "previously_considered"],
            "refusal_explanation": "This was answered in 2024."}),
    ]),
    # E: acknowledged late (due Mon 8 Feb, done Wed 10 Feb), answered Mon 15 Feb: 3 working days after
    # the acknowledgement, 10 after receipt. Still open at the end (the survey is not done).
    Story("E", "great_places", "2027-02-01T09:00:00+00:00", category="anti_social_behaviour", steps=[
        ("2027-02-01T10:00:00+00:00", "complete", "decide_acceptance", "olive", ACCEPT),
        ("2027-02-10T09:00:00+00:00", "complete", "acknowledge", "olive", ACK),
        ("2027-02-15T10:00:00+00:00", "complete", "stage1_response", "olive",
         respond1(remedies=["apology", "financial_remedy"], compensation=100)),
    ]),
    # J: extension in force at the end. Acknowledged Tue 16 Mar; due Thu 1 Apr (Good Friday and Easter
    # Monday skipped), extended by 10 to Thu 15 Apr.
    Story("J", "great_places", "2027-03-15T09:00:00+00:00", steps=[
        ("2027-03-15T10:00:00+00:00", "complete", "decide_acceptance", "olive", ACCEPT),
        ("2027-03-16T09:00:00+00:00", "complete", "acknowledge", "olive", ACK),
        ("2027-03-24T09:00:00+00:00", "complete", "stage1_response", "olive", extend1(10)),
    ]),
    # K: never acknowledged: due Wed 31 Mar, overdue at the end; claimed by olive.
    Story("K", "great_places", "2027-03-22T09:00:00+00:00", steps=[
        ("2027-03-22T10:00:00+00:00", "complete", "decide_acceptance", "olive", ACCEPT),
        ("2027-03-22T11:00:00+00:00", "claim", "acknowledge", "olive", None),
    ]),
    # L: acknowledgement due Tue 6 Apr, within 2 working days of Fri 2 Apr.
    Story("L", "great_places", "2027-03-30T09:00:00+00:00", steps=[
        ("2027-03-30T10:00:00+00:00", "complete", "decide_acceptance", "olive", ACCEPT),
    ]),
    # I: received in the next reporting year, waiting for the decision.
    Story("I", "great_places", "2027-04-01T08:00:00+00:00"),
    # F: Brighter Places' exceptional 20-day extension: acknowledged Tue 5 Jan, due Tue 16 Feb after the
    # extension, answered Fri 12 Feb: the landlord's deadline met, but 28 working days after the
    # acknowledgement, past the Code's 20.
    Story("F", "brighter_places", "2027-01-04T09:00:00+00:00", steps=[
        ("2027-01-04T09:30:00+00:00", "complete if open", "first_contact", "olive",
         {"contact_kind": "dissatisfaction", "first_contact_result": "formal"}),
        ("2027-01-04T10:00:00+00:00", "complete", "decide_acceptance", "olive",
         {"acceptance": "accept", "clarification_needed": "no"}),
        ("2027-01-05T09:00:00+00:00", "complete", "acknowledge", "olive", ACK),
        ("2027-01-18T09:00:00+00:00", "complete", "stage1_response", "olive",
         {**extend1(20), "extension_agreed": True}),
        ("2027-02-12T10:00:00+00:00", "complete", "stage1_response", "olive", respond1()),
    ]),
    # G: Harrogate's informal quick fix: a stage 1 complaint for CH01 (the Code has no informal stage).
    Story("G", "harrogate", "2027-02-02T09:00:00+00:00", category="estate_management", steps=[
        ("2027-02-02T09:30:00+00:00", "complete", "first_contact", "olive",
         {"first_contact_result": "quick_fix", "quick_fix_action": "Replaced the light."}),
    ]),
    # H: Harrogate review refused: escalated Mon 11 Jan (a stage 2 complaint received), refused Tue 12 Jan;
    # closed then, or after the closing survey and lessons where the diagram has them there. The closing letter
    # with its feedback form goes 14 working days after the refusal (Mon 1 Feb, section 10), so the survey is
    # recorded on Tue 2 Feb; the lessons-learnt table at once.
    Story("H", "harrogate", "2027-01-04T09:00:00+00:00", steps=[
        ("2027-01-04T09:30:00+00:00", "complete", "first_contact", "olive", {"first_contact_result": "formal"}),
        ("2027-01-04T10:00:00+00:00", "complete", "decide_acceptance", "olive", {"acceptance": "accept"}),
        ("2027-01-05T09:00:00+00:00", "complete", "acknowledge", "olive", ACK),
        ("2027-01-08T10:00:00+00:00", "complete", "stage1_response", "olive", respond1()),
        ("2027-01-11T09:00:00+00:00", "event", "escalation_requested"),
        ("2027-01-12T09:00:00+00:00", "complete", "review_acknowledge", "rita", {
            "review_decision": "refuse", "review_refusal_reasons": ["actions_completed"],
            "review_refusal_explanation": "The repair is done."}),
        ("2027-01-13T11:00:00+00:00", "complete if open", "lessons_learnt", "rita",
         {"lessons": "Tell residents sooner when the actions are complete.", "lessons_theme": "property_condition"}),
        ("2027-02-02T10:00:00+00:00", "complete if open", "satisfaction_survey", "olive",
         {"survey_status": "declined"}),
    ]),
]


def deploy_all(runtime) -> None:
    forms = read_forms(FORMS)
    with runtime.sessions.begin() as session:
        for landlord, path in diagram_files(PROCESSES):
            deploy(session, landlord, path.read_bytes(), forms, "tester")


def people(runtime) -> dict[str, User]:
    everyone = ["great_places", "brighter_places", "harrogate"]
    users = {}
    with runtime.sessions.begin() as session:
        for name, roles in (("olive", ["complaints_officer", "caseworker"]), ("rita", ["stage2_reviewer"]),
                            ("mandy", ["manager"]), ("ada", ["admin", "manager"])):
            user = session.scalars(select(User).where(User.username == name)).first() \
                or create_user(session, name, name.title(), roles, everyone if name != "mandy" else ["great_places"],
                               "pw")
            session.flush()
            session.expunge(user)
            users[name] = user
    return users


def build(runtime, stories: list[Story] = STORIES, until: datetime = END) -> dict[str, str]:
    """Run every story on a virtual clock, in time order; returns each story's reference. The letters the
    Code requires wait until the next task of their complaint, whose doer sends them first."""
    deploy_all(runtime)
    users = people(runtime)
    references: dict[str, str] = {}
    with ComplaintRun(runtime, START, send_letters_after=False, print_letters=False) as run:
        for story in stories:
            run.plan(datetime.fromisoformat(story.received_at), lambda story=story: references.__setitem__(
                story.name, run.log({
                    "landlord": story.landlord, "received_at": story.received_at, "channel": story.channel,
                    "category": story.category, "summary": f"Complaint {story.name}",
                    "resident": {"name": f"Resident {story.name}"}}, users["olive"])))
            for order, step in enumerate(story.steps, start=1):
                run.plan(datetime.fromisoformat(step[0]),
                         lambda story=story, step=step[1:]: _do(run, references[story.name], step, users), order)
        run.play(until)
    return references


def _do(run: ComplaintRun, reference: str, step: tuple, users: dict[str, User]) -> None:
    if step[0] == "complete":
        _, element, who, data = step
        run.complete(reference, _task(run.runtime, reference, element), data, users[who])
    elif step[0] == "complete if open":   # a step some versions of a diagram have
        _, element, who, data = step
        task_id = _task(run.runtime, reference, element, required=False)
        if task_id:
            run.complete(reference, task_id, data, users[who])
    elif step[0] == "claim":
        _, element, who, _ = step
        run.claim(_task(run.runtime, reference, element), who, users[who])
    elif step[0] == "event":
        run.event(reference, step[1], users["olive"])


def _task(runtime, reference: str, element_id: str, required: bool = True) -> str | None:
    with runtime.sessions() as session:
        found = session.scalars(select(Task.id).join(Complaint, Complaint.id == Task.complaint_id).where(
            Complaint.reference == reference, Task.element_id == element_id, Task.status == "open")).all()
    if required and len(found) != 1:
        raise LookupError(f"{reference}: {len(found)} open tasks {element_id!r}")
    return found[0] if found else None


def _build_into(url: str) -> dict[str, str]:
    definition_cache.clear()
    runtime = build_runtime(url, PROCESSES, FORMS)
    try:
        return build(runtime)
    finally:
        runtime.close()
        definition_cache.clear()


def built_copy(templates: Path, dialect: str, folder: Path) -> tuple[str, dict[str, str]]:
    """A database of the caller's own holding `build`'s data set, and the stories' references.

    The data set is built once per test session (per dialect) and copied: a SQLite file into `folder`,
    a PostgreSQL database of this worker's. The copy is the caller's to change.
    """
    if dialect == "sqlite":
        return databases.sqlite_copy(templates, "reporting", _build_into, folder / "reporting.sqlite3")
    return databases.postgres_copy(templates, postgres_url_or_skip(), "reporting", _build_into, label="rep")


class Copy(NamedTuple):
    runtime: Runtime
    url: str
    references: dict[str, str]


@contextmanager
def copied_runtime(templates: Path, dialect: str, folder: Path) -> Iterator[Copy]:
    """A runtime on the caller's own copy of the data set (`built_copy`), closed when the block ends."""
    url, references = built_copy(templates, dialect, folder)
    definition_cache.clear()
    runtime = build_runtime(url, PROCESSES, FORMS)
    try:
        yield Copy(runtime, url, references)
    finally:
        runtime.close()
        definition_cache.clear()

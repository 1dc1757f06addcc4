"""Demo data for a first look: every landlord's process deployed, a few users, a few complaints.

Each landlord new to the demo gets thirteen months of past complaints worked through its
process (one of them escalated and awaiting its stage 2 review, one acknowledged and awaiting its stage 1
response), then three current ones; most
open tasks are assigned to its demo people (stage 2 work to its stage 2 reviewer), and the
lessons from the past complaints are given owners, due dates and statuses.

Safe to run again: it only adds what is missing.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy import func, select

from workflow_app.casework.accounts import create_token, create_user
from workflow_app.casework.deployments import deploy_checked, diagram_files, read_forms
from workflow_app.casework.models import Complaint, LessonLearnt, Task, User
from workflow_app.casework.runtime import Runtime
from workflow_app.reporting import lessons
from workflow_app.reporting.projections import bring_up_to_date
from workflow_app.rules import clock
from workflow_app.rules.errors import Forbidden, InvalidInput
from workflow_app.rules.roles import Role
from workflow_app.rules.statuses import LessonStatus, TaskStatus
from workflow_app.rules.vocabulary import Stage

DEMO_PASSWORD = "demo"
DEMO_ACKNOWLEDGEMENT = ("Demo data: each landlord's policy is modelled as written, so the Code check's findings "
                        "on it are shown, not fixed")
DEMO_COMPLAINTS = (   # oldest first, so that references run in order of receipt
    (9, "web", "anti_social_behaviour", "Noise from the flat above every night; no action taken"),
    (4, "email", "complaint_handling", "Nobody called back about the boiler repair as promised"),
    (1, "phone", "property_condition", "Damp and mould in the back bedroom, reported twice before"),
)
TEAM = (Role.CASEWORKER, Role.COMPLAINTS_OFFICER, Role.STAGE2_REVIEWER, Role.MANAGER, Role.ANALYST)
"""Each landlord's demo people, one per role: `<landlord>.<role>`."""
IMPROVEMENT_OWNERS = ("Head of Repairs", "Customer Experience Manager", "Neighbourhood Services Lead",
                      "Complaints Lead")


def load_demo(runtime: Runtime) -> Iterator[str]:
    forms = read_forms(runtime.forms_dir)
    deployed = []
    with runtime.sessions.begin() as session:
        for landlord, path in diagram_files(runtime.processes_dir):
            if landlord in runtime.landlords:
                result = deploy_checked(session, runtime.landlords[landlord], path.read_bytes(), forms, "demo",
                                        "demo data", DEMO_ACKNOWLEDGEMENT)
                if landlord not in deployed:   # its complaint and its hazard diagrams
                    deployed.append(landlord)
                yield f"{landlord}: {path.name} version {result.version.version}"
        admin = _user(session, "admin", "Administrator", [Role.ADMIN, Role.MANAGER, Role.ANALYST], ["*"])
        yield f"API token for admin: {create_token(session, admin, 'demo')}"
        session.flush()
        session.expunge(admin)
    fresh = []
    for landlord in deployed:
        with runtime.sessions.begin() as session:
            for role in TEAM:
                _user(session, f"{landlord}.{role}", f"{role.replace('_', ' ').title()} ({landlord})",
                      [role], [landlord])
            if not session.scalar(select(func.count(Complaint.id)).where(Complaint.landlord == landlord)):
                fresh.append(landlord)
    from workflow_app.tools.demo_history import add_history
    yield from add_history(runtime, admin)           # first, so that references run in order of receipt
    for landlord in fresh:
        for days_ago, channel, category, summary in DEMO_COMPLAINTS:
            received = clock.now() - timedelta(days=days_ago)
            reference = runtime.complaints.log_complaint({
                "landlord": landlord, "received_at": received.isoformat(), "channel": channel,
                "category": category, "summary": summary,
                "resident": {"name": "Demo Resident", "email": "resident@example.org"},
            }, admin)
            yield f"{landlord}: complaint {reference} logged"
        yield f"{landlord}: {_share_out_tasks(runtime, landlord, admin)} open tasks assigned to its team"
        yield f"{landlord}: {_plan_improvements(runtime, landlord, admin)} lessons given an owner and a due date"
    measured, _ = bring_up_to_date(runtime.sessions, runtime.landlords)
    yield f"reports: {measured} responses measured (the scheduler keeps them up to date from here)"
    yield (f"users: admin and <landlord>.{' / .'.join(TEAM)}, password {DEMO_PASSWORD!r}")


def _share_out_tasks(runtime: Runtime, landlord: str, manager: User) -> int:
    """Assign most open tasks, in turn, to the landlord's demo people who may do them; leave every fourth
    before stage 2. Stage 2 work goes to the landlord's stage 2 reviewer, as the Code's 6.13 separation asks."""
    team = [f"{landlord}.{role}" for role in (Role.CASEWORKER, Role.COMPLAINTS_OFFICER, Role.STAGE2_REVIEWER)]
    with runtime.sessions() as session:
        tasks = session.execute(select(Task.id, Task.stage).join(Complaint, Complaint.id == Task.complaint_id)
                                .where(Complaint.landlord == landlord, Task.status == TaskStatus.OPEN)
                                .order_by(Task.created_at, Task.id)).all()
    assigned = 0
    for turn, (task_id, stage) in enumerate(tasks):
        if stage == Stage.TWO:
            try:
                runtime.tasks.assign(task_id, f"{landlord}.{Role.STAGE2_REVIEWER}", manager)
                assigned += 1
                continue
            except (InvalidInput, Forbidden):   # a stage 2 task for another role (a director's oversight)
                pass
        if turn % 4 == 3:
            continue
        for person in team[turn % len(team):] + team[:turn % len(team)]:
            try:
                runtime.tasks.assign(task_id, person, manager)
            except (InvalidInput, Forbidden):   # not their role, or the Code's separation at stage 2
                continue
            assigned += 1
            break
    return assigned


def _plan_improvements(runtime: Runtime, landlord: str, manager: User) -> int:
    """Give the lessons from the demo history owners, due dates and statuses, as a complaints lead would."""
    with runtime.sessions.begin() as session:
        lessons.collect(session, [landlord])
    with runtime.sessions() as session:
        entries = session.execute(select(LessonLearnt.id, LessonLearnt.recorded_at)
                                  .where(LessonLearnt.landlord == landlord).order_by(LessonLearnt.recorded_at)).all()
    service, today = lessons.LessonService(runtime.sessions), clock.now()
    for turn, (entry_id, recorded_at) in enumerate(entries):
        due = (recorded_at + timedelta(days=30 + 15 * (turn % 4))).date()
        age = (today - recorded_at).days
        status = (LessonStatus.DONE if age > 150 and turn % 5 else LessonStatus.IN_PROGRESS if age > 60 and turn % 3
                  else LessonStatus.OPEN)
        service.update(entry_id, {"owner": IMPROVEMENT_OWNERS[turn % len(IMPROVEMENT_OWNERS)],
                                  "due_on": due.isoformat(), "status": status}, manager)
    return len(entries)


def _user(session, username: str, display_name: str, roles: list[str], landlords: list[str]) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    return user or create_user(session, username, display_name, roles, landlords, DEMO_PASSWORD)

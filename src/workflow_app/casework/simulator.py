"""Run one complaint through a landlord's diagram on a virtual clock.

Analysts use it to try a diagram on a date; tests use it to pin behaviour. It runs the
same services as the app, in a throwaway SQLite database, so what it prints is what
the product would do.
"""
from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Mapping

import jsonschema
from sqlalchemy import select

from workflow_app.rules import clock
from workflow_app.casework.accounts import create_user
from workflow_app.casework.deployments import deploy, diagram_files, read_forms
from workflow_app.rules.errors import WorkflowAppError
from workflow_app.casework.letters import LetterService
from workflow_app.casework.models import Complaint, Task, User, WorkflowInstance
from workflow_app.casework.runtime import Runtime, build_runtime
from workflow_app.casework.scheduler import sweep
from workflow_app.rules.statuses import TaskStatus
from workflow_app.rules.roles import ROLES, Role, WORKER_ROLES

ONE_SECOND = timedelta(seconds=1)

SCENARIO_SCHEMA = {
    "type": "object",
    "required": ["landlord", "complaint"],
    "additionalProperties": False,
    "properties": {
        "landlord": {"type": "string"},
        "complaint": {"type": "object"},
        "steps": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["at"],
                "additionalProperties": False,
                "properties": {
                    "at": {"type": "string"},
                    "complete": {"type": "string"},
                    "event": {"type": "string"},
                    "as": {"type": "string"},
                    "data": {"type": "object"},
                },
                "not": {"required": ["complete", "event"]},
            },
        },
    },
}


class ScenarioError(Exception):
    """A scenario that cannot run, naming the step."""


def simulate(scenario: Mapping[str, Any], processes_dir: Path | None = None,
             forms_dir: Path | None = None) -> dict[str, Any]:
    try:
        jsonschema.validate(scenario, SCENARIO_SCHEMA)
    except jsonschema.ValidationError as error:
        where = "/".join(str(p) for p in error.absolute_path) or "scenario"
        raise ScenarioError(f"{where}: {error.message}") from None
    with tempfile.TemporaryDirectory(prefix="workflow-app-sim-") as folder:
        runtime = build_runtime(f"sqlite:///{Path(folder) / 'simulation.sqlite3'}", processes_dir, forms_dir)
        try:
            with clock.using(clock.VirtualClock(_received_at(scenario))):
                return _run(runtime, scenario)
        finally:
            runtime.close()


def _received_at(scenario: Mapping[str, Any]) -> datetime:
    try:
        at = datetime.fromisoformat(scenario["complaint"]["received_at"])
    except (KeyError, TypeError, ValueError):
        raise ScenarioError("complaint.received_at: give an ISO 8601 date and time with offset") from None
    if at.tzinfo is None:
        raise ScenarioError("complaint.received_at: needs a UTC offset")
    return at


def _run(runtime: Runtime, scenario: Mapping[str, Any]) -> dict[str, Any]:
    landlord = scenario["landlord"]
    if landlord not in runtime.landlords:
        raise ScenarioError(f"landlord: unknown landlord {landlord!r} (known: {', '.join(sorted(runtime.landlords))})")
    _deploy_landlord(runtime, landlord)
    logger = _user(runtime, Role.COMPLAINTS_OFFICER, landlord)
    try:
        reference = runtime.complaints.log_complaint({"landlord": landlord, **scenario["complaint"]}, logger)
    except WorkflowAppError as error:
        raise ScenarioError(f"complaint: {error}") from None
    letters = LetterService(runtime.sessions, runtime.casework, None)
    letters.send_required(reference, logger)
    for number, step in enumerate(scenario.get("steps", []), start=1):
        try:
            _run_step(runtime, letters, landlord, reference, step)
        except (WorkflowAppError, ValueError) as error:
            raise ScenarioError(f"step {number} ({_describe(step)}): {error}") from None
    return {
        "timeline": runtime.complaints.history(reference, logger),
        "final": runtime.complaints.describe(reference, logger),
    }


def _deploy_landlord(runtime: Runtime, landlord: str) -> None:
    files = diagram_files(runtime.processes_dir / landlord)
    if not files:
        raise ScenarioError(f"landlord: {landlord} has no diagram in {runtime.processes_dir / landlord}")
    forms = read_forms(runtime.forms_dir)
    with runtime.sessions.begin() as session:
        for _, path in files:
            deploy(session, landlord, path.read_bytes(), forms, "simulator")


def _run_step(runtime: Runtime, letters: LetterService, landlord: str, reference: str,
              step: Mapping[str, Any]) -> None:
    """One step at its time; the letters the Code requires are sent as they come (Code rule: before the
    next task), those a timer issued when the step's person next acts."""
    at = datetime.fromisoformat(step["at"])
    if at.tzinfo is None:
        raise ValueError("'at' needs a UTC offset")
    if at < clock.now():
        raise ValueError(f"'at' goes back in time (the clock is at {clock.now().isoformat()})")
    advance_to(runtime, at)
    user = _user(runtime, step.get("as", Role.CASEWORKER), landlord)
    letters.send_required(reference, user)
    if "complete" in step:
        task_id = _open_task(runtime, reference, step["complete"])
        runtime.tasks.complete(task_id, step.get("data", {}), user)
    elif "event" in step:
        runtime.complaints.send_event(reference, step["event"], step.get("data", {}), user)
    letters.send_required(reference, user)


def advance_to(runtime: Runtime, at: datetime) -> None:
    """Move this run's virtual clock to `at`, firing every timer due on the way, in order."""
    virtual = clock.current()
    if not isinstance(virtual, clock.VirtualClock):
        raise TypeError("advance_to moves a virtual clock: run it inside clock.using(VirtualClock(...))")
    while True:
        with runtime.sessions() as session:
            next_due = session.scalar(select(WorkflowInstance.next_due_at)
                                      .where(WorkflowInstance.next_due_at.is_not(None))
                                      .order_by(WorkflowInstance.next_due_at).limit(1))
        if next_due is None or next_due + ONE_SECOND > at:
            break
        virtual.set(max(next_due + ONE_SECOND, virtual.now()))
        sweep(runtime.complaints)
    virtual.set(at)
    sweep(runtime.complaints)


def _open_task(runtime: Runtime, reference: str, element_id: str) -> str:
    with runtime.sessions() as session:
        rows = session.execute(
            select(Task.id, Task.element_id).join(Complaint, Complaint.id == Task.complaint_id)
            .where(Complaint.reference == reference, Task.status == TaskStatus.OPEN)
        ).all()
    for task_id, element in rows:
        if element == element_id:
            return task_id
    waiting = ", ".join(sorted(e for _, e in rows)) or "none"
    raise ValueError(f"no open task {element_id!r} (open tasks: {waiting})")


def _user(runtime: Runtime, name: str, landlord: str) -> User:
    username = f"sim-{name}" if name in ROLES else name
    roles = [name] if name in ROLES else list(WORKER_ROLES)
    with runtime.sessions.begin() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            user = create_user(session, username, name, roles, [landlord])
        session.expunge(user)
        return user


def _describe(step: Mapping[str, Any]) -> str:
    if "complete" in step:
        return f"complete {step['complete']} at {step['at']}"
    if "event" in step:
        return f"event {step['event']} at {step['at']}"
    return f"advance to {step['at']}"

"""Run one complaint through a landlord's diagram on a virtual clock.

Analysts use it to try a diagram on a date; tests use it to pin behaviour. It runs the
same services as the app, in a throwaway SQLite database, so what it prints is what
the product would do. The run itself is `runner.ComplaintRun`; this module reads a scenario
and turns its steps into the run's actions.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema

from workflow_app.casework.deployments import deploy, diagram_files, read_forms
from workflow_app.casework.models import User
from workflow_app.casework.runner import ComplaintRun, scratch_runtime
from workflow_app.casework.runtime import Runtime
from workflow_app.rules.errors import WorkflowAppError
from workflow_app.rules.roles import ROLES, WORKER_ROLES, Role

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
    received_at = _received_at(scenario)
    with (scratch_runtime(processes_dir, forms_dir, prefix="workflow-app-sim-") as runtime,
          ComplaintRun(runtime, received_at, print_letters=False) as run):
        return _run(run, scenario)


def _received_at(scenario: Mapping[str, Any]) -> datetime:
    try:
        at = datetime.fromisoformat(scenario["complaint"]["received_at"])
    except (KeyError, TypeError, ValueError):
        raise ScenarioError("complaint.received_at: give an ISO 8601 date and time with offset") from None
    if at.tzinfo is None:
        raise ScenarioError("complaint.received_at: needs a UTC offset")
    return at


def _run(run: ComplaintRun, scenario: Mapping[str, Any]) -> dict[str, Any]:
    runtime = run.runtime
    landlord = scenario["landlord"]
    if landlord not in runtime.landlords:
        raise ScenarioError(f"landlord: unknown landlord {landlord!r} (known: {', '.join(sorted(runtime.landlords))})")
    _deploy_landlord(runtime, landlord)
    logger = _user(run, Role.COMPLAINTS_OFFICER, landlord)
    try:
        reference = run.log({"landlord": landlord, **scenario["complaint"]}, logger)
    except WorkflowAppError as error:
        raise ScenarioError(f"complaint: {error}") from None
    for number, step in enumerate(scenario.get("steps", []), start=1):
        try:
            _run_step(run, landlord, reference, step)
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


def _run_step(run: ComplaintRun, landlord: str, reference: str, step: Mapping[str, Any]) -> None:
    """One step at its time; the letters the Code requires are sent as they come (Code rule: before the
    next task), those a timer issued when the step's person next acts."""
    run.at(datetime.fromisoformat(step["at"]))
    user = _user(run, step.get("as", Role.CASEWORKER), landlord)
    run.send_required_letters(reference, user)
    if "complete" in step:
        run.complete(reference, run.open_task(reference, step["complete"]), step.get("data", {}), user)
    elif "event" in step:
        run.event(reference, step["event"], user, step.get("data", {}))


def _user(run: ComplaintRun, name: str, landlord: str) -> User:
    if name in ROLES:
        return run.person(f"sim-{name}", [name], [landlord], name)
    return run.person(name, list(WORKER_ROLES), [landlord])


def _describe(step: Mapping[str, Any]) -> str:
    if "complete" in step:
        return f"complete {step['complete']} at {step['at']}"
    if "event" in step:
        return f"event {step['event']} at {step['at']}"
    return f"advance to {step['at']}"

"""Moving running complaints to a newer version of their landlord's diagram.

Complaints stay on the version they started with unless an analyst moves them. A move
is safe when everything the complaint has done and everything it waits for (its open
tasks, its armed timers and awaited messages) exist in the new version, so the engine
can carry on from the same place; the history of a move that is not safe would not fit
the new diagram, and it is refused. Before moving, the analyst sees, per complaint, the
deadlines that would change (the new version's timer expressions evaluated on the
complaint's own dates). Each move is its own transaction, writes an audit event on the
complaint, and keeps the tasks (and who they are assigned to) where they are.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow_app.casework import audit
from workflow_app.casework.complaints import transaction
from workflow_app.casework.engine import load_definition
from workflow_app.casework.instances import Instance, _thread_serializer
from workflow_app.casework.models import Complaint, Deadline, DefinitionVersion, Task, WorkflowInstance
from workflow_app.casework.runtime import Runtime
from workflow_app.rules.errors import Conflict, NotFound
from workflow_app.rules.statuses import ComplaintStatus, DeadlineStatus, TaskStatus


@dataclass(frozen=True)
class DeadlineChange:
    key: str
    stage: str
    before: datetime | None
    after: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "stage": self.stage, "before": _iso(self.before), "after": _iso(self.after)}


@dataclass
class MovePlan:
    """What moving one complaint would do (or did): whether it is safe, and the deadlines that change."""

    reference: str
    from_version: int
    to_version: int
    safe: bool = True
    problems: list[str] = field(default_factory=list)
    deadlines: list[DeadlineChange] = field(default_factory=list)
    waiting_at: list[str] = field(default_factory=list)
    moved: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "from_version": self.from_version, "to_version": self.to_version,
                "safe": self.safe, "problems": list(self.problems), "waiting_at": list(self.waiting_at),
                "deadlines": [d.as_dict() for d in self.deadlines], "moved": self.moved}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class VersionMoves:
    """Previews and moves of running complaints between versions of a landlord's process."""

    def __init__(self, runtime: Runtime) -> None:
        self.sessions = runtime.sessions
        self.casework = runtime.casework

    # --- choosing ----------------------------------------------------------------------------

    def target(self, session: Session, landlord: str, version_id: int) -> DefinitionVersion:
        version = session.get(DefinitionVersion, version_id)
        if version is None or version.landlord != landlord:
            raise NotFound(f"no version {version_id} for landlord {landlord!r}")
        return version

    def running(self, landlord: str, version_id: int) -> list[dict[str, Any]]:
        """The landlord's running complaints on other versions of the target's process, oldest first."""
        with self.sessions() as session:
            target = self.target(session, landlord, version_id)
            rows = session.execute(
                select(Complaint.reference, Complaint.stage, Complaint.received_at, DefinitionVersion.version,
                       DefinitionVersion.id)
                .join(WorkflowInstance, WorkflowInstance.complaint_id == Complaint.id)
                .join(DefinitionVersion, DefinitionVersion.id == WorkflowInstance.definition_version_id)
                .where(Complaint.landlord == landlord, Complaint.status != ComplaintStatus.CLOSED,
                       DefinitionVersion.process_id == target.process_id, DefinitionVersion.id != target.id)
                .order_by(Complaint.received_at, Complaint.id)).all()
        return [{"reference": r, "stage": s, "received_at": at, "version": v, "version_id": vid}
                for r, s, at, v, vid in rows]

    # --- previewing and moving -----------------------------------------------------------------

    def preview(self, landlord: str, references: Iterable[str], version_id: int) -> list[MovePlan]:
        """What moving each complaint would do; nothing is changed."""
        plans = []
        with self.sessions() as session:
            target = self.target(session, landlord, version_id)
            for reference in references:
                complaint = self._complaint(session, landlord, reference)
                plan, _ = self._plan(complaint, target)
                plans.append(plan)
        return plans

    def move(self, landlord: str, reference: str, version_id: int, actor: str) -> MovePlan:
        """Move one complaint, in one transaction with its audit event; refused when it is not safe."""
        with transaction(self.sessions) as session:
            target = self.target(session, landlord, version_id)
            complaint = self._complaint(session, landlord, reference)
            plan, moved = self._plan(complaint, target)
            if not plan.safe:
                raise Conflict(f"{reference} cannot move to version {target.version}: {'; '.join(plan.problems)}")
            self._apply(session, complaint, target, moved, plan, actor)
            plan.moved = True
            return plan

    def move_many(self, landlord: str, references: Iterable[str], version_id: int, actor: str,
                  progress: Callable[[int, int, MovePlan], None] | None = None) -> Iterator[MovePlan]:
        """Move complaints one by one, each in its own transaction, reporting progress as it goes.

        A complaint that cannot move is reported (with why) and left where it is; the others move.
        """
        references = list(dict.fromkeys(references))
        for done, reference in enumerate(references, start=1):
            try:
                plan = self.move(landlord, reference, version_id, actor)
            except Conflict as error:
                plan = self._refused(landlord, reference, version_id, str(error))
            if progress is not None:
                progress(done, len(references), plan)
            yield plan

    def _refused(self, landlord: str, reference: str, version_id: int, reason: str) -> MovePlan:
        try:
            [plan] = self.preview(landlord, [reference], version_id)
        except NotFound:
            plan = MovePlan(reference, 0, 0, safe=False, problems=[reason])
        if plan.safe:  # refused for another reason, e.g. a concurrent change
            plan.safe, plan.problems = False, [reason]
        return plan

    def _complaint(self, session: Session, landlord: str, reference: str) -> Complaint:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).first()
        if complaint is None or complaint.landlord != landlord:
            raise NotFound(f"no complaint {reference} for landlord {landlord!r}")
        return complaint

    def _plan(self, complaint: Complaint, target: DefinitionVersion) -> tuple[MovePlan, Instance | None]:
        current = complaint.instance.definition_version
        plan = MovePlan(complaint.reference, current.version, target.version)
        if complaint.status == ComplaintStatus.CLOSED:
            plan.safe, plan.problems = False, ["the complaint is closed"]
            return plan, None
        if current.id == target.id:
            plan.safe, plan.problems = False, [f"it is already on version {target.version}"]
            return plan, None
        if current.process_id != target.process_id:
            plan.safe, plan.problems = False, [f"version {target.version} is another process ({target.process_id})"]
            return plan, None
        instance = self.casework.instance_of(complaint)
        before = {t.key: t for t in instance.armed_timers()}
        plan.waiting_at = sorted({t.element_id for t in instance.open_tasks()}
                                 | {t.element_id for t in before.values()})
        new_definition = load_definition(target)
        plan.problems = _missing(instance, new_definition)
        if plan.problems:
            plan.safe = False
            return plan, None
        try:
            moved = _migrated(complaint, instance, new_definition, self.casework.landlord(complaint.landlord).nation)
        except Exception as error:  # the engine could not align the history with the new diagram
            plan.safe, plan.problems = False, [f"the engine cannot carry its history over: {error}"]
            return plan, None
        after = {t.key: t for t in moved.armed_timers()}
        for key in sorted(before.keys() | after.keys()):
            old, new = before.get(key), after.get(key)
            if old is None or new is None or old.due_at != new.due_at:
                plan.deadlines.append(DeadlineChange(key, (new or old).stage, old.due_at if old else None,
                                                     new.due_at if new else None))
        return plan, moved

    def _apply(self, session: Session, complaint: Complaint, target: DefinitionVersion, moved: Instance,
               plan: MovePlan, actor: str) -> None:
        previous = complaint.instance.definition_version
        after = {t.key: t for t in moved.armed_timers()}
        # A deadline whose timer could not be worked out on the old version (an incident) is left to the engine:
        # the action below re-arms it as the diagram would have (an extension when it is later).
        failing = _failing(self.casework, complaint) if complaint.instance.open_incidents else set()
        for deadline in session.scalars(select(Deadline).where(Deadline.complaint_id == complaint.id,
                                                               Deadline.status == DeadlineStatus.OPEN)):
            timer = after.get(deadline.key)
            if deadline.key in failing:
                continue
            if timer is None:
                deadline.status = DeadlineStatus.CANCELLED   # the new version no longer has this deadline here
            elif timer.due_at != deadline.due_at:
                if not deadline.extended:
                    deadline.original_due_at = timer.due_at
                deadline.due_at = timer.due_at
                deadline.element_id, deadline.guards, deadline.stage = timer.element_id, timer.guards, timer.stage
        audit.record(session, complaint, "process_version_moved", actor, landlord=complaint.landlord,
                     from_version=previous.version, to_version=target.version, process_id=target.process_id,
                     deadlines=[d.as_dict() for d in plan.deadlines])
        complaint.instance.definition_version_id = target.id
        complaint.instance.definition_version = target
        open_tasks = select(Task).where(Task.complaint_id == complaint.id, Task.status == TaskStatus.OPEN)
        for task in session.scalars(open_tasks):
            element = moved.definition.elements.get(task.element_id)
            if element is not None:
                task.name, task.role, task.form_id = element.name, element.role, element.form_ref
                task.stage = element.stage or task.stage
        session.flush()     # the action reads its deadlines and tasks from the database
        self.casework.act(session, complaint, moved, actor,
                          lambda inst, action: action.steps.extend(inst.advance()))


def _failing(casework, complaint: Complaint) -> set[str]:
    instance = casework.instance_of(complaint)
    return {instance.definition.element(element_id).deadline_key for element_id in instance.failed_timers()}


def _missing(instance: Instance, definition) -> list[str]:
    """What the complaint waits at, or has done, that the new version does not have."""
    problems = []
    elements = definition.elements
    for task in instance.open_tasks():
        element = elements.get(task.element_id)
        if element is None or element.tag != instance.definition.elements[task.element_id].tag:
            problems.append(f"it waits at '{task.name}' ({task.element_id}), which the new version does not have")
    for timer in instance.armed_timers():
        if timer.element_id not in elements:
            problems.append(f"it waits for the timer {timer.element_id} ({timer.key}), which the new version "
                            "does not have")
    done = {bpmn_id for bpmn_id in instance.passed_through()
            if bpmn_id in instance.definition.elements and bpmn_id not in elements}
    for bpmn_id in sorted(done):
        name = instance.definition.elements[bpmn_id].name
        problems.append(f"it has been through '{name}' ({bpmn_id}), which the new version does not have")
    return problems


def _migrated(complaint: Complaint, instance: Instance, definition, nation: str) -> Instance:
    """A copy of the complaint's workflow moved onto the new definition (nothing saved)."""
    from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
    from SpiffWorkflow.util.task import TaskState
    copy = Instance.restore(instance.definition, nation, complaint.instance.state)
    registry = _thread_serializer().registry
    top, subprocesses = diff_workflow(registry, copy.workflow, definition.spec, definition.subprocess_specs)
    happened = TaskState.WAITING | TaskState.READY | TaskState.STARTED | TaskState.COMPLETED | TaskState.ERROR
    if any(task.state & happened for task in top.removed):
        raise ValueError("tasks it has done are not in the new version")
    migrate_workflow(top, copy.workflow, definition.spec)
    for sub_id, sub_diff in subprocesses.items():
        subworkflow = copy.workflow.subprocesses[sub_id]
        if sub_diff is None:
            raise ValueError(f"the subprocess {subworkflow.spec.name} is not in the new version")
        migrate_workflow(sub_diff, subworkflow, definition.subprocess_specs[subworkflow.spec.name])
    moved = Instance(definition, copy.workflow)
    Instance.restore(definition, nation, moved.dump())   # proves the moved state reads back
    return moved

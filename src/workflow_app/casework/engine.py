"""Running a complaint's process and recording what it did.

Every action on a complaint (logging it, completing a task, an event from outside, a
timer coming due) goes through `Casework.act`: load the instance, let the action move
it, deliver any events that were waiting for it, then copy what the diagram now waits
for into the indexed rows (tasks, deadlines, stage, status, `next_due_at`, incidents)
and write an audit event for each change, all in the action's transaction.

The tasks, deadlines and letters an action writes are read and written with SQLAlchemy
Core (`CaseRows`), not through the ORM's unit of work: the action does not read them
again, and they are written with a statement a table, after the instance's revision
check, in the same transaction as the audit events that tell of them.

A timer that falls due during someone's action fires as the clock's doing, not theirs,
and a timer whose due time cannot be worked out never undoes the action: the complaint
gets an incident for the analysts instead.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import Connection, Table, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from workflow_app.casework import audit
from workflow_app.casework.instances import ArmedTimer, Instance, Step, Survey
from workflow_app.casework.models import (
    Complaint,
    Deadline,
    DefinitionVersion,
    Incident,
    Letter,
    PendingEvent,
    Task,
    WorkflowInstance,
)
from workflow_app.diagrams.definitions import Definition, Element, compile_definition
from workflow_app.diagrams.definitions import cache as definition_cache
from workflow_app.diagrams.forms import load_form
from workflow_app.diagrams.letter_templates import letter_environment
from workflow_app.rules import clock
from workflow_app.rules.landlords import Landlord
from workflow_app.rules.statuses import ComplaintStatus, DeadlineStatus, LetterStatus, TaskStatus
from workflow_app.rules.vocabulary import STAGE_DUTIES, is_duty, is_recurring, stage_order


def load_definition(version: DefinitionVersion) -> Definition:
    """The parsed definition of a deployed version, parsed once per process."""
    def build() -> Definition:
        forms = {form_id: load_form(source) for form_id, source in (version.forms or {}).items()}
        return compile_definition(version.xml, forms)
    return definition_cache.get(version.content_hash, build)


@dataclass
class Action:
    """What happened during one action, gathered for the record."""

    actor: str
    steps: list[Step] = field(default_factory=list)
    tasks_ready: list[Task] = field(default_factory=list)
    """The tasks this action made ready (their rows just added), in the diagram's order."""


class Casework:
    """Moves complaints' instances and keeps their indexed record in step."""

    def __init__(self, landlords: Mapping[str, Landlord]) -> None:
        self.landlords = landlords
        self._letters: dict[str, SandboxedEnvironment] = {}
        self._content_of: dict[int, str] = {}   # definition version id -> content hash, in this runtime's database

    def landlord(self, slug: str) -> Landlord:
        return self.landlords[slug]

    def definition(self, session: Session, version_id: int) -> Definition:
        """A deployed version's parsed definition, found by id and content hash in the process's cache; its
        content (diagram and forms) is read from the database only when the cache does not hold it."""
        content = self._content_of.get(version_id)
        cached = definition_cache.peek(content) if content else None
        if cached is not None:
            return cached
        version = session.get(DefinitionVersion, version_id)
        self._content_of[version_id] = version.content_hash
        return load_definition(version)

    def instance_of(self, complaint: Complaint) -> Instance:
        record = complaint.instance
        definition = self.definition(object_session(complaint), record.definition_version_id)
        return Instance.restore(definition, self.landlord(complaint.landlord).nation, record.state)

    def act(self, session: Session, complaint: Complaint, instance: Instance, actor: str,
            move: Callable[[Instance, Action], None], *, new: bool = False,
            open_tasks: list[Task] | None = None, on_ready: Callable[[Action], None] | None = None,
            task_changes: Mapping[str, Mapping[str, Any]] | None = None) -> Action:
        """Apply one move to a complaint's instance and record everything it caused.

        The complaint's rows an action updates are read first (none when the complaint is `new`, logged in
        this action; its `open_tasks` when the caller read them already); then the move, and the record of it.
        `on_ready` sees the tasks the action made ready before their rows are written (the next task handed to
        the case owner). `task_changes`: what the caller changed of tasks it read, by task id (the task it
        completes), written with the action's other task changes. The instance's row is written first, with its
        revision check, then the tasks, deadlines and letters; the rest (the complaint's row, the audit events)
        when the transaction commits."""
        rows = CaseRows.none() if new else CaseRows.read(session, complaint, open_tasks)
        for task_id, values in (task_changes or {}).items():
            rows.task_changes.setdefault(task_id, {}).update(values)
        action = Action(actor)
        move(instance, action)
        self._deliver_pending_events(session, complaint, instance, action, rows.pending_events)
        survey = instance.survey()
        self._record(session, complaint, instance, action, survey, rows)
        if survey.failed or complaint.instance.open_incidents:
            self._record_incidents(session, complaint, survey.failed, action.actor)
        if on_ready is not None:
            on_ready(action)
        instance.prune()    # after the record is written from it: history lives in the audit trail
        _save(session, complaint.instance, instance.dump(), survey.armed[0].due_at if survey.armed else None)
        rows.write(session.connection())
        return action

    # --- events that arrived early ---------------------------------------------------

    def _deliver_pending_events(self, session: Session, complaint: Complaint, instance: Instance,
                                action: Action, waiting: list[PendingEvent]) -> None:
        delivered = True
        while waiting and delivered:
            delivered = False
            for pending in list(waiting):
                if instance.finished or not deliver_event(instance, pending.name, pending.data,
                                                          pending.received_at, action):
                    continue
                pending.delivered_at = clock.now()
                complaint.instance.pending_events -= 1
                audit.record(session, complaint, "event_delivered", action.actor,
                             name=pending.name, received_at=pending.received_at.isoformat())
                waiting.remove(pending)
                delivered = True

    # --- recording -------------------------------------------------------------------

    def _record(self, session: Session, complaint: Complaint, instance: Instance, action: Action,
                survey: Survey, rows: CaseRows) -> None:
        now = clock.now()
        deadlines = rows.deadlines
        if complaint.status == ComplaintStatus.CLOSED and not instance.finished and (survey.open_tasks or survey.armed):
            self._reopen(session, complaint, action.actor)
        closing: str | None = None      # the outcome of an element that closes the complaint while it waits on
        met_by: dict[str, str] = {}     # a guarded scope -> how the end reached inside it meets its deadline
        for step in action.steps:
            if step.kind == "timer_fired":
                self._timer_fired(session, complaint, instance, deadlines, step)
            elif step.kind == "letter":
                self._issue_letter(session, complaint, instance, step, action.actor, rows)
            elif step.kind == "end" and step.detail:
                complaint.outcome = step.detail  # kept even if another branch finishes the process later
            elif step.kind == "close":
                closing = step.detail
            elif step.kind == "scope_end":
                scope = instance.definition.element(step.element_id).enclosing
                if scope:
                    met_by[scope[0]] = step.detail
        armed = survey.armed
        # A timer waiting without a due time (an incident) still keeps its deadline running, at the last due time known.
        failing = {instance.definition.element(element_id).deadline_key for element_id in survey.failed}
        self._record_deadlines(session, complaint, survey, deadlines, armed, action.actor, now, met_by, failing)
        action.tasks_ready = self._record_tasks(session, complaint, instance, survey, rows, action.actor)
        self._record_stage(session, complaint, survey, action.actor)
        if instance.finished and complaint.status != ComplaintStatus.CLOSED:
            self._close(session, complaint, deadlines,
                        complaint.outcome or instance.data().get("outcome") or "completed", action.actor, now)
        elif closing and complaint.status != ComplaintStatus.CLOSED and not (survey.open_tasks or survey.armed):
            self._close(session, complaint, deadlines, closing, action.actor, now)

    def _timer_fired(self, session, complaint, instance, deadlines, step: Step) -> None:
        """A timer came due: the clock's doing, whoever's action it fell due in."""
        element = instance.definition.element(step.element_id)
        actor = audit.CLOCK
        audit.record(session, complaint, "timer_fired", actor, element_id=element.id, key=element.deadline_key)
        deadline = _latest(deadlines, element.deadline_key, {DeadlineStatus.OPEN})
        if deadline is None:
            if step.due_at is None:
                return
            # Armed and already past due within this one action (an event that waited too long).
            deadline = _set_deadline(session, complaint, deadlines, element.deadline_key, element.stage,
                                     element.id, element.attached_to, step.due_at, actor)
        if is_duty(deadline.key):
            deadline.missed = True
            deadline.status = DeadlineStatus.MISSED
            if element.attached_to and element.interrupting:
                deadline.guards = None  # the late work was cancelled by the timer: it can never be met
            audit.record(session, complaint, "deadline_missed", actor, key=deadline.key, stage=deadline.stage,
                         due_at=deadline.due_at.isoformat())
        else:
            deadline.status = DeadlineStatus.ELAPSED

    def _record_deadlines(self, session, complaint, survey: Survey, deadlines, armed: list[ArmedTimer],
                          actor: str, now: datetime, met_by: Mapping[str, str], failing: set[str]) -> None:
        armed_keys = set(failing)
        for timer in armed:
            armed_keys.add(timer.key)
            deadline = _latest(deadlines, timer.key, {DeadlineStatus.OPEN, DeadlineStatus.MISSED})
            if deadline is not None and is_recurring(timer.key) and deadline.due_at != timer.due_at:
                # The next round of a recurring deadline: the last one was kept, this one starts.
                if deadline.status == DeadlineStatus.OPEN:
                    deadline.status, deadline.met_at = DeadlineStatus.MET, now
                    audit.record(session, complaint, "deadline_met", actor, key=deadline.key, stage=deadline.stage)
                elif deadline.met_at is None:
                    deadline.met_at = now
                    audit.record(session, complaint, "deadline_met", actor, key=deadline.key, stage=deadline.stage,
                                 late=True)
                deadline = None
            if deadline is None:
                _set_deadline(session, complaint, deadlines, timer.key, timer.stage, timer.element_id,
                              timer.guards, timer.due_at, actor)
                continue
            # The same key re-armed (an extension loop, or the next task carrying it on).
            deadline.element_id, deadline.guards, deadline.stage = timer.element_id, timer.guards, timer.stage
            if deadline.due_at == timer.due_at:
                continue
            deadline.extended = deadline.extended or timer.due_at > deadline.due_at
            deadline.due_at = timer.due_at
            if deadline.status == DeadlineStatus.MISSED and timer.due_at > now:
                deadline.status = DeadlineStatus.OPEN
            audit.record(session, complaint, "deadline_set", actor, key=deadline.key, stage=deadline.stage,
                         due_at=deadline.due_at.isoformat(), extended=deadline.extended)
        for deadline in deadlines:
            if deadline.key in armed_keys:
                continue
            # A reminder called off by the thing it reminds about (the response sent, the works done) was kept;
            # any other guarded work called off (say, closed for no contact) is neither met nor missed.
            cancelled = deadline.guards is not None and not is_recurring(deadline.key) \
                and deadline.guards in survey.cancelled
            how = met_by.get(deadline.guards or "")
            if deadline.status == DeadlineStatus.OPEN and cancelled:
                deadline.status = DeadlineStatus.CANCELLED
                audit.record(session, complaint, "deadline_cancelled", actor, key=deadline.key, stage=deadline.stage)
            elif deadline.status == DeadlineStatus.OPEN:
                deadline.status, deadline.met_at, deadline.met_by = DeadlineStatus.MET, now, how
                audit.record(session, complaint, "deadline_met", actor, key=deadline.key, stage=deadline.stage,
                             **({"met_by": how} if how else {}))
            elif deadline.status == DeadlineStatus.MISSED and deadline.met_at is None and deadline.guards is not None \
                    and deadline.guards not in survey.active:
                if cancelled:
                    deadline.guards = None  # missed, and the work was never done
                    continue
                deadline.met_at, deadline.met_by = now, how
                audit.record(session, complaint, "deadline_met", actor, key=deadline.key, stage=deadline.stage,
                             late=True, **({"met_by": how} if how else {}))

    def _record_tasks(self, session, complaint, instance, survey: Survey, case_rows: CaseRows,
                      actor: str) -> list[Task]:
        rows = {t.id: t for t in case_rows.open_tasks}
        ready = []
        open_now = survey.open_tasks
        running = [d for d in case_rows.deadlines if d.running and is_duty(d.key)]
        for task in open_now:
            due = due_for(instance.definition.element(task.element_id), task.stage, running)
            row = rows.pop(task.task_id, None)
            if row is None:
                row = Task(id=task.task_id, complaint_id=complaint.id, landlord=complaint.landlord,
                           element_id=task.element_id, name=task.name, stage=task.stage, role=task.role,
                           form_id=task.form_id, assignee=None, due_at=due, status=TaskStatus.OPEN,
                           created_at=clock.now(), completed_at=None, completed_by=None)
                case_rows.new_tasks.append(row)
                ready.append(row)
                audit.record(session, complaint, "task_ready", actor, task_id=task.task_id,
                             element_id=task.element_id, name=task.name, stage=task.stage, role=task.role,
                             due_at=due.isoformat() if due else None)
            elif row.due_at != due:
                case_rows.change_task(row, due_at=due)
        for row in rows.values():
            case_rows.change_task(row, status=TaskStatus.CANCELLED)
            audit.record(session, complaint, "task_cancelled", actor, task_id=row.id, element_id=row.element_id)
        return ready

    def _record_stage(self, session, complaint, survey: Survey, actor: str) -> None:
        """The complaint's stage: its open tasks' (the latest of them), else its running duties' (waiting for
        the resident or an event). A clock already running before a stage starts (the acknowledgement, from
        receipt) does not move the complaint into that stage while it waits for the decision to accept it."""
        stages = [t.stage for t in survey.open_tasks] or [t.stage for t in survey.armed if is_duty(t.key)]
        if not stages:
            return
        stage = max(stages, key=stage_order)
        if stage != complaint.stage:
            complaint.stage = stage
            audit.record(session, complaint, "stage_changed", actor, stage=stage)

    def _reopen(self, session, complaint, actor: str) -> None:
        """A closed complaint whose process took an event it still waited for (Great Places: a stage 2 request
        after closing at stage 1, which its policy allows at any time) is open again until it closes anew."""
        audit.record(session, complaint, "reopened", actor, outcome=complaint.outcome)
        complaint.status, complaint.outcome, complaint.closed_at = ComplaintStatus.OPEN, None, None

    def _close(self, session, complaint, deadlines, outcome: str, actor: str, now: datetime) -> None:
        for deadline in deadlines:
            if deadline.status == DeadlineStatus.OPEN:
                deadline.status = DeadlineStatus.CANCELLED
        complaint.status, complaint.outcome, complaint.closed_at = ComplaintStatus.CLOSED, outcome, now
        audit.record(session, complaint, "closed", actor, outcome=outcome)

    def _record_incidents(self, session, complaint, failed: Mapping[str, str], actor: str) -> None:
        """Open an incident for each timer whose due time failed; resolve those that work again."""
        now = clock.now()
        open_incidents = {i.element_id: i for i in session.scalars(
            select(Incident).where(Incident.complaint_id == complaint.id, Incident.kind == "timer",
                                   Incident.resolved_at.is_(None)))}
        for element_id, message in failed.items():
            incident = open_incidents.pop(element_id, None)
            if incident is None:
                session.add(Incident(complaint_id=complaint.id, landlord=complaint.landlord, element_id=element_id,
                                     kind="timer", message=message[:2000], since=now))
                audit.record(session, complaint, "incident_opened", audit.CLOCK, element_id=element_id,
                             kind="timer", message=message[:2000])
            elif incident.message != message[:2000]:
                incident.message = message[:2000]
        for element_id, incident in open_incidents.items():
            incident.resolved_at = now
            audit.record(session, complaint, "incident_resolved", actor, element_id=element_id, kind=incident.kind)
        complaint.instance.open_incidents = len(failed)

    # --- letters ---------------------------------------------------------------------

    def _issue_letter(self, session, complaint, instance, step: Step, actor: str, rows: CaseRows) -> None:
        element = instance.definition.element(step.element_id)
        rows.new_letters.append({
            "complaint_id": complaint.id, "template": step.detail, "element_id": element.id,
            "stage": element.stage or complaint.stage, "status": LetterStatus.DRAFT,
            "body_html": self._render_letter(complaint, instance, step.detail), "created_at": clock.now(),
            "owner": actor if actor != audit.CLOCK else case_owner(session, complaint)})
        audit.record(session, complaint, "letter_issued", actor, template=step.detail, element_id=element.id)

    def _render_letter(self, complaint: Complaint, instance: Instance, template: str) -> str | None:
        landlord = self.landlord(complaint.landlord)
        environment = self._letters.get(landlord.slug)
        if environment is None:
            environment = self._letters[landlord.slug] = letter_environment(Path(landlord.folder) / "letters")
        try:
            case = instance.data()
            if not complaint.is_hazard:
                case = LetterCase(case, lambda: hazard_work(object_session(complaint), complaint))
            return environment.get_template(f"{template}.html").render(
                complaint=complaint, landlord=landlord, case=case)
        except TemplateNotFound:
            return None


class LetterCase(dict):
    """A complaint's case data as its letters see it, with the hazard work raised from it (`hazard_work`) read from
    the database only when the letter asks for it (a response tells it; an acknowledgement does not)."""

    WORK = "hazard_work"

    def __init__(self, data: Mapping[str, Any], work: Callable[[], list[dict[str, Any]]]) -> None:
        super().__init__(data)
        self._work: Callable[[], list[dict[str, Any]]] | None = work

    def _read_work(self) -> None:
        if self._work is not None:
            self[self.WORK], self._work = self._work(), None

    def __getitem__(self, key: str) -> Any:
        if key == self.WORK:
            self._read_work()
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        if key == self.WORK:
            self._read_work()
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        if key == self.WORK:
            self._read_work()
        return super().__contains__(key)


def hazard_work(session: Session, complaint: Complaint) -> list[dict[str, Any]]:
    """The hazard cases raised from a complaint as its letters tell them (Awaab's Law): when the landlord became
    aware, the steps done and when, the steps still open and when each is due."""
    work = []
    with session.no_autoflush:    # read without flushing the action's rows: they are written in its one flush
        hazards = list(session.scalars(_HAZARDS_RAISED, {"complaint_id": complaint.id}))
        rows = {hazard.id: list(session.scalars(_HAZARD_TASKS, {"complaint_id": hazard.id})) for hazard in hazards}
    for hazard in hazards:
        tasks = rows[hazard.id]
        work.append({"reference": hazard.reference, "aware_at": hazard.received_at,
                     "closed": hazard.status == ComplaintStatus.CLOSED,
                     "done": [{"name": t.name, "at": t.completed_at} for t in tasks
                              if t.status == TaskStatus.COMPLETED],
                     "next": [{"name": t.name, "due": t.due_at} for t in tasks
                              if t.status == TaskStatus.OPEN and t.due_at is not None]})
    return work


_HAZARDS_RAISED = select(Complaint).where(Complaint.raised_from_id == bindparam("complaint_id")).order_by(Complaint.id)
_HAZARD_TASKS = select(Task).where(Task.complaint_id == bindparam("complaint_id"),
                                   Task.status != TaskStatus.CANCELLED).order_by(Task.created_at, Task.id)


def _save(session: Session, record: WorkflowInstance, state: str, next_due_at: datetime | None) -> None:
    """Write the instance's row first, with its revision check: of two actions on one complaint at once,
    the second stops here (a conflict) before it writes anything else. The tasks, deadlines and letters
    follow (`CaseRows.write`), the rest of the action's rows when the transaction commits."""
    values = {"state": state, "next_due_at": next_due_at, "updated_at": clock.now(),
              "pending_events": record.pending_events, "open_incidents": record.open_incidents or 0}
    if record.id is None:      # logged in this action: inserted, its revision the first
        values.update(complaint_id=record.complaint_id, definition_version_id=record.definition_version_id,
                      revision=1)
        record.id = session.connection().execute(_INSERT_INSTANCE, values).inserted_primary_key[0]
        for name, value in values.items():
            setattr(record, name, value)
        return
    values["revision"] = record.revision + 1
    written = session.connection().execute(_SAVE_INSTANCE, {"row_id": record.id, "read": record.revision, **values})
    if written.rowcount != 1:
        raise StaleDataError("the complaint's instance was changed by another action")
    for name, value in values.items():
        set_committed_value(record, name, value)


_instances = WorkflowInstance.__table__
_SAVE_INSTANCE = update(_instances).where(_instances.c.id == bindparam("row_id"),
                                          _instances.c.revision == bindparam("read")).values(
    {name: bindparam(name) for name in ("state", "next_due_at", "updated_at", "pending_events", "open_incidents",
                                        "revision")})
"""The instance's write with its revision check, built once (building a statement costs more than running it)."""
_INSERT_INSTANCE = insert(_instances)
_TABLES = {model: model.__table__ for model in (Task, Deadline, Letter)}
_DEADLINE_CHANGES = ("stage", "element_id", "guards", "due_at", "met_at", "met_by", "missed", "extended", "status")
"""What an action may change of a deadline it read."""
_INSERT = {model: insert(table) for model, table in _TABLES.items()}
_UPDATES: dict[tuple[Table, tuple[str, ...]], Any] = {}
_OF_COMPLAINT = bindparam("complaint_id", type_=_TABLES[Deadline].c.complaint_id.type)
_READ_DEADLINES = select(_TABLES[Deadline]).where(
    _TABLES[Deadline].c.complaint_id == _OF_COMPLAINT,
    or_(_TABLES[Deadline].c.status == DeadlineStatus.OPEN, _TABLES[Deadline].c.status == DeadlineStatus.MISSED)) \
    .order_by(_TABLES[Deadline].c.id)
"""The deadlines an action can still change: met, elapsed and cancelled ones are settled (each round of a recurring
reminder leaves one behind). This and the two below are built once, as `_update`'s are (the statuses as two
comparisons, not `IN`, whose list SQLAlchemy expands into the SQL again on every run)."""
_READ_OPEN_TASKS = select(_TABLES[Task]).where(_TABLES[Task].c.complaint_id == _OF_COMPLAINT,
                                               _TABLES[Task].c.status == TaskStatus.OPEN)
_READ_PENDING_EVENTS = select(PendingEvent).where(
    PendingEvent.complaint_id == _OF_COMPLAINT, PendingEvent.delivered_at.is_(None)).order_by(PendingEvent.id)


def _update(table: Table, columns: tuple[str, ...]) -> Any:
    """An update by id of these columns, built once (building a statement costs more than running it)."""
    statement = _UPDATES.get((table, columns))
    if statement is None:
        statement = _UPDATES[(table, columns)] = update(table).where(table.c.id == bindparam("row_id")).values(
            {name: bindparam(name) for name in columns})
    return statement


@dataclass
class CaseRows:
    """The rows of one complaint an action reads and updates, read once before the move, and what the action
    inserts: written together by `write`, a statement a table (and one for each kind of update)."""

    deadlines: list[Deadline]
    """The deadlines an action can still change, and those it sets (not in the session: written by `write`)."""
    open_tasks: list[Task]
    pending_events: list[PendingEvent]
    read_as: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    """Each deadline read, by id: its changeable columns as read, to write only what changed."""
    new_tasks: list[Task] = field(default_factory=list)
    task_changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_letters: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def none(cls) -> CaseRows:
        """A complaint logged in this action: nothing to read."""
        return cls([], [], [])

    @classmethod
    def read(cls, session: Session, complaint: Complaint, open_tasks: list[Task] | None = None) -> CaseRows:
        """Read without flushing first: what the action changed already stays in memory until its one flush
        (so a task just completed is still open in the database, and is told apart by its status here)."""
        which = {"complaint_id": complaint.id}
        with session.no_autoflush:
            read = [Deadline(**row._mapping) for row in session.connection().execute(_READ_DEADLINES, which)]
            if open_tasks is None:
                open_tasks = [Task(**row._mapping) for row in session.connection().execute(_READ_OPEN_TASKS, which)]
            return cls(
                deadlines=read,
                open_tasks=[task for task in open_tasks if task.status == TaskStatus.OPEN],
                pending_events=list(session.scalars(_READ_PENDING_EVENTS, which))
                if complaint.instance.pending_events else [],
                read_as={d.id: _changeable(d) for d in read},
            )

    def change_task(self, task: Task, **values: Any) -> None:
        """Change an open task's row (written by `write`; a task the session holds is not written twice)."""
        for name, value in values.items():
            set_committed_value(task, name, value)
        self.task_changes.setdefault(task.id, {}).update(values)

    def write(self, connection: Connection) -> None:
        """Insert and update the action's tasks, deadlines and letters."""
        tasks, deadlines = _TABLES[Task], _TABLES[Deadline]
        if self.new_tasks:
            connection.execute(_INSERT[Task], [_values(task, tasks) for task in self.new_tasks])
        if self.new_letters:
            connection.execute(_INSERT[Letter], self.new_letters)
        added = [_values(d, deadlines, without=("id",)) for d in self.deadlines if d.id is None]
        if added:
            connection.execute(_INSERT[Deadline], added)
        changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for deadline in self.deadlines:
            before = self.read_as.get(deadline.id)
            if before is None:
                continue
            now = _changeable(deadline)
            values = {name: value for name, value, was in zip(_DEADLINE_CHANGES, now, before, strict=True)
                      if value != was}
            if values:
                changed.setdefault(tuple(values), []).append({"row_id": deadline.id, **values})
        for columns, rows in changed.items():
            connection.execute(_update(deadlines, columns), rows)
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for task_id, values in self.task_changes.items():
            by_columns.setdefault(tuple(sorted(values)), []).append({"row_id": task_id, **values})
        for columns, rows in by_columns.items():
            connection.execute(_update(tasks, columns), rows)


def _changeable(deadline: Deadline) -> tuple[Any, ...]:
    return tuple(getattr(deadline, name) for name in _DEADLINE_CHANGES)


def _values(row: Any, table: Table, without: tuple[str, ...] = ()) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in table.columns if column.key not in without}


def due_for(element: Element, stage: str, running: list[Deadline]) -> datetime | None:
    """When a user task is due: the earliest running duty deadline it works towards.

    That is the deadlines its diagram names (property `works_towards`); else those whose timer sits on
    it or on a subprocess around it (the acknowledgement's clock around everything before it); else its
    stage's Code duties. A duty missed and not yet done still runs, so its task stays overdue.
    """
    named = element.works_towards
    if named is not None:
        towards = [d for d in running if d.key in named]
    else:
        around = {element.id, *element.enclosing}
        towards = [d for d in running if d.guards in around] \
            or [d for d in running if d.key in STAGE_DUTIES.get(stage, ())]
    return min((d.due_at for d in towards), default=None)


def case_owner(session: Session, complaint: Complaint) -> str | None:
    """Who last completed a task on the complaint: whose inbox work the clock creates goes to (none yet: the
    team's)."""
    with session.no_autoflush:    # read without flushing the action's rows: they are written in its one flush
        return session.scalars(_CASE_OWNER, {"complaint_id": complaint.id}).first()


_CASE_OWNER = select(Task.completed_by).where(
    Task.complaint_id == bindparam("complaint_id"), Task.status == TaskStatus.COMPLETED,
    Task.completed_by.is_not(None)).order_by(Task.completed_at.desc(), Task.id.desc()).limit(1)
"""Built once, as the statements below: building a statement costs more than running it."""


def deliver_event(instance: Instance, name: str, data: Mapping[str, Any], received_at: datetime,
                  action: Action) -> bool:
    """Deliver an event and run on; False (and nothing changed) when nothing can take it yet."""
    if not instance.deliver(name, data, received_at):
        return False
    action.steps.extend(instance.advance())
    return True


def _set_deadline(session: Session, complaint: Complaint, deadlines: list[Deadline], key: str, stage: str,
                  element_id: str, guards: str | None, due_at: datetime, actor: str) -> Deadline:
    deadline = Deadline(id=None, complaint_id=complaint.id, landlord=complaint.landlord, key=key, stage=stage,
                        element_id=element_id, guards=guards, due_at=due_at, original_due_at=due_at, met_at=None,
                        met_by=None, missed=False, extended=False, status=DeadlineStatus.OPEN)
    deadlines.append(deadline)     # not in the session: inserted by `CaseRows.write`
    audit.record(session, complaint, "deadline_set", actor, key=key, stage=stage, due_at=due_at.isoformat(),
                 extended=False)
    return deadline


def _latest(deadlines: list[Deadline], key: str | None, statuses: set[str]) -> Deadline | None:
    for deadline in reversed(deadlines):
        if deadline.key == key and deadline.status in statuses:
            return deadline
    return None


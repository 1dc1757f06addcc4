"""User tasks: who may do them, completing them with checked form data, claiming them,
and listing them for an inbox."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, exists, or_, select
from sqlalchemy.orm import Session, contains_eager, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from workflow_app.casework import audit, notifications
from workflow_app.casework.complaints import task_body, transaction
from workflow_app.casework.engine import Action, Casework
from workflow_app.casework.instances import Instance, TaskNotOpen
from workflow_app.casework.letters import unsent_required
from workflow_app.casework.models import Complaint, Deadline, Letter, Task, User
from workflow_app.casework.schemas import Completion, parse
from workflow_app.diagrams.definitions import Element
from workflow_app.diagrams.forms import Form, validate_submission
from workflow_app.rules import clock, roles
from workflow_app.rules.errors import Conflict, Forbidden, InvalidInput, NotFound
from workflow_app.rules.statuses import DeadlineStatus, LetterStatus, TaskStatus

PAGE_SIZE = 50
AT_ONCE = 100
"""The most tasks a manager reassigns in one go (an inbox page holds fewer)."""


class LetterNotSent(Conflict):
    """Code rule: a letter the Code requires is sent before the complaint's next task is done."""

    def __init__(self, letters: list[Letter]) -> None:
        self.letters = [(letter.id, letter.template) for letter in letters]
        names = ", ".join(template.replace("_", " ") for _, template in self.letters)
        super().__init__(f"Send the {names} letter first: the Complaint Handling Code requires it before "
                         "the next task.")

    def body(self) -> dict:
        return {"error": str(self), "letters": [{"id": id, "template": template} for id, template in self.letters]}


def may_work(user: User, task: Task) -> bool:
    """Whether the user holds the task's role (managers and admins may step in anywhere)."""
    return roles.may_work(user.roles, task.role)


def _stamped(element: Element, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The values with the completion time under the task's `timestamp` property, when it names one."""
    name = element.properties.get("timestamp")
    return {**values, name: now} if name else values


@cache
def _work_query(with_open_tasks: bool) -> Select:
    """A task with its complaint, the complaint's instance and whether it has letters still drafts (and,
    `with_open_tasks`, the complaint's other open tasks), for the task id bound as `task_id`: built once, as building
    a statement costs more than running it."""
    task_id = bindparam("task_id", type_=Task.id.type)
    drafts = exists().where(Letter.complaint_id == Complaint.id, Letter.status == LetterStatus.DRAFT)
    query = select(Task, Complaint, drafts.label("drafts")).join(Complaint, Complaint.id == Task.complaint_id) \
        .join(Complaint.instance).options(contains_eager(Complaint.instance))
    if not with_open_tasks:
        return query.where(Task.id == task_id)
    its_complaint = select(Task.complaint_id).where(Task.id == task_id).scalar_subquery()
    return query.where(Task.complaint_id == its_complaint, or_(Task.id == task_id, Task.status == TaskStatus.OPEN))


_EARLIER_RESPONSE = select(Task).where(
    Task.complaint_id == bindparam("complaint_id"), Task.element_id.in_(bindparam("elements", expanding=True)),
    Task.status == TaskStatus.COMPLETED, Task.completed_by == bindparam("username"))
"""A task of these elements the person completed on the complaint (Code 6.13), built once as `_work_query` is."""


class TaskService:
    def __init__(self, sessions: sessionmaker[Session], casework: Casework) -> None:
        self.sessions = sessions
        self.casework = casework

    def _task(self, session: Session, task_id: str, user: User) -> tuple[Task, Complaint, bool]:
        """The task with its complaint and the complaint's instance, and whether the complaint has letters
        still drafts, in one query."""
        task, complaint, drafts, _ = self._work_at(session, task_id, user, with_open_tasks=False)
        return task, complaint, drafts

    def _work_at(self, session: Session, task_id: str, user: User,
                 with_open_tasks: bool = True) -> tuple[Task, Complaint, bool, list[Task]]:
        """As `_task`, with the complaint's other open tasks (which completing this one updates) in the same
        query."""
        rows = session.execute(_work_query(with_open_tasks), {"task_id": task_id}).all()
        found = next((row for row in rows if row.Task.id == task_id), None)
        if found is None or not user.may_see(found.Complaint.landlord):
            raise NotFound(f"no task {task_id}")
        return found.Task, found.Complaint, bool(found.drafts), [row.Task for row in rows]

    def _separation_breach(self, session: Session, complaint: Complaint, task: Task, username: str) -> str | None:
        """Code 6.13: the person who did an earlier stage's response may not do this one."""
        definition = self.casework.definition(session, complaint.instance.definition_version_id)
        element = definition.elements.get(task.element_id)
        separate_from = element.separate_from if element else ()
        if not separate_from:
            return None
        earlier = session.scalars(_EARLIER_RESPONSE, {"complaint_id": complaint.id, "elements": list(separate_from),
                                                      "username": username}).first()
        if earlier is None:
            return None
        return (f"{username} completed '{earlier.name}' on this complaint; a different person must do "
                f"'{task.name}' (Complaint Handling Code 6.13)")

    def complete(self, task_id: str, data: Any, user: User) -> dict[str, Any]:
        """Complete a task with form data; nothing changes when the data is refused."""
        data = parse(Completion, {"data": data}).data
        with transaction(self.sessions) as session:
            task, complaint, drafts, open_tasks = self._work_at(session, task_id, user)
            if task.status != TaskStatus.OPEN:
                raise Conflict(f"task {task_id} is no longer open (it is {task.status})")
            if not may_work(user, task):
                raise Forbidden(f"this task is for the {task.role} role")
            breach = self._separation_breach(session, complaint, task, user.username)
            if breach:
                raise Forbidden(breach)
            if task.assignee and task.assignee != user.username and not roles.may_supervise(user.roles):
                raise Forbidden(f"this task is assigned to {task.assignee}")
            unsent = drafts and unsent_required(session, complaint.id,
                                                self.casework.landlord(complaint.landlord).regime)
            if unsent:
                raise LetterNotSent(unsent)
            instance = self.casework.instance_of(complaint)
            values = self._validated(instance, task, data)
            element = instance.definition.element(task.element_id)
            now = clock.now()
            done = {"status": TaskStatus.COMPLETED, "completed_at": now, "completed_by": user.username}
            for name, value in done.items():    # its row is written with the action's rows (`Casework.act`)
                set_committed_value(task, name, value)
            audit.record(session, complaint, "task_completed", user.username, task_id=task.id,
                         element_id=task.element_id, name=task.name, stage=task.stage, data=values)

            values = _stamped(element, values, now)

            def move(inst: Instance, action: Action) -> None:
                try:
                    action.steps.extend(inst.complete(task_id, values))
                except TaskNotOpen:
                    raise Conflict(f"task {task_id} is no longer open") from None

            owner = task.assignee or user.username
            handed: list[Task] = []

            def hand_on(action: Action) -> None:
                handed.extend(self._hand_on(session, complaint, instance, task, action.tasks_ready, owner, user))

            self.casework.act(session, complaint, instance, user.username, move, open_tasks=open_tasks,
                              on_ready=hand_on, task_changes={task.id: done})
            return {"task": task.id, "status": TaskStatus.COMPLETED, "reference": complaint.reference,
                    "next_task": handed[0].id if handed and owner == user.username else None}

    def _hand_on(self, session: Session, complaint: Complaint, instance: Instance, done: Task,
                 ready: list[Task], owner: str, actor: User) -> list[Task]:
        """The next task comes to the case owner: each task made ready at the completed task's stage, in its lane
        (the same role), is assigned to them, unless the diagram keeps it with the team or the owner may not do it
        (their roles, Code 6.13's separation). Another lane's task is that team's. Audited, in the completing
        transaction."""
        elements = instance.definition.elements
        candidates = [t for t in ready if t.stage == done.stage and t.role == done.role
                      and not elements[t.element_id].goes_to_team
                      and not (done.element_id in elements[t.element_id].separate_from and done.completed_by == owner)]
        if not candidates:
            return []
        with session.no_autoflush:      # the action's rows and audit events still go in its one flush
            person = actor if owner == actor.username else \
                session.scalars(select(User).where(User.username == owner)).first()
            if person is None or not person.may_see(complaint.landlord):
                return []
            allowed = [t for t in candidates
                       if may_work(person, t) and not self._separation_breach(session, complaint, t, owner)]
        handed = []
        for task in allowed:
            task.assignee = owner       # made ready in this action: its row is written with this
            audit.record(session, complaint, "task_assigned", actor.username, task_id=task.id,
                         element_id=task.element_id, assignee=owner, previous=None, reason="next_task")
            notifications.assigned(session, task, complaint, owner, actor.username)
            handed.append(task)
        return handed

    def preview(self, task_id: str, data: Any, user: User) -> list[dict[str, Any]]:
        """The deadlines completing a task with these answers would move, and to when, saving nothing: an
        extension's new due date before it is saved. The diagram's own timers work it out on the landlord's
        calendar, on a copy of the instance. Only the answers given are checked (422, by field); one left empty
        is checked when the task is completed."""
        data = parse(Completion, {"data": data}).data
        given = {key: value for key, value in data.items()
                 if not (value is None or value is False or value == "" or value == [])}
        with self.sessions() as session:
            task, complaint, _ = self._task(session, task_id, user)
            if task.status != TaskStatus.OPEN:
                raise Conflict(f"task {task_id} is no longer open (it is {task.status})")
            instance = self.casework.instance_of(complaint)
            values = self._validated(instance, task, given, only_given=True)
            values = _stamped(instance.definition.element(task.element_id), values, clock.now())
            survey = instance.rehearse(task_id, values)
            if survey is None:
                return []
            running = {d.key: d for d in session.scalars(select(Deadline).where(
                Deadline.complaint_id == complaint.id,
                Deadline.status.in_((DeadlineStatus.OPEN, DeadlineStatus.MISSED))).order_by(Deadline.id))}
            return [{"key": timer.key, "stage": timer.stage, "due_at": timer.due_at,
                     "was": running[timer.key].due_at}
                    for timer in survey.armed
                    if timer.key in running and running[timer.key].due_at != timer.due_at]

    @staticmethod
    def _validated(instance: Instance, task: Task, data: Mapping[str, Any],
                   only_given: bool = False) -> dict[str, Any]:
        form = instance.definition.forms.get(task.form_id) if task.form_id else None
        if form is not None and only_given:
            form = Form(form.id, tuple(f for f in form.fields if f.key in data), form.source)
        if form is None:
            if data:
                raise InvalidInput(dict.fromkeys(data, "unknown field"))
            return {}
        try:
            context = instance.task_data(task.id)
        except TaskNotOpen:
            raise Conflict(f"task {task.id} is no longer open") from None
        values, errors = validate_submission(form, data, context)
        if errors:
            raise InvalidInput(errors)
        return values

    # --- claiming and assigning --------------------------------------------------------

    def assign(self, task_id: str, assignee: str | None, user: User) -> dict[str, Any]:
        """Claim (assignee = yourself), release (None) or reassign a task; audited."""
        with transaction(self.sessions) as session:
            task, complaint, _ = self._task(session, task_id, user)
            self._assign(session, task, complaint, assignee, user)
            return task_body(task)

    def assign_many(self, task_ids: list[str], assignee: str, user: User) -> list[dict[str, Any]]:
        """A manager reassigns several tasks at once: each is checked as one assignment is, each gets its audit
        event, and all change in one transaction or, when any is refused, none (the refusals named by task)."""
        if not roles.may_supervise(user.roles):
            raise Forbidden("only a manager may assign tasks to someone else")
        task_ids = list(dict.fromkeys(task_ids))
        if not task_ids:
            raise InvalidInput({"tasks": "Choose at least one task"})
        if len(task_ids) > AT_ONCE:
            raise InvalidInput({"tasks": f"Choose at most {AT_ONCE} tasks at a time"})
        if not assignee:
            raise InvalidInput({"assignee": "Choose who the tasks go to"})
        refused: dict[str, str] = {}
        with transaction(self.sessions) as session:
            done = []
            for task_id in task_ids:
                task = complaint = None
                try:
                    task, complaint, _ = self._task(session, task_id, user)
                    self._assign(session, task, complaint, assignee, user)
                except (NotFound, Conflict, Forbidden, InvalidInput) as error:
                    messages = error.errors.values() if isinstance(error, InvalidInput) else [[str(error)]]
                    which = f"{task.name} on {complaint.reference}: " if task is not None else ""
                    refused[task_id] = which + " ".join(m for ms in messages for m in ms)
                else:
                    done.append(task_body(task))
            if refused:
                raise InvalidInput(refused)
            return done

    def _assign(self, session: Session, task: Task, complaint: Complaint, assignee: str | None, user: User) -> None:
        if task.status != TaskStatus.OPEN:
            raise Conflict(f"task {task.id} is no longer open (it is {task.status})")
        supervising = roles.may_supervise(user.roles)
        if assignee not in (None, user.username) and not supervising:
            raise Forbidden("only a manager may assign a task to someone else")
        if assignee is None and task.assignee not in (None, user.username) and not supervising:
            raise Forbidden(f"this task is assigned to {task.assignee}")
        if assignee is not None:
            target = session.scalars(select(User).where(User.username == assignee)).first()
            if target is None or not target.may_see(complaint.landlord):
                raise InvalidInput({"assignee": f"no user {assignee} works for this landlord"})
            if not may_work(target, task):
                raise InvalidInput({"assignee": f"{assignee} does not have the {task.role} role"})
            breach = self._separation_breach(session, complaint, task, assignee)
            if breach:
                raise Forbidden(breach)
        previous, task.assignee = task.assignee, assignee
        kind = "task_claimed" if assignee == user.username else "task_released" if assignee is None \
            else "task_assigned"
        audit.record(session, complaint, kind, user.username, task_id=task.id, element_id=task.element_id,
                     assignee=assignee, previous=previous)
        if assignee is not None:
            notifications.assigned(session, task, complaint, assignee, user.username)

    # --- inbox ---------------------------------------------------------------------------

    def list(self, user: User, assignee: str | None = None, role: str | None = None,
             landlord: str | None = None, overdue: bool | None = None, page: int = 1) -> list[dict[str, Any]]:
        query = select(Task, Complaint.reference).join(Complaint, Complaint.id == Task.complaint_id) \
            .where(Task.status == TaskStatus.OPEN, user.landlords_clause(Task.landlord))
        if landlord:
            query = query.where(Task.landlord == landlord)
        if assignee:
            query = query.where(Task.assignee == assignee)
        if role:
            query = query.where(Task.role == role)
        if overdue is True:
            query = query.where(Task.overdue_clause(clock.now()))
        elif overdue is False:
            query = query.where(~Task.overdue_clause(clock.now()) | Task.due_at.is_(None))
        query = query.order_by(Task.due_at.is_(None), Task.due_at, Task.id) \
            .limit(PAGE_SIZE).offset((max(page, 1) - 1) * PAGE_SIZE)
        with self.sessions() as session:
            return [{**task_body(task), "reference": reference, "landlord": task.landlord}
                    for task, reference in session.execute(query)]

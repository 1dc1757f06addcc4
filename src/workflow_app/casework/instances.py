"""A complaint's running process: a SpiffWorkflow workflow bound to a parsed definition.

This module knows SpiffWorkflow; nothing above it does. It starts, restores and saves
workflows (without their spec, which lives once per definition version), runs engine
steps, and reports what the diagram is waiting for: open user tasks and armed timers.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.bpmn_converter import BpmnConverter
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition as CamundaMessage
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState

from workflow_app.diagrams.definitions import CaseMessage, DeadlineTimer, Definition
from workflow_app.diagrams.expressions import restricted_script_engine
from workflow_app.rules import clock
from workflow_app.rules.calendar import calendar_for

STATE_FORMAT = 1


class _SpecFreeWorkflowConverter(BpmnWorkflowConverter):
    """Saves a workflow without its spec; restores it against a cached definition."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, definition: Definition = None):
        workflow = self.target_class(definition.spec, definition.subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class _DeadlineTimerConverter(BpmnConverter):
    def to_dict(self, timer: DeadlineTimer):
        return {"name": timer.name, "expression": timer.expression,
                "element_id": timer.element_id, "description": timer.description}

    def from_dict(self, dct):
        return DeadlineTimer(dct["name"], dct["expression"], dct["element_id"], description=dct["description"])


def _serializer() -> BpmnWorkflowSerializer:
    config = dict(CAMUNDA_CONFIG)
    config[BpmnWorkflow] = _SpecFreeWorkflowConverter
    config[DeadlineTimer] = _DeadlineTimerConverter
    config[CaseMessage] = CAMUNDA_CONFIG[CamundaMessage]
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_ENDED = TaskState.COMPLETED | TaskState.CANCELLED
_PASSED = "passed_through"   # on the root: elements completed by tasks pruned from the tree

_local = threading.local()


def _thread_serializer() -> BpmnWorkflowSerializer:
    """One serializer per thread: SpiffWorkflow's registry keeps a mode flag while encoding."""
    serializer = getattr(_local, "serializer", None)
    if serializer is None:
        serializer = _local.serializer = _serializer()
    return serializer


@lru_cache(maxsize=8)
def script_engine_for(nation: str):
    """The restricted script engine with the calendar functions of a landlord's nation."""
    return restricted_script_engine(calendar_for(nation).expression_functions())


class TaskNotOpen(LookupError):
    """The task is not (or no longer) waiting for a person."""


@dataclass(frozen=True)
class OpenTask:
    task_id: str
    element_id: str
    name: str
    stage: str
    role: str | None
    form_id: str | None


@dataclass(frozen=True)
class ArmedTimer:
    task_id: str
    element_id: str
    key: str
    stage: str
    due_at: datetime
    guards: str | None


@dataclass(frozen=True)
class Survey:
    """What the diagram waits for and has done, read in one walk of the workflow after an action."""

    open_tasks: list[OpenTask]
    armed: list[ArmedTimer]          # earliest first
    failed: dict[str, str]           # timer element id -> why its due time could not be worked out
    active: frozenset[str]           # element ids started or waiting
    cancelled: frozenset[str]        # element ids whose latest run ended cancelled (an interrupting event took it)


@dataclass(frozen=True)
class Step:
    """Something the engine did that the case record must show."""

    kind: str          # "letter", "timer_fired", "end", "close", "scope_end", "task_completed"
    element_id: str
    detail: str | None = None
    due_at: datetime | None = None


def _due_of(task, element_id: str) -> datetime | None:
    """When a fired timer was due (a timer behind an event-based gateway keeps it on the gateway)."""
    for holder in (task, task.parent):
        value = holder.internal_data.get(f"due:{element_id}") if holder is not None else None
        if value is not None:
            return datetime.fromisoformat(value)
    return None


class Instance:
    """One workflow, its definition, and the steps taken since it was loaded."""

    def __init__(self, definition: Definition, workflow: BpmnWorkflow) -> None:
        self.definition = definition
        self.workflow = workflow

    @classmethod
    def start(cls, definition: Definition, nation: str, case_data: Mapping[str, Any]) -> Instance:
        workflow = BpmnWorkflow(definition.spec, definition.subprocess_specs,
                                script_engine=script_engine_for(nation))
        workflow.task_tree.data.update(case_data)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(case_data)
        return cls(definition, workflow)

    @classmethod
    def restore(cls, definition: Definition, nation: str, state: str) -> Instance:
        dct = json.loads(state)
        dct.pop("state_format", None)
        workflow = _thread_serializer().from_dict(dct, definition=definition)
        workflow.script_engine = script_engine_for(nation)
        return cls(definition, workflow)

    def dump(self) -> str:
        serializer = _thread_serializer()
        serializer.registry._encoder_mode = True
        try:
            dct = serializer.to_dict(self.workflow)
            dct["state_format"] = STATE_FORMAT
            return json.dumps(dct, cls=serializer._encoder_cls, separators=(",", ":"))
        finally:
            serializer.registry._encoder_mode = False

    # --- running -------------------------------------------------------------------

    def advance(self) -> list[Step]:
        """Run engine steps (gateways, scripts, fired timers) until only people or time can move it."""
        steps: list[Step] = []

        def did_complete(task) -> None:
            steps.extend(self._steps_for(task))

        while True:
            self.workflow.refresh_timers()
            self.workflow.do_engine_steps(will_complete_task=self._stamp, did_complete_task=did_complete)
            if not self._engine_tasks_ready():
                self.workflow.get_events()  # signals nothing here catches: not kept in the saved state
                return steps

    def _stamp(self, task) -> None:
        """An element the engine runs (an event, a script, a gateway) with the property `timestamp` sets that
        case field to the time it completes, as a user task's completion does (`TaskService.complete`)."""
        element = self.definition.elements.get(task.task_spec.bpmn_id or "")
        if element is not None and element.properties.get("timestamp"):
            task.data[element.properties["timestamp"]] = clock.now()

    def _engine_tasks_ready(self) -> bool:
        return any(not t.task_spec.manual for t in self.workflow.get_tasks(state=TaskState.READY))

    def _steps_for(self, task) -> list[Step]:
        element = self.definition.elements.get(task.task_spec.bpmn_id or "")
        if element is None:
            return []
        steps = []
        if element.timer_expression is not None:
            steps.append(Step("timer_fired", element.id, element.deadline_key, _due_of(task, element.id)))
        if element.properties.get("letter"):
            steps.append(Step("letter", element.id, element.properties["letter"]))
        if element.tag == "endEvent" and task.workflow is self.workflow:
            steps.append(Step("end", element.id, element.properties.get("outcome")))
        elif element.tag == "intermediateThrowEvent" and element.properties.get("outcome"):
            # The complaint closes here, while the process waits on for an event that reopens it.
            steps.append(Step("close", element.id, element.properties["outcome"]))
        elif element.tag == "endEvent" and element.met_by:
            steps.append(Step("scope_end", element.id, element.met_by))
        return steps

    def complete(self, task_id: str, data: Mapping[str, Any]) -> list[Step]:
        task = self.open_task(task_id)
        task.data.update(data)
        task.run()
        steps = [Step("task_completed", task.task_spec.bpmn_id)]
        steps.extend(self._steps_for(task))
        return steps + self.advance()

    def rehearse(self, task_id: str, data: Mapping[str, Any]) -> Survey | None:
        """What completing an open task with `data` would leave the diagram waiting for (its timers armed by
        its own expressions on the landlord's calendar), or None when the diagram cannot run on with that data.
        It moves this instance: rehearse on a copy restored for the purpose, and never save it."""
        try:
            self.complete(task_id, data)
        except WorkflowException:
            return None
        return self.survey()

    def deliver(self, name: str, payload: Mapping[str, Any], received_at: datetime) -> bool:
        """Hand a message to whatever waits for it; False when nothing waits for it yet.

        Its data arrives in the case data under the message's name, and the time it was
        received as NAME_at.
        """
        event = BpmnEvent(CaseMessage(name), payload={"payload": dict(payload), "result_var": name,
                                                      "at": received_at})
        return self.workflow.event_manager.catch(event, internal=False) > 0

    def prune(self) -> int:
        """Drop finished history from the live tree; returns how many tasks left it.

        SpiffWorkflow keeps every task it ever ran, so each round of a recurring reminder (a loop
        back to a task with a timer on it) adds to the saved state and to every walk of it. What
        happened is already in the audit trail, so finished history leaves the tree: a finished
        task with no children under a finished parent (a branch that ended, a boundary timer
        cancelled) is removed, and a finished task whose only child has finished too is spliced
        out, its child taking its place. What the engine still reads stays: the root, the last
        task completed, every parent of an unfinished task (a timer's due time behind an
        event-based gateway, a join's inputs) and every task that owns a subprocess. Ancestry
        among the tasks kept is unchanged, so a join in a loop still tells one round from the next.
        The elements the dropped tasks completed are kept, as a set, on the root (`passed_through`).
        """
        dropped = 0
        passed = set(self.workflow.task_tree.internal_data.get(_PASSED, ()))
        owners = set(self.workflow.subprocesses)
        for workflow in (self.workflow, *self.workflow.subprocesses.values()):
            tasks = workflow.tasks
            keep = {workflow.task_tree.id, *owners, *(t.id for t in (workflow.last_task,) if t is not None)}
            pending = list(tasks.values())
            while pending:
                task = pending.pop()
                if task.id in keep or task.id not in tasks or not task.state & _ENDED:
                    continue
                parent = tasks.get(task._parent)
                if parent is None or not parent.state & _ENDED:
                    continue
                if not task._children:
                    parent._children.remove(task.id)
                elif len(task._children) == 1 and tasks[task._children[0]].state & _ENDED:
                    child = tasks[task._children[0]]
                    parent._children[parent._children.index(task.id)] = child.id
                    child._parent = parent.id
                else:
                    continue
                if task.state == TaskState.COMPLETED and task.task_spec.bpmn_id:
                    passed.add(task.task_spec.bpmn_id)
                del tasks[task.id]
                dropped += 1
                pending.append(parent)      # it may have become a finished leaf, or have one child left
        if dropped:
            self.workflow.task_tree.internal_data[_PASSED] = sorted(passed)
        return dropped

    def passed_through(self) -> set[str]:
        """Element ids the process has completed or is at, including those pruned from the tree."""
        mask = TaskState.COMPLETED | _ACTIVE
        workflows = [self.workflow, *self.workflow.subprocesses.values()]
        here = {t.task_spec.bpmn_id for wf in workflows for t in wf.get_tasks(state=mask) if t.task_spec.bpmn_id}
        return here | set(self.workflow.task_tree.internal_data.get(_PASSED, ()))

    def keep_only_data(self, keep: Callable[[str], bool]) -> None:
        """Drop every case-data key that `keep` refuses, in every task (used by retention)."""
        workflows = [self.workflow, *self.workflow.subprocesses.values()]
        for workflow in workflows:
            workflow.data = {k: v for k, v in workflow.data.items() if keep(k)}
            for task in workflow.get_tasks():
                task.data = {k: v for k, v in task.data.items() if keep(k)}

    # --- what it waits for ----------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.workflow.completed

    def open_task(self, task_id: str):
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError, TypeError):
            task = None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotOpen(task_id)
        return task

    def survey(self) -> Survey:
        """Open tasks, timers, active and cancelled elements, from one walk over every task that is not a
        prediction (the process and its subprocesses, in the tree's order)."""
        open_tasks: list[OpenTask] = []
        active: set[str] = set()
        latest: dict[str, Any] = {}     # element -> its latest finished run
        for task in self.workflow.get_tasks(state=TaskState.DEFINITE_MASK | TaskState.FINISHED_MASK):
            spec, state = task.task_spec, task.state
            if state & _ACTIVE:
                if spec.bpmn_id:
                    active.add(spec.bpmn_id)
                if state == TaskState.READY and spec.manual:
                    open_tasks.append(self._open_task(task))
            elif state & _ENDED:
                seen = latest.get(spec.name)
                if seen is None or task.last_state_change > seen.last_state_change:
                    latest[spec.name] = task
        armed, failed = self._timers()
        return Survey(open_tasks, armed, failed, frozenset(active),
                      frozenset(name for name, task in latest.items() if task.state == TaskState.CANCELLED))

    def open_tasks(self) -> list[OpenTask]:
        return [self._open_task(task) for task in self.workflow.get_tasks(state=TaskState.READY, manual=True)]

    def _open_task(self, task) -> OpenTask:
        element = self.definition.elements.get(task.task_spec.bpmn_id)
        return OpenTask(
            task_id=str(task.id),
            element_id=task.task_spec.bpmn_id,
            name=element.name if element else task.task_spec.bpmn_name or task.task_spec.bpmn_id,
            stage=(element.stage if element else None) or "pre",
            role=element.role if element else None,
            form_id=element.form_ref if element else None,
        )

    def _waiting_timers(self):
        """(task, timer) for every deadline timer waiting now, behind event-based gateways too."""
        for task in list(self.workflow.event_manager.tasks.values()):
            if task.state != TaskState.WAITING:
                continue
            definition = task.task_spec.event_definition
            if isinstance(definition, DeadlineTimer):
                yield task, definition
            elif isinstance(definition, MultipleEventDefinition):
                seen = [e.event_definition for e in task.internal_data.get("seen_events", [])]
                yield from ((task, inner) for inner in definition.event_definitions
                            if isinstance(inner, DeadlineTimer) and inner not in seen)

    def _timers(self) -> tuple[list[ArmedTimer], dict[str, str]]:
        armed, failed = [], {}
        for task, timer in self._waiting_timers():
            due = timer.due_at(task)
            if due is not None:
                element = self.definition.elements[timer.element_id]
                armed.append(ArmedTimer(task_id=str(task.id), element_id=element.id, key=element.deadline_key,
                                        stage=element.stage, due_at=due, guards=element.attached_to))
            elif timer.failure(task) is not None:
                failed[timer.element_id] = timer.failure(task)
        return sorted(armed, key=lambda timer: (timer.due_at, timer.element_id)), failed

    def armed_timers(self) -> list[ArmedTimer]:
        """The timers waiting with a due time (one that could not be worked out is a failed timer)."""
        return self._timers()[0]

    def failed_timers(self) -> dict[str, str]:
        """Element id -> why its due time could not be worked out, for the timers waiting without one."""
        return self._timers()[1]

    def active_elements(self) -> set[str]:
        """Element ids of everything started or waiting, in the process and its subprocesses."""
        mask = TaskState.READY | TaskState.WAITING | TaskState.STARTED
        workflows = [self.workflow, *self.workflow.subprocesses.values()]
        return {t.task_spec.bpmn_id for wf in workflows for t in wf.get_tasks(state=mask) if t.task_spec.bpmn_id}

    def waits_for_message(self, name: str) -> bool:
        """Whether a waiting catch event takes this message now (event subprocess starts aside)."""
        return any(
            self._catches(task.task_spec.event_definition, name)
            for task in self.workflow.event_manager.tasks.values()
        )

    @staticmethod
    def _catches(definition, name: str) -> bool:
        if isinstance(definition, MultipleEventDefinition):
            return any(Instance._catches(inner, name) for inner in definition.event_definitions)
        return isinstance(definition, MessageEventDefinition) and definition.name == name

    def task_data(self, task_id: str) -> dict[str, Any]:
        """The case data as an open task sees it (its own branch, not the last one to move)."""
        return dict(self.open_task(task_id).data)

    def data(self) -> dict[str, Any]:
        """The case data as the diagram last saw it."""
        last = self.workflow.last_task
        return dict(last.data) if last is not None else dict(self.workflow.data)

"""Diagram files → parsed, checked, versioned definitions.

A diagram is read by `graph` (lxml without network access, DTDs or entity expansion and
with a size limit), checked (expressions in the restricted language, every timer keyed and
staged, every user task with a known form and a stage), and parsed by SpiffWorkflow.
A deployed version's parsed spec is kept in a small cache per process, so an instance
is stored without its spec and rebuilt against the cached one.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from threading import Lock
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimeDateEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition as CamundaMessage

from workflow_app.diagrams.expressions import UnsafeExpression, check_expression, check_script
from workflow_app.diagrams.forms import Form
from workflow_app.diagrams.graph import (  # noqa: F401  (read_xml and the rest are imported from here too)
    BPMN_NS,
    CAMUNDA_NS,
    MAX_DEPTH,
    MAX_DIAGRAM_BYTES,
    NS,
    DiagramError,
    Graph,
    Problem,
    read_graph,
    read_xml,
)
from workflow_app.rules import clock
from workflow_app.rules.vocabulary import DEADLINE_KEYS, STAGES, WORKS_TOWARDS_NONE

ACTIVITY_TAGS = {"task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask",
                 "receiveTask", "businessRuleTask", "subProcess", "callActivity", "transaction"}
EVENT_TAGS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
              "boundaryEvent"}
GATEWAY_TAGS = {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway"}


@dataclass(frozen=True)
class Element:
    """What the engine needs to know about one diagram element."""

    id: str
    tag: str
    name: str
    properties: Mapping[str, str]
    form_ref: str | None = None
    role: str | None = None
    attached_to: str | None = None
    timer_expression: str | None = None
    enclosing: tuple[str, ...] = ()
    interrupting: bool = True

    @property
    def stage(self) -> str | None:
        return self.properties.get("stage")

    @property
    def deadline_key(self) -> str | None:
        return self.properties.get("deadline_key")

    @property
    def separate_from(self) -> tuple[str, ...]:
        return _listed(self.properties.get("separate_from", ""))

    @property
    def works_towards(self) -> tuple[str, ...] | None:
        """The deadline keys a user task's diagram says it works towards (none named: None)."""
        raw = self.properties.get("works_towards")
        if raw is None:
            return None
        return tuple(key for key in _listed(raw) if key != WORKS_TOWARDS_NONE)

    @property
    def goes_to_team(self) -> bool:
        """A user task the diagram gives to its role's team (property `assignment` = `team`), never straight
        to whoever finished the task before it."""
        return self.properties.get("assignment") == "team"

    @property
    def met_by(self) -> str | None:
        """On an end event inside a subprocess a deadline guards: how reaching it meets the deadline."""
        return self.properties.get("met_by") or None


def _listed(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass
class Definition:
    """A parsed diagram, ready to run: the SpiffWorkflow spec and the element facts."""

    process_id: str
    spec: Any
    subprocess_specs: dict[str, Any]
    elements: dict[str, Element]
    messages: frozenset[str]
    forms: Mapping[str, Form] = field(default_factory=dict)

    def element(self, element_id: str) -> Element:
        return self.elements[element_id]


def content_hash(content: bytes | str) -> str:
    if isinstance(content, str):
        content = content.encode("utf-8")
    return hashlib.sha256(content).hexdigest()


# --- element facts ----------------------------------------------------------------------

def read_elements(diagram: etree._Element | Graph) -> dict[str, Element]:
    """The engine's facts on each activity, event and gateway with an id (a root from `read_xml`, or its graph)."""
    graph = diagram if isinstance(diagram, Graph) else read_graph(diagram)
    elements: dict[str, Element] = {}
    for node in graph.elements:
        if node.tag not in ACTIVITY_TAGS | EVENT_TAGS | GATEWAY_TAGS or not node.id:
            continue
        timer = node.event("timer")
        elements[node.id] = Element(
            id=node.id,
            tag=node.tag,
            name=(node.name or node.id).strip(),
            properties=dict(node.properties),
            form_ref=node.form_ref,
            role=node.role,
            attached_to=node.attached_to,
            timer_expression=timer.time_date if timer is not None else None,
            enclosing=node.enclosing,
            interrupting=node.interrupting,
        )
    return elements


def _message_names(graph: Graph) -> frozenset[str]:
    return frozenset(m.name for m in graph.of("message") if m.name)


def _executable_process_id(graph: Graph) -> str:
    main = graph.main_processes
    if len(main) != 1:
        raise DiagramError([Problem(None, "the diagram must have exactly one executable process "
                                          f"that no call activity calls (found {len(main)})")])
    return main[0]


# --- checks -----------------------------------------------------------------------------

def find_problems(root: etree._Element, elements: Mapping[str, Element],
                  forms: Mapping[str, Form] | None = None) -> list[Problem]:
    """The safety and engine checks every diagram must pass before it is deployed.

    Expressions, scripts and timers are swept from the whole XML tree, not only from where
    the graph reads them, so none escapes the sandbox's check by sitting somewhere odd.
    """
    problems: list[Problem] = []
    for element in elements.values():
        problems.extend(_element_problems(element, forms))
    for node in root.iter(f"{{{BPMN_NS}}}conditionExpression"):
        flow = node.getparent().get("id")
        problems.extend(_expression_problems(flow, node.text or "", "condition"))
    for node in root.iter(f"{{{BPMN_NS}}}scriptTask"):
        script = node.find("bpmn:script", NS)
        if node.get("scriptFormat", "python").lower() not in ("python", ""):
            problems.append(Problem(node.get("id"), "scripts must be in python"))
        if script is not None and script.text:
            try:
                check_script(script.text)
            except UnsafeExpression as error:
                problems.append(Problem(node.get("id"), f"script refused: {error.reason}"))
    for node in root.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
        owner = node.getparent().get("id")
        if node.find("bpmn:timeDuration", NS) is not None or node.find("bpmn:timeCycle", NS) is not None:
            problems.append(Problem(owner, "only Date timers are allowed; give the due time with "
                                           "working_days_after(...) or days_after(...)"))
    return problems


def _element_problems(element: Element, forms: Mapping[str, Form] | None) -> list[Problem]:
    problems = []
    stage = element.stage
    if stage is not None and stage not in STAGES:
        problems.append(Problem(element.id, f"stage {stage!r} is not one of {', '.join(STAGES)}"))
    if element.timer_expression is not None:
        if element.deadline_key is None:
            problems.append(Problem(element.id, "a timer needs the extension property deadline_key"))
        elif element.deadline_key not in DEADLINE_KEYS:
            problems.append(Problem(element.id, f"deadline_key {element.deadline_key!r} is not in the vocabulary"))
        if stage is None:
            problems.append(Problem(element.id, "a timer needs the extension property stage"))
        if not element.timer_expression:
            problems.append(Problem(element.id, "a timer needs a Date expression"))
        else:
            problems.extend(_expression_problems(element.id, element.timer_expression, "timer"))
    if element.works_towards is not None:
        unknown = [key for key in element.works_towards if key not in DEADLINE_KEYS]
        if element.tag != "userTask":
            problems.append(Problem(element.id, "works_towards belongs on a user task"))
        elif unknown:
            problems.append(Problem(element.id, f"works_towards names {', '.join(unknown)}, not in the deadline "
                                                f"vocabulary (or '{WORKS_TOWARDS_NONE}')"))
    if element.tag == "userTask":
        if stage is None:
            problems.append(Problem(element.id, "a user task needs the extension property stage"))
        if not element.form_ref:
            problems.append(Problem(element.id, "a user task needs a form (camunda:formRef)"))
        elif forms is not None and element.form_ref not in forms:
            problems.append(Problem(element.id, f"form {element.form_ref!r} is not in forms/"))
    return problems


def _expression_problems(element_id: str, source: str, what: str) -> list[Problem]:
    try:
        check_expression(source.strip())
    except UnsafeExpression as error:
        return [Problem(element_id, f"{what} expression refused: {error.reason}")]
    return []


# --- timers that read our clock ----------------------------------------------------------

class DeadlineTimer(TimeDateEventDefinition):
    """A Date timer whose due time is evaluated once, when armed, and compared with our clock.

    The due time is kept in the task's internal data under the element's id, so several
    timers behind one event-based gateway do not overwrite each other. A due time that
    cannot be worked out (the expression fails on this complaint's data) never stops the
    action that armed the timer: the timer waits without a due time, the failure is kept
    beside it for the case's incident, and the expression is tried again on the next action.
    """

    def __init__(self, name: str | None, expression: str, element_id: str, **kwargs) -> None:
        super().__init__(name, expression, **kwargs)
        self.element_id = element_id

    @property
    def _due_key(self) -> str:
        return f"due:{self.element_id}"

    @property
    def failure_key(self) -> str:
        return f"timer_failed:{self.element_id}"

    def due_at(self, my_task) -> datetime | None:
        value = my_task.internal_data.get(self._due_key)
        if value is None:
            try:
                result = my_task.workflow.script_engine.evaluate(my_task, self.expression)
                due = _as_instant(result, self.element_id)
            except Exception as error:  # any failure of the diagram's expression is the diagram's incident
                my_task.internal_data[self.failure_key] = _failure(error)
                return None
            my_task.internal_data.pop(self.failure_key, None)
            value = due.isoformat()
            my_task.internal_data[self._due_key] = value
            my_task.internal_data["event_value"] = value
        return datetime.fromisoformat(value)

    def failure(self, my_task) -> str | None:
        return my_task.internal_data.get(self.failure_key)

    def has_fired(self, my_task) -> bool:
        due = self.due_at(my_task)
        if due is not None and due < clock.now():
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)

    def __eq__(self, other) -> bool:
        return isinstance(other, DeadlineTimer) and other.element_id == self.element_id

    __hash__ = object.__hash__


def _failure(error: Exception) -> str:
    """What went wrong, in the words of the innermost error (the engine wraps the expression's own)."""
    while isinstance(error.__cause__ or error.__context__, Exception):
        error = error.__cause__ or error.__context__
    return str(error) or type(error).__name__


def _as_instant(value: Any, element_id: str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"timer {element_id} must give a timezone-aware date and time, not {value!r}")
    return value.astimezone(UTC)


class CaseMessage(CamundaMessage):
    """An event from outside: its data lands in the case under its name, its arrival as NAME_at.

    Setting both when the catching element runs (rather than on waiting tasks) means a
    message that arrives again after a loop carries its own date forward, not the first one.
    """

    def update_task_data(self, my_task) -> None:
        delivered = my_task.internal_data.get(self.name) or {}
        my_task.data[self.name] = delivered.get("payload", {})
        if delivered.get("at") is not None:
            my_task.data[f"{self.name}_at"] = delivered["at"]


def _engine_event(definition: Any, element_id: str) -> Any:
    if isinstance(definition, TimerEventDefinition):
        return DeadlineTimer(definition.name, definition.expression, element_id, description=definition.description)
    if isinstance(definition, CamundaMessage) and not isinstance(definition, CaseMessage):
        return CaseMessage(definition.name, definition.correlation_properties, definition.expression,
                           definition.result_var, description=definition.description)
    return definition


def _install_engine_events(specs: Iterable[Any]) -> None:
    """Swap in timers that read our clock and messages that record when they arrived."""
    for process_spec in specs:
        for task_spec in process_spec.task_specs.values():
            if not isinstance(task_spec, CatchingEvent):
                continue
            definition = task_spec.event_definition
            if isinstance(task_spec, EventBasedGateway) and isinstance(definition, MultipleEventDefinition):
                for index, child in enumerate(task_spec.outputs):
                    definition.event_definitions[index] = _engine_event(definition.event_definitions[index],
                                                                        child.bpmn_id)
            else:
                task_spec.event_definition = _engine_event(definition, task_spec.bpmn_id)


# --- compiling -------------------------------------------------------------------------

def compile_definition(content: bytes | str, forms: Mapping[str, Form] | None = None) -> Definition:
    """Check and parse a diagram; raise DiagramError listing every problem found."""
    root = read_xml(content)
    graph = read_graph(root)
    elements = read_elements(graph)
    problems = find_problems(root, elements, forms)
    if problems:
        raise DiagramError(problems)
    process_id = _executable_process_id(graph)
    parser = CamundaParser()
    try:
        parser.add_bpmn_xml(root.getroottree(), filename=process_id)
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except ValidationException as error:
        raise DiagramError([Problem(getattr(error, "id", None), str(error).splitlines()[0])]) from None
    except Exception as error:  # SpiffWorkflow reports structural faults with plain exceptions
        raise DiagramError([Problem(None, f"the engine cannot read this diagram: {error}")]) from None
    _install_engine_events([spec, *subprocess_specs.values()])
    return Definition(
        process_id=process_id,
        spec=spec,
        subprocess_specs=subprocess_specs,
        elements=elements,
        messages=_message_names(graph),
        forms=dict(forms or {}),
    )


def check_diagram(content: bytes | str, forms: Mapping[str, Form] | None = None) -> list[Problem]:
    """Every problem that would stop this diagram deploying (empty when it would deploy)."""
    try:
        compile_definition(content, forms)
    except DiagramError as error:
        return error.problems
    return []


class DefinitionCache:
    """Parsed definitions by content hash: each deployed content is parsed once per process.

    Keyed by content (diagram and forms), not by a row id, so two databases in one process
    (the simulator beside the app) never hand each other the wrong diagram.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._items: OrderedDict[str, Definition] = OrderedDict()
        self._lock = Lock()

    def get(self, key: str, build) -> Definition:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        definition = build()
        with self._lock:
            self._items[key] = definition
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return definition

    def peek(self, key: str) -> Definition | None:
        """The definition kept for this content, or None (nothing is built)."""
        with self._lock:
            definition = self._items.get(key)
            if definition is not None:
                self._items.move_to_end(key)
            return definition

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


cache = DefinitionCache()

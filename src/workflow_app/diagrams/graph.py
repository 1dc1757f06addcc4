"""A diagram's graph, read once: the one place BPMN XML is walked.

`read_xml` parses untrusted XML safely (no DTD, no entities, no network, bounded size and
depth). `read_graph` turns it into plain, immutable facts: every element in the BPMN namespace
(its tag, name, the process or subprocess it sits in, its flows in and out, the
boundary events on it or what it is attached to, its event definitions, its `camunda:property`
extension properties and documentation) and every sequence flow. The engine's definitions,
the Code check, the diff shown before a deployment and the manager's heatmap all read a
diagram through it, so they cannot disagree about what a diagram says.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
MAX_DIAGRAM_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}

SUBPROCESS_TAGS = ("subProcess", "transaction")


@dataclass(frozen=True)
class Problem:
    """Something wrong with a diagram, tied to the element an analyst must fix."""

    element_id: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.element_id or 'diagram'}: {self.reason}"


class DiagramError(ValueError):
    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


# --- reading XML safely ---------------------------------------------------------------

def read_xml(content: bytes | str) -> etree._Element:
    """Parse untrusted XML: no DTD, no entities, no network, bounded size and depth."""
    if isinstance(content, str):
        content = content.encode("utf-8")
    if len(content) > MAX_DIAGRAM_BYTES:
        raise DiagramError([Problem(None, f"the file is larger than {MAX_DIAGRAM_BYTES // 1024 // 1024} MB")])
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_pis=True)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as error:
        raise DiagramError([Problem(None, f"not well-formed XML: {error}")]) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise DiagramError([Problem(None, "a DOCTYPE or DTD is not allowed in a diagram")])
    for node in root.iter():
        if isinstance(node, etree._Entity):
            raise DiagramError([Problem(None, "entity references are not allowed in a diagram")])
    if _depth(root) > MAX_DEPTH:
        raise DiagramError([Problem(None, f"elements are nested more than {MAX_DEPTH} deep")])
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise DiagramError([Problem(None, "not a BPMN 2.0 file (the root must be bpmn:definitions)")])
    return root


def _depth(root: etree._Element) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        stack.extend((child, depth + 1) for child in node)
    return deepest


# --- the graph ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Flow:
    """A sequence flow as written: `name` and `condition` are None when absent (a condition's text stripped)."""

    id: str | None
    source: str | None
    target: str | None
    name: str | None
    condition: str | None
    parent: str | None


@dataclass(frozen=True)
class EventDefinition:
    """One `bpmn:*EventDefinition` of an event: its kind ("timer", "message", ...) and what it refers to."""

    kind: str
    message_ref: str | None = None
    time_date: str | None = None        # a timer's Date expression, stripped (None: no timeDate)
    time_duration: str | None = None
    time_cycle: str | None = None


@dataclass(frozen=True)
class Node:
    """One BPMN element: where it sits, how flows and boundary events connect it, what it carries."""

    id: str | None
    tag: str
    name: str | None                     # the name attribute as written
    parent: str | None                   # the id of the process or subprocess (the XML parent) it sits in
    enclosing: tuple[str | None, ...]    # the subprocesses around it, innermost first
    attributes: Mapping[str, str]        # every XML attribute, namespaced ones in {namespace}name form
    properties: Mapping[str, str]        # camunda:property name -> value ("" when it has none)
    documentation: str | None
    events: tuple[EventDefinition, ...] = ()
    script: str | None = None            # a script task's bpmn:script text
    incoming: tuple[Flow, ...] = ()
    outgoing: tuple[Flow, ...] = ()
    boundaries: tuple[str, ...] = ()     # the ids of boundary events attached to it

    @property
    def attached_to(self) -> str | None:
        return self.attributes.get("attachedToRef")

    @property
    def interrupting(self) -> bool:
        return self.attributes.get("cancelActivity", "true") != "false"

    @property
    def default(self) -> str | None:
        return self.attributes.get("default")

    @property
    def called(self) -> str | None:
        return self.attributes.get("calledElement")

    @property
    def form_ref(self) -> str | None:
        return self.attributes.get(f"{{{CAMUNDA_NS}}}formRef") or self.attributes.get(f"{{{CAMUNDA_NS}}}formKey")

    @property
    def role(self) -> str | None:
        return self.attributes.get(f"{{{CAMUNDA_NS}}}candidateGroups")

    def event(self, kind: str) -> EventDefinition | None:
        """Its first event definition of this kind."""
        return next((e for e in self.events if e.kind == kind), None)


@dataclass(frozen=True)
class Graph:
    """Every element in the BPMN namespace and every sequence flow, in document order."""

    elements: tuple[Node, ...]
    flows: tuple[Flow, ...]
    processes: tuple[Node, ...]          # every bpmn:process directly under definitions
    by_id: Mapping[str, Node] = field(repr=False)

    def node(self, element_id: str) -> Node:
        return self.by_id[element_id]

    def of(self, *tags: str) -> list[Node]:
        return [n for n in self.elements if n.tag in tags]

    def children(self, scope: str) -> list[Node]:
        """The elements with an id directly inside a process or subprocess (its flows included)."""
        return [n for n in self.elements if n.parent == scope and n.id is not None]

    @property
    def messages(self) -> dict[str | None, str | None]:
        """Message id -> its name (its id when unnamed)."""
        return {m.id: m.name or m.id for m in self.of("message")}

    @property
    def main_processes(self) -> list[str | None]:
        """The executable processes no call activity calls (all processes when none is executable)."""
        executable = [p for p in self.processes if p.attributes.get("isExecutable", "true") != "false"] \
            or list(self.processes)
        called = {c.called for c in self.of("callActivity")}
        return [p.id for p in executable if p.id not in called]

    @property
    def main_process(self) -> str | None:
        """The process a complaint runs: the one executable process nothing calls (None unless exactly one)."""
        main = self.main_processes
        return main[0] if len(main) == 1 else None


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _properties(node: etree._Element) -> dict[str, str]:
    return {prop.get("name"): prop.get("value", "")
            for prop in node.findall("bpmn:extensionElements/camunda:properties/camunda:property", NS)
            if prop.get("name")}


def _events(node: etree._Element) -> tuple[EventDefinition, ...]:
    events = []
    for child in node:
        kind = _local(child.tag)
        if not kind.endswith("EventDefinition") or etree.QName(child.tag).namespace != BPMN_NS:
            continue
        texts = {}
        for part in ("timeDate", "timeDuration", "timeCycle"):
            found = child.find(f"bpmn:{part}", NS)
            texts[part] = (found.text or "").strip() if found is not None else None
        events.append(EventDefinition(kind[:-len("EventDefinition")], child.get("messageRef"),
                                      texts["timeDate"], texts["timeDuration"], texts["timeCycle"]))
    return tuple(events)


def _flow(node: etree._Element) -> Flow:
    condition = node.find("bpmn:conditionExpression", NS)
    return Flow(node.get("id"), node.get("sourceRef"), node.get("targetRef"), node.get("name"),
                (condition.text or "").strip() if condition is not None else None, node.getparent().get("id"))


_EMPTY: Mapping[str, str] = MappingProxyType({})
_BPMN_PREFIX = f"{{{BPMN_NS}}}"
_SUBPROCESSES = {f"{_BPMN_PREFIX}{t}" for t in SUBPROCESS_TAGS}


def read_graph(diagram: bytes | str | etree._Element) -> Graph:
    """The graph of a diagram (its XML, or a root `read_xml` gave)."""
    root = diagram if isinstance(diagram, etree._Element) else read_xml(diagram)
    flows = tuple(_flow(node) for node in root.iter(f"{{{BPMN_NS}}}sequenceFlow"))
    incoming: dict[str, list[Flow]] = {}
    outgoing: dict[str, list[Flow]] = {}
    for flow in flows:
        outgoing.setdefault(flow.source, []).append(flow)
        incoming.setdefault(flow.target, []).append(flow)
    boundaries: dict[str, list[str]] = {}
    for node in root.iter(f"{{{BPMN_NS}}}*"):
        if node.get("attachedToRef") is not None and node.get("id") is not None:
            boundaries.setdefault(node.get("attachedToRef"), []).append(node.get("id"))

    def element(node: etree._Element, tag: str, parent: str | None, enclosing: tuple[str | None, ...]) -> Node:
        element_id = node.get("id")
        has_children = len(node) > 0
        documentation = node.find("bpmn:documentation", NS) if has_children else None
        return Node(
            id=element_id,
            tag=tag,
            name=node.get("name"),
            parent=parent,
            enclosing=enclosing,
            attributes=MappingProxyType(dict(node.attrib)),
            properties=MappingProxyType(_properties(node)) if has_children else _EMPTY,
            documentation=(documentation.text or "").strip() if documentation is not None else None,
            events=_events(node) if has_children else (),
            script=node.findtext("bpmn:script", namespaces=NS) if tag == "scriptTask" else None,
            incoming=tuple(incoming.get(element_id, ())) if element_id is not None else (),
            outgoing=tuple(outgoing.get(element_id, ())) if element_id is not None else (),
            boundaries=tuple(boundaries.get(element_id, ())) if element_id is not None else (),
        )

    elements: list[Node] = []
    processes: list[Node] = []

    def visit(node: etree._Element, parent: str | None, enclosing: tuple[str | None, ...]) -> None:
        """Document order, as lxml's iter gives it, with each element's scope carried down."""
        tag = node.tag
        if isinstance(tag, str) and tag.startswith(_BPMN_PREFIX):
            read = element(node, tag[len(_BPMN_PREFIX):], parent, enclosing)
            elements.append(read)
            if read.tag == "process" and node.getparent() is root:
                processes.append(read)
        if not isinstance(tag, str) or not len(node):
            return
        inner = (node.get("id"), *enclosing) if tag in _SUBPROCESSES else enclosing
        for child in node:
            visit(child, node.get("id"), inner)

    parent = root.getparent()
    visit(root, parent.get("id") if parent is not None else None, ())
    by_id = {n.id: n for n in elements if n.id is not None}
    return Graph(tuple(elements), flows, tuple(processes), MappingProxyType(by_id))

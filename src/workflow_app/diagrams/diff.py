"""What changed between two versions of a landlord's diagram: shown before a new version is
deployed, so an analyst sees what the upload does to the process.

Elements are matched by id (the ids Camunda Modeler and bpmn-js keep when a diagram is
edited). An element is *changed* when anything the engine reads from it differs: its type,
name, extension properties, form, role, attachment, timer expression; a sequence flow when
its ends, name or condition differ. Timer expressions that changed are listed on their own,
since they move deadlines; so are the forms whose content changed.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workflow_app.diagrams.definitions import Element, read_elements
from workflow_app.diagrams.graph import Graph, read_graph

COMPARED = ("tag", "name", "properties", "form_ref", "role", "attached_to", "timer_expression", "interrupting")


@dataclass(frozen=True)
class ElementSummary:
    id: str
    kind: str
    name: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "name": self.name}


@dataclass(frozen=True)
class ElementChange:
    id: str
    kind: str
    name: str
    changes: dict[str, tuple[Any, Any]]      # what -> (before, after)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "name": self.name,
                "changes": {what: {"before": before, "after": after} for what, (before, after) in self.changes.items()}}


@dataclass(frozen=True)
class TimerChange:
    id: str
    name: str
    deadline_key: str | None
    before: str | None
    after: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "deadline_key": self.deadline_key,
                "before": self.before, "after": self.after}


@dataclass
class DiagramDiff:
    added: list[ElementSummary] = field(default_factory=list)
    removed: list[ElementSummary] = field(default_factory=list)
    changed: list[ElementChange] = field(default_factory=list)
    timers: list[TimerChange] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)        # forms added, removed or changed

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.forms)

    def as_dict(self) -> dict[str, Any]:
        return {"added": [e.as_dict() for e in self.added], "removed": [e.as_dict() for e in self.removed],
                "changed": [e.as_dict() for e in self.changed], "timers": [t.as_dict() for t in self.timers],
                "forms": list(self.forms)}


@dataclass(frozen=True)
class _Item:
    """An element or a sequence flow, reduced to what the engine reads from it."""

    id: str
    kind: str
    name: str
    facts: dict[str, Any]


def _items(graph: Graph) -> dict[str, _Item]:
    items: dict[str, _Item] = {}
    for element in read_elements(graph).values():
        items[element.id] = _Item(element.id, element.tag, element.name, _facts(element))
    for flow in graph.flows:
        items[flow.id] = _Item(flow.id, "sequenceFlow", (flow.name or flow.id).strip(), {
            "from": flow.source, "to": flow.target, "name": (flow.name or "").strip(),
            "condition": flow.condition,
        })
    for gateway in graph.of("exclusiveGateway", "inclusiveGateway"):
        if gateway.id in items:
            items[gateway.id].facts["default"] = gateway.default
    for script in graph.of("scriptTask"):
        if script.id in items:
            items[script.id].facts["script"] = (script.script or "").strip()
    return items


def _facts(element: Element) -> dict[str, Any]:
    facts = {name: getattr(element, name) for name in COMPARED}
    facts["properties"] = dict(element.properties)
    return facts


def diff_diagrams(before_xml: bytes | str, after_xml: bytes | str,
                  before_forms: Mapping[str, Any] | None = None,
                  after_forms: Mapping[str, Any] | None = None) -> DiagramDiff:
    """What `after_xml` adds, removes and changes relative to `before_xml`.

    `before_forms` and `after_forms` map form ids to their JSON (as stored on a version or
    read from `forms/`); only the forms either diagram uses are compared.
    """
    before, after = _items(read_graph(before_xml)), _items(read_graph(after_xml))
    diff = DiagramDiff()
    for item_id in sorted(after.keys() - before.keys()):
        item = after[item_id]
        diff.added.append(ElementSummary(item.id, item.kind, item.name))
        if item.facts.get("timer_expression") is not None:
            diff.timers.append(TimerChange(item.id, item.name, item.facts["properties"].get("deadline_key"),
                                           None, item.facts["timer_expression"]))
    for item_id in sorted(before.keys() - after.keys()):
        item = before[item_id]
        diff.removed.append(ElementSummary(item.id, item.kind, item.name))
        if item.facts.get("timer_expression") is not None:
            diff.timers.append(TimerChange(item.id, item.name, item.facts["properties"].get("deadline_key"),
                                           item.facts["timer_expression"], None))
    for item_id in sorted(before.keys() & after.keys()):
        old, new = before[item_id], after[item_id]
        changes = _changes(old.facts, new.facts)
        if old.kind != new.kind:
            changes["kind"] = (old.kind, new.kind)
        if not changes:
            continue
        diff.changed.append(ElementChange(new.id, new.kind, new.name, changes))
        if "timer_expression" in changes:
            before_timer, after_timer = changes["timer_expression"]
            diff.timers.append(TimerChange(new.id, new.name, new.facts.get("properties", {}).get("deadline_key"),
                                           before_timer, after_timer))
    diff.forms = _form_changes(before, after, before_forms or {}, after_forms or {})
    return diff


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    changes: dict[str, tuple[Any, Any]] = {}
    for key in sorted(set(before) | set(after)):
        if key == "properties":
            old, new = before.get(key) or {}, after.get(key) or {}
            for name in sorted(set(old) | set(new)):
                if old.get(name) != new.get(name):
                    changes[f"property {name}"] = (old.get(name), new.get(name))
        elif before.get(key) != after.get(key):
            changes[key] = (before.get(key), after.get(key))
    return changes


def _form_changes(before: Mapping[str, _Item], after: Mapping[str, _Item], before_forms: Mapping[str, Any],
                  after_forms: Mapping[str, Any]) -> list[str]:
    used = {i.facts.get("form_ref") for i in (*before.values(), *after.values()) if i.facts.get("form_ref")}
    return sorted(form_id for form_id in used
                  if _source(before_forms.get(form_id)) != _source(after_forms.get(form_id)))


def _source(form: Any) -> Any:
    return getattr(form, "source", form)

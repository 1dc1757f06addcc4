"""What the check reports: findings with a provision, a severity and the element to look at."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workflow_app.diagrams.definitions import Element, find_problems, read_elements
from workflow_app.diagrams.forms import Form
from workflow_app.diagrams.graph import DiagramError, Problem, read_graph, read_xml
from workflow_app.diagrams.graph import Graph as Diagram

ERROR = "error"
WARNING = "warning"
ENGINE = "engine"
"""The `provision` of a finding that is not about the Code: the diagram cannot run as it is."""


@dataclass(frozen=True)
class Finding:
    """One thing the check found: the provision, error or warning, the element, and why."""

    provision: str
    severity: str
    element_id: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"provision": self.provision, "severity": self.severity,
                "element_id": self.element_id, "message": self.message}

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


def _provision_order(provision: str) -> tuple:
    if provision == ENGINE:
        return (0,)
    return (1, *[int(part) if part.isdigit() else 0 for part in provision.split(".")])


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    unique = list(dict.fromkeys(findings))
    return sorted(unique, key=lambda f: (f.severity != ERROR, _provision_order(f.provision),
                                         f.element_id or "", f.message))


def code_errors(findings: Iterable[Finding]) -> list[Finding]:
    """The Code errors (not the engine's): deploying with these needs an acknowledgement."""
    return [f for f in findings if f.is_error and f.provision != ENGINE]


def engine_finding(problem: Problem) -> Finding:
    return Finding(ENGINE, ERROR, problem.element_id, problem.reason)


@dataclass(frozen=True)
class DiagramReading:
    """A diagram read for a check: the parsed diagram and its elements (None and empty when its XML cannot
    be read), and the engine's problems with it, as findings."""

    diagram: Diagram | None
    elements: Mapping[str, Element] = field(default_factory=dict)
    engine_findings: list[Finding] = field(default_factory=list)


def read_for_check(xml: bytes | str, forms: Mapping[str, Form]) -> DiagramReading:
    """Read a diagram as every check does first: the XML (its problems alone when it cannot be read), the
    diagram and its elements, and what the engine finds wrong with them."""
    try:
        root = read_xml(xml)
    except DiagramError as error:
        return DiagramReading(None, {}, [engine_finding(p) for p in error.problems])
    diagram = read_graph(root)
    elements = read_elements(diagram)
    return DiagramReading(diagram, elements, [engine_finding(p) for p in find_problems(root, elements, forms)])

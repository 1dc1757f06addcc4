"""How many complaints went along each sequence flow of a diagram, from how often its elements were reached.

The engine records when tasks open, timers fire, letters go and complaints close, not which
flow a gateway took; the flows follow from those counts because what enters an element leaves
it: a flow into an element with one way in carries what reached that element, a flow out of an
element with one way out carries what reached it, and a gateway's last unknown way out carries
what is left. Flows the counts cannot settle are left out rather than guessed.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from workflow_app.diagrams.graph import read_graph as read_diagram

FLOW_NODE_TAGS = {"task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
                  "businessRuleTask", "subProcess", "callActivity", "startEvent", "endEvent",
                  "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway",
                  "inclusiveGateway", "parallelGateway", "eventBasedGateway"}


@dataclass(frozen=True)
class Graph:
    nodes: Mapping[str, str]                          # id -> tag
    flows: Mapping[str, tuple[str, str]]              # id -> (source, target)
    starts: tuple[str, ...]
    user_tasks: tuple[str, ...]
    outcomes: Mapping[str, str]                       # closing element id (end or throw event) -> outcome


def read_graph(xml: str | bytes) -> Graph:
    diagram = read_diagram(xml)
    nodes: dict[str, str] = {}
    outcomes: dict[str, str] = {}
    for node in diagram.elements:
        if node.tag in FLOW_NODE_TAGS and node.id:
            nodes[node.id] = node.tag
            if node.tag in ("endEvent", "intermediateThrowEvent") and node.properties.get("outcome"):
                outcomes[node.id] = node.properties["outcome"]
    flows = {flow.id: (flow.source, flow.target) for flow in diagram.flows if flow.id}
    starts = tuple(n for n, tag in nodes.items() if tag == "startEvent")
    return Graph(nodes, flows, starts, tuple(n for n, t in nodes.items() if t == "userTask"), outcomes)


def flow_counts(graph: Graph, reached: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """(flows, nodes): how many passed along each flow it can settle, and through each element."""
    nodes = {n: c for n, c in reached.items() if n in graph.nodes}
    flows: dict[str, int] = {}
    incoming: dict[str, list[str]] = {n: [] for n in graph.nodes}
    outgoing: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for flow, (source, target) in graph.flows.items():
        if source in outgoing and target in incoming:
            outgoing[source].append(flow)
            incoming[target].append(flow)
    changed = True
    while changed:
        changed = False
        for flow, (source, target) in graph.flows.items():
            if flow in flows or source not in graph.nodes or target not in graph.nodes:
                continue
            if target in nodes and len(incoming[target]) == 1:
                flows[flow] = nodes[target]
            elif source in nodes and (len(outgoing[source]) == 1 or graph.nodes[source] == "parallelGateway"):
                flows[flow] = nodes[source]
            else:
                continue
            changed = True
        for node in graph.nodes:
            ins, outs = incoming[node], outgoing[node]
            if node not in nodes:
                if ins and all(f in flows for f in ins):
                    nodes[node] = sum(flows[f] for f in ins)
                    changed = True
                elif outs and all(f in flows for f in outs) and graph.nodes[node] != "parallelGateway":
                    nodes[node] = sum(flows[f] for f in outs)
                    changed = True
            elif graph.nodes[node] in ("exclusiveGateway", "eventBasedGateway", "inclusiveGateway"):
                unknown = [f for f in outs if f not in flows]
                if len(unknown) == 1 and len(outs) > 1:
                    rest = nodes[node] - sum(flows[f] for f in outs if f in flows)
                    if rest >= 0:
                        flows[unknown[0]] = rest
                        changed = True
    return flows, nodes

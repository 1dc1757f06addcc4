"""The one reader of a diagram's graph: real diagrams from processes/, and hostile XML."""
from __future__ import annotations

import pytest

from tests.unit.diagrams.test_code_check import CODESHIRE, PROCESSES
from workflow_app.diagrams.definitions import read_elements
from workflow_app.diagrams.graph import DiagramError, read_graph, read_xml

HARROGATE = (PROCESSES / "harrogate" / "complaint.bpmn").read_bytes()
BRIGHTER = (PROCESSES / "brighter_places" / "complaint.bpmn").read_bytes()


@pytest.fixture(scope="module")
def harrogate():
    return read_graph(HARROGATE)


def test_a_boundary_timer_knows_what_it_is_attached_to_and_its_deadline(harrogate):
    timer = harrogate.node("acknowledge_due")
    assert timer.tag == "boundaryEvent"
    assert timer.attached_to == "before_acknowledgement"
    assert timer.interrupting is False
    assert timer.properties["deadline_key"] == "stage1_acknowledge"
    assert timer.properties["stage"] == "1"
    assert [e.kind for e in timer.events] == ["timer"]
    assert timer.event("timer").time_date == "working_days_after(received_at, 2)"
    assert [(f.id, f.target) for f in timer.outgoing] == [("Flow_acknowledge_late", "acknowledge_late")]
    assert "from receipt" in timer.documentation
    # ...and the activity knows the events on it.
    assert harrogate.node("before_acknowledgement").boundaries == ("acknowledge_due",)


def test_a_subprocess_holds_its_children_and_they_know_it(harrogate):
    subprocess = harrogate.node("before_acknowledgement")
    assert subprocess.tag == "subProcess"
    assert subprocess.parent == "harrogate_complaint"
    assert [f.id for f in subprocess.incoming] == ["Flow_set_up"]
    assert [f.id for f in subprocess.outgoing] == ["Flow_acknowledgement_window_ended"]
    children = {n.id for n in harrogate.children("before_acknowledgement") if n.tag != "sequenceFlow"}
    assert {"first_contact", "decide_acceptance", "acknowledge", "acknowledgement_clock_started"} <= children
    assert "respond1" not in children
    task = harrogate.node("first_contact")
    assert task.parent == "before_acknowledgement"
    assert task.enclosing == ("before_acknowledgement",)
    assert (task.tag, task.form_ref, task.role) == ("userTask", "informal_resolution", "caseworker")
    assert task.properties == {"stage": "pre"}


def test_flows_messages_and_the_main_process(harrogate):
    extend = next(f for f in harrogate.flows if f.id == "Flow_stage1_extend")
    assert (extend.source, extend.target, extend.condition) == ("stage1_decision_gw", "stage1_extend",
                                                                 'stage1_decision == "extend"')
    assert extend in harrogate.node("stage1_decision_gw").outgoing
    assert extend in harrogate.node("stage1_extend").incoming
    assert harrogate.messages["Message_escalation_requested"] == "escalation_requested"
    assert harrogate.main_process == "harrogate_complaint"


def test_the_engine_elements_are_read_from_the_graph():
    graph = read_graph(BRIGHTER)
    elements = read_elements(graph)
    assert elements == read_elements(read_xml(BRIGHTER))
    due = elements["stage1_response_due"]
    assert (due.attached_to, due.deadline_key, due.interrupting) == ("stage1_response", "stage1_response", False)
    assert due.timer_expression == "working_days_after(logged_at, 10 + stage1_extension_days)"
    assert set(graph.node("stage1_response").boundaries) >= {"stage1_response_due", "additional_complaint_raised"}


def test_every_landlord_diagram_reads_with_each_flow_between_its_elements():
    for path in PROCESSES.glob("*/complaint.bpmn"):
        graph = read_graph(path.read_bytes())
        assert graph.main_process is not None, path
        ids = {n.id for n in graph.elements if n.id}
        assert all(f.source in ids and f.target in ids for f in graph.flows), path
    assert all(read_graph(path.read_bytes()).main_process for path in CODESHIRE.glob("*.bpmn"))


@pytest.mark.parametrize("xml", [
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</bpmn:definitions>',
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "expanded">]>'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
    '<bpmn:process id="p" name="&x;"/></bpmn:definitions>',
])
def test_an_entity_is_refused_not_expanded(xml):
    with pytest.raises(DiagramError, match="DOCTYPE"):
        read_graph(xml)


def test_a_root_already_read_is_not_parsed_again():
    root = read_xml(HARROGATE)
    assert read_graph(root).main_process == "harrogate_complaint"

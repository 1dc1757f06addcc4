"""The three landlords' complaint processes: they deploy, they open in a modeller, and sample
complaints (tests/scenarios/*.json, runnable with `workflow-app simulate`) meet the policies' dates.

Every due date below was worked out by hand with the brief's rule: day 0 is the start's London date
(or the next working day), the deadline is 23:59:59 London time on the N-th working day after it;
England and Wales bank holidays. In British Summer Time (from Sun 28 March 2027) 23:59:59 London
is 22:59:59 UTC.
"""
from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from workflow_app.casework import engine
from workflow_app.casework.case_record import case_page
from workflow_app.casework.consistency import inconsistent_complaints
from workflow_app.casework.deployments import deploy, diagram_files, read_forms
from workflow_app.casework.models import Complaint
from workflow_app.casework.runner import ComplaintRun, scratch_runtime
from workflow_app.casework.runtime import build_runtime
from workflow_app.diagrams.definitions import cache as definition_cache
from workflow_app.diagrams.definitions import check_diagram, compile_definition
from workflow_app.rules.errors import Conflict
from workflow_app.rules.roles import WORKER_ROLES
from workflow_app.rules.vocabulary import is_duty
from workflow_app.tools.simulator import ScenarioError, simulate

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"
FORMS = ROOT / "forms"
SCENARIOS = Path(__file__).parents[1] / "scenarios"
LANDLORDS = ("great_places", "brighter_places", "harrogate")
POLICY = {"great_places": "Policy 000", "brighter_places": "Policy 001", "harrogate": "Policy 004"}

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC",
      "di": "http://www.omg.org/spec/DD/20100524/DI",
      "camunda": "http://camunda.org/schema/1.0/bpmn"}
FLOW_NODES = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
              "userTask", "scriptTask", "exclusiveGateway", "eventBasedGateway", "parallelGateway")


def diagram(landlord: str) -> bytes:
    return (PROCESSES / landlord / "complaint.bpmn").read_bytes()


def scenario(name: str) -> dict:
    return json.loads((SCENARIOS / f"{name}.json").read_text())


def run(spec: dict) -> dict:
    # Each simulation has its own database whose first version has id 1, but parsed definitions are
    # cached per process by version id, so clear the cache between landlords (as conftest does).
    definition_cache.clear()
    return simulate(spec, PROCESSES, FORMS)


def run_named(name: str) -> dict:
    return run(scenario(name))


def deadlines(result: dict) -> dict[str, dict]:
    return {d["key"]: d for d in result["final"]["deadlines"]}


def sets(result: dict) -> list[tuple[str, str, bool]]:
    return [(e["key"], e["due_at"], e["extended"]) for e in result["timeline"] if e["type"] == "deadline_set"]


def letters(result: dict) -> list[str]:
    return [e["template"] for e in result["timeline"] if e["type"] == "letter_issued"]


def met(result: dict, key: str) -> tuple[str | None, str | None]:
    """When the deadline with this key was met, and how when not in the usual way (refusal, first contact)."""
    deadline = deadlines(result)[key]
    return deadline["met_at"], deadline.get("met_by")


def kinds(result: dict, kind: str) -> list[dict]:
    return [e for e in result["timeline"] if e["type"] == kind]


@pytest.fixture(autouse=True)
def fresh_definitions():
    """Leave no parsed definition behind: another test's database also starts at version id 1."""
    definition_cache.clear()
    yield
    definition_cache.clear()


@pytest.fixture
def rendered(monkeypatch):
    """Every letter body rendered during a test, by template name; a missing template fails."""
    bodies: dict[str, list[str]] = {}
    original = engine.Casework._render_letter

    def render(self, complaint, instance, template):
        html = original(self, complaint, instance, template)
        assert html is not None, f"{complaint.landlord} has no letter template {template!r}"
        bodies.setdefault(template, []).append(html)
        return html

    monkeypatch.setattr(engine.Casework, "_render_letter", render)
    return bodies


# --- the diagrams ----------------------------------------------------------------------------

def test_every_landlord_diagram_deploys(tmp_path):
    definition_cache.clear()
    runtime = build_runtime(f"sqlite:///{tmp_path / 'deploy.sqlite3'}", PROCESSES, FORMS)
    try:
        forms = read_forms(FORMS)
        deployed = {}
        with runtime.sessions.begin() as session:
            for landlord, path in diagram_files(PROCESSES):
                result = deploy(session, landlord, path.read_bytes(), forms, "tester")
                deployed.setdefault(landlord, []).append((result.version.process_id, result.version.version))
        assert deployed == {slug: [(f"{slug}_complaint", 1), (f"{slug}_hazard", 1)] for slug in LANDLORDS}
    finally:
        runtime.close()
        definition_cache.clear()


@pytest.mark.parametrize("landlord", LANDLORDS)
def test_the_diagram_passes_the_engine_checks(landlord):
    assert check_diagram(diagram(landlord), read_forms(FORMS)) == []


@pytest.mark.parametrize("landlord", LANDLORDS)
def test_the_diagram_has_full_interchange_for_a_modeller(landlord):
    root = etree.fromstring(diagram(landlord))
    shapes = {s.get("bpmnElement"): s for s in root.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    [participant] = root.findall("bpmn:collaboration/bpmn:participant", NS)
    lanes = root.findall(".//bpmn:lane", NS)
    nodes = [n for tag in FLOW_NODES for n in root.iterfind(f".//bpmn:{tag}", NS)]
    assert len(lanes) >= 3 and len(nodes) > 30
    for element in [participant, *lanes, *nodes, *root.iterfind(".//bpmn:group", NS)]:
        bounds = shapes[element.get("id")].find("dc:Bounds", NS)
        assert bounds is not None and float(bounds.get("width")) > 0, element.get("id")
    flows = root.findall(".//bpmn:sequenceFlow", NS)
    for flow in flows:
        assert len(edges[flow.get("id")].findall("di:waypoint", NS)) >= 2, flow.get("id")
    # Lanes hold the process's own flow nodes (as bpmn-js keeps them); a subprocess's are drawn inside it.
    process = root.find("bpmn:process", NS)
    top_level = {n.get("id") for n in process if etree.QName(n).localname in (*FLOW_NODES, "subProcess")}
    in_lanes = {ref.text for lane in lanes for ref in lane.iterfind("bpmn:flowNodeRef", NS)}
    assert in_lanes == top_level
    for subprocess in root.iterfind(".//bpmn:subProcess", NS):
        left, top, right, bottom = _box(shapes[subprocess.get("id")])
        for child in subprocess:
            if etree.QName(child).localname in FLOW_NODES:
                x, y, x2, y2 = _box(shapes[child.get("id")])
                assert left <= x and x2 <= right and top <= y and y2 <= bottom, child.get("id")
    stages = {v.get("value") for v in root.iterfind(".//bpmn:categoryValue", NS)}
    assert {"Stage 1", "Stage 2"} <= {s.split(":")[0] for s in stages}


def _box(shape) -> tuple[float, float, float, float]:
    bounds = shape.find("dc:Bounds", NS)
    x, y = float(bounds.get("x")), float(bounds.get("y"))
    return x, y, x + float(bounds.get("width")), y + float(bounds.get("height"))


@pytest.mark.parametrize("landlord", LANDLORDS)
def test_every_element_names_the_policy_it_follows(landlord):
    root = etree.fromstring(diagram(landlord))
    documented = [*root.iterfind(".//bpmn:process", NS), *root.iterfind(".//bpmn:participant", NS),
                  *root.iterfind(".//bpmn:lane", NS), *root.iterfind(".//bpmn:sequenceFlow", NS),
                  *root.iterfind(".//bpmn:group", NS),
                  *[n for tag in (*FLOW_NODES, "subProcess") for n in root.iterfind(f".//bpmn:{tag}", NS)]]
    for element in documented:
        text = element.findtext("bpmn:documentation", namespaces=NS) or ""
        assert text.startswith(POLICY[landlord]), (element.get("id"), text[:60])


@pytest.mark.parametrize("landlord", LANDLORDS)
def test_every_letter_the_diagram_issues_has_a_template(landlord):
    definition = compile_definition(diagram(landlord), read_forms(FORMS))
    templates = {e.properties["letter"] for e in definition.elements.values() if e.properties.get("letter")}
    assert {"acknowledgement", "extension", "refusal", "stage1_response", "final_response", "closure"} <= templates
    for template in templates:
        assert (PROCESSES / landlord / "letters" / f"{template}.html").is_file(), template


@pytest.mark.parametrize("landlord, limits", [
    ("great_places", {"stage1_extension_limit = 10", "stage2_extension_limit = 20"}),
    ("brighter_places", {"stage1_extension_limit = 20", "stage2_extension_limit = 10"}),
    ("harrogate", {"stage1_extension_limit = 10", "stage2_extension_limit = 10"}),
])
def test_the_extension_limits_are_the_policies(landlord, limits):
    root = etree.fromstring(diagram(landlord))
    [setup] = [s for s in root.iterfind(".//bpmn:scriptTask", NS) if s.get("id") == "set_up"]
    assert limits <= set(setup.findtext("bpmn:script", namespaces=NS).splitlines())


@pytest.mark.parametrize("landlord", LANDLORDS)
def test_every_landlord_models_the_paths_around_the_two_stages(landlord):
    """Additional complaints, tracked actions with update reminders, restrictions with their reviews, and the
    closing that waits for them: the same shape in all three diagrams, each in its policy's words."""
    definition = compile_definition(diagram(landlord), read_forms(FORMS))
    elements = definition.elements.values()
    assert {"additional_complaint_raised", "behaviour_concern_raised", "escalation_requested"} <= definition.messages
    keys = {e.deadline_key for e in elements if e.deadline_key}
    assert {"update_interval", "restriction_review", "stage1_response"} <= keys
    decision = definition.element("additional_complaint")
    assert decision.form_ref == "additional_complaint" and decision.properties["letter"] == "additional_complaint"
    [raised] = [e for e in elements if e.id == "additional_complaint_raised"]
    assert raised.attached_to == "stage1_response" and raised.interrupting
    # the stage 1 response date moves with the investigation onto the decision task
    carried = [e for e in elements if e.attached_to == "additional_complaint" and e.deadline_key == "stage1_response"]
    assert len(carried) == 1 and not carried[0].interrupting
    assert carried[0].timer_expression == definition.element("stage1_response_due").timer_expression
    trackers = [e for e in elements if e.tag == "userTask" and e.form_ref == "action_update"]
    assert {t.stage for t in trackers} == {"1", "post"}
    assert all(e.properties.get("timestamp") == "last_update_at" for e in trackers)
    reviews = [e for e in elements if e.deadline_key == "restriction_review"]
    assert {e.stage for e in reviews} >= {"1", "post"}
    assert definition.element("restriction_decide").form_ref == f"restriction_decision_{landlord}"
    # An outcome closes the complaint at an end event, or (Great Places, at stage 1) at a throw event after which
    # the process still takes a late stage 2 request.
    ends = {e.properties.get("outcome") for e in elements
            if e.tag in ("endEvent", "intermediateThrowEvent") and e.properties.get("outcome")}
    assert {"resolved_stage1", "stage2_final"} <= ends
    root = etree.fromstring(diagram(landlord))
    signals = {s.get("name") for s in root.iterfind("bpmn:signal", NS)}
    assert "complaint_closing" in signals
    for lane in root.iterfind(".//bpmn:lane", NS):
        assert lane.findtext("bpmn:documentation", namespaces=NS).startswith(POLICY[landlord])


# --- Great Places (seed 000) -----------------------------------------------------------------

def test_great_places_refusal_sends_the_refusal_letter_and_closes(rendered):
    result = run_named("great_places_refusal")
    assert result["final"]["status"] == "closed" and result["final"]["outcome"] == "refused"
    # The acknowledgement clock ran from receipt (Wed 23 Dec 2026 16:30: 24, 29, 30, 31 Dec, 4 Jan); the refusal
    # letter on Thu 24 Dec met it.
    assert letters(result) == ["refusal"]
    assert sets(result) == [("stage1_acknowledge", "2027-01-04T23:59:59+00:00", False)]
    assert met(result, "stage1_acknowledge") == ("2026-12-24T10:00:00+00:00", "refusal")
    [body] = rendered["refusal"]
    assert "An initial report of fly tipping or vandalism" in body and "0300 111 3000" in body


def test_great_places_response_within_time_closes_after_the_escalation_window(rendered):
    result = run_named("great_places_on_time")
    # Received Wed 23 Dec 2026 16:30: 24, 29, 30, 31 Dec and 4 Jan (25, 28 Dec and 1 Jan are bank holidays).
    # Acknowledged Mon 4 Jan: 10 working days is Mon 18 Jan. Responded Thu 14 Jan: the window the
    # diagram chose (20 working days; the policy sets none) ends Thu 11 Feb.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-01-04T23:59:59+00:00", False),
        ("stage1_response", "2027-01-18T23:59:59+00:00", False),
        ("escalation_window", "2027-02-11T23:59:59+00:00", False),
    ]
    due = deadlines(result)
    assert due["stage1_acknowledge"]["met_at"] == "2027-01-04T15:00:00+00:00"
    assert due["stage1_response"]["met_at"] == "2027-01-14T11:00:00+00:00"
    assert [(e["at"], e["key"]) for e in kinds(result, "timer_fired")] == [
        ("2027-02-12T00:00:00+00:00", "escalation_window")]
    assert kinds(result, "deadline_missed") == []
    assert letters(result) == ["acknowledgement", "stage1_response", "closure"]
    assert result["final"]["status"] == "closed" and result["final"]["outcome"] == "resolved_stage1"
    assert [e["stage"] for e in kinds(result, "stage_changed")] == ["1", "post"]
    assert "18 January 2027" in rendered["acknowledgement"][0]


def test_great_places_extension_over_easter_2027(rendered):
    result = run_named("great_places_extension_easter")
    # Received Thu 18 Mar 2027: 19, 22, 23, 24, 25 Mar -> Thu 25 Mar (still GMT).
    # Acknowledged Wed 24 Mar: 25 Mar, then Good Friday 26 Mar and Easter Monday 29 Mar are skipped:
    # 30, 31 Mar, 1, 2, 5, 6, 7, 8, 9 Apr -> Fri 9 Apr, 23:59:59 BST.
    # Extended by 10 on 8 Apr: 12-16 and 19-23 Apr -> Fri 23 Apr. Responded Thu 22 Apr: 20 working days,
    # skipping the early May bank holiday (Mon 3 May) -> Fri 21 May.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-03-25T23:59:59+00:00", False),
        ("stage1_response", "2027-04-09T22:59:59+00:00", False),
        ("stage1_response", "2027-04-23T22:59:59+00:00", True),
        ("escalation_window", "2027-05-21T22:59:59+00:00", False),
    ]
    response = deadlines(result)["stage1_response"]
    assert response == {"key": "stage1_response", "stage": "1", "due_at": "2027-04-23T22:59:59+00:00",
                        "met_at": "2027-04-22T10:00:00+00:00", "missed": False, "extended": True}
    assert letters(result) == ["acknowledgement", "extension", "stage1_response"]
    [extension] = rendered["extension"]
    assert "23 April 2027" in extension and "damp survey" in extension and "0300 111 3000" in extension


def test_great_places_extension_beyond_ten_days_needs_the_customers_agreement():
    spec = scenario("great_places_extension_easter")
    again = {"at": "2027-04-15T10:00:00+00:00", "complete": "stage1_response", "as": "alice",
             "data": {"stage1_decision": "extend", "extension_days": 1, "extension_reason": "More time."}}
    spec["steps"][-1:] = [again]
    with pytest.raises(ScenarioError, match=r"step 4 .*extension_days: Enter a number no greater than 0"):
        run(spec)
    again["data"]["extension_agreed"] = True
    result = run(spec)
    # 10 + 10 + 1 working days from Wed 24 Mar -> Mon 26 Apr.
    assert deadlines(result)["stage1_response"]["due_at"] == "2027-04-26T22:59:59+00:00"


def test_great_places_stage_2_by_a_different_person_with_the_final_response(rendered):
    result = run_named("great_places_stage2")
    # Acknowledged Thu 24 Dec: 10 working days is Tue 12 Jan; extended by 5 to Tue 19 Jan.
    # Responded Fri 15 Jan: the 20-working-day window would end Fri 12 Feb. Escalated Wed 20 Jan:
    # acknowledge by Wed 27 Jan; acknowledged Thu 21 Jan: 20 working days is Thu 18 Feb; extended by 5
    # to Thu 25 Feb.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-01-04T23:59:59+00:00", False),
        ("stage1_response", "2027-01-12T23:59:59+00:00", False),
        ("stage1_response", "2027-01-19T23:59:59+00:00", True),
        ("escalation_window", "2027-02-12T23:59:59+00:00", False),
        ("stage2_acknowledge", "2027-01-27T23:59:59+00:00", False),
        ("stage2_response", "2027-02-18T23:59:59+00:00", False),
        ("stage2_response", "2027-02-25T23:59:59+00:00", True),
    ]
    due = deadlines(result)
    assert due["escalation_window"]["met_at"] == "2027-01-20T09:00:00+00:00"
    assert due["stage2_response"]["met_at"] == "2027-02-24T09:00:00+00:00" and not due["stage2_response"]["missed"]
    assert letters(result) == ["acknowledgement", "extension", "stage1_response", "stage2_acknowledgement",
                               "extension", "final_response", "closure"]
    assert result["final"]["outcome"] == "stage2_final"
    assert [e["stage"] for e in kinds(result, "stage_changed")] == ["1", "2", "post"]
    completed = {e["element_id"]: e["actor"] for e in kinds(result, "task_completed")}
    assert completed["stage1_response"] == "alice" and completed["stage2_response"] == "bob"
    final = rendered["final_response"][0]
    for part in ("Final response to your complaint ref: GP-2026-000001", "15 January 2027", "£300.00",
                 "Repeat leaks now go to a surveyor", "0300 111 3000", "The Energy Ombudsman",
                 "Bob Example, Head of Property Services"):
        assert part in final
    assert "£50.00" not in final  # stage 1's remedies are not repeated as stage 2's


def test_great_places_stage_2_refuses_the_stage_1_investigator():
    spec = scenario("great_places_stage2")
    for step in spec["steps"]:
        if step.get("complete") == "stage2_response":
            step["as"] = "alice"
    with pytest.raises(ScenarioError, match=r"step 7 \(complete stage2_response.*6\.13"):
        run(spec)


def test_great_places_complaint_about_a_colleague_goes_to_the_line_manager():
    result = run_named("great_places_colleague")
    # Acknowledged Thu 24 Dec: the line manager's 10 working days end Tue 12 Jan. Answered Mon 11 Jan:
    # the escalation window (20 working days) ends Mon 8 Feb.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-01-04T23:59:59+00:00", False),
        ("colleague_response", "2027-01-12T23:59:59+00:00", False),
        ("escalation_window", "2027-02-08T23:59:59+00:00", False),
    ]
    assert deadlines(result)["colleague_response"]["met_at"] == "2027-01-11T15:00:00+00:00"
    assert letters(result) == ["acknowledgement", "stage1_response"]
    assert result["final"]["status"] == "open"


def test_great_places_petition_needs_a_lead_petitioner():
    result = run_named("great_places_petition")
    assert [t["element_id"] for t in result["final"]["open_tasks"]] == ["stage1_response"]
    spec = scenario("great_places_petition")
    del spec["steps"][0]["data"]["lead_petitioner"]
    with pytest.raises(ScenarioError, match="lead_petitioner"):
        run(spec)


def test_great_places_complaint_about_a_service_request_leaves_the_request_going(rendered):
    result = run_named("great_places_service_request")
    # Received Wed 7 Apr 2027 (14:00 BST): acknowledge by Wed 14 Apr (8, 9, 12, 13, 14 Apr). Acknowledged Thu 8 Apr:
    # respond by Thu 22 Apr. The repairs team carries the request on beside the complaint, on its own service level (no
    # complaint deadline): done Tue 13 Apr. Responded Mon 19 Apr: 20 working days, Mon 3 May skipped -> Tue 18 May.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-04-14T22:59:59+00:00", False),
        ("stage1_response", "2027-04-22T22:59:59+00:00", False),
        ("escalation_window", "2027-05-18T22:59:59+00:00", False),
    ]
    [ready] = [e for e in kinds(result, "task_ready") if e["element_id"] == "service_request_continues"]
    assert (ready["at"], ready["role"], ready["stage"], ready["due_at"]) == (
        "2027-04-08T10:00:00+00:00", "caseworker", "1", None)
    completed = {e["element_id"]: e["at"] for e in kinds(result, "task_completed")}
    assert completed["service_request_continues"] == "2027-04-13T09:00:00+00:00"
    assert letters(result) == ["acknowledgement", "stage1_response"]
    acknowledgement = rendered["acknowledgement"][0]
    assert "our response to your service request RR-4471" in acknowledgement
    assert "Repairs team will carry on with that request" in acknowledgement


def test_great_places_service_request_goes_on_outside_a_complaint_that_closes_first():
    spec = scenario("great_places_service_request")
    del spec["steps"][2]
    spec["steps"] += [
        {"at": "2027-05-19T09:00:00+00:00", "complete": "satisfaction_survey", "as": "alice",
         "data": {"survey_status": "no_reply"}},
        {"at": "2027-05-19T10:00:00+00:00", "complete": "lessons_learnt", "as": "alice",
         "data": {"lessons": "Loss of heating needs an emergency visit.", "lessons_theme": "property_condition"}}]
    result = run(spec)
    # No stage 2 request by Tue 18 May: the complaint closes on Wed 19 May and the service request is left to the
    # repairs team's own system.
    assert [(e["at"], e["outcome"]) for e in kinds(result, "closed")] == [("2027-05-19T10:00:00+00:00", "resolved_stage1")]
    assert [e["element_id"] for e in kinds(result, "task_cancelled")] == ["service_request_continues"]


def test_great_places_service_request_needs_its_reference_and_team():
    spec = scenario("great_places_service_request")
    del spec["steps"][0]["data"]["service_request_team"]
    with pytest.raises(ScenarioError, match="service_request_team"):
        run(spec)


def test_great_places_additional_complaints_join_or_become_new_ones(rendered):
    result = run_named("great_places_additional_complaint")
    # Received Mon 1 Feb 2027: acknowledge by Mon 8 Feb. Acknowledged Wed 3 Feb: 10 working days is Wed 17 Feb.
    # Two additional complaints on Mon 8 and Thu 11 Feb: the stage 1 deadline stays where it was (it moves to the
    # decision task and back with the same date, so no new deadline is set). Responded Tue 16 Feb: the 20-working-day
    # window ends Tue 16 Mar.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-02-08T23:59:59+00:00", False),
        ("stage1_response", "2027-02-17T23:59:59+00:00", False),
        ("escalation_window", "2027-03-16T23:59:59+00:00", False),
    ]
    decisions = [e for e in kinds(result, "task_ready") if e["element_id"] == "additional_complaint"]
    assert [(e["at"], e["due_at"]) for e in decisions] == [("2027-02-08T09:00:00+00:00", "2027-02-17T23:59:59+00:00"),
                                                           ("2027-02-11T09:00:00+00:00", "2027-02-17T23:59:59+00:00")]
    assert deadlines(result)["stage1_response"]["met_at"] == "2027-02-16T10:00:00+00:00"
    assert letters(result) == ["acknowledgement", "additional_complaint", "additional_complaint", "stage1_response"]
    joined, separate = rendered["additional_complaint"]
    assert "we have added them to your complaint" in joined and "17 February 2027" in joined
    assert "left the floor wet and dirty" in joined
    assert "reference <strong>GP-2027-000002</strong>" in separate
    response = rendered["stage1_response"][0]
    assert "left the floor wet and dirty" in response and "£75.00, paid by 1 March 2027" in response


def test_great_places_additional_complaint_is_only_taken_while_the_investigation_is_open():
    spec = scenario("great_places_additional_complaint")
    spec["steps"][3]["data"]["additional_complaint_decision"] = "join"
    del spec["steps"][3]["data"]["complaint_definition"]
    with pytest.raises(ScenarioError, match="complaint_definition"):
        run(spec)


def test_great_places_agrees_update_intervals_once_outside_the_timescales(rendered):
    result = run_named("great_places_late_updates")
    # Received Thu 18 Mar 2027; acknowledged Wed 24 Mar: 10 working days over Easter is Fri 9 Apr (BST). Not answered:
    # missed at 23:59:59 BST, and the team agrees weekly updates with the customer (Mon 12 Apr): the first is due
    # within 5 working days, Mon 19 Apr. Updated Fri 16 Apr: the next is due Fri 23 Apr. The response on Wed 21 Apr
    # ends the updates; the 20-working-day window skips the early May bank holiday: Thu 20 May.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-03-25T23:59:59+00:00", False),
        ("stage1_response", "2027-04-09T22:59:59+00:00", False),
        ("update_interval", "2027-04-19T22:59:59+00:00", False),
        ("update_interval", "2027-04-23T22:59:59+00:00", False),
        ("escalation_window", "2027-05-20T22:59:59+00:00", False),
    ]
    assert [(e["key"], e["due_at"]) for e in kinds(result, "deadline_missed")] == [
        ("stage1_response", "2027-04-09T22:59:59+00:00")]
    due = deadlines(result)
    assert due["stage1_response"]["missed"] and due["stage1_response"]["met_at"] == "2027-04-21T10:00:00+00:00"
    assert due["update_interval"]["met_at"] == "2027-04-21T10:00:00+00:00" and not due["update_interval"]["missed"]
    assert letters(result) == ["acknowledgement", "update", "stage1_response"]
    assert "survey took place on 15 April" in rendered["update"][0]
    cancelled = [e["element_id"] for e in kinds(result, "task_cancelled")]
    assert cancelled == ["keep_informed"] and result["final"]["open_tasks"] == []


def test_great_places_agrees_update_intervals_with_an_extension_beyond_the_code(rendered):
    result = run_named("great_places_agreed_extension")
    # Received Mon 1 Mar 2027: acknowledge by Mon 8 Mar. Acknowledged Tue 2 Mar: respond by Tue 16 Mar. Extended on
    # Mon 15 Mar by 15 working days with the customer's agreement (beyond the Code's 10): 25 working days from Tue 2
    # Mar, skipping Good Friday (26 Mar) and Easter Monday (29 Mar) -> Thu 8 Apr, 23:59:59 BST. Outside the Code's
    # timescales, so update intervals are agreed at once (Tue 16 Mar, every 5 working days): the first update is due
    # Tue 23 Mar; updated Mon 22 Mar, the next by Wed 31 Mar (23-25, 30, 31 Mar); updated Wed 31 Mar, the next by Wed
    # 7 Apr (1, 2, 5, 6, 7 Apr). The response on Tue 6 Apr ends the updates; the window: 20 working days skipping Mon
    # 3 May -> Wed 5 May.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-03-08T23:59:59+00:00", False),
        ("stage1_response", "2027-03-16T23:59:59+00:00", False),
        ("stage1_response", "2027-04-08T22:59:59+00:00", True),
        ("update_interval", "2027-03-23T23:59:59+00:00", False),
        ("update_interval", "2027-03-31T22:59:59+00:00", False),
        ("update_interval", "2027-04-07T22:59:59+00:00", False),
        ("escalation_window", "2027-05-05T22:59:59+00:00", False),
    ]
    assert kinds(result, "deadline_missed") == []
    ready = [(e["at"], e["element_id"], e["due_at"]) for e in kinds(result, "task_ready")
             if e["element_id"] in ("agree_updates", "keep_informed")]
    assert ready == [("2027-03-15T10:00:00+00:00", "agree_updates", "2027-04-08T22:59:59+00:00"),
                     ("2027-03-16T10:00:00+00:00", "keep_informed", "2027-03-23T23:59:59+00:00"),
                     ("2027-03-22T10:00:00+00:00", "keep_informed", "2027-03-31T22:59:59+00:00"),
                     ("2027-03-31T09:00:00+00:00", "keep_informed", "2027-04-07T22:59:59+00:00")]
    due = deadlines(result)
    assert due["stage1_response"]["met_at"] == "2027-04-06T10:00:00+00:00" and due["stage1_response"]["extended"]
    assert due["update_interval"]["met_at"] == "2027-04-06T10:00:00+00:00"
    assert letters(result) == ["acknowledgement", "extension", "update", "update", "stage1_response"]
    assert "8 April 2027" in rendered["extension"][0] and "0300 111 3000" in rendered["extension"][0]
    assert "the report is due on 5 April" in rendered["update"][1]
    assert [e["element_id"] for e in kinds(result, "task_cancelled")] == ["keep_informed"]


def test_great_places_missing_the_agreed_date_does_not_start_a_second_round_of_updates():
    spec = scenario("great_places_agreed_extension")
    spec["steps"][-1] = {"at": "2027-04-09T09:00:00+00:00"}
    result = run(spec)
    # No update by Wed 7 Apr and no response by the extended date (Thu 8 Apr, 23:59:59 BST): both missed and recorded;
    # the updates agreed with the extension go on, with no second agreement.
    assert [(e["at"], e["key"]) for e in kinds(result, "deadline_missed")] == [
        ("2027-04-07T23:00:00+00:00", "update_interval"), ("2027-04-08T23:00:00+00:00", "stage1_response")]
    assert len([e for e in kinds(result, "task_ready") if e["element_id"] == "agree_updates"]) == 1
    assert sorted(t["element_id"] for t in result["final"]["open_tasks"]) == ["keep_informed", "stage1_response"]


def test_great_places_an_extension_within_the_code_agrees_no_intervals():
    spec = scenario("great_places_agreed_extension")
    spec["steps"][2]["data"].update({"extension_days": 10, "extension_agreed": False})
    spec["steps"][3:] = []
    result = run(spec)
    # 10 more working days: 20 from Tue 2 Mar, Good Friday and Easter Monday skipped -> Thu 1 Apr. Within the Code:
    # no intervals to agree.
    assert sets(result)[-1] == ("stage1_response", "2027-04-01T22:59:59+00:00", True)
    assert [t["element_id"] for t in result["final"]["open_tasks"]] == ["stage1_response"]


def test_great_places_tracks_outstanding_actions_until_done_then_closes(rendered):
    result = run_named("great_places_outstanding_actions")
    # Received Mon 11 Jan 2027: acknowledge by Mon 18 Jan; acknowledged Tue 12 Jan: respond by Tue 26 Jan.
    # Responded Fri 22 Jan with a door to fit by 26 Feb and updates every 10 working days: first update due Fri 5 Feb;
    # updated Thu 4 Feb, next due Thu 18 Feb; all done Wed 17 Feb. The stage 2 window then runs its 20 working days
    # from the response (Fri 19 Feb) and the complaint closes.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-01-18T23:59:59+00:00", False),
        ("stage1_response", "2027-01-26T23:59:59+00:00", False),
        ("update_interval", "2027-02-05T23:59:59+00:00", False),
        ("update_interval", "2027-02-18T23:59:59+00:00", False),
        ("escalation_window", "2027-02-19T23:59:59+00:00", False),
    ]
    assert deadlines(result)["update_interval"]["met_at"] == "2027-02-17T10:00:00+00:00"
    assert [(e["at"], e["key"]) for e in kinds(result, "timer_fired")] == [("2027-02-20T00:00:00+00:00", "escalation_window")]
    assert letters(result) == ["acknowledgement", "stage1_response", "update", "update", "closure"]
    response = rendered["stage1_response"][0]
    assert "A new door set is ordered" in response and "by <strong>26 February 2027</strong>" in response
    assert "every 10 working days" in response
    assert "within 10 working days" in rendered["update"][0]
    assert "All the actions we agreed with you are now complete." in rendered["update"][1]
    assert "The actions we agreed with you are now complete" in rendered["closure"][0]
    assert result["final"]["outcome"] == "resolved_stage1"


def test_great_places_escalation_while_actions_are_outstanding():
    spec = scenario("great_places_stage2")
    spec["steps"][3]["data"].update({"works_outstanding": True, "update_interval_days": 5, "actions_due_by": "2027-02-05",
                                     "outstanding_actions": "Scaffolding and roof repair booked for the week of 1 February."})
    result = run(spec)
    # Responded Fri 15 Jan with an update every 5 working days (due Fri 22 Jan). Stage 2 asked for on Wed 20 Jan,
    # while the actions were outstanding: the update deadline is met and stage 2 starts as before.
    assert sets(result)[3:5] == [("update_interval", "2027-01-22T23:59:59+00:00", False),
                                 ("stage2_acknowledge", "2027-01-27T23:59:59+00:00", False)]
    assert "escalation_window" not in deadlines(result)
    assert deadlines(result)["update_interval"]["met_at"] == "2027-01-20T09:00:00+00:00"
    assert result["final"]["outcome"] == "stage2_final"


def test_great_places_service_with_respect_restriction_reviewed_after_closure(rendered):
    result = run_named("great_places_restriction")
    # Acknowledged Tue 2 Feb 2027: respond by Tue 16 Feb. Restriction decided Thu 4 Feb, to be reviewed within 3 months:
    # Tue 4 May (BST). Responded Mon 15 Feb: the window ends Mon 15 Mar; survey and learning done Tue 16 Mar, but the
    # restriction is still in force, so the complaint stays open for its review (stage post). Reviewed Tue 4 May and
    # continued for 1 month (Fri 4 Jun); lifted Fri 4 Jun: the complaint closes.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-02-08T23:59:59+00:00", False),
        ("stage1_response", "2027-02-16T23:59:59+00:00", False),
        ("restriction_review", "2027-05-04T22:59:59+00:00", False),
        ("escalation_window", "2027-03-15T23:59:59+00:00", False),
        ("restriction_review", "2027-06-04T22:59:59+00:00", False),
    ]
    assert kinds(result, "deadline_missed") == []
    review = deadlines(result)["restriction_review"]
    assert review["stage"] == "post" and review["met_at"] == "2027-06-04T09:00:00+00:00"
    assert [e["stage"] for e in kinds(result, "stage_changed")] == ["1", "post"]
    assert [(e["at"], e["outcome"]) for e in kinds(result, "closed")] == [("2027-06-04T09:00:00+00:00", "resolved_stage1")]
    assert letters(result) == ["acknowledgement", "restriction_decision", "stage1_response", "closure",
                               "restriction_review", "restriction_review"]
    decision = rendered["restriction_decision"][0]
    for part in ("Service with Respect", "contact us in writing only", "Write to Alice Example",
                 "within 3 months of 4 February 2027", "0300 111 3000"):
        assert part in decision
    assert "within 1 month of 4 May 2027" in rendered["restriction_review"][0]
    assert "We have lifted the limits" in rendered["restriction_review"][1]


def test_great_places_restriction_decided_against_leaves_the_complaint_alone():
    spec = scenario("great_places_restriction")
    spec["steps"][3]["data"] = {"behaviour_types": ["contact_overload"], "behaviour_evidence": "Many emails.",
                                "restriction_in_force": False, "no_restriction_notes": "Spoke to the resident."}
    spec["steps"] = spec["steps"][:-2]
    result = run(spec)
    # No restriction: the watch carries on, and the complaint closes when the survey and learning are done.
    assert "restriction_review" not in deadlines(result)
    assert [(e["at"], e["outcome"]) for e in kinds(result, "closed")] == [("2027-03-16T10:00:00+00:00", "resolved_stage1")]


def test_great_places_closes_at_stage_1_but_still_takes_a_later_stage_2_request(rendered):
    result = run_named("great_places_late_escalation")
    # Received Mon 1 Feb 2027: acknowledge by Mon 8 Feb. Acknowledged Wed 3 Feb: respond by Wed 17 Feb (4, 5, 8-12,
    # 15-17 Feb). Responded Tue 16 Feb: no request within 20 working days (17-19 Feb, 22 Feb-5 Mar, 8-16 Mar) to
    # Tue 16 Mar, so the closing letter goes at midnight and the complaint closes once the survey and the learning are
    # recorded (Thu 18 Mar). The policy sets no time limit: a request on Mon 12 Apr (BST, after Easter) reopens it.
    # Acknowledge within 5 working days of the request: 13-16, 19 Apr -> Mon 19 Apr 23:59:59 BST. Acknowledged Wed
    # 14 Apr: 20 working days (15, 16, 19-23, 26-30 Apr; Mon 3 May a bank holiday; 4-7, 10-13 May) -> Thu 13 May.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-02-08T23:59:59+00:00", False),
        ("stage1_response", "2027-02-17T23:59:59+00:00", False),
        ("escalation_window", "2027-03-16T23:59:59+00:00", False),
        ("stage2_acknowledge", "2027-04-19T22:59:59+00:00", False),
        ("stage2_response", "2027-05-13T22:59:59+00:00", False),
    ]
    assert [(e["at"], e["key"]) for e in kinds(result, "timer_fired")] == [("2027-03-17T00:00:00+00:00", "escalation_window")]
    assert [(e["type"], e["at"], e["outcome"]) for e in result["timeline"] if e["type"] in ("closed", "reopened")] == [
        ("closed", "2027-03-18T11:00:00+00:00", "resolved_stage1"),
        ("reopened", "2027-04-12T08:00:00+00:00", "resolved_stage1"),
        ("closed", "2027-05-12T10:00:00+00:00", "stage2_final")]
    due = deadlines(result)
    assert due["stage2_acknowledge"]["met_at"] == "2027-04-14T09:00:00+00:00"
    assert due["stage2_response"]["met_at"] == "2027-05-11T09:00:00+00:00" and not due["stage2_response"]["missed"]
    assert letters(result) == ["acknowledgement", "stage1_response", "closure", "stage2_acknowledgement",
                               "final_response", "closure"]
    assert [e["stage"] for e in kinds(result, "stage_changed")] == ["1", "post", "2", "post"]
    first_closure, final_closure = rendered["closure"]
    assert "you can still ask us to look at it again at Stage Two: there is no time limit" in first_closure
    assert "no time limit" not in final_closure and "with our final response" in final_closure
    assert result["final"]["status"] == "closed" and result["final"]["outcome"] == "stage2_final"


def test_great_places_closed_at_stage_1_takes_no_other_event():
    spec = scenario("great_places_late_escalation")
    spec["steps"][5:] = [{"at": "2027-04-12T08:00:00+00:00", "event": "additional_complaint_raised", "data": {}}]
    with pytest.raises(ScenarioError, match="closed; a new complaint must be logged"):
        run(spec)
    spec["steps"] = spec["steps"][:5]
    result = run(spec)
    assert result["final"]["status"] == "closed" and result["final"]["outcome"] == "resolved_stage1"
    assert result["final"]["open_tasks"] == [] and kinds(result, "reopened") == []


def test_great_places_closed_complaint_offers_only_the_late_request_and_its_record_stays_consistent():
    spec = scenario("great_places_late_escalation")
    start = datetime.fromisoformat(spec["complaint"]["received_at"])
    definition_cache.clear()
    with scratch_runtime(PROCESSES, FORMS) as runtime, ComplaintRun(runtime, start) as run:
        forms = read_forms(FORMS)
        with runtime.sessions.begin() as session:
            deploy(session, "great_places", diagram("great_places"), forms, "tester")
        worker = run.person("alice", list(WORKER_ROLES), ["great_places"])
        reference = run.log({"landlord": "great_places", **spec["complaint"]}, worker)
        for step in spec["steps"][:5]:
            run.at(datetime.fromisoformat(step["at"]))
            run.complete(reference, run.open_task(reference, step["complete"]), step["data"], worker)

        def page():
            with runtime.sessions() as session:
                return case_page(session, runtime.casework, reference, worker)

        def problems():
            with runtime.sessions() as session:
                return list(inconsistent_complaints(session, runtime.casework))

        closed = page()
        assert closed["complaint"].status == "closed" and closed["events"] == ["escalation_requested"]
        assert problems() == []
        run.at(datetime.fromisoformat("2027-04-12T08:00:00+00:00"))
        run.event(reference, "escalation_requested", worker)
        reopened = page()
        assert reopened["complaint"].status == "open" and reopened["complaint"].closed_at is None
        assert [t.element_id for t in reopened["open_tasks"]] == ["stage2_acknowledge"]
        # offered only what the process can take now: an additional complaint waits on the stage 1 investigation
        assert reopened["events"] == ["behaviour_concern_raised"] and problems() == []
    definition_cache.clear()


def test_great_places_anonymised_complaint_takes_no_late_request():
    spec = scenario("great_places_late_escalation")
    definition_cache.clear()
    with scratch_runtime(PROCESSES, FORMS) as runtime, \
            ComplaintRun(runtime, datetime.fromisoformat(spec["complaint"]["received_at"])) as run:
        with runtime.sessions.begin() as session:
            deploy(session, "great_places", diagram("great_places"), read_forms(FORMS), "tester")
        worker = run.person("alice", list(WORKER_ROLES), ["great_places"])
        reference = run.log({"landlord": "great_places", **spec["complaint"]}, worker)
        for step in spec["steps"][:5]:
            run.at(datetime.fromisoformat(step["at"]))
            run.complete(reference, run.open_task(reference, step["complete"]), step["data"], worker)
        with runtime.sessions.begin() as session:
            complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
            complaint.anonymised_at = run.now()
        with pytest.raises(Conflict, match="closed; a new complaint must be logged"):
            run.event(reference, "escalation_requested", worker)
        with runtime.sessions() as session:
            assert case_page(session, runtime.casework, reference, worker)["events"] == []
    definition_cache.clear()


# --- Brighter Places (seed 001) --------------------------------------------------------------

def test_brighter_places_declines_an_incident_over_six_months_old(rendered):
    result = run_named("brighter_places_refusal")
    assert result["final"]["outcome"] == "refused" and letters(result) == ["refusal"]
    # Received Mon 1 Mar 2027 09:00: 5 working days is Mon 8 Mar; declined in writing at 10:00 the same day.
    assert sets(result) == [("stage1_acknowledge", "2027-03-08T23:59:59+00:00", False)]
    assert met(result, "stage1_acknowledge") == ("2027-03-01T10:00:00+00:00", "refusal")
    assert "j. An incident or service failure over 6 months before the complaint" in rendered["refusal"][0]


def test_brighter_places_response_within_time_and_the_15_day_window():
    result = run_named("brighter_places_on_time")
    # Received Mon 1 Feb 2027: 5 working days is Mon 8 Feb. Logged Wed 3 Feb: 10 working days is
    # Wed 17 Feb. Responded Mon 15 Feb: 15 calendar days is Tue 2 Mar.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-02-08T23:59:59+00:00", False),
        ("stage1_response", "2027-02-17T23:59:59+00:00", False),
        ("escalation_window", "2027-03-02T23:59:59+00:00", False),
    ]
    assert [(e["at"], e["key"]) for e in kinds(result, "timer_fired")] == [
        ("2027-03-03T00:00:00+00:00", "escalation_window")]
    assert result["final"]["outcome"] == "resolved_stage1"
    assert letters(result) == ["acknowledgement", "stage1_response", "closure"]


def test_brighter_places_clarification_exceptional_extension_works_and_stage_2(rendered):
    result = run_named("brighter_places_works_and_stage2")
    # Received Mon 22 Mar 2027; unclear, customer not reached: 3 days is Thu 25 Mar.
    # Acknowledge within 5 working days: 23, 24, 25, 30, 31 Mar (Good Friday, Easter Monday) -> Wed 31 Mar BST.
    # Logged on Good Friday, so day 0 is Tue 30 Mar: 10 working days is Tue 13 Apr; extended by an
    # exceptional 15 to Wed 5 May (Mon 3 May is a bank holiday).
    # Responded Tue 20 Apr with works to do and updates every 10 working days (Mon 3 May skipped): Wed 5 May;
    # updated Tue 4 May, the next due Tue 18 May. Works completed Mon 10 May (event): 15 days is Tue 25 May.
    # Escalated Thu 20 May: acknowledge by Tue 25 May;
    # respond within 20 working days of the request (Mon 31 May is a bank holiday) -> Fri 18 Jun;
    # extended by 10 to Fri 2 Jul. Since issue 15 the service director's response goes to the Customer Services
    # Director first (s.7.iv.a): the scenario has her approval on Thu 10 Jun, when the final response goes.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-03-31T22:59:59+00:00", False),   # from receipt, before the clarification
        ("clarification", "2027-03-25T23:59:59+00:00", False),
        ("stage1_response", "2027-04-13T22:59:59+00:00", False),
        ("stage1_response", "2027-05-05T22:59:59+00:00", True),
        ("update_interval", "2027-05-05T22:59:59+00:00", False),
        ("update_interval", "2027-05-18T22:59:59+00:00", False),
        ("escalation_window", "2027-05-25T22:59:59+00:00", False),
        ("stage2_acknowledge", "2027-05-25T22:59:59+00:00", False),
        ("stage2_response", "2027-06-18T22:59:59+00:00", False),
        ("stage2_response", "2027-07-02T22:59:59+00:00", True),
    ]
    assert [(e["at"], e["key"]) for e in kinds(result, "timer_fired")] == [
        ("2027-03-26T00:00:00+00:00", "clarification")]
    assert kinds(result, "deadline_missed") == []
    assert result["final"]["outcome"] == "stage2_final"
    assert deadlines(result)["update_interval"]["met_at"] == "2027-05-10T10:00:00+00:00"
    assert deadlines(result)["stage2_response"]["met_at"] == "2027-06-10T15:00:00+00:00"
    assert "designated person" in rendered["final_response"][0]
    response = rendered["stage1_response"][0]
    # The 15 days run from the response (Tue 20 Apr: Wed 5 May, as the escalation window's timer counts them),
    # or from the works being done; the works are to be done by Fri 7 May.
    assert "by <strong>5 May 2027</strong>" in response and "within 15 days of their completion" in response
    assert "by <strong>7 May 2027</strong>" in response
    assert "the roofers start on 5 May" in rendered["update"][0]


def test_brighter_places_shows_adverse_findings_for_comment_before_deciding_at_both_stages(rendered):
    result = run_named("brighter_places_adverse_findings")
    # Received Mon 7 Jun 2027 (BST): acknowledge by Mon 14 Jun. Logged Tue 8 Jun: respond by Tue 22 Jun (9-11, 14-18,
    # 21, 22 Jun). Adverse findings shared Thu 17 Jun: 5 working days to comment (the diagram's choice; the policy sets
    # none): Thu 24 Jun. Comments in on Mon 21 Jun, then the response on Tue 22 Jun: 15 days to escalate, Wed 7 Jul.
    # Escalated Fri 2 Jul: acknowledge within 3 working days (5-7 Jul), respond within 20 of the request (5 Jul-30 Jul)
    # -> Fri 30 Jul. Findings shared Fri 16 Jul: to Fri 23 Jul, which passes without comments (the window elapses at
    # midnight). The Customer Services Director returns the response once (Wed 28 Jul) and approves it on Thu 29 Jul,
    # when the final response goes, within the date.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-06-14T22:59:59+00:00", False),
        ("stage1_response", "2027-06-22T22:59:59+00:00", False),
        ("clarification", "2027-06-24T22:59:59+00:00", False),
        ("escalation_window", "2027-07-07T22:59:59+00:00", False),
        ("stage2_acknowledge", "2027-07-07T22:59:59+00:00", False),
        ("stage2_response", "2027-07-30T22:59:59+00:00", False),
        ("clarification", "2027-07-23T22:59:59+00:00", False),
    ]
    assert [(e["at"], e["key"]) for e in kinds(result, "timer_fired")] == [("2027-07-23T23:00:00+00:00", "clarification")]
    assert kinds(result, "deadline_missed") == []
    windows = [d for d in result["final"]["deadlines"] if d["key"] == "clarification"]
    assert [(d["stage"], d["met_at"]) for d in windows] == [("1", "2027-06-21T10:00:00+00:00"), ("2", None)]
    due = deadlines(result)
    assert due["stage1_response"]["met_at"] == "2027-06-22T09:00:00+00:00"
    assert due["stage2_response"]["met_at"] == "2027-07-29T10:00:00+00:00"
    ready = [(e["element_id"], e["role"], e["due_at"]) for e in kinds(result, "task_ready")
             if e["element_id"] in ("await_comments", "await_comments_stage2", "director_oversight")]
    assert ready == [("await_comments", "caseworker", "2027-06-22T22:59:59+00:00"),
                     ("await_comments_stage2", "stage2_reviewer", "2027-07-30T22:59:59+00:00"),
                     ("director_oversight", "manager", "2027-07-30T22:59:59+00:00"),
                     ("director_oversight", "manager", "2027-07-30T22:59:59+00:00")]
    assert letters(result) == ["acknowledgement", "adverse_findings", "stage1_response", "stage2_acknowledgement",
                               "adverse_findings", "final_response", "closure"]
    first, second = rendered["adverse_findings"]
    assert "from your own washing machine hose" in first and "by <strong>24 June 2027</strong>" in first
    assert "at stage 1" in first and "0300 111 3000" in first
    assert "no leak was found there" in second and "by <strong>23 July 2027</strong>" in second and "at stage 2" in second
    assert "replastered on 9 August" in rendered["final_response"][0]
    assert result["final"]["outcome"] == "stage2_final"


def test_brighter_places_stage_2_oversight_is_not_the_stage_1_investigator():
    spec = scenario("brighter_places_adverse_findings")
    for step in spec["steps"]:
        if step.get("complete") in ("stage1_response", "await_comments"):
            step["as"] = "manager"     # a manager may work any task: here the stage 1 investigation
    with pytest.raises(ScenarioError, match=r"complete director_oversight.*6\.13"):
        run(spec)


def test_brighter_places_colleague_complaint_reviewed_by_a_senior_manager(rendered):
    result = run_named("brighter_places_colleague")
    # Received Mon 5 Jul 2027: acknowledge by Mon 12 Jul. Logged Tue 6 Jul: respond by Tue 20 Jul (7-9, 12-16, 19, 20
    # Jul). The manager's response on Thu 15 Jul goes to a senior manager (s.6.i), whose review on Mon 19 Jul meets the
    # date; the letter goes then, and the 15 days to escalate run from it: Tue 3 Aug. Systemic issues go to the service
    # director beside the complaint, with no complaint deadline.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-07-12T22:59:59+00:00", False),
        ("stage1_response", "2027-07-20T22:59:59+00:00", False),
        ("escalation_window", "2027-08-03T22:59:59+00:00", False),
    ]
    assert deadlines(result)["stage1_response"]["met_at"] == "2027-07-19T10:00:00+00:00"
    ready = {e["element_id"]: (e["at"], e["role"], e["due_at"]) for e in kinds(result, "task_ready")}
    assert ready["colleague_review"] == ("2027-07-15T10:00:00+00:00", "manager", "2027-07-20T22:59:59+00:00")
    assert ready["systemic_review"] == ("2027-07-19T10:00:00+00:00", "stage2_reviewer", None)
    assert letters(result) == ["acknowledgement", "stage1_response", "closure"]
    [response] = rendered["stage1_response"]
    assert "being taken forward through our internal disciplinary procedures" in response
    assert "Data Protection Act 2018" in response
    for internal in ("final written warning", "Second complaint about this officer", "not logged"):
        assert internal not in response
    assert [(e["at"], e["outcome"]) for e in kinds(result, "closed")] == [("2027-08-04T10:00:00+00:00", "resolved_stage1")]


def test_brighter_places_colleague_complaint_not_justified_goes_without_the_disciplinary_line(rendered):
    spec = scenario("brighter_places_colleague")
    spec["steps"][4]["data"] = {"conduct_finding": "not_justified", "issue_scope": "isolated"}
    del spec["steps"][5]
    result = run(spec)
    assert "systemic_review" not in {e["element_id"] for e in kinds(result, "task_ready")}
    assert "disciplinary" not in rendered["stage1_response"][0]
    assert result["final"]["outcome"] == "resolved_stage1"


def test_brighter_places_stage_2_extension_over_ten_days_needs_agreement():
    spec = scenario("brighter_places_works_and_stage2")
    [step] = [s for s in spec["steps"] if s.get("data", {}).get("stage2_decision") == "extend"]
    step["data"]["extension_days"] = 11
    with pytest.raises(ScenarioError, match="extension_days"):
        run(spec)


def test_brighter_places_works_done_on_the_update_form_start_the_15_days():
    spec = scenario("brighter_places_works_and_stage2")
    i = next(n for n, step in enumerate(spec["steps"]) if step.get("event") == "works_completed")
    spec["steps"][i] = {"at": "2027-05-10T10:00:00+00:00", "complete": "track_works", "as": "carl",
                        "data": {"update_notes": "The roof was repaired on 7 May.", "actions_status": "complete"}}
    result = run(spec)
    # Recorded as done on Mon 10 May: 15 calendar days is Tue 25 May, as with the works_completed event.
    assert ("escalation_window", "2027-05-25T22:59:59+00:00", False) in sets(result)
    assert letters(result)[:5] == ["acknowledgement", "extension", "stage1_response", "update", "update"]


def test_brighter_places_resolves_a_first_chaser_at_first_contact(rendered):
    result = run_named("brighter_places_first_contact")
    assert result["final"]["status"] == "closed" and result["final"]["outcome"] == "resolved_first_contact"
    # Received Thu 1 Apr 2027 14:00 BST: the acknowledgement's 5 working days (2, 5, 6, 7, 8 Apr) ran from then,
    # and the answer at first contact 20 minutes later met them.
    assert sets(result) == [("stage1_acknowledge", "2027-04-08T22:59:59+00:00", False)]
    assert met(result, "stage1_acknowledge") == ("2027-04-01T13:20:00+00:00", "first_contact_resolution")
    assert letters(result) == ["first_contact"]
    body = rendered["first_contact"][0]
    assert "Tuesday 6 April" in body and "treat this as a formal complaint" in body and "0300 111 3000" in body


def test_brighter_places_customer_may_make_first_contact_a_formal_complaint():
    spec = scenario("brighter_places_first_contact")
    spec["steps"][0]["data"] = {"contact_kind": "service_request_chaser", "first_contact_result": "customer_wants_formal"}
    result = run(spec)
    assert [t["element_id"] for t in result["final"]["open_tasks"]] == ["decide_acceptance"]
    assert result["final"]["stage"] == "pre" and letters(result) == []


def test_brighter_places_closes_after_15_days_without_contact(rendered):
    result = run_named("brighter_places_no_contact")
    # Received Mon 15 Feb 2027: acknowledge by Mon 22 Feb. Logged Tue 16 Feb: respond by Tue 2 Mar. On Mon 22 Feb the
    # complaint cannot go on without the customer: a letter allowing 15 days, to Tue 9 Mar. The response date passes
    # on the way (missed, Wed 3 Mar); no contact by Tue 9 Mar, so it closes on Wed 10 Mar at midnight.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-02-22T23:59:59+00:00", False),
        ("stage1_response", "2027-03-02T23:59:59+00:00", False),
        ("no_contact_closure", "2027-03-09T23:59:59+00:00", False),
    ]
    assert [(e["at"], e["key"]) for e in kinds(result, "timer_fired")] == [
        ("2027-03-03T00:00:00+00:00", "stage1_response"), ("2027-03-10T00:00:00+00:00", "no_contact_closure")]
    due = deadlines(result)
    assert due["stage1_response"]["missed"] and not due["no_contact_closure"]["missed"]
    # Closed for no contact, the response was never sent: missed, and never met (not even late).
    assert due["stage1_response"]["met_at"] is None
    assert letters(result) == ["acknowledgement", "no_contact", "closure"]
    assert "by <strong>9 March 2027</strong>" in rendered["no_contact"][0]
    assert "Which weeks the garden was not cut" in rendered["no_contact"][0]
    assert "we will log a new complaint" in rendered["closure"][0]
    assert result["final"]["outcome"] == "closed_no_contact"


def test_brighter_places_reply_after_the_15_days_is_a_new_complaint():
    spec = scenario("brighter_places_no_contact")
    spec["steps"].append({"at": "2027-03-15T10:00:00+00:00", "event": "customer_replied", "data": {}})
    with pytest.raises(ScenarioError, match="closed; a new complaint must be logged"):
        run(spec)


def test_brighter_places_contact_within_15_days_resumes_the_investigation():
    spec = scenario("brighter_places_no_contact")
    spec["steps"][4:] = [
        {"at": "2027-02-24T10:00:00+00:00", "complete": "reach_customer", "as": "alice",
         "data": {"contact_established_notes": "The customer rang back with the dates."}},
        {"at": "2027-02-26T10:00:00+00:00", "complete": "stage1_response", "as": "carl",
         "data": {"stage1_decision": "respond", "stage1_outcome": "upheld", "stage1_findings": "The contractor missed four cuts.",
                  "remedies": ["apology"]}},
    ]
    result = run(spec)
    # Back before the closing date; responded Fri 26 Feb, within the original date (Tue 2 Mar): 15 days to Sat 13 Mar.
    assert sets(result)[-1] == ("escalation_window", "2027-03-13T23:59:59+00:00", False)
    due = deadlines(result)
    assert not due["stage1_response"]["missed"] and due["stage1_response"]["met_at"] == "2027-02-26T10:00:00+00:00"
    assert due["no_contact_closure"]["met_at"] == "2027-02-24T10:00:00+00:00"
    assert letters(result) == ["acknowledgement", "no_contact", "stage1_response"]


def test_brighter_places_additional_complaint_waits_for_the_investigation_over_christmas(rendered):
    result = run_named("brighter_places_additional_complaint")
    # Received Wed 23 Dec 2026 16:30: acknowledge by Mon 4 Jan (25, 28 Dec and 1 Jan are bank holidays). The
    # additional complaint at 17:00 arrives before logging: it is kept, then taken when the investigation opens on
    # Thu 24 Dec (logged then: respond by Tue 12 Jan, which the decision task carries). Joined on Tue 29 Dec;
    # responded Mon 11 Jan: 15 days to Tue 26 Jan.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-01-04T23:59:59+00:00", False),
        ("stage1_response", "2027-01-12T23:59:59+00:00", False),
        ("escalation_window", "2027-01-26T23:59:59+00:00", False),
    ]
    assert [(e["type"], e["at"]) for e in result["timeline"] if e["type"].startswith("event_")] == [
        ("event_received", "2026-12-23T17:00:00+00:00"), ("event_delivered", "2026-12-24T10:00:00+00:00")]
    [decision] = [e for e in kinds(result, "task_ready") if e["element_id"] == "additional_complaint"]
    assert decision["due_at"] == "2027-01-12T23:59:59+00:00"
    assert letters(result) == ["acknowledgement", "additional_complaint", "stage1_response"]
    assert "missed the appointment on 22 December" in rendered["stage1_response"][0]
    assert "£120.00, paid by 25 January 2027" in rendered["stage1_response"][0]


def test_brighter_places_restriction_three_month_review_and_appeals(rendered):
    result = run_named("brighter_places_restriction")
    # Logged Wed 3 Feb 2027: respond by Wed 17 Feb. Restriction decided Fri 5 Feb: reviewed within three months,
    # Wed 5 May (BST); an appeal on Mon 15 Feb, turned down on Wed 17 Feb, does not move the review. Responded
    # Tue 16 Feb: 15 days to Wed 3 Mar, then closure, survey and learning (Thu 4 Mar) - but the restriction is in
    # force, so the complaint waits for it (stage post, the same review date). Reviewed Wed 5 May and continued:
    # next review Thu 5 Aug. Appealed again Mon 10 May and upheld on Tue 11 May: lifted, and the complaint closes.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-02-08T23:59:59+00:00", False),
        ("stage1_response", "2027-02-17T23:59:59+00:00", False),
        ("restriction_review", "2027-05-05T22:59:59+00:00", False),
        ("escalation_window", "2027-03-03T23:59:59+00:00", False),
        ("restriction_review", "2027-08-05T22:59:59+00:00", False),
    ]
    review = deadlines(result)["restriction_review"]
    assert review["stage"] == "post" and review["met_at"] == "2027-05-11T09:00:00+00:00" and not review["missed"]
    ready = [(e["element_id"], e["due_at"]) for e in kinds(result, "task_ready") if e["element_id"].startswith("restriction")]
    assert ready == [("restriction_decide", None), ("restriction_review", "2027-05-05T22:59:59+00:00"),
                     ("restriction_appeal", "2027-05-05T22:59:59+00:00"), ("restriction_review", "2027-05-05T22:59:59+00:00"),
                     ("restriction_review_after", "2027-05-05T22:59:59+00:00"),
                     ("restriction_review_after", "2027-08-05T22:59:59+00:00"),
                     ("restriction_appeal_after", "2027-08-05T22:59:59+00:00")]
    assert letters(result) == ["acknowledgement", "restriction_decision", "stage1_response", "restriction_appeal",
                               "closure", "restriction_review", "restriction_appeal"]
    assert [(e["at"], e["outcome"]) for e in kinds(result, "closed")] == [("2027-05-11T09:00:00+00:00", "resolved_stage1")]
    decision = rendered["restriction_decision"][0]
    for part in ("why", "contact only with one named member of staff", "Email the Customer Feedback Team",
                 "within three months of 5 February 2027", "appeal against this decision"):
        assert part in decision
    assert "not upheld your appeal" in rendered["restriction_appeal"][0]
    assert "lifted the restrictions" in rendered["restriction_appeal"][1]


def test_brighter_places_restriction_needs_an_attempt_to_reach_an_understanding():
    spec = scenario("brighter_places_restriction")
    del spec["steps"][4]["data"]["understanding_attempted"]
    with pytest.raises(ScenarioError, match="understanding_attempted"):
        run(spec)


# --- Harrogate (seed 004) --------------------------------------------------------------------

def test_harrogate_quick_fix_is_recorded_informally():
    result = run_named("harrogate_informal")
    assert result["final"]["status"] == "closed" and result["final"]["outcome"] == "resolved_informally"
    # Received Wed 24 Mar 2027 14:00: 2 working days (Thu 25, then Good Friday and Easter Monday skipped, Tue 30
    # Mar, in BST) ran from receipt through the informal attempt, which met them at 14:30.
    assert sets(result) == [("stage1_acknowledge", "2027-03-30T22:59:59+00:00", False)]
    assert met(result, "stage1_acknowledge") == ("2027-03-24T14:30:00+00:00", "informal_resolution")
    assert letters(result) == []


def test_harrogate_refuses_an_anonymous_complaint(rendered):
    result = run_named("harrogate_refusal")
    assert result["final"]["outcome"] == "refused" and letters(result) == ["refusal"]
    assert sets(result) == [("stage1_acknowledge", "2027-03-30T22:59:59+00:00", False)]
    assert met(result, "stage1_acknowledge") == ("2027-03-24T15:00:00+00:00", "refusal")
    assert "The complaint was submitted anonymously" in rendered["refusal"][0]


def test_harrogate_response_within_time_closed_when_the_customer_says_resolved(rendered):
    result = run_named("harrogate_on_time")
    # Received Wed 24 Mar 2027: 2 working days is Tue 30 Mar (Good Friday and Easter Monday skipped).
    # 10 working days from receipt is Fri 9 Apr. Responded Tue 6 Apr: 14 working days is Mon 26 Apr.
    # The customer said it was resolved on Thu 8 Apr (11:00 BST): the complaint was completed then, and the
    # closing letter with the feedback form goes "after 2 weeks of completion" (section 10, Resolution stage):
    # two calendar weeks, Thu 22 Apr 23:59:59 BST. (The scenario's survey moved from 9 to 23 Apr: it records the
    # answers to that feedback form, which the policy sends two weeks on, not at once.)
    assert sets(result) == [
        ("stage1_acknowledge", "2027-03-30T22:59:59+00:00", False),
        ("stage1_response", "2027-04-09T22:59:59+00:00", False),
        ("escalation_window", "2027-04-26T22:59:59+00:00", False),
        ("closure_followup", "2027-04-22T22:59:59+00:00", False),
    ]
    assert deadlines(result)["escalation_window"]["met_at"] == "2027-04-08T10:00:00+00:00"
    assert [(e["at"], e["key"], e["actor"]) for e in kinds(result, "timer_fired")] == [
        ("2027-04-22T23:00:00+00:00", "closure_followup", "clock")]
    # A window, not a duty: the closing letter going when it elapses is no missed deadline.
    assert kinds(result, "deadline_missed") == [] and not deadlines(result)["closure_followup"]["missed"]
    assert [(e["at"], e["template"]) for e in kinds(result, "letter_issued")] == [
        ("2027-03-25T10:00:00+00:00", "acknowledgement"), ("2027-04-06T10:00:00+00:00", "stage1_response"),
        ("2027-04-22T23:00:00+00:00", "closure")]
    assert "We enclose a feedback form" in rendered["closure"][0]
    assert [(e["at"], e["outcome"]) for e in kinds(result, "closed")] == [("2027-04-23T10:00:00+00:00", "resolved_stage1")]


def test_harrogate_extension_then_closed_after_14_working_days_without_reply():
    result = run_named("harrogate_extension")
    # Extended by 10 on Thu 8 Apr: 20 working days from receipt is Fri 23 Apr. Responded Thu 22 Apr:
    # 14 working days (Mon 3 May a bank holiday) is Thu 13 May. No reply: the 14 working days ran out at 23:59:59
    # BST and the complaint was closed, so completed, the next second, 00:00:00 Fri 14 May London time. The closing
    # letter goes two calendar weeks after that completion (section 10, Resolution stage): Fri 28 May 23:59:59 BST.
    # (The scenario's survey moved from 14 May to Tue 1 Jun, after that letter.)
    assert sets(result) == [
        ("stage1_acknowledge", "2027-03-30T22:59:59+00:00", False),
        ("stage1_response", "2027-04-09T22:59:59+00:00", False),
        ("stage1_response", "2027-04-23T22:59:59+00:00", True),
        ("escalation_window", "2027-05-13T22:59:59+00:00", False),
        ("closure_followup", "2027-05-28T22:59:59+00:00", False),
    ]
    assert [(e["at"], e["key"]) for e in kinds(result, "timer_fired")] == [
        ("2027-05-13T23:00:00+00:00", "escalation_window"), ("2027-05-28T23:00:00+00:00", "closure_followup")]
    assert letters(result) == ["acknowledgement", "extension", "stage1_response", "closure"]
    assert kinds(result, "letter_issued")[-1]["at"] == "2027-05-28T23:00:00+00:00"
    assert result["final"]["outcome"] == "resolved_stage1"


def test_harrogate_review_with_a_clc_panel(rendered):
    result = run_named("harrogate_review")
    # Review asked for Mon 12 Apr: acknowledge in 2 working days (Wed 14 Apr), respond in 10 (Mon 26 Apr).
    # Responded Fri 23 Apr: panel within 10 working days (Mon 3 May skipped) -> Mon 10 May. Panel held
    # Wed 5 May: outcome within 10 working days -> Wed 19 May. The outcome sent Fri 7 May completes the Review
    # stage; the closing letter goes 14 working days after it (section 10, Review stage): 10-14, 17-21, 24-27 May
    # -> Thu 27 May 23:59:59 BST. (The scenario's survey moved from 10 to 28 May, after that letter.)
    assert sets(result) == [
        ("stage1_acknowledge", "2027-03-30T22:59:59+00:00", False),
        ("stage1_response", "2027-04-09T22:59:59+00:00", False),
        ("escalation_window", "2027-04-26T22:59:59+00:00", False),
        ("stage2_acknowledge", "2027-04-14T22:59:59+00:00", False),
        ("stage2_response", "2027-04-26T22:59:59+00:00", False),
        ("panel_hearing", "2027-05-10T22:59:59+00:00", False),
        ("panel_outcome", "2027-05-19T22:59:59+00:00", False),
        ("closure_followup", "2027-05-27T22:59:59+00:00", False),
    ]
    assert kinds(result, "deadline_missed") == []
    # The panel is part of the Review stage (5.2.3, 6.1): the customer is invited when the Operations Manager's
    # review is done, and the response that concludes the Review stage goes after the panel's outcome, not before
    # (it went before the panel until issue 15).
    assert [(e["at"], e["template"]) for e in kinds(result, "letter_issued")] == [
        ("2027-03-25T10:00:00+00:00", "acknowledgement"), ("2027-04-06T10:00:00+00:00", "stage1_response"),
        ("2027-04-13T10:00:00+00:00", "stage2_acknowledgement"), ("2027-04-23T10:00:00+00:00", "panel_invitation"),
        ("2027-05-07T10:00:00+00:00", "panel_outcome"), ("2027-05-07T10:00:00+00:00", "final_response"),
        ("2027-05-27T23:00:00+00:00", "closure")]
    assert result["final"]["outcome"] == "stage2_final"
    [invitation] = rendered["panel_invitation"]
    assert "by <strong>10 May 2027</strong>" in invitation and "one other person" in invitation
    [final] = rendered["final_response"]
    assert "Customer Liaison Committee panel" in final
    assert "heard your complaint on 5 May 2027" in final
    assert "The panel asked for a noise nuisance referral to the council." in final
    assert final.index("The panel asked for") < final.index("This now concludes the Review stage")
    assert "We will arrange this" not in final
    assert "The noise carries on every night." in rendered["stage2_acknowledgement"][0]


def test_harrogate_refuses_a_review_without_reasons(rendered):
    result = run_named("harrogate_review_refused")
    assert result["final"]["status"] == "closed" and result["final"]["outcome"] == "review_refused"
    # The review stage completes the process: the lessons-learnt table at once, the closing letter with the
    # feedback form 14 working days after the refusal on Tue 13 Apr (section 10, Review stage: 14-16, 19-23,
    # 26-30 Apr, Mon 3 May a bank holiday, Tue 4 May), then the survey, before the complaint closes. (The
    # scenario's survey moved from 14 Apr to Wed 5 May, after that letter.)
    assert letters(result) == ["acknowledgement", "stage1_response", "review_refusal", "closure"]
    assert sets(result)[-1] == ("closure_followup", "2027-05-04T22:59:59+00:00", False)
    assert kinds(result, "letter_issued")[-1]["at"] == "2027-05-04T23:00:00+00:00"
    assert [(e["at"], e["outcome"]) for e in kinds(result, "closed")] == [("2027-05-05T09:00:00+00:00", "review_refused")]
    assert deadlines(result)["stage2_acknowledge"]["met_at"] == "2027-04-13T10:00:00+00:00"
    assert "failed to provide specific reasons" in rendered["review_refusal"][0]


def test_harrogate_review_needs_someone_outside_the_resolution_stage():
    spec = scenario("harrogate_review")
    for step in spec["steps"]:
        if step.get("complete") == "review_acknowledge":
            step["as"] = "alice"
    with pytest.raises(ScenarioError, match=r"complete review_acknowledge.*6\.13"):
        run(spec)


def test_harrogate_new_information_goes_back_to_the_resolution_stage():
    spec = scenario("harrogate_new_information")
    spec["steps"] = spec["steps"][:-2]
    result = run(spec)
    assert [e["stage"] for e in kinds(result, "stage_changed")] == ["1", "2", "1"]
    assert letters(result) == ["acknowledgement", "stage1_response", "stage1_response"]
    # The new information came with the review request on Mon 12 Apr 2027 (11:00 BST): investigated as part of the
    # Resolution stage, counted as Harrogate counts that stage, 10 working days from receipt (13-16, 19-23, 26 Apr):
    # Mon 26 Apr. Answered Fri 16 Apr. Second resolution response: a new 14-working-day window to Fri 7 May.
    assert sets(result)[-2:] == [("stage1_response", "2027-04-26T22:59:59+00:00", False),
                                 ("escalation_window", "2027-05-07T22:59:59+00:00", False)]
    new_information = [d for d in result["final"]["deadlines"] if d["key"] == "stage1_response"][-1]
    assert new_information["met_at"] == "2027-04-16T10:00:00+00:00" and not new_information["missed"]
    [ready] = [e for e in kinds(result, "task_ready") if e["element_id"] == "new_information_response"]
    assert ready["due_at"] == "2027-04-26T22:59:59+00:00"


def test_harrogate_second_review_request_counts_from_its_own_date():
    result = run_named("harrogate_new_information")
    # Second review asked for Tue 20 Apr: acknowledge by Thu 22 Apr; respond within 10 working days
    # (Mon 3 May skipped) -> Wed 5 May.
    assert sets(result)[-2:] == [
        ("stage2_acknowledge", "2027-04-22T22:59:59+00:00", False),
        ("stage2_response", "2027-05-05T22:59:59+00:00", False),
    ]
    assert kinds(result, "deadline_missed") == []


def test_harrogate_additional_complaint_and_actions_over_christmas(rendered):
    result = run_named("harrogate_additional_and_actions")
    # Received Wed 23 Dec 2026: acknowledge within 2 working days (Thu 24, Tue 29 Dec); resolve within 10 of receipt:
    # Mon 11 Jan. The additional complaint (Tue 29 Dec) keeps that date. Responded Fri 8 Jan with updates every 5
    # working days: Fri 15 Jan; updated Thu 14 Jan: Thu 21 Jan. A review asked for on Tue 19 Jan, while the actions
    # were outstanding: acknowledge by Thu 21 Jan, respond within 10 working days of the request (Tue 2 Feb). The
    # review's own actions (response Mon 1 Feb, updates every 10 working days): Mon 15 Feb; done Fri 12 Feb, which
    # completed the complaint: the closing letter 14 working days on (15-19, 22-26 Feb, 1-4 Mar), Thu 4 Mar.
    # (The scenario's survey moved from 15 Feb to 5 Mar, after that letter.)
    assert sets(result) == [
        ("stage1_acknowledge", "2026-12-29T23:59:59+00:00", False),
        ("stage1_response", "2027-01-11T23:59:59+00:00", False),
        ("update_interval", "2027-01-15T23:59:59+00:00", False),
        ("update_interval", "2027-01-21T23:59:59+00:00", False),
        ("stage2_acknowledge", "2027-01-21T23:59:59+00:00", False),
        ("stage2_response", "2027-02-02T23:59:59+00:00", False),
        ("update_interval", "2027-02-15T23:59:59+00:00", False),
        ("closure_followup", "2027-03-04T23:59:59+00:00", False),
    ]
    assert kinds(result, "deadline_missed") == []
    assert [e["stage"] for e in kinds(result, "stage_changed")] == ["1", "2", "post"]
    assert letters(result) == ["acknowledgement", "additional_complaint", "stage1_response", "update",
                               "stage2_acknowledgement", "final_response", "update", "closure"]
    assert "the wall below is now damp" in rendered["stage1_response"][0]
    assert "by <strong>5 March 2027</strong>" in rendered["final_response"][0]
    assert "offset against any debt" in rendered["final_response"][0]
    assert result["final"]["outcome"] == "stage2_final"


def test_harrogate_restriction_decided_and_reviewed_by_the_operations_manager(rendered):
    result = run_named("harrogate_restriction")
    # Received Mon 4 Jan 2027: acknowledge by Wed 6 Jan, resolve by Mon 18 Jan. Restriction decided Thu 7 Jan with a
    # review within 2 months: Sun 7 Mar. Responded Fri 15 Jan (14 working days to Thu 4 Feb); the customer says it is
    # resolved on Mon 18 Jan: lessons on Tue 19 Jan, the closing letter two weeks after the resolution (Mon 1 Feb)
    # and the survey on Tue 2 Feb (moved from 19 Jan, after that letter) - the restriction is in force, so the
    # complaint waits for its review. Lifted on Fri 5 Mar: closed.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-01-06T23:59:59+00:00", False),
        ("stage1_response", "2027-01-18T23:59:59+00:00", False),
        ("restriction_review", "2027-03-07T23:59:59+00:00", False),
        ("escalation_window", "2027-02-04T23:59:59+00:00", False),
        ("closure_followup", "2027-02-01T23:59:59+00:00", False),
    ]
    assert deadlines(result)["restriction_review"]["met_at"] == "2027-03-05T10:00:00+00:00"
    completed = {e["element_id"]: e["actor"] for e in kinds(result, "task_completed")}
    assert completed["restriction_decide"] == "bob" and completed["restriction_review_after"] == "bob"
    assert letters(result) == ["acknowledgement", "restriction_decision", "stage1_response", "closure", "restriction_review"]
    decision = rendered["restriction_decision"][0]
    assert "Operations Manager" in decision and "within 2 months of 7 January 2027" in decision
    assert [(e["at"], e["outcome"]) for e in kinds(result, "closed")] == [("2027-03-05T10:00:00+00:00", "resolved_stage1")]


def test_harrogate_restriction_needs_the_operations_manager():
    spec = scenario("harrogate_restriction")
    spec["steps"][4]["as"] = "complaints_officer"
    with pytest.raises(ScenarioError, match="stage2_reviewer"):
        run(spec)


def test_harrogate_staff_conduct_goes_to_the_line_manager(rendered):
    result = run_named("harrogate_staff_conduct")
    # Received Mon 14 Dec 2026 about a repairs operative's conduct (category staff_conduct). Acknowledge within 2
    # working days: Wed 16 Dec. The line manager investigates (4.4) within the Resolution stage's 10 working days of
    # receipt: 15-18, 21-24 Dec, Christmas Day (Fri 25) and the Boxing Day holiday (Mon 28) skipped, 29, 30 Dec ->
    # Wed 30 Dec. Answered Tue 29 Dec: 14 working days for a reply, 30, 31 Dec (1 Jan skipped), 4-8, 11-15, 18, 19
    # Jan -> Tue 19 Jan. The customer said it was resolved on Mon 4 Jan: the closing letter two calendar weeks on,
    # Mon 18 Jan (so the scenario's survey, of the feedback form sent with it, is on Tue 19 Jan).
    assert sets(result) == [
        ("stage1_acknowledge", "2026-12-16T23:59:59+00:00", False),
        ("stage1_response", "2026-12-30T23:59:59+00:00", False),
        ("escalation_window", "2027-01-19T23:59:59+00:00", False),
        ("closure_followup", "2027-01-18T23:59:59+00:00", False),
    ]
    [ready] = [e for e in kinds(result, "task_ready") if e["element_id"] == "line_manager_investigation"]
    assert (ready["at"], ready["due_at"], ready["role"], ready["stage"]) == (
        "2026-12-15T10:00:00+00:00", "2026-12-30T23:59:59+00:00", "caseworker", "1")
    assert "stage1_response" not in {e["element_id"] for e in kinds(result, "task_ready")}
    assert met(result, "stage1_response") == ("2026-12-29T15:00:00+00:00", None)
    completed = {e["element_id"]: e["actor"] for e in kinds(result, "task_completed")}
    assert completed["line_manager_investigation"] == "dan"
    assert [(e["at"], e["template"]) for e in kinds(result, "letter_issued")] == [
        ("2026-12-15T10:00:00+00:00", "acknowledgement"), ("2026-12-29T15:00:00+00:00", "stage1_response"),
        ("2027-01-19T00:00:00+00:00", "closure")]
    [acknowledgement] = rendered["acknowledgement"]
    assert "their line manager will investigate it" in acknowledgement
    assert "we will not discuss the details of any individual's performance management" in acknowledgement
    assert "spoke to you discourteously" in rendered["stage1_response"][0]
    assert result["final"]["outcome"] == "resolved_stage1"


def test_harrogate_only_staff_conduct_goes_to_the_line_manager(rendered):
    spec = scenario("harrogate_staff_conduct")
    spec["complaint"]["category"] = "property_condition"
    spec["steps"] = spec["steps"][:3]
    result = run(spec)
    [ready] = [e for e in kinds(result, "task_ready") if e["stage"] == "1" and e["element_id"] != "acknowledge"]
    assert ready["element_id"] == "stage1_response"
    assert "their line manager will investigate it" not in rendered["acknowledgement"][0]


def test_harrogate_review_of_a_staff_complaint_needs_someone_other_than_the_line_manager():
    spec = scenario("harrogate_staff_conduct")
    spec["steps"] = [
        *spec["steps"][:4],
        {"at": "2027-01-04T10:00:00+00:00", "event": "escalation_requested", "data": {}},
        {"at": "2027-01-05T10:00:00+00:00", "complete": "review_acknowledge", "as": "dan",
         "data": {"review_decision": "accept", "stage2_definition": "x", "stage2_outcomes_sought": "y",
                  "stage2_reviewer_name": "Dan"}},
    ]
    with pytest.raises(ScenarioError, match=r"complete review_acknowledge.*6\.13"):
        run(spec)


def test_harrogate_acknowledgement_encloses_the_flowchart(rendered):
    run_named("harrogate_on_time")
    [acknowledgement] = rendered["acknowledgement"]
    # Section 10: 'Did the customer receive the flowchart with the acknowledgement.' Letters carry no attachments,
    # so the flowchart goes in the letter's own text: every copy, emailed or posted, has it.
    assert "We enclose our flowchart for formal complaints" in acknowledgement
    enclosure = " ".join(acknowledgement[acknowledgement.index("Enclosed: our flowchart for formal complaints"):].split())
    for step in ("within 2 working days", "within 10 working days of receiving your complaint", "ask for a review",
                 "Customer Liaison Committee", "closing letter with a feedback form", "Housing Ombudsman"):
        assert step in enclosure, step
    assert "their line manager will investigate it" not in acknowledgement


def test_harrogate_review_over_christmas_closing_letter_14_working_days_after_the_final_response(rendered):
    result = run_named("harrogate_review_over_christmas")
    # Received Mon 16 Nov 2026: acknowledge by Wed 18 Nov, respond within 10 working days of receipt, Mon 30 Nov.
    # Responded Thu 26 Nov: 14 working days for a review, to Wed 16 Dec. Review asked for Mon 30 Nov: acknowledge by
    # Wed 2 Dec, respond within 10 working days, Mon 14 Dec. Final response Mon 14 Dec, no panel, no actions: the
    # review stage complete. Closing letter 14 working days later (section 10, Review stage): 15-18, 21-24 Dec
    # (8), Christmas and Boxing Day holidays, 29-31 Dec (11), New Year's Day, 4-6 Jan (14) -> Wed 6 Jan 2027.
    assert sets(result) == [
        ("stage1_acknowledge", "2026-11-18T23:59:59+00:00", False),
        ("stage1_response", "2026-11-30T23:59:59+00:00", False),
        ("escalation_window", "2026-12-16T23:59:59+00:00", False),
        ("stage2_acknowledge", "2026-12-02T23:59:59+00:00", False),
        ("stage2_response", "2026-12-14T23:59:59+00:00", False),
        ("closure_followup", "2027-01-06T23:59:59+00:00", False),
    ]
    assert kinds(result, "deadline_missed") == []
    assert [(e["at"], e["template"]) for e in kinds(result, "letter_issued")] == [
        ("2026-11-17T10:00:00+00:00", "acknowledgement"), ("2026-11-26T10:00:00+00:00", "stage1_response"),
        ("2026-12-01T10:00:00+00:00", "stage2_acknowledgement"), ("2026-12-14T15:00:00+00:00", "final_response"),
        ("2027-01-07T00:00:00+00:00", "closure")]
    # The lessons-learnt table does not wait for the closing letter; the survey of its feedback form does.
    ready = {e["element_id"]: e["at"] for e in kinds(result, "task_ready")}
    assert ready["lessons_learnt"] == "2026-12-14T15:00:00+00:00"
    assert ready["satisfaction_survey"] == "2027-01-07T00:00:00+00:00"
    [final] = rendered["final_response"]
    assert "This now concludes the Review stage" in final and "heard your complaint" not in final
    assert [(e["at"], e["outcome"]) for e in kinds(result, "closed")] == [("2027-01-07T10:00:00+00:00", "stage2_final")]


def test_harrogate_paths_follow_the_policy_as_written():
    """Where each of issue 15's paths sits in the diagram, in the policy's words."""
    definition = compile_definition(diagram("harrogate"), read_forms(FORMS))
    root = etree.fromstring(diagram("harrogate"))
    flows = {f.get("id"): (f.get("sourceRef"), f.get("targetRef"), f.findtext("bpmn:conditionExpression", None, NS))
             for f in root.iterfind(".//bpmn:sequenceFlow", NS)}
    targets = {source: {t for s, t, _ in flows.values() if s == source} for source, _, _ in flows.values()}
    # 4.4: staff conduct, read from the complaint's category, goes to the line manager (a caseworker), whose
    # response is the Resolution stage's, guarded by its deadline; the review must be someone else.
    assert ("staff_conduct_gw", "line_manager_investigation", 'category == "staff_conduct"') in flows.values()
    investigation = definition.element("line_manager_investigation")
    assert (investigation.role, investigation.stage, investigation.form_ref) == ("caseworker", "1",
                                                                                "staff_conduct_response")
    [due] = [e for e in definition.elements.values() if e.attached_to == "line_manager_investigation"]
    assert (due.deadline_key, due.interrupting) == ("stage1_response", False)
    lanes = {lane.get("id"): {r.text for r in lane.iterfind("bpmn:flowNodeRef", NS)}
             for lane in root.iterfind(".//bpmn:lane", NS)}
    assert "line_manager_investigation" in lanes["Lane_line_manager"]
    for task in ("review_acknowledge", "stage2_response"):
        assert "line_manager_investigation" in definition.element(task).separate_from
    # 5.2.3, 6.1: the final response comes after the panel (or straight after the review when there is none).
    assert targets["stage2_decision_gw"] == {"stage2_extend", "panel_gw"}
    assert targets["panel_gw"] == {"panel_invitation", "panel_join"}
    assert targets["panel_join"] == {"final_response_sent"}
    # Section 10: the closing letter waits on a closure_followup window from the completion, lessons at once.
    closing = definition.element("closure_due")
    assert closing.deadline_key == "closure_followup" and not is_duty(closing.deadline_key)
    assert "completed_at" in closing.timer_expression
    assert definition.element("completion_recorded").properties["timestamp"] == "completed_at"
    assert targets["after_split"] == {"closure_due", "lessons_learnt"}
    assert targets["closure_due"] == {"closure_sent"} and targets["closure_sent"] == {"satisfaction_survey"}


def test_scenarios_are_valid_json_for_the_cli():
    names = sorted(p.stem for p in SCENARIOS.glob("*.json"))
    assert {n.split("_")[0] for n in names} == {"great", "brighter", "harrogate"}
    for name in names:
        spec = scenario(name)
        assert spec["landlord"] in LANDLORDS and name.startswith(spec["landlord"])
        assert copy.deepcopy(spec) == spec


# --- the acknowledgement clock runs from receipt, whatever task is open ---------------------------

def _late_at_the_first_task(name: str, first_step_at: str, later: int = 1) -> dict:
    """The scenario with its first steps moved to `first_step_at` (and each of the next `later` an hour on)."""
    spec = scenario(name)
    at = datetime.fromisoformat(first_step_at)
    for number, step in enumerate(spec["steps"][:1 + later]):
        step["at"] = (at + timedelta(hours=number)).isoformat()
    return spec


@pytest.mark.parametrize("name, first, due, fired, task", [
    # Great Places, received Wed 23 Dec 2026 16:30: 5 working days is Mon 4 Jan 2027 (25, 28 Dec and 1 Jan are bank
    # holidays). Still waiting for the decision to accept it when that passes: missed at 23:59:59, fired a second
    # later; accepted and acknowledged on Tue 5 Jan, met late.
    ("great_places_on_time", "2027-01-05T09:00:00+00:00", "2027-01-04T23:59:59+00:00", "2027-01-05T00:00:00+00:00",
     "decide_acceptance"),
    # Brighter Places, received Mon 1 Feb 2027 09:00: 5 working days is Mon 8 Feb, passed while at first contact.
    ("brighter_places_on_time", "2027-02-09T09:00:00+00:00", "2027-02-08T23:59:59+00:00",
     "2027-02-09T00:00:00+00:00", "first_contact"),
    # Harrogate, received Wed 24 Mar 2027 14:00 GMT: 2 working days (Thu 25, then Good Friday and Easter Monday, Tue
    # 30 Mar) end at 23:59:59 BST, 22:59:59 UTC; passed while the informal attempt was still open.
    ("harrogate_on_time", "2027-03-31T09:00:00+00:00", "2027-03-30T22:59:59+00:00", "2027-03-30T23:00:00+00:00",
     "first_contact"),
])
def test_the_acknowledgement_deadline_runs_from_receipt_through_the_first_task(name, first, due, fired, task):
    result = run(_late_at_the_first_task(name, first, later=2))
    [ready] = [e for e in kinds(result, "task_ready") if e["element_id"] == task]
    received = datetime.fromisoformat(scenario(name)["complaint"]["received_at"]).astimezone(UTC)
    assert ready["at"] == received.isoformat()
    assert ready["due_at"] == due                       # the task shows the clock from the first minute
    assert next((e["at"], e["key"], e["actor"]) for e in kinds(result, "timer_fired")) == \
        (fired, "stage1_acknowledge", "clock")
    assert next((e["key"], e["due_at"], e["actor"]) for e in kinds(result, "deadline_missed")) == \
        ("stage1_acknowledge", due, "clock")
    acknowledged = next(e for e in kinds(result, "task_completed") if e["element_id"] == "acknowledge")
    late = deadlines(result)["stage1_acknowledge"]
    assert late["missed"] and late["met_at"] == acknowledged["at"] and late["due_at"] == due

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
from pathlib import Path

import pytest
from lxml import etree

from workflow_app import engine
from workflow_app.definitions import cache as definition_cache, check_diagram, compile_definition
from workflow_app.deployments import deploy, diagram_files, read_forms
from workflow_app.runtime import build_runtime
from workflow_app.simulator import ScenarioError, simulate

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = ROOT / "processes"
FORMS = ROOT / "forms"
SCENARIOS = Path(__file__).parent / "scenarios"
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
                deployed[landlord] = (result.version.process_id, result.version.version)
        assert deployed == {slug: (f"{slug}_complaint", 1) for slug in LANDLORDS}
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
    in_lanes = {ref.text for lane in lanes for ref in lane.iterfind("bpmn:flowNodeRef", NS)}
    assert in_lanes == {n.get("id") for n in nodes}
    stages = {v.get("value") for v in root.iterfind(".//bpmn:categoryValue", NS)}
    assert {"Stage 1", "Stage 2"} <= {s.split(":")[0] for s in stages}


@pytest.mark.parametrize("landlord", LANDLORDS)
def test_every_element_names_the_policy_it_follows(landlord):
    root = etree.fromstring(diagram(landlord))
    documented = [*root.iterfind(".//bpmn:process", NS), *root.iterfind(".//bpmn:participant", NS),
                  *root.iterfind(".//bpmn:lane", NS), *root.iterfind(".//bpmn:sequenceFlow", NS),
                  *root.iterfind(".//bpmn:group", NS),
                  *[n for tag in FLOW_NODES for n in root.iterfind(f".//bpmn:{tag}", NS)]]
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


# --- Great Places (seed 000) -----------------------------------------------------------------

def test_great_places_refusal_sends_the_refusal_letter_and_closes(rendered):
    result = run_named("great_places_refusal")
    assert result["final"]["status"] == "closed" and result["final"]["outcome"] == "refused"
    assert letters(result) == ["refusal"] and sets(result) == []
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


# --- Brighter Places (seed 001) --------------------------------------------------------------

def test_brighter_places_declines_an_incident_over_six_months_old(rendered):
    result = run_named("brighter_places_refusal")
    assert result["final"]["outcome"] == "refused" and letters(result) == ["refusal"]
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
    # Works completed Mon 10 May: 15 days is Tue 25 May. Escalated Thu 20 May: acknowledge by Tue 25 May;
    # respond within 20 working days of the request (Mon 31 May is a bank holiday) -> Fri 18 Jun;
    # extended by 10 to Fri 2 Jul.
    assert sets(result) == [
        ("clarification", "2027-03-25T23:59:59+00:00", False),
        ("stage1_acknowledge", "2027-03-31T22:59:59+00:00", False),
        ("stage1_response", "2027-04-13T22:59:59+00:00", False),
        ("stage1_response", "2027-05-05T22:59:59+00:00", True),
        ("escalation_window", "2027-05-25T22:59:59+00:00", False),
        ("stage2_acknowledge", "2027-05-25T22:59:59+00:00", False),
        ("stage2_response", "2027-06-18T22:59:59+00:00", False),
        ("stage2_response", "2027-07-02T22:59:59+00:00", True),
    ]
    assert [(e["at"], e["key"]) for e in kinds(result, "timer_fired")] == [
        ("2027-03-26T00:00:00+00:00", "clarification")]
    assert kinds(result, "deadline_missed") == []
    assert result["final"]["outcome"] == "stage2_final"
    assert "designated person" in rendered["final_response"][0]
    assert "15 days from when the agreed works" in rendered["stage1_response"][0]


def test_brighter_places_stage_2_extension_over_ten_days_needs_agreement():
    spec = scenario("brighter_places_works_and_stage2")
    [step] = [s for s in spec["steps"] if s.get("data", {}).get("stage2_decision") == "extend"]
    step["data"]["extension_days"] = 11
    with pytest.raises(ScenarioError, match="extension_days"):
        run(spec)


# --- Harrogate (seed 004) --------------------------------------------------------------------

def test_harrogate_quick_fix_is_recorded_informally():
    result = run_named("harrogate_informal")
    assert result["final"]["status"] == "closed" and result["final"]["outcome"] == "resolved_informally"
    assert sets(result) == [] and letters(result) == []


def test_harrogate_refuses_an_anonymous_complaint(rendered):
    result = run_named("harrogate_refusal")
    assert result["final"]["outcome"] == "refused" and letters(result) == ["refusal"]
    assert "The complaint was submitted anonymously" in rendered["refusal"][0]


def test_harrogate_response_within_time_closed_when_the_customer_says_resolved():
    result = run_named("harrogate_on_time")
    # Received Wed 24 Mar 2027: 2 working days is Tue 30 Mar (Good Friday and Easter Monday skipped).
    # 10 working days from receipt is Fri 9 Apr. Responded Tue 6 Apr: 14 working days is Mon 26 Apr.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-03-30T22:59:59+00:00", False),
        ("stage1_response", "2027-04-09T22:59:59+00:00", False),
        ("escalation_window", "2027-04-26T22:59:59+00:00", False),
    ]
    assert deadlines(result)["escalation_window"]["met_at"] == "2027-04-08T10:00:00+00:00"
    assert result["final"]["outcome"] == "resolved_stage1"


def test_harrogate_extension_then_closed_after_14_working_days_without_reply():
    result = run_named("harrogate_extension")
    # Extended by 10 on Thu 8 Apr: 20 working days from receipt is Fri 23 Apr. Responded Thu 22 Apr:
    # 14 working days (Mon 3 May a bank holiday) is Thu 13 May.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-03-30T22:59:59+00:00", False),
        ("stage1_response", "2027-04-09T22:59:59+00:00", False),
        ("stage1_response", "2027-04-23T22:59:59+00:00", True),
        ("escalation_window", "2027-05-13T22:59:59+00:00", False),
    ]
    assert [(e["at"], e["key"]) for e in kinds(result, "timer_fired")] == [
        ("2027-05-13T23:00:00+00:00", "escalation_window")]
    assert letters(result) == ["acknowledgement", "extension", "stage1_response", "closure"]
    assert result["final"]["outcome"] == "resolved_stage1"


def test_harrogate_review_with_a_clc_panel(rendered):
    result = run_named("harrogate_review")
    # Review asked for Mon 12 Apr: acknowledge in 2 working days (Wed 14 Apr), respond in 10 (Mon 26 Apr).
    # Responded Fri 23 Apr: panel within 10 working days (Mon 3 May skipped) -> Mon 10 May. Panel held
    # Wed 5 May: outcome within 10 working days -> Wed 19 May.
    assert sets(result) == [
        ("stage1_acknowledge", "2027-03-30T22:59:59+00:00", False),
        ("stage1_response", "2027-04-09T22:59:59+00:00", False),
        ("escalation_window", "2027-04-26T22:59:59+00:00", False),
        ("stage2_acknowledge", "2027-04-14T22:59:59+00:00", False),
        ("stage2_response", "2027-04-26T22:59:59+00:00", False),
        ("panel_hearing", "2027-05-10T22:59:59+00:00", False),
        ("panel_outcome", "2027-05-19T22:59:59+00:00", False),
    ]
    assert kinds(result, "deadline_missed") == []
    assert letters(result) == ["acknowledgement", "stage1_response", "stage2_acknowledgement", "final_response",
                               "panel_outcome", "closure"]
    assert result["final"]["outcome"] == "stage2_final"
    assert "Customer Liaison Committee panel" in rendered["final_response"][0]
    assert "The noise carries on every night." in rendered["stage2_acknowledgement"][0]


def test_harrogate_refuses_a_review_without_reasons(rendered):
    result = run_named("harrogate_review_refused")
    assert result["final"]["status"] == "closed" and result["final"]["outcome"] == "review_refused"
    assert letters(result) == ["acknowledgement", "stage1_response", "review_refusal"]
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
    # Second resolution response Fri 16 Apr: a new 14-working-day window to Fri 7 May.
    assert sets(result)[-1] == ("escalation_window", "2027-05-07T22:59:59+00:00", False)


def test_harrogate_second_review_request_counts_from_its_own_date():
    result = run_named("harrogate_new_information")
    # Second review asked for Tue 20 Apr: acknowledge by Thu 22 Apr; respond within 10 working days
    # (Mon 3 May skipped) -> Wed 5 May.
    assert sets(result)[-2:] == [
        ("stage2_acknowledge", "2027-04-22T22:59:59+00:00", False),
        ("stage2_response", "2027-05-05T22:59:59+00:00", False),
    ]
    assert kinds(result, "deadline_missed") == []


def test_scenarios_are_valid_json_for_the_cli():
    names = sorted(p.stem for p in SCENARIOS.glob("*.json"))
    assert {n.split("_")[0] for n in names} == {"great", "brighter", "harrogate"}
    for name in names:
        spec = scenario(name)
        assert spec["landlord"] in LANDLORDS and name.startswith(spec["landlord"])
        assert copy.deepcopy(spec) == spec

"""The simulator: one complaint on a virtual clock, the timeline in order, errors naming the step."""
from __future__ import annotations

import pytest

from tests.conftest import FORMS, PROCESSES
from workflow_app.tools.simulator import ScenarioError, simulate

SCENARIO = {
    "landlord": "testshire",
    "complaint": {"received_at": "2026-12-23T16:30:00+00:00", "channel": "email",
                  "category": "property_condition", "summary": "Roof still leaking",
                  "resident": {"name": "A Resident", "email": "resident@example.org"}},
    "steps": [
        {"at": "2026-12-24T10:00:00+00:00", "complete": "acknowledge", "as": "alice",
         "data": {"complaint_definition": "Roof leak over the bedroom"}},
        {"at": "2027-01-20T09:00:00+00:00"},
        {"at": "2027-01-21T09:00:00+00:00", "complete": "respond1", "as": "alice",
         "data": {"decision": "respond", "outcome": "not_upheld"}},
        {"at": "2027-02-01T09:00:00+00:00", "event": "escalation_requested", "data": {}},
        {"at": "2027-02-02T09:00:00+00:00", "complete": "acknowledge2", "as": "bob",
         "data": {"complaint_definition": "Roof leak; handling of stage 1"}},
        {"at": "2027-02-10T09:00:00+00:00", "complete": "respond2", "as": "bob",
         "data": {"final_outcome": "upheld", "compensation": 250}},
    ],
}


def run(scenario):
    return simulate(scenario, PROCESSES, FORMS)


def test_a_scenario_prints_the_timeline_in_order():
    result = run(SCENARIO)
    timeline = result["timeline"]
    kinds = [event["type"] for event in timeline]
    assert kinds[0] == "complaint_logged" and kinds[-2:] == ["closed", "letter_sent"]
    fired = [e for e in timeline if e["type"] == "timer_fired"]
    # The stage 1 response was due Tue 12 Jan 2027 23:59:59 and fires at midnight.
    assert [(e["at"], e["key"]) for e in fired] == [("2027-01-13T00:00:00+00:00", "stage1_response")]
    missed = [e for e in timeline if e["type"] == "deadline_missed"]
    assert [(e["key"], e["due_at"]) for e in missed] == [("stage1_response", "2027-01-12T23:59:59+00:00")]
    sets = [(e["key"], e["due_at"]) for e in timeline if e["type"] == "deadline_set"]
    assert sets == [
        ("stage1_acknowledge", "2027-01-04T23:59:59+00:00"),
        ("stage1_response", "2027-01-12T23:59:59+00:00"),
        ("escalation_window", "2027-02-21T23:59:59+00:00"),
        ("stage2_acknowledge", "2027-02-08T23:59:59+00:00"),
        ("stage2_response", "2027-03-02T23:59:59+00:00"),
    ]
    assert [e["template"] for e in timeline if e["type"] == "letter_issued"] == [
        "acknowledgement", "stage1_response", "final_response"]
    # Each letter the Code requires is sent as it comes, before the next task (the final response last).
    assert [(e["at"], e["template"]) for e in timeline if e["type"] == "letter_sent"] == [
        ("2026-12-24T10:00:00+00:00", "acknowledgement"), ("2027-01-21T09:00:00+00:00", "stage1_response"),
        ("2027-02-10T09:00:00+00:00", "final_response")]
    assert [e["stage"] for e in timeline if e["type"] == "stage_changed"] == ["1", "2"]
    assert result["final"]["status"] == "closed" and result["final"]["outcome"] == "stage2_final"
    assert all(e["at"].endswith("+00:00") for e in timeline)


def test_the_same_person_cannot_do_both_stages():
    scenario = {**SCENARIO, "steps": [dict(s) for s in SCENARIO["steps"]]}
    scenario["steps"][-1]["as"] = "alice"
    scenario["steps"][-2]["as"] = "carol"
    with pytest.raises(ScenarioError, match=r"step 6 \(complete respond2.*6\.13"):
        run(scenario)


@pytest.mark.parametrize("change, message", [
    (lambda s: s["steps"].append({"at": "2027-01-01T00:00:00+00:00"}), "step 7.*back in time"),
    (lambda s: s["steps"].insert(0, {"at": "2026-12-24T10:00:00+00:00", "complete": "respond2"}),
     r"step 1 .*no open task 'respond2' \(open tasks: acknowledge\)"),
    (lambda s: s["steps"].insert(0, {"at": "2026-12-24T10:00:00+00:00", "event": "teleport"}),
     "step 1 .*no event called 'teleport'"),
    (lambda s: s.update(landlord="atlantis"), "unknown landlord"),
    (lambda s: s["steps"].insert(0, {"at": "2026-12-24T10:00:00+00:00", "explode": True}), "steps/0"),
])
def test_a_step_that_cannot_run_is_named(change, message):
    scenario = {**SCENARIO, "steps": [dict(s) for s in SCENARIO["steps"]]}
    change(scenario)
    with pytest.raises(ScenarioError, match=message):
        run(scenario)

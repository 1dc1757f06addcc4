"""A timer reading a date a script worked out is swept on the path's own history, and two paths whose
dates agree on the day the walk explores but are worked out differently are both swept.

Codeshire's compliant diagram, with the stage 1 response date worked out by a script on one of two
routes chosen at the acknowledgement: 10 working days after it, or the same with one more working day
for an acknowledgement on a weekend or bank holiday. Both give the same date for an acknowledgement on
the walk's day 0 (a Wednesday); only the second gives 11 working days on a bank holiday or a weekend
(6.3)."""
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from workflow_app.casework.deployments import read_forms
from workflow_app.diagrams.code_check import check_code
from workflow_app.diagrams.code_check.facts import EXPLORE_AT
from workflow_app.diagrams.code_check.reading import script_sets
from workflow_app.diagrams.expressions import RestrictedEnvironment
from workflow_app.rules.calendar import calendar_for
from workflow_app.rules.landlords import load_landlord

HERE = Path(__file__).parent
CODESHIRE = HERE / "code_check" / "codeshire"
FORMS_DIR = HERE / "code_check" / "forms"
SWEEP = date(2026, 1, 1)

WORKING_DAYS = "working_days_after(acknowledged_at, 10)"
ONE_MORE_AFTER_A_WEEKEND = "working_days_after(acknowledged_at, 10 if is_working_day(acknowledged_at) else 11)"


def forms_with_a_route_choice(tmp_path: Path):
    """Codeshire's forms, with the acknowledgement choosing how the stage 1 response date is worked out."""
    folder = tmp_path / "forms"
    shutil.copytree(FORMS_DIR, folder)
    path = folder / "cs_acknowledge.json"
    form = json.loads(path.read_text())
    form["components"].append({"type": "radio", "key": "response_route", "label": "Response date",
                               "values": [{"label": "Standard", "value": "standard"},
                                          {"label": "Repairs team", "value": "repairs"}],
                               "validate": {"required": True}})
    path.write_text(json.dumps(form))
    return read_forms(folder)


def routed(first: str, second: str) -> str:
    """The compliant diagram with the stage 1 response date worked out on two routes: `first` on the
    standard route (the gateway's default, walked first), `second` on the repairs route."""
    xml = (CODESHIRE / "complaint.bpmn").read_text()
    flow = '<bpmn:sequenceFlow id="f_to_respond1" sourceRef="accepted_gw" targetRef="respond1" />'
    timer = "working_days_after(acknowledged_at, 10 + stage1_extension_days)"
    assert xml.count(flow) == 1 and xml.count(timer) == 1
    routes = f"""
    <bpmn:sequenceFlow id="f_to_respond1" sourceRef="accepted_gw" targetRef="route_gw" />
    <bpmn:exclusiveGateway id="route_gw" name="Which team responds?" default="f_standard" />
    <bpmn:sequenceFlow id="f_standard" sourceRef="route_gw" targetRef="due_standard" />
    <bpmn:sequenceFlow id="f_repairs" sourceRef="route_gw" targetRef="due_repairs">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">response_route == "repairs"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:scriptTask id="due_standard" name="Set the response date" scriptFormat="python">
      <bpmn:script>stage1_due = {first}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="due_repairs" name="Set the repairs team's response date" scriptFormat="python">
      <bpmn:script>stage1_due = {second}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f_standard_set" sourceRef="due_standard" targetRef="respond1" />
    <bpmn:sequenceFlow id="f_repairs_set" sourceRef="due_repairs" targetRef="respond1" />"""
    return xml.replace(flow, routes).replace(timer, "working_days_after(stage1_due, stage1_extension_days)")


def worked_out_first(script: str, timer: str) -> str:
    """The compliant diagram with a script before the stage 1 response, and its deadline `timer`."""
    xml = (CODESHIRE / "complaint.bpmn").read_text()
    flow = '<bpmn:sequenceFlow id="f_to_respond1" sourceRef="accepted_gw" targetRef="respond1" />'
    assert xml.count(flow) == 1
    script_task = f"""
    <bpmn:sequenceFlow id="f_to_respond1" sourceRef="accepted_gw" targetRef="work_out" />
    <bpmn:scriptTask id="work_out" name="Work out the response date" scriptFormat="python">
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f_worked_out" sourceRef="work_out" targetRef="respond1" />"""
    return xml.replace(flow, script_task).replace(
        "working_days_after(acknowledged_at, 10 + stage1_extension_days)", timer)


def findings(xml: str, forms, **kwargs):
    return check_code(xml, forms, landlord=load_landlord(CODESHIRE), letters_dir=CODESHIRE / "letters",
                      **{"sweep_start": SWEEP, **kwargs})


def test_the_two_dates_agree_on_day_0_and_not_on_a_saturday():
    environment = RestrictedEnvironment(calendar_for("ENG").expression_functions())

    def due(expression: str, acknowledged_at):
        return environment.evaluate(expression, {"acknowledged_at": acknowledged_at})
    assert due(WORKING_DAYS, EXPLORE_AT) == due(ONE_MORE_AFTER_A_WEEKEND, EXPLORE_AT)
    saturday = EXPLORE_AT.replace(day=7)
    assert due(WORKING_DAYS, saturday) != due(ONE_MORE_AFTER_A_WEEKEND, saturday)


@pytest.mark.parametrize("first, second", [(WORKING_DAYS, ONE_MORE_AFTER_A_WEEKEND),
                                           (ONE_MORE_AFTER_A_WEEKEND, WORKING_DAYS)])
def test_a_date_worked_out_differently_on_a_later_path_is_swept_too(tmp_path, first, second):
    forms = forms_with_a_route_choice(tmp_path)
    found = findings(routed(first, second), forms)
    late = [f for f in found if f.provision == "6.3"]
    assert [(f.severity, f.element_id) for f in late] == [("error", "respond1_due")], found
    assert "up to 11 working days" in late[0].message
    assert "received on Thu 01 Jan 2026" in late[0].message     # New Year's Day: not a working day


def test_the_route_that_keeps_to_the_code_alone_has_no_findings(tmp_path):
    forms = forms_with_a_route_choice(tmp_path)
    assert findings(routed(WORKING_DAYS, WORKING_DAYS), forms) == []


def test_a_value_a_timer_reads_worked_out_from_a_date_is_replayed_whatever_its_type():
    # On day 0 (a Wednesday) the acknowledgement is on a working day; not on New Year's Day.
    xml = worked_out_first("on_a_working_day = is_working_day(acknowledged_at)",
                           "working_days_after(acknowledged_at, (10 if on_a_working_day else 11) + stage1_extension_days)")
    found = findings(xml, read_forms(FORMS_DIR))
    assert {(f.provision, f.severity, f.element_id) for f in found} == \
        {("6.3", "error", "respond1_due"), ("6.4", "warning", "respond1_due")}   # as response1_11_working_days
    assert "up to 11 working days" in next(f.message for f in found if f.provision == "6.3")


def test_a_copy_of_a_recorded_date_counts_from_that_date():
    xml = worked_out_first("response_clock_from = acknowledged_at\nother = 1",
                           "working_days_after(response_clock_from, 10 + stage1_extension_days)")
    assert findings(xml, read_forms(FORMS_DIR)) == []


def test_what_a_script_sets_is_known_by_what_it_is_worked_out_from():
    script = """late = responded_at > working_days_after(acknowledged_at, 10 + extension_days)
extension_days = extension_days + extra
clock_from = acknowledged_at
due = working_days_after(clock_from, extension_days)
if late:
    flagged = True
dates["due"] = due"""
    sets = script_sets(script)
    assert sets["extension_days"] == (frozenset({"extension_days", "extra"}), None)     # no date in it
    assert sets["clock_from"] == (frozenset({"acknowledged_at"}), "acknowledged_at")   # a copy
    assert sets["due"][0] == {"acknowledged_at", "extension_days", "extra", "working_days_after"}
    # Set or not by a condition, and changed in place: from everything the statement reads, and itself.
    assert sets["flagged"][0] >= {"responded_at", "acknowledged_at", "flagged"}
    assert sets["dates"][0] >= {"dates", "acknowledged_at", "extra"}
    assert set(sets) == {"late", "extension_days", "clock_from", "due", "flagged", "dates"}

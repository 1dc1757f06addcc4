"""The Complaint Handling Code check: one small diagram per rule that breaks it, the compliant
one they are cut from, the three landlords' diagrams, and `workflow-app check`."""
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from workflow_app.casework.deployments import read_forms
from workflow_app.diagrams.code_check import ENGINE, check_code, check_file, code_errors, sweep_instants
from workflow_app.rules.calendar import FIRST_YEAR, LAST_YEAR
from workflow_app.rules.landlords import load_landlord
from workflow_app.tools.cli import main

HERE = Path(__file__).parent
CODESHIRE = HERE / "code_check" / "codeshire"
FORMS_DIR = HERE / "code_check" / "forms"
FORMS = read_forms(FORMS_DIR)
ROOT = HERE.parents[2]
PROCESSES = ROOT / "processes"
SWEEP = date(2026, 1, 1)   # a fixed year of receipt dates, so the examples in messages stay put

# Each diagram beside complaint.bpmn changes one thing (its first line says what); these are
# the provisions (and severities) the check must report for it, and nothing else.
BROKEN = {
    "informal_stage": {("5.2", "error")},
    "third_stage": {("5.3", "error")},
    "independent_review_decides": {("5.3", "error")},
    "independent_review_reopens": {("5.3", "error")},
    "acknowledge_6_working_days": {("6.2", "error")},
    "acknowledge_8_days": {("6.2", "error")},
    "acknowledge_timer_on_task": {("6.2", "error")},
    "acknowledge_from_triage": {("6.2", "error")},
    "response1_11_working_days": {("6.3", "error"), ("6.4", "warning")},
    "acknowledge2_6_working_days": {("6.11", "error")},
    "acknowledge2_timer_on_task": {("6.11", "error")},
    "acknowledge2_from_stage1_response": {("6.11", "error")},
    "response2_from_stage1_response": {("6.14", "error")},
    "response2_21_working_days": {("6.14", "error"), ("6.15", "warning")},
    "extension1_20_working_days": {("6.4", "warning")},
    "extension1_unlimited": {("6.4", "error")},
    "extension1_repeatable": {("6.4", "error")},
    "extension1_agreed_without_updates": {("5.9", "error")},
    "extension1_agreed_updates_when_late": {("5.9", "error")},
    "extension1_agreed_updates_only_far_beyond": {("5.9", "error")},
    "extension1_letter_without_ombudsman": {("6.5", "error")},
    "extension1_without_letter": {("6.5", "error")},
    "extension2_30_working_days": {("6.15", "warning")},
    "extension2_letter_without_ombudsman": {("6.16", "error")},
    "refusal_without_letter": {("2.4", "error")},
    "refusal_letter_without_ombudsman": {("2.4", "error")},
    "acceptance_6_months": {("2.3", "error")},
    "acceptance_ground_6_months": {("2.3", "error")},
    "review_needs_reasons": {("6.12", "error"), ("5.11", "error")},
    "stage2_same_person": {("6.13", "error")},
    "stage1_letter_incomplete": {("6.9", "error")},
    "stage1_without_letter": {("6.9", "error")},
    "final_letter_without_ombudsman": {("6.19", "error")},
    "timer_without_key": {(ENGINE, "error"), ("6.2", "error")},
    "no_stage2": {("6.10", "error")},
}
# Diagrams that differ from the compliant one in a way the Code allows.
PASSING = ["complaint", "response1_from_receipt", "extension1_agreed", "review_records_reasons",
           "resolved_after_response", "feedback_after_final", "panel_before_final"]


def findings(name: str, **kwargs):
    return check_file(CODESHIRE / f"{name}.bpmn", FORMS, sweep_start=SWEEP, **kwargs)


def test_every_diagram_in_the_folder_is_listed():
    assert {p.stem for p in CODESHIRE.glob("*.bpmn")} == set(BROKEN) | set(PASSING)


@pytest.mark.parametrize("name", PASSING)
def test_a_diagram_that_meets_the_code_has_no_findings(name):
    assert findings(name) == []


@pytest.mark.parametrize("name, expected", sorted(BROKEN.items()))
def test_a_diagram_that_breaks_one_rule_reports_that_provision(name, expected):
    found = findings(name)
    assert {(f.provision, f.severity) for f in found} == expected, [f.message for f in found]
    assert all(f.message for f in found)


@pytest.mark.parametrize("name, element_id, phrases", [
    ("acknowledge_6_working_days", "ack_due", ["up to 6 working days", "the Code allows 5"]),
    ("acknowledge_from_triage", "ack_due", ["counts from triaged_at"]),
    ("extension1_20_working_days", "respond1_due", ["30 working days", "20 more than the first deadline"]),
    ("extension1_repeatable", "respond1_due", ["again and again"]),
    ("extension1_unlimited", "respond1_due", ["no upper limit"]),
    ("extension1_agreed_without_updates", "respond1_due", ["agreed with the resident runs with no upper limit",
                                                           "beyond the Code's 20 working days",
                                                           "no update_interval timer follows the agreement"]),
    ("extension1_agreed_updates_when_late", "respond1_due", ["other than once a response date has passed"]),
    ("acceptance_6_months", "accept_gw", ["only 7 months"]),
    ("review_needs_reasons", "reasons_gw", ["review_reasons"]),
    ("stage2_same_person", "respond2", ["separate_from", "respond1"]),
    ("stage1_letter_incomplete", "respond1", ["the complaint definition", "how to escalate"]),
])
def test_findings_name_the_element_and_say_why(name, element_id, phrases):
    messages = [f.message for f in findings(name) if f.element_id == element_id]
    assert messages, findings(name)
    assert all(any(phrase in m for m in messages) for phrase in phrases), messages


# Rules that judge what a diagram does, with every finding they give: (provision, severity, element).
EXACT = {
    # The triage waits before the Acknowledge task, the only place the clock runs.
    "acknowledge_timer_on_task": {("6.2", "error", "triage")},
    # The same, and the clock counts from the triage too: both are wrong.
    "acknowledge_from_triage": {("6.2", "error", "triage"), ("6.2", "error", "ack_due")},
    # A wait between the request and stage 2 is judged when the path enters stage 2.
    "acknowledge2_timer_on_task": {("6.11", "error", "pass_on")},
    "acknowledge2_from_stage1_response": {("6.11", "error", "ack2_due")},
    "response2_from_stage1_response": {("6.14", "error", "respond2_due")},
    "independent_review_decides": {("5.3", "error", "independent_review")},
    "independent_review_reopens": {("5.3", "error", "independent_review")},
}


@pytest.mark.parametrize("name, expected", sorted(EXACT.items()))
def test_rules_on_what_the_diagram_does_name_the_element(name, expected):
    assert {(f.provision, f.severity, f.element_id) for f in findings(name)} == expected


@pytest.mark.parametrize("name, element_id, phrases", [
    ("acknowledge_timer_on_task", "triage", ["before it is acknowledged", "no stage1_acknowledge timer runs there",
                                             "5 working days run from the complaint being received"]),
    ("acknowledge2_timer_on_task", "pass_on", ["between the escalation request and the stage 2 acknowledgement",
                                               "no stage2_acknowledge timer"]),
    ("acknowledge2_from_stage1_response", "ack2_due", ["counts only from stage1_responded_at",
                                                       "before the escalation request"]),
    ("independent_review_decides", "independent_review", ["after the stage 2 final response", "'Decision changed?'",
                                                          "overturned, stage2_final", "third complaint stage"]),
    ("independent_review_reopens", "independent_review", ["leads to a further response",
                                                          "'Review and give the final response'"]),
])
def test_the_new_rules_say_why(name, element_id, phrases):
    [message] = [f.message for f in findings(name) if f.element_id == element_id]
    assert all(phrase in message for phrase in phrases), message


def test_deadlines_are_evaluated_over_every_receipt_day_not_one():
    # days_after(received_at, 8) is 5 working days for a complaint received on a Friday,
    # 6 for one received Monday to Thursday: one Friday proves nothing, a week finds it.
    assert findings("acknowledge_8_days", sweep_days=1) == []      # Fri 2 Jan 2026 only
    [finding] = check_file(CODESHIRE / "acknowledge_8_days.bpmn", FORMS, sweep_start=date(2026, 1, 2),
                           sweep_days=7)
    assert "received on Mon 05 Jan 2026" in finding.message


def test_the_default_sweep_covers_more_than_a_year_at_both_ends_of_the_day():
    instants = sweep_instants()
    assert len({i.date() for i in instants}) >= 366
    assert {(i.hour, i.minute) for i in instants} == {(0, 30), (23, 30)}


def with_acknowledgement_due(expression: str, **kwargs):
    """The compliant diagram with another acknowledgement deadline, checked with Codeshire's settings."""
    xml = (CODESHIRE / "complaint.bpmn").read_text().replace("working_days_after(received_at, 5)", expression)
    return check_code(xml, FORMS, landlord=load_landlord(CODESHIRE), letters_dir=CODESHIRE / "letters",
                      **{"sweep_start": SWEEP, **kwargs})


def test_expressions_are_evaluated_not_read():
    assert with_acknowledgement_due("working_days_after(received_at, 2 + 3)") == []
    assert [f.provision for f in with_acknowledgement_due("working_days_after(received_at, len('abcdef'))")] \
        == ["6.2"]


def test_a_bank_holiday_counts():
    # One more working day for a complaint received on a bank holiday: late only then.
    holiday = ("working_days_after(received_at, 6) if received_at.weekday() &lt; 5 and not is_working_day(received_at) "
               "else working_days_after(received_at, 5)")
    assert with_acknowledgement_due(holiday, sweep_start=date(2026, 1, 12), sweep_days=60) == []
    [finding] = with_acknowledgement_due(holiday)
    assert finding.provision == "6.2" and "6 working days" in finding.message
    assert "Thu 01 Jan 2026" in finding.message


def test_a_due_time_that_cannot_be_worked_out_is_an_engine_error_naming_the_timer_and_day():
    [finding] = with_acknowledgement_due("working_days_after(received_at, 100000000)")
    assert (finding.provision, finding.severity, finding.element_id) == (ENGINE, "error", "ack_due")
    assert "cannot be worked out for a complaint received on Thu 01 Jan 2026" in finding.message
    assert "between 0 and 1000" in finding.message
    assert code_errors([finding]) == []          # not a Code error an acknowledgement could wave through


def test_an_engine_error_in_a_timer_cannot_be_deployed_even_with_an_acknowledgement(tmp_path, monkeypatch):
    processes = tmp_path / "processes"
    folder = processes / "codeshire"
    shutil.copytree(CODESHIRE / "letters", folder / "letters")
    shutil.copy(CODESHIRE / "landlord.toml", folder)
    diagram = folder / "complaint.bpmn"
    diagram.write_text((CODESHIRE / "complaint.bpmn").read_text().replace(
        "working_days_after(received_at, 5)", "working_days_after(received_at, 100000000)"))
    monkeypatch.setenv("WORKFLOW_APP_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("WORKFLOW_APP_PROCESSES", str(processes))
    monkeypatch.setenv("WORKFLOW_APP_FORMS", str(FORMS_DIR))
    monkeypatch.delenv("WORKFLOW_APP_DATABASE_URL", raising=False)
    runner = CliRunner()
    result = runner.invoke(main, ["deploy", "--acknowledge-code-errors", "x", str(diagram)], catch_exceptions=False)
    assert result.exit_code != 0 and "nothing was deployed" in result.output
    assert "ack_due" in result.output and "cannot be worked out" in result.output
    diagram.write_text((CODESHIRE / "complaint.bpmn").read_text())
    deployed = runner.invoke(main, ["deploy", str(diagram)], catch_exceptions=False)
    assert deployed.exit_code == 0 and "codeshire_complaint version 1 deployed" in deployed.output


def test_the_sweep_stays_within_the_calendars_years():
    late = sweep_instants(date(LAST_YEAR + 50, 1, 1), 400)
    assert len({i.date() for i in late}) == 400 and max(i.date() for i in late).year < LAST_YEAR
    assert sweep_instants(date(FIRST_YEAR - 100, 6, 1), 10)[0].date() == date(FIRST_YEAR, 1, 1)
    assert check_file(CODESHIRE / "complaint.bpmn", FORMS, sweep_start=date(LAST_YEAR, 6, 1)) == []


def test_without_settings_or_letters_the_check_still_runs():
    found = check_code((CODESHIRE / "complaint.bpmn").read_bytes(), FORMS, sweep_start=SWEEP, sweep_days=10)
    assert {f.provision for f in found} <= {"2.4", "6.5", "6.9", "6.16", "6.19"}
    assert all("letters folder" in f.message or "Ombudsman" in f.message or "letter" in f.message for f in found)


def test_unreadable_xml_is_an_engine_error_not_a_crash():
    [finding] = check_code(b"<definitions>", FORMS)
    assert finding.provision == ENGINE and finding.severity == "error" and "well-formed" in finding.message


def test_code_errors_leave_out_warnings_and_engine_problems():
    found = findings("response1_11_working_days") + findings("timer_without_key")
    assert {f.provision for f in code_errors(found)} == {"6.3", "6.2"}


# --- the landlords' diagrams, as their policies are written ------------------------------------

LANDLORDS = {
    "great_places": set(),
    # Beyond the brief's findings, the Code's 5.9: both policies let the resident agree a longer extension, and
    # neither agrees intervals for keeping them informed with it (Great Places' policy does: its diagram passes).
    "brighter_places": {("2.3", "error"), ("6.4", "warning"), ("5.9", "error")},
    "harrogate": {("5.2", "error"), ("6.12", "error"), ("5.11", "error"), ("5.9", "error")},
}


@pytest.mark.parametrize("landlord, expected", sorted(LANDLORDS.items()))
def test_the_landlords_diagrams_give_the_briefs_findings_and_no_others(landlord, expected):
    found = check_file(PROCESSES / landlord / "complaint.bpmn", read_forms(ROOT / "forms"),
                       sweep_start=SWEEP)
    assert {(f.provision, f.severity) for f in found} == expected, [(f.provision, f.message) for f in found]


def test_brighter_places_findings_name_the_six_months_and_the_exceptional_extension():
    found = check_file(PROCESSES / "brighter_places" / "complaint.bpmn", read_forms(ROOT / "forms"),
                       sweep_start=SWEEP)
    by_provision = {f.provision: f for f in found}
    assert "over_6_months" in by_provision["2.3"].message
    assert by_provision["6.4"].element_id == "stage1_response_due"
    assert "30 working days" in by_provision["6.4"].message


@pytest.mark.parametrize("landlord", ["brighter_places", "harrogate"])
def test_an_agreed_extension_without_update_intervals_is_found_at_both_stages(landlord):
    found = check_file(PROCESSES / landlord / "complaint.bpmn", read_forms(ROOT / "forms"), sweep_start=SWEEP)
    intervals = [f for f in found if f.provision == "5.9"]
    assert {f.element_id for f in intervals} == {"stage1_response_due", "stage2_response_due"}
    assert all("no update intervals are agreed with it" in f.message for f in intervals)


# --- the command -----------------------------------------------------------------------------------

@pytest.fixture
def check_command():
    runner = CliRunner()
    return lambda *args: runner.invoke(main, ["check", *map(str, args)], catch_exceptions=False)


def test_check_json_lists_findings_and_exits_1_on_an_error(check_command):
    result = check_command(CODESHIRE / "stage2_same_person.bpmn", "--forms", FORMS_DIR, "--json")
    assert result.exit_code == 1
    [finding] = json.loads(result.output)
    assert set(finding) == {"provision", "severity", "element_id", "message", "file"}
    assert (finding["provision"], finding["severity"], finding["element_id"]) == ("6.13", "error", "respond2")


def test_check_exits_0_when_there_are_only_warnings(check_command):
    result = check_command(CODESHIRE / "extension1_20_working_days.bpmn", "--forms", FORMS_DIR)
    assert result.exit_code == 0
    assert "warning: Code 6.4: respond1_due:" in result.output
    assert "1 diagram(s) checked, 0 error(s), 1 warning(s)" in result.output


def test_check_of_a_folder_checks_every_diagram(check_command):
    result = check_command(CODESHIRE, "--forms", FORMS_DIR, "--json")
    assert result.exit_code == 1
    files = {Path(f["file"]).stem for f in json.loads(result.output)}
    assert files == set(BROKEN)

"""The hazard check holds each landlord's hazard diagram to Awaab's Law's timescales (rules/hazard_laws), and
finds a mutated diagram's over-long timer, a timer counting from a later date, and a step without a timer."""
from __future__ import annotations

import dataclasses
import re
from datetime import date
from pathlib import Path

import pytest

from workflow_app.casework.deployments import read_forms
from workflow_app.diagrams.code_check import check_code
from workflow_app.diagrams.hazard_check import check_hazard
from workflow_app.rules.hazards import hazard_law
from workflow_app.rules.landlords import load_landlord

ROOT = Path(__file__).resolve().parents[3]
LANDLORDS = ("great_places", "brighter_places", "harrogate")
FORMS = read_forms(ROOT / "forms")
SWEEP = {"sweep_start": date(2026, 1, 1), "sweep_days": 400}   # both of 2026's clock changes, two Christmases


def diagram(landlord: str = "great_places") -> str:
    return (ROOT / "processes" / landlord / "hazard.bpmn").read_text()


def mutated(old: str, new: str, landlord: str = "great_places") -> str:
    source = diagram(landlord)
    assert source.count(old) >= 1, old
    return source.replace(old, new, 1)


def errors(xml: str, **kwargs) -> list[tuple[str, str | None, str]]:
    return [(f.provision, f.element_id, f.message) for f in check_hazard(xml, FORMS, **SWEEP, **kwargs)
            if f.is_error]


@pytest.mark.parametrize("landlord", LANDLORDS)
def test_each_landlords_hazard_diagram_meets_the_regulations(landlord):
    settings = load_landlord(ROOT / "processes" / landlord)
    assert check_hazard(diagram(landlord), FORMS, landlord=settings, **SWEEP) == []
    # the Code check's entry point sends a hazard diagram here, not to the Complaint Handling Code
    assert check_code(diagram(landlord).encode(), FORMS, landlord=settings, **SWEEP) == []


def test_an_investigation_timer_of_11_working_days_is_longer_than_the_regulations_allow():
    found = errors(mutated("working_days_after(received_at, 10)", "working_days_after(received_at, 11)"))
    assert [(p, e) for p, e, _ in found] == [("SI 2025/1042", "investigate_due")]
    # aware Thu 1 Jan 2026 00:30 (a bank holiday): day 0 Fri 2 Jan, 10 working days Fri 16 Jan, 11 Mon 19 Jan
    assert "due 2026-01-19T23:59:59+00:00, the regulations' limit is 2026-01-16T23:59:59+00:00" in found[0][2]


def test_25_hours_for_an_emergency_is_longer_than_the_24_the_regulations_allow():
    xml = re.sub(r'(<bpmn:boundaryEvent id="make_safe_due".*?)hours_after\(received_at, 24\)',
                 r"\1hours_after(received_at, 25)", diagram(), count=1, flags=re.S)
    found = errors(xml)
    assert [(p, e) for p, e, _ in found] == [("SI 2025/1042", "make_safe_due")]
    assert "within 24 hours of the landlord becoming aware" in found[0][2]


def test_a_timer_counting_from_a_later_date_than_the_regulations_is_found():
    # the investigation counted from its own conclusion instead of from awareness
    found = errors(mutated("working_days_after(received_at, 10)", "working_days_after(investigated_at, 10)"))
    assert [e for _, e, _ in found] == ["investigate_due"]


def test_a_step_without_a_timer_is_found():
    source = diagram()
    xml = re.sub(r'<bpmn:boundaryEvent id="triage_due".*?</bpmn:boundaryEvent>', "", source, flags=re.S)
    xml = re.sub(r'<bpmn:endEvent id="triage_due_missed".*?</bpmn:endEvent>', "", xml, flags=re.S)
    xml = re.sub(r'<bpmn:sequenceFlow id="Flow_triage_due" [^>]*/>', "", xml)
    found = errors(xml)
    assert ("SI 2025/1042", "triage", "the step 'Triage the hazard' has no timer: every step of a hazard case runs "
            "to one of Awaab's Law's timescales") in found
    assert any(e is None and "hazard_triage" in m for _, e, m in found)


def test_a_change_in_the_law_is_a_change_of_data():
    law = hazard_law()
    shorter = dataclasses.replace(law, timescales={
        **law.timescales, "hazard_investigate": dataclasses.replace(law.timescales["hazard_investigate"], within=8)})
    assert [e for _, e, _ in errors(diagram(), law=shorter)] == ["investigate_due"]


def test_the_regulations_data_gives_each_step_with_its_source_and_what_is_in_scope():
    law = hazard_law()
    assert law.citation == "SI 2025/1042" and law.in_force == date(2025, 10, 27)
    assert {k: (t.within, t.unit, t.counts_from) for k, t in law.timescales.items()} == {
        "hazard_triage": (24, "hours", "received_at"),
        "hazard_emergency_make_safe": (24, "hours", "received_at"),
        "hazard_emergency_accommodation": (24, "hours", "received_at"),
        "hazard_investigate": (10, "working_days", "received_at"),
        "hazard_written_summary": (3, "working_days", "investigated_at"),
        "hazard_safety_work": (5, "working_days", "investigated_at"),
        "hazard_significant_accommodation": (5, "working_days", "investigated_at"),
        "hazard_further_work_begin": (5, "working_days", "investigated_at"),
        "hazard_further_work_start": (12, "weeks", "investigated_at"),
    }
    assert all(t.source.startswith("https://") and ("2025/1042" in t.regulation or "24 hours" in t.regulation)
               for t in law.timescales.values())
    assert [h.key for h in law.in_scope(date(2025, 10, 26))] == []
    assert [h.key for h in law.in_scope(date(2026, 12, 3))] == ["damp_and_mould", "emergency_other"]


def test_workflow_app_check_reports_the_over_long_timer_of_a_hazard_diagram_in_a_landlords_folder(tmp_path):
    from click.testing import CliRunner

    from workflow_app.tools.cli import main
    folder = tmp_path / "great_places"
    folder.mkdir()
    (folder / "landlord.toml").write_text((ROOT / "processes" / "great_places" / "landlord.toml").read_text())
    (folder / "hazard.bpmn").write_text(mutated("weeks_after(investigated_at, 12)", "weeks_after(investigated_at, 13)"))
    result = CliRunner().invoke(main, ["check", str(folder / "hazard.bpmn"), "--forms", str(ROOT / "forms")])
    assert result.exit_code == 1
    assert "error: Awaab's Law SI 2025/1042: further_work_start_due:" in result.output
    assert "1 diagram(s) checked, 1 error(s), 0 warning(s)" in result.output

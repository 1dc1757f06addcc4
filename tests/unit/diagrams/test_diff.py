"""What a new version changes: elements added, removed and changed, timers and forms."""
from __future__ import annotations

import json

from tests.unit.diagrams.test_code_check import CODESHIRE, FORMS, FORMS_DIR
from workflow_app.diagrams.diff import diff_diagrams

BASE = (CODESHIRE / "complaint.bpmn").read_text()


def variant(name: str) -> str:
    return (CODESHIRE / f"{name}.bpmn").read_text()


def test_the_same_diagram_has_no_differences():
    diff = diff_diagrams(BASE, BASE, FORMS, FORMS)
    assert diff.empty and diff.as_dict() == {"added": [], "removed": [], "changed": [], "timers": [], "forms": []}


def test_a_changed_timer_expression_is_listed_with_its_deadline_key():
    diff = diff_diagrams(BASE, variant("response1_11_working_days"))
    [timer] = diff.timers
    assert (timer.id, timer.deadline_key) == ("respond1_due", "stage1_response")
    assert timer.before == "working_days_after(acknowledged_at, 10 + stage1_extension_days)"
    assert timer.after == "working_days_after(acknowledged_at, 11 + stage1_extension_days)"
    [changed] = diff.changed
    assert changed.id == "respond1_due" and set(changed.changes) == {"timer_expression"}
    assert not diff.added and not diff.removed


def test_added_elements_and_rewired_flows():
    diff = diff_diagrams(BASE, variant("third_stage"))
    assert [(e.id, e.kind, e.name) for e in diff.added] == [
        ("appeal", "manualTask", "Stage 3 appeal hearing"), ("f_appeal", "sequenceFlow", "f_appeal")]
    [rewired] = diff.changed
    assert rewired.id == "f_final" and rewired.changes == {"to": ("closed2", "appeal")}


def test_removed_elements_include_their_timers():
    diff = diff_diagrams(BASE, variant("no_stage2"))
    removed = {e.id for e in diff.removed}
    assert {"acknowledge2", "respond2", "ack2_due", "respond2_due", "escalate_gw"} <= removed
    assert {t.id for t in diff.timers if t.after is None} == {"ack2_due", "respond2_due", "window_closed"}


def test_properties_forms_conditions_and_scripts_are_compared():
    diff = diff_diagrams(BASE, variant("stage2_same_person"))
    [changed] = diff.changed
    assert changed.changes == {"property separate_from": ("respond1", None)}
    diff = diff_diagrams(BASE, variant("acceptance_6_months"))
    assert [c.changes for c in diff.changed] == [{"condition": ("months_after(issue_date, 12) < received_at",
                                                                "months_after(issue_date, 6) < received_at")}]
    diff = diff_diagrams(BASE, variant("extension1_repeatable"))
    assert [c.id for c in diff.changed] == ["extend1"] and "script" in diff.changed[0].changes
    diff = diff_diagrams(BASE, variant("extension1_unlimited"))
    assert diff.changed[0].changes == {"form_ref": ("cs_respond1", "cs_respond1_unlimited")}


def test_a_changed_form_is_listed():
    source = json.loads((FORMS_DIR / "cs_respond1.json").read_text())
    changed = {**FORMS, "cs_respond1": {**source, "components": source["components"][:1]}}
    assert diff_diagrams(BASE, BASE, FORMS, changed).forms == ["cs_respond1"]
    assert diff_diagrams(BASE, BASE, {k: v.source for k, v in FORMS.items()}, FORMS).forms == []

"""The Code check's structural rules take their provisions, and their words, from the landlord's
regime: under the SPSO's model procedure an extra stage is the procedure's Part 1, not the Code's
5.2, and a rule the procedure does not have is not checked."""
from __future__ import annotations

import dataclasses
from datetime import date

from tests.unit.diagrams.test_code_check import CODESHIRE, FORMS
from workflow_app.diagrams.code_check import check_code
from workflow_app.diagrams.code_check.cache import check_key
from workflow_app.diagrams.code_check.timers import sweep_instants
from workflow_app.rules.landlords import load_landlord
from workflow_app.rules.regime import HOUSING_OMBUDSMAN, regime_named

SWEEP = {"sweep_start": date(2026, 1, 1), "sweep_days": 14}
ENGLISH = load_landlord(CODESHIRE)
SCOTTISH = dataclasses.replace(ENGLISH, regime=regime_named("spso_model_chp"))


def check(name: str, landlord=SCOTTISH):
    xml = (CODESHIRE / f"{name}.bpmn").read_bytes()
    return check_code(xml, FORMS, landlord=landlord, letters_dir=CODESHIRE / "letters", **SWEEP)


def test_an_informal_stage_breaks_the_model_procedures_two_stages():
    [finding] = [f for f in check("informal_stage") if "extra complaint stage" in f.message]
    spso = regime_named("spso_model_chp")
    assert finding.provision == spso.provision("no_extra_stage") == "Part 1, Two stages"
    assert finding.severity == "error" and finding.element_id == "triage"
    assert "; the model procedure allows no 'stage 0'" in finding.message
    assert "the Code" not in finding.message


def test_under_the_code_the_same_diagram_is_still_5_2():
    [finding] = [f for f in check("informal_stage", ENGLISH) if "extra complaint stage" in f.message]
    assert finding.provision == "5.2" and "; the Code allows no 'stage 0'" in finding.message


def test_a_third_stage_and_a_missing_stage_2_are_the_model_procedures_too():
    spso = regime_named("spso_model_chp")
    assert {f.provision for f in check("third_stage") if "third complaint stage" in f.message} == \
        {spso.provision("no_third_stage")}
    assert {f.provision for f in check("no_stage2") if "no stage 2" in f.message} == {spso.provision("two_stages")}


def test_a_rule_the_model_procedure_does_not_have_is_not_checked():
    spso = regime_named("spso_model_chp")
    assert spso.provision("stage2_by_someone_else") is None and spso.provision("no_reasons_to_escalate") is None
    assert not [f for f in check("stage2_same_person") if "separate_from" in f.message]
    assert not [f for f in check("review_needs_reasons") if "reasons" in f.message]
    assert [f for f in check("stage2_same_person", ENGLISH) if f.provision == "6.13"]
    assert {f.provision for f in check("review_needs_reasons", ENGLISH)} >= {"5.11", "6.12"}


def test_no_finding_says_the_code_under_another_regime():
    for name in ("informal_stage", "third_stage", "no_stage2", "acceptance_6_months", "acceptance_ground_6_months",
                 "response1_11_working_days", "stage1_without_letter"):
        assert not [f.message for f in check(name) if "the Code" in f.message], name


def test_a_different_regime_is_a_different_cache_key():
    xml = (CODESHIRE / "informal_stage.bpmn").read_bytes()
    instants = sweep_instants(start=SWEEP["sweep_start"], days=SWEEP["sweep_days"])
    english = check_key(xml, FORMS, ENGLISH, CODESHIRE / "letters", instants)
    scottish = check_key(xml, FORMS, SCOTTISH, CODESHIRE / "letters", instants)
    assert ENGLISH.regime is HOUSING_OMBUDSMAN and english and scottish and english != scottish

"""The complaint-handling regimes: the files load, the Code's numbers are the Code's, a landlord
names a known regime, and the letter rule and the report limits follow the landlord's regime."""
from __future__ import annotations

import re
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from workflow_app.casework.letters import code_required
from workflow_app.reporting.measures import Scope
from workflow_app.rules.landlords import SettingsError, load_landlord, load_landlords
from workflow_app.rules.regime import DEFAULT, HOUSING_OMBUDSMAN, PROVISION_RULES, REGIMES, known_regimes, regime_named
from workflow_app.rules.vocabulary import DEADLINE_KEYS, STAGES

ROOT = Path(__file__).resolve().parents[3]
PROCESSES = ROOT / "processes"


def test_both_regime_files_load():
    assert known_regimes() == ("housing_ombudsman_2024", "spso_model_chp")
    assert {p.stem for p in REGIMES.glob("*.toml")} == set(known_regimes())
    for key in known_regimes():
        regime = regime_named(key)
        assert regime.key == key and regime.name and regime.short_name
        assert set(regime.limits) <= DEADLINE_KEYS
        for limit in regime.limits.values():
            assert limit.stage in STAGES and limit.working_days > 0 and limit.starts
        assert regime.response_stages == ("1", "2")
        assert regime.required_letter_words


def test_the_codes_numbers():
    code = regime_named("housing_ombudsman_2024")
    assert code is HOUSING_OMBUDSMAN and DEFAULT == "housing_ombudsman_2024"
    assert code.limits["stage1_acknowledge"].working_days == 5                      # 6.2
    assert code.response_timescale("1") == (10, 10)                                   # 6.3, 6.4
    assert code.acknowledgement("2").working_days == 5                                # 6.11
    assert code.response_timescale("2") == (20, 20)                                   # 6.14, 6.15
    assert [code.limits[k].provision for k in ("stage1_acknowledge", "stage1_response", "stage2_acknowledge",
                                               "stage2_response")] == ["6.2", "6.3", "6.11", "6.14"]
    assert code.acceptance_months == 12
    assert dict(code.completion_provisions) == {"1": "6.9", "2": "6.19"}


def test_the_model_procedure_differs_where_the_spso_does():
    spso = regime_named("spso_model_chp")
    assert spso.response_timescale("1") == (5, 5)
    assert spso.acknowledgement("1") is None
    assert spso.acknowledgement("2").working_days == 3
    assert spso.acceptance_months == 6


def test_an_unknown_regime_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError) as info:
        regime_named("ombudsman_of_atlantis")
    assert str(info.value) == ("no complaint-handling regime 'ombudsman_of_atlantis'; "
                               "known: housing_ombudsman_2024, spso_model_chp")


def _landlord_toml(regime_line: str) -> str:
    return textwrap.dedent(f"""\
        display_name = "Test Homes"
        reference_prefix = "TH"
        nation = "ENG"
        homes = 2500
        {regime_line}

        [contact]
        email = "info@test-homes.org.uk"

        [[referral_bodies]]
        name = "Housing Ombudsman Service"
        when = "After the final response"

        [ombudsman]
        name = "Housing Ombudsman Service"
        phone = "0300 111 3000"
        """)


def test_a_landlord_naming_an_unknown_regime_is_refused_with_the_known_ones(tmp_path):
    folder = tmp_path / "test_homes"
    folder.mkdir()
    (folder / "landlord.toml").write_text(_landlord_toml('regime = "housing_ombudsman_2020"'), encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_landlord(folder)
    assert info.value.field == "regime"
    assert str(info.value).endswith("test_homes/landlord.toml: regime: must be one of "
                                    "housing_ombudsman_2024, spso_model_chp, not 'housing_ombudsman_2020'")


def test_a_landlord_names_its_regime_or_works_under_the_code(tmp_path):
    for slug, line in (("named", 'regime = "spso_model_chp"'), ("unnamed", "")):
        (tmp_path / slug).mkdir()
        (tmp_path / slug / "landlord.toml").write_text(_landlord_toml(line), encoding="utf-8")
    assert load_landlord(tmp_path / "named").regime is regime_named("spso_model_chp")
    assert load_landlord(tmp_path / "unnamed").regime is HOUSING_OMBUDSMAN


def test_the_three_landlords_work_under_the_code():
    landlords = load_landlords(PROCESSES)
    assert {landlord.regime.key for landlord in landlords.values()} == {"housing_ombudsman_2024"}
    scope = Scope(tuple(landlords.values()))
    assert scope.regime is HOUSING_OMBUDSMAN
    assert scope.response_stages == ("1", "2")


def test_a_report_scope_names_a_regime_only_when_its_landlords_share_one():
    landlords = load_landlords(PROCESSES)
    code = landlords["harrogate"]
    scottish = replace(landlords["great_places"], slug="scottish", regime=regime_named("spso_model_chp"))
    assert Scope((code, scottish)).regime is None
    assert Scope((scottish,)).regime.key == "spso_model_chp"
    assert Scope(()).regime is HOUSING_OMBUDSMAN


def test_the_letter_rule_reads_the_regime():
    for template in ("acknowledgement", "stage1_response", "extension", "refusal", "final_response"):
        assert code_required(template) and code_required(template, HOUSING_OMBUDSMAN)
    for template in ("update", "closure", "satisfaction_survey"):
        assert not code_required(template)
    quiet = replace(HOUSING_OMBUDSMAN, required_letter_words=("refus",))
    assert code_required("refusal", quiet) and not code_required("acknowledgement", quiet)


def test_both_regimes_load_their_provisions():
    code = regime_named("housing_ombudsman_2024")
    assert dict(code.provisions) == {
        "acceptance_window": "2.3", "refusal_explained": "2.4", "no_extra_stage": "5.2", "no_third_stage": "5.3",
        "escalation_not_refused": "5.11", "update_intervals": "5.9", "two_stages": "6.10",
        "no_reasons_to_escalate": "6.12", "stage2_by_someone_else": "6.13"}
    spso = regime_named("spso_model_chp")
    assert set(spso.provisions) == {"acceptance_window", "no_extra_stage", "no_third_stage", "two_stages"}
    assert all(p.startswith("Part ") for p in spso.provisions.values())
    assert spso.provision("stage2_by_someone_else") is None
    with pytest.raises(KeyError):
        code.provision("no_such_rule")


def test_every_provision_the_check_asks_for_is_one_the_code_names():
    check_sources = ROOT / "src" / "workflow_app" / "diagrams" / "code_check"
    asked = set()
    for path in check_sources.glob("*.py"):
        asked |= set(re.findall(r"provision\(\s*\"(\w+)\"", path.read_text(encoding="utf-8")))
        asked |= {rule for pair in re.findall(r"provision\(\s*\"(\w+)\" if \w+ else \"(\w+)\"",
                                              path.read_text(encoding="utf-8")) for rule in pair}
    assert asked == set(PROVISION_RULES)
    assert set(HOUSING_OMBUDSMAN.provisions) == set(PROVISION_RULES)


def test_a_regime_naming_an_unknown_rule_is_refused(tmp_path, monkeypatch):
    text = (REGIMES / "spso_model_chp.toml").read_text(encoding="utf-8").replace(
        "[provisions]", '[provisions]\nno_such_rule = "Part 9"')
    (tmp_path / "made_up.toml").write_text(text, encoding="utf-8")
    monkeypatch.setattr("workflow_app.rules.regime.REGIMES", tmp_path)
    with pytest.raises(ValueError, match="no_such_rule"):
        regime_named.__wrapped__("made_up")

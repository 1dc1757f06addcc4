"""The deadline vocabulary: every key has a label and a kind, and the by-stage maps agree."""
from __future__ import annotations

import json

from workflow_app.rules.vocabulary import (
    ACKNOWLEDGE_KEYS,
    DEADLINE_KEYS,
    DEADLINE_NAMES,
    DUTY_KEYS,
    RECURRING_KEYS,
    RESPONSE_KEYS,
    STAGE2_KEYS,
    STAGE_DUTIES,
    STAGE_NAMES,
    STAGES,
    WINDOW_KEYS,
    DeadlineKey,
    Stage,
    deadline_name,
    is_duty,
    is_recurring,
    stage_name,
    stage_order,
)


def test_every_key_has_a_label_people_read():
    assert set(DEADLINE_NAMES) == DEADLINE_KEYS == set(DeadlineKey)
    for key in DeadlineKey:
        assert deadline_name(key) == DEADLINE_NAMES[key]
        assert deadline_name(key.value) == DEADLINE_NAMES[key]   # a key read back from the database
        assert DEADLINE_NAMES[key].strip() and DEADLINE_NAMES[key] != key.value
    assert len(set(DEADLINE_NAMES.values())) == len(DEADLINE_NAMES)


def test_an_unknown_key_or_stage_reads_as_itself():
    assert deadline_name("my_own_key") == "my_own_key"
    assert stage_name("3") == "3"


def test_every_key_is_either_a_duty_or_a_window():
    assert DUTY_KEYS | WINDOW_KEYS == DEADLINE_KEYS
    assert not DUTY_KEYS & WINDOW_KEYS
    assert {"clarification", "no_contact_closure", "escalation_window", "closure_followup"} == WINDOW_KEYS
    assert is_duty("stage1_response") and is_duty(DeadlineKey.PANEL_HEARING)
    assert not is_duty("escalation_window") and not is_duty("not_a_key")
    # The closing letter is issued when its follow-up time elapses: that timer firing is no missed duty.
    assert not is_duty(DeadlineKey.CLOSURE_FOLLOWUP)


def test_keys_equal_the_strings_diagrams_and_the_database_hold():
    assert DeadlineKey.STAGE1_ACKNOWLEDGE == "stage1_acknowledge"
    assert DeadlineKey("stage2_response") is DeadlineKey.STAGE2_RESPONSE
    assert f"{DeadlineKey.UPDATE_INTERVAL}" == "update_interval"
    assert json.dumps({DeadlineKey.CLARIFICATION: DeadlineKey.CLARIFICATION}) == '{"clarification": "clarification"}'
    assert {"stage1_response": 1}[DeadlineKey.STAGE1_RESPONSE] == 1


def test_the_codes_two_duties_at_each_stage():
    assert ACKNOWLEDGE_KEYS == {"1": "stage1_acknowledge", "2": "stage2_acknowledge"}
    assert RESPONSE_KEYS == {"1": "stage1_response", "2": "stage2_response"}
    assert STAGE2_KEYS == ("stage2_acknowledge", "stage2_response")
    assert set(ACKNOWLEDGE_KEYS.values()) | set(RESPONSE_KEYS.values()) <= DUTY_KEYS


def test_a_stage_works_towards_its_own_duties_only():
    assert set(STAGE_DUTIES) == set(STAGES)
    for stage, keys in STAGE_DUTIES.items():
        assert set(keys) <= DUTY_KEYS, stage
    assert STAGE_DUTIES["pre"] == (ACKNOWLEDGE_KEYS["1"],)
    assert RESPONSE_KEYS["1"] in STAGE_DUTIES["1"] and RESPONSE_KEYS["2"] in STAGE_DUTIES["2"]
    assert STAGE_DUTIES["post"] == ()


def test_recurring_keys_are_duties():
    assert RECURRING_KEYS <= DUTY_KEYS
    assert is_recurring("update_interval") and not is_recurring("stage1_response")


def test_stages_in_order_with_names():
    assert [stage_order(s) for s in ("pre", "1", "2", "post")] == [0, 1, 2, 3]
    assert set(STAGE_NAMES) == set(STAGES) == {s.value for s in Stage}
    assert stage_name("2") == "Stage 2"

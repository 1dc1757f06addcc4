"""Camunda Forms: sample forms load, submissions are checked as form-js would, bad forms refused."""
from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import pytest

from workflow_app.diagrams.forms import (
    FORM_ERRORS_KEY,
    MAX_LIST_LENGTH,
    MAX_TEXT_LENGTH,
    FeelError,
    Form,
    FormDefinitionError,
    load_form,
    load_forms,
    parse_feel,
    validate_submission,
)

FORMS = Path(__file__).parent / "forms"
TODAY = date(2024, 6, 3)


@pytest.fixture(scope="module")
def forms() -> dict[str, Form]:
    return load_forms(FORMS)


@pytest.fixture(scope="module")
def response(forms) -> Form:
    return forms["stage1_response"]


@pytest.fixture(scope="module")
def ack(forms) -> Form:
    return forms["acknowledge_complaint"]


def good_response(**changes) -> dict:
    data = {
        "response_summary": "We have arranged a repair visit.",
        "upheld": "yes",
        "compensation": 50,
        "response_date": "2024-06-03",
        "letter_checked": True,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def check(form: Form, data: dict, context: dict | None = None):
    return validate_submission(form, data, context, today=TODAY)


def errors_of(form: Form, data: dict, context: dict | None = None) -> dict:
    cleaned, errors = check(form, data, context)
    assert errors, "expected the submission to be refused"
    assert cleaned == {}
    return errors


def base_form(*components: dict) -> dict:
    """A form as Camunda Modeler 5 saves it, with the given components."""
    return {
        "components": list(components),
        "type": "default",
        "id": "test_form",
        "executionPlatform": "Camunda Platform",
        "executionPlatformVersion": "7.21.0",
        "exporter": {"name": "Camunda Modeler", "version": "5.25.0"},
        "schemaVersion": 16,
    }


def textfield(key: str = "name", **extra) -> dict:
    return {"label": key.title(), "type": "textfield", "layout": {"row": "Row_1", "columns": None},
            "id": f"Field_{key}", "key": key, **extra}


# --------------------------------------------------------------------------- loading

def test_sample_forms_load_keyed_by_id(forms):
    assert set(forms) == {"stage1_response", "acknowledge_complaint"}
    response = forms["stage1_response"]
    # display components (text, spacer, separator) are not fields; the group is flattened
    assert response.keys == (
        "response_summary", "upheld", "compensation", "case_reference", "remedy",
        "apology_channels", "themes", "response_date", "callback_time", "inspection_at",
        "letter_checked", "contact_by_phone", "phone", "email", "landlord_ref",
        "escalation_note",
    )
    assert response.field("upheld").options == ("yes", "no", "partly")
    assert response.field("phone").hide  # inherited from its group
    assert response.source["exporter"]["name"] == "Camunda Modeler"


def test_load_form_accepts_mapping_text_and_path():
    path = FORMS / "acknowledge.json"
    from_path = load_form(path)
    assert load_form(path.read_text()) == from_path
    assert load_form(json.loads(path.read_text())) == from_path


def test_valid_submission_is_cleaned(response):
    cleaned, errors = check(response, good_response(
        case_reference="AB-123456", remedy="repair", apology_channels=["letter", "email"],
        themes=["repairs"], callback_time="14:30", inspection_at="2024-06-10T10:00+01:00",
        contact_by_phone=True, phone="+441632960123", email="tenant@example.org",
    ))
    assert errors == {}
    assert cleaned["compensation"] == 50
    assert cleaned["apology_channels"] == ["letter", "email"]
    assert cleaned["phone"] == "+441632960123"


# --------------------------------------------------------------------------- required

def test_missing_required_fields(response):
    errors = errors_of(response, {})
    for key in ("response_summary", "upheld", "compensation", "response_date", "letter_checked"):
        assert errors[key] == ["This field is required"], key
    assert "remedy" not in errors


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_empty_text_does_not_satisfy_required(response, empty):
    errors = errors_of(response, good_response(response_summary=empty))
    assert errors == {"response_summary": ["This field is required"]}


def test_unticked_required_checkbox_is_missing(response):
    errors = errors_of(response, good_response(letter_checked=False))
    assert errors == {"letter_checked": ["This field is required"]}


def test_empty_list_does_not_satisfy_required():
    form = load_form(base_form({"type": "checklist", "key": "ways", "id": "F1",
                                "values": [{"label": "A", "value": "a"}],
                                "validate": {"required": True}}))
    assert errors_of(form, {"ways": []}) == {"ways": ["This field is required"]}


def test_defaults_are_not_filled_in(response):
    cleaned, errors = check(response, good_response())
    assert errors == {}
    assert "contact_by_phone" not in cleaned  # defaultValue false is not applied


# --------------------------------------------------------------------------- types

@pytest.mark.parametrize("value", ["50", True, [50], {"amount": 50}, float("nan"), float("inf")])
def test_number_must_be_a_number(response, value):
    assert errors_of(response, good_response(compensation=value)) == {
        "compensation": ["Enter a number"]}


@pytest.mark.parametrize("value", [["a summary of at least ten"], 12345678901, True,
                                   {"text": "hello there"}])
def test_text_must_be_a_string(response, value):
    assert errors_of(response, good_response(response_summary=value)) == {
        "response_summary": ["Enter text"]}


@pytest.mark.parametrize("value", ["true", 1, 0, None])
def test_checkbox_must_be_a_boolean(response, value):
    errors = errors_of(response, good_response(letter_checked=value))
    expected = ["This field is required"] if value is None else ["Enter true or false"]
    assert errors == {"letter_checked": expected}


def test_huge_number_refused(response):
    assert errors_of(response, good_response(compensation=10**30)) == {
        "compensation": ["Enter a smaller number"]}


# --------------------------------------------------------------------------- options

@pytest.mark.parametrize("value", ["maybe", "Yes", ["yes"], 1, True])
def test_radio_value_must_be_one_of_the_options(response, value):
    assert errors_of(response, good_response(upheld=value)) == {
        "upheld": ["Choose one of: yes, no, partly"]}


def test_select_value_must_be_one_of_the_options(response):
    assert errors_of(response, good_response(remedy="cash")) == {
        "remedy": ["Choose one of: apology, repair, payment"]}


def test_checklist_items_must_be_options(response):
    assert errors_of(response, good_response(apology_channels=["letter", "fax"])) == {
        "apology_channels": ["Choose only from: letter, email, phone"]}
    assert errors_of(response, good_response(apology_channels="letter")) == {
        "apology_channels": ["Choose any of: letter, email, phone"]}
    assert errors_of(response, good_response(themes=["repairs", "repairs"])) == {
        "themes": ["Choose each option only once"]}


def test_option_values_keep_their_types():
    form = load_form(base_form({"type": "radio", "key": "rating", "id": "F1", "values": [
        {"label": "One", "value": 1}, {"label": "Two", "value": 2}]}))
    assert check(form, {"rating": 1}) == ({"rating": 1}, {})
    assert "rating" in errors_of(form, {"rating": "1"})
    assert "rating" in errors_of(form, {"rating": True})


def test_list_length_is_capped(response):
    errors = errors_of(response, good_response(themes=["repairs"] * (MAX_LIST_LENGTH + 1)))
    assert errors == {"themes": [f"Choose no more than {MAX_LIST_LENGTH} options"]}


# --------------------------------------------------------------------------- numbers

def test_min_and_max(response):
    assert errors_of(response, good_response(compensation=101)) == {
        "compensation": ["Enter a number no greater than 100"]}
    assert errors_of(response, good_response(compensation=-1)) == {
        "compensation": ["Enter a number no less than 0"]}
    for edge in (0, 100, 99.99):
        assert check(response, good_response(compensation=edge))[1] == {}


def test_decimal_digits(response, ack):
    assert errors_of(response, good_response(compensation=10.125)) == {
        "compensation": ["Enter a number with no more than 2 decimal places"]}
    assert errors_of(ack, {"resident_contacted": True, "households": 2.5}) == {
        "households": ["Enter a whole number", "Enter a multiple of 1"]}
    assert check(ack, {"resident_contacted": True, "households": 2.0})[1] == {}


def test_bound_from_an_expression(ack):
    data = {"resident_contacted": True, "households": 12}
    assert errors_of(ack, data, {"max_households": 10}) == {
        "households": ["Enter a number no greater than 10"]}
    assert check(ack, data, {"max_households": 20})[1] == {}
    assert check(ack, data)[1] == {}  # a bound that is not a number does not apply


def test_serialize_to_string_and_increment(ack):
    cleaned, errors = check(ack, {"resident_contacted": True, "exact_amount": "12.35"})
    assert errors == {} and cleaned["exact_amount"] == "12.35"
    cleaned, errors = check(ack, {"resident_contacted": True, "exact_amount": 0.1})
    assert errors == {} and cleaned["exact_amount"] == "0.1"
    assert errors_of(ack, {"resident_contacted": True, "exact_amount": "12.36"}) == {
        "exact_amount": ["Enter a multiple of 0.05"]}
    assert errors_of(ack, {"resident_contacted": True, "exact_amount": "12,35"}) == {
        "exact_amount": ["Enter a number"]}


# --------------------------------------------------------------------------- text

def test_lengths_count_trimmed_text(response):
    assert errors_of(response, good_response(response_summary="too short")) == {
        "response_summary": ["Enter at least 10 characters"]}
    assert errors_of(response, good_response(response_summary="  short    ")) == {
        "response_summary": ["Enter at least 10 characters"]}
    assert errors_of(response, good_response(response_summary="x" * 2001)) == {
        "response_summary": ["Enter no more than 2000 characters"]}


def test_huge_text_refused_even_without_max_length(response):
    too_long = [f"Enter no more than {MAX_TEXT_LENGTH:,} characters"]
    errors = errors_of(response, good_response(case_reference="a" * (MAX_TEXT_LENGTH + 1)))
    assert errors == {"case_reference": too_long}
    assert errors_of(response, good_response(contact_by_phone=True, phone="+441632960123",
                                             email="a" * 10_000_000)) == {"email": too_long}


def test_control_characters_and_line_breaks(response):
    assert errors_of(response, good_response(response_summary="Fine text\x00 here")) == {
        "response_summary": ["Remove the control characters from this text"]}
    assert check(response, good_response(response_summary="Line one\nLine two"))[1] == {}
    assert errors_of(response, good_response(case_reference="AB-123456\nAB-1")) == {
        "case_reference": ["Enter a single line of text"]}


def test_pattern(response):
    assert check(response, good_response(case_reference="AB-123456"))[1] == {}
    for bad in ("ab-123456", "AB-12345", "XAB-123456"):
        assert errors_of(response, good_response(case_reference=bad)) == {
            "case_reference": ["Enter a value in the expected format"]}, bad


def test_pattern_is_searched_like_form_js():
    form = load_form(base_form(textfield("code", validate={"pattern": "[0-9]{3}"})))
    assert check(form, {"code": "ref 123"})[1] == {}  # form-js: RegExp.test, unanchored
    assert "code" in errors_of(form, {"code": "ref 12"})


def test_email_and_phone(response):
    on = {"contact_by_phone": True, "phone": "+441632960123"}
    assert errors_of(response, good_response(**on, email="not an email")) == {
        "email": ["Enter an email address, like name@example.com"]}
    assert errors_of(response, good_response(contact_by_phone=True, phone="01632 960123")) == {
        "phone": ["Enter an international phone number with no spaces, like +441632960123"]}


# --------------------------------------------------------------------------- dates

def test_dates_and_times(response):
    assert errors_of(response, good_response(response_date="03/06/2024")) == {
        "response_date": ["Enter a date as YYYY-MM-DD, like 2024-05-31"]}
    assert errors_of(response, good_response(response_date="2024-02-30")) == {
        "response_date": ["2024-02-30 is not a real date"]}
    assert errors_of(response, good_response(callback_time="25:00")) == {
        "callback_time": ["Enter a time as HH:MM, like 14:30"]}
    assert errors_of(response, good_response(callback_time="14:30Z")) == {
        "callback_time": ["Enter a time as HH:MM, like 14:30"]}
    assert check(response, good_response(inspection_at="2024-06-03T09:15:00+01:00"))[1] == {}
    assert "inspection_at" in errors_of(response, good_response(inspection_at="2024-06-10T10:00"))


def test_passed_dates_refused_when_the_form_says_so(response):
    assert errors_of(response, good_response(inspection_at="2024-06-02T23:00+01:00")) == {
        "inspection_at": ["Enter a date that is today or later"]}


# --------------------------------------------------------------------------- conditions

def test_hidden_required_field_is_not_required_and_its_value_dropped(response):
    cleaned, errors = check(response, good_response(upheld="no", compensation=...))
    assert errors == {}
    assert "compensation" not in cleaned

    # a value for a hidden field is dropped without being checked, as form-js clears it
    cleaned, errors = check(response, good_response(upheld="no", compensation="lots"))
    assert errors == {}
    assert "compensation" not in cleaned


def test_group_condition_hides_its_fields(response):
    cleaned, errors = check(response, good_response(phone="not checked", email="x"))
    assert errors == {}
    assert "phone" not in cleaned and "email" not in cleaned
    assert errors_of(response, good_response(contact_by_phone=True)) == {
        "phone": ["This field is required"]}


def test_conditions_see_case_data_from_context(response):
    note = good_response(escalation_note="Resident asked to escalate")
    cleaned, _ = check(response, note, {"channel": "phone"})
    assert cleaned["escalation_note"] == "Resident asked to escalate"
    cleaned, _ = check(response, note, {"channel": "email", "landlord": {"escalation_notes": True}})
    assert "escalation_note" in cleaned
    cleaned, _ = check(response, note, {"channel": "email"})
    assert "escalation_note" not in cleaned


def test_submitted_values_override_context(response):
    # upheld comes from the submission, not from the case data
    cleaned, errors = check(response, good_response(upheld="yes"), {"upheld": "no"})
    assert errors == {} and cleaned["compensation"] == 50


def test_readonly_field_value_is_dropped(response):
    cleaned, errors = check(response, good_response(landlord_ref="changed"))
    assert errors == {}
    assert "landlord_ref" not in cleaned


def test_readonly_from_expression():
    form = load_form(base_form(textfield("note", readonly="=locked = true",
                                         validate={"required": True})))
    assert check(form, {"note": "x"}, {"locked": True}) == ({}, {})
    assert check(form, {"note": "x"}, {"locked": False}) == ({"note": "x"}, {})


# --------------------------------------------------------------------------- submissions

def test_unknown_fields_refused(response):
    errors = errors_of(response, good_response(is_admin=True, landlord="other"))
    assert errors == {"is_admin": ["unknown field"], "landlord": ["unknown field"]}


def test_many_unknown_fields_reported_briefly(response):
    errors = errors_of(response, good_response(**{f"x{i}": 1 for i in range(1000)}))
    assert len(errors) <= 22
    assert errors[FORM_ERRORS_KEY] == ["1000 fields are not on this form"]


def test_submission_must_be_an_object(response):
    assert errors_of(response, ["not", "a", "dict"]) == {
        FORM_ERRORS_KEY: ["Send the form's fields as a JSON object"]}


def test_all_errors_reported_together(response):
    errors = errors_of(response, good_response(compensation=1000, upheld="maybe",
                                               response_summary=...))
    assert set(errors) == {"compensation", "upheld", "response_summary"}


# --------------------------------------------------------------------------- refused forms

def refused(source) -> FormDefinitionError:
    with pytest.raises(FormDefinitionError) as caught:
        load_form(source)
    return caught.value


def test_unsupported_component_refused_naming_it():
    error = refused(FORMS / "refused" / "unsupported_component.json")
    assert error.form_id == "with_dynamic_list"
    assert error.field == "Field_1dl"
    assert "dynamiclist" in error.reason
    assert "unsupported_component.json" in str(error)


@pytest.mark.parametrize("ctype", ["filepicker", "expression", "table", "iframe", "button",
                                   "dynamiclist", "documentPreview", "mystery"])
def test_other_unsupported_components(ctype):
    error = refused(base_form(textfield(), {"type": ctype, "id": "Field_x", "key": "thing"}))
    assert error.field == "thing" and repr(ctype) in error.reason


def test_unsupported_component_inside_group():
    group = {"type": "group", "id": "Group_1", "components": [{"type": "filepicker", "id": "F9"}]}
    assert refused(base_form(group)).field == "F9"


def test_feel_outside_subset_refused_naming_the_field():
    error = refused(FORMS / "refused" / "feel_outside_subset.json")
    assert error.field == "reason"
    assert "conditional.hide" in error.reason and "count" in error.reason


@pytest.mark.parametrize("expression", [
    "=count(items) > 1",
    "=some x in items satisfies x > 1",
    "=for x in items return x",
    "=x between 1 and 5",
    "=a + b > 3",
    "=string length(name) > 3",
    "=is defined(x)",
    "=x instance of number",
    "={a: 1}.a = 1",
    "=x in [1..5]",
    "=x = 'single quotes'",
    "=",
    "no leading equals sign",
    "=(a = 1",
])
def test_expressions_outside_the_subset(expression):
    error = refused(base_form(textfield(conditional={"hide": expression})))
    assert error.field == "name"
    assert "conditional.hide" in error.reason


def test_invalid_regex_refused():
    error = refused(FORMS / "refused" / "invalid_regex.json")
    assert error.field == "postcode"
    assert "regular expression" in error.reason


def test_catastrophic_or_long_patterns_refused():
    assert "longer than 500" in refused(
        base_form(textfield(validate={"pattern": "a" * 501}))).reason
    assert "repeats" in refused(base_form(textfield(validate={"pattern": "^(a+)+$"}))).reason
    load_form(base_form(textfield(validate={"pattern": r"^[A-Z]{2}(\d{2}){3}$"})))


def test_dynamic_options_refused():
    error = refused(FORMS / "refused" / "dynamic_options.json")
    assert error.field == "officer" and "valuesKey" in error.reason
    expression = {"type": "radio", "key": "pick", "id": "F1", "valuesExpression": "=options"}
    assert refused(base_form(expression)).field == "pick"


@pytest.mark.parametrize("component, field, words", [
    (textfield("a.b"), "a.b", "nested keys"),
    ({"type": "textfield", "id": "Field_nokey"}, "Field_nokey", "needs a key"),
    (textfield(validate={"min": 3}), "name", "validate.min"),
    (textfield(validate={"maxLength": 50_000}), "name", "limit"),
    (textfield(validate={"validationType": "postcode"}), "name", "validationType"),
    (textfield(validate={"somethingNew": True}), "name", "somethingNew"),
    ({"type": "group", "id": "G1", "path": "contact", "components": []}, "G1", "path"),
    ({"type": "number", "key": "n", "id": "F1", "decimalDigits": -1}, "n", "decimalDigits"),
    ({"type": "select", "key": "s", "id": "F1"}, "s", "options"),
    ({"type": "datetime", "key": "d", "id": "F1", "subtype": "week"}, "d", "subtype"),
])
def test_other_unenforceable_settings_refused(component, field, words):
    error = refused(base_form(component))
    assert error.field == field and words in error.reason


def test_duplicate_keys_refused():
    assert refused(base_form(textfield("a"), textfield("a"))).field == "a"


def test_form_without_id_or_bad_json_refused():
    assert "no id" in refused({"components": []}).reason
    assert "not valid JSON" in refused("{not json").reason


def test_duplicate_form_ids_refused_naming_both_files():
    with pytest.raises(FormDefinitionError) as caught:
        load_forms(FORMS / "duplicates")
    assert caught.value.form_id == "shared_id"
    assert "first.json" in str(caught.value) and "second.json" in str(caught.value)


# --------------------------------------------------------------------------- FEEL subset

@pytest.mark.parametrize("expression, scope, expected", [
    ('=a = "x"', {"a": "x"}, True),
    ("=a != 1", {"a": 1}, False),
    ("=a < 3 and b >= 2", {"a": 1, "b": 2}, True),
    ("=a > 3 or b <= 2", {"a": 1, "b": 2}, True),
    ("=not(a)", {"a": False}, True),
    ("=not(a)", {}, None),
    ("=a.b.c = 3", {"a": {"b": {"c": 3}}}, True),
    ("=a.b.c = 3", {"a": "flat"}, False),
    ("=missing = null", {}, True),
    ("=missing > 3", {}, None),
    ('=a < "b"', {"a": 1}, None),
    ("=missing > 3 or true", {}, True),
    ("=missing > 3 and false", {}, False),
    ('=a in ["x", "y"]', {"a": "y"}, True),
    ("=a in b", {"a": 2, "b": [1, 2]}, True),
    ("=-a = -2.5", {"a": 2.5}, True),
    ("=if a then 1 else 2", {"a": True}, 1),
    ("=if a then 1 else 2", {}, 2),
    ("=(a = 1) = (b = 1)", {"a": 1, "b": 1}, True),
    ("=a = true", {"a": 1}, False),
    ('="tab\\there" = a', {"a": "tab\there"}, True),
])
def test_feel_subset_semantics(expression, scope, expected):
    assert parse_feel(expression).evaluate(scope) == expected


def test_feel_nesting_is_limited():
    with pytest.raises(FeelError):
        parse_feel("=" + "(" * 200 + "a" + ")" * 200)


def test_modeler_files_are_not_mutated(forms):
    before = copy.deepcopy(forms["stage1_response"].source)
    check(forms["stage1_response"], good_response())
    assert forms["stage1_response"].source == before

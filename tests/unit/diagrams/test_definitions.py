"""Reading diagrams: hostile XML, unsafe expressions, engine conventions, versions and the spec cache."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import FORMS, PROCESSES
from workflow_app.casework.deployments import deploy, read_forms
from workflow_app.casework.models import DefinitionVersion
from workflow_app.diagrams.definitions import (
    MAX_DIAGRAM_BYTES,
    DefinitionCache,
    DiagramError,
    check_diagram,
    compile_definition,
    read_xml,
)

DIAGRAM = (PROCESSES / "testshire" / "complaint.bpmn").read_text()
FORM_SET = read_forms(FORMS)
ESCAPE = "().__class__.__base__.__subclasses__()"


def problems(xml: str) -> list[tuple[str | None, str]]:
    return [(p.element_id, p.reason) for p in check_diagram(xml, FORM_SET)]


def test_the_fixture_diagram_compiles():
    definition = compile_definition(DIAGRAM, FORM_SET)
    assert definition.process_id == "testshire_complaint"
    assert definition.messages == {"escalation_requested", "customer_replied"}
    assert definition.element("respond2").separate_from == ("respond1",)
    assert definition.element("ack_due").deadline_key == "stage1_acknowledge"


@pytest.mark.parametrize("xml, phrase", [
    ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>', "DOCTYPE"),
    ('<?xml version="1.0"?><!DOCTYPE d SYSTEM "http://example.org/evil.dtd"><d/>', "DOCTYPE"),
    ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
     '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>', "DOCTYPE"),
    ("<a>" * 200 + "</a>" * 200, "nested"),
    ("<definitions><unclosed></definitions>", "well-formed"),
    ('<definitions xmlns="urn:not-bpmn"/>', "not a BPMN"),
])
def test_hostile_or_malformed_xml_is_refused(xml, phrase):
    with pytest.raises(DiagramError) as refused:
        read_xml(xml)
    assert phrase in str(refused.value)


def test_an_oversized_file_is_refused_before_parsing():
    with pytest.raises(DiagramError, match="larger than"):
        read_xml(b" " * (MAX_DIAGRAM_BYTES + 1))


@pytest.mark.parametrize("original, replacement, element_id", [
    ('decision == "extend"', f'decision == "extend" and {ESCAPE}', "f_extend"),
    ("working_days_after(received_at, 5)", f"working_days_after(received_at, len({ESCAPE}))", "ack_due"),
    ("stage1_extension_days = 0", f"stage1_extension_days = {ESCAPE}", "prepare"),
    ("stage1_extension_days = 0", "__import__('os').system('id')", "prepare"),
    ('decision == "extend"', "open('/etc/passwd').read() == ''", "f_extend"),
    ("working_days_after(received_at, 5)", "eval('1')", "ack_due"),
])
def test_expression_escapes_are_refused_naming_the_element(original, replacement, element_id):
    assert original in DIAGRAM
    found = problems(DIAGRAM.replace(original, replacement, 1))
    assert [e for e, _ in found] == [element_id]
    assert "refused" in found[0][1]


@pytest.mark.parametrize("original, replacement, element_id, phrase", [
    ('<camunda:property name="deadline_key" value="stage1_acknowledge" />', "", "ack_due", "deadline_key"),
    ('<camunda:property name="deadline_key" value="stage1_acknowledge" />',
     '<camunda:property name="deadline_key" value="tea_break" />', "ack_due", "vocabulary"),
    ("<bpmn:timeDate>working_days_after(received_at, 5)</bpmn:timeDate>",
     "<bpmn:timeDuration>P5D</bpmn:timeDuration>", "ack_due", "only Date timers"),
    ('camunda:formRef="respond"', 'camunda:formRef="nowhere"', "respond1", "not in forms/"),
    ('<camunda:property name="stage" value="2" />', '<camunda:property name="stage" value="3" />',
     "acknowledge2", "stage '3'"),
])
def test_engine_conventions_are_checked(original, replacement, element_id, phrase):
    found = problems(DIAGRAM.replace(original, replacement, 1))
    assert any(e == element_id and phrase in reason for e, reason in found), found


def test_deploying_stores_versions_and_skips_unchanged_content(runtime):
    with runtime.sessions.begin() as session:
        first = deploy(session, "testshire", DIAGRAM, FORM_SET, "ana", "first")
        same = deploy(session, "testshire", DIAGRAM, FORM_SET, "ana")
        changed = deploy(session, "testshire", DIAGRAM.replace("days_after(received_at, 60)",
                                                                "days_after(received_at, 90)"), FORM_SET, "ana")
    assert (first.created, same.created, changed.created) == (True, False, True)
    with runtime.sessions() as session:
        versions = session.scalars(select(DefinitionVersion).order_by(DefinitionVersion.version)).all()
    assert [(v.version, v.deployed_by) for v in versions] == [(1, "ana"), (2, "ana")]
    assert set(versions[0].forms) == {"acknowledge", "respond", "final_response"}
    assert versions[0].content_hash != versions[1].content_hash


def test_a_version_is_parsed_once_and_reused():
    cache, built = DefinitionCache(size=2), []

    def build():
        built.append(1)
        return compile_definition(DIAGRAM, FORM_SET)

    first = cache.get(7, build)
    assert cache.get(7, build) is first and len(built) == 1
    cache.get(8, build), cache.get(9, build)
    cache.get(7, build)
    assert len(built) == 4  # evicted past its size, then parsed again

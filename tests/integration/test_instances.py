"""A complaint's running process (`casework/instances.py`): what the engine does with a diagram's conventions
on the elements it runs itself."""
from __future__ import annotations

from datetime import UTC, datetime

from tests.conftest import FORMS, PROCESSES
from workflow_app.casework.deployments import read_forms
from workflow_app.casework.instances import Instance
from workflow_app.diagrams.definitions import compile_definition
from workflow_app.rules import clock

DIAGRAM = (PROCESSES / "testshire" / "complaint.bpmn").read_text()


def test_an_element_the_engine_runs_stamps_its_timestamp_with_the_runs_clock():
    """A script (or an event or gateway the engine runs) with the property `timestamp` sets that case field when
    it completes, as a person's task does: Harrogate's closing letter counts from such a stamp."""
    stamped = DIAGRAM.replace(
        '<bpmn:scriptTask id="prepare" name="Prepare case" scriptFormat="python">',
        '<bpmn:scriptTask id="prepare" name="Prepare case" scriptFormat="python"><bpmn:extensionElements>'
        '<camunda:properties><camunda:property name="timestamp" value="prepared_at" /></camunda:properties>'
        '</bpmn:extensionElements>', 1)
    assert stamped != DIAGRAM
    at = datetime(2027, 5, 13, 23, 0, tzinfo=UTC)
    token = clock.enter(clock.VirtualClock(at))
    try:
        instance = Instance.start(compile_definition(stamped, read_forms(FORMS)), "ENG",
                                  {"received_at": datetime(2027, 5, 13, 9, 0, tzinfo=UTC)})
        instance.advance()
    finally:
        clock.leave(token)
    assert instance.data()["prepared_at"] == at
    # without the property nothing is stamped
    plain = Instance.start(compile_definition(DIAGRAM, read_forms(FORMS)), "ENG",
                           {"received_at": datetime(2027, 5, 13, 9, 0, tzinfo=UTC)})
    plain.advance()
    assert "prepared_at" not in plain.data()

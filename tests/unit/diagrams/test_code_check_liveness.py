"""The walk keeps apart only paths whose case data can still be read: told apart by the form choices made.

A value a form sets only with one choice, and read only after that choice, is set aside on the other
choices (the walk stays fast); a value read whatever the choice is kept (the check stays sound)."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from workflow_app.casework.deployments import read_forms
from workflow_app.diagrams.code_check import check_file
from workflow_app.diagrams.code_check.forms import Answers
from workflow_app.diagrams.code_check.liveness import DataLiveness
from workflow_app.diagrams.code_check.process_graph import ProcessGraph
from workflow_app.diagrams.definitions import read_elements
from workflow_app.diagrams.expressions import RestrictedEnvironment
from workflow_app.diagrams.graph import read_graph, read_xml
from workflow_app.rules.calendar import calendar_for
from workflow_app.rules.regime import HOUSING_OMBUDSMAN

ROOT = Path(__file__).parents[3]
DIAGRAM = ROOT / "processes" / "brighter_places" / "complaint.bpmn"
STAGE2_FORM = "stage2_response_brighter_places.json"
ASKED_ON_EXTEND = '"hide": "=stage2_decision != \\"extend\\""'
ASKED_ON_RESPOND = '"hide": "=stage2_decision != \\"respond\\""'
# In stage 2, after a response with no extension: the days extended at stage 1 are still in the case data.
AFTER_RESPONSE = {"stage1_decision": "respond", "stage2_decision": "respond", "works_outstanding": False,
                  "extension_days": 10, "update_interval_days": 20}


def forms_asking_extension_days_on_respond(tmp_path: Path) -> Path:
    """Brighter Places' forms, with the stage 2 extension's days asked for on "respond" instead: then the
    "extend" script reads the days kept from an earlier answer."""
    folder = tmp_path / "forms"
    shutil.copytree(ROOT / "forms", folder)
    text = (folder / STAGE2_FORM).read_text()
    assert text.count(ASKED_ON_EXTEND) == 1
    (folder / STAGE2_FORM).write_text(text.replace(ASKED_ON_EXTEND, ASKED_ON_RESPOND))
    return folder


def liveness(forms_dir: Path) -> DataLiveness:
    forms = read_forms(forms_dir)
    diagram = read_graph(read_xml(DIAGRAM.read_bytes()))
    graph = ProcessGraph(diagram, read_elements(diagram), forms, HOUSING_OMBUDSMAN.limits)
    return DataLiveness(graph, RestrictedEnvironment(calendar_for("ENG").expression_functions()),
                        Answers(graph).read)


def test_data_set_only_with_the_choice_that_reads_it_is_set_aside_on_other_choices():
    live = liveness(ROOT / "forms")
    assert "extension_days" in live.graph.live["stage2_response_join"]       # some path may read it...
    names = live.names("stage2_response_join", AFTER_RESPONSE)
    assert "extension_days" not in names       # ...but each pass asks for it again before "extend" reads it
    assert "update_interval_days" not in names   # asked for again whenever works are outstanding
    assert "works_outstanding" in names and "stage2_extension_days" in names
    after_response = {**AFTER_RESPONSE, "works_outstanding": True}
    assert "update_interval_days" in live.names("director_oversight", after_response)   # read when works are
    assert "update_interval_days" not in live.names("director_oversight", AFTER_RESPONSE)   # outstanding only


def test_data_a_later_choice_reads_without_setting_it_again_is_kept(tmp_path):
    live = liveness(forms_asking_extension_days_on_respond(tmp_path))
    assert "extension_days" in live.names("stage2_response_join", AFTER_RESPONSE)
    assert "extension_days" in live.names("stage2_decision_gw", {**AFTER_RESPONSE, "stage2_decision": "extend"})


@pytest.mark.parametrize("asked_on", ["extend", "respond"])
def test_the_findings_are_those_of_the_walk_that_keeps_every_value_any_path_reads(tmp_path, monkeypatch, asked_on):
    forms_dir = ROOT / "forms" if asked_on == "extend" else forms_asking_extension_days_on_respond(tmp_path)
    forms = read_forms(forms_dir)
    found = check_file(DIAGRAM, forms, sweep_start=date(2026, 1, 1), sweep_days=60)
    monkeypatch.setattr(DataLiveness, "names",
                        lambda self, node_id, ctx: tuple(sorted(self.graph.live.get(node_id, frozenset()))))
    monkeypatch.setattr("workflow_app.diagrams.code_check.check.cache.get", lambda key, work: work())
    assert check_file(DIAGRAM, forms, sweep_start=date(2026, 1, 1), sweep_days=60) == found

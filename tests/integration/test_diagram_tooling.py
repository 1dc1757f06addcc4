"""The landlords' diagrams through real BPMN tooling, the libraries a modeller uses.

`tools/check_diagrams.mjs` (`npm run check:diagrams`) imports every processes/*/*.bpmn with
bpmn-moddle and the Camunda extension (no import warning), checks that every element a
modeller draws has a shape or an edge, lints it with bpmnlint's recommended rules
(`.bpmnlintrc`: no error, no warning) and exports it again with bpmn-moddle's toXML. The
exported diagrams are then deployed here in throwaway runtimes: every scenario in
tests/scenarios must give exactly the timeline the original diagram gives.

Without node or node_modules (`npm ci`) these tests skip with a message; in CI (`CI=true`)
they fail instead, so the modeller checks always run there.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from workflow_app.diagrams.definitions import cache as definition_cache
from workflow_app.tools.simulator import simulate

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"
FORMS = ROOT / "forms"
SCENARIOS = Path(__file__).parents[1] / "scenarios"
SCRIPT = ROOT / "tools" / "check_diagrams.mjs"
IN_CI = os.environ.get("CI", "").lower() == "true"
NEEDED_PACKAGES = ("bpmn-moddle", "camunda-bpmn-moddle", "bpmnlint")
DIAGRAMS = sorted(str(p.relative_to(ROOT)) for p in PROCESSES.glob("*/*.bpmn"))


def node_or_skip() -> str:
    node = shutil.which("node")
    missing = [name for name in NEEDED_PACKAGES if not (ROOT / "node_modules" / name / "package.json").is_file()]
    if node and not missing:
        return node
    reason = ("node is not on PATH" if not node else
              f"node_modules lacks {', '.join(missing)} (run `npm ci`)")
    if IN_CI:
        pytest.fail(f"CI must run the BPMN modeller checks, but {reason}")
    pytest.skip(f"BPMN modeller checks need node and the npm packages: {reason}")


def run_checker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([node_or_skip(), str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, check=False,
                          timeout=300)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("round-trip")
    done = run_checker("--json", "--out", str(out))
    assert done.stdout, done.stderr
    result = json.loads(done.stdout)
    result["returncode"] = done.returncode
    return result


def entry(report: dict, diagram: str) -> dict:
    [found] = [d for d in report["diagrams"] if d["file"] == diagram]
    return found


def test_package_json_runs_the_checks():
    scripts = json.loads((ROOT / "package.json").read_text())["scripts"]
    assert scripts["check:diagrams"] == "node tools/check_diagrams.mjs"
    config = json.loads((ROOT / ".bpmnlintrc").read_text())
    assert config["extends"] == "bpmnlint:recommended"
    for rule, setting in config.get("rules", {}).items():
        if setting == "off" or setting == 0:
            assert config.get(f"// {rule}"), f"rule {rule} is switched off without a reason beside it"


def test_every_diagram_is_checked(report):
    assert sorted(d["file"] for d in report["diagrams"]) == DIAGRAMS and len(DIAGRAMS) == 6   # complaint, hazard
    assert report["ok"] and report["returncode"] == 0, json.dumps(report, indent=2)


@pytest.mark.parametrize("diagram", DIAGRAMS)
def test_the_diagram_imports_without_warnings(report, diagram):
    assert entry(report, diagram)["importWarnings"] == []


@pytest.mark.parametrize("diagram", DIAGRAMS)
def test_every_element_has_a_shape_or_an_edge(report, diagram):
    found = entry(report, diagram)
    assert found["interchange"] == [] and found["drawnElements"] > (70 if diagram.endswith("hazard.bpmn") else 100)


@pytest.mark.parametrize("diagram", DIAGRAMS)
def test_bpmnlint_recommended_finds_nothing(report, diagram):
    assert entry(report, diagram)["lint"] == []


@pytest.mark.parametrize("diagram", DIAGRAMS)
def test_the_export_imports_again_unchanged(report, diagram):
    found = entry(report, diagram)
    assert found["roundTrip"] == []
    assert Path(found["exported"]).is_file()


# --- the checker is not vacuous: it fails on each kind of fault ------------------------------

def broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    source = (PROCESSES / "great_places" / "complaint.bpmn").read_text()
    assert old in source
    target = tmp_path / "great_places" / "complaint.bpmn"
    target.parent.mkdir(parents=True)
    target.write_text(source.replace(old, new, 1))
    return target


@pytest.mark.parametrize("old, new, expected", [
    ('<bpmndi:BPMNShape id="stage1_response_di" bpmnElement="stage1_response">',
     '<bpmndi:BPMNShape id="stage1_response_di" bpmnElement="stage1_responsx">',
     "stage1_response: bpmn:UserTask has no BPMNShape"),
    ('<bpmn:outgoing>Flow_decided</bpmn:outgoing>', '<bpmn:outgoing>Flow_nowhere</bpmn:outgoing>',
     "import warning: decide_acceptance: unresolved reference <Flow_nowhere>"),
    ('<bpmn:exclusiveGateway id="accept_gw" name="Accept?"', '<bpmn:exclusiveGateway id="accept_gw"',
     "bpmnlint error: accept_gw Element is missing label/name (label-required)"),
    ('<di:waypoint x="720" y="255" />\n        <di:waypoint x="795" y="255" />', '<di:waypoint x="720" y="255" />',
     "interchange: Flow_decided: its BPMNEdge has fewer than two waypoints"),
])
def test_the_checker_fails_on_a_fault(tmp_path, old, new, expected):
    diagram = broken_copy(tmp_path, old, new)
    done = run_checker("--out", str(tmp_path / "out"), str(diagram))
    assert done.returncode == 1, done.stdout + done.stderr
    assert expected in done.stdout, done.stdout


# --- the round trip leaves every scenario's timeline unchanged --------------------------------

def without_ids(result: dict) -> dict:
    """A run's timeline and final state without the task ids, which are new uuids every run."""
    timeline = [{k: v for k, v in event.items() if k != "task_id"} for event in result["timeline"]]
    final = dict(result["final"])
    final["open_tasks"] = [{k: v for k, v in task.items() if k != "id"} for task in final["open_tasks"]]
    return {"timeline": timeline, "final": final}


def simulated(spec: dict, processes: Path) -> dict:
    definition_cache.clear()
    try:
        return without_ids(simulate(spec, processes, FORMS))
    finally:
        definition_cache.clear()


@pytest.fixture(scope="module")
def exported_processes(report, tmp_path_factory) -> Path:
    """processes/ with every landlord's settings and letters, but the exported diagrams."""
    folder = tmp_path_factory.mktemp("exported-processes")
    for diagram in report["diagrams"]:
        original = ROOT / diagram["file"]
        landlord = original.parent.name
        if not (folder / landlord).exists():
            shutil.copytree(original.parent, folder / landlord, ignore=shutil.ignore_patterns("*.bpmn"))
        shutil.copyfile(diagram["exported"], folder / landlord / original.name)
    return folder


@pytest.mark.parametrize("name", sorted(p.stem for p in SCENARIOS.glob("*.json")))
def test_the_round_trip_leaves_the_scenario_unchanged(exported_processes, name):
    spec = json.loads((SCENARIOS / f"{name}.json").read_text())
    before = simulated(spec, PROCESSES)
    after = simulated(spec, exported_processes)
    assert [(e["type"], e.get("key"), e.get("due_at")) for e in after["timeline"]] == \
           [(e["type"], e.get("key"), e.get("due_at")) for e in before["timeline"]]
    assert after == before
    assert any(e["type"] == "deadline_set" for e in before["timeline"]) or before["final"]["status"] == "closed"

"""The workflow-app command: each subcommand on a throwaway database."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from workflow_app.cli import main

from .conftest import FORMS, PROCESSES
from .test_simulator import SCENARIO


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKFLOW_APP_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("WORKFLOW_APP_PROCESSES", str(PROCESSES))
    monkeypatch.setenv("WORKFLOW_APP_FORMS", str(FORMS))
    monkeypatch.delenv("WORKFLOW_APP_DATABASE_URL", raising=False)
    runner = CliRunner()
    return lambda *args, **kw: runner.invoke(main, list(args), catch_exceptions=False, **kw)


def test_init_deploy_users_and_tokens(cli):
    assert cli("init-db").exit_code == 0
    deployed = cli("deploy", "--by", "ana")
    assert deployed.exit_code == 0, deployed.output
    assert "testshire: testshire_complaint version 1 deployed" in deployed.output
    assert "version 1 unchanged" in cli("deploy").output
    created = cli("users", "create", "sam", "--role", "caseworker", "--landlord", "testshire", "--no-password")
    assert created.exit_code == 0
    token = cli("tokens", "create", "sam")
    assert token.exit_code == 0 and len(token.output.strip()) > 30
    unknown = cli("users", "create", "zed", "--role", "caseworker", "--landlord", "atlantis", "--no-password")
    assert unknown.exit_code != 0 and "unknown landlord" in unknown.output


def test_check_passes_a_good_diagram_and_fails_a_bad_one(cli, tmp_path):
    good = cli("check", str(PROCESSES / "testshire" / "complaint.bpmn"))
    assert good.exit_code == 0 and "0 error(s)" in good.output
    bad = tmp_path / "bad.bpmn"
    bad.write_text((PROCESSES / "testshire" / "complaint.bpmn").read_text()
                   .replace('decision == "extend"', "__import__('os').system('id')"))
    result = cli("check", str(bad), "--json")
    assert result.exit_code == 1
    [finding] = json.loads(result.output)
    assert finding["element_id"] == "f_extend" and finding["severity"] == "error"


def test_deploy_refuses_a_bad_diagram_and_deploys_nothing(cli, tmp_path):
    folder = tmp_path / "testshire"
    folder.mkdir()
    (folder / "complaint.bpmn").write_text("<definitions>")
    result = cli("deploy", str(folder / "complaint.bpmn"))
    assert result.exit_code != 0 and "nothing was deployed" in result.output


def test_simulate_prints_json_and_names_a_bad_step(cli, tmp_path):
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    result = cli("simulate", str(scenario))
    assert result.exit_code == 0
    assert json.loads(result.output)["final"]["status"] == "closed"
    SCENARIO_BAD = {**SCENARIO, "steps": [{"at": "2026-12-24T10:00:00+00:00", "complete": "nothing"}]}
    scenario.write_text(json.dumps(SCENARIO_BAD))
    failed = cli("simulate", str(scenario))
    assert failed.exit_code != 0 and "step 1" in failed.output

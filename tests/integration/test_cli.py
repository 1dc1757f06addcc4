"""The workflow-app command: each subcommand on a throwaway database."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.conftest import FORMS, PROCESSES
from tests.integration.test_simulator import SCENARIO
from workflow_app.tools.cli import main


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
    refused = cli("deploy", "--by", "ana")  # the engine's test diagram falls short of the Code
    assert refused.exit_code != 0 and "code error 6.9" in refused.output
    assert "--acknowledge-code-errors" in refused.output
    deployed = cli("deploy", "--by", "ana", "--acknowledge-code-errors", "engine test fixture")
    assert deployed.exit_code == 0, deployed.output
    assert "testshire: testshire_complaint version 1 deployed" in deployed.output
    assert "version 1 unchanged" in cli("deploy", "--acknowledge-code-errors", "again").output
    created = cli("users", "create", "sam", "--role", "caseworker", "--landlord", "testshire", "--no-password")
    assert created.exit_code == 0
    token = cli("tokens", "create", "sam")
    assert token.exit_code == 0 and len(token.output.strip()) > 30
    unknown = cli("users", "create", "zed", "--role", "caseworker", "--landlord", "atlantis", "--no-password")
    assert unknown.exit_code != 0 and "unknown landlord" in unknown.output


def test_check_passes_a_good_diagram_and_fails_a_bad_one(cli, tmp_path):
    from tests.unit.diagrams.test_code_check import CODESHIRE
    from tests.unit.diagrams.test_code_check import FORMS_DIR as CODE_CHECK_FORMS
    good = cli("check", str(CODESHIRE / "complaint.bpmn"), "--forms", str(CODE_CHECK_FORMS))
    assert good.exit_code == 0 and "0 error(s)" in good.output
    bad = tmp_path / "bad.bpmn"
    bad.write_text((PROCESSES / "testshire" / "complaint.bpmn").read_text()
                   .replace('decision == "extend"', "__import__('os').system('id')"))
    result = cli("check", str(bad), "--json")
    assert result.exit_code == 1
    [finding] = [f for f in json.loads(result.output) if f["provision"] == "engine"]
    assert finding["element_id"] == "f_extend" and finding["severity"] == "error"



def test_check_cites_each_finding_by_its_landlords_regime(cli, tmp_path):
    """Harrogate's informal stage is Code 5.2 under the Housing Ombudsman; moved to the SPSO's procedure the
    same diagram is judged and cited by that procedure's own provision."""
    import shutil
    root = PROCESSES.parents[2]
    real, forms = root / "processes" / "harrogate", str(root / "forms")
    under_code = cli("check", str(real / "complaint.bpmn"), "--forms", forms)
    assert "error: Code 5.2: first_contact:" in under_code.output
    folder = tmp_path / "harrogate"
    shutil.copytree(real, folder)
    settings = folder / "landlord.toml"
    settings.write_text(settings.read_text().replace('regime = "housing_ombudsman_2024"', 'regime = "spso_model_chp"'))
    under_spso = cli("check", str(folder / "complaint.bpmn"), "--forms", forms)
    extra_stage = [line for line in under_spso.output.splitlines() if "names an extra complaint stage" in line]
    assert extra_stage and all(": SPSO model procedure Part 1, Two stages: " in line for line in extra_stage), \
        under_spso.output
    assert "Code 5.2" not in under_spso.output and "the model procedure allows no" in under_spso.output

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


def test_a_fresh_scheduler_process_fires_what_fell_due_while_nothing_ran(cli, tmp_path, virtual_clock):
    """Log a complaint, stop, and let a new OS process pick up the timer that fell due meanwhile."""
    import os
    import subprocess
    import sys
    from datetime import timedelta

    from workflow_app.casework.accounts import create_user
    from workflow_app.casework.deployments import deploy, diagram_files, read_forms
    from workflow_app.casework.runtime import build_runtime
    from workflow_app.rules import clock

    url = f"sqlite:///{tmp_path / 'instance' / 'workflow_app.sqlite3'}"
    (tmp_path / "instance").mkdir()
    runtime = build_runtime(url, PROCESSES, FORMS)
    with runtime.sessions.begin() as session:
        for landlord, path in diagram_files(PROCESSES):
            deploy(session, landlord, path.read_bytes(), read_forms(FORMS), "tester")
        user = create_user(session, "olive", "Olive", ["complaints_officer"], ["testshire"])
        session.expunge(user)
    received = clock.now() - timedelta(hours=1)
    reference = runtime.complaints.log_complaint({
        "landlord": "testshire", "received_at": received.isoformat(), "channel": "email", "category": "other",
        "summary": "Old complaint", "resident": {"name": "A Resident"}}, user)
    runtime.close()

    script = "from workflow_app.tools.cli import main; main()"
    later = {**os.environ, "WORKFLOW_APP_NOW": "2027-01-05T00:00:00+00:00"}
    run = subprocess.run([sys.executable, "-c", script, "scheduler", "--once"], capture_output=True, text=True,
                         env=later, check=True)
    assert run.stdout.strip() == "1 complaint(s) moved", run.stderr
    again = subprocess.run([sys.executable, "-c", script, "scheduler", "--once"], capture_output=True, text=True,
                           env=later, check=True)
    assert again.stdout.strip() == "0 complaint(s) moved"

    runtime = build_runtime(url, PROCESSES, FORMS)
    body = runtime.complaints.describe(reference, user)
    runtime.close()
    assert [d["missed"] for d in body["deadlines"] if d["key"] == "stage1_acknowledge"] == [True]


def test_backup_and_restore_bring_back_every_complaint(cli, tmp_path):
    assert cli("demo").exit_code == 0
    backup_file = tmp_path / "backups" / "monday.sqlite3"
    taken = cli("backup", str(backup_file))
    assert taken.exit_code == 0 and "backed up 3 complaint(s)" in taken.output
    assert cli("backup", str(backup_file)).exit_code != 0  # never overwrites

    from workflow_app.casework.db import database_url
    from workflow_app.casework.db import default_instance_dir as instance_dir
    from workflow_app.casework.runtime import build_runtime
    runtime = build_runtime(database_url(instance_dir()), PROCESSES, FORMS)
    with runtime.sessions() as session:
        from sqlalchemy import select

        from workflow_app.casework.models import Complaint
        before = sorted(session.scalars(select(Complaint.reference)))
    runtime.close()
    (instance_dir() / "workflow_app.sqlite3").unlink()  # the database is lost

    restored = cli("restore", str(backup_file), "--yes")
    assert restored.exit_code == 0 and "restored 3 complaint(s)" in restored.output
    runtime = build_runtime(database_url(instance_dir()), PROCESSES, FORMS)
    with runtime.sessions() as session:
        assert sorted(session.scalars(select(Complaint.reference))) == before
    runtime.close()
    assert cli("verify").exit_code == 0
    assert "not a workflow-app database" in cli("restore", str(PROCESSES / "testshire" / "landlord.toml"),
                                                 "--yes").output


def test_tokens_can_be_listed_and_revoked(cli):
    cli("users", "create", "sam", "--role", "caseworker", "--landlord", "testshire", "--no-password")
    cli("tokens", "create", "sam", "--name", "laptop")
    listed = cli("tokens", "list").output
    assert "sam\tlaptop" in listed and "active" in listed
    assert cli("tokens", "revoke", "1").exit_code == 0
    assert "active" not in cli("tokens", "list").output
    assert cli("tokens", "revoke", "1").exit_code != 0


def test_a_form_the_server_cannot_validate_stops_the_deploy_naming_the_field(cli, tmp_path, monkeypatch):
    import shutil
    forms = tmp_path / "forms"
    shutil.copytree(FORMS, forms)
    (forms / "upload.json").write_text(json.dumps({
        "type": "default", "id": "upload", "schemaVersion": 16,
        "components": [{"type": "filepicker", "key": "evidence", "label": "Evidence"}]}))
    monkeypatch.setenv("WORKFLOW_APP_FORMS", str(forms))
    result = cli("deploy")
    assert result.exit_code != 0
    assert "evidence" in result.output and "nothing was deployed" in result.output


def test_the_app_serves_the_database_the_cli_filled(cli):
    """`make run` loads the demo with the CLI, then serves it: both must use one database."""
    from sqlalchemy import func, select

    from workflow_app.casework.models import Complaint
    from workflow_app.web import create_app
    assert cli("demo").exit_code == 0
    app = create_app({"TESTING": True})
    runtime = app.extensions["workflow_app"]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(Complaint.id))) == 3
    runtime.close()


def test_versions_are_listed_and_downloadable(cli):
    cli("deploy", "--note", "first go", "--acknowledge-code-errors", "engine test fixture")
    listed = cli("versions", "testshire")
    assert listed.exit_code == 0
    assert "testshire_complaint v1" in listed.output and "first go" in listed.output
    assert "acknowledged: engine test fixture" in listed.output
    downloaded = cli("versions", "testshire", "--download", "1")
    assert downloaded.output == (PROCESSES / "testshire" / "complaint.bpmn").read_text()
    assert cli("versions", "testshire", "--download", "9").exit_code != 0


def test_retention_and_the_scheduler_forget_sign_in_attempts_older_than_30_days(cli, monkeypatch):
    from datetime import datetime, timedelta

    from sqlalchemy import select

    from workflow_app.casework.db import database_url
    from workflow_app.casework.db import default_instance_dir as instance_dir
    from workflow_app.casework.models import SignInAttempt
    from workflow_app.casework.runtime import build_runtime

    now = datetime.fromisoformat("2027-01-05T12:00:00+00:00")
    monkeypatch.setenv("WORKFLOW_APP_NOW", now.isoformat())
    runtime = build_runtime(database_url(instance_dir()), PROCESSES, FORMS)

    def add(*days_ago: int) -> None:
        with runtime.sessions.begin() as session:
            session.add_all(SignInAttempt(username="sam", address="198.51.100.4", at=now - timedelta(days=days),
                                          succeeded=True) for days in days_ago)

    def ages() -> list[int]:
        with runtime.sessions() as session:
            return sorted((now - at).days for at in session.scalars(select(SignInAttempt.at)))

    try:
        add(1, 29, 31, 90)
        dry = cli("retention", "--dry-run")
        assert dry.exit_code == 0 and "2 sign-in attempt(s) older than 30 days would be forgotten" in dry.output
        assert "testshire: 6 years after closing (set in landlord.toml), awaiting the landlord's confirmation" \
            in dry.output
        assert ages() == [1, 29, 31, 90]
        done = cli("retention")
        assert done.exit_code == 0 and "2 sign-in attempt(s) older than 30 days forgotten" in done.output
        assert ages() == [1, 29]

        add(45)
        assert cli("scheduler", "--once").exit_code == 0
        assert ages() == [1, 29]
    finally:
        runtime.close()

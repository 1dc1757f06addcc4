"""Moving running complaints to a new version: previews of changed deadlines, refusals when
unsafe, one audit event each, progress for many, and the engine carrying on afterwards."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import FORMS, PROCESSES
from workflow_app.casework.deployments import deploy, read_forms
from workflow_app.casework.models import AuditEvent, Complaint, Task
from workflow_app.casework.version_moves import VersionMoves
from workflow_app.rules import clock
from workflow_app.rules.errors import Conflict

DIAGRAM = (PROCESSES / "testshire" / "complaint.bpmn").read_text()
FORM_SET = read_forms(FORMS)
# Version 2: acknowledge within 3 working days, and the task renamed.
VERSION_2 = DIAGRAM.replace("working_days_after(received_at, 5)", "working_days_after(received_at, 3)") \
    .replace('name="Acknowledge and define the complaint"', 'name="Acknowledge, define and log the complaint"')
# Version 3: the acknowledgement task is replaced by one with another id.
VERSION_3 = DIAGRAM.replace('id="acknowledge"', 'id="acknowledge_new"') \
    .replace('attachedToRef="acknowledge"', 'attachedToRef="acknowledge_new"') \
    .replace('sourceRef="acknowledge"', 'sourceRef="acknowledge_new"').replace('targetRef="acknowledge"',
                                                                               'targetRef="acknowledge_new"')


def log(runtime, user, received="2026-12-23T10:00:00+00:00") -> str:
    return runtime.complaints.log_complaint({
        "landlord": "testshire", "received_at": received, "channel": "email", "category": "other",
        "summary": "Boiler broken", "resident": {"name": "A Resident"}}, user)


def open_task(runtime, reference: str) -> Task:
    with runtime.sessions() as session:
        return session.scalars(select(Task).join(Complaint, Complaint.id == Task.complaint_id)
                               .where(Complaint.reference == reference, Task.status == "open")).one()


def deploy_version(runtime, xml: str) -> int:
    with runtime.sessions.begin() as session:
        return deploy(session, "testshire", xml, FORM_SET, "ana", "a new version").version.id


@pytest.fixture
def moves(deployed):
    return VersionMoves(deployed)


def test_a_complaint_logged_after_a_deploy_starts_on_the_new_version_first_of_its_year_or_not(deployed, officer,
                                                                                                virtual_clock):
    first = log(deployed, officer)
    v2 = deploy_version(deployed, VERSION_2)
    second = log(deployed, officer)          # its number drawn with the newest version, in one statement
    virtual_clock.set(virtual_clock.now() + timedelta(days=30))
    next_year = log(deployed, officer, received="2027-01-20T10:00:00+00:00")     # the year's counter started
    assert (first, second, next_year) == ("TH-2026-000001", "TH-2026-000002", "TH-2027-000001")
    with deployed.sessions() as session:
        for reference, version in ((first, 1), (second, 2), (next_year, 2)):
            complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
            assert (complaint.instance.definition_version_id == v2) == (version == 2)
            logged = session.scalars(select(AuditEvent).where(AuditEvent.complaint_id == complaint.id,
                                                              AuditEvent.type == "complaint_logged")).one()
            assert logged.details["definition_version"] == version
    assert open_task(deployed, second).name == "Acknowledge, define and log the complaint"


def test_a_preview_shows_the_deadlines_that_would_change_and_changes_nothing(deployed, officer, moves):
    reference = log(deployed, officer)
    v2 = deploy_version(deployed, VERSION_2)
    [plan] = moves.preview("testshire", [reference], v2)
    assert plan.safe and (plan.from_version, plan.to_version) == (1, 2)
    assert plan.waiting_at == ["ack_due", "acknowledge"]
    [change] = plan.deadlines
    assert change.key == "stage1_acknowledge"
    assert (change.before.isoformat(), change.after.isoformat()) == (
        "2027-01-04T23:59:59+00:00", "2026-12-30T23:59:59+00:00")
    assert deployed.complaints.describe(reference, officer)["deadlines"][0]["due_at"] == "2027-01-04T23:59:59+00:00"


def test_moving_a_complaint_keeps_its_task_moves_its_deadline_and_is_audited(deployed, officer, moves):
    reference = log(deployed, officer)
    before = open_task(deployed, reference)
    deployed.tasks.assign(before.id, "olive", officer)
    v2 = deploy_version(deployed, VERSION_2)
    plan = moves.move("testshire", reference, v2, "ana")
    assert plan.moved
    after = open_task(deployed, reference)
    assert (after.id, after.assignee, after.name) == (before.id, "olive", "Acknowledge, define and log the complaint")
    body = deployed.complaints.describe(reference, officer)
    [deadline] = body["deadlines"]
    assert (deadline["key"], deadline["due_at"], deadline["extended"]) == (
        "stage1_acknowledge", "2026-12-30T23:59:59+00:00", False)
    with deployed.sessions() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        assert complaint.instance.definition_version.version == 2
        events = session.scalars(select(AuditEvent).where(AuditEvent.complaint_id == complaint.id,
                                                          AuditEvent.type == "process_version_moved")).all()
        assert [(e.actor, e.details["from_version"], e.details["to_version"]) for e in events] == [("ana", 1, 2)]
        assert events[0].details["deadlines"][0]["after"] == "2026-12-30T23:59:59+00:00"
        assert not session.scalars(select(AuditEvent).where(AuditEvent.complaint_id == complaint.id,
                                                            AuditEvent.type == "deadline_set",
                                                            AuditEvent.id > events[0].id)).all()
    # The engine carries on under version 2.
    deployed.tasks.complete(after.id, {"complaint_definition": "Boiler"}, officer)
    assert [t["element_id"] for t in deployed.complaints.describe(reference, officer)["open_tasks"]] == ["respond1"]


def test_a_move_is_refused_when_the_task_it_waits_at_is_gone(deployed, officer, moves):
    waiting = log(deployed, officer)
    done = log(deployed, officer)
    deployed.tasks.complete(open_task(deployed, done).id, {"complaint_definition": "Boiler"}, officer)
    v3 = deploy_version(deployed, VERSION_3)
    plans = {p.reference: p for p in moves.preview("testshire", [waiting, done], v3)}
    assert not plans[waiting].safe and "waits at 'Acknowledge and define the complaint'" in plans[waiting].problems[0]
    assert not plans[done].safe and any("has been through" in p for p in plans[done].problems)
    with pytest.raises(Conflict, match="cannot move to version 2"):
        moves.move("testshire", waiting, v3, "ana")
    with deployed.sessions() as session:
        assert session.scalars(select(AuditEvent).where(AuditEvent.type == "process_version_moved")).all() == []


def test_moving_many_reports_progress_and_leaves_the_unsafe_ones(deployed, officer, moves):
    references = [log(deployed, officer) for _ in range(3)]
    v2 = deploy_version(deployed, VERSION_2)
    moves.move("testshire", references[0], v2, "ana")          # already there: reported, not moved
    progress = []
    plans = list(moves.move_many("testshire", references, v2, "ana",
                                 progress=lambda done, total, plan: progress.append((done, total, plan.reference))))
    assert progress == [(1, 3, references[0]), (2, 3, references[1]), (3, 3, references[2])]
    assert [p.moved for p in plans] == [False, True, True]
    assert "already on version 2" in plans[0].problems[0]
    assert moves.running("testshire", v2) == []


def test_complaints_not_moved_stay_on_their_version_and_new_ones_start_on_the_newest(deployed, officer, moves):
    old = log(deployed, officer)
    v2 = deploy_version(deployed, VERSION_2)
    new = log(deployed, officer, received=(clock.now() - timedelta(hours=1)).isoformat())
    assert [r["reference"] for r in moves.running("testshire", v2)] == [old]
    with deployed.sessions() as session:
        versions = dict(session.execute(select(Complaint.reference, Complaint.id)).all())
        rows = {c.reference: c.instance.definition_version.version
                for c in session.scalars(select(Complaint).where(Complaint.id.in_(versions.values())))}
    assert rows == {old: 1, new: 2}
    deadlines = {d["key"]: d["due_at"] for d in deployed.complaints.describe(old, officer)["deadlines"]}
    assert deadlines["stage1_acknowledge"] == "2027-01-04T23:59:59+00:00"


def test_the_migrate_command_previews_moves_and_reports_each(tmp_path, monkeypatch, virtual_clock):
    from click.testing import CliRunner

    from workflow_app.casework.accounts import create_user
    from workflow_app.casework.runtime import build_runtime
    from workflow_app.tools.cli import main

    monkeypatch.setenv("WORKFLOW_APP_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("WORKFLOW_APP_PROCESSES", str(PROCESSES))
    monkeypatch.setenv("WORKFLOW_APP_FORMS", str(FORMS))
    monkeypatch.delenv("WORKFLOW_APP_DATABASE_URL", raising=False)
    runner = CliRunner()

    def cli(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    assert cli("deploy", "--by", "ana", "--acknowledge-code-errors", "engine test fixture").exit_code == 0
    runtime = build_runtime(f"sqlite:///{tmp_path / 'instance' / 'workflow_app.sqlite3'}", PROCESSES, FORMS)
    with runtime.sessions.begin() as session:
        user = create_user(session, "olive", "Olive", ["complaints_officer", "caseworker"], ["testshire"])
        session.expunge(user)
    references = [log(runtime, user) for _ in range(2)]
    runtime.close()
    folder = tmp_path / "v2" / "testshire"
    folder.mkdir(parents=True)
    (folder / "complaint.bpmn").write_text(VERSION_2)
    assert "version 2 deployed" in cli("deploy", str(folder / "complaint.bpmn"), "--by", "ana",
                                       "--acknowledge-code-errors", "engine test fixture").output

    preview = cli("migrate", "testshire", "--all", "--preview")
    assert preview.exit_code == 0, preview.output
    assert f"{references[0]}: can move (version 1 -> 2); deadlines: stage1_acknowledge " \
           "2027-01-04T23:59:59+00:00 -> 2026-12-30T23:59:59+00:00" in preview.output
    moved = cli("migrate", "testshire", references[0], "--to", "2", "--by", "ana")
    assert moved.exit_code == 0 and f"[1/1] {references[0]}: moved" in moved.output
    again = cli("migrate", "testshire", *references)
    assert again.exit_code == 1
    assert f"[1/2] {references[0]}: not moved" in again.output and "already on version 2" in again.output
    assert f"[2/2] {references[1]}: moved" in again.output
    assert "1 of 2 complaint(s) moved to version 2" in again.output
    assert cli("migrate", "testshire", "--to", "9", "--all").exit_code != 0

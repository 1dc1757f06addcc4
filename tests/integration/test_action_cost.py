"""What one action costs the database and the saved state: the statements it needs and no more, and
a state that does not grow with each round of a recurring reminder (bench/engine_overhead.py times it)."""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select

from workflow_app.casework.consistency import complaint_problems
from workflow_app.casework.deployments import deploy, diagram_files, read_forms
from workflow_app.casework.models import AuditEvent, Complaint, Task
from workflow_app.casework.runner import ComplaintRun, scratch_runtime

ROOT = Path(__file__).resolve().parent.parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"


@pytest.fixture
def deployed():
    """The three landlords' own processes on a throwaway SQLite database."""
    with scratch_runtime(ROOT / "processes", ROOT / "forms") as runtime:
        with runtime.sessions.begin() as session:
            for landlord, path in diagram_files(ROOT / "processes"):
                deploy(session, landlord, path.read_bytes(), read_forms(ROOT / "forms"), "tester")
        yield runtime


@contextmanager
def statements(runtime):
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_):
        seen.append(" ".join(statement.split()))

    event.listen(runtime.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(runtime.engine, "before_cursor_execute", note)


def _open_task(runtime, reference: str, element_id: str) -> str:
    with runtime.sessions() as session:
        return session.scalars(select(Task.id).join(Complaint, Complaint.id == Task.complaint_id).where(
            Complaint.reference == reference, Task.element_id == element_id, Task.status == "open")).one()


def _saved_tasks(runtime, reference: str) -> int:
    with runtime.sessions() as session:
        state = json.loads(session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
                           .instance.state)
    return sum(len(workflow["tasks"]) for workflow in (state, *state["subprocesses"].values()))


def _history(runtime, reference: str) -> list[AuditEvent]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AuditEvent).join(Complaint, Complaint.id == AuditEvent.complaint_id)
                                    .where(Complaint.reference == reference).order_by(AuditEvent.id)))


def _agreed_updates(runtime):
    """A Great Places complaint at its agreed-update task (the late-updates scenario's first three steps,
    with the timers due on the way fired as the scheduler would)."""
    story = json.loads((SCENARIOS / "great_places_late_updates.json").read_text())
    run = ComplaintRun(runtime, datetime.fromisoformat(story["complaint"]["received_at"]))
    with run:
        user = run.person("alice", ["complaints_officer", "caseworker"], ["great_places"])
        reference = run.log({"landlord": "great_places", **story["complaint"]}, user)
        for step in story["steps"][:3]:
            run.at(datetime.fromisoformat(step["at"]))
            run.complete(reference, run.open_task(reference, step["complete"]), step["data"], user)
    return run, reference, user


def _update_round(run: ComplaintRun, reference: str, user, number: int) -> None:
    with run:
        run.at(run.now() + timedelta(days=1))
        run.complete(reference, run.open_task(reference, "keep_informed"), {"update_notes": f"Update {number}."}, user)


def test_rounds_of_a_recurring_reminder_do_not_grow_the_saved_state(deployed, virtual_clock):
    run, reference, user = _agreed_updates(deployed)
    for number in range(1, 4):
        _update_round(run, reference, user, number)
    after_three = _saved_tasks(deployed, reference)
    for number in range(4, 41):
        _update_round(run, reference, user, number)

    assert _saved_tasks(deployed, reference) == after_three
    # the rounds' deadlines were kept (one a day here), the next one is set, and the record agrees with the instance
    met = [e for e in _history(deployed, reference) if e.type == "deadline_met" and e.details["key"] == "update_interval"]
    assert len(met) >= 25
    with deployed.sessions() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        assert complaint.instance.next_due_at is not None
        assert complaint_problems(session, deployed.casework, complaint) == []
    # and the process goes on past the loop: the stage 1 response ends the updates and issues its letter
    story = json.loads((SCENARIOS / "great_places_late_updates.json").read_text())
    [respond] = [s for s in story["steps"] if s.get("complete") == "stage1_response"]
    with run:
        run.complete(reference, run.open_task(reference, "stage1_response"), respond["data"], user)
    kinds = [e.type for e in _history(deployed, reference)]
    assert kinds[-8:].count("letter_issued") >= 1
    with deployed.sessions() as session:
        open_now = session.scalars(select(Task.element_id).join(Complaint, Complaint.id == Task.complaint_id)
                                   .where(Complaint.reference == reference, Task.status == "open")).all()
    assert "keep_informed" not in open_now


def test_an_action_writes_its_audit_events_in_one_statement_and_never_reads_the_diagram(deployed, virtual_clock):
    run, reference, user = _agreed_updates(deployed)
    with run:
        run.at(run.now() + timedelta(hours=2))
        run.send_required_letters(reference, user)
        task_id = run.open_task(reference, "keep_informed")
        before = len(_history(deployed, reference))
        with statements(deployed) as seen:
            deployed.tasks.complete(task_id, {"update_notes": "The survey is booked."}, user)

    assert len(_history(deployed, reference)) - before >= 3      # completed, deadline met, deadline set, task ready
    assert sum(s.startswith("INSERT INTO audit_events") for s in seen) == 1
    assert sum(s.startswith("UPDATE complaints SET audit_head") for s in seen) == 1   # the chain's head, moved once
    assert not any("FROM definition_versions" in s for s in seen)
    assert not any("FROM pending_events" in s for s in seen)     # none wait, so none are looked up
    # the instance's revision check comes first: of two actions at once, the second writes nothing before it stops;
    # the completed task's row follows it, with the action's other rows
    writes = [s for s in seen if s.startswith(("INSERT", "UPDATE"))]
    assert writes[0].startswith("UPDATE workflow_instances SET") and writes[0].endswith("AND workflow_instances.revision = ?")
    assert any(s.startswith("UPDATE tasks SET status=?, completed_at=?, completed_by=?") for s in writes[1:])


def test_logging_a_complaint_is_nine_statements_and_reads_only_the_current_version_s_key(deployed, virtual_clock):
    story = json.loads((SCENARIOS / "great_places_on_time.json").read_text())
    run = ComplaintRun(deployed, datetime.fromisoformat(story["complaint"]["received_at"]))
    with run:
        user = run.person("alice", ["complaints_officer", "caseworker"], ["great_places"])
        run.log({"landlord": "great_places", **story["complaint"]}, user)     # the year's counter started
        with statements(deployed) as seen:
            reference = deployed.complaints.log_complaint({"landlord": "great_places", **story["complaint"]}, user)

    # the number drawn with the current version read beside it; the complaint, its search entries and terms, its
    # instance, first task and deadline, its audit events in one statement, and the chain's head
    assert len(seen) == 9, seen
    [drawn] = [s for s in seen if "FROM definition_versions" in s]
    assert drawn.startswith("UPDATE reference_counters SET last=") and "definition_versions.xml" not in drawn
    assert sum(s.startswith("INSERT INTO audit_events") for s in seen) == 1
    assert reference.endswith("-000002")
    with deployed.sessions() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        assert complaint_problems(session, deployed.casework, complaint) == []


def test_a_completion_writes_the_complaint_s_row_once_and_reads_hazard_cases_only_for_a_letter_that_tells_them(
        deployed, virtual_clock):
    story = json.loads((SCENARIOS / "great_places_on_time.json").read_text())
    run = ComplaintRun(deployed, datetime.fromisoformat(story["complaint"]["received_at"]))
    written, hazards_read, stages = {}, {}, {}
    with run:
        user = run.person("alice", ["complaints_officer", "caseworker", "manager"], ["great_places"])
        reference = run.log({"landlord": "great_places", **story["complaint"]}, user)
        for step in story["steps"][:3]:     # accepted (stage 1 starts), acknowledged (a letter), responded (a letter)
            run.at(datetime.fromisoformat(step["at"]))
            run.send_required_letters(reference, user)
            task_id = run.open_task(reference, step["complete"])
            with statements(deployed) as seen:
                deployed.tasks.complete(task_id, step["data"], user)
            written[step["complete"]] = [s for s in seen if s.startswith("UPDATE complaints")]
            hazards_read[step["complete"]] = any("WHERE complaints.raised_from_id" in s for s in seen)
            with deployed.sessions() as session:
                stages[step["complete"]] = session.scalars(select(Complaint.stage).where(
                    Complaint.reference == reference)).one()

    # the stage moved on with the chain's head, in the one statement that writes the complaint's row
    assert stages["decide_acceptance"] == "1"
    [moved] = written["decide_acceptance"]
    assert moved.startswith("UPDATE complaints SET stage=?, audit_head=?")
    assert all(len(updates) == 1 for updates in written.values())
    # the acknowledgement does not tell of hazard work, the stage 1 response does
    assert hazards_read == {"decide_acceptance": False, "acknowledge": False, "stage1_response": True}
    with deployed.sessions() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        assert complaint_problems(session, deployed.casework, complaint) == []


def test_an_event_reads_its_complaint_with_the_instance_in_one_statement(deployed, virtual_clock):
    story = json.loads((SCENARIOS / "harrogate_on_time.json").read_text())
    run = ComplaintRun(deployed, datetime.fromisoformat(story["complaint"]["received_at"]))
    [at_event] = [i for i, step in enumerate(story["steps"]) if "event" in step]
    with run:
        user = run.person("alice", ["complaints_officer", "caseworker", "manager"], ["harrogate"])
        reference = run.log({"landlord": "harrogate", **story["complaint"]}, user)
        for step in story["steps"][:at_event]:
            run.at(datetime.fromisoformat(step["at"]))
            run.complete(reference, run.open_task(reference, step["complete"]), step["data"], user)
        event = story["steps"][at_event]
        run.at(datetime.fromisoformat(event["at"]))
        with statements(deployed) as seen:
            assert deployed.complaints.send_event(reference, event["event"], event["data"], user)["delivered"]

    reads = [s for s in seen if s.startswith("SELECT")]
    assert "FROM complaints JOIN workflow_instances" in reads[0]
    assert sum("FROM workflow_instances" in s or "JOIN workflow_instances" in s for s in reads) == 1
    assert len(seen) <= 9      # 10 before the instance came with the complaint
    assert any(s.startswith("UPDATE workflow_instances") for s in seen)

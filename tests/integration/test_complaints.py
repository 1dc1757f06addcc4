"""A complaint's life through the services: deadlines, tasks, events, audit, bad input."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import FORMS, PROCESSES, make_user, send_letters
from workflow_app.casework.models import AuditEvent, Complaint, Letter, PendingEvent, Task, WorkflowInstance
from workflow_app.casework.runtime import build_runtime
from workflow_app.casework.scheduler import sweep
from workflow_app.diagrams.definitions import cache as definition_cache
from workflow_app.rules import clock
from workflow_app.rules.errors import Conflict, Forbidden, InvalidInput, NotFound

RECEIVED = "2026-12-23T16:30:00+00:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def log(runtime, user, **overrides) -> str:
    fields = {
        "landlord": "testshire", "received_at": RECEIVED, "channel": "email", "category": "property_condition",
        "summary": "Roof still leaking", "resident": {"name": "A Resident", "email": "resident@example.org"},
    }
    fields.update(overrides)
    return runtime.complaints.log_complaint(fields, user)


def open_task(runtime, reference, element_id) -> str:
    with runtime.sessions() as session:
        return session.scalars(select(Task.id).join(Complaint, Complaint.id == Task.complaint_id).where(
            Complaint.reference == reference, Task.element_id == element_id, Task.status == "open")).one()


def deadline(body, key) -> dict:
    [found] = [d for d in body["deadlines"] if d["key"] == key]
    return found


def audit_count(runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count(AuditEvent.id)))


def types(runtime, reference) -> list[str]:
    return [e["type"] for e in runtime.complaints.history(reference, _admin(runtime))]


def _admin(runtime):
    from workflow_app.casework.models import User
    return User(username="admin", roles=["admin"], landlords=["*"], active=True)


def test_logging_a_complaint_sets_the_acknowledgement_deadline(officer, deployed):
    reference = log(deployed, officer)

    assert reference == "TH-2026-000001"
    body = deployed.complaints.describe(reference, officer)
    assert body["status"] == "open" and body["stage"] == "1"
    assert deadline(body, "stage1_acknowledge") == {
        "key": "stage1_acknowledge", "stage": "1", "due_at": "2027-01-04T23:59:59+00:00",
        "met_at": None, "missed": False, "extended": False}
    [task] = body["open_tasks"]
    assert task["element_id"] == "acknowledge" and task["role"] == "caseworker"
    assert task["due_at"] == "2027-01-04T23:59:59+00:00"
    assert types(deployed, reference) == ["complaint_logged", "deadline_set", "task_ready", "stage_changed"]


def test_references_count_up_per_landlord_and_year(officer, deployed):
    assert [log(deployed, officer) for _ in range(3)] == ["TH-2026-000001", "TH-2026-000002", "TH-2026-000003"]


def test_acknowledging_meets_the_deadline_and_starts_the_response_clock(officer, caseworker, deployed, virtual_clock):
    reference = log(deployed, officer)
    virtual_clock.set(at("2026-12-24T10:00:00+00:00"))

    deployed.tasks.complete(open_task(deployed, reference, "acknowledge"),
                            {"complaint_definition": "Roof leak over bedroom"}, caseworker)

    body = deployed.complaints.describe(reference, officer)
    assert deadline(body, "stage1_acknowledge")["met_at"] == "2026-12-24T10:00:00+00:00"
    # Day 0 Thu 24 Dec; 25, 28 Dec and 1 Jan are bank holidays: 10 working days is Tue 12 Jan 2027.
    assert deadline(body, "stage1_response")["due_at"] == "2027-01-12T23:59:59+00:00"
    assert [t["element_id"] for t in body["open_tasks"]] == ["respond1"]
    with deployed.sessions() as session:
        assert session.scalars(select(Letter.template)).all() == ["acknowledgement"]
    assert types(deployed, reference)[-4:] == ["task_completed", "letter_issued", "deadline_met", "deadline_set"] \
        or "deadline_met" in types(deployed, reference)


def test_an_extension_moves_the_same_deadline_and_marks_it_extended(officer, caseworker, deployed, virtual_clock):
    reference = log(deployed, officer)
    virtual_clock.set(at("2026-12-24T10:00:00+00:00"))
    deployed.tasks.complete(open_task(deployed, reference, "acknowledge"), {"complaint_definition": "Leak"}, caseworker)
    send_letters(deployed, reference, caseworker)
    virtual_clock.set(at("2027-01-08T10:00:00+00:00"))

    deployed.tasks.complete(open_task(deployed, reference, "respond1"),
                            {"decision": "extend", "extension_days": 10}, caseworker)

    body = deployed.complaints.describe(reference, officer)
    response = deadline(body, "stage1_response")
    assert response["due_at"] == "2027-01-26T23:59:59+00:00"
    assert response["extended"] is True and response["met_at"] is None and response["missed"] is False
    with deployed.sessions() as session:
        assert "extension" in session.scalars(select(Letter.template)).all()


def test_a_missed_deadline_fires_once_and_is_met_late(officer, caseworker, deployed, virtual_clock):
    reference = log(deployed, officer)
    virtual_clock.set(at("2027-01-05T00:00:00+00:00"))

    assert sweep(deployed.complaints) == 1
    assert sweep(deployed.complaints) == 0

    body = deployed.complaints.describe(reference, officer)
    assert deadline(body, "stage1_acknowledge")["missed"] is True
    history = types(deployed, reference)
    assert history.count("timer_fired") == 1 and history.count("deadline_missed") == 1
    virtual_clock.set(at("2027-01-06T09:00:00+00:00"))
    deployed.tasks.complete(open_task(deployed, reference, "acknowledge"), {"complaint_definition": "Leak"}, caseworker)
    late = deadline(deployed.complaints.describe(reference, officer), "stage1_acknowledge")
    assert late["met_at"] == "2027-01-06T09:00:00+00:00" and late["missed"] is True


def test_the_sweep_reads_only_due_instances(officer, deployed, virtual_clock):
    log(deployed, officer)
    with deployed.sessions() as session:
        due = session.scalar(select(WorkflowInstance.next_due_at))
    assert due == at("2027-01-04T23:59:59+00:00")
    virtual_clock.set(due)
    assert sweep(deployed.complaints) == 0  # due means strictly past 23:59:59
    virtual_clock.set(due + timedelta(seconds=1))
    assert sweep(deployed.complaints) == 1


def respond_at_stage1(runtime, reference, user, virtual_clock):
    virtual_clock.set(at("2026-12-24T10:00:00+00:00"))
    runtime.tasks.complete(open_task(runtime, reference, "acknowledge"), {"complaint_definition": "Leak"}, user)
    send_letters(runtime, reference, user)
    virtual_clock.set(at("2027-01-07T10:00:00+00:00"))
    runtime.tasks.complete(open_task(runtime, reference, "respond1"),
                           {"decision": "respond", "outcome": "not_upheld"}, user)
    send_letters(runtime, reference, user)


def test_escalation_starts_stage_2_with_a_different_person(officer, reviewer, deployed, virtual_clock):
    reference = log(deployed, officer)
    respond_at_stage1(deployed, reference, reviewer, virtual_clock)
    virtual_clock.set(at("2027-01-20T09:00:00+00:00"))

    result = deployed.complaints.send_event(reference, "escalation_requested", {"reason": None}, officer)

    assert result["delivered"] is True
    body = deployed.complaints.describe(reference, officer)
    assert body["stage"] == "2"
    assert deadline(body, "escalation_window")["met_at"] == "2027-01-20T09:00:00+00:00"
    assert deadline(body, "stage2_acknowledge")["due_at"] == "2027-01-27T23:59:59+00:00"
    deployed.tasks.complete(open_task(deployed, reference, "acknowledge2"), {"complaint_definition": "Leak"}, reviewer)
    send_letters(deployed, reference, reviewer)
    respond2 = open_task(deployed, reference, "respond2")

    with pytest.raises(Forbidden, match=r"6\.13"):
        deployed.tasks.assign(respond2, "rita", make_user(deployed, "mandy", ["manager"]))
    with pytest.raises(Forbidden, match=r"6\.13"):
        deployed.tasks.complete(respond2, {"final_outcome": "upheld"}, reviewer)

    deployed.tasks.complete(respond2, {"final_outcome": "upheld", "compensation": 150},
                            make_user(deployed, "steve", ["stage2_reviewer"]))
    body = deployed.complaints.describe(reference, officer)
    assert body["status"] == "closed" and body["outcome"] == "stage2_final" and body["open_tasks"] == []
    assert types(deployed, reference)[-1] == "closed"


def test_an_early_event_is_kept_and_delivered_when_the_process_can_take_it(officer, caseworker, deployed, virtual_clock):
    reference = log(deployed, officer)
    virtual_clock.set(at("2026-12-24T09:00:00+00:00"))

    result = deployed.complaints.send_event(reference, "escalation_requested", {}, officer)

    assert result == {"reference": reference, "event": "escalation_requested", "delivered": False, "pending": True}
    with deployed.sessions() as session:
        assert session.scalar(select(func.count(PendingEvent.id)).where(PendingEvent.delivered_at.is_(None))) == 1
    respond_at_stage1(deployed, reference, caseworker, virtual_clock)
    body = deployed.complaints.describe(reference, officer)
    assert body["stage"] == "2" and [t["element_id"] for t in body["open_tasks"]] == ["acknowledge2"]
    # Requested on 24 Dec, so stage 2 acknowledgement counted from then (Tue 5 Jan 2027) and was missed
    # by the time the process could take the request on 7 Jan.
    early = deadline(body, "stage2_acknowledge")
    assert early["due_at"] == "2027-01-05T23:59:59+00:00" and early["missed"] is True
    assert "event_delivered" in types(deployed, reference)


def test_an_unknown_event_is_refused_and_changes_nothing(officer, deployed):
    reference = log(deployed, officer)
    before = audit_count(deployed)
    with pytest.raises(InvalidInput, match="no event called 'teleport'"):
        deployed.complaints.send_event(reference, "teleport", {}, officer)
    assert audit_count(deployed) == before


@pytest.mark.parametrize("overrides, field", [
    ({"landlord": "atlantis"}, "landlord"),
    ({"received_at": None}, "received_at"),
    ({"received_at": "2026-12-23T16:30:00"}, "received_at"),
    ({"received_at": "2027-06-01T00:00:00+00:00"}, "received_at"),
    ({"channel": "pigeon"}, "channel"),
    ({"resident": {"email": "x@example.org"}}, "resident.name"),
    ({"shoe_size": 9}, "shoe_size"),
])
def test_bad_complaints_are_refused_naming_the_field(officer, deployed, overrides, field):
    before = audit_count(deployed)
    with pytest.raises(InvalidInput) as refused:
        log(deployed, officer, **overrides)
    assert field in refused.value.errors
    assert audit_count(deployed) == before
    with deployed.sessions() as session:
        assert session.scalar(select(func.count(Complaint.id))) == 0


def test_bad_task_data_is_refused_by_field_and_changes_nothing(officer, caseworker, deployed):
    reference = log(deployed, officer)
    task = open_task(deployed, reference, "acknowledge")
    before = audit_count(deployed)
    with pytest.raises(InvalidInput) as refused:
        deployed.tasks.complete(task, {"complaint_definition": "", "colour": "red"}, caseworker)
    assert set(refused.value.errors) == {"complaint_definition", "colour"}
    assert audit_count(deployed) == before
    assert deployed.complaints.describe(reference, officer)["open_tasks"][0]["id"] == task


def test_completing_a_task_twice_or_an_unknown_task_is_refused(officer, caseworker, deployed):
    reference = log(deployed, officer)
    task = open_task(deployed, reference, "acknowledge")
    deployed.tasks.complete(task, {"complaint_definition": "Leak"}, caseworker)
    with pytest.raises(Conflict):
        deployed.tasks.complete(task, {"complaint_definition": "Leak"}, caseworker)
    with pytest.raises(NotFound):
        deployed.tasks.complete("00000000-0000-0000-0000-000000000000", {}, caseworker)


def test_another_landlords_user_cannot_see_the_complaint(officer, deployed):
    reference = log(deployed, officer)
    outsider = make_user(deployed, "ollie", ["caseworker"], ["great_places"])
    with pytest.raises(NotFound):
        deployed.complaints.describe(reference, outsider)
    with pytest.raises(NotFound):
        deployed.tasks.complete(open_task(deployed, reference, "acknowledge"), {}, outsider)


def test_two_sweeps_at_once_fire_a_timer_exactly_once(officer, deployed, virtual_clock):
    references = [log(deployed, officer) for _ in range(5)]
    virtual_clock.set(at("2027-01-05T00:00:00+00:00"))
    barrier = threading.Barrier(2)
    results = []

    def run():   # each sweep's thread reads the test's clock, passed down (a new thread reads the real time)
        with clock.using(virtual_clock):
            barrier.wait()
            results.append(sweep(deployed.complaints))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(results) == 5
    for reference in references:
        assert types(deployed, reference).count("timer_fired") == 1


def test_a_new_process_resumes_instances_and_timers_after_a_restart(officer, caseworker, deployed, database_url,
                                                                   virtual_clock):
    reference = log(deployed, officer)
    deployed.close()
    definition_cache.clear()

    restarted = build_runtime(database_url, PROCESSES, FORMS)
    try:
        virtual_clock.set(at("2027-01-05T00:00:00+00:00"))
        assert sweep(restarted.complaints) == 1
        restarted.tasks.complete(open_task(restarted, reference, "acknowledge"), {"complaint_definition": "x"},
                                 caseworker)
        body = restarted.complaints.describe(reference, officer)
        assert deadline(body, "stage1_acknowledge")["missed"] is True
        assert [t["element_id"] for t in body["open_tasks"]] == ["respond1"]
    finally:
        restarted.close()


def test_instance_state_does_not_carry_the_spec(officer, deployed):
    log(deployed, officer)
    with deployed.sessions() as session:
        state = session.scalar(select(WorkflowInstance.state))
    assert '"spec"' not in state and "task_specs" not in state


def test_audit_events_cannot_be_changed(officer, deployed):
    log(deployed, officer)
    with pytest.raises(PermissionError), deployed.sessions.begin() as session:
        event = session.scalars(select(AuditEvent)).first()
        event.type = "rewritten"
    with pytest.raises(PermissionError), deployed.sessions.begin() as session:
        session.delete(session.scalars(select(AuditEvent)).first())


def test_two_people_completing_one_task_at_once_one_wins_the_other_gets_a_conflict(officer, deployed):
    reference = log(deployed, officer)
    task = open_task(deployed, reference, "acknowledge")
    people = [make_user(deployed, name, ["caseworker"]) for name in ("cara", "cody")]
    barrier, outcomes = threading.Barrier(2), []

    def complete(user):
        barrier.wait()
        try:  # (each thread reads the real clock: nothing here is timed)
            deployed.tasks.complete(task, {"complaint_definition": f"by {user.username}"}, user)
            outcomes.append("done")
        except Conflict as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=complete, args=(user,)) for user in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # whichever thread finishes first: one completed it, the other was refused
    refused = [outcome for outcome in outcomes if outcome != "done"]
    assert outcomes.count("done") == 1 and len(refused) == 1
    assert "no longer open" in refused[0] or "same moment" in refused[0] or "busy" in refused[0]
    history = types(deployed, reference)
    assert history.count("task_completed") == 1 and history.count("deadline_met") == 1
    body = deployed.complaints.describe(reference, officer)
    assert [t["element_id"] for t in body["open_tasks"]] == ["respond1"]


def test_records_stay_consistent_with_their_instances(officer, caseworker, deployed, virtual_clock):
    from workflow_app.casework.consistency import inconsistent_complaints
    references = [log(deployed, officer) for _ in range(3)]
    respond_at_stage1(deployed, references[0], caseworker, virtual_clock)
    virtual_clock.set(at("2027-01-20T00:00:00+00:00"))
    sweep(deployed.complaints)
    with deployed.sessions() as session:
        assert list(inconsistent_complaints(session, deployed.casework)) == []
    with deployed.sessions.begin() as session:
        session.execute(Task.__table__.update().where(Task.status == "open").values(status="cancelled"))
    with deployed.sessions() as session:
        broken = dict(inconsistent_complaints(session, deployed.casework))
    # The first waits for an escalation with no open task, so only the other two are broken.
    assert set(broken) == set(references[1:]) and "open tasks differ" in broken[references[1]][0]


def test_html_in_free_text_is_escaped_in_letters(officer, caseworker, deployed):
    reference = log(deployed, officer, summary="<script>alert('x')</script> leak",
                    resident={"name": "<b>Bold</b> Resident"})
    deployed.tasks.complete(open_task(deployed, reference, "acknowledge"),
                            {"complaint_definition": "<img src=x onerror=alert(1)>"}, caseworker)
    with deployed.sessions() as session:
        body = session.scalars(select(Letter.body_html).where(Letter.template == "acknowledgement")).one()
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert "<b>Bold</b>" not in body and "<img" not in body and "&lt;img" in body
    assert "0300 111 3000" in body

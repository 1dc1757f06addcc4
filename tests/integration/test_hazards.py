"""Awaab's Law hazard cases beside complaints, on each landlord's own diagrams: an emergency and a significant
hazard from a damp and mould complaint through every step, each clock asserted to the second.

Hand-worked dates (England and Wales bank holidays; "N working days" is 23:59:59 London time on the N-th
working day after day 0; "24 hours" is 24 elapsed clock hours; GMT until Sun 28 March 2027 01:00 UTC, BST
(UTC+1) from then until Sun 31 October 2027 01:00 UTC):

Significant hazard, over Christmas. Aware Wed 23 Dec 2026 14:00 GMT (the complaint's received time).
- triage: 24 hours -> Thu 24 Dec 2026 14:00:00Z.
- investigate: 10 working days. Day 0 Wed 23 Dec; Thu 24 (1); Fri 25 Christmas, Sat, Sun, Mon 28 (Boxing
  Day's substitute) skipped; Tue 29 (2), Wed 30 (3), Thu 31 (4); Fri 1 Jan skipped; Mon 4 (5), Tue 5 (6),
  Wed 6 (7), Thu 7 (8), Fri 8 (9), Mon 11 Jan (10) -> 2027-01-11T23:59:59Z.
- investigation concluded Tue 5 Jan 2027 10:00Z. Written summary 3 working days: Wed 6 (1), Thu 7 (2), Fri 8
  (3) -> 2027-01-08T23:59:59Z. Safety work and further work begun, 5: Mon 11 (4), Tue 12 (5) ->
  2027-01-12T23:59:59Z. Further work physically started, 12 weeks: 5 Jan + 84 days = Tue 30 March 2027,
  23:59:59 BST -> 2027-03-30T22:59:59Z.

Emergency hazards across the clock changes. Aware Sat 27 March 2027 10:15 GMT: 24 hours later is Sun 28
March 10:15Z, which the London wall clock shows as 11:15 BST (not 10:15). Aware Sat 30 October 2027 10:00 BST
(09:00Z): 24 hours later is Sun 31 October 09:00Z, 09:00 GMT on the wall clock (not 10:00).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import make_user
from workflow_app.casework.deployments import deploy, diagram_files, read_forms
from workflow_app.casework.hazards import hazards_of, raised_from
from workflow_app.casework.models import AuditEvent, Complaint, Task
from workflow_app.casework.runtime import build_runtime
from workflow_app.casework.scheduler import sweep
from workflow_app.diagrams.definitions import cache as definition_cache
from workflow_app.rules import clock
from workflow_app.rules.calendar import LONDON
from workflow_app.rules.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
PROCESSES, FORMS = ROOT / "processes", ROOT / "forms"
LANDLORDS = ("great_places", "brighter_places", "harrogate")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def hazard_runtime(database_url):
    definition_cache.clear()
    runtime = build_runtime(database_url, PROCESSES, FORMS)
    forms = read_forms(FORMS)
    with clock.using(clock.VirtualClock(at("2026-01-01T09:00:00+00:00"))), runtime.sessions.begin() as session:
        for landlord, path in diagram_files(PROCESSES):
            deploy(session, landlord, path.read_bytes(), forms, "tester")
    user = make_user(runtime, "hana", ["caseworker", "complaints_officer", "manager"], list(LANDLORDS))
    yield runtime, user
    runtime.close()
    definition_cache.clear()


def log_damp_complaint(runtime, user, landlord: str, received: datetime) -> str:
    return runtime.complaints.log_complaint({
        "landlord": landlord, "received_at": received.isoformat(), "channel": "phone",
        "category": "property_condition", "summary": "Black mould spreading in the child's bedroom",
        "resident": {"name": "A Resident", "email": "resident@example.org"}}, user)


def deadlines(runtime, reference: str) -> dict[str, dict]:
    return {d["key"]: d for d in runtime.complaints.describe(reference, _anyone(runtime))["deadlines"]}


def _anyone(runtime):
    with runtime.sessions() as session:
        from workflow_app.casework.models import User
        user = session.scalars(select(User).where(User.username == "hana")).one()
        session.expunge(user)
        return user


def complete(runtime, user, reference: str, element_id: str, data: dict) -> None:
    with runtime.sessions() as session:
        task_id = session.scalars(select(Task.id).join(Complaint, Complaint.id == Task.complaint_id).where(
            Complaint.reference == reference, Task.element_id == element_id, Task.status == "open")).one()
    runtime.tasks.complete(task_id, data, user)


def open_tasks(runtime, reference: str) -> dict[str, datetime | None]:
    with runtime.sessions() as session:
        return dict(session.execute(select(Task.element_id, Task.due_at).join(
            Complaint, Complaint.id == Task.complaint_id).where(
            Complaint.reference == reference, Task.status == "open")).all())


@pytest.mark.parametrize("landlord", LANDLORDS)
def test_a_significant_damp_and_mould_hazard_runs_every_step_to_the_second_over_christmas(hazard_runtime, landlord):
    runtime, user = hazard_runtime
    aware = at("2026-12-23T14:00:00+00:00")
    with clock.using(clock.VirtualClock(aware + timedelta(minutes=20))) as now:
        complaint = log_damp_complaint(runtime, user, landlord, aware)
        hazard = runtime.hazards.start_from_complaint(complaint, user)
        assert deadlines(runtime, hazard)["hazard_triage"]["due_at"] == "2026-12-24T14:00:00+00:00"
        assert open_tasks(runtime, hazard) == {"triage": at("2026-12-24T14:00:00+00:00")}
        # both clocks side by side: the Code's on the complaint, Awaab's Law's on the hazard case
        assert "stage1_acknowledge" in deadlines(runtime, complaint)
        assert not any(key.startswith("hazard_") for key in deadlines(runtime, complaint))

        now.set(at("2026-12-23T16:00:00+00:00"))
        complete(runtime, user, hazard, "triage", {"hazard_type": "damp_and_mould", "hazard_level": "significant",
                                                   "vulnerable_household": True,
                                                   "triage_reasons": "Mould in a bedroom; a child with asthma."})
        found = deadlines(runtime, hazard)
        assert found["hazard_triage"]["met_at"] == "2026-12-23T16:00:00+00:00"
        assert found["hazard_investigate"]["due_at"] == "2027-01-11T23:59:59+00:00"
        assert open_tasks(runtime, hazard) == {"investigate": at("2027-01-11T23:59:59+00:00")}

        now.set(at("2027-01-05T10:00:00+00:00"))
        sweep(runtime.complaints)
        complete(runtime, user, hazard, "investigate", {"findings": "Condensation mould; extractor broken.",
                                                        "hazard_confirmed": True})
        found = deadlines(runtime, hazard)
        assert found["hazard_investigate"]["met_at"] == "2027-01-05T10:00:00+00:00"
        assert found["hazard_written_summary"]["due_at"] == "2027-01-08T23:59:59+00:00"
        assert found["hazard_safety_work"]["due_at"] == "2027-01-12T23:59:59+00:00"
        assert open_tasks(runtime, hazard) == {"written_summary": at("2027-01-08T23:59:59+00:00"),
                                               "safety_work": at("2027-01-12T23:59:59+00:00")}

        now.set(at("2027-01-08T23:59:59+00:00"))    # the last second of the summary's time: met
        complete(runtime, user, hazard, "written_summary", {"summary": "We found mould and will treat it."})
        now.set(at("2027-01-13T00:00:00+00:00"))    # a second after the safety work's time: missed
        sweep(runtime.complaints)
        found = deadlines(runtime, hazard)
        assert found["hazard_written_summary"]["met_at"] == "2027-01-08T23:59:59+00:00"
        assert not found["hazard_written_summary"]["missed"]
        assert found["hazard_safety_work"]["missed"] and found["hazard_safety_work"]["met_at"] is None
        complete(runtime, user, hazard, "safety_work", {"work_done": "Mould treated, extractor replaced.",
                                                        "made_safe": True, "further_work_needed": True})
        found = deadlines(runtime, hazard)
        assert found["hazard_safety_work"]["met_at"] == "2027-01-13T00:00:00+00:00"
        assert found["hazard_further_work_begin"]["due_at"] == "2027-01-12T23:59:59+00:00"

        complete(runtime, user, hazard, "further_work_begin", {"further_work_status": "steps_taken",
                                                               "further_work_details": "Ventilation survey booked."})
        assert deadlines(runtime, hazard)["hazard_further_work_start"]["due_at"] == "2027-03-30T22:59:59+00:00"
        assert open_tasks(runtime, hazard) == {"further_work_start": at("2027-03-30T22:59:59+00:00")}
        now.set(at("2027-03-30T22:59:59+00:00"))
        sweep(runtime.complaints)
        complete(runtime, user, hazard, "further_work_start", {"further_work_started_details": "Fans fitted."})
        body = runtime.complaints.describe(hazard, user)
        assert body["status"] == "closed" and body["outcome"] == "hazard_resolved"
        assert deadlines(runtime, hazard)["hazard_further_work_start"]["met_at"] == "2027-03-30T22:59:59+00:00"

    with runtime.sessions() as session:
        case = session.scalars(select(Complaint).where(Complaint.reference == complaint)).one()
        [linked] = hazards_of(session, case)
        assert linked.reference == hazard and linked.received_at == aware
        assert raised_from(session, linked).reference == complaint
        started = session.scalars(select(AuditEvent).where(AuditEvent.complaint_id == case.id,
                                                           AuditEvent.type == "hazard_case_started")).one()
        assert started.details["hazard"] == hazard


@pytest.mark.parametrize("landlord", LANDLORDS)
@pytest.mark.parametrize(("aware", "due", "wall_clock"), [
    ("2027-03-27T10:15:00+00:00", "2027-03-28T10:15:00+00:00", "11:15"),    # the clocks go forward
    ("2027-10-30T09:00:00+00:00", "2027-10-31T09:00:00+00:00", "09:00"),    # the clocks go back
])
def test_an_emergency_hazard_has_24_clock_hours_across_a_clock_change(hazard_runtime, landlord, aware, due,
                                                                     wall_clock):
    runtime, user = hazard_runtime
    aware_at, due_at = at(aware), at(due)
    with clock.using(clock.VirtualClock(aware_at + timedelta(hours=1))) as now:
        complaint = log_damp_complaint(runtime, user, landlord, aware_at)
        hazard = runtime.hazards.start_from_complaint(complaint, user)
        assert due_at.astimezone(LONDON).strftime("%H:%M") == wall_clock
        now.set(aware_at + timedelta(hours=2))
        complete(runtime, user, hazard, "triage", {"hazard_type": "damp_and_mould", "hazard_level": "emergency",
                                                   "vulnerable_household": True,
                                                   "triage_reasons": "Mould over a cot; the baby is unwell."})
        found = deadlines(runtime, hazard)
        assert found["hazard_emergency_make_safe"]["due_at"] == due_at.isoformat()
        assert open_tasks(runtime, hazard) == {"make_safe": due_at}
        now.set(due_at - timedelta(seconds=1))
        sweep(runtime.complaints)
        assert not deadlines(runtime, hazard)["hazard_emergency_make_safe"]["missed"]
        now.set(due_at + timedelta(seconds=1))
        sweep(runtime.complaints)
        assert deadlines(runtime, hazard)["hazard_emergency_make_safe"]["missed"]
        complete(runtime, user, hazard, "make_safe", {"findings": "Mould behind the wardrobe, spreading.",
                                                      "work_done": "Treated, but the wall is wet through.",
                                                      "made_safe": False})
        found = deadlines(runtime, hazard)
        assert found["hazard_emergency_make_safe"]["met_at"] == (due_at + timedelta(seconds=1)).isoformat()
        assert found["hazard_emergency_accommodation"]["due_at"] == due_at.isoformat()
        complete(runtime, user, hazard, "emergency_accommodation", {"accommodation_details": "A flat nearby."})
        body = runtime.complaints.describe(hazard, user)
        assert body["status"] == "closed" and body["outcome"] == "alternative_accommodation"


@pytest.mark.parametrize("landlord", LANDLORDS)
def test_an_emergency_made_safe_in_time_with_an_earlier_awareness(hazard_runtime, landlord):
    """Aware earlier than the complaint was logged (a repairs call the evening before): the 24 hours count from
    then. Aware Tue 4 May 2027 19:30 BST (18:30Z), the Monday before being the early May bank holiday; the
    complaint received Wed 5 May 09:00Z; made safe Wed 5 May 18:29:59Z, the 24 hours' last second."""
    runtime, user = hazard_runtime
    with clock.using(clock.VirtualClock(at("2027-05-05T09:30:00+00:00"))) as now:
        complaint = log_damp_complaint(runtime, user, landlord, at("2027-05-05T09:00:00+00:00"))
        with pytest.raises(InvalidInput):
            runtime.hazards.start_from_complaint(complaint, user, aware_at=at("2027-05-04T18:30:00+00:00"))
        hazard = runtime.hazards.start_from_complaint(complaint, user, aware_at=at("2027-05-04T18:30:00+00:00"),
                                                      earlier_reason="Reported to the repairs line the evening "
                                                                     "before.")
        assert deadlines(runtime, hazard)["hazard_triage"]["due_at"] == "2027-05-05T18:30:00+00:00"
        complete(runtime, user, hazard, "triage", {"hazard_type": "damp_and_mould", "hazard_level": "emergency",
                                                   "vulnerable_household": False, "triage_reasons": "Ceiling wet."})
        now.set(at("2027-05-05T18:29:59+00:00"))
        complete(runtime, user, hazard, "make_safe", {"findings": "Leak from the flat above.",
                                                      "work_done": "Isolated and dried.", "made_safe": True})
        found = deadlines(runtime, hazard)
        assert found["hazard_emergency_make_safe"] | {"due_at": None} == {
            "key": "hazard_emergency_make_safe", "stage": "hazard", "due_at": None,
            "met_at": "2027-05-05T18:29:59+00:00", "missed": False, "extended": False}
        assert runtime.complaints.describe(hazard, user)["outcome"] == "made_safe"


def test_a_hazard_logged_on_its_own_has_no_complaint(hazard_runtime):
    runtime, user = hazard_runtime
    with clock.using(clock.VirtualClock(at("2027-02-01T12:00:00+00:00"))):
        hazard = runtime.hazards.log_report({
            "landlord": "great_places", "received_at": "2027-02-01T11:00:00+00:00", "channel": "phone",
            "category": "property_condition", "summary": "Repair report: damp in the hall",
            "resident": {"name": "A Resident"}}, user)
        assert hazard == "GPHZ-2027-000001"
        assert deadlines(runtime, hazard)["hazard_triage"]["due_at"] == "2027-02-02T11:00:00+00:00"
    with runtime.sessions() as session:
        case = session.scalars(select(Complaint).where(Complaint.reference == hazard)).one()
        assert case.kind == "hazard" and raised_from(session, case) is None


# --- the caseworkers' pages: offered on a damp and mould complaint, both clocks side by side ---------------

def test_the_case_page_offers_a_hazard_case_and_shows_both_clocks_and_the_inbox_its_tasks(hazard_runtime,
                                                                                         database_url):
    from tests.integration.test_caseworker import make_app, post, sign_in
    runtime, user = hazard_runtime
    with clock.using(clock.VirtualClock(at("2026-12-23T14:20:00+00:00"))):
        complaint = log_damp_complaint(runtime, user, "great_places", at("2026-12-23T14:00:00+00:00"))
        runtime.complaints.describe(complaint, user)
        app = make_app(database_url, processes=PROCESSES)
        try:
            client = app.test_client()
            assert sign_in(client, "hana").status_code == 302
            page = client.get(f"/complaints/{complaint}").get_data(as_text=True)
            assert "Damp and mould? Awaab's Law may apply" in page
            answer = post(client, f"/complaints/{complaint}/hazards", {"source": "complaint"},
                          page=f"/complaints/{complaint}")
            assert answer.status_code == 302
            hazard = answer.headers["Location"].rsplit("/", 1)[1]
            assert hazard == "GPHZ-2026-000001"
            hazard_page = client.get(f"/complaints/{hazard}").get_data(as_text=True)
            assert "Hazard case GPHZ-2026-000001" in hazard_page
            assert "Hazard triage (24 hours)" in hazard_page and "Thu 24 Dec 2026, 14:00" in hazard_page
            assert "Acknowledge (stage 1)" in hazard_page   # the complaint's clock beside it
            complaint_page = client.get(f"/complaints/{complaint}").get_data(as_text=True)
            assert "Hazard triage (24 hours)" in complaint_page and "Acknowledge (stage 1)" in complaint_page
            assert "Damp and mould? Awaab" not in complaint_page   # offered until started
            inbox = client.get("/inbox?view=all").get_data(as_text=True)
            assert "Triage the hazard" in inbox and hazard in inbox and "Hazard (Awaab&#39;s Law)" in inbox

            # "Possible hazard" ticked on a task of a complaint in another category, aware an hour earlier
            other = runtime.complaints.log_complaint({
                "landlord": "great_places", "received_at": "2026-12-23T14:10:00+00:00", "channel": "email",
                "category": "estate_management", "summary": "The communal hall smells of gas",
                "resident": {"name": "C Resident"}}, user)
            with runtime.sessions() as session:
                task_id = session.scalars(select(Task.id).join(Complaint, Complaint.id == Task.complaint_id)
                                          .where(Complaint.reference == other)).one()
            task_page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
            assert "Possible hazard (Awaab's Law)" in task_page
            assert "Damp and mould? Awaab" not in client.get(f"/complaints/{other}").get_data(as_text=True)
            ticked = post(client, f"/complaints/{other}/hazards",
                          {"source": "task:decide_acceptance", "aware_at": "2026-12-23T13:10",
                           "aware_earlier_reason": "A neighbour rang the repairs line."}, page=f"/tasks/{task_id}")
            second = ticked.headers["Location"].rsplit("/", 1)[1]
            assert second == "GPHZ-2026-000002"
            assert deadlines(runtime, second)["hazard_triage"]["due_at"] == "2026-12-24T13:10:00+00:00"
        finally:
            app.extensions["workflow_app"].close()
    with runtime.sessions() as session:
        events = [e.type for e in session.scalars(select(AuditEvent).join(
            Complaint, Complaint.id == AuditEvent.complaint_id).where(Complaint.reference == complaint))]
        assert "hazard_case_started" in events
        started = session.scalars(select(AuditEvent).where(AuditEvent.type == "hazard_case_started")
                                  .order_by(AuditEvent.id)).all()
        assert [(e.details["source"], e.details["aware_at"]) for e in started] == [
            ("complaint", "2026-12-23T14:00:00+00:00"), ("task:decide_acceptance", "2026-12-23T13:10:00+00:00")]


def test_the_dashboard_the_performance_page_and_the_export_hold_the_hazard_case(hazard_runtime, database_url):
    """An emergency (aware Mon 1 Feb 2027 09:00Z, 24 hours to Tue 2 Feb 09:00Z) triaged in time and made safe a
    second late; at Tue 2 Feb 12:00Z its triage clock was met and its make-safe clock missed then met late. A
    second hazard case waits at triage, due Tue 2 Feb 11:30Z: overdue at 12:00Z. The complaints' own figures
    (CH01, running complaints) count the two complaints, not the hazard cases."""
    import io
    import json
    import zipfile

    from tests.integration.test_caseworker import make_app, sign_in
    runtime, user = hazard_runtime
    with clock.using(clock.VirtualClock(at("2027-02-01T09:30:00+00:00"))) as now:
        first = log_damp_complaint(runtime, user, "great_places", at("2027-02-01T09:00:00+00:00"))
        hazard = runtime.hazards.start_from_complaint(first, user)
        complete(runtime, user, hazard, "triage", {"hazard_type": "damp_and_mould", "hazard_level": "emergency",
                                                   "vulnerable_household": True, "triage_reasons": "Asthma."})
        now.set(at("2027-02-01T11:30:00+00:00"))
        second = log_damp_complaint(runtime, user, "great_places", at("2027-02-01T11:30:00+00:00"))
        waiting = runtime.hazards.start_from_complaint(second, user)
        now.set(at("2027-02-02T09:00:01+00:00"))
        sweep(runtime.complaints)
        complete(runtime, user, hazard, "make_safe", {"findings": "Mould.", "work_done": "Treated.",
                                                      "made_safe": True})
        now.set(at("2027-02-02T12:00:00+00:00"))
        sweep(runtime.complaints)
        with runtime.sessions() as session:     # the dashboard's test of a complaint's work, on open tasks
            from sqlalchemy import select

            from workflow_app.casework.models import Complaint, Task
            from workflow_app.reporting.measures import leaving_out, running_other_cases
            open_work = select(Task.complaint_id).where(Task.status == "open")
            others = running_other_cases(session, ["great_places"])
            kept = set(session.scalars(open_work.where(leaving_out(Task.complaint_id, others))))
            kinds = dict(session.execute(select(Complaint.id, Complaint.kind)).all())
            assert list(others.values()) == ["hazard"] and running_other_cases(session, ["harrogate"]) == {}
            every = set(session.scalars(open_work))
            assert kept == {c for c in every if kinds[c] == "complaint"} and kept and every - kept
        app = make_app(database_url, processes=PROCESSES)
        try:
            client = app.test_client()
            assert sign_in(client, "hana").status_code == 302
            board = client.get("/manager/dashboard.json?landlord=great_places").get_json()
            assert board["running"] == 2 and {r["stage"] for r in board["by_stage"]} <= {"pre", "1", "2", "post"}
            assert not any(r["key"].startswith("hazard_") for r in board["deadlines"])
            assert board["hazards"]["running"] == 1
            assert [(s["element_id"], s["count"], s["overdue"]) for s in board["hazards"]["by_step"]] == [
                ("triage", 1, 1)]
            assert board["hazards"]["overdue"] == 1
            assert "Hazard cases (Awaab" in client.get("/manager/?landlord=great_places").get_data(as_text=True)
            report = client.get("/manager/performance.json?landlord=great_places&from=2027-02-01&to=2027-02-28"
                                ).get_json()
            assert report["ch01"]["stage1"] == 0   # neither complaint has reached stage 1; no hazard case counts
            steps = {s["key"]: (s["due"], s["on_time"], s["late"], s["outstanding"], s["share"])
                     for s in report["hazard_steps"]}
            assert steps == {"hazard_triage": (2, 1, 0, 1, 50.0), "hazard_emergency_make_safe": (1, 0, 1, 0, 0.0)}
            assert not any(d["key"].startswith("hazard_") for d in report["deadlines"])
            page = client.get("/manager/performance?landlord=great_places&from=2027-02-01&to=2027-02-28")
            assert "Awaab&#39;s Law: hazard steps met in time" in page.get_data(as_text=True)
            exported = client.get(f"/complaints/{first}/export.zip")
            record = json.loads(zipfile.ZipFile(io.BytesIO(exported.data)).read("record.json"))
            [linked] = record["hazard_cases"]
            assert linked["reference"] == hazard and linked["outcome"] == "made_safe"
            assert [(d["key"], d["missed"]) for d in linked["deadlines"]] == [
                ("hazard_triage", False), ("hazard_emergency_make_safe", True)]
            assert [s["name"] for s in linked["steps"]] == ["Triage the hazard",
                                                           "Investigate and make safe (emergency)"]
        finally:
            app.extensions["workflow_app"].close()
    assert waiting


def test_the_stage_1_response_letter_tells_the_resident_of_the_hazard_work(hazard_runtime):
    """Great Places: the complaint received Wed 23 Dec 2026 16:30Z, the hazard case started then (significant,
    triaged Thu 24 Dec, investigated Tue 5 Jan, so the written summary due Fri 8 Jan and the safety work Tue 12
    Jan); the stage 1 response on Thu 7 Jan says what was done and what is still to do, by when."""
    from tests.conftest import send_letters
    from workflow_app.casework.models import Letter
    runtime, user = hazard_runtime
    with clock.using(clock.VirtualClock(at("2026-12-23T16:40:00+00:00"))) as now:
        complaint = log_damp_complaint(runtime, user, "great_places", at("2026-12-23T16:30:00+00:00"))
        hazard = runtime.hazards.start_from_complaint(complaint, user)
        now.set(at("2026-12-24T10:00:00+00:00"))
        complete(runtime, user, hazard, "triage", {"hazard_type": "damp_and_mould", "hazard_level": "significant",
                                                   "vulnerable_household": True, "triage_reasons": "Asthma."})
        complete(runtime, user, complaint, "decide_acceptance", {"complaint_kind": "complaint",
                                                                 "acceptance": "accept"})
        now.set(at("2027-01-04T15:00:00+00:00"))
        complete(runtime, user, complaint, "acknowledge", {
            "complaint_definition": "Black mould in the child's bedroom.", "outcomes_sought": "The mould removed.",
            "our_responsibility": "Repairs and ventilation.", "investigator": "Hana Example"})
        send_letters(runtime, complaint, user)
        now.set(at("2027-01-05T10:00:00+00:00"))
        complete(runtime, user, hazard, "investigate", {"findings": "Condensation.", "hazard_confirmed": True})
        now.set(at("2027-01-07T11:00:00+00:00"))
        complete(runtime, user, complaint, "stage1_response", {
            "stage1_decision": "respond", "stage1_outcome": "upheld",
            "stage1_findings": "The extractor fan had failed and was not replaced.", "remedies": ["apology"],
            "outstanding_actions": "The safety work, as below."})
    with runtime.sessions() as session:
        letter = session.scalars(select(Letter).join(Complaint, Complaint.id == Letter.complaint_id).where(
            Complaint.reference == complaint, Letter.template == "stage1_response")).one()
        text = " ".join(letter.body_html.split())
    assert "<h2>The hazard in your home</h2>" in text
    assert f"on 23 December 2026 we opened a hazard case (ref: {hazard})" in text
    assert "<li>Triage the hazard (24 December 2026)</li>" in text
    assert "<li>Investigate the hazard (5 January 2027)</li>" in text
    assert "<li>Send the written summary to the tenant, by 8 January 2027</li>" in text
    assert "<li>Do the safety work, by 12 January 2027</li>" in text


def test_the_api_starts_a_hazard_case_beside_a_complaint_and_logs_a_repair_report(hazard_runtime, database_url):
    """Aware Fri 2 April 2027 (Good Friday) 20:00 BST = 19:00Z, before the complaint received on Tue 6 April 09:00Z:
    24 hours to triage from then, Sat 3 April 19:00Z, whatever the bank holidays."""
    from tests.integration.test_api import token_for
    from tests.integration.test_caseworker import make_app
    runtime, user = hazard_runtime
    headers = token_for(runtime, "apia", ["caseworker"], ["harrogate"])
    with clock.using(clock.VirtualClock(at("2027-04-06T09:30:00+00:00"))):
        complaint = log_damp_complaint(runtime, user, "harrogate", at("2027-04-06T09:00:00+00:00"))
        app = make_app(database_url, processes=PROCESSES)
        try:
            client = app.test_client()
            refused = client.post(f"/api/complaints/{complaint}/hazards", headers=headers,
                                  json={"aware_at": "2027-04-02T19:00:00+00:00"})
            assert refused.status_code == 422 and "aware_earlier_reason" in refused.json["errors"]
            started = client.post(f"/api/complaints/{complaint}/hazards", headers=headers,
                                  json={"aware_at": "2027-04-02T19:00:00+00:00",
                                        "aware_earlier_reason": "Reported to the out-of-hours line."})
            assert started.status_code == 201 and started.json["reference"] == "HHAHZ-2027-000001"
            body = client.get(f"/api/complaints/{started.json['reference']}", headers=headers).json
            assert [(d["key"], d["due_at"]) for d in body["deadlines"]] == [
                ("hazard_triage", "2027-04-03T19:00:00+00:00")]
            assert [t["element_id"] for t in body["open_tasks"]] == ["triage"]
            report = client.post("/api/hazards", headers=headers, json={
                "landlord": "harrogate", "received_at": "2027-04-06T09:15:00+00:00", "channel": "phone",
                "category": "property_condition", "summary": "Repair report: mould in the kitchen",
                "resident": {"name": "B Resident"}})
            assert report.status_code == 201 and report.json["reference"] == "HHAHZ-2027-000002"
        finally:
            app.extensions["workflow_app"].close()

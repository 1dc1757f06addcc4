"""Deadlines from the first minute: the acknowledgement clock runs from receipt whatever task is open, every
open task shows the clock it works towards, one definition of "overdue", a clock per run, timers that never
break a person's action, and the Code's letter rule in the service.

The due times here are worked out by `expected_due`, the brief's rule written out again day by day from the
`holidays` package, so the product's calendar is checked against an independent reading of the rule.
"""
from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.conftest import FORMS as TEST_FORMS
from tests.conftest import PROCESSES as TEST_PROCESSES
from tests.conftest import make_user, send_letters
from tests.integration.test_complaints import log, open_task
from workflow_app.casework.deployments import deploy, diagram_files, read_forms
from workflow_app.casework.inbox import InboxQuery, inbox
from workflow_app.casework.models import AuditEvent, Complaint, Incident, Task
from workflow_app.casework.runtime import build_runtime
from workflow_app.casework.scheduler import sweep, sweep_job
from workflow_app.diagrams.definitions import cache as definition_cache
from workflow_app.reporting import measures as reporting
from workflow_app.rules import clock
from workflow_app.rules.errors import Conflict

ROOT = TEST_PROCESSES.parents[2]
PROCESSES, FORMS = ROOT / "processes", ROOT / "forms"
LONDON = ZoneInfo("Europe/London")
ENGLAND = holidays.country_holidays("GB", subdiv="ENG", years=range(2025, 2033))
ACKNOWLEDGE_DAYS = {"great_places": 5, "brighter_places": 5, "harrogate": 2}
# The way into each landlord's process up to the acknowledgement, one task at a time (all before it).
BEFORE_ACKNOWLEDGEMENT = {
    "great_places": [("decide_acceptance", {"complaint_kind": "complaint", "acceptance": "accept"})],
    "brighter_places": [("first_contact", {"contact_kind": "dissatisfaction", "first_contact_result": "formal"}),
                        ("decide_acceptance", {"acceptance": "accept", "clarification_needed": "no"})],
    "harrogate": [("first_contact", {"first_contact_result": "formal"}),
                  ("decide_acceptance", {"acceptance": "accept"})],
}


def expected_due(received: datetime, working_days: int) -> datetime:
    """The brief's rule: day 0 is the London date of receipt or the next working day; the deadline is 23:59:59
    London time on the N-th working day after it (England's bank holidays)."""
    def working(day: date) -> bool:
        return day.weekday() < 5 and day not in ENGLAND

    day = received.astimezone(LONDON).date()
    while not working(day):
        day += timedelta(days=1)
    for _ in range(working_days):
        day += timedelta(days=1)
        while not working(day):
            day += timedelta(days=1)
    return datetime.combine(day, time(23, 59, 59), tzinfo=LONDON).astimezone(UTC)


# --- every landlord, any receipt date: the acknowledgement clock from the first minute --------------

@pytest.fixture(scope="module")
def landlords(tmp_path_factory):
    definition_cache.clear()
    runtime = build_runtime(f"sqlite:///{tmp_path_factory.mktemp('clocks') / 'clocks.sqlite3'}", PROCESSES, FORMS)
    forms = read_forms(FORMS)
    with runtime.sessions.begin() as session:
        for landlord, path in diagram_files(PROCESSES):
            deploy(session, landlord, path.read_bytes(), forms, "tester")
    user = make_user(runtime, "casey", ["caseworker", "complaints_officer", "stage2_reviewer", "manager"],
                     list(ACKNOWLEDGE_DAYS))
    yield runtime, user
    runtime.close()
    definition_cache.clear()


def overdue_everywhere(runtime, user, landlord: str, now: datetime) -> dict[str, object]:
    """The open tasks overdue now, as the inbox's filter, the API's service and the dashboard count them (its
    overdue work by task, and its overdue deadlines)."""
    with clock.using(clock.VirtualClock(now)), runtime.sessions() as session:
        seen_inbox, page = set(), 1
        while True:
            found = inbox(session, user, runtime.landlords, InboxQuery(view="all", landlord=landlord, due="overdue",
                                                                       page=page))
            seen_inbox |= {row.task.id for row in found.rows}
            if page >= found.pages:
                break
            page += 1
        seen_api, page = set(), 1
        while listed := runtime.tasks.list(user, landlord=landlord, overdue=True, page=page):
            seen_api |= {t["id"] for t in listed}
            page += 1
        board = reporting.dashboard(session, reporting.Scope((runtime.landlords[landlord],)), now)
    return {"inbox": seen_inbox, "api": seen_api, "dashboard_tasks": sum(w["overdue"] for w in board["waiting"]),
            "dashboard_deadlines": board["overdue"]}


RECEIPTS = st.one_of(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 20), timezones=st.just(LONDON)),
    st.builds(lambda day, shift, minute: datetime.combine(day + timedelta(days=shift), time(0), tzinfo=LONDON)
              + timedelta(minutes=minute),
              st.sampled_from(sorted(d for d in ENGLAND if 2026 <= d.year <= 2030)), st.integers(-3, 2),
              st.one_of(st.integers(0, 24 * 60 - 1), st.integers(22 * 60, 24 * 60 - 1))),
)


@pytest.mark.parametrize("landlord", list(ACKNOWLEDGE_DAYS))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(received=RECEIPTS)
@example(received=datetime(2026, 12, 23, 16, 30, tzinfo=UTC))          # before Christmas
@example(received=datetime(2027, 3, 26, 23, 30, tzinfo=LONDON))                 # Good Friday, late evening
@example(received=datetime(2027, 3, 27, 23, 30, tzinfo=LONDON))                 # the night the clocks go forward
@example(received=datetime(2027, 10, 30, 23, 45, tzinfo=LONDON))                # the night they go back
@example(received=datetime(2030, 12, 20, 23, 59, tzinfo=LONDON))                # a Friday night before Christmas
def test_every_task_before_acknowledgement_shows_the_acknowledgement_deadline(landlords, landlord, received):
    runtime, user = landlords
    due = expected_due(received, ACKNOWLEDGE_DAYS[landlord])
    received_utc = received.astimezone(UTC)
    with clock.using(clock.VirtualClock(received_utc)) as virtual:
        reference = runtime.complaints.log_complaint({
            "landlord": landlord, "received_at": received_utc.isoformat(), "channel": "phone", "category": "other",
            "summary": "Any date", "resident": {"name": "A Resident"}}, user)
        for number, (element, data) in enumerate(BEFORE_ACKNOWLEDGEMENT[landlord] + [("acknowledge", None)]):
            task = _open(runtime, reference, element)
            assert task.due_at == due, (element, received)
            if data is not None:
                virtual.set(received_utc + timedelta(minutes=10 * (number + 1)))
                runtime.tasks.complete(task.id, data, user)
    task = _open(runtime, reference, "acknowledge")
    before = overdue_everywhere(runtime, user, landlord, due)
    assert task.id not in before["inbox"] and task.id not in before["api"]
    for swept in (False, True):    # overdue the second after, before the timer is swept and after
        if swept:
            with clock.using(clock.VirtualClock(due + timedelta(seconds=1))):
                sweep(runtime.complaints)
            assert _open(runtime, reference, "acknowledge").due_at == due   # a missed duty still shows its time
        after = overdue_everywhere(runtime, user, landlord, due + timedelta(seconds=1))
        assert task.id in after["inbox"] and after["inbox"] == after["api"]
        # Every complaint here waits at its acknowledgement with that one duty running: one overdue task each.
        assert after["dashboard_tasks"] == after["dashboard_deadlines"] == len(after["inbox"])


def _open(runtime, reference: str, element_id: str) -> Task:
    with runtime.sessions() as session:
        return session.scalars(select(Task).join(Complaint, Complaint.id == Task.complaint_id).where(
            Complaint.reference == reference, Task.element_id == element_id, Task.status == "open")).one()


# --- one clock per run ----------------------------------------------------------------------------

def test_a_sweep_in_another_thread_reads_the_real_time_while_try_it_runs_in_2040(deployed, officer, virtual_clock,
                                                                               monkeypatch):
    """Try it runs a diagram on its own virtual clock; the timer sweep, in its own thread, keeps the real time
    and so does not fire a real complaint's timer that is due only in Try it's world."""
    from workflow_app.casework.runner import ComplaintRun
    from workflow_app.rules.landlords import load_landlords
    from workflow_app.web.analyst import try_it

    virtual_clock.set(datetime(2040, 1, 2, 9, tzinfo=UTC))
    reference = log(deployed, officer, received_at="2040-01-02T09:00:00+00:00")   # acknowledge by Tue 9 Jan 2040
    seen: dict[str, object] = {}
    original = ComplaintRun.advance_to

    def advance_and_sweep_elsewhere(run, at):
        if "swept" not in seen:
            seen["try_it"] = clock.now()

            def elsewhere():
                seen["thread"] = clock.now()
                seen["swept"] = sweep_job(deployed.complaints, deployed.clock)()

            thread = threading.Thread(target=elsewhere)
            thread.start()
            thread.join()
        return original(run, at)

    monkeypatch.setattr(ComplaintRun, "advance_to", advance_and_sweep_elsewhere)
    landlord = load_landlords(PROCESSES)["great_places"]
    result = try_it.try_diagram(landlord, (PROCESSES / "great_places" / "complaint.bpmn").read_text(),
                                read_forms(FORMS), PROCESSES, datetime(2040, 6, 1, 10, tzinfo=UTC))
    assert result.problem is None and result.reference
    assert seen["try_it"] >= datetime(2040, 6, 1, 10, tzinfo=UTC)
    assert abs(seen["thread"] - datetime.now(UTC)) < timedelta(minutes=1)
    assert seen["swept"] == 0
    with deployed.sessions() as session:
        fired = session.scalars(select(AuditEvent.type).join(Complaint, Complaint.id == AuditEvent.complaint_id)
                                .where(Complaint.reference == reference, AuditEvent.type == "timer_fired")).all()
    assert fired == []


# --- a timer never breaks a person's action ---------------------------------------------------------

def _testshire_with_response_timer(expression: str) -> bytes:
    xml = (TEST_PROCESSES / "testshire" / "complaint.bpmn").read_text()
    assert "working_days_after(acknowledged_at, 10 + stage1_extension_days)" in xml
    return xml.replace("working_days_after(acknowledged_at, 10 + stage1_extension_days)", expression).encode()


def test_a_timer_that_cannot_be_worked_out_leaves_the_action_done_and_opens_an_incident(deployed, officer,
                                                                                       caseworker, virtual_clock):
    # A version deployed without the check (or whose check could not foresee the data): 20 extra days times 100.
    with deployed.sessions.begin() as session:
        deploy(session, "testshire", _testshire_with_response_timer(
            "working_days_after(acknowledged_at, 10 + stage1_extension_days * 100)"), read_forms(TEST_FORMS), "tester")
    reference = log(deployed, officer)
    virtual_clock.set(datetime(2026, 12, 24, 10, tzinfo=UTC))
    deployed.tasks.complete(open_task(deployed, reference, "acknowledge"), {"complaint_definition": "Leak"}, caseworker)
    send_letters(deployed, reference, caseworker)
    virtual_clock.set(datetime(2027, 1, 5, 10, tzinfo=UTC))

    done = deployed.tasks.complete(open_task(deployed, reference, "respond1"),
                                   {"decision": "extend", "extension_days": 20}, caseworker)

    assert done["status"] == "completed"
    body = deployed.complaints.describe(reference, officer)
    assert [t["element_id"] for t in body["open_tasks"]] == ["respond1"]
    # Acknowledged Thu 24 Dec 2026: 10 working days (25, 28 Dec and 1 Jan skipped) is Tue 12 Jan. The extension's
    # timer cannot be worked out: the deadline runs on at its last due time, and the task shows it.
    response = [d for d in body["deadlines"] if d["key"] == "stage1_response"]
    assert response == [{"key": "stage1_response", "stage": "1", "due_at": "2027-01-12T23:59:59+00:00",
                         "met_at": None, "missed": False, "extended": False}]
    assert body["open_tasks"][0]["due_at"] == "2027-01-12T23:59:59+00:00"
    with deployed.sessions() as session:
        [incident] = session.scalars(select(Incident)).all()
        events = session.scalars(select(AuditEvent).where(AuditEvent.type.like("incident%"))).all()
    assert (incident.element_id, incident.kind, incident.resolved_at) == ("respond1_due", "timer", None)
    assert "between 0 and 1000, got 2010" in incident.message
    assert incident.since == datetime(2027, 1, 5, 10, tzinfo=UTC)
    assert [(e.type, e.actor) for e in events] == [("incident_opened", "clock")]

    # Retrying changes nothing while the cause is there; moving it to a corrected version resolves it.
    assert deployed.complaints.retry(reference, officer)["failed_timers"] == ["respond1_due"]
    with deployed.sessions.begin() as session:
        fixed = deploy(session, "testshire", _testshire_with_response_timer(
            "working_days_after(acknowledged_at, 10 + stage1_extension_days)"), read_forms(TEST_FORMS),
            "tester").version
    from workflow_app.casework.version_moves import VersionMoves
    VersionMoves(deployed).move("testshire", reference, fixed.id, "ana")
    with deployed.sessions() as session:
        assert session.scalars(select(Incident.resolved_at)).one() is not None
    moved = [d for d in deployed.complaints.describe(reference, officer)["deadlines"] if d["key"] == "stage1_response"]
    # 10 + 20 working days from Thu 24 Dec 2026 (25, 28 Dec and 1 Jan skipped): Tue 9 Feb 2027, extended.
    assert moved[0]["due_at"] == "2027-02-09T23:59:59+00:00" and moved[0]["extended"]


def test_the_incidents_page_lists_what_failed_where_and_since_when(deployed, officer, caseworker, virtual_clock,
                                                                 database_url):
    from tests.integration.test_caseworker import sign_in
    from workflow_app.web import create_app
    with deployed.sessions.begin() as session:
        deploy(session, "testshire", _testshire_with_response_timer("working_days_after(acknowledged_at, 9999)"),
               read_forms(TEST_FORMS), "tester")
    reference = log(deployed, officer)
    deployed.tasks.complete(open_task(deployed, reference, "acknowledge"), {"complaint_definition": "Leak"}, caseworker)
    make_user(deployed, "ana", ["analyst"])
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "PROCESSES_DIR": str(TEST_PROCESSES),
                      "FORMS_DIR": str(TEST_FORMS)})
    try:
        web = app.test_client()
        sign_in(web, "ana")
        page = web.get("/analyst/testshire/incidents").get_data(as_text=True)
        assert reference in page and "Stage 1 response due" in page and "respond1_due" in page
        assert "between 0 and 1000, got 9999" in page and "Wed 23 Dec 2026 16:30" in page
        assert "1 open" in web.get("/analyst/").get_data(as_text=True)
    finally:
        app.extensions["workflow_app"].close()


def test_a_timer_due_when_it_is_armed_fires_as_the_clocks_doing_not_the_persons(deployed, officer, virtual_clock):
    # Logged on Wed 6 Jan 2027 with an earlier receipt (Wed 23 Dec): the acknowledgement was due Mon 4 Jan.
    virtual_clock.set(datetime(2027, 1, 6, 9, tzinfo=UTC))
    reference = log(deployed, officer, received_earlier_reason="The letter was found in the wrong post tray.")
    history = deployed.complaints.history(reference, officer)
    fired = [(e["type"], e["actor"]) for e in history if e["type"] in ("timer_fired", "deadline_missed")]
    assert fired == [("timer_fired", "clock"), ("deadline_missed", "clock")]
    assert [e["actor"] for e in history if e["type"] == "complaint_logged"] == ["olive"]
    [task] = deployed.complaints.describe(reference, officer)["open_tasks"]
    assert task["due_at"] == "2027-01-04T23:59:59+00:00"          # missed, still to do: overdue


# --- the Code's letter rule in the service ----------------------------------------------------------

def test_the_next_task_waits_for_the_letter_the_code_requires_through_the_service(deployed, officer, caseworker,
                                                                                 virtual_clock):
    reference = log(deployed, officer)
    deployed.tasks.complete(open_task(deployed, reference, "acknowledge"), {"complaint_definition": "Leak"}, caseworker)
    respond = open_task(deployed, reference, "respond1")
    with pytest.raises(Conflict, match="Send the acknowledgement letter first") as refused:
        deployed.tasks.complete(respond, {"decision": "respond", "outcome": "upheld"}, caseworker)
    assert refused.value.status == 409
    assert [template for _, template in refused.value.letters] == ["acknowledgement"]
    assert send_letters(deployed, reference, caseworker)
    assert deployed.tasks.complete(respond, {"decision": "respond", "outcome": "upheld"}, caseworker)["status"] == \
        "completed"

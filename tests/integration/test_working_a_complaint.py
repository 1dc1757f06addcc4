"""Working a complaint through the services, on both databases: the next task comes to the case owner,
managers reassign several tasks at once."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import make_user, send_letters
from tests.integration.test_caseworker import app, post, sign_in, web  # noqa: F401 (fixtures)
from tests.integration.test_complaints import at, log, open_task
from workflow_app.casework.models import AuditEvent, Task, User
from workflow_app.rules.errors import Forbidden, InvalidInput


def task_row(runtime, task_id: str) -> Task:
    with runtime.sessions() as session:
        task = session.get(Task, task_id)
        session.expunge(task)
        return task


def events(runtime, kind: str) -> list[dict]:
    with runtime.sessions() as session:
        return [e.details for e in session.scalars(select(AuditEvent).where(AuditEvent.type == kind)
                                                   .order_by(AuditEvent.id))]


def acknowledge(runtime, reference, user, virtual_clock) -> dict:
    virtual_clock.set(at("2026-12-24T10:00:00+00:00"))
    result = runtime.tasks.complete(open_task(runtime, reference, "acknowledge"), {"complaint_definition": "Leak"},
                                    user)
    send_letters(runtime, reference, user)
    return result


# --- the next task comes to you ------------------------------------------------------------------------------

def test_the_next_task_at_the_same_stage_goes_to_whoever_completed_the_last(officer, caseworker, deployed,
                                                                          virtual_clock):
    reference = log(deployed, officer)

    result = acknowledge(deployed, reference, caseworker, virtual_clock)

    respond1 = open_task(deployed, reference, "respond1")
    assert result["next_task"] == respond1
    assert task_row(deployed, respond1).assignee == "carl"
    [handed] = events(deployed, "task_assigned")
    assert handed == {"task_id": respond1, "element_id": "respond1", "assignee": "carl", "previous": None,
                      "reason": "next_task"}


def test_the_next_task_goes_to_the_case_owner_when_a_manager_steps_in(officer, caseworker, deployed,
                                                                      virtual_clock):
    reference = log(deployed, officer)
    deployed.tasks.assign(open_task(deployed, reference, "acknowledge"), "carl", caseworker)
    manager = make_user(deployed, "mandy", ["manager"])

    result = acknowledge(deployed, reference, manager, virtual_clock)

    respond1 = open_task(deployed, reference, "respond1")
    assert task_row(deployed, respond1).assignee == "carl"
    assert result["next_task"] is None      # not the manager's: carl's, and carl is not the one asking


def test_stage_2_goes_to_the_stage_2_team_never_to_the_stage_1_person(officer, reviewer, deployed, virtual_clock):
    reference = log(deployed, officer)
    acknowledge(deployed, reference, reviewer, virtual_clock)
    virtual_clock.set(at("2027-01-07T10:00:00+00:00"))
    result = deployed.tasks.complete(open_task(deployed, reference, "respond1"),
                                     {"decision": "respond", "outcome": "not_upheld"}, reviewer)
    send_letters(deployed, reference, reviewer)
    assert result["next_task"] is None
    virtual_clock.set(at("2027-01-20T09:00:00+00:00"))
    deployed.complaints.send_event(reference, "escalation_requested", {}, officer)
    acknowledge2 = open_task(deployed, reference, "acknowledge2")
    assert task_row(deployed, acknowledge2).assignee is None     # an event made it ready: the stage 2 team's

    result = deployed.tasks.complete(acknowledge2, {"complaint_definition": "Leak"}, reviewer)

    # rita did stage 1's response, so Code 6.13 keeps the stage 2 response from her
    respond2 = open_task(deployed, reference, "respond2")
    assert result["next_task"] is None and task_row(deployed, respond2).assignee is None
    assert all(e.get("reason") != "next_task" or e["task_id"] != respond2 for e in events(deployed, "task_assigned"))


def respond_at_stage1(runtime, reference, user, virtual_clock, outcome: str = "upheld") -> None:
    acknowledge(runtime, reference, user, virtual_clock)
    virtual_clock.set(at("2027-01-07T10:00:00+00:00"))
    runtime.tasks.complete(open_task(runtime, reference, "respond1"), {"decision": "respond", "outcome": outcome},
                           user)
    send_letters(runtime, reference, user)


def test_a_stage_2_reviewer_who_did_not_do_stage_1_gets_the_stage_2_response(officer, caseworker, deployed,
                                                                            virtual_clock):
    reference = log(deployed, officer)
    respond_at_stage1(deployed, reference, caseworker, virtual_clock, outcome="not_upheld")
    virtual_clock.set(at("2027-01-20T09:00:00+00:00"))
    deployed.complaints.send_event(reference, "escalation_requested", {}, officer)
    steve = make_user(deployed, "steve", ["stage2_reviewer"])

    result = deployed.tasks.complete(open_task(deployed, reference, "acknowledge2"), {"complaint_definition": "x"},
                                     steve)

    assert result["next_task"] == open_task(deployed, reference, "respond2")
    assert task_row(deployed, result["next_task"]).assignee == "steve"


def test_a_task_the_completer_has_no_role_for_stays_with_its_team(officer, deployed, virtual_clock):
    reference = log(deployed, officer)
    manager = make_user(deployed, "mandy", ["manager"])
    deployed.tasks.assign(open_task(deployed, reference, "acknowledge"), "olive", manager)
    # olive owns the task, then loses the caseworker role that stage 1's response needs
    with deployed.sessions.begin() as session:
        session.scalars(select(User).where(User.username == "olive")).one().roles = ["complaints_officer"]

    acknowledge(deployed, reference, manager, virtual_clock)

    assert task_row(deployed, open_task(deployed, reference, "respond1")).assignee is None


def test_the_diagram_can_keep_a_task_with_its_team(officer, caseworker, deployed, virtual_clock, monkeypatch):
    from workflow_app.diagrams.definitions import Element
    monkeypatch.setattr(Element, "goes_to_team", property(lambda element: element.id == "respond1"))
    reference = log(deployed, officer)

    result = acknowledge(deployed, reference, caseworker, virtual_clock)

    assert result["next_task"] is None
    assert task_row(deployed, open_task(deployed, reference, "respond1")).assignee is None


# --- managers reassign several tasks at once ---------------------------------------------------------------

def test_a_manager_reassigns_several_tasks_in_one_go_each_audited(officer, caseworker, deployed):
    references = [log(deployed, officer) for _ in range(3)]
    tasks = [open_task(deployed, r, "acknowledge") for r in references]
    manager = make_user(deployed, "mandy", ["manager"])

    done = deployed.tasks.assign_many(tasks[:2], "carl", manager)

    assert [t["id"] for t in done] == tasks[:2]
    assert [task_row(deployed, t).assignee for t in tasks] == ["carl", "carl", None]
    assert [(e["task_id"], e["assignee"]) for e in events(deployed, "task_assigned")] == \
        [(tasks[0], "carl"), (tasks[1], "carl")]


def test_one_refused_task_reassigns_none_and_names_it(officer, reviewer, deployed, virtual_clock):
    stage1 = log(deployed, officer)
    other = log(deployed, officer)
    respond_at_stage1(deployed, stage1, reviewer, virtual_clock, outcome="not_upheld")
    deployed.complaints.send_event(stage1, "escalation_requested", {}, officer)
    manager = make_user(deployed, "mandy", ["manager"])
    deployed.tasks.complete(open_task(deployed, stage1, "acknowledge2"), {"complaint_definition": "x"}, manager)
    respond2 = open_task(deployed, stage1, "respond2")
    fine = open_task(deployed, other, "acknowledge")
    before = len(events(deployed, "task_assigned"))

    with pytest.raises(InvalidInput) as refused:
        deployed.tasks.assign_many([fine, respond2], "rita", manager)

    assert list(refused.value.errors) == [respond2] and "6.13" in refused.value.errors[respond2][0]
    assert task_row(deployed, fine).assignee is None
    assert len(events(deployed, "task_assigned")) == before


def test_only_a_manager_reassigns_in_bulk(officer, caseworker, deployed):
    task = open_task(deployed, log(deployed, officer), "acknowledge")
    with pytest.raises(Forbidden):
        deployed.tasks.assign_many([task], "olive", caseworker)
    with pytest.raises(InvalidInput, match="Choose at least one task"):
        deployed.tasks.assign_many([], "olive", make_user(deployed, "mandy", ["manager"]))


# --- in the browser's forms (the Flask client) -----------------------------------------------------------------

def test_completing_a_task_leads_to_the_next_task_button(web, deployed, virtual_clock):
    from tests.integration.test_caseworker import log as log_in_page
    reference = log_in_page(web)
    acknowledge_id = open_task(deployed, reference, "acknowledge")
    post(web, f"/tasks/{acknowledge_id}/assign", {"action": "claim"}, "/inbox?view=team")

    done = post(web, f"/tasks/{acknowledge_id}", {"data": '{"complaint_definition": "Leak"}'})

    assert done.status_code == 302
    letter = web.get(done.headers["Location"])     # the acknowledgement letter comes first
    assert letter.status_code == 200 and "Next task" not in letter.get_data(as_text=True)
    case = web.get(f"/complaints/{reference}").get_data(as_text=True)
    respond1 = open_task(deployed, reference, "respond1")
    assert 'id="next-task"' in case and f'href="/tasks/{respond1}">Next task' in case


def test_a_manager_reassigns_ticked_tasks_from_the_inbox(app, deployed, caseworker, officer):
    references = [log(deployed, officer) for _ in range(2)]
    tasks = [open_task(deployed, r, "acknowledge") for r in references]
    make_user(deployed, "mandy", ["manager"])
    client = app.test_client()
    sign_in(client, "mandy")
    inbox = client.get("/inbox?view=all").get_data(as_text=True)
    assert 'form="bulk-assign"' in inbox and f'value="{tasks[0]}"' in inbox

    response = post(client, "/tasks/assign", {"task_ids": tasks, "assignee": "carl", "next": "/inbox?view=all"},
                    "/inbox?view=all")

    assert response.status_code == 302 and response.headers["Location"] == "/inbox?view=all"
    assert [task_row(deployed, t).assignee for t in tasks] == ["carl", "carl"]
    assert "2 tasks assigned to carl." in client.get("/inbox?view=all").get_data(as_text=True)


# --- forms start from what is known --------------------------------------------------------------------------

def page_prefill(runtime, task_id, user) -> dict:
    from workflow_app.casework import case_record
    with runtime.sessions() as session:
        return case_record.task_page(session, runtime.casework, task_id, user)["prefill"]


def test_a_form_starts_from_what_was_given_when_logging_and_at_earlier_stages(officer, caseworker, deployed,
                                                                             virtual_clock):
    reference = log(deployed, officer, outcomes_sought="A dry roof and an apology")
    acknowledge_id = open_task(deployed, reference, "acknowledge")

    assert page_prefill(deployed, acknowledge_id, caseworker) == {"outcomes_sought": "A dry roof and an apology"}

    virtual_clock.set(at("2026-12-24T10:00:00+00:00"))
    deployed.tasks.complete(acknowledge_id, {"complaint_definition": "The roof leaks over the bedroom",
                                             "outcomes_sought": "A dry roof"}, caseworker)
    send_letters(deployed, reference, caseworker)
    virtual_clock.set(at("2027-01-07T10:00:00+00:00"))
    deployed.tasks.complete(open_task(deployed, reference, "respond1"),
                            {"decision": "respond", "outcome": "not_upheld"}, caseworker)
    send_letters(deployed, reference, caseworker)
    deployed.complaints.send_event(reference, "escalation_requested", {}, officer)

    # stage 2's acknowledgement (the same form) starts from stage 1's answers, not from the logged text
    assert page_prefill(deployed, open_task(deployed, reference, "acknowledge2"), caseworker) == {
        "complaint_definition": "The roof leaks over the bedroom", "outcomes_sought": "A dry roof"}


def test_stage_2_and_adjustment_fields_are_carried_forward_from_their_sources():
    from types import SimpleNamespace

    from workflow_app.casework.case_record import known_answers
    from workflow_app.diagrams.forms import load_form
    forms = Path(__file__).parents[2] / "forms"
    complaint = SimpleNamespace(outcomes_sought="Repairs done")
    support = SimpleNamespace(adjustments="Large print letters")

    acknowledge = known_answers(load_form(forms / "acknowledge_complaint.json"), complaint, {}, support)
    escalation = known_answers(load_form(forms / "acknowledge_escalation.json"), complaint,
                               {"complaint_definition": "Damp in the kitchen", "received_at": "2026-12-23"}, None)

    assert acknowledge == {"outcomes_sought": "Repairs done", "reasonable_adjustments": "Large print letters"}
    assert escalation["stage2_definition"] == "Damp in the kitchen"
    assert escalation["stage2_outcomes_sought"] == "Repairs done"


def test_the_task_page_hands_the_known_answers_to_the_form(web, deployed):
    from tests.integration.test_caseworker import log as log_in_page
    reference = log_in_page(web, outcomes_sought="Fix the roof before winter")
    page = web.get(f"/tasks/{open_task(deployed, reference, 'acknowledge')}").get_data(as_text=True)
    assert '<script type="application/json" id="form-data">{"outcomes_sought": "Fix the roof before winter"}' in page


# --- extensions show their effect ----------------------------------------------------------------------------

def test_an_extension_s_new_due_date_is_shown_before_saving_by_the_diagram_s_own_timer(officer, caseworker, deployed,
                                                                                      virtual_clock):
    reference = log(deployed, officer)
    acknowledge(deployed, reference, caseworker, virtual_clock)
    respond1 = open_task(deployed, reference, "respond1")
    with deployed.sessions() as session:
        before = session.scalars(select(AuditEvent.id)).all()

    moved = deployed.tasks.preview(respond1, {"decision": "extend", "extension_days": 10}, caseworker)

    # 10 working days from acknowledgement on Thu 24 Dec (25 and 28 Dec and 1 Jan are bank holidays): Tue 12 Jan;
    # 10 more: Tue 26 Jan, the date saving sets
    assert moved == [{"key": "stage1_response", "stage": "1", "due_at": at("2027-01-26T23:59:59+00:00"),
                      "was": at("2027-01-12T23:59:59+00:00")}]
    assert deployed.tasks.preview(respond1, {"decision": "respond"}, caseworker) == []
    with deployed.sessions() as session:       # nothing saved: no event, the task still open, the date unchanged
        assert session.scalars(select(AuditEvent.id)).all() == before
        assert session.get(Task, respond1).status == "open"
    deployed.tasks.complete(respond1, {"decision": "extend", "extension_days": 10}, caseworker)
    [deadline] = [d for d in deployed.complaints.describe(reference, officer)["deadlines"]
                  if d["key"] == "stage1_response"]
    assert deadline["due_at"] == "2027-01-26T23:59:59+00:00"


def test_an_extension_beyond_the_form_s_limit_is_refused_beside_its_field(officer, caseworker, deployed,
                                                                         virtual_clock):
    reference = log(deployed, officer)
    acknowledge(deployed, reference, caseworker, virtual_clock)

    with pytest.raises(InvalidInput) as refused:
        deployed.tasks.preview(open_task(deployed, reference, "respond1"),
                               {"decision": "extend", "extension_days": 30}, caseworker)

    assert list(refused.value.errors) == ["extension_days"]


def test_the_task_page_states_the_limit_and_the_preview_answers_in_words(web, deployed, virtual_clock):
    from tests.integration.test_caseworker import csrf
    from tests.integration.test_caseworker import log as log_in_page
    from tests.integration.test_caseworker import send_letters as send_in_page
    reference = log_in_page(web)
    virtual_clock.set(at("2026-12-24T10:00:00+00:00"))
    post(web, f"/tasks/{open_task(deployed, reference, 'acknowledge')}", {"data": '{"complaint_definition": "x"}'})
    send_in_page(web, deployed, reference)
    respond1 = open_task(deployed, reference, "respond1")

    page = web.get(f"/tasks/{respond1}").get_data(as_text=True)
    assert "An extension may add up to <strong>10 working days</strong> (Code 6.4)" in page
    token = csrf(web, f"/tasks/{respond1}")
    answer = web.post(f"/tasks/{respond1}/preview", json={"data": {"decision": "extend", "extension_days": 10}},
                      headers={"X-CSRFToken": token})
    refused = web.post(f"/tasks/{respond1}/preview", json={"data": {"decision": "extend", "extension_days": 0}},
                       headers={"X-CSRFToken": token})
    unsigned = web.post(f"/tasks/{respond1}/preview", json={"data": {}})

    assert answer.status_code == 200 and answer.json["deadlines"] == [{
        "key": "stage1_response", "name": answer.json["deadlines"][0]["name"], "due_at": "2027-01-26T23:59:59+00:00",
        "due": "Tue 26 Jan 2027", "was": "Tue 12 Jan 2027"}]
    assert refused.status_code == 200 and list(refused.json["errors"]) == ["extension_days"]
    assert refused.json["deadlines"] == []
    assert unsigned.status_code == 400       # no CSRF token


# --- escalation recorded as it happened ----------------------------------------------------------------------

def test_an_escalation_counts_from_when_it_arrived_with_its_channel_audited(officer, caseworker, deployed,
                                                                           virtual_clock):
    reference = log(deployed, officer)
    respond_at_stage1(deployed, reference, caseworker, virtual_clock)
    virtual_clock.set(at("2027-01-20T09:00:00+00:00"))

    # asked by phone on Friday 15 Jan at 16:45, recorded on Wednesday 20 Jan
    result = deployed.complaints.send_event(reference, "escalation_requested", {"channel": "phone"}, caseworker,
                                            received_at=at("2027-01-15T16:45:00+00:00"))

    assert result["delivered"] is True
    [ack2] = [d for d in deployed.complaints.describe(reference, officer)["deadlines"]
              if d["key"] == "stage2_acknowledge"]
    assert ack2["due_at"] == "2027-01-22T23:59:59+00:00"     # 5 working days from Fri 15 Jan
    [received] = events(deployed, "event_received")
    assert received == {"name": "escalation_requested", "pending": False,
                        "received_at": "2027-01-15T16:45:00+00:00", "channel": "phone"}


def test_an_escalation_time_in_the_future_before_the_complaint_or_by_no_channel_is_refused(officer, caseworker,
                                                                                         deployed, virtual_clock):
    reference = log(deployed, officer)
    respond_at_stage1(deployed, reference, caseworker, virtual_clock)
    send = deployed.complaints.send_event
    with pytest.raises(InvalidInput, match="future"):
        send(reference, "escalation_requested", {"channel": "phone"}, caseworker,
             received_at=at("2027-01-07T10:01:00+00:00"))
    with pytest.raises(InvalidInput, match="before the complaint was received"):
        send(reference, "escalation_requested", {"channel": "phone"}, caseworker,
             received_at=at("2026-12-01T10:00:00+00:00"))
    with pytest.raises(InvalidInput, match="channel"):
        send(reference, "escalation_requested", {"channel": "pigeon"}, caseworker)
    assert events(deployed, "event_received") == []


def test_the_case_page_offers_an_escalation_only_when_the_process_waits_for_one(web, deployed, virtual_clock):
    from tests.integration.test_caseworker import log as log_in_page
    from tests.integration.test_caseworker import send_letters as send_in_page
    reference = log_in_page(web)
    assert "Record: escalation requested" not in web.get(f"/complaints/{reference}").get_data(as_text=True)
    virtual_clock.set(at("2026-12-24T10:00:00+00:00"))
    post(web, f"/tasks/{open_task(deployed, reference, 'acknowledge')}", {"data": '{"complaint_definition": "x"}'})
    send_in_page(web, deployed, reference)
    virtual_clock.set(at("2027-01-07T10:00:00+00:00"))
    post(web, f"/tasks/{open_task(deployed, reference, 'respond1')}",
         {"data": '{"decision": "respond", "outcome": "upheld"}'})
    send_in_page(web, deployed, reference)
    case = f"/complaints/{reference}"
    page = web.get(case).get_data(as_text=True)
    assert "Record: escalation requested" in page and 'value="2027-01-07"' in page and 'value="10:00"' in page

    unconfirmed = post(web, f"{case}/events", {"name": "escalation_requested", "received_date": "2027-01-07",
                                               "received_time": "09:15", "channel": "phone"}, case)
    assert unconfirmed.status_code == 422
    assert 'id="escalation_requested-confirmed-error"' in unconfirmed.get_data(as_text=True)
    assert events(deployed, "event_received") == []

    done = post(web, f"{case}/events", {"name": "escalation_requested", "received_date": "2027-01-07",
                                        "received_time": "09:15", "channel": "phone", "confirmed": "1"}, case)
    assert done.status_code == 302
    after = web.get(case).get_data(as_text=True)
    assert "Escalation requested: recorded as received Thu 7 Jan 2027, 09:15 by phone." in after
    assert "Record: escalation requested" not in after          # stage 2 has started: nothing waits for it now


# --- no letter left behind -----------------------------------------------------------------------------------

def drafts_on(runtime, user, view: str) -> list[tuple[str, str, str | None]]:
    from workflow_app.casework.inbox import letters_to_send
    with runtime.sessions() as session:
        return [(row.reference, row.letter.template, row.letter.owner)
                for row in letters_to_send(session, user, view)]


def test_a_drafted_letter_is_on_the_inbox_of_whoever_drafted_it_until_sent(officer, caseworker, deployed,
                                                                           virtual_clock):
    reference = log(deployed, officer)
    virtual_clock.set(at("2026-12-24T10:00:00+00:00"))
    deployed.tasks.complete(open_task(deployed, reference, "acknowledge"), {"complaint_definition": "x"}, caseworker)

    assert drafts_on(deployed, caseworker, "mine") == [(reference, "acknowledgement", "carl")]
    assert drafts_on(deployed, officer, "mine") == []
    assert drafts_on(deployed, officer, "all") == [(reference, "acknowledgement", "carl")]
    send_letters(deployed, reference, caseworker)
    assert drafts_on(deployed, caseworker, "mine") == drafts_on(deployed, officer, "all") == []


def test_a_letter_the_clock_drafts_goes_to_the_case_owner_even_once_closed(officer, caseworker, deployed,
                                                                           virtual_clock):
    from workflow_app.casework import audit
    from workflow_app.casework.instances import Step
    from workflow_app.casework.models import Complaint
    unowned = log(deployed, officer)
    reference = log(deployed, officer)
    respond_at_stage1(deployed, reference, caseworker, virtual_clock)

    def clock_drafts(ref: str) -> None:
        with deployed.sessions.begin() as session:
            complaint = session.scalars(select(Complaint).where(Complaint.reference == ref)).one()
            complaint.status = "closed"
            deployed.casework.act(session, complaint, deployed.casework.instance_of(complaint), audit.CLOCK,
                                  lambda inst, action: action.steps.append(Step("letter", "stage1_letter",
                                                                                "stage1_response")))
    clock_drafts(reference)
    clock_drafts(unowned)

    assert drafts_on(deployed, caseworker, "mine") == [(reference, "stage1_response", "carl")]
    assert drafts_on(deployed, caseworker, "team") == [(unowned, "stage1_response", None)]


def test_the_inbox_lists_the_letters_to_send(web, deployed, virtual_clock):
    from tests.integration.test_caseworker import log as log_in_page
    reference = log_in_page(web)
    post(web, f"/tasks/{open_task(deployed, reference, 'acknowledge')}", {"data": '{"complaint_definition": "x"}'})

    page = web.get("/inbox").get_data(as_text=True)

    assert 'id="letters-to-send"' in page and "Acknowledgement letter" in page and reference in page


# --- notifications -------------------------------------------------------------------------------------------

def notes_for(runtime, username: str) -> list[tuple[str, str]]:
    from workflow_app.casework.models import Notification
    with runtime.sessions() as session:
        return [(n.kind, n.text) for n in session.scalars(
            select(Notification).where(Notification.username == username).order_by(Notification.id))]


def set_email(runtime, username: str, email: str, notify_by: str = "each") -> None:
    with runtime.sessions.begin() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        user.email, user.notify_by = email, notify_by


def test_a_person_hears_when_a_task_is_assigned_to_them_not_when_they_take_it(officer, caseworker, deployed):
    reference = log(deployed, officer)
    task = open_task(deployed, reference, "acknowledge")
    manager = make_user(deployed, "mandy", ["manager"])

    deployed.tasks.assign(task, "carl", manager)
    deployed.tasks.assign(task, None, manager)
    deployed.tasks.assign(task, "carl", caseworker)         # claimed by carl himself

    assert notes_for(deployed, "carl") == [
        ("task_assigned", f"Acknowledge and define the complaint on {reference} is assigned to you by mandy.")]
    assert notes_for(deployed, "mandy") == []
    assert "A Resident" not in notes_for(deployed, "carl")[0][1]


def test_the_owner_hears_of_the_next_task_when_a_manager_completed_theirs(officer, caseworker, deployed,
                                                                          virtual_clock):
    reference = log(deployed, officer)
    deployed.tasks.assign(open_task(deployed, reference, "acknowledge"), "carl", caseworker)
    acknowledge(deployed, reference, make_user(deployed, "mandy", ["manager"]), virtual_clock)
    assert notes_for(deployed, "carl")[-1] == (
        "task_assigned", f"Investigate and respond (stage 1) on {reference} is assigned to you by mandy.")


def test_a_task_due_within_one_working_day_is_told_to_its_assignee_once(officer, caseworker, deployed,
                                                                        virtual_clock):
    from workflow_app.casework.notifications import notify_due_soon
    reference = log(deployed, officer)          # acknowledgement due Mon 4 Jan 2027, 23:59:59
    deployed.tasks.assign(open_task(deployed, reference, "acknowledge"), "carl", caseworker)

    virtual_clock.set(at("2026-12-30T10:00:00+00:00"))       # Wed: Thu 31 Dec is the next working day
    assert notify_due_soon(deployed.sessions, deployed.landlords) == 0
    virtual_clock.set(at("2026-12-31T10:00:00+00:00"))       # Thu: Fri 1 Jan is a bank holiday, so Mon 4 Jan
    assert notify_due_soon(deployed.sessions, deployed.landlords) == 1
    assert notify_due_soon(deployed.sessions, deployed.landlords) == 0

    assert notes_for(deployed, "carl")[-1] == (
        "task_due_soon", f"Acknowledge and define the complaint on {reference} is due by Mon 4 Jan 2027, 23:59.")


def test_notifications_are_emailed_through_the_outbox_once_each_or_in_a_daily_digest(officer, caseworker, deployed,
                                                                                     virtual_clock):
    from tests.support.mail import MailServer
    from workflow_app.casework import outbox
    from workflow_app.casework.models import Notification, OutboxEmail
    from workflow_app.casework.notifications import mail_due
    make_user(deployed, "dora", ["caseworker"])
    set_email(deployed, "carl", "carl@testshire.example")
    set_email(deployed, "dora", "dora@testshire.example", "digest")
    manager = make_user(deployed, "mandy", ["manager"])
    tasks = [open_task(deployed, log(deployed, officer), "acknowledge") for _ in range(3)]
    deployed.tasks.assign(tasks[0], "carl", manager)
    deployed.tasks.assign_many(tasks[1:], "dora", manager)
    server = MailServer().start()
    try:
        smtp = server.settings
        virtual_clock.set(at("2026-12-24T06:30:00+00:00"))     # before the digest hour in London

        assert mail_due(deployed.sessions, None) == 0           # no mail settings: in the app only
        assert mail_due(deployed.sessions, smtp) == 1           # carl's, at once; dora's digest waits
        assert mail_due(deployed.sessions, smtp) == 0
        virtual_clock.set(at("2026-12-24T07:05:00+00:00"))
        assert mail_due(deployed.sessions, smtp) == 1           # dora's two in one digest
        assert mail_due(deployed.sessions, smtp) == 0
        outbox.drain(deployed.sessions, smtp)
    finally:
        server.stop()

    received = {m["To"]: m for m in server.inbox.parsed()}
    assert set(received) == {"carl@testshire.example", "dora@testshire.example"}
    assert received["dora@testshire.example"]["Subject"] == "Your complaints digest: 2 notifications"
    assert received["dora@testshire.example"].get_content().count("is assigned to you by mandy") == 2
    assert "A Resident" not in received["carl@testshire.example"].get_content()
    with deployed.sessions() as session:
        assert session.scalars(select(OutboxEmail.status)).all() == ["sent", "sent"]
        assert None not in session.scalars(select(Notification.mailed_at)).all()


def test_the_notifications_page_lists_them_and_keeps_each_person_s_choice(app, deployed, caseworker, officer):
    reference = log(deployed, officer)
    deployed.tasks.assign(open_task(deployed, reference, "acknowledge"), "carl", make_user(deployed, "mandy",
                                                                                            ["manager"]))
    carl = app.test_client()
    sign_in(carl, "carl")
    inbox = carl.get("/inbox").get_data(as_text=True)
    assert 'Notifications <span class="count">1<span class="visually-hidden"> unread</span>' in inbox
    page = carl.get("/notifications").get_data(as_text=True)
    assert f"Acknowledge and define the complaint on {reference} is assigned to you by mandy." in page

    refused = post(carl, "/notifications", {"notify_by": "digest", "email": "not an address"})
    saved = post(carl, "/notifications", {"notify_by": "digest", "email": "carl@testshire.example"})
    post(carl, "/notifications", {"action": "read"})

    assert refused.status_code == 422 and 'id="email-error"' in refused.get_data(as_text=True)
    assert saved.status_code == 302
    with deployed.sessions() as session:
        user = session.scalars(select(User).where(User.username == "carl")).one()
        assert (user.notify_by, user.email) == ("digest", "carl@testshire.example")
    assert 'class="count"' not in carl.get("/inbox").get_data(as_text=True).split("Notifications", 1)[1][:40]


def test_great_places_extension_preview_runs_the_real_diagram_with_the_task_s_timestamp():
    """The response task stamps `stage1_responded_at` on completion; the preview stamps it too, so the diagram's
    scripts run as they will on saving (an extension of 5 working days from Tue 12 Jan 2027: Tue 19 Jan)."""
    from datetime import datetime

    from tests.integration.test_landlord_processes import FORMS as REAL_FORMS
    from tests.integration.test_landlord_processes import PROCESSES as REAL_PROCESSES
    from tests.integration.test_landlord_processes import ComplaintRun, diagram, scenario, scratch_runtime
    from workflow_app.casework.deployments import deploy, read_forms
    from workflow_app.diagrams.definitions import cache as definition_cache
    from workflow_app.rules.roles import WORKER_ROLES
    spec = scenario("great_places_stage2")
    definition_cache.clear()
    start = datetime.fromisoformat(spec["complaint"]["received_at"])
    with scratch_runtime(REAL_PROCESSES, REAL_FORMS) as runtime, ComplaintRun(runtime, start) as run:
        with runtime.sessions.begin() as session:
            deploy(session, "great_places", diagram("great_places"), read_forms(REAL_FORMS), "tester")
        worker = run.person("alice", list(WORKER_ROLES), ["great_places"])
        reference = run.log({"landlord": "great_places", **spec["complaint"]}, worker)
        for step in spec["steps"][:2]:
            run.at(datetime.fromisoformat(step["at"]))
            run.complete(reference, run.open_task(reference, step["complete"]), step["data"], worker)
        run.send_required_letters(reference, worker)

        moved = runtime.tasks.preview(run.open_task(reference, "stage1_response"),
                                      {"stage1_decision": "extend", "extension_days": 5}, worker)

    assert [(d["key"], d["due_at"], d["was"]) for d in moved] == [
        ("stage1_response", at("2027-01-19T23:59:59+00:00"), at("2027-01-12T23:59:59+00:00"))]
    definition_cache.clear()

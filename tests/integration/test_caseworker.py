"""The caseworkers' workspace through the Flask test client: inbox, logging, tasks, case page, export."""
from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime

import pytest
from sqlalchemy import select

from tests.conftest import FORMS, PROCESSES, make_user
from workflow_app.casework.models import AuditEvent, Letter, Task
from workflow_app.web import create_app

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str = "/sign-in") -> str:
    page = client.get(path)
    match = TOKEN.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, username: str, password: str = "pw"):
    return client.post("/sign-in", data={"username": username, "password": password,
                                         "csrf_token": csrf(client)})


def post(client, path: str, data: dict, page: str | None = None, **kwargs):
    """A form post with the CSRF token from the page the form is on."""
    return client.post(path, data={**data, "csrf_token": csrf(client, page or path)}, **kwargs)


def make_app(database_url: str, processes=PROCESSES, **config):
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "PROCESSES_DIR": str(processes),
                       "FORMS_DIR": str(FORMS), "RUN_SCHEDULER": False, **config})


@pytest.fixture
def app(deployed, database_url):
    app = make_app(database_url)
    yield app
    app.extensions["workflow_app"].close()


@pytest.fixture
def web(app, caseworker):
    client = app.test_client()
    assert sign_in(client, "carl").status_code == 302
    return client


COMPLAINT_FORM = {
    "landlord": "testshire", "channel": "phone", "category": "property_condition",
    "resident_name": "Ada Resident", "resident_email": "ada@example.org", "resident_phone": "01632 960000",
    "summary": "The roof has leaked for three weeks", "outcomes_sought": "Fix the roof",
    "received_date": "2026-12-23", "received_time": "16:30", "opened_at": "2026-12-23T16:30:00+00:00",
}


def log(web, **changes) -> str:
    response = post(web, "/complaints/new", {**COMPLAINT_FORM, **changes}, "/complaints/new")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[-1]


def open_task(runtime, reference: str) -> Task:
    with runtime.sessions() as session:
        from workflow_app.casework.models import Complaint
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        task = session.scalars(select(Task).where(Task.complaint_id == complaint.id, Task.status == "open")).first()
        session.expunge_all()
        return task


def send_letters(web, runtime, reference: str) -> None:
    with runtime.sessions() as session:
        from workflow_app.casework.models import Complaint
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        drafts = [letter.id for letter in session.scalars(select(Letter).where(Letter.complaint_id == complaint.id,
                                                                      Letter.status == "draft"))]
    for letter_id in drafts:
        response = post(web, f"/letters/{letter_id}", {"action": "send"})
        assert response.status_code == 302, response.get_data(as_text=True)


# --- pages need sign-in -----------------------------------------------------------------------

def test_every_page_needs_sign_in(app):
    client = app.test_client()
    for path in ("/inbox", "/complaints/new", "/complaints/TH-2026-000001", "/tasks/x", "/letters/1"):
        response = client.get(path)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"], path
    assert client.get("/").status_code == 302


# --- logging a complaint -----------------------------------------------------------------------

def test_log_a_complaint_by_phone(web, deployed):
    page = web.get("/complaints/new").get_data(as_text=True)
    assert 'name="received_date" type="date" value="2026-12-23"' in page
    for channel in ("phone", "email", "letter", "in_person", "web", "social_media", "petition"):
        assert f'value="{channel}"' in page
    reference = log(web, adjustments="Large print letters", vulnerabilities="Partially sighted",
                    review_on="2027-03-01")
    assert reference.startswith("TH-2026-")
    case = web.get(f"/complaints/{reference}").get_data(as_text=True)
    assert "The roof has leaked for three weeks" in case and "Large print letters" in case
    assert "Partially sighted" in case and "Acknowledge and define the complaint" in case


def test_an_earlier_received_time_needs_a_reason(web):
    response = post(web, "/complaints/new", {**COMPLAINT_FORM, "received_date": "2026-12-22"}, "/complaints/new")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="received_earlier_reason-error"' in page
    assert "The roof has leaked for three weeks" in page  # what was typed is kept
    reference = log(web, received_date="2026-12-22", received_earlier_reason="Letter arrived yesterday")
    history = web.get(f"/complaints/{reference}").get_data(as_text=True)
    assert "Letter arrived yesterday" in history


def test_a_representative_needs_their_authority(web):
    response = post(web, "/complaints/new", {**COMPLAINT_FORM, "on_behalf": "1", "rep_name": "Cllr Bell"},
                    "/complaints/new")
    assert response.status_code == 422
    assert 'id="rep_authority-error"' in response.get_data(as_text=True)
    reference = log(web, on_behalf="1", rep_name="Cllr Bell", rep_relationship="councillor",
                    rep_authority="Signed consent form, 20 Dec")
    assert "Signed consent form" in web.get(f"/complaints/{reference}").get_data(as_text=True)


def test_missing_fields_are_shown_beside_them_and_nothing_is_logged(web, deployed):
    response = post(web, "/complaints/new", {**COMPLAINT_FORM, "summary": "", "channel": ""}, "/complaints/new")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="summary-error"' in page and 'id="channel-error"' in page
    assert "Ada Resident" in page
    with deployed.sessions() as session:
        assert session.scalars(select(Task)).first() is None


def test_an_open_complaint_from_the_same_resident_is_shown_before_saving(web, deployed):
    first = log(web)
    response = post(web, "/complaints/new", {**COMPLAINT_FORM, "summary": "Also the gutter"}, "/complaints/new")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "This resident has an open complaint" in page and first in page
    joined = post(web, "/complaints/new", {**COMPLAINT_FORM, "summary": "Also the gutter", "join": first},
                  "/complaints/new")
    assert joined.headers["Location"].endswith(first)
    assert "Also the gutter" in web.get(f"/complaints/{first}").get_data(as_text=True)
    second = log(web, summary="Also the gutter", confirmed="1")
    assert second != first


def test_attachments_are_kept_with_the_complaint(web, deployed):
    data = {**COMPLAINT_FORM, "csrf_token": csrf(web, "/complaints/new"),
            "attachments": (io.BytesIO(b"photo bytes"), "roof.jpg")}
    response = web.post("/complaints/new", data=data, content_type="multipart/form-data")
    reference = response.headers["Location"].rsplit("/", 1)[-1]
    page = web.get(f"/complaints/{reference}").get_data(as_text=True)
    link = re.search(r'href="(/complaints/[^"]+/attachments/\d+)">roof.jpg', page).group(1)
    download = web.get(link)
    assert download.data == b"photo bytes" and "attachment" in download.headers["Content-Disposition"]


# --- inbox ---------------------------------------------------------------------------------------

def test_inbox_claim_release_and_views(web, deployed):
    reference = log(web)
    page = web.get("/inbox").get_data(as_text=True)
    assert "You have no tasks" in page and "your team's unassigned tasks" in page
    team = web.get("/inbox?view=team").get_data(as_text=True)
    assert reference in team and "working days left" in team
    task = open_task(deployed, reference)
    response = post(web, f"/tasks/{task.id}/assign", {"action": "claim"}, "/inbox?view=team")
    assert response.status_code == 302
    mine = web.get("/inbox").get_data(as_text=True)
    assert reference in mine and "Release" in mine
    post(web, f"/tasks/{task.id}/assign", {"action": "release"}, "/inbox")
    assert open_task(deployed, reference).assignee is None
    with deployed.sessions() as session:
        kinds = [e.type for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "task_claimed" in kinds and "task_released" in kinds


def test_inbox_filters_sorts_and_marks_overdue(web, deployed, virtual_clock):
    reference = log(web)
    virtual_clock.set(datetime.fromisoformat("2027-01-04T10:00:00+00:00"))
    today = web.get("/inbox?view=all&due=today").get_data(as_text=True)
    assert reference in today and "Due today" in today
    virtual_clock.set(datetime.fromisoformat("2027-01-06T10:00:00+00:00"))
    overdue = web.get("/inbox?view=all&due=overdue&sort=due_desc&stage=1&category=property_condition")
    assert reference in overdue.get_data(as_text=True) and "Overdue by 2 working days" in overdue.get_data(as_text=True)
    assert reference not in web.get("/inbox?view=all&category=charges").get_data(as_text=True)
    assert "No open tasks match" in web.get("/inbox?view=all&stage=2").get_data(as_text=True)


def test_inbox_pages(web, deployed):
    from workflow_app.casework.inbox import PAGE_SIZE
    user = make_user(deployed, "bulk", ["caseworker"])
    for n in range(PAGE_SIZE + 2):
        deployed.complaints.log_complaint({
            "landlord": "testshire", "received_at": "2026-12-23T16:30:00+00:00", "channel": "email",
            "category": "other", "summary": f"Complaint {n}", "resident": {"name": f"R{n}"}}, user)
    first = web.get("/inbox?view=all").get_data(as_text=True)
    assert "page 1 of 2" in first and 'rel="next"' in first
    second = web.get("/inbox?view=all&page=2").get_data(as_text=True)
    assert second.count('class="tasks"') == 1 and 'rel="prev"' in second


def test_a_manager_reassigns(app, deployed, caseworker):
    make_user(deployed, "mona", ["manager"])
    client = app.test_client()
    sign_in(client, "mona")
    reference = log(client)
    task = open_task(deployed, reference)
    page = client.get("/inbox?view=all").get_data(as_text=True)
    assert f'id="assignee-{task.id}"' in page
    post(client, f"/tasks/{task.id}/assign", {"action": "assign", "assignee": "carl"}, "/inbox?view=all")
    assert open_task(deployed, reference).assignee == "carl"


# --- the task page -----------------------------------------------------------------------------

def test_task_page_shows_the_form_the_case_and_deadlines(web, deployed):
    reference = log(web)
    task = open_task(deployed, reference)
    page = web.get(f"/tasks/{task.id}").get_data(as_text=True)
    schema = json.loads(re.search(r'<script type="application/json" id="form-schema">(.*?)</script>', page, re.S).group(1))
    assert schema["id"] == "acknowledge"
    assert "Acknowledge (stage 1)" in page and "working days left" in page
    assert "The roof has leaked for three weeks" in page
    assert "task-form.entry.js" in page and "<script>" not in page  # no inline script


def test_task_errors_come_back_beside_fields_with_values_kept(web, deployed):
    reference = log(web)
    task = open_task(deployed, reference)
    response = post(web, f"/tasks/{task.id}", {"data": json.dumps({"outcomes_sought": "A new roof"})})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    errors = json.loads(re.search(r'id="form-errors">(.*?)</script>', page, re.S).group(1))
    assert "complaint_definition" in errors
    kept = json.loads(re.search(r'id="form-data">(.*?)</script>', page, re.S).group(1))
    assert kept == {"outcomes_sought": "A new roof"}
    assert open_task(deployed, reference).id == task.id


def test_completing_a_task_then_the_letter_must_be_sent_first(web, deployed):
    reference = log(web)
    task = open_task(deployed, reference)
    done = post(web, f"/tasks/{task.id}", {"data": json.dumps({"complaint_definition": "Roof leak"})})
    assert done.status_code == 302
    with deployed.sessions() as session:
        letter = session.scalars(select(Letter)).one()
    assert done.headers["Location"].endswith(f"/letters/{letter.id}")  # straight to the letter
    respond = open_task(deployed, reference)
    page = web.get(f"/tasks/{respond.id}").get_data(as_text=True)
    assert "Send the letter first" in page
    refused = post(web, f"/tasks/{respond.id}", {"data": json.dumps({"decision": "respond", "outcome": "upheld"})})
    assert refused.status_code == 409 and open_task(deployed, reference).id == respond.id
    send_letters(web, deployed, reference)
    assert post(web, f"/tasks/{respond.id}", {"data": json.dumps({"decision": "respond",
                                                                    "outcome": "upheld"})}).status_code == 302


def test_stage_two_by_a_different_person_is_shown_and_enforced(app, web, deployed, virtual_clock):
    make_user(deployed, "rita", ["stage2_reviewer", "caseworker"])
    make_user(deployed, "sam", ["stage2_reviewer", "caseworker"])
    rita = app.test_client()
    sign_in(rita, "rita")
    reference = log(rita)
    post(rita, f"/tasks/{open_task(deployed, reference).id}", {"data": json.dumps({"complaint_definition": "Leak"})})
    send_letters(rita, deployed, reference)
    post(rita, f"/tasks/{open_task(deployed, reference).id}", {"data": json.dumps({"decision": "respond",
                                                                                  "outcome": "upheld"})})
    send_letters(rita, deployed, reference)
    post(rita, f"/complaints/{reference}/events", {"name": "escalation_requested", "received_date": "2026-12-23",
                                                   "received_time": "16:30", "channel": "phone", "confirmed": "1"},
         f"/complaints/{reference}")
    ack2 = open_task(deployed, reference)
    assert ack2.element_id == "acknowledge2"
    post(rita, f"/tasks/{ack2.id}", {"data": json.dumps({"complaint_definition": "Leak, escalated"})})
    final = open_task(deployed, reference)
    assert final.element_id == "respond2"
    page = rita.get(f"/tasks/{final.id}")
    text = page.get_data(as_text=True)
    assert "A different person must do this (Code 6.13)" in text and "You did the earlier stage" in text
    refused = post(rita, f"/tasks/{final.id}", {"data": json.dumps({"final_outcome": "upheld"})})
    assert refused.status_code == 403 and "6.13" in refused.get_data(as_text=True)
    sam = app.test_client()
    sign_in(sam, "sam")
    assert "You did the earlier stage" not in sam.get(f"/tasks/{final.id}").get_data(as_text=True)
    assert post(sam, f"/tasks/{final.id}", {"data": json.dumps({"final_outcome": "upheld"})}).status_code == 302


# --- the case page -----------------------------------------------------------------------------

def test_case_page_record_diagram_and_export(web, deployed):
    reference = log(web)
    post(web, f"/tasks/{open_task(deployed, reference).id}", {"data": json.dumps({"complaint_definition": "Leak"})})
    send_letters(web, deployed, reference)
    post(web, f"/complaints/{reference}/notes", {"note": "Called the resident back"}, f"/complaints/{reference}")
    page = web.get(f"/complaints/{reference}").get_data(as_text=True)
    for text in ("Received, acknowledged and responded", "Called the resident back", "Acknowledgement",
                 "Task completed", "Complaint logged", "case-diagram.entry.js", "Acknowledge (stage 1)"):
        assert text in page, text
    diagram = web.get(f"/complaints/{reference}/diagram.json").json
    assert ("acknowledge" in diagram["done"] and diagram["current"] == ["respond1", "respond1_due"]) \
        or "respond1" in diagram["current"]
    assert diagram["xml"].startswith("<?xml")
    export = web.get(f"/complaints/{reference}/export.zip")
    assert export.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(export.data))
    names = archive.namelist()
    assert "record.json" in names and "history.json" in names and any(n.startswith("letters/") for n in names)
    record = json.loads(archive.read("record.json"))
    assert record["reference"] == reference and record["notes"][0]["body"] == "Called the resident back"
    assert record["work"][0]["answers"]["Our understanding of the complaint"] == "Leak"


def test_the_case_history_reads_in_words(web, deployed):
    """Labels, not keys: the diagram's names for its steps, the vocabulary's for deadlines and stages."""
    reference = log(web)
    task = open_task(deployed, reference)
    post(web, f"/tasks/{task.id}", {"data": json.dumps({"complaint_definition": "Leak"})})
    send_letters(web, deployed, reference)
    page = web.get(f"/complaints/{reference}").get_data(as_text=True)
    history = re.sub(r"<[^>]+>", " ", page[page.index('id="history"'):])
    history = re.sub(r"\s+", " ", history)
    assert f"Task completed task: {task.name}" in history
    assert "Deadline set deadline: Acknowledge (stage 1); stage: Stage 1; due:" in history
    assert "Complaint logged reference: " + reference + "; channel: phone; category: Property condition" in history
    assert "Letter sent letter: acknowledgement" in history
    for key in ("element id", "element_id", "task id", "stage1_acknowledge", "_", "stage: 1", "T23:59:59"):
        assert key not in history, key


def test_another_landlords_user_gets_404(app, web, deployed):
    reference = log(web)
    task = open_task(deployed, reference)
    make_user(deployed, "gary", ["caseworker"], ["great_places"])
    outsider = app.test_client()
    sign_in(outsider, "gary")
    for path in (f"/complaints/{reference}", f"/tasks/{task.id}", f"/complaints/{reference}/export.zip",
                 f"/complaints/{reference}/diagram.json"):
        assert outsider.get(path).status_code == 404, path
    assert reference not in outsider.get("/inbox?view=all").get_data(as_text=True)


def test_the_task_page_claims_and_says_when_the_role_is_missing(app, web, deployed):
    reference = log(web)
    task = open_task(deployed, reference)
    page = web.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "Claim this task" in page
    post(web, f"/tasks/{task.id}/assign", {"action": "claim", "next": f"/tasks/{task.id}"}, f"/tasks/{task.id}")
    assert "Assigned to you" in web.get(f"/tasks/{task.id}").get_data(as_text=True)
    make_user(deployed, "andy", ["analyst"])
    analyst = app.test_client()
    sign_in(analyst, "andy")
    page = analyst.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "which you do not have" in page and 'data-disabled="true"' in page
